package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/leasesim/leasesim/calibrate"
	"github.com/leasesim/leasesim/spec"
)

func TestCalibrateBadFlags(t *testing.T) {
	dir := t.TempDir()
	fit := filepath.Join(dir, "fit.yaml")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--set", "huge"}, `--set "huge": allowed ci, full, reference, smoke, storm`},
		{[]string{"--set", "storm", "--clients", "5"}, "--clients cannot be combined with --set storm"},
		{[]string{"--set", "storm", "--from", filepath.Join(dir, "missing.json")}, "--from"},
		{[]string{"--set", "storm", "--from", "testdata/not-storm.json"}, "not a storm campaign"},
		{[]string{"--set", "storm", "--params", "nonesuch"}, "--params"},
		{[]string{"--set", "storm", "--grounded", "--params", "nonesuch"}, "--params"},
		{[]string{"--grounded"}, "--grounded, --busy-one-core, --raft-wait and --seeds apply to --set storm only"},
		{[]string{"--raft-wait", "backlog"}, "--grounded, --busy-one-core, --raft-wait and --seeds apply to --set storm only"},
		{[]string{"--busy-one-core"}, "--grounded, --busy-one-core, --raft-wait and --seeds apply to --set storm only"},
		{[]string{"--set", "storm", "--busy-one-core", "--from", "x.json"}, "--busy-one-core applies to the grounded model only (add --grounded)"},
		{[]string{"--set", "storm", "--grounded", "--raft-wait", "sometimes"}, `--raft-wait "sometimes" is not allowed; allowed: preempt, backlog, measured`},
		{[]string{"--set", "full", "--clients", "5"}, "--clients cannot be combined with --set"},
		{[]string{"--clients", "0"}, "clients: 0, allowed 1 to 100000"},
		{[]string{"--ttl", "1s"}, "ttl: 1s, allowed whole seconds from 2s"},
		{[]string{"--placement", "everywhere"}, `placement: "everywhere", allowed [spread leader followers]`},
		{[]string{"--consumer", "rate:5"}, `consumer: "rate:5", allowed [drain never]`},
		{[]string{"--tls", "off"}, `tls: "off", allowed rsa, ecdsa`},
		{[]string{"--fit", fit}, "--fit needs several runs"},
		{[]string{"--params", "nonesuch"}, "--params"},
		{[]string{"--from", filepath.Join(dir, "missing.json")}, "--from"},
		{[]string{"--from", "x.json", "--clients", "3"}, "--from takes only --params, --fit and --json"},
		{[]string{"stray"}, `unexpected argument "stray"`},
	} {
		var out, errb bytes.Buffer
		code := run(append([]string{"calibrate"}, c.args...), &out, &errb)
		if code != exitUsage || !strings.Contains(errb.String(), c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and %q", c.args, code, errb.String(), c.want)
		}
		if out.Len() != 0 {
			t.Errorf("%v: wrote to stdout: %q", c.args, out.String())
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("left files behind: %v", entries)
	}
}

// --set storm --from replays the saved storm campaign through the model and
// prints the table (the figures themselves are TestStormReplay's, in calibrate).
func TestCalibrateStormFromSaved(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"calibrate", "--set", "storm", "--from", "../../calibrate/testdata/storm-3.7.3.json"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{"storm: real etcd 3.7.3", "onset quiet: real", "onset busy: real", " real ", " sim "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

// --seeds sets how many seeds the storm replay simulates per level: the
// header and each level's share say so; a count out of range, or --seeds
// without --set storm, is refused with the allowed values.
func TestCalibrateStormSeeds(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"calibrate", "--set", "storm", "--from", "../../calibrate/testdata/storm-3.7.3.json", "--seeds", "2"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "seeds 1-2)") || !regexp.MustCompile(`(?m)^quiet\s+1000 sim\s+\d/2 `).MatchString(out.String()) {
		t.Errorf("--seeds 2: want seeds 1-2 and shares of 2:\n%s", out.String())
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"calibrate", "--set", "storm", "--from", "x.json", "--seeds", "0"}, "--seeds 0 is not allowed; allowed: 1 to 100"},
		{[]string{"calibrate", "--set", "storm", "--from", "x.json", "--seeds", "101"}, "--seeds 101 is not allowed; allowed: 1 to 100"},
		{[]string{"calibrate", "--seeds", "4"}, "--seeds apply to --set storm only"},
	} {
		var out, errb bytes.Buffer
		if code := run(c.args, &out, &errb); code != exitUsage || !strings.Contains(errb.String(), c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", c.args, code, errb.String(), exitUsage, c.want)
		}
	}
}

// --from replays saved measurements through the fit and the model, without
// a cluster: two synthetic runs with known costs give a parameter file with
// those costs, and the tables compare against a prediction made with it.
func TestCalibrateFromSavedMeasurements(t *testing.T) {
	dir := t.TempDir()
	const idle, direct, fwd = 0.03, 150e-6, 400e-6
	mk := func(name, placement string, leader int, d, f float64) calibrate.Measurement {
		c := calibrate.Config{Name: name, Clients: 500, TTL: 5 * time.Second, Placement: placement, Window: 30 * time.Second}
		c.Defaults()
		return calibrate.Measurement{Config: c, Leader: leader, WindowFromS: 3, WindowToS: 33,
			IdleServerCores: idle, ServerCores: idle + direct*d + fwd*f, KeepAlivesPerS: d + f, DirectPerS: d, ForwardedPerS: f,
			ServerKeepAlivesPerS: d + f, LeaderRenewalsPerS: d + f,
			IntervalMs: calibrate.Quantiles{Count: 7500, Min: 2000, P50: 2002, P99: 2010, Max: 2020}}
	}
	saved := map[string]any{"runs": []map[string]any{
		{"measured": mk("leader", "leader", 0, 250, 0)},
		{"measured": mk("followers", "followers", 0, 0, 250)},
	}}
	b, _ := json.Marshal(saved)
	in := filepath.Join(dir, "cal.json")
	os.WriteFile(in, b, 0o644)
	fit := filepath.Join(dir, "fit.yaml")
	var out, errb bytes.Buffer
	if code := run([]string{"calibrate", "--from", in, "--fit", fit}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	p, err := spec.LoadParams(fit)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Costs.DirectRenewal.D(); got != 150*time.Microsecond {
		t.Errorf("direct renewal %s, want 150µs", got)
	}
	if got := p.Costs.FollowerRenewal.D() + p.Costs.LeaderForwarded.D(); got != 400*time.Microsecond {
		t.Errorf("forwarded renewal in all %s, want 400µs", got)
	}
	if p.Costs.IdleCores == nil || *p.Costs.IdleCores <= 0 || *p.Costs.IdleCores >= idle/3 {
		t.Errorf("idle per member %v: want the idle minus the prober's handshakes, per member", p.Costs.IdleCores)
	}
	if len(p.Fit) != 2 || p.Fit[1].ForwardedPerS != 250 {
		t.Errorf("the file does not record the runs it came from: %+v", p.Fit)
	}
	// The predictions used the fitted file: CPU agrees closely.
	for _, want := range []string{"model parameters: " + fit, "server CPU, loaded", "fit (2 runs)", "renewals/s meas"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
