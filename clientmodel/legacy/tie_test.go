package main

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var measureTies = flag.Bool("measure-ties", false, "rerun the scan/response tie measurement on the linked library and rewrite ../scripted/testdata/tie-odds-<version>.json")

// tieRuns is how many times the measurement runs TieCase (~650 ties each).
const tieRuns = 40

// TestMeasureTieOdds (-measure-ties) runs TieCase tieRuns times on the real
// v3.3.8 (go.mod) or v3.3.9 (-modfile=go.v339.mod) client and saves how often
// the 500 ms scan won its race with a response landing on it. The main module
// replays the files (scripted.TestTieRuleFollowsMeasuredOdds).
func TestMeasureTieOdds(t *testing.T) {
	if !*measureTies {
		t.Skip("-measure-ties rewrites ../scripted/testdata/tie-odds-<version>.json")
	}
	v := version(t)
	sc := TieCase()
	o := TieOdds{Version: v, Script: sc.Name, Runs: tieRuns}
	for range tieRuns {
		r := RunScript(t, sc, v)
		c := CountTies(sc, r)
		o.Ties += c.Ties
		o.ScanFirst += c.ScanFirst
		o.Requests = append(o.Requests, len(Expand(r.Leases[0].Requests)))
	}
	b, err := json.MarshalIndent(o, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(goldenDir, "tie-odds-"+v+".json")
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: the scan won %d of %d ties (%.2f %%)", v, o.ScanFirst, o.Ties, 100*float64(o.ScanFirst)/float64(o.Ties))
}

// The saved odds still describe the linked library: 4 fresh runs of TieCase
// (~2,700 ties) give the scan's share of the saved measurement within 5
// points (~5 standard deviations at a coin toss).
func TestTieOddsStillHold(t *testing.T) {
	v := version(t)
	b, err := os.ReadFile(filepath.Join(goldenDir, "tie-odds-"+v+".json"))
	if err != nil {
		t.Fatalf("%v (measure it: go test -run TestMeasureTieOdds%s . -args -measure-ties)", err, modfileFlag(v))
	}
	var saved TieOdds
	if err := json.Unmarshal(b, &saved); err != nil {
		t.Fatal(err)
	}
	sc := TieCase()
	var c TieCount
	for range 4 {
		n := CountTies(sc, RunScript(t, sc, v))
		c.Ties += n.Ties
		c.ScanFirst += n.ScanFirst
	}
	share := float64(c.ScanFirst) / float64(c.Ties)
	want := float64(saved.ScanFirst) / float64(saved.Ties)
	t.Logf("%s: the scan won %d of %d ties (%.1f %%; saved: %.2f %%)", v, c.ScanFirst, c.Ties, 100*share, 100*want)
	if share < want-0.05 || share > want+0.05 {
		t.Fatalf("%s: the scan won %.1f %% of the ties; the saved measurement says %.2f %%", v, 100*share, 100*want)
	}
}
