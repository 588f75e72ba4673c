package fidelity

import (
	"bytes"
	"strings"
	"testing"
)

// TestSummariseSeedNoise: the seed noise's figures are the next-seed runs'
// errors, a scenario is within noise when its fast |error| is at most the
// noise's (or under 1 %), and the report prints them beside the fast ones.
func TestSummariseSeedNoise(t *testing.T) {
	exact := Metrics{RenewalsPerS: 100, NewConnsPerS: 10, LeasesExpired: 5}
	result := func(name string, fast, next Metrics) Result {
		noise := Compare(exact, next)
		return Result{Name: name, Exact: exact, Fast: fast, Errors: Compare(exact, fast), NextSeed: &next, Noise: &noise}
	}
	rs := []Result{
		// fast 20 % off on new conns, the next seed 50 %: within noise
		result("a", Metrics{RenewalsPerS: 100, NewConnsPerS: 12, LeasesExpired: 5}, Metrics{RenewalsPerS: 100, NewConnsPerS: 15, LeasesExpired: 5}),
		// fast 100 % off, the next seed 10 %: beyond; the next seed loses no lease
		result("b", Metrics{RenewalsPerS: 100.5, NewConnsPerS: 20, LeasesExpired: 5}, Metrics{RenewalsPerS: 100, NewConnsPerS: 11, LeasesExpired: 0}),
		// fast 5 % off, the next seed 30 %: within noise
		result("d", Metrics{RenewalsPerS: 100, NewConnsPerS: 10.5, LeasesExpired: 5}, Metrics{RenewalsPerS: 100, NewConnsPerS: 13, LeasesExpired: 5}),
		// a report from before the seed noise: left out of it
		{Name: "c", Exact: exact, Fast: exact, Errors: Compare(exact, exact)},
	}
	s := Summarise(rs)
	if s.NoiseN != 3 {
		t.Fatalf("NoiseN %d, want 3", s.NoiseN)
	}
	if got := s.WithinNoise[NewConnsPerS]; got != 2 {
		t.Errorf("within noise on new conns/s: %d, want 2 (a, d)", got)
	}
	if got := s.WithinNoise[RenewalsPerS]; got != 3 {
		t.Errorf("within noise on renewals/s: %d, want 3 (errors of 0 and 0.5 %%, under 1 %%)", got)
	}
	if got := s.NoiseRel[NewConnsPerS].Max; got != 0.5 {
		t.Errorf("noise max on new conns/s: %v, want 0.5", got)
	}
	if s.NoiseStormAgree != 2 || s.StormAgree != 4 {
		t.Errorf("storm verdicts: noise %d/3, fast %d/4; want 2 and 4", s.NoiseStormAgree, s.StormAgree)
	}
	var md bytes.Buffer
	Report(&md, rs, "")
	for _, want := range []string{"| new conns/s | 1 | 4 | 5.0% / 30.0% | 100.0% / 50.0% | 100.0% / 50.0% | 2/3 |",
		"between the exact mode's two seeds, storm on 2/3", "| exact, next seed | seed noise |"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, md.String())
		}
	}
}
