package properties

import (
	"flag"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/leasesim/leasesim/model"
	"github.com/leasesim/leasesim/spec"
)

// P6 holds on the honest model: with checkpointing, leader churn delays an
// unrenewed lease's revocation by at most P6Slack per leader change.
// Budget: 100 scenarios (each well under 0.1 s).
func TestP6CheckpointedExpiryBound(t *testing.T) {
	gen := GenP6()
	withChecks(t, 100, func() {
		rapid.Check(t, func(rt *rapid.T) {
			s := gen.Draw(rt, "spec")
			bad, err := RunP6(s, model.MutantNone)
			if err != nil {
				rt.Fatal(err)
			}
			if len(bad) > 0 {
				rt.Fatalf("P6 fails (%d lease(s)): %s\n%s", len(bad), bad[0], specYAML(s))
			}
		})
	})
}

// P6 has teeth: with Promote giving full TTLs again (the mutant; etcd
// without checkpoints), rapid finds a lease that outlives the bound, and
// shrinks it to one lease and one or two leader changes (shrinking is a
// search: it does not always reach the single change that suffices).
func TestP6MutantCaughtAndShrunk(t *testing.T) {
	gen := GenP6()
	var last spec.Spec
	var lastBad []string
	prop := func(rt *rapid.T) {
		s := gen.Draw(rt, "spec")
		bad, err := RunP6(s, model.MutantPromoteFullTTL)
		if err != nil {
			rt.Fatal(err)
		}
		if len(bad) > 0 {
			last, lastBad = s, bad
			rt.Fatalf("P6 fails: %s", bad[0])
		}
	}
	rec := &recordingTB{name: t.Name()}
	old := flag.Lookup("rapid.nofailfile").Value.String()
	flag.Set("rapid.nofailfile", "true")
	defer flag.Set("rapid.nofailfile", old)
	oldShrink := flag.Lookup("rapid.shrinktime").Value.String()
	flag.Set("rapid.shrinktime", "10s") // bounds the test's time; the case is small by then
	defer flag.Set("rapid.shrinktime", oldShrink)
	withChecks(t, 100, func() { rapid.Check(rec, prop) })
	if !rec.Failed() || lastBad == nil {
		t.Fatalf("rapid found no counterexample to P6 with %s; its log:\n%s", model.MutantPromoteFullTTL, strings.Join(rec.lines, "\n"))
	}
	t.Logf("shrunk: %s\n%s", lastBad[0], specYAML(last))
	if last.Clients.Count != 1 || len(last.Faults) > 2 {
		t.Errorf("shrunk case has %d leases and %d leader changes, want 1 and at most 2", last.Clients.Count, len(last.Faults))
	}
}
