// Package properties states leasesim's guarantees as checkable properties and
// checks them with pgregory.net/rapid (generated scenarios, shrinking) and
// github.com/anishathalye/porcupine (linearizability of lease-API histories).
//
// The properties (issue 4):
//
//   - P1 (fixed clients, server answers faster than 500 ms): on a healthy
//     stream every renew interval lies in (TTL/3, TTL/3 + 500 ms + RTT]; after a
//     stream reset the next request goes out at the reopened stream's first scan
//     (reset + 500 ms) if the lease is due by then, else within 500 ms of falling
//     due. CheckP1 decides it on a scripted run; GenP1 generates the scripts.
//     Checked on the model (scripted.Replay) and on the real client
//     (clientmodel/realclient).
//   - P1b (every version, answers slower than 500 ms): a response delay d makes
//     the client send Amplification(d) = ceil(d / 500 ms) requests per renewal,
//     500 ms apart, and renew every RoundPeriod(ttl, d). PredictSlowTimeline gives
//     the exact request timeline; checked on the model and the real client.
//   - P2 (fixed clients, leader utilisation well below 1): no lease expires on a
//     cluster scenario, whatever the consumer does.
//   - P3 (pre-fix clients): P1 fails, and rapid shrinks the failure to the 2018
//     bug: one client that never reads, the 18th request 500 ms after the 17th.
//   - P4: with Promote, no lease expires across a leader change shorter than the
//     election timeout, from a TTL of P4MinTTL (3 s) up: at etcd's minimum,
//     2 s, the client's own deadline can pass during such an election.
//   - P6 (lease checkpointing): a lease nobody renews (TTL over 5 min) is
//     revoked no earlier than its TTL after its grant and no later than that
//     plus P6Slack per leader change during its life. GenP6 draws the leader
//     churn, CheckP6 decides it from the history; the promote-full-ttl
//     mutant (a Promote that ignores checkpoints) fails it.
//   - P7 (the revoke limit): keys never outlive their lease by more than the
//     revoke backlog allows: every runLoop pass revokes min(due, rate/2)
//     leases, in expiry order (GenP7, CheckP7, on the lessor); the
//     revoke-half-rate mutant fails it.
//   - P8 (etcd #15247/#12528): no revoke is ever issued by a deposed leader.
//     A leader deposed while its raft loop is blocked in fdatasync keeps its
//     lessor primary on a table the new leader's renewals never reach; what
//     it finds expired is alive. In the history: no lease is revoked sooner
//     than its TTL after a keepalive the cluster acknowledged (CheckP8).
//     GenP8 draws fsync-stall scenarios with raft on the fixed releases
//     (EtcdVersion.RevokeChecksLeadership: 3.4.31+, 3.5.13+, 3.6+), where
//     it holds; on 3.5.12 the honest model fails it for every lease (the
//     bug, spec/builtin/lease-deposed-leader.yaml), and so does the
//     deposed-revoke mutant, which skips the leadership check; rapid
//     shrinks that to one client, TTL 2 s, a stall of ~3.5 s.
//     'leasesim check' runs it.
//   - Linearizability: LeaseModel is a sequential specification of Grant,
//     KeepAlive, the lessor's Expire, the client's Revoke, and a checker's
//     Get of the lease's key and TimeToLive over recorder.Op histories,
//     partitioned by lease; RunCluster records a history with the checker's
//     reads (each lease about every 10 s) and porcupine checks it. A key
//     that survives its lease (the keys-outlive-lease mutant) or vanishes
//     while the lease lives is a violation.
package properties
