package scripted_test

import (
	"testing"

	"github.com/leasesim/leasesim/clientmodel"
	"github.com/leasesim/leasesim/clientmodel/realclient"
	"github.com/leasesim/leasesim/clientmodel/scripted"
	"pgregory.net/rapid"
)

// Re-granting processes (Lease.Regrants) and processes with several leases
// (Lease.Others) against the real v3.7.3 lessor. Each family counts the
// leases of a result that were sent at least once, so that a script that
// never reaches its case fails instead of passing vacuously.

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

// othersSent counts the others of r that were sent at least once.
func othersSent(r scripted.Result) (n int) {
	for _, l := range r.Leases {
		for _, o := range l.Others {
			if len(o.Requests) > 0 {
				n++
			}
		}
	}
	return n
}

// matchReal replays s on the model and fails unless it equals the real
// v3.7.3 lessor's run to the nanosecond; it returns the real run.
func matchReal(t *testing.T, fatal func(...any), s scripted.Script) scripted.Result {
	v, err := clientmodel.ParseVersion(realclient.Version)
	if err != nil {
		fatal(err)
	}
	want := realclient.Run(t, s)
	got, err := scripted.Replay(s, v)
	if err != nil {
		fatal(err)
	}
	if d := scripted.Diff(want, got); d != "" {
		fatal("model differs from real " + realclient.Version + ":\n" + d)
	}
	return want
}

// matchCases: every hand-written script equals the real lessor, and every
// one of its leases of the family (all) was sent (sent).
func matchCases(t *testing.T, cases []scripted.Script, sent func(scripted.Result) int, all func(scripted.Script) int, what string) {
	for _, s := range cases {
		t.Run(s.Name, func(t *testing.T) {
			if n, all := sent(matchReal(t, t.Fatal, s)), all(s); n != all {
				t.Fatalf("only %d of %d %s were sent: the script misses its case", n, all, what)
			}
		})
	}
}

// matchGenerated is the differential test on scripts drawn from gen (250
// unless -rapid.checks, see TestMain); at least one drawn lease of the
// family must be sent.
func matchGenerated(t *testing.T, gen *rapid.Generator[scripted.Script], name string, sent func(scripted.Result) int, what string) {
	checks, n := 0, 0
	rapid.Check(t, func(rt *rapid.T) {
		s := gen.Draw(rt, "script")
		s.Name = name
		n += sent(matchReal(t, rt.Fatal, s))
		checks++
	})
	t.Logf("%d scripts, %d %s sent", checks, n, what)
	if n == 0 {
		t.Fatalf("no generated script sent any of its %s", what)
	}
}

// The hand-written regrant scripts: the model equals the real v3.7.3 lessor
// to the nanosecond, and every regrant of them is kept alive.
func TestRegrantCasesMatchRealClient(t *testing.T) {
	matchCases(t, scripted.RegrantCases(), regranted, func(s scripted.Script) int { return len(s.Leases[0].Regrants) }, "regrants")
}

// The differential test on generated re-granting processes (GenRegrant).
func TestRegrantMatchesRealClient(t *testing.T) {
	matchGenerated(t, scripted.GenRegrant(), "rapid-regrant", regranted, "regranted leases")
}

// The hand-written several-leases scripts: the model (clientmodel.Process)
// equals the real v3.7.3 lessor to the nanosecond.
func TestOthersCasesMatchRealClient(t *testing.T) {
	matchCases(t, scripted.OthersCases(), othersSent, func(s scripted.Script) int { return len(s.Leases[0].Others) }, "others")
}

// The differential test on generated processes with several leases (GenOthers).
func TestOthersMatchRealClient(t *testing.T) {
	matchGenerated(t, scripted.GenOthers(), "rapid-others", othersSent, "other leases")
}

// A Process keeping one lease at a time (the first, then each regrant as its
// next lease) does exactly what a Client does, under every version's rule,
// on the main, pace and regrant corpora.
func TestProcessKeepingOneLeaseIsAClient(t *testing.T) {
	for _, path := range []string{scriptsPath, paceScriptsPath, regrantScriptsPath} {
		scripts, err := scripted.LoadScripts(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{realclient.Version, "v3.3.8", "v3.3.9"} {
			v, err := clientmodel.ParseVersion(name)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range scripts {
				want, err := scripted.Replay(s, v)
				if err != nil {
					t.Fatal(err)
				}
				got, err := scripted.ReplayAsProcess(s, v)
				if err != nil {
					t.Fatal(err)
				}
				if d := scripted.Diff(want, got); d != "" {
					t.Errorf("%s %s: Process differs from Client:\n%s", path, s.Name, d)
				}
			}
		}
	}
}
