package model

import (
	"fmt"
	"strings"
)

// Mutant deliberately breaks the server, to show that the checkers catch it
// (package properties, leasesim check --mutant). The production path never
// sets one.
type Mutant uint8

const (
	MutantNone Mutant = iota
	// MutantAckAfterRevoke: the leader answers a renewal of a revoked lease
	// with its TTL instead of 0 (what filling the response header before
	// renewing guards against, v3rpc/lease.go).
	MutantAckAfterRevoke
	// MutantDeposedRenew: a deposed leader still renews in its own lessor and
	// answers (etcd #12528: a lessor not demoted with raft).
	MutantDeposedRenew
)

var mutantNames = [...]string{"none", "ack-after-revoke", "deposed-renew"}

func (m Mutant) String() string { return mutantNames[m] }

// ParseMutant reads a mutant's name; "" is MutantNone.
func ParseMutant(s string) (Mutant, error) {
	if s == "" {
		return MutantNone, nil
	}
	for i, n := range mutantNames {
		if n == s {
			return Mutant(i), nil
		}
	}
	return 0, fmt.Errorf("unknown mutant %q; allowed: %s", s, strings.Join(mutantNames[1:], ", "))
}
