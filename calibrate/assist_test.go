package calibrate

import (
	"slices"
	"testing"
)

// TestStormHiccupsSlowMarksAreAssisted holds where a member GC cycle's harm
// lies in the quiet campaigns (storm-hiccups and storm-hiccups-gogc100, 6
// runs of 40 s at 1,000/s): in the cycles whose allocating goroutines were
// made to mark (assist CPU, /cpu/classes/gc/mark/assist), not in cycles as
// such. Of the calm seconds (outside storms and the 5 s after each) that
// hold exactly one cycle, those whose cycle assisted less than the median
// (2.1 ms) slowed 3 of the 1,095 sends in flight during it past
// HighRTTP99Ms; those at or above it, 142 of 1,350 (10.5 %); the 14
// cycles over 6 ms hold 130 of them. A model whose marks only take cores
// (model.GC: the same share of them every cycle) spreads a cycle's harm
// evenly over its requests, and slows few sends in any cycle
// (TestStormHiccupsMarksAlone: 9 of 2,881); assists, which charge marking
// to the requests themselves (runtime/mgcmark.go gcAssistAlloc, parking a
// goroutine that cannot pay in gcParkAssist), are not in it yet.
func TestStormHiccupsSlowMarksAreAssisted(t *testing.T) {
	type cycle struct {
		assistMs   float64
		slow, inGC int
	}
	var cycles []cycle
	for _, file := range []string{hiccupFile, hiccupGOGC100File} {
		var set HiccupSet
		loadMeasurement(t, file, &set)
		for _, r := range set.Runs {
			calm := outsideStorms(r)
			for _, c := range r.MemberCycles {
				i := slices.IndexFunc(calm, func(s HiccupSecond) bool { return s.T-s.DurS < c.StartS && c.StartS <= s.T })
				if i < 0 || calm[i].MemberGCCycles != 1 {
					continue // a storm's, or a second shared with another cycle
				}
				cycles = append(cycles, cycle{c.AssistMs, calm[i].SlowInGC, calm[i].InGC})
			}
		}
	}
	if len(cycles) < 40 {
		t.Fatalf("%d calm cycles with a second of their own; the campaigns hold 75", len(cycles))
	}
	assist := make([]float64, len(cycles))
	for i, c := range cycles {
		assist[i] = c.assistMs
	}
	cut := median(assist)
	var low, high FlightCounts
	for _, c := range cycles {
		half := &low
		if c.assistMs >= cut {
			half = &high
		}
		half.Slow += c.slow
		half.InGC += c.inGC
	}
	rate := func(c FlightCounts) float64 { return float64(c.Slow) / float64(max(c.InGC, 1)) }
	t.Logf("%d cycles, median assist %.2f ms: below it %d of %d sends in flight slow, at or above %d of %d",
		len(cycles), cut, low.Slow, low.InGC, high.Slow, high.InGC)
	if !(rate(low) < 0.01 && rate(high) >= 10*rate(low) && rate(high) >= 0.05) {
		t.Errorf("slow sends in calm cycles: %.1f %% below the median assist, %.1f %% at or above it (measured 0.3 %% and 10.5 %%)",
			100*rate(low), 100*rate(high))
	}
}
