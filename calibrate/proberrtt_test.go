package calibrate

import (
	"context"
	"testing"
	"time"
)

// TestProberRTTNearBursts holds the grounded model's prober bursts to the
// prober-RTT measurement's (TestMeasureProberRTT): per burst, the sends
// near it (20 ms before its first probe to 300 ms after) slower than
// ProberRTTSlow, the median burst of a run, the median run of the real
// runs without a big storm against the median of 6 seeds, within a factor
// 2 on both machines. The model's bursts delay as many sends as the real
// ones: what the calm tail lacked was elsewhere (the platform's stalls,
// spec/stalls.go).
func TestProberRTTNearBursts(t *testing.T) {
	var set ProberRTTSet
	loadMeasurement(t, proberRTTFile, &set)
	for _, lv := range proberRTTLevels {
		var real []float64
		var agent []float64
		for _, r := range set.Runs {
			if r.Storm.Config.Background != lv.busy || r.Storm.Derived.PeakNewConns > BigStormNewConnsPerS {
				continue
			}
			real = append(real, medianSlow(r.Profile))
			agent = append(agent, r.Storm.Derived.ClientCores)
		}
		if len(real) < 2 {
			t.Fatalf("%d/s busy %v: %d runs without a big storm in %s", lv.renewalsPerS, lv.busy, len(real), proberRTTFile)
		}
		var model []float64
		for seed := uint64(1); seed <= 6; seed++ {
			m, err := SimulateStorm(context.Background(), lv.renewalsPerS, lv.busy, seed, GroundedStormModel, median(agent), 5*time.Second, 10*time.Second, 60)
			if err != nil {
				t.Fatal(err)
			}
			model = append(model, medianSlow(m.Prober))
		}
		t.Logf("%d/s busy %v: slow sends near a burst, the median burst: real runs %v, model seeds %v", lv.renewalsPerS, lv.busy, real, model)
		if r, m := median(real), median(model); !within(m, r, 2) {
			t.Errorf("%d/s busy %v: the median burst slows %.0f sends in the model, %.0f in the real runs: not within a factor 2", lv.renewalsPerS, lv.busy, m, r)
		}
	}
}

// medianSlow is a profile's median burst's slow sends.
func medianSlow(p ProberRTTProfile) float64 {
	var slow []float64
	for _, b := range p.PerBurst {
		slow = append(slow, float64(b.Slow))
	}
	return median(slow)
}
