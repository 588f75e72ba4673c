package spec

import (
	"time"

	"github.com/leasesim/leasesim/model"
)

// Costs are the CPU costs of the operations the cluster model charges, and the
// memory held by queued work. Every default cites where it comes from; a
// calibration (issue "calibrate against a real cluster") is meant to replace
// the estimates, through a parameter file (params.go) that a scenario names.
type Costs struct {
	// DirectRenewal: leader CPU for a keepalive from a client connected to the
	// leader (gRPC receive + LeaseRenew + send). Measured on a real 3-member
	// etcd 3.7.3 cluster, 500 clients, 2-core VM: ~96 µs per direct renewal above
	// an idle 2.6 % of a core (reference figures in the calibration issue).
	DirectRenewal time.Duration
	// FollowerRenewal: follower CPU for a forwarded keepalive (gRPC in and out,
	// and the HTTP/1.1 client side of leasehttp.RenewHTTP). The same measurement
	// gives ~261 µs of server CPU per forwarded renewal in all; leasesim splits it
	// as LeaderForwarded = DirectRenewal (the leader parses one request, renews,
	// answers, as for a direct one) and the rest, 165 µs, on the follower.
	// Estimate until calibrated per member.
	FollowerRenewal time.Duration
	// LeaderForwarded: leader CPU for a forwarded renewal (HTTP/1.1 server,
	// leasehttp handler, lessor.Renew). See FollowerRenewal.
	LeaderForwarded time.Duration
	// TLS handshake CPU, server (leader) and client (follower) side, full and
	// resumed, for the scenario's key type. Defaults measured by
	// netsim/tlscost_bench_test.go (see DefaultTLSCosts).
	TLSServerFull, TLSClientFull       time.Duration
	TLSServerResumed, TLSClientResumed time.Duration
	// TCPAccept: leader CPU to accept a connection and start its server
	// goroutine. Estimate (a few µs of syscalls and a goroutine).
	TCPAccept time.Duration
	// ProberConnection: the members' CPU for one of rafthttp's prober
	// connections, both ends (netsim.Costs.ProberConnection); 0, the
	// default: its accept and handshakes alone. A parameter file measured
	// with the prober sets it (storm-2core: calibrate's
	// prober-phase measurement, TestProberBurstParams).
	ProberConnection time.Duration
	// QueuedRequestBytes: memory held by one request waiting in a gRPC stream's
	// receive buffer (recvBuffer.put in the report's heap profile: a recvMsg and
	// its data). Estimate.
	QueuedRequestBytes int
	// PeerConnBytes: memory held by one peer connection on the leader (net/http
	// server conn with 4 KiB bufio reader and writer, a goroutine stack, crypto/tls
	// record buffers). Estimate.
	PeerConnBytes int
	// IdleCores: CPU each member burns with no client load at all (raft
	// heartbeats every 100 ms, rafthttp's prober, metrics, the Go runtime), in
	// cores, all the time. It takes capacity (a member serves requests with
	// Cores - IdleCores) and counts in cpu_utilisation.mN. The same measurement
	// as DirectRenewal saw an idle 2.6 % of a core for the whole 3-member
	// in-process cluster on the 2-core VM: 0.026 / 3 = ~0.0087 cores per member
	// (reference figures in the calibration issue).
	IdleCores float64
}

// TLSCosts is one row of measured handshake costs.
type TLSCosts struct {
	ServerFull, ClientFull, ServerResumed, ClientResumed time.Duration
}

// DefaultTLSCosts are CPU per mutual-TLS handshake measured by
// netsim/tlscost_bench_test.go on this project's machines (2-vCPU AMD EPYC KVM
// guest, Go 1.26; medians of 5 runs), TLS 1.2 as the 2018 clusters negotiated
// (Go 1.9 had no TLS 1.3), including etcd's re-read of its certificate and key
// files on every handshake (+134 µs server, +136 µs client for RSA-2048; +30 µs
// for ECDSA P-256):
//
//	RSA-2048   full: server 821+134 µs, client 821+136 µs; resumed 28 / 25 µs
//	ECDSA-P256 full: server 196+30 µs,  client 193+30 µs;  resumed 22 / 21 µs
//
// (TLS 1.3 full RSA costs 867 / 911 µs before the re-read; see the benchmark.)
var DefaultTLSCosts = map[string]TLSCosts{
	"rsa": {
		ServerFull: 955 * time.Microsecond, ClientFull: 957 * time.Microsecond,
		ServerResumed: 28 * time.Microsecond, ClientResumed: 25 * time.Microsecond,
	},
	"ecdsa": {
		ServerFull: 226 * time.Microsecond, ClientFull: 223 * time.Microsecond,
		ServerResumed: 22 * time.Microsecond, ClientResumed: 21 * time.Microsecond,
	},
	"off": {},
}

// DefaultCosts returns the default costs for a TLS mode ("rsa", "ecdsa", "off").
func DefaultCosts(tls string) Costs {
	t := DefaultTLSCosts[tls]
	return Costs{
		DirectRenewal:      96 * time.Microsecond,
		FollowerRenewal:    165 * time.Microsecond,
		LeaderForwarded:    96 * time.Microsecond,
		TLSServerFull:      t.ServerFull,
		TLSClientFull:      t.ClientFull,
		TLSServerResumed:   t.ServerResumed,
		TLSClientResumed:   t.ClientResumed,
		TCPAccept:          10 * time.Microsecond,
		QueuedRequestBytes: 256,
		PeerConnBytes:      48 << 10,
		IdleCores:          0.0087,
	}
}

// ProberStartSkews are the start skews of leasesim calibrate's members
// (ClusterSpec.ProberPhase "skewed"): how far apart in time the three
// members of one cluster start their probers, so how wide each 4 s burst
// of probe connections is. Measured by calibrate.TestMeasureProberPhase on
// this project's 2-vCPU machine (calibrate/testdata/prober-phase-3.7.3.json,
// five cluster starts: per start, the median width of its bursts of six
// opens), replayed by calibrate.TestProberBurstParams.
var ProberStartSkews = []time.Duration{41342 * time.Microsecond, 25665 * time.Microsecond, 36750 * time.Microsecond, 65030 * time.Microsecond, 5642 * time.Microsecond}

// DefaultConnectDelay: time from KeepAlive to its stream's first scan; see
// clientmodel.Config.ConnectDelay. Order of a gRPC stream open on an
// established connection.
const DefaultConnectDelay = 100 * time.Microsecond

// DefaultGC is the GC model's parameters (model.GCConfig) when a scenario
// turns it on (cluster.gc), per member (Procs: the CPU's cores, set by
// Cluster.CPU). Measured by calibrate.TestMeasureGC on this project's 2-vCPU
// machine with Go 1.26 and etcd 3.7.3, saved in
// calibrate/testdata/gc-go-etcd-3.7.3.json and replayed by
// calibrate.TestGCDefaultsReplayMeasurement:
//   - GOGC: 100, the runtime's default (etcd sets none).
//   - ScanRate: live heap marked per core-second, the median over forced
//     cycles of 64 MiB, 256 MiB and 1 GiB heaps of request-like objects
//     (256 B with 4 pointers in the first 32: the marker skips the
//     pointer-free rest, as it does a request's byte buffers; a heap of
//     pointer-dense objects marks slower).
//   - STW: a cycle's stop-the-world pauses, the largest median of those.
//   - BaseHeap: a third of a 3-member in-process cluster's live heap with no
//     load (no leases, an empty keyspace).
//   - AllocPerRequest: half the heap allocated per forwarded renewal through
//     a real follower and leader (with the in-process client's share: an
//     upper bound), since the model runs a forwarded renewal as two jobs, the
//     follower's and the leader's; every job a member's CPU runs (renewals,
//     handshakes) allocates it (a direct renewal allocates 1,813 B: less).
var DefaultGC = model.GCConfig{
	GOGC:            100,
	ScanRate:        4.62e9,                 // B/s per core: 4.91e9 at 64 MiB, 3.65e9 at 256 MiB, 4.62e9 at 1 GiB
	STW:             991 * time.Microsecond, // 432 us, 366 us, 991 us
	BaseHeap:        22234264 / 3,           // 21.2 MiB for 3 members
	AllocPerRequest: 11820 / 2,              // a forwarded renewal's 11,820 B over its two jobs
}

// DefaultServiceSpread is the sigma of the lognormal (mean 1) that scales
// each job's CPU cost when a scenario turns service-time variance on
// (cluster.service_spread: true): a forwarded renewal's round trip through a
// real 3.7.3 follower and leader, one at a time with nothing queued, has
// this spread (ln(p99/p50)/z(0.99)), measured by
// calibrate.TestMeasureServiceSpread on this project's 2-vCPU machine, saved
// in calibrate/testdata/service-spread-3.7.3.json and replayed by
// calibrate.TestServiceSpreadReplaysMeasurement. The round trip includes
// the client's side and goroutine wake-ups as well as CPU: the measurement
// cannot tell them apart, so it stands for the spread of the service time.
const DefaultServiceSpread = 0.7097 // p50 96 us, p99 500 us; a direct renewal: 0.80 (30 us, 196 us)
