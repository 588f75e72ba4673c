package model

import (
	"cmp"
	"math"
	"slices"
	"time"

	"github.com/leasesim/leasesim/sim"
)

// Event leases: kube-apiserver writes every event with a lease (TTL: the
// event TTL, 1 h by default) from its lease manager (kubernetes
// staging/src/k8s.io/apiserver/pkg/storage/etcd3/lease_manager.go GetLease).
// First it granted one lease per write (kubernetes #47532: 100K+ leases in
// kubemark); from PR #64539 it reuses one lease for --lease-reuse-duration-
// seconds (60 s; the lease's TTL is the event TTL + 60 s, so every key of
// the lease outlives its own TTL by at most a minute), with any number of
// keys on it; PR #98257 (2021, --lease-max-object-count, default 1,000)
// starts a new lease once one holds that many (kubernetes #96836).
//
// What a lease with k keys costs etcd, measured on the real v3.7.3 code
// (calibrate.TestMeasureEventLease, calibrate/testdata/event-lease-3.7.3.json,
// this project's 2-vCPU machine, 2026-12-01, one lease holding 1,000 to
// 300,000 keys of 61 B with 512 B values):
//   - its revocation (lease/lessor.go:326-365: every key deleted, in sorted
//     order, in one backend transaction, applied on every member) takes
//     RevokeCost(k): 4.4 ms for 1,000 keys, 141 ms for 30,000, 564 ms for
//     100,000, 2.6 s for 300,000 (4.4 to 8.8 µs a key, growing with k). It
//     runs in the apply loop, so every member's apply stalls while it runs
//     (kubernetes #96836: "lease_revoke operation in etcd is atomic, this
//     blocks all other operations for long period of time");
//   - a plain Put with the lease, on releases before etcd PR #16005
//     (PutWalksLeaseKeys), walks every key already attached: lease.Keys()
//     builds a slice of them and IsPutPermitted copies each to a []byte
//     (v3.4.26 etcdserver/apply_auth.go:66-71 and :178-189; v3.5.9
//     apply_auth.go:67-72 and :179-190), 80 B of garbage a key (etcd
//     #15993): EventPutWalk(k), 0.13 ms at 1,000 keys, 4.3 ms at 30,000,
//     39 ms at 100,000, 172 ms at 300,000 (process CPU, the collector's work
//     on the garbage included). A Txn's puts never walk: authApplierV3.Txn
//     checks only IsPutPermitted per key (v3.4.13 apply_auth.go:109-150,
//     :164-169) and applyTxn calls the backend applier's Put, not the auth
//     wrapper's (v3.4.13 etcdserver/apply.go:544-545; v3.7.3 etcdserver/txn/
//     txn.go:214 checks the lease exists only). kube-apiserver writes events
//     with a Txn (storage/etcd3/store.go Create: If(notFound(key)).Then(
//     OpPut(key, data, WithLease)); GuaranteedUpdate the same with a
//     ModRevision guard), so the walk applies to writers that Put;
//   - the rest of a write, EventPutBase: 179 µs of the server process's CPU
//     per event Txn on a 1-member etcd 3.7.3 (gRPC, raft, WAL, apply,
//     backend; the client in another process).

// EventPutBase is one event write's server CPU apart from the lease walk
// (server_put_ns of the measurement), charged on every member.
const EventPutBase = 179 * time.Microsecond

// LeaseReuse is kube-apiserver's --lease-reuse-duration-seconds default
// (60 s; at most 5 % of the TTL: lease_manager.go getReuseDurationSecondsLocked).
const LeaseReuse = 60 * time.Second

// Per attached-key count, the measured walk (walk_process_ns) and revoke
// (revoke_ns) in ns; interpolated per key in log k (perLeaseInterpolated).
var (
	eventWalkMeasured = [...][2]float64{{1_000, 126_959}, {10_000, 954_415}, {30_000, 4_319_469}, {100_000, 39_118_450}, {300_000, 172_041_333}}
	revokeMeasured    = [...][2]float64{{1_000, 4_439_214}, {10_000, 50_413_508}, {30_000, 141_110_202}, {100_000, 563_790_011}, {300_000, 2_628_265_717}}
)

// EventPutWalk is the pre-fix walk a Put with a lease makes over the keys
// already attached to it.
func EventPutWalk(keys int) time.Duration {
	if keys <= 0 {
		return 0
	}
	return time.Duration(perLeaseInterpolated(eventWalkMeasured[:], keys) * float64(keys))
}

// RevokeCost is the apply time of revoking a lease with keys attached keys.
func RevokeCost(keys int) time.Duration {
	if keys <= 0 {
		return 0
	}
	return time.Duration(perLeaseInterpolated(revokeMeasured[:], keys) * float64(keys))
}

// PutWalksLeaseKeys reports whether release v's Put with a lease walks every
// key already attached to it when auth is disabled: from 3.3.0 (v3.2.x has
// no checkLeasePuts) until etcd PR #16005 returned early when auth is off or
// the user is admin: 3.6.0, backported to 3.5.10 (PR #16019) and 3.4.27 (PR
// #16020), per CHANGELOG-3.5.md and CHANGELOG-3.4.md (v3.5.10
// etcdserver/apply_auth.go:188-193; v3.7.3 etcdserver/apply/auth.go:207-212).
func (v EtcdVersion) PutWalksLeaseKeys() bool {
	return (v.Minor == 3) || (v.Minor == 4 && v.Patch < 27) || (v.Minor == 5 && v.Patch < 10)
}

// EventWritersConfig configures the event writers.
type EventWritersConfig struct {
	Writers    int           // kube-apiservers, each with its own lease manager
	Rate       float64       // events per second, per writer
	MaxObjects int           // keys per lease before a new one (0: unbounded, before PR #98257)
	TTL        time.Duration // the events' TTL; a lease lives TTL + LeaseReuse
	// Walk: the writes are plain Puts on a release that walks the lease's
	// keys (PutWalksLeaseKeys); false for kube-apiserver's Txn writes.
	Walk bool
	// RevokeRate is the lessor's leaseRevokeRate (0: LeaseRevokeRate): a
	// runLoop pass hands at most half of it to revocation (lessor.go
	// revokeExpiredLeases), the rest waits for later passes.
	RevokeRate int
	// RateLimited: the release limits revocations (EtcdVersion.
	// RevokeRateLimited, 3.2.2+); otherwise a pass revokes every expired lease.
	RateLimited bool
}

// EventWriters are kube-apiservers writing events with reused leases, as a
// workload on every member: each pass (Step, on the lessor's runLoop
// period) writes the events due since the last pass, each on its writer's
// current lease (a new one when it is LeaseReuse old or holds MaxObjects),
// charges every member's CPU for them, and revokes the leases expired
// since: each revocation is CPU work on every member and stalls its apply
// until done. It never reads a clock or draws a random number.
//
// Simplifications: a pass's writes are charged as one job at the pass (500
// ms grain), spread over the member's cores as the CPU model spreads any
// job of many requests, though etcd applies one entry at a time: with the
// walk (Walk), 1,000 Puts/s on a lease near 60,000 keys need ~17 cores of
// walks a second, which one apply goroutine cannot do (the member would fall
// behind instead: not modelled); the walk's cost is the process's CPU, the
// collector's share included, measured on a small heap. A lease's grant
// costs nothing (not measured: with one lease per write, MaxObjects 1, the
// CPU is a lower bound). Revocations take effect at a pass, at most
// RevokeRate/2 of them a pass, oldest first, as the lessor's runLoop hands
// them out (lessor.go revokeExpiredLeases): a 60 s lease expires at most
// once a second per writer, far below the limit, but one lease per write
// (kubernetes #47532) expires as fast as events are written, and past
// 1,000/s the leases wait in a backlog (Backlog) while their keys outlive
// them. The proposal pipeline of client leases (16 in flight, a peer round
// trip each) is not applied here: a pass's revocations apply at once. The
// events' keys are not in the Lessor (they are not clients' leases).
type EventWriters struct {
	cfg     EventWritersConfig
	written []int64      // per writer: events written so far
	current []int        // per writer: its current lease in leases, -1 none
	leases  []eventLease // in grant order
	head    int          // leases before head are revoked
	dropped int          // revoked leases no longer in leases
}

type eventLease struct {
	granted sim.Time
	keys    int
}

// NewEventWriters returns writers that have written nothing.
func NewEventWriters(cfg EventWritersConfig) *EventWriters {
	w := &EventWriters{cfg: cfg, written: make([]int64, cfg.Writers), current: make([]int, cfg.Writers)}
	for i := range w.current {
		w.current[i] = -1
	}
	return w
}

// Step writes the events due by now and revokes the leases expired by now,
// as many as the revoke limit allows, charging members; it appends the
// revocations to revoked (Revoked.I is the lease's grant order) and returns
// the longest apply stall a revocation began.
func (w *EventWriters) Step(now sim.Time, members []*Member, revoked []Revoked) (_ []Revoked, stall time.Duration) {
	due := int64(math.Floor(w.cfg.Rate * time.Duration(now).Seconds()))
	var work time.Duration
	var n int
	for i := range w.written {
		for ; w.written[i] < due; w.written[i]++ {
			c := w.current[i]
			if c < 0 || now-w.leases[c].granted >= sim.Time(LeaseReuse) || (w.cfg.MaxObjects > 0 && w.leases[c].keys >= w.cfg.MaxObjects) {
				w.leases = append(w.leases, eventLease{granted: now})
				c = len(w.leases) - 1
				w.current[i] = c
			}
			work += EventPutBase
			if w.cfg.Walk {
				work += EventPutWalk(w.leases[c].keys)
			}
			w.leases[c].keys++
			n++
		}
	}
	if n > 0 {
		for _, m := range members { // every member applies every write
			m.cpu.Force(now, work/time.Duration(n), n, 0)
			m.cpu.Done(n, 0)
		}
	}
	life := sim.Time(w.cfg.TTL + LeaseReuse)
	limit := LessorConfig{RevokeRate: w.cfg.RevokeRate}.revokeRate() / 2
	if !w.cfg.RateLimited {
		limit = math.MaxInt
	}
	for ; w.head < len(w.leases) && w.leases[w.head].granted+life <= now && limit > 0; w.head, limit = w.head+1, limit-1 {
		l := w.leases[w.head]
		revoked = append(revoked, Revoked{I: w.dropped + w.head, N: 1, Keys: l.keys, Expiry: l.granted + life})
		cost := RevokeCost(l.keys)
		for _, m := range members {
			done := m.cpu.Force(now, cost, 1, 0) // the apply loop: one core
			m.cpu.Done(1, 0)
			m.applyStalledUntil = max(m.applyStalledUntil, done)
			stall = max(stall, time.Duration(done-now))
		}
	}
	if w.head > 4096 && w.head > len(w.leases)/2 { // drop the revoked leases' entries
		for i, c := range w.current {
			w.current[i] = max(c-w.head, -1) // -1: its lease is revoked; the next write grants one
		}
		w.leases = append([]eventLease(nil), w.leases[w.head:]...)
		w.dropped += w.head
		w.head = 0
	}
	return revoked, stall
}

// Backlog is the number of leases expired by now and not yet revoked (the
// revoke limit left them for later passes); 0 for nil writers.
func (w *EventWriters) Backlog(now sim.Time) int {
	if w == nil {
		return 0
	}
	life := sim.Time(w.cfg.TTL + LeaseReuse)
	n, _ := slices.BinarySearchFunc(w.leases[w.head:], now-life, func(l eventLease, t sim.Time) int { return cmp.Compare(l.granted, t+1) })
	return n
}
