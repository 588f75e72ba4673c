package model

import (
	"fmt"
	"strconv"
	"strings"
)

// EtcdVersion is an etcd server release, 3.Minor.Patch: the lease behaviour
// of the members follows it (LessorConfigFor).
type EtcdVersion struct{ Minor, Patch int }

// DefaultEtcdVersion is the release this package's behaviour and citations
// follow unless a scenario names another.
var DefaultEtcdVersion = EtcdVersion{Minor: 7, Patch: 3}

// The releases a scenario may name: the 3.2 series (the 2018 incident's) to
// the 3.7 series (the calibrated one).
const (
	MinEtcdMinor = 2
	MaxEtcdMinor = 7
)

// ParseEtcdVersion parses "3.N.M" (a leading "v" is allowed) for N from
// MinEtcdMinor to MaxEtcdMinor.
func ParseEtcdVersion(s string) (EtcdVersion, error) {
	parts := strings.Split(strings.TrimPrefix(s, "v"), ".")
	bad := fmt.Errorf("%q is not an etcd release; allowed 3.%d.0 to 3.%d.x, e.g. 3.7.3", s, MinEtcdMinor, MaxEtcdMinor)
	if len(parts) != 3 || parts[0] != "3" {
		return EtcdVersion{}, bad
	}
	minor, err1 := strconv.Atoi(parts[1])
	patch, err2 := strconv.Atoi(parts[2])
	if err1 != nil || err2 != nil || minor < MinEtcdMinor || minor > MaxEtcdMinor || patch < 0 || patch > 99 {
		return EtcdVersion{}, bad
	}
	return EtcdVersion{Minor: minor, Patch: patch}, nil
}

func (v EtcdVersion) String() string { return fmt.Sprintf("3.%d.%d", v.Minor, v.Patch) }

// AtLeast reports whether v is 3.minor.patch or later.
func (v EtcdVersion) AtLeast(minor, patch int) bool {
	return v.Minor > minor || (v.Minor == minor && v.Patch >= patch)
}

// What differs by release, with its source (the etcd repository at each tag):
//   - Revoke rate limit and Promote spreading, from 3.2.2 (RevokeRateLimited):
//     before, runLoop handed every expired lease to the server for revocation
//     on each pass (v3.2.1 lease/lessor.go:412-442, findExpiredLeases without
//     a limit) and Promote refreshed every lease to its full TTL
//     (lessor.go:317-327), so leases renewed by one Promote all expired in
//     the same pass (etcd issues #8096, #8097). v3.2.2 backports PRs #8099
//     (at most leaseRevokeRate/2 per 500 ms pass) and #8149 (Promote spreads
//     expiries to 3/4 of the revoke rate once there are leaseRevokeRate
//     leases or more).
//   - Lease checkpointing, from 3.4.0 (Checkpoints): PR #9924 added
//     --experimental-enable-lease-checkpoint (off by default; the
//     LeaseCheckpoint feature gate from 3.6). Until 3.4.20 and 3.5.2 a
//     new leader scheduled no checkpoints (PromoteSchedulesCheckpoints,
//     etcd #13491/#13508).

// RevokeRateLimited reports whether release v limits revocations and
// spreads Promote's expiries (3.2.2 and later).
func (v EtcdVersion) RevokeRateLimited() bool { return v.AtLeast(2, 2) }

// ProbesOverNewConnections reports whether release v's rafthttp has the
// stream prober (3.3.10 and later: commit 6c94debe6, "add Raft message stream
// prober"), which probes each peer every 4 s through a round tripper that
// keeps no idle connection (newStreamRoundTripper with read/write timeouts:
// MaxIdleConnsPerHost -1), so every probe is a new connection with a full
// TLS handshake. Before it, the only prober used the pipeline round tripper
// (v3.2.23 rafthttp/transport.go:139), whose kept-alive connection the
// probes reuse (4 s apart, under the listener's 5 s read deadline).
func (v EtcdVersion) ProbesOverNewConnections() bool { return v.AtLeast(3, 10) }

// HasFastLeaseKeepAlive reports whether release v has the FastLeaseKeepAlive
// feature gate (3.7.0 and later, on by default: server/features, PR #20589).
func (v EtcdVersion) HasFastLeaseKeepAlive() bool { return v.AtLeast(7, 0) }

// RenewWaitsForApply reports whether release v's LeaseRenew on the leader
// waits for the applied index to reach the committed index, up to
// ApplyTimeout (etcd #13675, PRs #13690/#13932: 3.4.20+, 3.5.3+ and 3.6;
// in 3.7 unless FastLeaseKeepAlive, v3_server.go:508-522). A forwarded
// renewal waits in every release (leasehttp's handler, lease/leasehttp/
// http.go:84-88, since 3.2).
func (v EtcdVersion) RenewWaitsForApply() bool {
	return (v.Minor == 4 && v.Patch >= 20) || (v.Minor == 5 && v.Patch >= 3) || v.Minor >= 6
}

// RevokeChecksLeadership reports whether release v's server confirms its
// leadership before it revokes the leases its lessor found expired
// (etcd #15247, PR #16822 "Ignore old leader's leases revoking request":
// 3.6.0; backported by PR #17425 to 3.5.13 and PR #17465 to 3.4.31, per
// CHANGELOG-3.5.md and CHANGELOG-3.4.md). revokeExpiredLeases returns at
// once unless ensureLeadership succeeds (v3.5.13 server/etcdserver/
// server.go:1153-1167, ensureLeadership :1201-1221: a linearizable read,
// then raft's own view of the leader; v3.7.3 server.go:858-873, :914-942,
// which first asks isActive: a tick within the last 3 heartbeats). Before,
// revokeExpiredLeases proposed every lease it was handed (v3.5.12
// server.go:1146-1179, v3.4.30 etcdserver/server.go:1099-1136).
func (v EtcdVersion) RevokeChecksLeadership() bool {
	return (v.Minor == 4 && v.Patch >= 31) || (v.Minor == 5 && v.Patch >= 13) || v.Minor >= 6
}

// RenewReadsIndex reports whether release v's LeaseRenew on the leader
// confirms its leadership with a linearizable read (a raft ReadIndex round)
// on every renewal: ensureLeadership was added to LeaseRenew with PR #16822's
// backports (v3.5.13 server/etcdserver/v3_server.go:298-315, ensureLeadership
// server.go:1201-1221 calling linearizableReadNotify; v3.5.12's LeaseRenew,
// v3_server.go:298-310, has no such call; 3.4.31, CHANGELOG-3.4.md) and made
// cheap by PR #18428 (etcd #18069: "CPU usage of the leader node increased
// by 20%" at 1,500 renewals/s): from 3.5.16 (PR #18439), 3.4.34 (PR #18440)
// and 3.6.0 it skips the read while the member is active, i.e. has ticked
// within the last 3 heartbeat intervals (v3.5.16 server.go:1217-1232; v3.7.3
// server.go:908-942), which a healthy leader always has. Renewals the leader
// serves for a follower (leasehttp's handler calls the lessor directly,
// lease/leasehttp/http.go) never read.
func (v EtcdVersion) RenewReadsIndex() bool {
	return (v.Minor == 4 && v.Patch >= 31 && v.Patch <= 33) || (v.Minor == 5 && v.Patch >= 13 && v.Patch <= 15)
}

// Checkpoints reports whether release v can checkpoint leases (3.4.0 and later).
func (v EtcdVersion) Checkpoints() bool { return v.AtLeast(4, 0) }

// PromoteSchedulesCheckpoints reports whether a new leader's Promote
// schedules every lease's next checkpoint (etcd #13491, PR #13508 "Lease
// Checkpoints fix", commit 48a360aad: 3.6.0; backported by PR #13515 to
// 3.5.2 (21634a98c) and PR #14253 to 3.4.20 (a30aba8fc), per
// CHANGELOG-3.5.md and CHANGELOG-3.4.md).
// Before, only Grant (v3.5.1 server/lease/lessor.go:298-302) and the
// applied Checkpoint itself (:354-357) scheduled one, and only on the
// leader; Demote drops the old leader's schedule (:506) and Promote
// scheduled one only for the leases it spreads (:487, in the pile-up loop;
// the same at v3.4.19 lease/lessor.go:302, :357, :507, :488). So after the
// first leader change no lease is checkpointed again, and every later
// change restores the remaining TTL of the last checkpoint before the
// first one. Fixed: v3.5.2 lessor.go:476, v3.4.20 :478, v3.7.3 :491. The
// same PR's other half (persisting remainingTTL, behind
// --experimental-enable-lease-checkpoint-persist in 3.4.20+/3.5.2+ or a
// 3.6 cluster version, v3.5.2 lessor.go:369-371, :380-383; v3.6.0 :385-388)
// matters only when a member reloads its leases from its backend (a restart,
// or a snapshot from the leader), which this package does not model: etcd
// #17132 (a TTL "renewed on 3rd leadership change" when the leaders were
// killed and restarted, without that flag) is such a case.
func (v EtcdVersion) PromoteSchedulesCheckpoints() bool {
	return (v.Minor == 4 && v.Patch >= 20) || (v.Minor == 5 && v.Patch >= 2) || v.Minor >= 6
}

// PreVote reports whether release v's members run raft with PreVote by
// default: not before 3.4 (v3.2.23 etcdserver/raft.go:418-426 sets only
// CheckQuorum; the --pre-vote flag arrives in 3.4.0, off by default:
// v3.4.0 embed/config.go:412), on from 3.5.0 (v3.5.0 server/embed/config.go:477;
// v3.7.1 server/embed/config.go:557). CheckQuorum is on in every release.
func (v EtcdVersion) PreVote() bool { return v.AtLeast(5, 0) }
