package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/leasesim/leasesim/recorder"
	"github.com/leasesim/leasesim/spec"
)

var update = flag.Bool("update", false, "rewrite golden outputs in testdata/")

// TestMain lets the test binary act as the leasesim command, so that tests can
// run it as a child process under a chosen GOMAXPROCS.
func TestMain(m *testing.M) {
	if os.Getenv("LEASESIM_BE_MAIN") == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func runChild(t *testing.T, gomaxprocs string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "LEASESIM_BE_MAIN=1", "GOMAXPROCS="+gomaxprocs)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code = 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// Same scenario + seed => byte-identical output and trace, under GOMAXPROCS 1
// and 2: an idealised-server run, a cluster run under stress with what-ifs
// (which run in parallel goroutines), and an election that emerges from raft.
func TestDeterministicAcrossGOMAXPROCS(t *testing.T) {
	checkDeterministic(t, "run", "--clients", "300", "--ttl", "4s",
		"--client-version", "v3.2.23", "--consumer", "rate:0.5", "--duration", "3m",
		"--start-spread", "20s", "--seed", "42", "--json")
	checkDeterministic(t, "run", "--server", "cluster", "--members", "5", "--cores", "0.25", "--clients", "1500",
		"--ttl", "5s", "--client-version", "v3.2.23", "--consumer", "never", "--duration", "2m",
		"--start-spread", "10s", "--seed", "7", "--what-if", "transport=http2", "--json")
	// Raft in the loop: its tickers, votes and election draws too.
	checkDeterministic(t, "run", "--scenario", "leader-stall-election", "--what-if", "raft=false", "--json")
	// A deposed leader's lessor (fsync-stall): its own runLoop and revokes.
	checkDeterministic(t, "run", "--scenario", "lease-deposed-leader", "--what-if", "etcd-version=3.5.13", "--json")
	// A restart wave (its seeded draws) and KeepAliveOnce loops.
	checkDeterministic(t, "run", "--scenario", "lease-fleet-restart", "--clients", "2000", "--what-if", "restart-graceful=true", "--json")
	checkDeterministic(t, "run", "--scenario", "lease-fleet-restart", "--clients", "2000", "--restart-fraction", "0", "--client-kind", "keepalive-once", "--json")
	// Agents that re-grant when their key vanishes (on their lessor).
	checkDeterministic(t, "run", "--scenario", "lease-lock-ttl2", "--regrant-max", "2", "--json")
	// The fast mode: cohorts through a storm, with service-time spread.
	checkDeterministic(t, "run", "--scenario", "incident-2018", "--duration", "2m", "--fast", "--cohort", "20",
		"--service-spread", "--what-if", "transport=http2", "--json")
}

func checkDeterministic(t *testing.T, args ...string) {
	dir := t.TempDir()
	var outs, traces []string
	for _, procs := range []string{"1", "2"} {
		trace := filepath.Join(dir, "trace-"+procs+".json.gz")
		stdout, stderr, code := runChild(t, procs, append(args, "--trace", trace)...)
		if code != 0 {
			t.Fatalf("GOMAXPROCS=%s: exit %d: %s", procs, code, stderr)
		}
		b, err := os.ReadFile(trace)
		if err != nil {
			t.Fatal(err)
		}
		// The trace is gzipped trace-event JSON with one instant event per fact.
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			TraceEvents []struct{ Ph string } `json:"traceEvents"`
		}
		if err := json.NewDecoder(zr).Decode(&doc); err != nil || len(doc.TraceEvents) < 1000 {
			t.Fatalf("trace: %v, %d events", err, len(doc.TraceEvents))
		}
		outs, traces = append(outs, stdout), append(traces, string(b))
	}
	if outs[0] != outs[1] {
		t.Fatal("JSON output differs between GOMAXPROCS 1 and 2")
	}
	if traces[0] != traces[1] || len(traces[0]) == 0 {
		t.Fatal("trace differs between GOMAXPROCS 1 and 2, or is empty")
	}
	// A different seed draws different start times.
	other, _, _ := runChild(t, "2", append(args, "--seed", "4242")...)
	if other == outs[0] {
		t.Fatal("seed has no effect")
	}
}

// Bad flags: a clear error naming the flag and what is allowed, exit 2, and no
// trace file left behind.
func TestBadFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--clients", "0"}, "clients.count (--clients): 0 is out of range; allowed 1 to"},
		{[]string{"--ttl", "1.5s"}, "clients.ttl (--ttl): 1.5s is not a whole number of seconds"},
		{[]string{"--ttl", "1s"}, "minimum"},
		{[]string{"--server", "cluster", "--members", "0"}, "cluster.members (--members): 0 is out of range"},
		{[]string{"--server", "cluster", "--placement", "member:5"}, "clients.placement (--placement)"},
		{[]string{"--server", "cluster", "--transport", "http3"}, "allowed: http1, http2"},
		{[]string{"--scenario", "missing.yaml"}, "scenario file missing.yaml does not exist"},
		{[]string{"--ttl", "ten"}, `--ttl: "ten" is not a duration`},
		{[]string{"--client-version", "v3.0.17"}, "v3.2.0 - v3.2.23"},
		{[]string{"--client-version", "banana"}, "is not of the form vMAJOR.MINOR.PATCH"},
		{[]string{"--consumer", "sometimes"}, "allowed: drain, never, rate:N, pace:N, stop-after:K, stall:FROM-TO"},
		{[]string{"--consumer", "rate:-1"}, "rate:N with 1e-9 <= N"},
		{[]string{"--consumer", "stall:20m-10m"}, "stall:FROM-TO"},
		{[]string{"--scenario", "nope"}, `"nope" is neither a built-in scenario (calibration-500, host-stalls-2core, incident-2018`},
		{[]string{"--what-if", "ttl"}, "must be FLAG=VALUE"},
		{[]string{"--what-if", "ttl=0s"}, "--what-if ttl=0s"},
		{[]string{"--bogus"}, "unknown flag: --bogus"},
		{[]string{"--fail-on", "slow"}, `--fail-on: "slow" is not a criterion`},
		{[]string{"--fail-on", "cpu>150"}, "cpu>X needs X a percentage"},
		{[]string{"--fail-on", "cpu>90"}, "needs a cluster scenario"},
		{[]string{"-w", "yaml"}, `-w/--write-out: "yaml" is not allowed`},
		{[]string{"-w", "csv", "--json"}, "--json and -w csv disagree"},
		{[]string{"extra"}, `unexpected argument "extra"`},
	} {
		dir := t.TempDir()
		trace := filepath.Join(dir, "t.jsonl")
		var out, errb bytes.Buffer
		code := run(append(append([]string{"run"}, c.args...), "--trace", trace), &out, &errb)
		if code != exitUsage || !strings.Contains(errb.String(), c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and %q", c.args, code, errb.String(), c.want)
		}
		if out.Len() != 0 {
			t.Errorf("%v: wrote to stdout: %q", c.args, out.String())
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("%v: left files behind: %v", c.args, entries)
		}
	}
	var out, errb bytes.Buffer
	if code := run([]string{"frobnicate"}, &out, &errb); code != exitUsage {
		t.Errorf("unknown command: exit %d", code)
	}
}

func TestHelpHasExamples(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"run", "--help"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"Examples:", "--what-if", "--client-version string", "--clients int", "--ttl duration",
		"--tls-resumption ", "incident-2018", "[clients.ttl]", "--fail-on", "-w, --write-out"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help lacks %q", want)
		}
	}
}

// Golden human output of a built-in scenario with a what-if, guarding against
// silent changes in the model or the report. Rewrite with -update.
func TestGoldenHumanOutput(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"run", "--scenario", "incident-2018-client-ttl10", "--what-if", "client-version=v3.7.3"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	golden := filepath.Join("testdata", "incident-2018-client-ttl10.txt")
	if *update {
		if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != string(want) {
		t.Fatalf("output differs from %s (rewrite with -update if intended):\n%s", golden, out.String())
	}
}

// A scenario file with a bad field: exit 2, the field and line named, nothing written.
func TestBadScenarioFile(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "bad.yaml")
	os.WriteFile(f, []byte("name: bad\nduration: 1m\nclients:\n  count: 10\n  ttl: 10s\n  version: v3.7.3\n  consumer: drain\n  colour: blue\ncluster:\n  members: 3\n  cores: 2\n"), 0o644)
	var out, errb bytes.Buffer
	csv := filepath.Join(dir, "csv")
	code := run([]string{"run", "--scenario", f, "--csv", csv}, &out, &errb)
	if code != exitUsage || !strings.Contains(errb.String(), "line 8") || !strings.Contains(errb.String(), "clients.colour") {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if _, err := os.Stat(csv); err == nil {
		t.Fatal("--csv directory created for a bad scenario")
	}
}

// --csv writes one row per bucket with every metric of a cluster run.
func TestCSVOutput(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	code := run([]string{"run", "--server", "cluster", "--members", "3", "--cores", "2", "--clients", "30",
		"--ttl", "5s", "--duration", "20s", "--csv", dir, "--what-if", "transport=http2"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	b, err := os.ReadFile(filepath.Join(dir, "metrics.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 21 || !strings.HasPrefix(lines[0], "t_s,renewals_per_s,renewals_at_leader_per_s,forwarded_renewals_per_s") {
		t.Fatalf("%d lines; header %q", len(lines), lines[0])
	}
	if _, err := os.Stat(filepath.Join(dir, "metrics-transport_http2.csv")); err != nil {
		t.Fatal(err)
	}
	for _, l := range lines[1:] {
		if strings.ContainsAny(l, "eE") {
			t.Fatalf("a number in exponent notation: %s", l)
		}
	}
}

// --prom writes OpenMetrics for every run, timestamped from --prom-start;
// --trace-clients keeps that many leases' tracks.
func TestPromAndTraceExports(t *testing.T) {
	dir := t.TempDir()
	prom, trace := filepath.Join(dir, "m.om"), filepath.Join(dir, "t.json")
	var out, errb bytes.Buffer
	code := run([]string{"run", "--server", "cluster", "--members", "3", "--cores", "2", "--clients", "30",
		"--ttl", "5s", "--duration", "20s", "--what-if", "transport=http2", "--prom", prom, "--prom-start", "2018-06-01T00:00:00Z",
		"--trace", trace, "--trace-clients", "5"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	b, err := os.ReadFile(prom)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	// 2018-06-01T00:00:10Z is 1527811210 s (expfmt writes it 1.52781121e+09).
	for _, want := range []string{"# TYPE leasesim_renewals_at_leader_per_second gauge\n", `leasesim_cpu_utilisation_ratio{run="base",member="0"} `,
		`run="transport=http2"`, " 1.52781121e+09\n", "# EOF\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("--prom output lacks %q", want)
		}
	}
	tb, err := os.ReadFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		TraceEvents []struct {
			Ph  string
			Tid int64
		} `json:"traceEvents"`
	}
	if err := json.Unmarshal(tb, &doc); err != nil {
		t.Fatal(err)
	}
	tids := map[int64]bool{}
	for _, e := range doc.TraceEvents {
		if e.Ph == "i" {
			tids[e.Tid] = true
		}
	}
	if len(tids) != 5 {
		t.Fatalf("--trace-clients 5 kept %d leases", len(tids))
	}
}

// A run with a trigger says whether the cluster recovered once it ended.
func TestTriggerRecoveryIsReported(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "stall.yaml")
	os.WriteFile(f, []byte(`name: stall
duration: 2m
clients: {count: 600, ttl: 5s, version: v3.2.23, consumer: never, start_spread: 10s}
cluster: {members: 3, cores: 1}
faults:
  - {at: 1m, kind: leader-stall, duration: 2s}
`), 0o644)
	var out, errb bytes.Buffer
	if code := run([]string{"run", "--scenario", f}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "leader-stall at 1m0s for 2s: recovered") {
		t.Fatalf("no recovery verdict:\n%s", out.String())
	}
}

// leasesim check: honest seeds pass; a mutant server fails at a seed whose
// printed replay command reproduces the same failure; bad flags exit 2.
func TestCheckCommand(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"check", "-n", "5"}, &out, &errb); code != 0 {
		t.Fatalf("honest: exit %d\n%s", code, out.String())
	}
	out.Reset()
	if code := run([]string{"check", "--seed", "26", "-n", "1", "--only", "LIN", "--mutant", "ack-after-revoke"}, &out, &errb); code != 1 {
		t.Fatalf("mutant: exit %d\n%s", code, out.String())
	}
	first := out.String()
	if !strings.Contains(first, "FAIL seed 26 LIN") || !strings.Contains(first, "replay: leasesim check --seed 26 -n 1") {
		t.Fatalf("mutant output:\n%s", first)
	}
	replay := strings.Fields(strings.SplitN(strings.SplitN(first, "replay: leasesim ", 2)[1], "\n", 2)[0])
	out.Reset()
	if code := run(replay, &out, &errb); code != 1 || out.String() != first {
		t.Fatalf("replay %v: exit %d, output differs:\n%s", replay, code, out.String())
	}
	out.Reset()
	if code := run([]string{"check", "--only", "P9"}, &out, &errb); code != exitUsage || !strings.Contains(errb.String(), "allowed: P1, P2, LIN") {
		t.Fatalf("bad --only: exit %d %s", code, errb.String())
	}
}

// leasesim check --only P8: the honest fixed releases pass; the
// deposed-revoke mutant (a deposed leader's revokes issued) fails.
func TestCheckP8(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"check", "-q", "-n", "10", "--only", "P8"}, &out, &errb); code != 0 {
		t.Fatalf("honest: exit %d\n%s", code, out.String())
	}
	out.Reset()
	if code := run([]string{"check", "-q", "--seed", "14", "-n", "1", "--only", "P8", "--mutant", "deposed-revoke"}, &out, &errb); code != 1 ||
		!strings.Contains(out.String(), "FAIL seed 14 P8: lease 4 (TTL 8s) revoked at 19.349s") {
		t.Fatalf("mutant: exit %d\n%s", code, out.String())
	}
}

// The recovery verdict: the leader's queue back to (twice) its level before the
// trigger and staying there means recovered; still high at the end means not.
func TestRecoveryVerdict(t *testing.T) {
	mk := func(queue []float64) outcome {
		sc := spec.Spec{Duration: spec.Duration(time.Duration(len(queue)) * time.Second),
			Faults: []spec.FaultSpec{{At: spec.Duration(60 * time.Second), Kind: "leader-stall", Duration: spec.Duration(2 * time.Second)}}}
		return outcome{spec: sc, res: recorder.Outcome{Metrics: []recorder.Metric{{Name: recorder.LeaderQueueRequests, Values: queue}}}}
	}
	q := make([]float64, 120)
	for i := range q {
		q[i] = 10
	}
	for i := 60; i < 70; i++ {
		q[i] = 5000 // the storm
	}
	ev := recoveryEvents(mk(q), time.Second)
	if len(ev) != 1 || !strings.Contains(ev[0].text, "recovered 8s after the trigger ended") || ev[0].at != 70*time.Second {
		t.Fatalf("recovering run: %+v", ev)
	}
	for i := 70; i < 120; i++ {
		q[i] = 3000 // never comes back
	}
	ev = recoveryEvents(mk(q), time.Second)
	if len(ev) != 1 || !strings.Contains(ev[0].text, "did not recover") {
		t.Fatalf("metastable run: %+v", ev)
	}
}

// lease-deposed-leader explains its revocations by the deposed lessor, not
// by late renewals; its what-if (the fixed release) deletes no key.
func TestDeposedLeaderWhy(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"run", "--scenario", "lease-deposed-leader", "--what-if", "etcd-version=3.5.13"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	o := out.String()
	if !strings.Contains(o, "Why: The leader's raft loop blocked in fdatasync") || strings.Contains(o, "arrive too late") {
		t.Errorf("why text:\n%s", o)
	}
	if !regexp.MustCompile(`keys deleted/s \(peak\)\s+1,000\s+0\s`).MatchString(o) {
		t.Errorf("what-if: want 1,000 keys deleted/s at the peak, none with 3.5.13:\n%s", o)
	}
}

// lease-fleet-restart explains its expiries by the abandoned leases, not by
// late renewals, and says when the new leases come; its graceful what-if
// expires and deletes none.
func TestFleetRestartWhy(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"run", "--scenario", "lease-fleet-restart", "--what-if", "restart-graceful=true"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	o := out.String()
	words := strings.Join(strings.Fields(o), " ") // the prose is wrapped
	if !strings.Contains(words, "Restarted processes exit without revoking their leases") || strings.Contains(words, "arrive too late") ||
		!strings.Contains(words, "22s restarted processes grant new leases (busiest second: 10,000 grants); leases live at the peak: 20,000") {
		t.Errorf("what happened, why:\n%s", o)
	}
	if !regexp.MustCompile(`keys deleted/s \(peak\)\s+1,000\s+0\s`).MatchString(o) || !regexp.MustCompile(`leases expired\s+10,000\s+0\s`).MatchString(o) {
		t.Errorf("what-if: want 1,000 keys deleted/s at the peak and 10,000 expired, none graceful:\n%s", o)
	}
}

// --what-if fast=false (or fidelity=exact) is the same run in the exact
// mode: the base's cohort size does not follow it there (it would be a
// cohort without the fast mode, an error on its own).
func TestWhatIfExactOfAFastRun(t *testing.T) {
	for _, c := range []struct{ fast, whatIf string }{
		{"--fast", "fast=false"}, {"--fast", "fidelity=exact"}, {"--fidelity=fast", "fast=false"}, {"--fidelity=fast", "fidelity=exact"},
	} {
		whatIf := c.whatIf
		var out, errb bytes.Buffer
		code := run([]string{"run", "--server", "cluster", "--clients", "2000", "--duration", "20s", c.fast, "--cohort", "10",
			"--what-if", whatIf, "--json", "-q"}, &out, &errb)
		if code != 0 {
			t.Fatalf("--what-if %s: exit %d: %s", whatIf, code, errb.String())
		}
		var res struct {
			Runs []struct {
				Label    string `json:"label"`
				Fidelity string `json:"fidelity"`
				Cohort   int    `json:"cohort"`
				Renewals uint64 `json:"renewals_total"`
				Events   uint64 `json:"events"`
			} `json:"runs"`
		}
		if err := json.Unmarshal(out.Bytes(), &res); err != nil {
			t.Fatal(err)
		}
		if len(res.Runs) != 2 {
			t.Fatalf("--what-if %s: %d runs", whatIf, len(res.Runs))
		}
		base, exact := res.Runs[0], res.Runs[1]
		if base.Fidelity != "fast" || base.Cohort != 10 || exact.Fidelity != "" || exact.Cohort != 0 ||
			exact.Label != whatIf || exact.Renewals != base.Renewals || exact.Events < 5*base.Events {
			t.Fatalf("%s --what-if %s: base %+v, what-if %+v", c.fast, whatIf, base, exact)
		}
	}
}
