package spec

import (
	"time"

	"github.com/leasesim/leasesim/model"
)

// Spec is a scenario as users write it (YAML, see spec/builtin/*.yaml) and
// as flags override it (ApplyFlag). Durations are Go duration strings ("10s",
// "1m30s"); sizes are plain numbers. Load parses and validates it; Resolve
// validates it and turns it into plain data (Resolved) that package scenario
// runs.
type Spec struct {
	Name        string      `yaml:"name"`
	Description string      `yaml:"description,omitempty"`
	Seed        uint64      `yaml:"seed"`
	Duration    Duration    `yaml:"duration"`
	Bucket      Duration    `yaml:"bucket,omitempty"` // metrics bucket, default 1s
	Server      string      `yaml:"server"`           // "cluster" (default) or "ideal"
	Clients     ClientsSpec `yaml:"clients"`
	Cluster     ClusterSpec `yaml:"cluster,omitempty"`
	// Host: the machine the members run on, apart from etcd (host.go).
	Host HostSpec `yaml:"host,omitempty"`
	// Params: a cost-parameter file (see Params in params.go) as a built-in
	// name (BuiltinParams, e.g. "reference-2core") or a path; a relative path
	// in a scenario file is relative to that file's directory. Its costs
	// replace the defaults (DefaultCosts), and Costs below replace its values
	// field by field. Empty: the defaults alone.
	Params string      `yaml:"params,omitempty"`
	Costs  CostsSpec   `yaml:"costs,omitempty"`
	Faults []FaultSpec `yaml:"faults,omitempty"`
	Limits LimitsSpec  `yaml:"limits,omitempty"`

	// Fidelity is how a cluster run simulates its clients: "exact" (the
	// default) steps every client, "fast" steps one client per cohort of
	// Cohort clients that are assumed to stay in lockstep (FidelityFast).
	Fidelity string `yaml:"fidelity,omitempty"`
	// Cohort is, with fidelity: fast, how many clients one simulated client
	// stands for; 0: chosen from the client count and the cluster (AutoCohort).
	Cohort int `yaml:"cohort,omitempty"`

	// paramsFile is Params resolved against the scenario file's directory
	// (set by the loaders for a relative path), the file that is read; Params
	// keeps the text as written, which is what the summary shows, so that no
	// output depends on how the scenario's path was typed. "": read Params.
	paramsFile string
}

// paramsRef is the params file to read: Params, resolved against the
// scenario file's directory when a loader read it from a file.
func (s Spec) paramsRef() string {
	if s.paramsFile != "" {
		return s.paramsFile
	}
	return s.Params
}

// ClientsSpec is the client population: one lease each.
type ClientsSpec struct {
	Count       int      `yaml:"count"`
	TTL         Duration `yaml:"ttl"`
	Version     string   `yaml:"version"`  // e.g. v3.2.23
	Consumer    string   `yaml:"consumer"` // drain | never | rate:N | stop-after:K | stall:FROM-TO
	StartSpread Duration `yaml:"start_spread,omitempty"`
	// ConnectDelay: time from KeepAlive to its stream's first scan. Left out
	// (nil): DefaultConnectDelay, 100us; "connect_delay: 0s" asks for 0.
	ConnectDelay *Duration `yaml:"connect_delay,omitempty"`
	// Placement: "round-robin" (default) over all members, "leader", "followers",
	// or "member:N" (all on member N).
	Placement    string `yaml:"placement,omitempty"`
	KeysPerLease int    `yaml:"keys_per_lease,omitempty"` // default 1
	// Kind is what each client does with its lease: "keepalive" (the
	// default, also written "") grants it and keeps it alive with KeepAlive;
	// "grant-only" grants it, attaches its keys and never renews it, as a
	// lease for Kubernetes events or for one write does (server: cluster);
	// "event-writer" is a kube-apiserver writing WriteRate events a second,
	// each with a lease its lease manager reuses for 60 s or LeaseMaxObjects
	// keys (model.EventWriters; server: cluster), clients.ttl the events' TTL.
	Kind string `yaml:"kind,omitempty"`
	// WriteRate (event-writer only): events each client writes per second.
	WriteRate float64 `yaml:"write_rate,omitempty"`
	// LeaseMaxObjects (event-writer only): kube-apiserver's
	// --lease-max-object-count (PR #98257, default 1,000 since): a new lease
	// once one holds this many keys; 0 (the default here): unbounded, as
	// before that PR.
	LeaseMaxObjects int `yaml:"lease_max_objects,omitempty"`
	// WriteOp (event-writer only): how each event is written: "txn" (the
	// default, also written "": kube-apiserver's Create and GuaranteedUpdate)
	// or "put" (a plain Put with the lease, which walks the lease's keys on
	// releases before etcd 3.4.27/3.5.10: model.EtcdVersion.PutWalksLeaseKeys).
	WriteOp string `yaml:"write_op,omitempty"`
	// RenewAt: when a lease is renewed after a response, as a fraction of its
	// TTL: "1/3" (default: what every clientv3 does, lease.go:542) or e.g.
	// "2/3" (a what-if: no released client does it).
	RenewAt string `yaml:"renew_at,omitempty"`
	// ScanOverrun: how late each of the client's 500 ms scans fires after the
	// previous one on a real machine (clientmodel.Config.ScanOverrun); 0 (the
	// default) is the exact grid. A params file measured by leasesim calibrate
	// supplies it when the scenario does not.
	ScanOverrun Duration `yaml:"scan_overrun,omitempty"`
	// RTT between a client and its member. Left out (nil): DefaultClientRTT,
	// 1ms; "rtt: 0s" asks for 0.
	RTT *Duration `yaml:"rtt,omitempty"`
	// Restart: a wave of the client processes exiting and starting again
	// (RestartSpec; server: cluster, clients.kind keepalive). Left out: none.
	Restart RestartSpec `yaml:"restart,omitempty"`
	// Regrant: agents that grant a new lease when their key vanishes
	// (RegrantSpec; server: cluster, clients.kind keepalive). Left out: they
	// do not.
	Regrant RegrantSpec `yaml:"regrant,omitempty"`
	// LeasesPerClient: leases each client process keeps alive at once, all
	// granted and passed to KeepAlive at its start in lease order, on its
	// one lessor (one stream, one 500 ms scan: clientmodel.Process).
	// server: cluster, clients.kind keepalive, no restart or regrant. Left
	// out (0) or 1: one lease per process.
	LeasesPerClient int `yaml:"leases_per_client,omitempty"`
	// Period (keepalive-once only): the application's sleep between one
	// KeepAliveOnce's answer and the next call. Left out: TTL/3.
	Period Duration `yaml:"period,omitempty"`
}

// RestartSpec is a wave of client restarts (a deploy, a node drain, a crash
// loop): a seeded choice of Fraction of the clients (the stream "restarts")
// exit at instants uniform over [At, At+Over) and start again Down later.
// A process that exits closes its connection: its member sees the keepalive
// stream end, and requests in flight are lost. Its lease is not revoked: it
// expires TTL after its last renewal and its keys go with its revocation
// (the revoke limit), unless Graceful: the process revokes it on the way out,
// as concurrency.Session.Close does (client/v3@v3.7.3 concurrency/
// session.go:107-115). The new process dials its member again
// (clients.connect_delay), grants a new lease and calls KeepAlive on it.
type RestartSpec struct {
	At       Duration `yaml:"at"`
	Over     Duration `yaml:"over,omitempty"`
	Fraction float64  `yaml:"fraction"`
	Down     Duration `yaml:"down,omitempty"`
	Graceful bool     `yaml:"graceful,omitempty"`
}

// RegrantSpec is agents that re-register when their key vanishes: an agent
// that watches its own key (or polls it) sees it deleted when its lease is
// revoked, waits Delay (its own back-off; the watch event's one-way
// delivery comes on top), grants a new lease, puts its key and keeps the
// new lease alive, at most Max times in the run. Each new lease is kept
// alive by a new lessor on a new stream to the same member (a new client
// process in the model: an approximation, see spec.Cluster.Processes).
type RegrantSpec struct {
	Max   int      `yaml:"max"`
	Delay Duration `yaml:"delay,omitempty"`
}

// Client kinds (ClientsSpec.Kind).
const (
	ClientKeepAlive   = "keepalive"
	ClientGrantOnly   = "grant-only"
	ClientEventWriter = "event-writer"
	// ClientKeepAliveOnce: the application calls KeepAliveOnce, waits for
	// the answer, sleeps clients.period, and again (package onceclient).
	ClientKeepAliveOnce = "keepalive-once"
	// Event-writer write ops (ClientsSpec.WriteOp).
	WriteTxn = "txn"
	WritePut = "put"
)

// etcd is the release EtcdVersion names ("": model.DefaultEtcdVersion).
func (k ClusterSpec) etcd() (model.EtcdVersion, error) {
	if k.EtcdVersion == "" {
		return model.DefaultEtcdVersion, nil
	}
	return model.ParseEtcdVersion(k.EtcdVersion)
}

// ClusterSpec is the etcd cluster.
type ClusterSpec struct {
	Members int     `yaml:"members"`          // 1 to 15
	Cores   float64 `yaml:"cores"`            // per member
	Leader  int     `yaml:"leader,omitempty"` // initial leader, 0-based
	// PeerRTT: member <-> member round trip. Left out (nil): DefaultPeerRTT,
	// 500us; "peer_rtt: 0s" asks for 0.
	PeerRTT *Duration `yaml:"peer_rtt,omitempty"`
	// PeerJitter: each one-way peer message takes PeerRTT/2 plus uniform [0, PeerJitter).
	PeerJitter Duration `yaml:"peer_jitter,omitempty"`
	// Transport: "http1" (etcd's peer round tripper, default) or "http2" (one
	// multiplexed connection per member pair: the what-if).
	Transport string `yaml:"transport,omitempty"`
	// TLS: "rsa" (default; RSA-2048 mutual TLS), "ecdsa" (P-256), or "off".
	TLS string `yaml:"tls,omitempty"`
	// TLSClose: how a peer connection whose TLS handshake completed ends when
	// either side closes it. "reset" (default): both ends send a close_notify
	// alert on Close, the second one reaches a socket already closed, the
	// kernel answers with RST and neither end enters TIME-WAIT (measured with
	// etcd 3.7.3's peer transport and Go 1.26: calibrate/tlsclose_test.go;
	// always when the leader closes, 70-100 % of the time when the follower
	// does, where the leader's alert sometimes loses a race and the follower
	// keeps TIME-WAIT; the model counts none).
	// "time-wait": the side that closes first keeps the socket in TIME-WAIT
	// for 60 s, as the 2018 report's leader showed (52,000-54,000 from each
	// member; etcd 3.2.23, Go 1.9.1). Closes before the handshake completes
	// (handshake timeouts) and plaintext peers always leave TIME-WAIT.
	TLSClose string `yaml:"tls_close,omitempty"`
	// TLSResumption: handshakes after the first per pair are resumed (etcd sets
	// no session cache, so by default they are all full).
	TLSResumption       bool     `yaml:"tls_resumption,omitempty"`
	MaxIdleConnsPerHost int      `yaml:"max_idle_conns_per_host,omitempty"` // default 1024
	LeaderQueueLimit    int      `yaml:"leader_queue_limit,omitempty"`      // 0: unbounded (etcd)
	ElectionTimeout     Duration `yaml:"election_timeout,omitempty"`        // default 1s
	Prober              *bool    `yaml:"prober,omitempty"`                  // raft prober connections, default on
	// ProberPhase: when each member's rafthttp prober ticks (every 4 s, all
	// of a member's peers at once; see netsim.Network.StartProber): "random"
	// (also written ""; members started at unrelated times, each member's
	// phase a seeded draw from stream "prober-phase"), "together" (members
	// started at one instant: every probe of the cluster in one burst every
	// 4 s) or "skewed" (members started together as leasesim calibrate
	// starts them, in one process: the members' phases spread evenly over a
	// start skew drawn from stream "prober-phase" among the ones measured,
	// ProberStartSkews, so each burst is as wide as a real one).
	ProberPhase string `yaml:"prober_phase,omitempty"`
	// PlatformStalls: stalls of the members' one process (spec/stalls.go;
	// with SharedCPU): "none" (also written "", the default) or a measured
	// stall process, "loopback-quiet" (the storm set's quiet host) or
	// "loopback-busy" (with one core busy).
	PlatformStalls string `yaml:"platform_stalls,omitempty"`
	// SharedCPU: every member runs on one machine's cores (Cores in all), as
	// in an in-process or single-host test cluster (leasesim calibrate's);
	// the cpu_utilisation.mN series then all show that machine.
	SharedCPU bool `yaml:"shared_cpu,omitempty"`
	// EtcdVersion: the etcd release whose server-side lease behaviour the
	// members follow, "3.N.M" from 3.2.0 (the default, also written "", is
	// DefaultEtcdVersion, 3.7.3). What differs by release is listed at
	// model.LessorConfigFor.
	EtcdVersion string `yaml:"etcd_version,omitempty"`
	// LeaseRevokeRate: the leader revokes at most this many expired leases
	// per second (0: etcd's 1,000, lease/lessor.go:46). No etcd release lets
	// an operator change it: another value is a what-if (a patched server).
	LeaseRevokeRate int `yaml:"lease_revoke_rate,omitempty"`
	// LeaseCheckpoint: the leader checkpoints each lease's remaining TTL
	// every 5 minutes, so that a new leader does not give it a full TTL
	// again (--experimental-enable-lease-checkpoint, etcd 3.4+; the
	// LeaseCheckpoint feature gate from 3.6). Off by default, as in etcd.
	LeaseCheckpoint bool `yaml:"lease_checkpoint,omitempty"`
	// HeldLeases: leases other applications hold in the cluster, granted
	// before the run and never renewed nor expiring within it: they are not
	// simulated as clients, but every member's lessor holds them, so they
	// weigh on what walks the lease map (Promote on a new leader, Demote in
	// each member's raft goroutine on every change of its raft state).
	HeldLeases int `yaml:"held_leases,omitempty"`
	// FastLeaseKeepAlive: etcd 3.7's feature gate (on by default): the
	// leader's LeaseRenew for its own clients does not wait for the applied
	// index. Left out: the release's default. Only for etcd 3.7+.
	FastLeaseKeepAlive *bool `yaml:"fast_lease_keepalive,omitempty"`
	// Raft: simulate raft's heartbeats and elections (model.Raft): the
	// leader heartbeats every 100 ms, a follower that hears nothing for its
	// randomized election timeout campaigns (with PreVote from etcd 3.5), a
	// leader without a quorum steps down (CheckQuorum), so a leader whose
	// process stalls long enough loses leadership. Off (the default): the
	// leader changes only by scripted leader-change faults, which work
	// either way.
	Raft bool `yaml:"raft,omitempty"`
	// RaftWait (with Raft): how long a busy member's raft goroutine waits for
	// a core (model.Raft.SchedDelay). "preempt" (default, also written ""):
	// at most Go's 10 ms preemption slice, as a goroutine woken into its P's
	// runnext slot; "backlog": the member's whole CPU backlog, as a request
	// would (the pessimistic bound); "measured": the backlog for a message's
	// arrival (the netpoller wakes the reader), the slice for ticks and sends,
	// as Go's scheduler was measured to behave (calibrate sched-delay-go.json).
	RaftWait string `yaml:"raft_wait,omitempty"`
	// GC: model Go's garbage collector in each member's process (one process
	// for all members with shared_cpu, as an in-process cluster): a cycle
	// starts when the heap (a base heap, plus what queued requests and open
	// connections hold, plus what requests allocate) reaches the pacer's
	// trigger, and its marking and pauses take CPU from requests (model.GC;
	// parameters measured: spec.DefaultGC). Off by default: the CPU costs
	// were measured with the collector running, so it is in them on average;
	// on, a member's GC work grows with its heap, and stalls it in cycles.
	GC bool `yaml:"gc,omitempty"`
	// GOGC: the members' GOGC with cluster.gc (the heap grows by this
	// percent of the marked heap between cycles): 0 or left out, the
	// runtime's default of 100 (etcd sets none); 400 collects about a
	// quarter as often, each cycle marking the same live heap. The storm
	// set's members measured at 400 (calibrate/testdata/storm-hiccups-gogc400-3.7.3.json).
	GOGC int `yaml:"gogc,omitempty"`
	// ServiceSpread: each job's CPU cost (a renewal, a handshake) is scaled
	// by a lognormal draw of mean 1 and the measured spread
	// (DefaultServiceSpread) from the seeded stream "service-time" (a child
	// per member without shared_cpu): the same mean cost, with the tail a
	// real member's renewals show. Off by default.
	ServiceSpread bool `yaml:"service_spread,omitempty"`
	// ProcessorSharing: each member's CPU serves every request in it at
	// once, each at an equal share of the cores (at most one core each), as
	// Go's scheduler interleaves the short bursts of work a request is made
	// of (model/share.go), instead of one FIFO queue. Off by default.
	ProcessorSharing bool `yaml:"processor_sharing,omitempty"`
	// FollowerAnswerShare: the part (0 to 1) of a follower's CPU for a
	// forwarded keepalive (costs.follower_renewal) that reads the leader's
	// answer. It runs when the answer arrives, behind whatever the
	// follower's CPU has queued, and the pooled connection returns to the
	// pool only after it: leasehttp's RenewHTTP reads the body to EOF (etcd
	// v3.7.3 lease/leasehttp/http.go:192-196, 288-299), and only then does
	// the transport's readLoop, itself woken by the network, put the
	// connection back (Go 1.26 net/http/transport.go:2409-2456,
	// tryPutIdleConn). 0, the default: all of it before the forward, and the
	// connection returns as the answer arrives. How the follower's work
	// splits is not measured; the storm onset hardly depends on it (README,
	// member stalls).
	FollowerAnswerShare float64 `yaml:"follower_answer_share,omitempty"`
}

// CostsSpec overrides CPU costs (defaults in costs.go, each with its source),
// in a scenario's costs section and in a parameter file's. A field left out
// (zero; nil for IdleCores) keeps the value beneath it: the parameter file's,
// else the default.
type CostsSpec struct {
	DirectRenewal      Duration `yaml:"direct_renewal,omitempty"`
	FollowerRenewal    Duration `yaml:"follower_renewal,omitempty"`
	LeaderForwarded    Duration `yaml:"leader_forwarded_renewal,omitempty"`
	TLSServerFull      Duration `yaml:"tls_server_full,omitempty"`
	TLSClientFull      Duration `yaml:"tls_client_full,omitempty"`
	TLSServerResumed   Duration `yaml:"tls_server_resumed,omitempty"`
	TLSClientResumed   Duration `yaml:"tls_client_resumed,omitempty"`
	TCPAccept          Duration `yaml:"tcp_accept,omitempty"`
	ProberConnection   Duration `yaml:"prober_connection,omitempty"` // Costs.ProberConnection
	QueuedRequestBytes int      `yaml:"queued_request_bytes,omitempty"`
	// TLSFactor scales the measured TLS handshake costs of every key type (e.g.
	// for an older Go whose crypto was slower); 0 means 1. Explicit tls_* costs
	// above are not scaled.
	TLSFactor     float64 `yaml:"tls_factor,omitempty"`
	PeerConnBytes int     `yaml:"peer_conn_bytes,omitempty"`
	// IdleCores: CPU each member burns with no load, in cores (Costs.IdleCores;
	// default 0.0087). A pointer, so that 0 can be asked for: left out (nil)
	// keeps the value beneath, "idle_cores: 0" turns idle CPU off. In Go:
	// IdleCores: new(0.01).
	IdleCores *float64 `yaml:"idle_cores,omitempty"`
}

// FaultSpec is something that happens at a time.
type FaultSpec struct {
	At   Duration  `yaml:"at"`
	Kind FaultKind `yaml:"kind"` // leader-change | leader-stall | apply-stall | partition | fsync-stall
	// To: the new leader (leader-change).
	To int `yaml:"to,omitempty"`
	// Member: the follower cut off from every other member (partition). Its
	// clients keep talking to it; its forwards to the leader are lost. With
	// cluster.raft it may be the leader: its followers elect another.
	Member int `yaml:"member,omitempty"`
	// Duration: the election (leader-change: no leader for this long), the
	// stall (leader-stall: the leader's CPU does nothing for this long;
	// apply-stall: its apply loop; fsync-stall: its raft loop, blocked in
	// the WAL's fdatasync) or the partition.
	Duration Duration `yaml:"duration,omitempty"`
}

// LimitsSpec bounds a run.
type LimitsSpec struct {
	// MaxEvents: a run stops with an error after this many kernel events.
	// Left out (nil): DefaultMaxEvents, 2,000,000,000; "max_events: 0" is
	// no limit.
	MaxEvents *uint64 `yaml:"max_events,omitempty"`
}

// Duration is a time.Duration that YAML reads as "10s".
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// raftWait parses cluster.raft_wait ("" is the default, preempt).
func (k ClusterSpec) raftWait() (model.RaftWait, error) {
	if k.RaftWait == "" {
		return model.WaitPreempt, nil
	}
	return model.ParseRaftWait(k.RaftWait)
}
