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
// shrinks the case (usually to one lease and one or two leader changes;
// shrinking is a search bounded in time here, so the size is logged, not
// asserted). The violation must be the mutant's: a lease kept too long, never
// one revoked before its TTL.
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
	t.Logf("shrunk to %d lease(s) and %d leader change(s)", last.Clients.Count, len(last.Faults))
	for _, v := range lastBad {
		if strings.Contains(v, "before its TTL") {
			t.Errorf("the mutant keeps leases longer; it cannot revoke one early: %s", v)
		}
	}
}
