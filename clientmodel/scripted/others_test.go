package scripted_test

import (
	"testing"

	"github.com/leasesim/leasesim/clientmodel"
	"github.com/leasesim/leasesim/clientmodel/realclient"
	"github.com/leasesim/leasesim/clientmodel/scripted"
	"pgregory.net/rapid"
)

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

// The hand-written several-leases scripts: the model (clientmodel.Process)
// equals the real v3.7.3 lessor to the nanosecond.
func TestOthersCasesMatchRealClient(t *testing.T) {
	v, err := clientmodel.ParseVersion(realclient.Version)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range scripted.OthersCases() {
		t.Run(s.Name, func(t *testing.T) {
			want := realclient.Run(t, s)
			got, err := scripted.Replay(s, v)
			if err != nil {
				t.Fatal(err)
			}
			if d := scripted.Diff(want, got); d != "" {
				t.Fatalf("model differs from real %s:\n%s", realclient.Version, d)
			}
			if n, all := othersSent(want), len(s.Leases[0].Others); n != all {
				t.Fatalf("only %d of %d others were sent: the script misses its case", n, all)
			}
		})
	}
}

// TestOthersMatchRealClient is the differential test on generated processes
// with several leases (GenOthers; 250 scripts unless -rapid.checks).
func TestOthersMatchRealClient(t *testing.T) {
	v, err := clientmodel.ParseVersion(realclient.Version)
	if err != nil {
		t.Fatal(err)
	}
	checks, sent := 0, 0
	rapid.Check(t, func(rt *rapid.T) {
		s := scripted.GenOthers().Draw(rt, "script")
		s.Name = "rapid-others"
		want := realclient.Run(t, s)
		got, err := scripted.Replay(s, v)
		if err != nil {
			rt.Fatal(err)
		}
		if d := scripted.Diff(want, got); d != "" {
			rt.Fatalf("model differs from real %s:\n%s", realclient.Version, d)
		}
		checks++
		sent += othersSent(want)
	})
	t.Logf("%d scripts, %d other leases sent", checks, sent)
	if sent == 0 {
		t.Fatal("no generated script sent an other lease")
	}
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
