package scripted_test

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/leasesim/leasesim/clientmodel/realclient"
	"github.com/leasesim/leasesim/clientmodel/scripted"
)

var measureTies = flag.Bool("measure-ties", false, "rerun the scan/response tie measurement on the real v3.7.3 client and rewrite testdata/tie-odds-v3.7.3.json")

// tieRuns is how many times the measurement runs TieCase (~650 ties each).
const tieRuns = 40

func tieOddsPath(version string) string {
	return filepath.Join("testdata", "tie-odds-"+version+".json")
}

func loadTieOdds(t *testing.T, version string) scripted.TieOdds {
	t.Helper()
	b, err := os.ReadFile(tieOddsPath(version))
	if err != nil {
		t.Fatal(err)
	}
	var o scripted.TieOdds
	if err := json.Unmarshal(b, &o); err != nil {
		t.Fatalf("%s: %v", tieOddsPath(version), err)
	}
	return o
}

// TestMeasureTieOdds (-measure-ties) runs TieCase tieRuns times on the real
// v3.7.3 client under synctest and saves how often the scan won the race.
// The legacy module does the same for v3.3.8 and v3.3.9 (its -measure-ties).
func TestMeasureTieOdds(t *testing.T) {
	if !*measureTies {
		t.Skip("-measure-ties rewrites testdata/tie-odds-v3.7.3.json")
	}
	s := scripted.TieCase()
	o := scripted.TieOdds{Version: realclient.Version, Script: s.Name, Runs: tieRuns}
	for range tieRuns {
		r := realclient.Run(t, s)
		c := scripted.CountTies(s, r)
		o.Ties += c.Ties
		o.ScanFirst += c.ScanFirst
		o.Requests = append(o.Requests, len(scripted.Expand(r.Leases[0].Requests)))
	}
	b, err := json.MarshalIndent(o, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tieOddsPath(o.Version), append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: the scan won %d of %d ties (%.2f %%)", o.Version, o.ScanFirst, o.Ties, 100*float64(o.ScanFirst)/float64(o.Ties))
}
