package calibrate

import (
	"context"
	"slices"
	"testing"
	"time"
)

// TestStormGOGCIntervention holds what changing GOGC did to the real
// cluster (the storm-hiccups campaigns, 3 runs of 40 s each at 1,000/s
// quiet and 800/s busy, measured one after the other on 2026-12-02: make
// measure WHAT=storm-hiccups-gogc100 (the control), -gogc400,
// -agent-gogc400, -busy-gogc400 and -gcoff; the busy control is
// storm-hiccups-busy, measured the same day) and what the same change does
// to the grounded model. The plain campaigns showed that slow sends
// coincide with the members' GC cycles; collecting a fifth as often is the
// intervention:
//
//   - the slow sends (over 10 ms, outside storms and the 5 s after a storm
//     second) stay as many, 207 against 207: each cycle slows more of the
//     sends in flight during it (29 % against 3.7 %), so the collector's
//     harm goes with what is allocated, not with the number of cycles;
//   - the storms stay: most quiet runs storm, every busy run storms big;
//   - the calm round trip's p99, which the done-when compares, stays (4-6
//     ms), and the prober's slow second in four with it; the agent at GOGC
//     400 (its own pauses are in the round trips it times) leaves it too.
//
// The model's GC harms per cycle: with a fifth of the cycles its calm p99
// falls, and on the busy host its storms fall too. Those are the known gaps
// this test keeps until a model change closes them.
func TestStormGOGCIntervention(t *testing.T) {
	var control, gogc400, busy, busy400, off HiccupSet
	loadMeasurement(t, hiccupGOGC100File, &control)
	loadMeasurement(t, hiccupGOGC400File, &gogc400)
	loadMeasurement(t, hiccupBusyFile, &busy)
	loadMeasurement(t, hiccupBusyGOGC400File, &busy400)
	loadMeasurement(t, hiccupGCOffFile, &off)

	// The intervention took: a fifth as many cycles (0.43 against 0.08 a
	// second quiet, 0.40 against 0.09 busy).
	for _, p := range []struct {
		what      string
		base, cut HiccupSet
	}{{"quiet", control, gogc400}, {"busy", busy, busy400}} {
		if b, c := p.base.Pooled.MemberCyclesPerS, p.cut.Pooled.MemberCyclesPerS; !(c > 0 && c*3 <= b) {
			t.Errorf("%s: %.3f cycles/s at GOGC 400 against %.3f: not a third or fewer", p.what, c, b)
		}
	}
	// The slow sends stay as many: the collector's harm is not per cycle.
	if b, c := slowOutsideStorms(control), slowOutsideStorms(gogc400); !within(float64(c.Slow), float64(b.Slow), 2) {
		t.Errorf("quiet: %d sends over 10 ms outside storms at GOGC 400 against %d: the slow sends follow the cycles after all", c.Slow, b.Slow)
	} else if pb, pc := float64(b.SlowInGC)/float64(b.InGC), float64(c.SlowInGC)/float64(c.InGC); !(pc >= 3*pb) {
		t.Errorf("quiet: %.3f of the sends in flight during a cycle slow at GOGC 400 against %.3f: not 3x or more", pc, pb)
	}
	// The storms do not: 2 of 3 runs storm at GOGC 400 (3 of 3 at 100), and
	// every busy run storms big either way (306-705 new connections in its
	// worst second).
	stormed := func(s HiccupSet) (n, big int) {
		for _, r := range s.Runs {
			if r.Storm.Derived.Stormed {
				n++
			}
			if r.Storm.Derived.PeakNewConns > BigStormNewConnsPerS {
				big++
			}
		}
		return n, big
	}
	if n, _ := stormed(gogc400); 2*n < len(gogc400.Runs) {
		t.Errorf("quiet: %d of %d runs stormed at GOGC 400", n, len(gogc400.Runs))
	}
	for _, s := range []HiccupSet{busy, busy400} {
		if _, big := stormed(s); big != len(s.Runs) {
			t.Errorf("busy (GOGC %d): %d of %d runs stormed big", s.MemberGOGC, big, len(s.Runs))
		}
	}
	// Nor does the calm p99: the runs without a big storm answer at p99 in
	// 3.9-6.1 ms at GOGC 400, 5.1-5.6 ms at 100; their slowest second in
	// four stays (phase medians 5.0-5.8 ms against 1.8-2.8).
	calmP99 := func(s HiccupSet) []float64 {
		var xs []float64
		for _, r := range s.Runs {
			if r.Storm.Derived.PeakNewConns <= BigStormNewConnsPerS {
				xs = append(xs, r.Storm.RTTP99Ms)
			}
		}
		return xs
	}
	b, c := calmP99(control), calmP99(gogc400)
	if len(b) == 0 || len(c) == 0 || !within(median(c), median(b), 1.5) {
		t.Errorf("quiet: RTT p99 of the runs without a big storm %.1f ms at GOGC 400 against %.1f: not within 1.5x", c, b)
	}
	for _, r := range gogc400.Runs {
		if ph, spike := proberFold(r.Storm.Seconds); spike < 1.8 {
			t.Errorf("%s: phases %.1f ms, spike %.1fx: the slow second in four went with the cycles", r.Storm.Config.Name, ph, spike)
		}
	}
	// The agent at GOGC 400: a fifth of its cycles, the same p99.
	var agent400 HiccupSet
	loadMeasurement(t, hiccupAgentGOGC400File, &agent400)
	if b, c := control.Pooled.AgentCyclesPerS, agent400.Pooled.AgentCyclesPerS; !(c > 0 && c*3 <= b) {
		t.Errorf("agent: %.3f cycles/s at GOGC 400 against %.3f: not a third or fewer", c, b)
	}
	if a := calmP99(agent400); len(a) == 0 || !within(median(a), median(b), 1.5) {
		t.Errorf("quiet, the agent at GOGC 400: RTT p99 of the runs without a big storm %.1f ms against %.1f: not within 1.5x", a, b)
	}
	// Switching the collector off is no intervention on this VM: the whole
	// machine stalls (the agent, another process, sends 10-37 ms late at p99
	// in its runs, against 1.5-2.2 ms), warm heap or not.
	if o, k := off.Pooled.Late.P99Ms, control.Pooled.Late.P99Ms; !(o >= 5*k) {
		t.Errorf("GC off: the agent's sends %.1f ms late at p99 against %.1f: the machine no longer stalls; the campaign may be usable", o, k)
	}

	// The grounded model, the same change, the same 40 s windows, 12 seeds
	// at 1,000/s quiet (the agent's measured 0.28 cores): with the
	// platform's stalls (spec/stalls.go) its p99, like the real one, no
	// longer follows its cycles (3.0-7.4 ms at 100, 1.9-4.6 at 400; without
	// the stalls it fell from 1.8-4.9 to 1.2-1.9 ms), and its storms, like
	// the real ones, mostly stay.
	model := func(level int, busy bool, agent float64, gogc int) (p99s []float64, stormed int) {
		m := GroundedStormModel
		m.GOGC = gogc
		for seed := uint64(1); seed <= 12; seed++ {
			r, err := SimulateStorm(context.Background(), level, busy, seed, m, agent, 5*time.Second, 10*time.Second, int(HiccupWindow/time.Second))
			if err != nil {
				t.Fatal(err)
			}
			if r.Derived.PeakNewConns <= BigStormNewConnsPerS {
				p99s = append(p99s, r.RTTP99Ms)
			}
			if r.Derived.Stormed {
				stormed++
			}
		}
		return p99s, stormed
	}
	m100, s100 := model(HiccupRenewalsPerS, false, 0.28, 0)
	m400, s400 := model(HiccupRenewalsPerS, false, 0.28, 400)
	t.Logf("model: RTT p99 %.1f ms, %d of 12 stormed at GOGC 100; %.1f ms, %d of 12 at 400", m100, s100, m400, s400)
	if !within(median(m400), median(m100), 1.25) {
		t.Errorf("the model's calm p99 follows its GC cycles again (median %.2f ms at GOGC 400, %.2f at 100); the real one does not", median(m400), median(m100))
	}
	if !within(median(m400), median(c), 2) {
		t.Errorf("the model's calm p99 at GOGC 400 (median of %.1f ms) is not within 2x of the real runs' (%.1f ms)", m400, c)
	}
	if 3*s400 < 12 {
		t.Errorf("the model's storms went with the cycles: %d of 12 seeds storm at GOGC 400 (%d at 100); the real cluster's do not", s400, s100)
	}
	// On the busy host the model's storms go with its cycles: its marks,
	// on their share of each P (model.CPU.Allocate), start its storms
	// there, and with a fifth of the cycles fewer seeds storm (11 of 12 at
	// 100, 6 of 12 at 400), where every real run stormed big at either
	// GOGC. (While its marks took every core the loop left, it went the
	// other way: 3 of 12 at 100, 8 at 400, the stalls keeping a larger
	// pool warm.)
	_, b100 := model(HiccupBusyRenewalsPerS, true, 0.14, 0)
	_, b400 := model(HiccupBusyRenewalsPerS, true, 0.14, 400)
	t.Logf("model, busy %d/s: %d of 12 stormed at GOGC 100, %d at 400", HiccupBusyRenewalsPerS, b100, b400)
	if !(b100 >= b400+3) {
		t.Errorf("known gap closed: on the busy host the model's storms no longer fall with its cycles (%d of 12 at GOGC 400, %d at 100), and the real ones did not: update this test and the README", b400, b100)
	}
}

// outsideStorms are a run's seconds that are neither storm seconds nor
// within 5 s after one (a storm's queue drains for seconds after its last
// storm second: counted as calm, that aftermath makes one run with a big
// storm look like another condition).
func outsideStorms(r HiccupRun) []HiccupSecond {
	var storms []float64
	for _, sec := range r.Seconds {
		if sec.NewPeerConns > StormNewConnsPerS {
			storms = append(storms, sec.T)
		}
	}
	var out []HiccupSecond
	for _, sec := range r.Seconds {
		if !slices.ContainsFunc(storms, func(at float64) bool { return sec.T >= at && sec.T-at <= 5 }) {
			out = append(out, sec)
		}
	}
	return out
}

// slowOutsideStorms counts the flights of a campaign's seconds outside
// storms (outsideStorms).
func slowOutsideStorms(s HiccupSet) FlightCounts {
	var c FlightCounts
	for _, r := range s.Runs {
		for _, sec := range outsideStorms(r) {
			c.add(sec.FlightCounts)
		}
	}
	return c
}
