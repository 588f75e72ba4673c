package calibrate

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/leasesim/leasesim/model"
	"github.com/leasesim/leasesim/recorder"
	"github.com/leasesim/leasesim/scenario"
	"github.com/leasesim/leasesim/spec"
)

// The storm measurement's model side: the README's "issue's own experiment"
// (clients on the followers only, TTL 10 s, every lease renewed on every
// 500 ms scan, 3 members on one 2-core machine), simulated at a measured
// level and condition.

// StormSpec is the scenario for one storm level: renewals/s / 2 clients of
// the pre-fix v3.3.8 library that never read their channel (so every lease
// is renewed on every scan once its 16-slot channel is full: the model's
// "collapse", ~53 s in), TTL 10 s, on the followers, started over 2 s (as
// the built-in host-stalls-2core), 3 members sharing 2 cores with RSA peer
// TLS over HTTP/1.1, the measured parameter file (params), and with busy
// one core of other work (host.background_cores: 1).
func StormSpec(renewalsPerS int, busy bool, seed uint64, params string) spec.Spec {
	return StormModel{Params: params}.Spec(renewalsPerS, busy, seed, 0)
}

// StormModel is how ReplayStorm simulates a storm level.
type StormModel struct {
	Params string // the parameter file ("" for the defaults)
	// Grounded: the model as the storm set itself grounds it (README, the
	// storm set): the storm set's measured costs (Params, e.g. storm-2core),
	// calibrate's loopback round trips, the agent's and the busy loop's
	// measured CPU as other processes' cores (host.background_cores), Go's
	// GC, the measured service-time spread, and the follower reading the
	// leader's answer (half its work) before the connection is pooled.
	Grounded bool
	// BusyThread (with Grounded): at the busy levels the busy loop is one
	// always-runnable thread sharing the cores per thread with the members'
	// process (host.background_threads: 1), every thread at the parameter
	// file's host.all_busy_speed while both cores are busy, instead of its
	// measured CPU as cores taken away (host.background_cores); the agent's
	// measured CPU stays host.background_cores. README, "The busy machine".
	BusyThread bool
	Seeds      int // seeds 1..Seeds per level (0: StormSeeds)
	// RaftWait: with a raft_wait mode (cluster.raft_wait: preempt, backlog
	// or measured), raft in the loop (cluster.raft), so that storms can
	// delay heartbeats and move the leadership; "": the leader is fixed.
	RaftWait string
	// GOGC (with Grounded): the members' GOGC (cluster.gogc; 0: the
	// runtime's default), as the storm-hiccups-gogc400 campaign set it.
	GOGC int
	// Cores: the members' process's cores (0: the machine's 2); 1 stands for
	// the members at GOMAXPROCS 1 with the busy loop on the other core (the
	// storm-hiccups-busy-procs1 campaign): then no busy thread shares theirs.
	Cores float64
	// BusyOneCore (with Grounded): at the busy levels the members' process
	// has one core and the busy loop the other, as if the members ran at
	// GOMAXPROCS 1 (no busy thread shares the members' core; the agent's
	// measured CPU stays host.background_cores). The reading behind it: the
	// real members at GOMAXPROCS 1 beside the loop storm as they do at 2
	// (TestStormBusyProcs1Intervention), so on the busy machine their second
	// P buys them little. README, "The busy machine as one core".
	BusyOneCore bool
	// PlatformStalls (with Grounded): the members' process stalls as the
	// storm set's health checks measured the platform on the quiet or the
	// busy host (cluster.platform_stalls: spec/stalls.go), the tail the calm
	// sends share with them far from any prober burst.
	PlatformStalls bool
}

// GroundedStormModel is the storm set's grounded model: its measured costs,
// 12 seeds a level (the onset is a knife edge; half the seeds decide it).
var GroundedStormModel = StormModel{Params: "storm-2core", Grounded: true, BusyThread: true, PlatformStalls: true, Seeds: 12}

// StormGroundedAnswerShare: the part of the follower's work that reads the
// answer in the grounded model. Not measured; the onset barely moves
// between 0.1 and 0.5 (README, member stalls).
const StormGroundedAnswerShare = 0.5

func (m StormModel) seeds() int {
	if m.Seeds > 0 {
		return m.Seeds
	}
	return StormSeeds
}

// Spec is the scenario for one storm level (StormSpec); background: with
// Grounded, the other processes' cores measured at that level (with
// BusyThread or BusyOneCore at a busy level, the agent's alone: the loop
// is a thread, or has its own core).
func (m StormModel) Spec(renewalsPerS int, busy bool, seed uint64, background float64) spec.Spec {
	params := m.Params
	sp := spec.Spec{
		Name:     fmt.Sprintf("storm-%d", renewalsPerS),
		Seed:     seed,
		Duration: spec.Duration(StormModelDuration),
		Bucket:   spec.Duration(time.Second),
		Server:   "cluster",
		Params:   params,
		Clients: spec.ClientsSpec{
			Count: renewalsPerS / 2, TTL: spec.Duration(10 * time.Second), Version: "v3.3.8", Consumer: "never",
			StartSpread: spec.Duration(2 * time.Second), Placement: "followers",
		},
		Cluster: spec.ClusterSpec{Members: 3, Cores: 2, SharedCPU: true, ProberPhase: spec.ProberTogether, Leader: 0, TLS: "rsa", Transport: "http1"},
	}
	if m.RaftWait != "" {
		sp.Cluster.Raft, sp.Cluster.RaftWait = true, m.RaftWait
	}
	if m.Grounded {
		sp.Clients.RTT = new(spec.Duration(loopbackClientRTT))
		sp.Cluster.PeerRTT = new(spec.Duration(loopbackPeerRTT))
		sp.Cluster.GC, sp.Cluster.ServiceSpread, sp.Cluster.GOGC = true, true, m.GOGC
		sp.Cluster.FollowerAnswerShare = StormGroundedAnswerShare
		// The members start as calibrate starts them, one after another
		// within a measured skew: each prober burst as wide as a real one.
		sp.Cluster.ProberPhase = spec.ProberSkewed
		if m.PlatformStalls {
			sp.Cluster.PlatformStalls = spec.PlatformStallsQuiet
			if busy {
				sp.Cluster.PlatformStalls = spec.PlatformStallsBusy
			}
		}
		if background > 0 {
			sp.Host.BackgroundCores = strconv.FormatFloat(background, 'f', 3, 64)
		}
		switch {
		case busy && m.BusyOneCore:
			sp.Cluster.Cores = 1
		case busy && m.BusyThread && m.Cores == 0:
			sp.Host.BackgroundThreads = 1
		}
		if m.Cores > 0 {
			sp.Cluster.Cores = m.Cores
		}
		return sp
	}
	if busy {
		sp.Host.BackgroundCores = "1"
	}
	return sp
}

// StormModelDuration: the collapse (from ~53 s; 95 % of the load by 58 s at
// 1,000 and 3,000/s, seed 1) plus the measured warm-up after
// the full load (10 s) and window (60 s), with room.
const StormModelDuration = 140 * time.Second

// StormModelRun is one simulated storm run, in the measurement's terms.
type StormModelRun struct {
	Seed uint64 `json:"seed"`
	// FullLoadS: the first second in which the members received at least
	// 95 % of the offered renewals (the model's load start is FullLoadS - 5 s,
	// the measured ramp; the window starts 10 s after FullLoadS, as the
	// measured one starts 10 s after its ramp).
	FullLoadS     int           `json:"full_load_s"`
	Seconds       []StormSecond `json:"seconds"`
	Derived       StormDerived  `json:"derived"`
	RTTP50Ms      float64       `json:"rtt_p50_ms"`
	RTTP99Ms      float64       `json:"rtt_p99_ms"`
	LeasesExpired int           `json:"leases_expired"`
	// Flights in the window's seconds that are not storm seconds, and in
	// those of them that are not high either (RTT p99 over HighRTTP99Ms),
	// counted against the GC cycles of the members' process as the
	// storm-hiccups measurement counts them (HiccupSecond): only with
	// cluster.gc.
	CalmFlights, QuietFlights FlightCounts `json:"-"`
	// Prober: the window's calm sends profiled against the prober bursts
	// (ProfileProberRTT), as TestMeasureProberRTT profiles a real run.
	Prober ProberRTTProfile `json:"-"`
}

// SimulateStorm runs StormSpec and reads a window of windowS seconds the way
// the measurement does.
func SimulateStorm(ctx context.Context, renewalsPerS int, busy bool, seed uint64, model StormModel, background float64, ramp, settle time.Duration, windowS int) (StormModelRun, error) {
	sc := model.Spec(renewalsPerS, busy, seed, background)
	out := StormModelRun{Seed: seed}
	r, err := sc.Resolve()
	if err != nil {
		return out, fmt.Errorf("simulating %s: %w", sc.Name, err)
	}
	sim, err := scenario.StartCluster(*r.Cluster, scenario.Options{RecordRTT: true}, nil)
	if err != nil {
		return out, fmt.Errorf("simulating %s: %w", sc.Name, err)
	}
	for sim.Now() < r.Cluster.Duration {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		if err := sim.Advance(time.Second); err != nil {
			return out, fmt.Errorf("simulating %s: %w", sc.Name, err)
		}
	}
	res, err := sim.Finish()
	if err != nil {
		return out, fmt.Errorf("simulating %s: %w", sc.Name, err)
	}
	o := recorder.Outcome{Summary: res.Summary, Metrics: res.Metrics}
	n := int(StormModelDuration / time.Second)
	at := func(name recorder.MetricName, i int) float64 {
		v := o.Metric(name)
		if i < len(v) {
			return v[i]
		}
		return 0
	}
	received := func(i int) float64 {
		var s float64
		for m := range 3 {
			s += at(recorder.KeepalivesReceived(m), i)
		}
		return s
	}
	out.FullLoadS = -1
	for i := range n {
		if received(i) >= 0.95*float64(renewalsPerS) {
			out.FullLoadS = i
			break
		}
	}
	from := out.FullLoadS + int(settle/time.Second)
	if out.FullLoadS < 0 || from+windowS > n {
		return out, fmt.Errorf("simulating %s: the load never reached 95 %% of %d/s early enough (first full second %d, run %d s)", sc.Name, renewalsPerS, out.FullLoadS, n)
	}
	loadStart := float64(out.FullLoadS) - ramp.Seconds()
	// Round trips, all keepalives (every client is on a follower).
	type rtt struct{ send, d int64 }
	var rtts []rtt
	for _, xs := range [][][2]int64{res.RTTs.Direct, res.RTTs.Forwarded} {
		for _, x := range xs {
			rtts = append(rtts, rtt{x[0], x[1]})
		}
	}
	perSend, perSendAt := make([][]int64, n), make([][]int64, n)
	answered := make([]int, n)
	var all []int64
	for _, x := range rtts {
		if i := int(x.send / int64(time.Second)); i >= from && i < from+windowS {
			perSend[i] = append(perSend[i], x.d)
			perSendAt[i] = append(perSendAt[i], x.send)
			all = append(all, x.d)
		}
		if i := int((x.send + x.d) / int64(time.Second)); i < n {
			answered[i]++
		}
	}
	for i := from; i < from+windowS; i++ {
		q := quantiles(perSend[i])
		s := StormSecond{
			T: float64(i+1) - loadStart, DurS: 1,
			SendsPerS: received(i), AnsweredPerS: float64(answered[i]),
			RTTP50Ms: q.P50, RTTP99Ms: q.P99, Unanswered: max(0, int(received(i))-len(perSend[i])),
			LeaderRenewalsPerS: at(recorder.RenewalsAtLeader, i),
			NewPeerConns:       int(at(recorder.NewPeerConnections, i)),
			PeerEstablished:    int(math.Round(at(recorder.PeerEstablished, i))),
			// One shared CPU: every member's series is the machine's.
			ServerCores:     round3(at(recorder.CPUUtilisation(0), i) * float64(sc.Cluster.Cores)),
			StreamErrors:    int(at(recorder.ClientStreamErrors, i)),
			LeaderChanges:   int(at(recorder.LeaderChanges, i)),
			BackgroundCores: backgroundOf(model, busy, background),
		}
		out.Seconds = append(out.Seconds, s)
	}
	q := quantiles(all)
	out.RTTP50Ms, out.RTTP99Ms = q.P50, q.P99
	if marks := sim.GCMarks(0); marks != nil {
		for i := from; i < from+windowS; i++ {
			s := out.Seconds[i-from]
			if s.NewPeerConns > StormNewConnsPerS {
				continue
			}
			c := flightsDuringMarks(perSendAt[i], perSend[i], marks)
			out.CalmFlights.add(c)
			if s.RTTP99Ms <= HighRTTP99Ms {
				out.QuietFlights.add(c)
			}
		}
	}
	var sendAt, sendRTT []int64
	for i := from; i < from+windowS; i++ {
		sendAt, sendRTT = append(sendAt, perSendAt[i]...), append(sendRTT, perSend[i]...)
	}
	newConns := func(t int64) int {
		if i := int(t/int64(time.Second)) - from; i >= 0 && i < len(out.Seconds) {
			return out.Seconds[i].NewPeerConns
		}
		return -1
	}
	winFrom, winTo := time.Duration(from)*time.Second, time.Duration(from+windowS)*time.Second
	out.Prober = ProfileProberRTT(sendAt, sendRTT, proberBursts(sim, r.Cluster.Members, winFrom, winTo), newConns, nil)
	out.Derived = DeriveStorm(out.Seconds)
	out.LeasesExpired = int(o.Summary.LeasesExpired)
	return out, nil
}

// proberBursts are the starts of the simulated cluster's prober bursts
// (ns) whose span meets [from, to): its members' ticks grouped as the
// measurement groups opens, less than ProberBurstGap apart.
func proberBursts(sim *scenario.Sim, members int, from, to time.Duration) []int64 {
	var ticks []int64
	for m := range members {
		for _, t := range sim.ProberTicks(m, to+ProberRTTLead) {
			ticks = append(ticks, int64(t))
		}
	}
	slices.Sort(ticks)
	var starts []int64
	for i, t := range ticks {
		if (i == 0 || t-ticks[i-1] >= int64(ProberBurstGap)) && t+int64(ProberRTTSpan) > int64(from) {
			starts = append(starts, t)
		}
	}
	return starts
}

// flightsDuringMarks counts sends (at, rtt) by their flights as
// hiccupSeconds does: slow over HighRTTP99Ms, in GC when the flight meets a
// GC cycle widened by half the measurement's sampling period each side
// (where the measurement knows a cycle's ends).
func flightsDuringMarks(at, rtt []int64, marks []model.Span) FlightCounts {
	var c FlightCounts
	widen := int64(HiccupMemberPeriod / 2)
	for j, t := range at {
		d := rtt[j]
		slow := d > HighRTTP99Ms*int64(time.Millisecond)
		c.Flights++
		if slow {
			c.Slow++
		}
		// The first cycle ending (widened) at or after the send.
		k, _ := slices.BinarySearchFunc(marks, t, func(m model.Span, x int64) int {
			return cmp.Compare(int64(m.To)+widen, x)
		})
		if k < len(marks) && int64(marks[k].From)-widen <= t+d {
			c.InGC++
			if slow {
				c.SlowInGC++
			}
		}
	}
	return c
}

func (c *FlightCounts) add(o FlightCounts) {
	c.Flights += o.Flights
	c.Slow += o.Slow
	c.InGC += o.InGC
	c.SlowInGC += o.SlowInGC
	c.InTail += o.InTail
	c.SlowInTail += o.SlowInTail
}

func backgroundOf(model StormModel, busy bool, background float64) float64 {
	if model.Grounded {
		return background
	}
	if busy {
		return 1
	}
	return 0
}
