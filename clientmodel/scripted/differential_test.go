package scripted_test

import (
	"testing"

	"github.com/leasesim/leasesim/clientmodel"
	"github.com/leasesim/leasesim/clientmodel/realclient"
	"github.com/leasesim/leasesim/clientmodel/scripted"
	"pgregory.net/rapid"
)

// TestModelMatchesRealClient is the differential test against the real
// go.etcd.io/etcd/client/v3: on generated scripts (250 by default; set
// -rapid.checks), the model's per-lease request timeline, consumer reads and
// close must equal the real library's, to the nanosecond of virtual time.
func TestModelMatchesRealClient(t *testing.T) {
	v, err := clientmodel.ParseVersion(realclient.Version)
	if err != nil {
		t.Fatal(err)
	}
	gen := scripted.Gen()
	rapid.Check(t, func(rt *rapid.T) {
		s := gen.Draw(rt, "script")
		s.Name = "rapid"
		want := realclient.Run(t, s)
		got, err := scripted.Replay(s, v)
		if err != nil {
			rt.Fatal(err)
		}
		if d := scripted.Diff(want, got); d != "" {
			rt.Fatalf("model differs from real %s:\n%s", realclient.Version, d)
		}
	})
}

// The same comparison fails when the model is given the pre-fix rule: the real
// v3.7.3 client is told apart from the buggy one on the committed corpus.
func TestRealClientIsNotThePreFixModel(t *testing.T) {
	scripts, err := scripted.LoadScripts(scriptsPath)
	if err != nil {
		t.Fatal(err)
	}
	wrong, _ := clientmodel.ParseVersion("v3.3.8")
	differ := 0
	n := 60
	for _, s := range scripts[:n] {
		got, err := scripted.Replay(s, wrong)
		if err != nil {
			t.Fatal(err)
		}
		if scripted.Diff(realclient.Run(t, s), got) != "" {
			differ++
		}
	}
	t.Logf("pre-fix model differs from real %s on %d of %d scripts", realclient.Version, differ, n)
	if differ == 0 {
		t.Fatal("the differential test cannot tell the pre-fix rule from the real client")
	}
}
