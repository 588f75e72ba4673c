package spec

import (
	"time"

	"github.com/leasesim/leasesim/clientmodel"
	"github.com/leasesim/leasesim/model"
)

// Limits on what a scenario may ask for, so a typo cannot eat the machine.
const (
	MaxClients  = 10_000_000
	MaxDuration = 7 * 24 * time.Hour
	// StartResolution is the grain of client start times: clients that start in
	// the same millisecond are simulated as one lockstep cohort.
	StartResolution = time.Millisecond
)

// Resolved is a validated Spec turned into plain data for the simulator:
// exactly one of Ideal and Cluster is set. Spec.Resolve makes it; package
// scenario runs it.
type Resolved struct {
	Ideal   *Ideal
	Cluster *Cluster
}

// Ideal is a resolved scenario of N clients, one lease each, against one
// idealised server (fixed round-trip time, no capacity limit).
type Ideal struct {
	Clients  int
	TTL      time.Duration // whole seconds, >= 1 s
	Version  clientmodel.Version
	Consumer clientmodel.Consumer // Stall From/To are relative to each client's KeepAlive
	Duration time.Duration
	RTT      time.Duration // client -> server -> client; the server renews at RTT/2
	// ConnectDelay is the time from KeepAlive to its stream's first scan (see
	// clientmodel.Config.ConnectDelay).
	ConnectDelay time.Duration
	ScanOverrun  time.Duration // clientmodel.Config.ScanOverrun
	StartSpread  time.Duration // client start times are uniform over [0, StartSpread), at StartResolution
	Seed         uint64
	Bucket       time.Duration // metrics bucket; 0 means 1 s
	MaxEvents    uint64        // 0: no limit
	// RenewNum/RenewDen: the renew-fraction what-if (clientmodel.Config).
	RenewNum, RenewDen int64
}

// Cluster is a resolved cluster scenario: clients with one lease each, spread
// over the members of an etcd cluster whose leader has finite CPU, followers
// that forward renewals to the leader over the peer transport, and faults.
// Package scenario wires it (scenario.RunCluster); the run-time hooks that
// are not part of a scenario (a history recorder, test mutants) are
// scenario.Options.
type Cluster struct {
	Name     string
	Seed     uint64
	Duration time.Duration
	Bucket   time.Duration
	// Clients is how many clients the run simulates: with Fast, one per
	// cohort of Cohort clients (Spec.Fidelity), so that it stands for
	// Clients*Cohort clients; Cohort is 1 in the exact mode.
	Clients      int
	Cohort       int
	Fast         bool
	TTL          time.Duration
	Version      clientmodel.Version
	Consumer     clientmodel.Consumer
	StartSpread  time.Duration
	ConnectDelay time.Duration
	ScanOverrun  time.Duration // clientmodel.Config.ScanOverrun
	Placement    string        // round-robin | leader | followers | member:N
	KeysPerLease int
	ClientRTT    time.Duration
	// GrantOnly: the clients grant their leases and never renew them
	// (ClientsSpec.Kind "grant-only").
	GrantOnly bool
	// EventWriter: the clients are kube-apiservers writing events
	// (ClientsSpec.Kind "event-writer"): they hold no lease of their own and
	// never call KeepAlive; EventWriters is their workload.
	EventWriter     bool
	WriteRate       float64 // events per second per client
	LeaseMaxObjects int     // 0: unbounded
	WritePut        bool    // plain Puts, not kube-apiserver's Txns
	// Restart: the restart wave (ClientsSpec.Restart; Fraction 0: none).
	Restart Restart
	// Regrant: agents that grant a new lease when their key vanishes
	// (ClientsSpec.Regrant; Max 0: none).
	Regrant Regrant
	// LeasesPerClient: leases each client process keeps alive on its one
	// lessor (ClientsSpec.LeasesPerClient; at least 1).
	LeasesPerClient int
	// Once: the clients call KeepAliveOnce every Period (clients.kind
	// keepalive-once).
	Once   bool
	Period time.Duration

	Members         int
	Cores           float64
	Leader          int
	PeerRTT         time.Duration
	PeerJitter      time.Duration
	HTTP2           bool
	TLS             string // rsa | ecdsa | off
	TLSResumption   bool
	MaxIdle         int
	LeaderQueue     int // 0: unbounded
	ElectionTimeout time.Duration
	// Etcd is the release whose server-side lease behaviour the members follow.
	Etcd            model.EtcdVersion
	LeaseRevokeRate int  // 0: etcd's
	LeaseCheckpoint bool // the leader checkpoints remaining TTLs (ClusterSpec.LeaseCheckpoint)
	HeldLeases      int  // leases of other applications (ClusterSpec.HeldLeases)
	// FastLeaseKeepAlive: the leader's LeaseRenew does not wait for the
	// applied index (etcd 3.7's feature gate, on by default there).
	FastLeaseKeepAlive bool
	// Raft: heartbeats and elections are simulated (ClusterSpec.Raft), a
	// busy member's raft goroutine waiting for a core as RaftWait says.
	Raft     bool
	RaftWait model.RaftWait
	// Prober: rafthttp's prober dials a connection per probe (it is on, the
	// peers use TLS, and the release has the stream prober:
	// model.EtcdVersion.ProbesOverNewConnections); ProberPhase: when each
	// member's prober ticks, ProberRandom, ProberTogether or ProberSkewed
	// (ClusterSpec.ProberPhase, "" read as ProberRandom).
	Prober      bool
	ProberPhase string
	// PlatformStalls: the measured stall process ClusterSpec.PlatformStalls
	// names; nil: none.
	PlatformStalls *PlatformStalls
	SharedCPU      bool // all members on one machine's Cores (ClusterSpec.SharedCPU)
	// Background: other processes' CPU on the members' machine(s)
	// (HostSpec.BackgroundCores); GC: Go's collector modelled (ClusterSpec.GC).
	Background Background
	// BackgroundThreads and AllBusySpeed: other processes' always-runnable
	// threads and a thread's speed while every core is busy
	// (HostSpec.BackgroundThreads, AllBusySpeed or the parameter file's).
	BackgroundThreads int
	AllBusySpeed      float64
	GC                bool
	GOGC              int // ClusterSpec.GOGC; 0: the runtime's default
	// GCParams: the parameter file's collector (Params.GC), over DefaultGC.
	GCParams ParamsGC
	// GCMeasuredCores: the cores the parameter file's collector ran on
	// (Params.Machine.Cores; 0: not known), to carry its mark's share of
	// them to Cores.
	GCMeasuredCores float64
	// ServiceSpread: each job's cost varies (ClusterSpec.ServiceSpread).
	ServiceSpread bool
	// ProcessorSharing: the CPUs share their cores among the requests in
	// them (ClusterSpec.ProcessorSharing).
	ProcessorSharing bool
	// FollowerAnswerShare: the part of the follower's cost spent reading the
	// leader's answer (ClusterSpec.FollowerAnswerShare).
	FollowerAnswerShare float64
	// TLSCloseTimeWait: closing an established peer connection leaves the
	// closer in TIME-WAIT (plaintext, or ClusterSpec.TLSClose "time-wait");
	// otherwise the close ends in a reset and leaves nothing.
	TLSCloseTimeWait bool
	Costs            Costs
	Faults           []Fault
	MaxEvents        uint64 // 0: no limit
	// RenewNum/RenewDen: the renew-fraction what-if (clientmodel.Config).
	RenewNum, RenewDen int64
}

// Restart is a resolved RestartSpec (see there).
type Restart struct {
	At, Over, Down time.Duration
	Fraction       float64
	Graceful       bool
}

// Regrant is a resolved RegrantSpec (see there).
type Regrant struct {
	Max   int
	Delay time.Duration
}

// FaultKind is what a fault does.
type FaultKind string

// Fault kinds.
const (
	FaultLeaderChange FaultKind = "leader-change"
	FaultLeaderStall  FaultKind = "leader-stall"
	FaultPartition    FaultKind = "partition"
	// FaultApplyStall: the leader's apply loop stalls (a slow transaction, a
	// slow disk under the backend): entries committed meanwhile wait, and so
	// does every renewal that waits for the applied index.
	FaultApplyStall FaultKind = "apply-stall"
	// FaultFsyncStall: the leader's raft loop blocks in the WAL's fdatasync
	// (a slow or stuck disk) while the rest of the process runs: it stops
	// ticking and sending heartbeats, so the others elect a new leader
	// (cluster.raft), but its lessor is demoted only when the fdatasync
	// returns (etcd #15247; model.Member's deposed lessor).
	FaultFsyncStall FaultKind = "fsync-stall"
)

// Fault is a resolved fault.
type Fault struct {
	At       time.Duration
	Kind     FaultKind
	To       int // leader-change: the new leader
	Member   int // partition: the follower cut off
	Duration time.Duration
}
