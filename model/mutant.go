package model

import "fmt"

// Mutant deliberately breaks the server, to show that the checkers (package
// properties, 'leasesim check --mutant') catch a wrong server. The zero value,
// MutantNone, is etcd's behaviour.
type Mutant uint8

const (
	// MutantNone: the server as etcd behaves.
	MutantNone Mutant = iota
	// MutantAckAfterRevoke: the leader answers a renewal of a revoked lease
	// with its TTL instead of 0 (what filling the response header before
	// renewing guards against, v3rpc/lease.go).
	MutantAckAfterRevoke
	// MutantDeposedRenew: a deposed leader still renews in its own lessor and
	// answers (etcd #12528: a lessor not demoted with raft).
	MutantDeposedRenew
	// MutantPromoteFullTTL: a new leader's Promote ignores the checkpointed
	// remaining TTLs and gives every lease its full TTL again, as before lease
	// checkpointing (etcd #9888) or with checkpoints lost (etcd #17132).
	MutantPromoteFullTTL
	// MutantRevokeHalfRate: runLoop revokes only half the leases its limit
	// allows, so keys outlive their leases longer than the backlog explains.
	MutantRevokeHalfRate
	// MutantDeposedRevoke: a leader deposed while its raft loop is blocked
	// (the fsync-stall fault) revokes the leases its stale lessor finds
	// expired even on a release that checks its leadership first
	// (EtcdVersion.RevokeChecksLeadership): the check is skipped, as before
	// etcd #15247 was fixed.
	MutantDeposedRevoke
	// MutantKeysOutliveLease: runLoop revokes an expired lease but leaves
	// its keys in the store (a revoke that forgets the keys' delete in its
	// transaction): a key survives its lease.
	MutantKeysOutliveLease
	// MutantRenewExpiredAtOnce: the leader answers a renewal of an expired
	// lease "not found" at once instead of waiting for its revocation
	// (Lessor.Expired): the client hears the lease is gone while its keys
	// are still there.
	MutantRenewExpiredAtOnce
)

var mutantNames = [...]string{MutantNone: "", MutantAckAfterRevoke: "ack-after-revoke", MutantDeposedRenew: "deposed-renew",
	MutantPromoteFullTTL: "promote-full-ttl", MutantRevokeHalfRate: "revoke-half-rate", MutantDeposedRevoke: "deposed-revoke",
	MutantKeysOutliveLease: "keys-outlive-lease", MutantRenewExpiredAtOnce: "renew-expired-at-once"}

// String is the mutant's name as --mutant takes it ("" for MutantNone).
func (m Mutant) String() string {
	if int(m) < len(mutantNames) {
		return mutantNames[m]
	}
	return fmt.Sprintf("Mutant(%d)", uint8(m))
}

// MutantForms lists the mutants' names, for help and error messages.
const MutantForms = "ack-after-revoke, deposed-renew, promote-full-ttl, revoke-half-rate, deposed-revoke, keys-outlive-lease, renew-expired-at-once"

// ParseMutant reads a mutant's name; "" is MutantNone.
func ParseMutant(s string) (Mutant, error) {
	for i, n := range mutantNames {
		if n == s {
			return Mutant(i), nil
		}
	}
	return MutantNone, fmt.Errorf("%q is not allowed; allowed: %s", s, MutantForms)
}
