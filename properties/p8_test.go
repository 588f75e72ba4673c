package properties

import (
	"flag"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/leasesim/leasesim/model"
	"github.com/leasesim/leasesim/spec"
)

// P8 holds on the honest model of the fixed releases. Budget: 100 runs.
func TestP8NoRevokeFromDeposedLeader(t *testing.T) {
	gen := GenP8()
	withChecks(t, 100, func() {
		rapid.Check(t, func(rt *rapid.T) {
			s := gen.Draw(rt, "scenario")
			bad, err := RunP8(s, model.MutantNone)
			if err != nil {
				rt.Fatal(err)
			}
			if len(bad) > 0 {
				rt.Fatalf("P8 fails (%d revocation(s)): %s", len(bad), bad[0])
			}
		})
	})
}

// P8 has teeth: a server that skips the leadership check (deposed-revoke)
// is caught, and rapid shrinks the failure to a stall longer than the time
// the deposed lessor's stale table takes to find a lease expired.
func TestP8MutantCaught(t *testing.T) {
	gen := GenP8()
	var lastBad []string
	prop := func(rt *rapid.T) {
		s := gen.Draw(rt, "scenario")
		bad, err := RunP8(s, model.MutantDeposedRevoke)
		if err != nil {
			rt.Fatal(err)
		}
		if len(bad) > 0 {
			lastBad = bad
			rt.Fatalf("P8 fails: %s", bad[0])
		}
	}
	rec := &recordingTB{name: t.Name()}
	old := flag.Lookup("rapid.nofailfile").Value.String()
	flag.Set("rapid.nofailfile", "true")
	defer flag.Set("rapid.nofailfile", old)
	withChecks(t, 100, func() { rapid.Check(rec, prop) })
	if !rec.Failed() || lastBad == nil {
		t.Fatalf("rapid found no counterexample to P8 with %s; its log:\n%s", model.MutantDeposedRevoke, strings.Join(rec.lines, "\n"))
	}
	t.Logf("shrunk counterexample: %s\n%s", lastBad[0], strings.Join(rec.lines, "\n"))
	if !strings.Contains(lastBad[0], "before its TTL ran out") {
		t.Errorf("the mutant's violation should be a revocation of a renewed lease: %s", lastBad[0])
	}
}

// P8 states the fix: on the release before it (etcd 3.5.12,
// spec/builtin/lease-deposed-leader.yaml) the honest model fails it for
// every lease, on the fixed one (3.5.13) it holds.
func TestP8FailsBeforeTheFix(t *testing.T) {
	s, err := spec.Builtin("lease-deposed-leader")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		etcd string
		want int
	}{{"3.5.12", 1000}, {"3.5.13", 0}} {
		etcd, want := c.etcd, c.want
		s := s
		s.Cluster.EtcdVersion = etcd
		bad, err := RunP8(s, model.MutantNone)
		if err != nil {
			t.Fatal(err)
		}
		if len(bad) != want {
			t.Errorf("etcd %s: %d revocation(s) break P8, want %d", etcd, len(bad), want)
		}
	}
}
