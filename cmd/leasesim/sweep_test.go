package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The sweep, merge and report commands end to end on a small scenario:
// sharded + merged == unsharded, and a report is written.
func TestSweepMergeReportCommands(t *testing.T) {
	dir := t.TempDir()
	common := []string{"sweep", "--scenario", "calibration-500", "--duration", "1m", "--set", "cores=0.5",
		"--grid", "clients=100,300,600", "--grid", "client-version=v3.2.23,v3.7.3", "--set", "consumer=never", "-j", "2"}
	whole := filepath.Join(dir, "whole.json")
	if _, stderr, code := runChild(t, "2", append(common, "--out", whole)...); code != 0 {
		t.Fatalf("sweep: exit %d: %s", code, stderr)
	}
	var parts []string
	for _, s := range []string{"0/2", "1/2"} {
		p := filepath.Join(dir, "part"+s[:1]+".json")
		if _, stderr, code := runChild(t, "1", append(common, "--shard", s, "--out", p)...); code != 0 {
			t.Fatalf("sweep --shard %s: exit %d: %s", s, code, stderr)
		}
		parts = append(parts, p)
	}
	merged := filepath.Join(dir, "merged.json")
	if _, stderr, code := runChild(t, "1", "merge", parts[1], parts[0], "--out", merged); code != 0 {
		t.Fatalf("merge: exit %d: %s", code, stderr)
	}
	a, _ := os.ReadFile(whole)
	b, _ := os.ReadFile(merged)
	if len(a) == 0 || string(a) != string(b) {
		t.Fatalf("merged shards differ from the unsharded sweep:\n%s\nvs\n%s", b, a)
	}
	// A missing shard is an error that writes nothing.
	partial := filepath.Join(dir, "partial.json")
	if _, stderr, code := runChild(t, "1", "merge", parts[0], "--out", partial); code != 2 || !strings.Contains(stderr, "missing") {
		t.Fatalf("merge of one shard: exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(partial); err == nil {
		t.Fatal("a refused merge wrote its output")
	}
	html := filepath.Join(dir, "r.html")
	stdout, stderr, code := runChild(t, "2", "report", "--scenario", "calibration-500", "--duration", "1m",
		"--sweep", whole, "--what-if", "client-version=v3.2.23", "--date", "2026-01-01", "--out", html)
	if code != 0 || !strings.Contains(stdout, "wrote "+html) {
		t.Fatalf("report: exit %d: %s %s", code, stdout, stderr)
	}
	if st, err := os.Stat(html); err != nil || st.Size() < 10000 {
		t.Fatalf("report file: %v", err)
	}
	// The footer: the date given, and the exact command.
	page, _ := os.ReadFile(html)
	for _, want := range []string{" on 2026-01-01,", "Command: <code>leasesim report --scenario calibration-500 --duration 1m --sweep " + whole} {
		if !strings.Contains(string(page), want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

// Bad flags: an error naming the flag, exit 2, nothing written.
func TestSweepBadFlags(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out.csv")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"sweep", "--scenario", "calibration-500", "--grid", "clients=100,x", "--out", out}, "--clients"},
		{[]string{"sweep", "--scenario", "calibration-500", "--grid", "bogus=1", "--out", out}, "--grid: bogus is not a scenario flag"},
		{[]string{"sweep", "--scenario", "calibration-500", "--grid", "clients=0", "--out", out}, "clients.count (--clients)"},
		{[]string{"sweep", "--scenario", "calibration-500", "--grid", "clients=100", "--shard", "2/2", "--out", out}, "--shard"},
		{[]string{"sweep", "--scenario", "calibration-500", "--cpu-target", "150", "--out", out}, "--cpu-target"},
		{[]string{"sweep", "--scenario", "calibration-500", "--knee", "--grid", "clients=1,2", "--out", out}, "--knee"},
		{[]string{"sweep", "--scenario", "calibration-500", "--out", filepath.Join(dir, "x.txt")}, "--out"},
		{[]string{"sweep", "--grid", "clients=1"}, "--scenario is required"},
		{[]string{"sweep", "--scenario", "nope", "--out", out}, "--scenario"},
		{[]string{"merge", "--out", out}, "no input files"},
		{[]string{"merge", filepath.Join(dir, "missing.json"), "--out", out}, "missing.json"},
		{[]string{"report", "--scenario", "calibration-500", "--what-if", "nope=1", "--out", filepath.Join(dir, "r.html")}, "--what-if"},
		{[]string{"report", "--scenario", "calibration-500"}, "--out"},
		{[]string{"report", "--scenario", "calibration-500", "--date", "yesterday", "--out", filepath.Join(dir, "r.html")}, `--date: "yesterday"`},
		{[]string{"sweep", "--scenario", "calibration-500", "-w", "table", "--out", out}, "-w table prints to the terminal"},
		{[]string{"sweep", "--scenario", "calibration-500", "--knee", "--seeds", "0", "--out", out}, "--seeds: 0 is not a number of seeds; allowed 1 to 100"},
		{[]string{"sweep", "--scenario", "calibration-500", "--knee", "--knee-margin", "soon", "--out", out}, `--knee-margin: "soon" is not auto or a duration`},
		{[]string{"sweep", "--scenario", "calibration-500", "--knee", "--knee-margin", "-1s", "--out", out}, "--knee-margin"},
		{[]string{"sweep", "--scenario", "calibration-500", "--knee", "--duration", "3m", "--out", out}, "--duration with --knee"},
		{[]string{"sweep", "--scenario", "calibration-500", "--seeds", "5", "--out", out}, "need --knee"},
		{[]string{"sweep", "--scenario", "calibration-500", "--knee", "--set", "seed=18446744073709551615", "--out", out}, "--seeds 3: the seeds from 18446744073709551615 on pass 2^64-1"},
	} {
		_, stderr, code := runChild(t, "1", c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and %q", c.args, code, stderr, c.want)
		}
		ents, _ := os.ReadDir(dir)
		if len(ents) > 0 {
			t.Errorf("%v wrote %v", c.args, ents)
		}
	}
	for _, cmd := range []string{"sweep", "merge", "report"} {
		stdout, stderr, code := runChild(t, "1", cmd, "--help")
		if code != 0 || !strings.Contains(stdout, "Examples:") || stderr != "" {
			t.Errorf("%s --help: exit %d: %.200s %.200s", cmd, code, stdout, stderr)
		}
	}
}

// A knee search through the CLI: the same bytes under GOMAXPROCS 1 and 2
// (its runs go side by side), with the band columns and the probe horizon.
func TestKneeCommandDeterministic(t *testing.T) {
	args := []string{"sweep", "--scenario", "calibration-500", "--knee", "--set", "cores=0.25", "--set", "client-version=v3.2.23",
		"--set", "consumer=never", "--at", "300", "--knee-max", "4000", "--knee-tolerance", "0.1", "--seeds", "2", "-q"}
	one, stderr, code := runChild(t, "1", args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	two, stderr, code := runChild(t, "2", args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if one != two {
		t.Fatalf("GOMAXPROCS 1 and 2 differ:\n%s\nvs\n%s", one, two)
	}
	// -w table: aligned columns, then the trailer (it failed on the trailer).
	table, stderr, code := runChild(t, "2", append(args, "-w", "table")...)
	if code != 0 || !strings.Contains(table, "fail_fractions") || !strings.Contains(table, "# leasesim sweep: grid_size=1") {
		t.Fatalf("-w table: exit %d: %s\n%s", code, stderr, table)
	}
	// 16 renewals of 5s/3 + a scan + 1 ms, and the 30 s margin: 65 s.
	if !strings.Contains(one, "fail_fractions") || !strings.Contains(one, ",2,65,") {
		t.Fatalf("no band columns or horizon:\n%s", one)
	}
}
