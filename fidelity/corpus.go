package fidelity

import (
	"fmt"
	"time"

	"github.com/leasesim/leasesim/spec"
)

// The clients of the corpus: the 2018 incident's buggy client (clientv3
// v3.2.23 never reading its KeepAlive channel: after 16 responses it renews
// every lease on every 500 ms scan) and the fixed one (v3.7.3, draining).
const (
	buggyVersion, buggyConsumer = "v3.2.23", "never"
	fixedVersion, fixedConsumer = "v3.7.3", "drain"
)

// scenario is a corpus entry under construction: a spec.Spec with the
// corpus's defaults, changed by option functions.
type option func(*spec.Spec)

// base is a cluster scenario with the corpus's defaults: seed 1, clients
// round-robin over a 3-member etcd 3.7.3 cluster with 4 cores per member,
// HTTP/1.1 peers with RSA mutual TLS, the clients' starts spread over 10 s.
func base(name string, clients int, ttl, dur time.Duration, opts ...option) spec.Spec {
	s := spec.Spec{
		Name:     name,
		Seed:     1,
		Duration: spec.Duration(dur),
		Server:   spec.ServerCluster,
		Clients: spec.ClientsSpec{
			Count:       clients,
			TTL:         spec.Duration(ttl),
			Version:     fixedVersion,
			Consumer:    fixedConsumer,
			StartSpread: spec.Duration(10 * time.Second),
			Placement:   "round-robin",
		},
		Cluster: spec.ClusterSpec{
			Members:     3,
			Cores:       4,
			EtcdVersion: "3.7.3",
			Transport:   "http1",
			TLS:         "rsa",
		},
	}
	for _, o := range opts {
		o(&s)
	}
	return s
}

// buggy: the incident's client and its cluster as spec/builtin/
// incident-2018.yaml has them: 7 members of etcd 3.2.23, closed peer
// connections left in TIME-WAIT as the report's leader showed, TLS
// handshakes at 1.6 times Go 1.26's cost.
func buggy(s *spec.Spec) {
	s.Clients.Version, s.Clients.Consumer = buggyVersion, buggyConsumer
	s.Cluster.Members = 7
	s.Cluster.EtcdVersion = "3.2.23"
	s.Cluster.TLSClose = "time-wait"
	s.Costs.TLSFactor = 1.6
}

func members(n int) option   { return func(s *spec.Spec) { s.Cluster.Members = n } }
func cores(c float64) option { return func(s *spec.Spec) { s.Cluster.Cores = c } }
func etcd(v string) option   { return func(s *spec.Spec) { s.Cluster.EtcdVersion = v } }
func http2(s *spec.Spec)     { s.Cluster.Transport = "http2" }
func tlsOff(s *spec.Spec)    { s.Cluster.TLS = "off" }
func timeWait(s *spec.Spec)  { s.Cluster.TLSClose = "time-wait" }
func raft(s *spec.Spec)      { s.Cluster.Raft = true }
func gc(s *spec.Spec)        { s.Cluster.GC = true }
func spread(s *spec.Spec)    { s.Cluster.ServiceSpread = true }

// startSpread: the clients start at random over d (the corpus's default 10 s).
func startSpread(d time.Duration) option {
	return func(s *spec.Spec) { s.Clients.StartSpread = spec.Duration(d) }
}

// stormClient: the buggy client alone, on whatever cluster the scenario has.
func stormClient(s *spec.Spec) {
	s.Clients.Version, s.Clients.Consumer = buggyVersion, buggyConsumer
}

func fault(kind spec.FaultKind, at, d time.Duration) option {
	return func(s *spec.Spec) {
		s.Faults = append(s.Faults, spec.FaultSpec{At: spec.Duration(at), Kind: kind, Duration: spec.Duration(d)})
	}
}

func leaderChange(at, d time.Duration, to int) option {
	return func(s *spec.Spec) {
		s.Faults = append(s.Faults, spec.FaultSpec{At: spec.Duration(at), Kind: spec.FaultLeaderChange, To: to, Duration: spec.Duration(d)})
	}
}

func partition(at, d time.Duration, member int) option {
	return func(s *spec.Spec) {
		s.Faults = append(s.Faults, spec.FaultSpec{At: spec.Duration(at), Kind: spec.FaultPartition, Member: member, Duration: spec.Duration(d)})
	}
}

const (
	sec    = time.Second
	minute = time.Minute
)

// Corpus is the scenarios the fast mode is measured on: cluster runs in the
// exact mode (Fidelity ""), each of 1-3 virtual minutes, over client counts
// (2,000-40,000), TTLs (5, 10, 30, 60 s), the buggy and the fixed client,
// etcd 3.2.23, 3.5.17 and 3.7.3, HTTP/1.1 and HTTP/2 peers, RSA and no TLS,
// 3, 5 and 7 members, 2-16 cores, the faults (leader stalls, apply stalls,
// leader changes, partitions), and members with GC, service-time spread and
// raft. Storms and calm runs both, and pairs on either side of a threshold
// (cores, clients, stall lengths). The list and its order are fixed: a name
// identifies a scenario across reports.
func Corpus() []spec.Spec {
	c := []spec.Spec{
		// The incident's storm (buggy client, 7 members, etcd 3.2.23, TTL
		// 10 s: renewals every 500 ms from ~55 s) over the client count.
		base("storm-ttl10-c2k-7m-4c", 2000, 10*sec, 3*minute, buggy),
		base("storm-ttl10-c5k-7m-4c", 5000, 10*sec, 3*minute, buggy),
		base("storm-ttl10-c10k-7m-4c", 10000, 10*sec, 3*minute, buggy),
		base("storm-ttl10-c15k-7m-4c", 15000, 10*sec, 3*minute, buggy),
		base("storm-ttl10-c20k-7m-4c", 20000, 10*sec, 3*minute, buggy),
		base("storm-ttl10-c30k-7m-4c", 30000, 10*sec, 3*minute, buggy),
		base("storm-ttl10-c40k-7m-4c", 40000, 10*sec, 3*minute, buggy),
		// The incident as shipped (starts spread over 60 s), and beside it.
		base("storm-ttl10-c20k-7m-4c-start60s", 20000, 10*sec, 3*minute, buggy, startSpread(60*sec)),
		base("storm-ttl10-c25k-7m-4c-start60s", 25000, 10*sec, 3*minute, buggy, startSpread(60*sec)),
		// ... and over the leader's cores at 20,000 clients (the threshold
		// between a leader that holds the load and one that does not).
		base("storm-ttl10-c20k-7m-2c", 20000, 10*sec, 3*minute, buggy, cores(2)),
		base("storm-ttl10-c20k-7m-3c", 20000, 10*sec, 3*minute, buggy, cores(3)),
		base("storm-ttl10-c20k-7m-6c", 20000, 10*sec, 3*minute, buggy, cores(6)),
		base("storm-ttl10-c20k-7m-8c", 20000, 10*sec, 3*minute, buggy, cores(8)),
		base("storm-ttl10-c20k-7m-16c", 20000, 10*sec, 3*minute, buggy, cores(16)),
		// TTL 5 s: the collapse at ~27 s.
		base("storm-ttl5-c2k-7m-4c", 2000, 5*sec, 90*sec, buggy),
		base("storm-ttl5-c5k-7m-4c", 5000, 5*sec, 90*sec, buggy),
		base("storm-ttl5-c10k-7m-4c", 10000, 5*sec, 90*sec, buggy),
		base("storm-ttl5-c15k-7m-4c", 15000, 5*sec, 90*sec, buggy),
		base("storm-ttl5-c20k-7m-4c", 20000, 5*sec, 90*sec, buggy),
		// TTL 30 s: the collapse at ~2m40s; TTL 60 s: none within 3 min.
		base("storm-ttl30-c5k-7m-4c", 5000, 30*sec, 3*minute, buggy),
		base("storm-ttl30-c20k-7m-4c", 20000, 30*sec, 3*minute, buggy),
		base("storm-ttl60-c10k-7m-4c", 10000, 60*sec, 3*minute, buggy),
		base("storm-ttl60-c40k-7m-4c", 40000, 60*sec, 3*minute, buggy),
		// The storm on other peer transports and clusters.
		base("storm-ttl10-c20k-7m-4c-http2", 20000, 10*sec, 3*minute, buggy, http2),
		base("storm-ttl10-c20k-7m-4c-tlsoff", 20000, 10*sec, 3*minute, buggy, tlsOff),
		base("storm-ttl10-c10k-7m-4c-http2-tlsoff", 10000, 10*sec, 3*minute, buggy, http2, tlsOff),
		base("storm-ttl10-c20k-5m-4c", 20000, 10*sec, 3*minute, buggy, members(5)),
		base("storm-ttl10-c10k-3m-4c", 10000, 10*sec, 3*minute, buggy, members(3)),
		base("storm-ttl10-c20k-7m-4c-etcd373", 20000, 10*sec, 3*minute, buggy, etcd("3.7.3")),
		base("storm-ttl10-c20k-3m-8c-etcd373-reset", 20000, 10*sec, 3*minute, stormClient, cores(8)),
		// The fixed client (v3.7.3, draining): calm at every size.
		base("fixed-ttl5-c2k-3m-4c", 2000, 5*sec, 1*minute),
		base("fixed-ttl5-c10k-3m-4c", 10000, 5*sec, 1*minute),
		base("fixed-ttl10-c5k-3m-4c", 5000, 10*sec, 90*sec),
		base("fixed-ttl10-c20k-7m-4c", 20000, 10*sec, 90*sec, members(7)),
		base("fixed-ttl10-c40k-5m-4c", 40000, 10*sec, 90*sec, members(5)),
		base("fixed-ttl30-c10k-5m-4c", 10000, 30*sec, 2*minute, members(5)),
		base("fixed-ttl60-c40k-7m-4c", 40000, 60*sec, 3*minute, members(7)),
		base("fixed-ttl60-c20k-3m-2c", 20000, 60*sec, 3*minute, cores(2)),
		base("fixed-ttl10-c20k-7m-4c-http2", 20000, 10*sec, 90*sec, members(7), http2),
		base("fixed-ttl10-c20k-7m-4c-tlsoff", 20000, 10*sec, 90*sec, members(7), tlsOff, timeWait),
		base("fixed-ttl10-c20k-7m-4c-etcd3223", 20000, 10*sec, 90*sec, buggy, func(s *spec.Spec) {
			s.Clients.Version, s.Clients.Consumer = fixedVersion, fixedConsumer
		}),
		// The grants and first renewals of 30,000-40,000 clients starting
		// within 10 s on 2 cores: the threshold of a start-up overload.
		base("fixed-ttl5-c30k-3m-2c", 30000, 5*sec, 1*minute, cores(2)),
		base("fixed-ttl5-c40k-3m-2c", 40000, 5*sec, 1*minute, cores(2)),
		// Faults on the fixed client, in pairs across the threshold where
		// leases start to expire (TTL 5 s: renewed every ~1.7 s).
		base("fixed-ttl5-c5k-3m-leaderstall2s", 5000, 5*sec, 1*minute, fault(spec.FaultLeaderStall, 30*sec, 2*sec)),
		base("fixed-ttl5-c5k-3m-leaderstall4s", 5000, 5*sec, 1*minute, fault(spec.FaultLeaderStall, 30*sec, 4*sec)),
		base("fixed-ttl5-c5k-3m-leaderstall6s", 5000, 5*sec, 1*minute, fault(spec.FaultLeaderStall, 30*sec, 6*sec)),
		base("fixed-ttl10-c20k-7m-leaderstall8s", 20000, 10*sec, 90*sec, members(7), fault(spec.FaultLeaderStall, 40*sec, 8*sec)),
		base("fixed-ttl5-c5k-3m-applystall3s-etcd3517", 5000, 5*sec, 1*minute, etcd("3.5.17"), fault(spec.FaultApplyStall, 30*sec, 3*sec)),
		base("fixed-ttl5-c5k-3m-applystall8s-etcd3517", 5000, 5*sec, 1*minute, etcd("3.5.17"), fault(spec.FaultApplyStall, 30*sec, 8*sec)),
		base("fixed-ttl5-c5k-3m-applystall8s", 5000, 5*sec, 1*minute, fault(spec.FaultApplyStall, 30*sec, 8*sec)),
		base("fixed-ttl5-c10k-3m-leaderchange2s", 10000, 5*sec, 1*minute, leaderChange(30*sec, 2*sec, 1)),
		base("fixed-ttl5-c10k-3m-leaderchange7s", 10000, 5*sec, 1*minute, leaderChange(30*sec, 7*sec, 1)),
		base("fixed-ttl5-c6k-3m-partition3s", 6000, 5*sec, 1*minute, partition(30*sec, 3*sec, 2)),
		base("fixed-ttl5-c6k-3m-partition10s", 6000, 5*sec, 1*minute, partition(30*sec, 10*sec, 2)),
		base("fixed-ttl10-c20k-5m-partition15s-http2", 20000, 10*sec, 90*sec, members(5), http2, partition(30*sec, 15*sec, 3)),
		// Raft in the loop: a stalled leader is deposed.
		base("fixed-ttl5-c5k-3m-raft-leaderstall3s", 5000, 5*sec, 1*minute, raft, fault(spec.FaultLeaderStall, 20*sec, 3*sec)),
		base("fixed-ttl10-c20k-5m-raft-partitionleader", 20000, 10*sec, 90*sec, members(5), raft, partition(30*sec, 10*sec, 0)),
		// Faults in a storm: a stall on the 8-core leader that holds the
		// load (metastable-trigger), a leader change.
		base("storm-ttl10-c20k-7m-8c-leaderstall2s", 20000, 10*sec, 3*minute, buggy, cores(8), fault(spec.FaultLeaderStall, 80*sec, 2*sec)),
		base("storm-ttl10-c10k-7m-4c-leaderchange3s", 10000, 10*sec, 3*minute, buggy, leaderChange(80*sec, 3*sec, 1)),
		base("storm-ttl5-c5k-7m-4c-partition5s", 5000, 5*sec, 90*sec, buggy, partition(50*sec, 5*sec, 3)),
		// The members' GC, service-time spread and raft (README, member stalls).
		base("storm-ttl10-c20k-7m-4c-gc-spread-raft", 20000, 10*sec, 3*minute, buggy, gc, spread, raft),
		base("storm-ttl10-c20k-7m-16c-gc-spread-raft", 20000, 10*sec, 3*minute, buggy, cores(16), gc, spread, raft),
		base("storm-ttl10-c10k-7m-4c-gc", 10000, 10*sec, 3*minute, buggy, gc),
		base("fixed-ttl10-c20k-7m-4c-gc-spread-raft", 20000, 10*sec, 90*sec, members(7), gc, spread, raft),
		base("fixed-ttl5-c10k-3m-2c-spread", 10000, 5*sec, 1*minute, cores(2), spread),
	}
	seen := map[string]bool{}
	for _, s := range c {
		if seen[s.Name] {
			panic(fmt.Sprintf("fidelity: corpus scenario %q twice", s.Name))
		}
		seen[s.Name] = true
	}
	return c
}

// Fast is s in the fast mode with the cohort chosen from its client count
// (Fidelity "fast", Cohort 0).
func Fast(s spec.Spec) spec.Spec {
	s.Fidelity, s.Cohort = spec.FidelityFast, 0
	s.Faults = append([]spec.FaultSpec(nil), s.Faults...)
	return s
}
