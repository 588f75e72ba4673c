package recorder

import "fmt"

// MetricName names a per-bucket series of a cluster run. Every series the
// wiring records has a constant (or, per member, a function) here, and every
// reader (sweep, report, the CLI, calibrate) uses them: a renamed metric is a
// compile error, not a silently empty column.
type MetricName string

// Counters: events per bucket, reported per second.
const (
	RenewalsAtLeader     MetricName = "renewals_at_leader"     // leases the leader's lessor renewed
	ForwardedRenewals    MetricName = "forwarded_renewals"     // forwarded renewals that reached the leader
	NewPeerConnections   MetricName = "new_peer_connections"   // dials started by the peer transport
	TLSHandshakes        MetricName = "tls_handshakes"         // handshakes the server side finished
	TLSHandshakeTimeouts MetricName = "tls_handshake_timeouts" // dials that ran out of TLSHandshakeTimeout
	DialErrors           MetricName = "dial_errors"            // dials that failed (no port, partition)
	ClientStreamErrors   MetricName = "client_stream_errors"   // keepalive streams broken by a failed LeaseRenew
	ShedRequests         MetricName = "shed_requests"          // requests refused by a bounded leader queue
	KeysLost             MetricName = "keys_lost"              // keys deleted with revoked leases
	ProberConnections    MetricName = "prober_connections"     // rafthttp prober connections
	// LeaderChanges: elections won, scripted or emerging from the raft
	// (recorded with cluster.raft only, so runs without it keep their series).
	LeaderChanges MetricName = "leader_changes"
	// RaftDemoteTime: seconds the members' raft goroutines spent in lessor
	// Demote, which etcd runs there on every soft-state change of a member
	// that does not lead (with cluster.raft only), in the bucket it began.
	RaftDemoteTime MetricName = "raft_demote_s"
	// ReadIndexRounds: the ReadIndex rounds the leader ran to confirm its
	// leadership for renewals (releases whose LeaseRenew does, etcd #18069;
	// recorded only for them). Fewer rounds than direct renewals: batched.
	ReadIndexRounds MetricName = "read_index_rounds"
	// DeposedRenewals: renewals a deposed leader's stale lessor acknowledged
	// while its raft loop was blocked (etcd #15247, releases without the
	// leadership check; with cluster.raft only). The cluster never saw them.
	DeposedRenewals MetricName = "deposed_renewals"
	// LeaseGrants: leases the clients granted (Tracks.Leases: runs whose
	// clients restart or call KeepAliveOnce; other runs keep their series).
	LeaseGrants MetricName = "lease_grants"
	// ClientRevokes: leases their clients revoked (a graceful restart's
	// Session.Close; Tracks.Leases).
	ClientRevokes MetricName = "client_revokes"
)

// Gauges: sampled at the end of each bucket.
const (
	LeaderQueueRequests   MetricName = "leader_queue_requests"           // requests queued at the leader (CPU and stream buffers) or held until their expired lease is revoked
	LeaderQueueBytes      MetricName = "leader_queue_bytes"              // memory they and the peer connections hold
	PeerEstablished       MetricName = "peer_established"                // ESTABLISHED peer connections, rafthttp's included
	TimeWaitLeader        MetricName = "time_wait_leader"                // TIME-WAIT sockets on the leader's side
	TimeWaitFollowers     MetricName = "time_wait_followers"             // TIME-WAIT sockets on the followers' side
	CloseWaitLeader       MetricName = "close_wait_leader"               // CLOSE-WAIT sockets on the leader's side
	PeerIdleConnections   MetricName = "peer_idle_connections"           // pooled idle connections
	PeerBusyConnections   MetricName = "peer_busy_connections"           // connections carrying a forward
	ForwardsWaitingOnConn MetricName = "forwards_waiting_for_connection" // forwards waiting for a connection
	RevokesPending        MetricName = "revokes_pending"                 // expired leases not yet revoked: left for later by the revoke limit, or proposed and not yet applied
	RevokeLagMax          MetricName = "revoke_lag_max_s"                // the longest a revoked lease's keys outlived it, among the bucket's revocations
	PromoteTime           MetricName = "promote_s"                       // CPU time of a new leader's lessor Promote, in the bucket of the election
	LeaderMember          MetricName = "leader_member"                   // the member that leads, -1 during an election (with cluster.raft only)
	LeaderCPUUtilisation  MetricName = "leader_cpu_utilisation"          // CPU utilisation of the member leading at the bucket's end (0 during an election; with cluster.raft only)
	// RevokeStallMax: the longest apply stall an event lease's revocation
	// began in the bucket, in seconds (clients.kind event-writer only:
	// model.EventWriters; other runs keep their series).
	RevokeStallMax MetricName = "revoke_stall_max_s"
	// LeasesLive: leases granted and not yet revoked, every client
	// incarnation's (Tracks.Leases).
	LeasesLive MetricName = "leases_live"
)

// CPUUtilisation is member m's CPU utilisation (0-1 of its cores, idle work included).
func CPUUtilisation(m int) MetricName { return MetricName(fmt.Sprintf("cpu_utilisation.m%d", m)) }

// KeepalivesReceived counts the keepalive requests member m's streams received.
func KeepalivesReceived(m int) MetricName {
	return MetricName(fmt.Sprintf("keepalives_received.m%d", m))
}
