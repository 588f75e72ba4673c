package model

import (
	"math"
	"time"
)

// etcd's server-side constants, in one place, each with its source
// (go.etcd.io/etcd/server/v3 v3.7.3 unless said otherwise). Constants of Go's
// HTTP transport, rafthttp's connections and Linux TCP live in package netsim.
const (
	// LeaseRevokeRate: at most this many leases are revoked per second
	// (defaultLeaseRevokeRate, lease/lessor.go:46), as LeaseRevokeRate/2 per
	// 500 ms pass of runLoop (lessor.go:620-636, 644).
	LeaseRevokeRate = 1000
	// ApplyTimeout: a renewal waits at most this long for the applied index
	// (applyTimeout, etcdserver/v3_server.go:58 and lease/leasehttp/http.go:37);
	// then LeaseRenew fails (ErrTimeoutWaitAppliedIndex) or the forward is
	// answered 408 and the follower retries.
	ApplyTimeout = time.Second
	// CheckpointInterval: with checkpointing on, a lease's remaining TTL is
	// checkpointed this often (defaultLeaseCheckpointInterval, lessor.go:52).
	CheckpointInterval = 5 * time.Minute
	// RevokeInterval is the lessor runLoop's period (lessor.go:623, a 500 ms ticker).
	RevokeInterval = 500 * time.Millisecond
	// ExpiredLeaseRetryInterval: a lease runLoop found expired is looked at
	// again this long after, and proposed again if its revocation has not
	// been applied by then (defaultExpiredleaseRetryInterval, lessor.go:58;
	// expireExists re-registers it at now + this, :700-725).
	ExpiredLeaseRetryInterval = 3 * time.Second
	// MaxPendingRevokes: the server's revokeExpiredLeases keeps at most this
	// many LeaseRevoke proposals of one batch in flight (server.go:102-103,
	// :858-903).
	MaxPendingRevokes = 16
	// DefaultElectionTimeout: etcd's default --election-timeout (1000 ms);
	// Promote extends every lease by it on a new leader.
	DefaultElectionTimeout = time.Second
	// ForwardRetry: LeaseRenew on a follower sleeps this long between failed
	// forwards (etcdserver/v3_server.go:559, 50 ms).
	ForwardRetry = 50 * time.Millisecond
	// ReqTimeoutBase: ReqTimeout = 5 s + 2 x election timeout
	// (config/config.go:320-324); LeaseRenew's forwarding loop gives up then
	// (v3_server.go:538-541). See ReqTimeout.
	ReqTimeoutBase = 5 * time.Second
	// PeerDialTimeoutBase: the peer round tripper's dial timeout is 1 s + the
	// election timeout (config/config.go:330-333).
	PeerDialTimeoutBase = time.Second
	// HeartbeatInterval: etcd's default --heartbeat-interval, 100 ms: raft's
	// tick (etcdserver/raft.go:183-184; HeartbeatTick 1, bootstrap.go:544), so
	// the leader sends a heartbeat to every follower every 100 ms.
	HeartbeatInterval = 100 * time.Millisecond
	// HeartbeatCost: the raft goroutine's CPU for one heartbeat round with one
	// follower, through the real go.etcd.io/raft v3.7.0 state machines with
	// rafthttp's protobuf encoding (make measure WHAT=heartbeat, this
	// project's 2-vCPU machine, 2026-12-01, the fastest of 3 runs of 200,000
	// rounds on a 3-member cluster, saved in
	// calibrate/testdata/heartbeat-raft.json and replayed by
	// TestHeartbeatCostReplay): on the leader 1.3 µs to tick and encode it
	// plus 0.4 µs to step the response; on the follower 1.0 µs (earlier runs:
	// up to 1.6, 1.1 and 2.0 µs); plus the
	// TLS record and the stream's write and read syscalls (not measured, a
	// few µs). It is in the members' measured idle CPU (spec.Costs.IdleCores)
	// already, so it is not charged to the CPU queue again; it is the work a
	// heartbeat's sender and receiver do before it moves on.
	HeartbeatCost = 5 * time.Microsecond
	// MinTTL: etcd's minimum lease TTL with default election settings:
	// ceil(3/2 x electionTicks x heartbeat) = ceil(1.5 s) = 2 s
	// (etcdserver/server.go:340-345).
	MinTTL = 2 * time.Second
)

// ReqTimeout is how long LeaseRenew on a follower keeps forwarding before it
// fails, for a given election timeout (config/config.go:320-324).
func ReqTimeout(electionTimeout time.Duration) time.Duration {
	return ReqTimeoutBase + 2*electionTimeout
}

// PeerDialTimeout is the peer round tripper's dial timeout for a given
// election timeout (config/config.go:330-333).
func PeerDialTimeout(electionTimeout time.Duration) time.Duration {
	return PeerDialTimeoutBase + electionTimeout
}

// PromoteCost is the time a new leader's lessor spends in Promote for n
// leases: it refreshes every lease, re-registers it in the expiry heap and,
// from LeaseRevokeRate leases on, sorts them all (lessor.go:480-530), so the
// cost per lease grows with log n. Measured on the real v3.7.3 lessor on
// this project's 2-vCPU machine (calibrate/testdata/promote-3.7.3.json,
// 2026-12-01: 1.45 ms at 1,000 leases, 19 ms at 10,000, 251 ms at 100,000,
// 4.0 s at 1,000,000; calibrate.TestMeasurePromote), fitted per lease as
// 311.8 ns x log2(n) - 2,364 ns over 10,000-1,000,000 leases (within 12 %),
// and at least the 1,000-lease figure, 1,450 ns. etcd #9496 measured the
// 3.3-era Promote at 27 ms for 100,000 and 325 ms for 1,000,000 on a
// 16-core machine (PR #9699).
func PromoteCost(n int) time.Duration {
	if n <= 0 {
		return 0
	}
	perLease := max(1450, 311.8*math.Log2(float64(n))-2364)
	return time.Duration(perLease * float64(n))
}

// DemoteCost is the time a member's lessor spends in Demote for n leases:
// it walks the lease map and makes every lease's expiry "forever"
// (lease/lessor.go:534-550), which costs more per lease as the map
// outgrows the caches. Measured on the real v3.7.3 lessor on this project's
// 2-vCPU machine as the CPU time of the thread that ran it
// (calibrate/testdata/demote-3.7.3.json, calibrate.TestMeasureDemote,
// 2026-12-01: 0.35 ms at 10,000 leases, 7.9 ms at 100,000, 137 ms at
// 1,000,000, 404 ms at 2,000,000, 1.22 s at 5,000,000) and interpolated per
// lease in log n between the measured points: the smallest point's
// per-lease cost below it, the largest's (243 ns) above it, an
// extrapolation past five million leases that the cache trend says is low
// if anything.
func DemoteCost(n int) time.Duration {
	if n <= 0 {
		return 0
	}
	return time.Duration(perLeaseInterpolated(demoteMeasured[:], n) * float64(n))
}

// demoteMeasured: per lease count, the measured Demote time in ns.
var demoteMeasured = [...][2]float64{{10_000, 346_629}, {100_000, 7_889_103}, {1_000_000, 136_547_815}, {2_000_000, 404_134_108}, {5_000_000, 1_217_266_324}}

// perLeaseInterpolated interpolates the per-lease cost of points (lease
// count, total ns; ascending) at n, linearly in log n, flat outside them.
func perLeaseInterpolated(points [][2]float64, n int) float64 {
	x := math.Log(float64(n))
	per := func(i int) float64 { return points[i][1] / points[i][0] }
	if x <= math.Log(points[0][0]) {
		return per(0)
	}
	for i := 1; i < len(points); i++ {
		if x0, x1 := math.Log(points[i-1][0]), math.Log(points[i][0]); x <= x1 {
			return per(i-1) + (per(i)-per(i-1))*(x-x0)/(x1-x0)
		}
	}
	return per(len(points) - 1)
}
