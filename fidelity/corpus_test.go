package fidelity

import (
	"github.com/leasesim/leasesim/spec"
	"testing"
)

// TestCorpus: at least 50 scenarios, each valid in both modes, of 1-3
// virtual minutes, with unique names.
func TestCorpus(t *testing.T) {
	c := Corpus()
	if len(c) < 50 {
		t.Errorf("corpus has %d scenarios, want >= 50", len(c))
	}
	names := map[string]bool{}
	for _, s := range c {
		if names[s.Name] {
			t.Errorf("%s: name twice", s.Name)
		}
		names[s.Name] = true
		if d := s.Duration.D(); d < 60e9 || d > 180e9 {
			t.Errorf("%s: duration %v, want 1-3 min", s.Name, d)
		}
		if err := s.Validate(); err != nil {
			t.Errorf("%s: %v", s.Name, err)
		}
		if err := Fast(s).Validate(); err != nil {
			t.Errorf("%s (fast): %v", s.Name, err)
		}
	}
}

// scenarioNamed is the corpus scenario called name.
func scenarioNamed(t *testing.T, name string) spec.Spec {
	t.Helper()
	for _, s := range Corpus() {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no corpus scenario %q", name)
	return spec.Spec{}
}
