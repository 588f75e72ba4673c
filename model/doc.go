// Package model is the etcd server side of a simulation, as state machines
// in the style of go.etcd.io/raft: an input goes in with the current virtual
// time (Step), outputs come back, and nothing here schedules events, reads a
// clock or draws a random number behind the caller's back.
//
// Terms:
//   - Member: one etcd member's keepalive path (member.go): the v3rpc
//     LeaseKeepAlive stream of each client connected to it, LeaseRenew on the
//     leader and on a follower, and its view of who leads. Its outputs are
//     responses for clients, forwards for the peer transport (package netsim,
//     which model does not import: the wiring connects them), wake-ups for
//     itself and facts for the recorder.
//   - Stream: one client's keepalive stream on its member; it serves one
//     request at a time and buffers the rest (gRPC's unbounded recvBuffer).
//   - Attempt: a LeaseRenew call's number on its stream; inputs naming an
//     older attempt are stale and ignored (its answer, deadline or retry).
//   - Lessor (lessor.go): the leader's lease table: expiries, renewals,
//     rate-limited revocation, Promote on a new leader, checkpoints.
//   - Revoke pipeline (Member.revokePass): the leases a runLoop pass finds
//     expired (Lessor.FindExpired) go only when their LeaseRevoke proposals
//     are applied (Lessor.ApplyRevoke): 16 in flight a batch, each a peer
//     round trip, after any apply stall; found again after 3 s if not.
//   - Revoke wait (Member.waitsForRevoke): the leader's Renew of a lease that
//     has expired but is not yet revoked holds the request, without CPU,
//     until the revocation is applied (then "not found", TTL 0) or the
//     lessor is demoted (ErrNotPrimary): a direct renewal holds its stream,
//     a forwarded one its peer connection.
//   - ReadIndex round (Member.readIndex): the raft read that confirms a
//     leader's leadership (ensureLeadership); one in flight, the reads that
//     arrive meanwhile share the next; per round CPU on the leader and on
//     each follower (readindex.go, measured).
//   - Event writers (eventlease.go): kube-apiserver's event writes on
//     reused leases, their per-write CPU and their leases' revoke stalls.
//   - CPU (cpu.go): a member's cores as a fluid FIFO queue; shared by all
//     members of one machine when the scenario says so. Its capacity may
//     vary with time: other processes' background cores (a step function
//     known in advance) and the member's GC cycles take cores from requests.
//     Other processes' always-runnable threads (Threads) instead share the
//     cores with the process per thread, as Linux's scheduler does, and
//     slow every thread to Speed while all cores are busy.
//   - GC (gc.go): Go's garbage collector in a member's process, the
//     runtime's pacer as a state machine: allocation and the live heap go
//     in with the time, cycles (a pause, then marking on a quarter of
//     GOMAXPROCS for as long as the live heap takes) come out.
//   - Raft (raft.go): the cluster's raft heartbeats and elections (with
//     cluster.raft): ticks, heartbeats, CheckQuorum, (pre-)votes; its
//     leadership outputs feed the members' InLeaderLost / InElected. How a
//     busy or stalled member delays its raft goroutine is SchedDelay.
//   - IdealServer (ideal.go): a lease server with no capacity limit and a
//     fixed round trip, to study the client alone.
//   - Mutant (mutant.go): a deliberately broken server, for the checkers.
//   - Cohort (MemberConfig.Cohort): in the fast mode (spec.FidelityFast) each
//     client stands for a cohort of clients assumed in lockstep: its request
//     is a CPU job of that many requests, its stream queue counts that many;
//     its lease is a Lessor entry of that many leases (Lessor entries always
//     carry a count: other applications' held leases are one entry too).
//
// etcd's constants are in etcd.go, each with its source.
//
// To learn what a member does, read testdata/*.txt: datadriven transcripts
// (TestMemberTranscripts) that drive one Member, its CPU and a Lessor with
// inputs — a direct and a forwarded renewal, the retry loop, ReqTimeout, an
// election with Promote, the bounded leader queue, the revoke pipeline and
// the revoke wait, the ReadIndex rounds, checkpoints by release, the mutants — and show
// every output with its time. Rewrite them with
// `go test ./model -run TestMemberTranscripts -rewrite` and read the diff.
// testdata/raft/*.txt (TestRaftTranscripts) drive a Raft and its Members:
// heartbeats, a saturated CPU, a stalled leader, an election and Promote.
package model
