package main

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
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

// Same scenario + seed => byte-identical output and trace, under GOMAXPROCS 1 and 2.
func TestDeterministicAcrossGOMAXPROCS(t *testing.T) {
	dir := t.TempDir()
	var outs, traces []string
	for _, procs := range []string{"1", "2"} {
		trace := filepath.Join(dir, "trace-"+procs+".jsonl")
		stdout, stderr, code := runChild(t, procs, "run", "--clients", "300", "--ttl", "4s",
			"--client-version", "v3.2.23", "--consumer", "rate:0.5", "--duration", "3m",
			"--start-spread", "20s", "--seed", "42", "--json", "--trace", trace)
		if code != 0 {
			t.Fatalf("GOMAXPROCS=%s: exit %d: %s", procs, code, stderr)
		}
		b, err := os.ReadFile(trace)
		if err != nil {
			t.Fatal(err)
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
	other, _, _ := runChild(t, "2", "run", "--clients", "300", "--ttl", "4s",
		"--client-version", "v3.2.23", "--consumer", "rate:0.5", "--duration", "3m",
		"--start-spread", "20s", "--seed", "43", "--json")
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
		{[]string{"--clients", "0"}, "clients: 0 is out of range; allowed 1 to"},
		{[]string{"--ttl", "1.5s"}, "ttl: 1.5s is not allowed"},
		{[]string{"--ttl", "ten"}, `--ttl: "ten" is not a duration`},
		{[]string{"--client-version", "v3.0.17"}, "v3.2.0 - v3.2.23"},
		{[]string{"--client-version", "banana"}, "is not of the form vMAJOR.MINOR.PATCH"},
		{[]string{"--consumer", "sometimes"}, "allowed: drain, never, rate:N, stop-after:K, stall:FROM-TO"},
		{[]string{"--consumer", "rate:-1"}, "rate:N with 0 < N"},
		{[]string{"--consumer", "stall:20m-10m"}, "stall:FROM-TO"},
		{[]string{"--scenario", "nope"}, "not a built-in scenario; built-in: incident-2018-client"},
		{[]string{"--what-if", "ttl"}, "must be FLAG=VALUE"},
		{[]string{"--what-if", "ttl=0s"}, "--what-if ttl=0s"},
		{[]string{"--bogus"}, "flag provided but not defined: -bogus"},
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
	for _, want := range []string{"Examples:", "--what-if", "-client-version", "incident-2018-client"} {
		if !strings.Contains(errb.String(), want) {
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
