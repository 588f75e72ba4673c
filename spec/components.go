package spec

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/leasesim/leasesim/clientmodel"
	"github.com/leasesim/leasesim/model"
	"github.com/leasesim/leasesim/netsim"
	"github.com/leasesim/leasesim/sim"
)

// What a resolved cluster scenario means for each component: the wiring
// (package scenario) builds the components from these and connects them.

// CPU is member m's CPU, or with SharedCPU the one machine every member runs
// on (m is then ignored). Idle is background work: heartbeats, the prober,
// the runtime. Background is other processes' load on that machine (a
// random one drawn from the stream "host-background", a child "mN" per
// member without SharedCPU); GC, with c.GC, the process's collector, whose
// base heap is every member's with SharedCPU (one process); Spread, with
// c.ServiceSpread, the measured service-time spread drawn from the stream
// "service-time" (a child per member without SharedCPU).
func (c Cluster) CPU(m int) model.CPUConfig {
	idle, members := c.Costs.IdleCores, 1.0
	if c.SharedCPU {
		members = float64(c.Members)
		idle *= members
	}
	r := sim.NewRand(c.Seed, "host-background")
	if !c.SharedCPU {
		r = r.Child(fmt.Sprintf("m%d", m))
	}
	cfg := model.CPUConfig{Cores: c.Cores, Idle: idle, Bucket: c.Bucket, Duration: c.Duration,
		Background: c.Background.Steps(c.Duration, r), Sharing: c.ProcessorSharing}
	if c.BackgroundThreads > 0 {
		cfg.Threads, cfg.Speed = float64(c.BackgroundThreads), c.AllBusySpeed
	}
	if c.ServiceSpread {
		cfg.Spread, cfg.Rand = DefaultServiceSpread, sim.NewRand(c.Seed, "service-time")
		cfg.IndependentDraws = c.Cohort > 1 // a fast run's jobs are cohorts of independent requests
		if !c.SharedCPU {
			cfg.Rand = cfg.Rand.Child(fmt.Sprintf("m%d", m))
		}
	}
	if c.GC {
		gc := DefaultGC
		if p := c.GCParams; p != (ParamsGC{}) {
			gc.ScanRate = cmp.Or(p.ScanRate, gc.ScanRate)
			gc.AllocPerHandshake = p.AllocPerHandshake
			gc.BaseHeap = cmp.Or(p.BaseHeap, gc.BaseHeap)
			gc.MarkCores = min(MarkCoresOn(p.MarkCores, c.GCMeasuredCores, c.Cores), c.Cores)
			if p.MarkSpread > 0 {
				gc.MarkSpread, gc.Rand = p.MarkSpread, sim.NewRand(c.Seed, "gc-mark")
				if !c.SharedCPU {
					gc.Rand = gc.Rand.Child(fmt.Sprintf("m%d", m))
				}
			}
		}
		if c.GOGC > 0 {
			gc.GOGC = float64(c.GOGC)
		}
		gc.Procs, gc.BaseHeap = c.Cores, int64(float64(gc.BaseHeap)*members)
		cfg.GC = &gc
	}
	return cfg
}

// Member is member m's configuration.
func (c Cluster) Member(m int, mutant model.Mutant) model.MemberConfig {
	return model.MemberConfig{
		ID: m, Cohort: c.Cohort,
		Costs: model.Costs{DirectRenewal: c.Costs.DirectRenewal, FollowerRenewal: c.Costs.FollowerRenewal - c.followerAnswer(),
			LeaderForwarded: c.Costs.LeaderForwarded, QueuedRequestBytes: c.Costs.QueuedRequestBytes},
		ReqTimeout: model.ReqTimeout(c.ElectionTimeout), LeaderQueue: c.LeaderQueue,
		TTL: c.TTL, Mutant: mutant, ElectionTimeout: c.ElectionTimeout,
		ApplyWaitDirect:        c.Etcd.RenewWaitsForApply() && !c.FastLeaseKeepAlive,
		RevokeChecksLeadership: c.Etcd.RevokeChecksLeadership(),
		RenewReadsIndex:        c.Etcd.RenewReadsIndex(),
		ReadIndexCost:          model.ReadIndexLeaderCost,
		ReadIndexRTT:           c.PeerRTT,
		RevokeCommit:           c.PeerRTT,
	}
}

// Servers builds the cluster's members over one lessor, the leader's (the
// lessor state is the leader's and travels with leadership), each member with
// its own CPU or, with SharedCPU, all on one.
func (c Cluster) Servers(mutant model.Mutant) ([]*model.Member, *model.Lessor) {
	cfg := c.Lessor()
	cfg.Mutant = mutant
	n := c.Leases()
	lessor := model.NewLessor(n+min(c.HeldLeases, 1), cfg)
	if c.HeldLeases > 0 {
		// Other applications' leases: one entry after the clients', granted
		// at 0 with a TTL past the run's end, so it never expires in it.
		lessor.Grant(0, n, c.HeldLeases, c.Duration+time.Hour)
	}
	var members []*model.Member
	var cpu *model.CPU
	for m := 0; m < c.Members; m++ {
		if cpu == nil || !c.SharedCPU {
			cpu = model.NewCPU(c.CPU(m))
		}
		members = append(members, model.NewMember(c.Member(m, mutant), cpu, lessor, c.Leader))
	}
	return members, lessor
}

// EventWriters is the event writers' workload (clients.kind event-writer),
// or nil. Their Puts walk the lease's keys only on releases that do
// (model.EtcdVersion.PutWalksLeaseKeys); kube-apiserver's Txns never do, but
// on 3.4 each copies the backend's read buffer
// (model.EtcdVersion.WriteTxnCopiesReadBuffer).
func (c Cluster) EventWriters() *model.EventWriters {
	if !c.EventWriter {
		return nil
	}
	return model.NewEventWriters(model.EventWritersConfig{Writers: c.Clients, Rate: c.WriteRate, MaxObjects: c.LeaseMaxObjects,
		TTL: c.TTL, Walk: c.WritePut && c.Etcd.PutWalksLeaseKeys(), RevokeRate: c.LeaseRevokeRate,
		RateLimited: c.Etcd.RevokeRateLimited(), CopyReadBuffer: !c.WritePut && c.Etcd.WriteTxnCopiesReadBuffer()})
}

// NewRaft builds the cluster's raft (cluster.raft) over the members' CPUs,
// its election timeouts drawn from the stream "election"; links is the
// stream its messages' link jitter is drawn from (apart from the forwards',
// so that heartbeats do not shift their draws). lessor is the lease map
// every member holds: a member's raft goroutine Demotes it on each change
// of its soft state (model.DemoteCost).
func (c Cluster) NewRaft(members []*model.Member, lessor *model.Lessor) (r *model.Raft, links *sim.Rand) {
	cpus := make([]model.Scheduler, len(members))
	for m, mb := range members {
		cpus[m] = mb.CPU()
	}
	cfg := model.RaftConfigFor(c.Etcd, c.Members, c.Leader, c.ElectionTimeout, c.RaftWait)
	cfg.SharedMachine = c.SharedCPU
	cfg.Leases = lessor
	return model.NewRaft(cfg, cpus, sim.NewRand(c.Seed, "election")), sim.NewRand(c.Seed, "raft-links")
}

// Network is the peer network's configuration.
func (c Cluster) Network() netsim.NetworkConfig {
	return netsim.NetworkConfig{
		Members: c.Members, PeerRTT: c.PeerRTT, PeerJitter: c.PeerJitter, MaxIdle: c.MaxIdle, HTTP2: c.HTTP2,
		TLS: c.TLS != "off", TLSResumption: c.TLSResumption, TLSCloseTimeWait: c.TLSCloseTimeWait,
		DialTimeout: model.PeerDialTimeout(c.ElectionTimeout), Cohort: c.Cohort,
		Costs: netsim.Costs{TLSServerFull: c.Costs.TLSServerFull, TLSClientFull: c.Costs.TLSClientFull,
			TLSServerResumed: c.Costs.TLSServerResumed, TLSClientResumed: c.Costs.TLSClientResumed,
			TCPAccept: c.Costs.TCPAccept, PeerConnBytes: c.Costs.PeerConnBytes, FollowerAnswer: c.followerAnswer(),
			ProberConnection: c.Costs.ProberConnection},
	}
}

// followerAnswer is the follower's CPU to read the leader's answer to a
// forward (FollowerAnswerShare of FollowerRenewal): the network charges it
// when the answer arrives, the member the rest before it forwards.
func (c Cluster) followerAnswer() time.Duration {
	return time.Duration(math.Round(float64(c.Costs.FollowerRenewal) * c.FollowerAnswerShare))
}

// Client is the configuration of a client whose KeepAlive starts at start
// (a stall consumer's window is relative to it).
func (c Cluster) Client(start sim.Time) clientmodel.Config {
	return clientConfig(c.Version, c.Consumer, c.ConnectDelay, c.ScanOverrun, c.RenewNum, c.RenewDen, start)
}

// Client is the configuration of a cohort of clients whose KeepAlive starts
// at start.
func (c Ideal) Client(start sim.Time) clientmodel.Config {
	return clientConfig(c.Version, c.Consumer, c.ConnectDelay, c.ScanOverrun, c.RenewNum, c.RenewDen, start)
}

func clientConfig(v clientmodel.Version, cons clientmodel.Consumer, connect, overrun time.Duration, num, den int64, start sim.Time) clientmodel.Config {
	if cons.Kind == clientmodel.Stall {
		cons.From += start
		cons.To += start
	}
	return clientmodel.Config{Rule: v.Rule, Tie: v.Tie, Consumer: cons, ConnectDelay: connect, ScanOverrun: overrun, RenewNum: num, RenewDen: den}
}

// Lessor is the configuration of the leader's lessor (by etcd release).
func (c Cluster) Lessor() model.LessorConfig {
	return model.LessorConfig{KeysPerLease: c.KeysPerLease, RateLimited: c.Etcd.RevokeRateLimited(),
		RevokeRate: c.LeaseRevokeRate, Checkpointing: c.LeaseCheckpoint,
		PromoteSkipsCheckpoints: !c.Etcd.PromoteSchedulesCheckpoints()}
}

// MemberOf is the member client i connects to (Placement).
func (c Cluster) MemberOf(i int) int {
	switch {
	case c.Placement == "leader":
		return c.Leader
	case c.Placement == "followers":
		if c.Members == 1 {
			return 0
		}
		f := i % (c.Members - 1)
		if f >= c.Leader {
			f++
		}
		return f
	case len(c.Placement) > 7 && c.Placement[:7] == "member:":
		var m int
		fmt.Sscanf(c.Placement[7:], "%d", &m)
		return m
	}
	return i % c.Members
}

// StartTimes draws n client start times, uniform over [0, spread) at
// StartResolution, from the seed's "client-start" stream, sorted (client i is
// the i-th to start); all 0 without a spread.
func StartTimes(seed uint64, n int, spread time.Duration) []sim.Time {
	starts := drawStarts(seed, n, spread, func(r *sim.Rand, _ int, slots int64) int64 { return r.Int64N(slots) })
	slices.Sort(starts)
	return starts
}

// StratifiedStartTimes draws n start times over [0, spread) on the
// StartResolution grain, one in each of n equal strata (stratified
// sampling), in order: a fast run's cohorts (Cluster.Cohort), each standing
// for Cohort clients whose uniform starts would spread over about one
// stratum. Independent draws would let cohorts clump, and a clump of
// cohorts is a burst Cohort times the size of the real fleet's
// (spec.FidelityFast); within a stratum the draw is still uniform.
func StratifiedStartTimes(seed uint64, n int, spread time.Duration) []sim.Time {
	return drawStarts(seed, n, spread, func(r *sim.Rand, i int, slots int64) int64 {
		return int64((float64(i) + r.Float64()) * float64(slots) / float64(n))
	})
}

// drawStarts is n start times on the StartResolution grain, the i-th in
// slot(r, i, slots) of the spread's slots, drawn from the seed's
// "client-start" stream; all 0 without a spread.
func drawStarts(seed uint64, n int, spread time.Duration, slot func(r *sim.Rand, i int, slots int64) int64) []sim.Time {
	starts := make([]sim.Time, n)
	if spread > 0 {
		r := sim.NewRand(seed, "client-start")
		slots := int64(spread / StartResolution)
		for i := range starts {
			starts[i] = sim.Time(slot(r, i, slots)) * sim.Time(StartResolution)
		}
	}
	return starts
}

// Cohort is a group of the idealised server's clients that start at the same
// instant and so stay in lockstep: the server treats every request alike, so
// their inputs, and hence their outputs, are identical.
type Cohort struct {
	Start sim.Time
	N     int   // clients
	First int64 // their lease IDs are First .. First+N-1
}

// Cohorts draws the clients' start times (StartTimes) and groups the clients
// that start together.
func (c Ideal) Cohorts() []Cohort {
	starts := StartTimes(c.Seed, c.Clients, c.StartSpread)
	var out []Cohort
	for i := 0; i < len(starts); {
		j := i
		for j < len(starts) && starts[j] == starts[i] {
			j++
		}
		out = append(out, Cohort{Start: starts[i], N: j - i, First: int64(i + 1)})
		i = j
	}
	return out
}

// RestartAt is one client process's restart (Cluster.Restart): client
// Client exits at At; its next incarnation, client Clients+r for the r-th
// restart, starts at At+Down with a lease of its own.
type RestartAt struct {
	At     sim.Time
	Client int
}

// Restarts draws the restart wave: round(Fraction x Clients) clients,
// chosen by a seeded shuffle, each exiting at an instant uniform over
// [At, At+Over) at StartResolution, both from the stream "restarts"; in time
// order (ties by client). None without a wave.
//
// Why a client index (and so a lease entry, a stream slot, a recorder
// cohort) per incarnation, not one per client: the old lease outlives its
// process by up to a TTL and, behind the revoke limit, by its backlog too,
// so two entries of one client could both be live for an unbounded time;
// an entry per incarnation never aliases, and every checker that reads
// entry i as "one lease" stays right.
func (c Cluster) Restarts() []RestartAt {
	n := int(math.Round(c.Restart.Fraction * float64(c.Clients)))
	if n == 0 {
		return nil
	}
	r := sim.NewRand(c.Seed, "restarts")
	perm := make([]int, c.Clients)
	for i := range perm {
		perm[i] = i
	}
	for i := len(perm) - 1; i > 0; i-- { // Fisher-Yates
		j := int(r.Int64N(int64(i + 1)))
		perm[i], perm[j] = perm[j], perm[i]
	}
	out := make([]RestartAt, n)
	slots := int64(c.Restart.Over / StartResolution)
	for k := range out {
		at := sim.Time(c.Restart.At)
		if slots > 0 {
			at += sim.Time(r.Int64N(slots)) * sim.Time(StartResolution)
		}
		out[k] = RestartAt{At: at, Client: perm[k]}
	}
	slices.SortFunc(out, func(a, b RestartAt) int {
		if a.At != b.At {
			return cmp.Compare(a.At, b.At)
		}
		return cmp.Compare(a.Client, b.Client)
	})
	return out
}

// Incarnations is the number of client processes over the run: the clients
// and one more per restart (Restarts).
func (c Cluster) Incarnations() int {
	return c.Clients + int(math.Round(c.Restart.Fraction*float64(c.Clients)))
}

// Processes: each client process is a clientmodel.Process (several leases on
// one lessor) rather than a clientmodel.Client: with several leases per
// process, or with agents that re-grant on the same lessor.
func (c Cluster) ProcessPath() bool { return c.LeasesPerClient > 1 || c.Regrant.Max > 0 }

// EntriesPerProcess is the lease entries a process may use over the run:
// its LeasesPerClient, or with re-granting agents (one lease at a time) its
// first lease and Regrant.Max more.
func (c Cluster) EntriesPerProcess() int {
	return max(c.LeasesPerClient, 1) + c.Regrant.Max
}

// Leases is the number of lease entries (in the lessor, the recorder's
// cohorts, the ledger) over the run: EntriesPerProcess for each process;
// process p's leases are entries p*EntriesPerProcess on (LeaseEntry).
func (c Cluster) Leases() int { return c.Incarnations() * c.EntriesPerProcess() }

// LeaseEntry is the entry of lease n (1-based, in KeepAlive order) of
// process p, and ProcessOf its inverse.
func (c Cluster) LeaseEntry(p int, n uint32) int32 {
	return int32(p*c.EntriesPerProcess() + int(n) - 1)
}

// ProcessOf is the process holding lease entry e and its lease number.
func (c Cluster) ProcessOf(e int32) (p int, n uint32) {
	k := int32(c.EntriesPerProcess())
	return int(e / k), uint32(e%k) + 1
}

// Process is one client process: it calls KeepAlive at Start, on member
// Member, and exits at Exit (-1: it runs to the end).
type Process struct {
	Start, Exit sim.Time
	Member      int
}

// Processes are the client processes (Incarnations of them): client i
// starts at StartTimes' i-th instant on MemberOf(i); the r-th restart's
// process, Clients+r, starts Restart.Down after the old one's exit, on the
// old one's member (it dials the same endpoint).
func (c Cluster) Processes() []Process {
	starts := StartTimes(c.Seed, c.Clients, c.StartSpread)
	if c.Cohort > 1 {
		starts = StratifiedStartTimes(c.Seed, c.Clients, c.StartSpread)
	}
	ps := make([]Process, c.Clients, c.Incarnations())
	for i := range ps {
		ps[i] = Process{Start: starts[i], Exit: -1, Member: c.MemberOf(i)}
	}
	for _, r := range c.Restarts() {
		ps[r.Client].Exit = r.At
		ps = append(ps, Process{Start: r.At + sim.Time(c.Restart.Down), Exit: -1, Member: ps[r.Client].Member})
	}
	return ps
}

// MarkCoresOn carries a collector's measured mark cores (its GC CPU over
// its mark's wall time, measured on measuredOn cores; 0: not known) to a
// process with cores: the same share of them. Every part of a cycle's CPU
// scales with GOMAXPROCS in the runtime (Go 1.26): its background workers
// take a quarter of the Ps (runtime/mgcpacer.go:403-417, dedicated and
// fractional workers), its idle workers up to the Ps left
// (mgcpacer.go:450), one worker goroutine a P (runtime/mgc.go:1693); the
// assists are the allocating goroutines' own, which run on those Ps. The
// storm-hiccups-busy-procs1 campaign checks it: at GOMAXPROCS 1 its cycles
// take 0.62 cores (HiccupSet.FitGC's median), where storm-2core's 1.3 of 2 gives 0.65
// (calibrate.TestMarkCoresPerProc). Without the rule a process on fewer
// cores than measured would mark on all of them, stalling every request.
func MarkCoresOn(markCores, measuredOn, cores float64) float64 {
	if measuredOn <= 0 {
		return markCores
	}
	return markCores * cores / measuredOn
}
