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
//     backend; the client in another process);
//   - on etcd 3.4 (the events etcd of PR #98257's test ran 3.4.13), every
//     read transaction copies the backend's read buffer whole, used or not,
//     and a revocation grows that buffer for good: this is what the cap cuts
//     (ReadTxnCopy, below).
//
// The read buffer (etcd 3.4.13; calibrate/etcd34 measures that code): a
// read txn (mvcc kvstore_txn.go:35-45, store.Read) takes a
// ConcurrentReadTx (mvcc/backend/backend.go:205-218), which copies the
// read buffer: every bucket's bucketBuffer, each copied at its full length
// len(bb.buf), not its used part (tx_buffer.go:92-102 unsafeCopy, :196-203
// Copy; v3.5.16's tx_buffer.go:224-231 still copies the full length, v3.6.0
// copies the used part, tx_buffer.go:249-258 CopyUsed). The key bucket's buffer starts at 512
// entries and grows to 3/2 of itself whenever it fills (tx_buffer.go:116-118,
// :155-163); a commit empties it but keeps its length (tx_buffer.go:27-35:
// used = 0; the bucket is dropped only at a commit that follows an interval
// with no write to it, which a steady event stream never leaves). A
// revocation deletes its lease's k keys in one write txn (lease/lessor.go:
// 308-346), whose k tombstones go to the read buffer in one writeback
// (batch_tx.go:276-286): the buffer grows to hold k entries and stays that
// long (ReadBufferCap). Who reads: every Txn, for its compare, before its
// write txn (etcdserver/apply.go:359-383, KV().Read at :361): so every event
// kube-apiserver writes; every Range; and a watcher with prevKV once per
// event that is not a create (etcdserver/api/v3rpc/watch.go:389-399),
// so k times for a revocation. kube-apiserver has no watch cache for events
// (kubernetes v1.20.2 pkg/kubeapiserver/default_storage_factory_builder.go:
// 52-59, size 0), so only clients watching events directly make that last
// kind; the model has none. A plain Put reads nothing (apply.go Put: a
// write txn only). 3.5.0 reads a write Txn's compare through the shared
// buffer (etcd PR #12896; v3.5.9 etcdserver/apply.go:436-446, on by default:
// embed/config.go:511) and caches the copy between writes (PR #12933); 3.3
// had no ConcurrentReadTx (v3.3.8 mvcc/kvstore_txn.go:31-39).
// Measured (calibrate/etcd34.TestMeasureReadBufferCopy, calibrate/testdata/
// event-lease-readbuf-3.4.13.json, 2026-12-01, this project's 2-vCPU
// machine, Go 1.26: etcd 3.4.13 shipped with Go 1.12, whose collector
// differs): a read txn costs readBufferCopyNs, 37.2 ns of process CPU (the
// collector's share included; 5 ns of it the copying thread's) per entry of
// the buffer's length, 33-40 ns at every point from 30,000 keys on. A lease
// of 60,000 keys leaves a buffer of 66,429 entries: every later event write
// then spends 2.5 ms copying it. With the cap at 1,000 keys the buffer holds
// 1,152 (43 µs). End to end (calibrate/etcd34.TestMeasureEventLeaseCPU,
// calibrate/testdata/event-lease-cpu-3.4.13.json: a 1-member v3.4.13 server,
// 300 event Txns/s, leases reused for 60 s, TTL 20 s, 3 repeats): after the
// first revocations the server spent 1,304-1,461 µs per event unbounded
// (18,000 keys a lease), 647-788 µs capped, medians 749 µs apart, where
// ReadTxnCopy gives 689 µs (calibrate.TestEventLeaseCPUReplay); before
// them, 566-891 µs in every run. 24 % of the unbounded server's CPU profile
// was the Txn's copy (bucketBuffer.Copy), 31 % the collector's background
// marking; bbolt's commit under 1 %, lessor.Revoke 0.5 %. With a watcher
// asking for previous values (not modelled) the copies per revoked key
// came on top: 2,322-2,442 µs against 826-994 µs.

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

// ReadBufferCap is the length of the key bucket's read buffer once it has
// held n entries between two commits: 512, grown to 3/2 of itself each time
// it fills (v3.4.13 mvcc/backend/tx_buffer.go:116-118, :155-163).
func ReadBufferCap(n int) int {
	c := 512
	for c <= n {
		c = 3 * c / 2
	}
	return c
}

// readBufferCopyNs is the measured process CPU, in ns, of one read txn per
// entry of the read buffer's length (copy_ns_per_entry of calibrate/
// testdata/event-lease-readbuf-3.4.13.json).
const readBufferCopyNs = 37.2

// ReadTxnCopy is the cost of one read txn's copy of a read buffer of
// capacity entries on a release that copies it (WriteTxnCopiesReadBuffer).
func ReadTxnCopy(capacity int) time.Duration {
	return time.Duration(readBufferCopyNs * float64(capacity))
}

// backendBatchInterval is how often the backend commits (v3.4.13
// mvcc/backend/backend.go:36 defaultBatchInterval; 100 ms in every release).
const backendBatchInterval = 100 * time.Millisecond

// WriteTxnCopiesReadBuffer reports whether release v's Txn with a write
// copies the backend's read buffer for its compare: the 3.4 series (above:
// from 3.4.0's ConcurrentReadTx, etcd PR #10523, until 3.5.0's PR #12896;
// read in v3.4.13 only, the release of PR #98257's figure).
func (v EtcdVersion) WriteTxnCopiesReadBuffer() bool { return v.Minor == 4 }

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
	// CopyReadBuffer: the writes are Txns on a release whose Txn copies the
	// read buffer (WriteTxnCopiesReadBuffer); false for plain Puts.
	CopyReadBuffer bool
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
// collector's share included, measured on a small heap. The read buffer's
// length follows the largest revocation's keys alone: the writes pending in
// the same 100 ms (at most Rate x 100 ms) can add one growth step, not
// counted. A lease's grant costs nothing (not measured: with one lease per
// write, MaxObjects 1, the CPU is a lower bound). Revocations take effect at
// a pass, at most RevokeRate/2 of them a pass, oldest first, as the lessor's
// runLoop hands them out (lessor.go revokeExpiredLeases): a 60 s lease
// expires at most once a second per writer, far below the limit, but one
// lease per write (kubernetes #47532) expires as fast as events are
// written, and past 1,000/s the leases wait in a backlog (Backlog) while
// their keys outlive them. The proposal pipeline of client leases (16 in
// flight, a peer round trip each) is not applied here: a pass's revocations
// apply at once. The events' keys are not in the Lessor (they are not
// clients' leases).
type EventWriters struct {
	cfg     EventWritersConfig
	written []int64      // per writer: events written so far
	current []int        // per writer: its current lease in leases, -1 none
	leases  []eventLease // in grant order
	head    int          // leases before head are revoked
	dropped int          // revoked leases no longer in leases
	// bufCap: the key bucket's read buffer length (ReadBufferCap): what
	// one batch interval's writes need, then the largest revocation's keys.
	bufCap int
}

type eventLease struct {
	granted sim.Time
	keys    int
}

// NewEventWriters returns writers that have written nothing.
func NewEventWriters(cfg EventWritersConfig) *EventWriters {
	perCommit := int(math.Ceil(cfg.Rate * float64(cfg.Writers) * backendBatchInterval.Seconds()))
	w := &EventWriters{cfg: cfg, written: make([]int64, cfg.Writers), current: make([]int, cfg.Writers), bufCap: ReadBufferCap(perCommit)}
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
			if w.cfg.CopyReadBuffer { // the compare's read txn (apply.go:361)
				work += ReadTxnCopy(w.bufCap)
			}
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
		w.bufCap = max(w.bufCap, ReadBufferCap(l.keys)) // its tombstones, in one writeback
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
