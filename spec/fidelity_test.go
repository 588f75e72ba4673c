package spec_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/leasesim/leasesim/sim"
	"github.com/leasesim/leasesim/spec"
)

// fidelity and cohort: what is accepted, what the run simulates, and errors
// that name the field and what it allows.
func TestFidelityResolve(t *testing.T) {
	base := func() spec.Spec {
		s, err := spec.Parse([]byte(hardeningBase), "test")
		if err != nil {
			t.Fatal(err)
		}
		s.Clients.Count = 20_000
		return s
	}
	cases := []struct {
		fidelity        string
		cohort          int
		clients, weight int
		maxIdle         int
	}{
		{"", 0, 20_000, 1, 1024},
		{"exact", 0, 20_000, 1, 1024},
		{"fast", 0, 5000, 4, 1024}, // AutoCohort: 20,000/500 = 40, but FastLump on 2 cores allows 4 handshakes
		{"fast", 7, 2857, 7, 1024},
		{"fast", 1, 20_000, 1, 1024},
	}
	for _, c := range cases {
		s := base()
		s.Fidelity, s.Cohort = c.fidelity, c.cohort
		r, err := s.Resolve()
		if err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
		k := r.Cluster
		if k.Clients != c.clients || k.Cohort != c.weight || k.MaxIdle != c.maxIdle || k.Fast != (c.fidelity == "fast") {
			t.Errorf("%s/%d: clients %d cohort %d max idle %d fast %v; want %d %d %d", c.fidelity, c.cohort, k.Clients, k.Cohort, k.MaxIdle, k.Fast, c.clients, c.weight, c.maxIdle)
		}
	}
	bad := []struct {
		edit func(*spec.Spec)
		want string
	}{
		{func(s *spec.Spec) { s.Fidelity = "quick" }, `fidelity: "quick" is not allowed; allowed: exact, fast`},
		{func(s *spec.Spec) { s.Cohort = 10 }, "cohort: 10 is set, but the fidelity is exact"},
		{func(s *spec.Spec) { s.Fidelity, s.Cohort = "fast", -1 }, "cohort: -1 is out of range; allowed 0"},
		{func(s *spec.Spec) { s.Fidelity, s.Cohort = "fast", 30_000 }, "cohort: 30000 is more than the 20,000 clients"},
		{func(s *spec.Spec) {
			s.Fidelity, s.Clients.Kind, s.Clients.WriteRate = "fast", spec.ClientEventWriter, 10
		}, "fidelity: fast does not take clients.kind event-writer"},
		{func(s *spec.Spec) { s.Fidelity, s.Server, s.Cluster = "fast", spec.ServerIdeal, spec.ClusterSpec{} }, "fidelity: fast needs the cluster server"},
	}
	for _, b := range bad {
		s := base()
		b.edit(&s)
		if _, err := s.Resolve(); err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("want %q, got %v", b.want, err)
		}
	}
	// The chosen cohort: the built-in incident (4 cores, handshakes at 1.6x:
	// 5 fit in FastLump), a million clients on 64 cores (132), the same with
	// HTTP/2 (no handshake per forward: 40,000/500 caps it), TLS off.
	auto := []struct {
		edit func(*spec.Spec)
		want int
	}{
		{func(s *spec.Spec) {}, 5},
		{func(s *spec.Spec) { s.Clients.Count, s.Cluster.Cores, s.Costs.TLSFactor = 1_000_000, 64, 1 }, 132},
		{func(s *spec.Spec) { s.Cluster.Transport = "http2" }, 40},
		{func(s *spec.Spec) { s.Cluster.TLS = "off" }, 40},
	}
	for i, a := range auto {
		s, err := spec.Builtin("incident-2018")
		if err != nil {
			t.Fatal(err)
		}
		s.Fidelity = spec.FidelityFast
		a.edit(&s)
		r, err := s.Resolve()
		if err != nil {
			t.Fatal(err)
		}
		if r.Cluster.Cohort != a.want {
			t.Errorf("auto cohort %d: %d, want %d", i, r.Cluster.Cohort, a.want)
		}
	}
	for _, flag := range []string{"fast", "fidelity"} {
		s := base()
		v := map[string]string{"fast": "true", "fidelity": "fast"}[flag]
		if err := spec.ApplyFlag(&s, flag, v); err != nil || s.Fidelity != spec.FidelityFast {
			t.Errorf("--%s %s: %v, fidelity %q", flag, v, err, s.Fidelity)
		}
	}
}

// A fast run's start times are stratified: one in each of n equal strata
// of the spread, on the start grain, in order, from the seed alone.
func TestStratifiedStartTimes(t *testing.T) {
	const n = 500
	spread := 60 * time.Second
	starts := spec.StratifiedStartTimes(7, n, spread)
	stratum := spread / n
	for i, s := range starts {
		lo, hi := sim.Time(i)*sim.Time(stratum), sim.Time(i+1)*sim.Time(stratum)
		if s < lo-sim.Time(spec.StartResolution) || s >= hi || s%sim.Time(spec.StartResolution) != 0 {
			t.Fatalf("start %d at %v, outside its stratum [%v, %v) or off the %v grain", i, time.Duration(s), time.Duration(lo), time.Duration(hi), spec.StartResolution)
		}
	}
	if again := spec.StratifiedStartTimes(7, n, spread); !slices.Equal(again, starts) {
		t.Error("not a function of the seed")
	}
	if other := spec.StratifiedStartTimes(8, n, spread); slices.Equal(other, starts) {
		t.Error("another seed draws the same starts")
	}
}
