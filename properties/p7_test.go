package properties

import (
	"flag"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/leasesim/leasesim/model"
)

// P7 holds on the honest lessor. Budget: 200 workloads (each a few ms).
func TestP7RevokeBacklogBound(t *testing.T) {
	gen := GenP7()
	withChecks(t, 200, func() {
		rapid.Check(t, func(rt *rapid.T) {
			c := gen.Draw(rt, "case")
			if bad := CheckP7(c, model.MutantNone); len(bad) > 0 {
				rt.Fatalf("P7 fails (%d violation(s)): %s", len(bad), bad[0])
			}
		})
	})
}

// P7 has teeth: a lessor that revokes half what its limit allows
// (revoke-half-rate) is caught, on a pass that left due leases behind.
func TestP7MutantCaught(t *testing.T) {
	gen := GenP7()
	var lastBad []string
	prop := func(rt *rapid.T) {
		c := gen.Draw(rt, "case")
		if bad := CheckP7(c, model.MutantRevokeHalfRate); len(bad) > 0 {
			lastBad = bad
			rt.Fatalf("P7 fails: %s", bad[0])
		}
	}
	rec := &recordingTB{name: t.Name()}
	old := flag.Lookup("rapid.nofailfile").Value.String()
	flag.Set("rapid.nofailfile", "true")
	defer flag.Set("rapid.nofailfile", old)
	withChecks(t, 200, func() { rapid.Check(rec, prop) })
	if !rec.Failed() || lastBad == nil {
		t.Fatalf("rapid found no counterexample to P7 with %s; its log:\n%s", model.MutantRevokeHalfRate, strings.Join(rec.lines, "\n"))
	}
	t.Logf("shrunk counterexample: %s", lastBad[0])
	if !strings.Contains(lastBad[0], "were due") {
		t.Errorf("the mutant's violation should be a pass that left due leases behind: %s", lastBad[0])
	}
}
