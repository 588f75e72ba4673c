package fidelity

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/leasesim/leasesim/recorder"
	"github.com/leasesim/leasesim/spec"
)

func f64(v float64) *float64 { return &v }

func TestCompare(t *testing.T) {
	exact := Metrics{
		RenewalsPerS: 1000, IntervalP50Ms: 500, IntervalP99Ms: 3500,
		LeaderCPUMean: 0.5, LeaderCPUPeak: 0.005, NewConnsPerS: 0, TimeWaitPeak: 0,
		LeasesExpired: 200, KeysLost: 0, FirstExpiryS: f64(60),
	}
	fast := Metrics{
		RenewalsPerS: 1100, IntervalP50Ms: 500, IntervalP99Ms: 3000,
		LeaderCPUMean: 0.25, LeaderCPUPeak: 0.007, NewConnsPerS: 3, TimeWaitPeak: 0,
		LeasesExpired: 0, KeysLost: 40, FirstExpiryS: f64(62.5),
	}
	e := Compare(exact, fast)
	want := [NumMetrics]float64{
		RenewalsPerS:  0.1,
		IntervalP50:   0,
		IntervalP99:   -500.0 / 3500,
		LeaderCPUMean: -0.5,
		LeaderCPUPeak: 0.002 / 0.01, // exact below its floor (1 %): against the floor
		NewConnsPerS:  3,            // exact 0: against the floor, 1/s
		TimeWaitPeak:  0,            // 0 against 0: no error
		LeasesExpired: -1,
		KeysLost:      40, // exact 0: against 1 key
	}
	for k := range NumMetrics {
		if math.Abs(e.Rel[k]-want[k]) > 1e-12 {
			t.Errorf("%s: error %v, want %v", k, e.Rel[k], want[k])
		}
	}
	if e.FirstExpiryS == nil || math.Abs(*e.FirstExpiryS-2.5) > 1e-12 {
		t.Errorf("first expiry: %v, want +2.5 s", e.FirstExpiryS)
	}
	if e.StormAgrees || e.KeysLostAgree {
		t.Errorf("verdicts: storm agrees %v, keys agree %v; want both false (exact: storm, no keys; fast: calm, keys)", e.StormAgrees, e.KeysLostAgree)
	}

	// Nil instants: undefined unless both runs had an expiry.
	for _, c := range []struct{ x, f *float64 }{{nil, nil}, {f64(3), nil}, {nil, f64(3)}} {
		if d := Compare(Metrics{FirstExpiryS: c.x}, Metrics{FirstExpiryS: c.f}).FirstExpiryS; d != nil {
			t.Errorf("first expiry %v vs %v: error %v, want nil", c.x, c.f, *d)
		}
	}
	// Identical runs: no error, verdicts agree (calm and storm alike).
	for _, m := range []Metrics{{}, exact, fast} {
		e := Compare(m, m)
		for k := range NumMetrics {
			if e.Rel[k] != 0 {
				t.Errorf("identical: %s error %v", k, e.Rel[k])
			}
		}
		if !e.StormAgrees || !e.KeysLostAgree {
			t.Errorf("identical: verdicts disagree")
		}
		if (m.FirstExpiryS == nil) != (e.FirstExpiryS == nil) || (e.FirstExpiryS != nil && *e.FirstExpiryS != 0) {
			t.Errorf("identical: first expiry error %v", e.FirstExpiryS)
		}
	}
	// Errors' JSON names its metrics and is never NaN or Inf.
	js, err := json.Marshal(Compare(Metrics{}, fast))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(js), `"leader CPU mean":25`) {
		t.Errorf("JSON: %s", js)
	}
}

// TestHeadline reads the headline metrics from an Outcome: the leader's CPU
// from the initial leader's series, or with cluster.raft from the leading
// member's.
func TestHeadline(t *testing.T) {
	o := recorder.Outcome{
		Summary: recorder.Summary{
			RenewalsPerS:  []float64{10, 20, 30},
			IntervalMs:    recorder.Percentiles{P50: 500, P99: 3500},
			LeasesExpired: 4, KeysLost: 8, FirstExpiryS: f64(1.5),
		},
		Metrics: []recorder.Metric{
			{Name: recorder.NewPeerConnections, Values: []float64{0, 3, 6}},
			{Name: recorder.CPUUtilisation(0), Values: []float64{0.1, 0.2, 0.3}},
			{Name: recorder.CPUUtilisation(1), Values: []float64{0.4, 0.5, 0.9}},
			{Name: recorder.LeaderCPUUtilisation, Values: []float64{0.1, 0, 0.9}},
		},
	}
	o.Peaks, o.Finals = recorder.PeaksAndFinals(o.Metrics)
	o.Peaks[recorder.TimeWaitLeader] = 77
	var s spec.Spec
	s.Cluster.Leader = 1
	m := Headline(s, o)
	if m.RenewalsPerS != 20 || m.IntervalP50Ms != 500 || m.IntervalP99Ms != 3500 || m.NewConnsPerS != 3 ||
		m.TimeWaitPeak != 77 || m.LeasesExpired != 4 || m.KeysLost != 8 || m.FirstExpiryS == nil || *m.FirstExpiryS != 1.5 {
		t.Errorf("headline: %+v", m)
	}
	if math.Abs(m.LeaderCPUMean-0.6) > 1e-12 || m.LeaderCPUPeak != 0.9 {
		t.Errorf("leader CPU (member 1): mean %v peak %v, want 0.6 0.9", m.LeaderCPUMean, m.LeaderCPUPeak)
	}
	s.Cluster.Raft = true
	if m := Headline(s, o); math.Abs(m.LeaderCPUMean-1.0/3) > 1e-12 || m.LeaderCPUPeak != 0.9 {
		t.Errorf("leader CPU (raft): mean %v peak %v, want 0.333 0.9", m.LeaderCPUMean, m.LeaderCPUPeak)
	}
}

// TestErrorsJSON: Errors read back what they write.
func TestErrorsJSON(t *testing.T) {
	e := Compare(Metrics{RenewalsPerS: 10, LeasesExpired: 3, FirstExpiryS: f64(4)}, Metrics{RenewalsPerS: 12, KeysLost: 2, FirstExpiryS: f64(5)})
	js, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	var back Errors
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	if back.Rel != e.Rel || back.StormAgrees != e.StormAgrees || back.KeysLostAgree != e.KeysLostAgree ||
		back.FirstExpiryS == nil || *back.FirstExpiryS != *e.FirstExpiryS {
		t.Errorf("round trip: %+v, want %+v", back, e)
	}
}
