package model

import "time"

// The CPU one ReadIndex round costs etcd's members: the linearizable read
// path that etcd 3.5.13-3.5.15 and 3.4.31-3.4.33 ran on every LeaseRenew at
// the leader, through ensureLeadership (etcd issue #18069, "+20% leader CPU
// at 1,500 renews/s"; v3.5.13 server/etcdserver/v3_server.go:298-315 and
// server.go:1201-1221, whose linearizableReadNotify, linearizableReadLoop
// and requestCurrentIndex are v3_server.go:960, 802 and 859; PR #18428 in
// 3.5.16 and 3.6.0 returns early while the raft loop ticks, isActive).
//
// In go.etcd.io/etcd/server/v3@v3.7.3 (the module cache) the path is
// etcdserver/read/read.go: LinearizableReadNotify (read.go:74-94) wakes
// LinearizableReadLoop (read.go:96-146), whose requestCurrentIndex
// (read.go:148-230) takes a request ID and sends one raft ReadIndex
// (sendReadIndex, read.go:232-248); with ReadOnlySafe the leader broadcasts
// a heartbeat carrying the request's context to every follower
// (go.etcd.io/raft/v3@v3.7.0 raft.go:1354-1372 and 2146-2162) and releases
// the read on a quorum of responses; the loop then waits for the applied
// index and wakes every read that arrived while the round was in flight
// (read.go:130-141), so one round serves them all. Range reaches it at
// v3_server.go:139-145, ensureLeadership at server.go:914-942 (in v3.7.3
// after the isActive shortcut, server.go:918-923).
//
// Both constants are per round at 1,500 linearizable reads/s on one leader
// (issue #18069's rate; a round served 1.06 reads there: few arrive while
// one is in flight), measured on a real 3-member v3.7.3 cluster in one
// process (peer mutual TLS): linearizable minus serializable Range CPU,
// split by member with pprof labels, the median of 7 repeats of 15 s
// (leader 58-108 µs, follower 20-42 µs; 2-vCPU AMD EPYC, shared; Go 1.26.8;
// 2026-12-01), rounds counted from the leader's request-ID generator. Saved
// in calibrate/testdata/readindex-3.7.3.json (make measure WHAT=readindex,
// TestMeasureReadIndex), replayed by TestReadIndexCostReplay. They include
// Go's wake-ups of the goroutines involved (raft's loop, rafthttp's stream
// reader and writer, the read loop, the waiting reads), the TLS records and
// the loopback syscalls, which cost far more than the raft state machines'
// work (about 2 µs a heartbeat, HeartbeatCost).
//
// Batching: at 4,000 and 8,000 reads/s a round served 1.37 and 2.04 reads
// and cost the leader 94 and 67 µs, each follower 31 and 27 µs; per read the
// leader's extra CPU was 66, 68 and 31 µs at 1,500, 4,000 and 8,000/s, a
// follower's 25, 23 and 13 µs: the cost goes with rounds, not reads. Not in
// the constants: Go's scheduler on threads whose goroutine has parked (a
// profile cannot say whose; +4 µs per round at 1,500/s, within the noise)
// and the client's side.
const (
	// ReadIndexLeaderCost: the leader's CPU per ReadIndex round.
	ReadIndexLeaderCost = 71 * time.Microsecond
	// ReadIndexFollowerCost: each follower's CPU per ReadIndex round (the
	// heartbeat with the read's context: read, step, answer).
	ReadIndexFollowerCost = 27 * time.Microsecond
)
