package calibrate

import (
	"context"
	"maps"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/leasesim/leasesim/netsim"
	"github.com/leasesim/leasesim/spec"
)

// TestStormHiccupsReplay checks the saved storm-hiccups measurement
// (testdata/storm-hiccups-3.7.3.json, make measure WHAT=storm-hiccups): it
// is complete (every run has its window's seconds, each with the members'
// and the agent's scheduler latencies and the sends' lateness), the
// thresholds are today's, and every derived figure — each second's, each
// run's summary, the pooled summary, the storm run's own — recomputes from
// the saved series with today's code. It needs no cluster.
func TestStormHiccupsReplay(t *testing.T) { replayHiccups(t, "storm-hiccups") }

// TestStormHiccupsBusyReplay is TestStormHiccupsReplay for the busy
// campaign (testdata/storm-hiccups-busy-3.7.3.json, make measure
// WHAT=storm-hiccups-busy): 800/s with one core busy.
func TestStormHiccupsBusyReplay(t *testing.T) { replayHiccups(t, "storm-hiccups-busy") }

// TestStormHiccupsInterventionsReplay replays the interventions on the two
// campaigns above, one subtest each (hiccupCampaigns: the members at GOGC
// 400, 100 and off, the agent at 400; the busy one with the members at 400,
// with its loop at nice 19, and with the members at GOMAXPROCS 1). Besides what every replay checks, a campaign with the
// collector off may have no member GC cycle in any window (the
// intervention held).
func TestStormHiccupsInterventionsReplay(t *testing.T) {
	for _, what := range slices.Sorted(maps.Keys(hiccupCampaigns)) {
		if what == "storm-hiccups" || what == "storm-hiccups-busy" {
			continue
		}
		t.Run(what, func(t *testing.T) { replayHiccups(t, what) })
	}
}

// replayHiccups replays what the campaign make measure WHAT=what saved
// (hiccupCampaigns).
func replayHiccups(t *testing.T, what string) {
	c, file := hiccupCampaigns[what].c, hiccupCampaigns[what].file
	var set HiccupSet
	loadMeasurement(t, file, &set)
	if !set.Done || len(set.Runs) != c.Runs || set.Busy != c.Busy || set.HiccupIntervention != c.HiccupIntervention {
		t.Fatalf("incomplete: complete %v, %d runs of %d, busy %v (want %v), interventions %+v (want %+v)", set.Done, len(set.Runs), c.Runs,
			set.Busy, c.Busy, set.HiccupIntervention, c.HiccupIntervention)
	}
	if c.MemberGOGC < 0 {
		for _, r := range set.Runs {
			if n := len(r.MemberCycles); n > 0 {
				t.Errorf("%s: %d member GC cycles in the window of a run with the collector off", r.Storm.Config.Name, n)
			}
		}
	}
	if set.Date == "" || set.Machine == "" || set.Method == "" {
		t.Errorf("date %q, machine %q or method missing", set.Date, set.Machine)
	}
	if set.HighRTTP99Ms != HighRTTP99Ms || set.SchedTailMs != SchedTailMs || set.BunchFactor != BunchFactor || set.AgentLateMs != AgentLateMs {
		t.Errorf("thresholds saved %v/%v/%v/%v, today's %v/%v/%v/%v: re-measure or restore them", set.HighRTTP99Ms, set.SchedTailMs,
			set.BunchFactor, set.AgentLateMs, HighRTTP99Ms, SchedTailMs, BunchFactor, AgentLateMs)
	}
	for _, r := range set.Runs {
		name := r.Storm.Config.Name
		if r.Storm.Config.RenewalsPerS != c.RenewalsPerS || r.Storm.Config.Background != c.Busy {
			t.Errorf("%s: %d renewals/s, busy %v; want %d, %v", name, r.Storm.Config.RenewalsPerS, r.Storm.Config.Background, c.RenewalsPerS, c.Busy)
		}
		want := int(c.Window.Seconds()) - 2
		if len(r.Seconds) < want || len(r.Seconds) != len(r.Storm.Seconds) {
			t.Errorf("%s: %d seconds (storm run: %d), want at least %d and the same", name, len(r.Seconds), len(r.Storm.Seconds), want)
			continue
		}
		for i, s := range r.Seconds {
			if ss := r.Storm.Seconds[i]; s.T != ss.T || s.RTTP99Ms != ss.RTTP99Ms || s.NewPeerConns != ss.NewPeerConns {
				t.Errorf("%s: second %d (t %.3f) does not match the storm run's", name, i, s.T)
			}
			if len(s.MemberSched) == 0 || len(s.AgentSched) == 0 || len(s.Late) == 0 || s.SendsPerS == 0 || s.Flights == 0 {
				t.Errorf("%s: t %.3f: missing members' or agent's scheduler latencies or sends", name, s.T)
			}
			if d := DeriveHiccupSecond(s); !reflect.DeepEqual(d, s.D) {
				t.Errorf("%s: t %.3f: derived %+v, recomputed %+v", name, s.T, s.D, d)
			}
		}
		if d := DeriveHiccups(r.Seconds, r.MemberCycles, r.AgentCycles); !reflect.DeepEqual(d, r.Summary) {
			t.Errorf("%s: summary %+v, recomputed %+v", name, r.Summary, d)
		}
		if d := DeriveStorm(r.Storm.Seconds); !reflect.DeepEqual(d, r.Storm.Derived) {
			t.Errorf("%s: storm derived %+v, recomputed %+v", name, r.Storm.Derived, d)
		}
		for _, c := range append(append([]GCCycle{}, r.MemberCycles...), r.AgentCycles...) {
			if c.EndS < c.StartS || c.MarkMs < 0 || c.Pauses < 0 {
				t.Errorf("%s: GC cycle %+v out of order", name, c)
			}
		}
	}
	if p := set.Pool(); !reflect.DeepEqual(p, set.Pooled) {
		t.Errorf("pooled %+v, recomputed %+v", set.Pooled, p)
	}
	s := set.Pooled
	t.Logf("%d s, %d high (RTT p99 > %d ms); member GC %.2f cycles/s, mark p50/max %.0f/%.0f ms (%.1f%% of the time), assist %.1f ms/s, "+
		"pauses p50/max %.3f/%.3f ms; member sched p50/p99/max %.4f/%.2f/%.1f ms; agent sched p99/max %.2f/%.1f ms, GC %.2f cycles/s; "+
		"late p50/p99/max %.1f/%.1f/%.1f ms; max %d sends/10 ms (mean %.1f)",
		s.Seconds, s.HighSeconds, HighRTTP99Ms, s.MemberCyclesPerS, s.MarkMsP50, s.MarkMsMax, 100*s.MarkFraction, s.AssistMsPerS,
		s.MemberPauses.P50Ms, s.MemberPauses.MaxMs, s.MemberSched.P50Ms, s.MemberSched.P99Ms, s.MemberSched.MaxMs,
		s.AgentSched.P99Ms, s.AgentSched.MaxMs, s.AgentCyclesPerS, s.Late.P50Ms, s.Late.P99Ms, s.Late.MaxMs, s.MaxPer10ms, s.MeanPer10ms)
	t.Logf("%d storm seconds; flights outside storms: %+v", s.StormSeconds, s.Flights)
	t.Logf("high seconds outside storms: %+v", s.High)
	t.Logf("calm seconds: %+v", s.Calm)
	t.Logf("storm seconds: %+v", s.Storm)
}

// TestGCCyclesFromDeltas: a cycle runs from the interval of its first pause
// to the one where the cycle count rises, at the intervals' midpoints.
func TestGCCyclesFromDeltas(t *testing.T) {
	const ms = int64(1e6)
	ds := []RTDelta{
		{At: 10 * ms, ObjectsMB: 100, GoalMB: 120},
		{At: 20 * ms, Pauses: []HistBin{{LeMs: 0.1, N: 1}}, AssistMs: 1, ObjectsMB: 110, GoalMB: 120},
		{At: 30 * ms, DedicatedMs: 5, GoalMB: 120},
		{At: 40 * ms, Pauses: []HistBin{{LeMs: 0.2, N: 1}}, Cycles: 1, IdleMarkMs: 2, LiveMB: 50, GoalMB: 100},
		{At: 50 * ms},
		// A cycle counted done before its mark-termination pause is recorded.
		{At: 60 * ms, Pauses: []HistBin{{LeMs: 0.1, N: 1}}, AssistMs: 1, ObjectsMB: 90, GoalMB: 100},
		{At: 70 * ms, Cycles: 1, DedicatedMs: 3, LiveMB: 40, GoalMB: 90},
		{At: 80 * ms, Pauses: []HistBin{{LeMs: 0.3, N: 1}}, GoalMB: 90},
		{At: 90 * ms, GoalMB: 90},
	}
	got := gcCycles(ds, 0)
	want := []GCCycle{{StartS: 0.015, EndS: 0.035, MarkMs: 20, AssistMs: 1, WorkersMs: 7, Pauses: 2, PauseMaxMs: 0.2,
		HeapStartMB: 100, GoalMB: 120, LiveAfterMB: 50},
		{StartS: 0.055, EndS: 0.065, MarkMs: 10, AssistMs: 1, WorkersMs: 3, Pauses: 2, PauseMaxMs: 0.3,
			HeapStartMB: 0, GoalMB: 100, LiveAfterMB: 40}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	q := histQuantiles(mergeHist([]HistBin{{LeMs: 1, N: 98}, {LeMs: 2, N: 1}}, []HistBin{{LeMs: 8, N: 1}}))
	if q != (HistQ{N: 100, P50Ms: 1, P99Ms: 2, MaxMs: 8}) {
		t.Errorf("quantiles %+v", q)
	}
}

// TestHiccupFlights: a slow answer whose flight meets a member GC cycle or a
// sampling interval with a scheduler tail is counted so, per send.
func TestHiccupFlights(t *testing.T) {
	const ms = int64(1e6)
	var members []RTDelta
	for at := 1000 * ms; at <= 3000*ms; at += 10 * ms {
		d := RTDelta{At: at}
		switch at {
		case 1500 * ms:
			d.Pauses = []HistBin{{LeMs: 0.1, N: 1}}
		case 1520 * ms:
			d.Pauses, d.Cycles = []HistBin{{LeMs: 0.1, N: 1}}, 1
		case 2500 * ms:
			d.Sched = []HistBin{{LeMs: 0.01, N: 5}, {LeMs: 8, N: 1}}
		}
		members = append(members, d)
	}
	res := &StormResult{
		SendAt: []int64{1200 * ms, 1495 * ms, 2495 * ms, 2700 * ms},
		RTTNs:  []int64{1 * ms, 20 * ms, 15 * ms, -1},
		LateNs: []int64{0, 0, 0, 0},
	}
	storm := []StormSecond{{T: 2, DurS: 1}, {T: 3, DurS: 1}}
	secs, mc, _ := hiccupSeconds(storm, res, 0, []int64{1000 * ms, 2000 * ms, 3000 * ms}, members)
	if len(mc) != 1 || len(secs) != 2 {
		t.Fatalf("%d cycles, %d seconds", len(mc), len(secs))
	}
	type f struct{ flights, slow, inGC, slowInGC, inTail, slowInTail, cycles int }
	got := []f{}
	for _, s := range secs {
		got = append(got, f{s.Flights, s.Slow, s.InGC, s.SlowInGC, s.InTail, s.SlowInTail, s.MemberGCCycles})
	}
	want := []f{{2, 1, 1, 1, 0, 0, 1}, {1, 1, 0, 0, 1, 1, 0}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

// TestStormHiccupsGCParams: the storm-2core parameter file's collector is
// what the saved storm-hiccups cycles give (HiccupSet.FitGC), storm-2core-
// busy's what the busy campaign's give, the handshake's allocation is
// netsim's measured one, and the two files differ in nothing else.
func TestStormHiccupsGCParams(t *testing.T) {
	fits := map[string]spec.ParamsGC{}
	for name, file := range map[string]string{"storm-2core": hiccupFile, "storm-2core-busy": hiccupBusyFile} {
		var set HiccupSet
		loadMeasurement(t, file, &set)
		p, err := spec.LoadParams(name)
		if err != nil {
			t.Fatal(err)
		}
		fit := set.FitGC()
		fit.AllocPerHandshake = netsim.PeerHandshakeAllocBytes
		if p.GC != fit {
			t.Errorf("%s's gc section %+v, the measurement gives %+v: update the file (and the README's figures)", name, p.GC, fit)
		}
		fits[name] = fit
	}
	// The figures the README quotes.
	if f := fits["storm-2core"]; f.ScanRate != 1.19e9 || f.MarkCores != 1.3 || f.BaseHeap != 10600000 {
		t.Errorf("quiet fit %+v: the README quotes 1.19 GB per core-second, 1.3 cores, 10.6 MB a member", f)
	}
	if f := fits["storm-2core-busy"]; f.ScanRate != 6.44e8 || f.MarkCores != 1.2 || f.BaseHeap != 11600000 {
		t.Errorf("busy fit %+v: the README quotes 0.64 GB per core-second, 1.2 cores, 11.6 MB a member", f)
	}
	quiet, _ := spec.LoadParams("storm-2core")
	busy, _ := spec.LoadParams("storm-2core-busy")
	if !reflect.DeepEqual(quiet.Costs, busy.Costs) || quiet.Client != busy.Client {
		t.Errorf("storm-2core-busy's costs or client timing differ from storm-2core's: %+v %+v against %+v %+v", busy.Costs, busy.Client, quiet.Costs, quiet.Client)
	}
}

// TestStormHiccupsMarksAlone: in the calm seconds of the storm-hiccups
// runs (no storm, RTT p99 at most HighRTTP99Ms), a member GC cycle alone
// seldom makes a send slow, and the grounded model's collector agrees:
// of the sends whose flight meets a cycle, few are slower than 10 ms on
// either side (measured 28 of 1,195), and about as many sends meet one
// (measured 1.1 %, the model within a factor 2). The real calm p99's tail
// comes from a few hiccup seconds (4 of 114, each with a cycle), not from
// every cycle: a model whose marks stalled every request (mark_cores at
// all the cores) fails here.
func TestStormHiccupsMarksAlone(t *testing.T) {
	var set HiccupSet
	loadMeasurement(t, hiccupFile, &set)
	var real FlightCounts
	for _, r := range set.Runs {
		for _, s := range r.Seconds {
			if !s.D.Storm && !s.D.High {
				real.add(s.FlightCounts)
			}
		}
	}
	var sim FlightCounts
	for seed := uint64(1); seed <= 3; seed++ {
		r, err := SimulateStorm(context.Background(), HiccupRenewalsPerS, false, seed, GroundedStormModel, 0.28, 5*time.Second, 10*time.Second, 60)
		if err != nil {
			t.Fatal(err)
		}
		sim.add(r.QuietFlights)
	}
	frac := func(a, b int) float64 { return float64(a) / float64(max(b, 1)) }
	t.Logf("calm seconds: real %+v, model %+v", real, sim)
	if real.InGC < 1000 || frac(real.SlowInGC, real.InGC) > 0.05 {
		t.Errorf("measured: %d of %d sends in flight during a cycle slow: want many sends and under 5 %%", real.SlowInGC, real.InGC)
	}
	if f := frac(sim.SlowInGC, sim.InGC); sim.InGC < 1000 || f > 0.05 {
		t.Errorf("model: %d of %d sends in flight during a cycle slow (%.1f %%): want under 5 %%, as measured", sim.SlowInGC, sim.InGC, f*100)
	}
	if !within(frac(sim.InGC, sim.Flights), frac(real.InGC, real.Flights), 2) {
		t.Errorf("sends meeting a cycle: model %.2f %%, real %.2f %%: want within a factor 2", 100*frac(sim.InGC, sim.Flights), 100*frac(real.InGC, real.Flights))
	}
}
