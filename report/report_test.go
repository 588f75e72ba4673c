package report

import (
	"bytes"
	"context"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leasesim/leasesim/scenario"
	"github.com/leasesim/leasesim/spec"
	"github.com/leasesim/leasesim/sweep"
)

// hostile is a scenario name and description a user might write, with markup in it.
const hostile = `tiny <script>alert("x")</script> & "co"`

// apply is the CLI's flag -> field mapping.
var apply = spec.ApplyFlag

func tiny() spec.Spec {
	return spec.Spec{
		Name: hostile, Description: "Description with <b>markup</b> & <img src=x onerror=alert(1)>.",
		Seed: 3, Duration: spec.Duration(time.Minute), Server: spec.ServerCluster,
		Clients: spec.ClientsSpec{Count: 800, TTL: spec.Duration(5 * time.Second), Version: "v3.2.23",
			Consumer: "never", StartSpread: spec.Duration(5 * time.Second)},
		Cluster: spec.ClusterSpec{Members: 3, Cores: 0.5},
	}
}

// smallInput: a tiny cluster, the fixed client as a what-if, and a knee
// search over the client version, with two seeds. Made once: the knee
// search is the slow part, and the tests only read it.
func smallInput(t testing.TB) Input {
	smallOnce.Do(func() { smallIn, smallErr = makeSmallInput() })
	if smallErr != nil {
		t.Fatal(smallErr)
	}
	in := smallIn
	in.WhatIfs = slices.Clone(in.WhatIfs)
	return in
}

var (
	smallOnce sync.Once
	smallIn   Input
	smallErr  error
)

func makeSmallInput() (Input, error) {
	base := tiny()
	var err error
	run := func(label string, s spec.Spec) Run {
		o, e := scenario.Run(context.Background(), s, nil)
		if e != nil {
			err = e
		}
		return Run{Label: label, Spec: s, Outcome: o}
	}
	fixed := base
	fixed.Clients.Version = "v3.7.3"
	kr, kerr := sweep.Knees(context.Background(), sweep.KneeConfig{
		Config: sweep.Config{Base: base, Grid: sweep.Grid{{Flag: "client-version", Values: []string{"v3.2.23", "v3.7.3"}}}, Apply: apply},
		At:     800, Tolerance: 0.05, Max: 20000, Seeds: 2,
	})
	if kerr != nil {
		return Input{}, kerr
	}
	in := Input{Base: run("base", base), WhatIfs: []Run{run(`client-version=v3.7.3 <i>`, fixed)}, Sweep: &kr,
		Command: `leasesim report --scenario "<x>"`}
	return in, err
}

func renderString(t testing.TB, in Input) string {
	var b bytes.Buffer
	if err := Render(&b, in); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestReportEscapesAndIsSelfContained(t *testing.T) {
	in := smallInput(t)
	html := renderString(t, in)
	for _, bad := range []string{"<script", "<img", "<b>markup", "<i>", `"<x>"`} {
		if strings.Contains(html, bad) {
			t.Errorf("report contains unescaped %q", bad)
		}
	}
	if !strings.Contains(html, "tiny &lt;script&gt;") {
		t.Error("the scenario name is not in the report, escaped")
	}
	// Nothing fetched: no src/href attributes, no url(), no @import.
	if m := regexp.MustCompile(`(?i)<[^>]*\s(src|href|xlink:href)\s*=|url\(|@import`).FindString(html); m != "" {
		t.Errorf("report refers to an external resource: %q", m)
	}
	// Every chart is one inline SVG.
	figs := strings.Count(html, `<figure class="chart"`)
	svgs := strings.Count(html, "<svg")
	if figs < 10 || figs != svgs {
		t.Errorf("%d chart figures, %d inline SVGs", figs, svgs)
	}
	for _, id := range []string{"renewals", "leader-cpu", "queue-memory", "handshakes", "keys-lost", "conn-states-0", "conn-states-1", "intervals", "sweep-cpu", "sweep-keys"} {
		if !strings.Contains(html, `id="chart-`+id) {
			t.Errorf("chart %s missing", id)
		}
	}
	// Legends sit in their own strip, outside the plot; one sans font.
	if strings.Count(html, `<g class="legend"`) != figs || strings.Contains(html, "Serif") {
		t.Error("a chart without its legend strip, or a serif font")
	}
	// Deterministic.
	if again := renderString(t, in); again != html {
		t.Error("two renders of the same input differ")
	}
}

func TestVerdictSentence(t *testing.T) {
	in := smallInput(t)
	v := Verdict(in)
	t.Log(v)
	k := in.Sweep.Knees
	for _, want := range []string{"could have carried", "the buggy client v3.2.23", "the fixed client v3.7.3",
		"about " + count(int64(k[0].MaxClients)), "about " + count(int64(k[1].MaxClients)), "under 70 %"} {
		if !strings.Contains(v, want) {
			t.Errorf("verdict lacks %q: %s", want, v)
		}
	}
	if strings.Count(v, ". ") > 0 || !strings.HasSuffix(v, ".") {
		t.Errorf("verdict is not one sentence: %s", v)
	}
	// Without a knee search: the runs.
	in.Sweep = nil
	v = Verdict(in)
	if !strings.Contains(v, "800 clients on buggy v3.2.23") || !strings.Contains(v, "with client-version=v3.7.3 <i>, 800 clients on fixed v3.7.3 hold") {
		t.Errorf("verdict without knees: %s", v)
	}
}

// A grid sweep (not a knee search) draws curves over clients with the knee ringed.
func TestSweepCurves(t *testing.T) {
	base := tiny()
	r, err := sweep.Run(context.Background(), sweep.Config{Base: base, Apply: apply,
		Grid: sweep.Grid{{Flag: "clients", Values: []string{"200", "1000", "3000"}}, {Flag: "client-version", Values: []string{"v3.2.23", "v3.7.3"}}}})
	if err != nil {
		t.Fatal(err)
	}
	cs := curves(r)
	if len(cs) != 2 || cs[0].name != "client-version=v3.2.23" || len(cs[0].clients) != 3 {
		t.Fatalf("curves: %+v", cs)
	}
	if cs[0].knee >= cs[1].knee && cs[1].knee != 0 {
		t.Errorf("buggy knee %d >= fixed knee %d", cs[0].knee, cs[1].knee)
	}
	ch, err := sweepCharts(r, 0.7)
	if err != nil || len(ch) != 3 {
		t.Fatalf("sweep charts: %d, %v", len(ch), err)
	}
	if !strings.Contains(string(ch[0].SVG), "knee client-version=v3.2.23") {
		t.Error("the knee is not marked in the legend")
	}
}

// A knee search's probes are points, not lines, and its metastable band is
// shaded, named in the legend, the table and the verdict.
func TestKneeBandShaded(t *testing.T) {
	probe := func(n int, verdict string, cpu float64) sweep.Row {
		return sweep.Row{Values: map[string]string{"clients": strconv.Itoa(n), "client-version": "v3.7.3"}, Verdict: verdict, LeaderCPUPeak: cpu}
	}
	k := sweep.Knee{Values: map[string]string{"client-version": "v3.7.3"}, MaxClients: 80_000, Bracketed: true, FirstFail: 90_000, At: 20_000,
		Headroom: 3, FirstSaturating: "leader CPU on TLS handshakes", Seeds: []uint64{1, 2}, HorizonS: 100, MarginS: 30,
		LowestFail: 90_000, HighestPass: 100_000, Metastable: true, BandLow: 90_000, BandHigh: 100_000,
		Points: []sweep.KneePoint{{Clients: 80_000, Seeds: 2, Class: "pass"}, {Clients: 90_000, Seeds: 2, Failed: 2, FailFraction: 1, Class: "fail"},
			{Clients: 100_000, Seeds: 2, Failed: 1, FailFraction: 0.5, Class: "metastable"}, {Clients: 120_000, Seeds: 2, Failed: 2, FailFraction: 1, Class: "fail"}},
		Probes: []sweep.Row{probe(80_000, "ok", 0.5), probe(80_000, "ok", 0.52), probe(90_000, "fail", 1), probe(90_000, "fail", 1),
			probe(100_000, "ok", 0.65), probe(100_000, "fail", 0.8), probe(120_000, "fail", 1), probe(120_000, "fail", 1)}}
	r := sweep.Result{Scenario: "s", CPUTarget: 0.7, Grid: sweep.Grid{{Flag: "client-version", Values: []string{"v3.7.3"}}}, GridSize: 1, Knees: []sweep.Knee{k}}
	ch, err := sweepCharts(r, 0.7)
	if err != nil || len(ch) != 3 {
		t.Fatalf("sweep charts: %d, %v", len(ch), err)
	}
	svg := string(ch[0].SVG)
	if !strings.Contains(svg, "metastable: 90,000 – 100,000") || !strings.Contains(svg, "fill-opacity:0.2") {
		t.Errorf("the band is not shaded and named:\n%.3000s", svg)
	}
	if !strings.Contains(ch[0].Caption, "metastable band") {
		t.Errorf("caption: %s", ch[0].Caption)
	}
	// Points only: no polyline through the 8 probes (a line would be one
	// path with 7 segments).
	if regexp.MustCompile(`d="M[^"]*(L[^"]*){7}"`).MatchString(svg) {
		t.Error("the probes are joined by a line")
	}
	in := smallInput(t)
	in.Sweep = &r
	html := renderString(t, in)
	for _, want := range []string{"90,000 – 100,000", "100,000: 1/2", "failing seeds by clients", "metastable from 90,000 to 100,000 clients"} {
		if !strings.Contains(html, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

// The footer names the version, commit, date and command; a print
// stylesheet is there.
func TestFooterAndPrint(t *testing.T) {
	in := smallInput(t)
	in.Version, in.Commit, in.Date = "v1.2.3", "abcdef012345", "2026-01-01"
	html := renderString(t, in)
	for _, want := range []string{"leasesim v1.2.3 (commit abcdef012345) on 2026-01-01", "Command: <code>leasesim report --scenario &#34;&lt;x&gt;&#34;</code>", "@media print"} {
		if !strings.Contains(html, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

// Ticks: a 180 s time axis every 30 s; thousands separators; no needless decimals.
func TestTicks(t *testing.T) {
	var labels []string
	for _, tk := range (timeTicks{}).Ticks(0, 180) {
		if tk.Label != "" {
			labels = append(labels, tk.Label)
		}
	}
	if strings.Join(labels, " ") != "0 30 60 90 120 150 180" {
		t.Errorf("180 s: %v", labels)
	}
	labels = nil
	for _, tk := range (timeTicks{}).Ticks(0, 3600) {
		if tk.Label != "" {
			labels = append(labels, tk.Label)
		}
	}
	if strings.Join(labels, " ") != "0 600 1,200 1,800 2,400 3,000 3,600" {
		t.Errorf("1 h: %v", labels)
	}
	for _, c := range []struct {
		v, step float64
		want    string
	}{{50, 10, "50"}, {160000, 20000, "160,000"}, {0.5, 0.25, "0.5"}, {1.25, 0.25, "1.25"}} {
		if got := numLabel(c.v, c.step); got != c.want {
			t.Errorf("numLabel(%v, %v) = %q, want %q", c.v, c.step, got, c.want)
		}
	}
	labels = nil
	for _, tk := range (logTicks{}).Ticks(100, 160000) {
		labels = append(labels, tk.Label)
	}
	if strings.Join(labels, " ") != "100 200 500 1,000 2,000 5,000 10,000 20,000 50,000 100,000" {
		t.Errorf("log ticks: %v", labels)
	}
}

// A report of fast-mode runs says so, with the cohort, where the settings
// are read; an exact one has no such row.
func TestReportNamesFastMode(t *testing.T) {
	in := smallInput(t)
	if html := renderString(t, in); strings.Contains(html, "<th>fidelity</th>") {
		t.Error("an exact report has a fidelity row")
	}
	in.Base.Spec.Fidelity, in.Base.Spec.Cohort = spec.FidelityFast, 8
	html := renderString(t, in)
	if want := "<th>fidelity</th><td>fast (cohorts of 8: 100 simulated clients for 800): an approximation"; !strings.Contains(html, want) {
		t.Errorf("a fast report lacks %q", want)
	}
}
