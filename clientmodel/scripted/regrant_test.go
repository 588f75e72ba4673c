package scripted_test

import (
	"testing"

	"github.com/leasesim/leasesim/clientmodel"
	"github.com/leasesim/leasesim/clientmodel/realclient"
	"github.com/leasesim/leasesim/clientmodel/scripted"
	"pgregory.net/rapid"
)

// regranted counts the regrants of r whose lease was sent at least once.
func regranted(r scripted.Result) (n int) {
	for _, l := range r.Leases {
		for _, g := range l.Regrants {
			if len(g.Requests) > 0 {
				n++
			}
		}
	}
	return n
}

// The hand-written regrant scripts: the model equals the real v3.7.3 lessor
// to the nanosecond, and every regrant of them is kept alive.
func TestRegrantCasesMatchRealClient(t *testing.T) {
	v, err := clientmodel.ParseVersion(realclient.Version)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range scripted.RegrantCases() {
		t.Run(s.Name, func(t *testing.T) {
			want := realclient.Run(t, s)
			got, err := scripted.Replay(s, v)
			if err != nil {
				t.Fatal(err)
			}
			if d := scripted.Diff(want, got); d != "" {
				t.Fatalf("model differs from real %s:\n%s", realclient.Version, d)
			}
			if n, all := regranted(want), len(s.Leases[0].Regrants); n != all {
				t.Fatalf("only %d of %d regrants were kept alive: the script misses its case", n, all)
			}
		})
	}
}

// TestRegrantMatchesRealClient is the differential test on generated
// re-granting processes (GenRegrant; 250 scripts unless -rapid.checks, see
// TestMain).
func TestRegrantMatchesRealClient(t *testing.T) {
	v, err := clientmodel.ParseVersion(realclient.Version)
	if err != nil {
		t.Fatal(err)
	}
	checks, regrants := 0, 0
	rapid.Check(t, func(rt *rapid.T) {
		s := scripted.GenRegrant().Draw(rt, "script")
		s.Name = "rapid-regrant"
		want := realclient.Run(t, s)
		got, err := scripted.Replay(s, v)
		if err != nil {
			rt.Fatal(err)
		}
		if d := scripted.Diff(want, got); d != "" {
			rt.Fatalf("model differs from real %s:\n%s", realclient.Version, d)
		}
		checks++
		regrants += regranted(want)
	})
	t.Logf("%d scripts, %d regranted leases kept alive", checks, regrants)
	if regrants == 0 {
		t.Fatal("no generated script got to a regrant")
	}
}
