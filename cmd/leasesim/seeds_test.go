package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/leasesim/leasesim/recorder"
	"github.com/leasesim/leasesim/spec"
)

// seedsArgs is a small cluster at its knee (about 0.3 s a run): of seeds 1-4,
// only seed 2's start times and prober phases tip it into a reconnect storm
// that expires 705 leases; the others settle at 650 renewals/s with the
// leader at ~31 %.
var seedsArgs = []string{"run", "--server", "cluster", "--members", "5", "--cores", "0.25", "--clients", "1300",
	"--ttl", "5s", "--client-version", "v3.7.3", "--consumer", "drain", "--duration", "1m", "--start-spread", "10s"}

func runIn(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(append(append([]string{}, seedsArgs...), args...), &out, &errb)
	return out.String(), errb.String(), code
}

// The output is the same whatever the parallelism: rows in seed order, not in
// the order runs finish (seed 2, in the middle, finishes first at -j 2).
func TestSeedsDeterministicAcrossJobs(t *testing.T) {
	for _, format := range []string{"json", "table", "csv"} {
		var outs []string
		for _, j := range []string{"1", "2"} {
			out, errs, code := runIn(t, "--seed", "1", "--seeds", "3", "-j", j, "-w", format)
			if code != 0 {
				t.Fatalf("-j %s -w %s: exit %d: %s", j, format, code, errs)
			}
			outs = append(outs, out)
		}
		if outs[0] != outs[1] {
			t.Fatalf("-w %s differs between -j 1 and -j 2:\n%s\n---\n%s", format, outs[0], outs[1])
		}
		if format == "csv" && !strings.Contains(outs[0], "\nbase,,1,done,false,") {
			t.Fatalf("CSV rows:\n%s", outs[0])
		}
		if format == "json" {
			// ... and whatever GOMAXPROCS (-j defaults to it).
			for _, procs := range []string{"1", "2"} {
				out, errs, code := runChild(t, procs, append(append([]string{}, seedsArgs...), "--seed", "1", "--seeds", "3", "--json")...)
				if code != 0 || out != outs[0] {
					t.Fatalf("GOMAXPROCS=%s: exit %d (%s), output differs:\n%s", procs, code, errs, out)
				}
			}
		}
	}
}

// The shares and spreads over seeds 1-4, each seed's row equal to the single
// run with that seed, and a what-if judged over the same seeds.
func TestSeedsFractions(t *testing.T) {
	out, errs, code := runIn(t, "--seeds", "4", "--what-if", "transport=http2", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var res SeedsResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	if !res.Complete || res.Interrupted || res.Seeds != 4 || len(res.Variants) != 2 {
		t.Fatalf("result: %+v", res)
	}
	base := res.Variants[0]
	for i, r := range base.Runs {
		if r.Seed != uint64(i+1) || r.Status != seedDone || r.SeedFigures == nil {
			t.Fatalf("row %d: %+v", i, r)
		}
	}
	s := base.Summary
	one := func(name string, sh Share) {
		t.Helper()
		if sh.Count != 1 || sh.Of != 4 || sh.Fraction != 0.25 || len(sh.Seeds) != 1 || sh.Seeds[0] != 2 {
			t.Fatalf("%s: %+v, want seed 2 alone of 4", name, sh)
		}
	}
	one("storm", s.Storm)
	one("lost keys", s.LostKeys)
	one("expired", s.Expired)
	if s.NotRecovered != nil {
		t.Fatalf("not_recovered without faults: %+v", s.NotRecovered)
	}
	if k := s.Spreads["keys_lost"]; k.N != 4 || k.Min != 0 || k.P50 != 0 || k.Max != 705 || k.Mean != 176.25 {
		t.Fatalf("keys_lost spread: %+v", k)
	}
	if r := s.Spreads["renewals_per_s"]; r.P50 != 650 || r.Min >= 650 {
		t.Fatalf("renewals spread: %+v", r)
	}
	if f := s.Spreads["first_expiry_s"]; f.N != 1 || f.Min != f.Max {
		t.Fatalf("first expiry spread: %+v", f)
	}
	if c := s.Spreads["leader_cpu_peak"]; c.Max < 0.99 || c.P50 > 0.5 {
		t.Fatalf("leader CPU spread: %+v", c)
	}
	// The storm's size and the leader's saturation: only the storming seed
	// saturates the leader; a run dials at least its busiest second's
	// connections.
	for _, r := range base.Runs {
		f := r.SeedFigures
		if f.NewConnsTotal == nil || f.PeakEstablished == nil || *f.NewConnsTotal < *f.PeakNewConnsS || *f.PeakEstablished <= 0 {
			t.Fatalf("seed %d: new conns total %v (peak second %v), ESTABLISHED peak %v", r.Seed, f.NewConnsTotal, *f.PeakNewConnsS, f.PeakEstablished)
		}
		if (f.SaturatedS != nil) != (r.Seed == 2) {
			t.Fatalf("seed %d: leader saturated at %v; want only seed 2's (leader CPU peak %v)", r.Seed, f.SaturatedS, *f.LeaderCPUPeak)
		}
	}
	if c, other := *base.Runs[1].NewConnsTotal, *base.Runs[0].NewConnsTotal; c <= 10*other {
		t.Fatalf("new conns over the run: the storming seed %v, seed 1 %v", c, other)
	}
	if sat := s.Spreads["leader_saturated_s"]; sat.N != 1 || sat.Min <= 0 || *base.Runs[1].FirstExpiryS < sat.Min {
		t.Fatalf("saturation spread %+v; seed 2's first expiry %v", sat, *base.Runs[1].FirstExpiryS)
	}
	http2 := res.Variants[1].Summary
	if http2.Storm.Count != 0 || http2.LostKeys.Count != 0 || http2.Storm.Of != 4 {
		t.Fatalf("http2: %+v", http2)
	}

	// Seed 2's row is the single run with --seed 2.
	single, errs, code := runIn(t, "--seed", "2", "--json")
	if code != 0 {
		t.Fatalf("--seed 2: exit %d: %s", code, errs)
	}
	var one3 struct {
		KeysLost uint64 `json:"keys_lost"`
		Events   uint64 `json:"events"`
	}
	if err := json.Unmarshal([]byte(single), &one3); err != nil {
		t.Fatal(err)
	}
	if r := base.Runs[1]; one3.KeysLost != r.KeysLost || one3.Events != r.Events || one3.KeysLost == 0 {
		t.Fatalf("seed 2 alone: %+v; its --seeds row: %+v", one3, r.SeedFigures)
	}

	// The human table says the same.
	human, _, _ := runIn(t, "--seeds", "4")
	for _, want := range []string{"--seeds 4: seeds 1..4", "base: storm 1 of 4 (seed 2); leases expired 1 of 4 (seed 2); keys lost 1 of 4 (seed 2)",
		"keys lost", "705", "new peer conns (whole run)", "ESTABLISHED peer sockets (peak)", "leader CPU first >= 95 % at"} {
		if !strings.Contains(human, want) {
			t.Fatalf("human output lacks %q:\n%s", want, human)
		}
	}
}

// --fail-on judges every seed of the base run: one failing seed fails it.
func TestSeedsFailOn(t *testing.T) {
	out, errs, code := runIn(t, "--seeds", "4", "--fail-on", "lost-keys")
	if code != exitVerdict || !strings.Contains(errs, "1 of 4 seeds failed: seed 2: lost-keys: 705 keys lost") || !strings.Contains(out, "storm 1 of 4") {
		t.Fatalf("exit %d, stderr %q\n%s", code, errs, out)
	}
	if _, errs, code := runIn(t, "--seed", "3", "--seeds", "2", "--fail-on", "lost-keys"); code != 0 {
		t.Fatalf("seeds 3-4 lose nothing: exit %d, %s", code, errs)
	}
}

func TestSeedsBadFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--seeds", "0"}, `--seeds: "0" is not allowed: give a whole number of seeds from 1 to 100000`},
		{[]string{"--seeds", "-3"}, `--seeds: "-3" is not allowed`},
		{[]string{"--seeds", "abc"}, `--seeds: "abc" is not allowed`},
		{[]string{"--seeds", "2.5"}, `--seeds: "2.5" is not allowed`},
		{[]string{"--seeds", "100001"}, `from 1 to 100000`},
		{[]string{"--seeds", "2", "-j", "-1"}, "-j/--jobs: -1 is not a number of runs side by side"},
		{[]string{"--seeds", "2", "--csv", "out"}, "--csv writes one run's series and --seeds runs many"},
		{[]string{"--seeds", "2", "--seed", "18446744073709551615"}, "--seeds 2: the seeds from 18446744073709551615 on pass 2^64-1"},
	} {
		out, errs, code := runIn(t, c.args...)
		if code != exitUsage || !strings.Contains(errs, c.want) || out != "" {
			t.Errorf("%v: exit %d, stderr %q, stdout %q; want exit 2 and %q", c.args, code, errs, out, c.want)
		}
	}
}

// An interruption keeps the seeds that finished and marks the others.
func TestSeedsInterrupted(t *testing.T) {
	sp, err := specFor("", map[string]string{"server": "cluster", "members": "5", "cores": "0.25", "clients": "1300",
		"ttl": "5s", "duration": "1m", "start-spread": "10s"})
	if err != nil {
		t.Fatal(err)
	}
	seeds, _ := seedsOf(sp, 3)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	vs, err := runSeeds(ctx, []string{"base"}, []spec.Spec{sp}, [][]uint64{seeds}, 1, nil, cancel)
	if err != nil {
		t.Fatal(err)
	}
	rows := vs[0].Runs
	if rows[0].Status != seedDone || rows[1].Status != seedInterrupted || rows[2].Status != seedInterrupted || vs[0].Summary.Done != 1 {
		t.Fatalf("rows after a cancel at the first: %+v", rows)
	}
	var b bytes.Buffer
	if err := printSeeds(&b, SeedsResult{Seeds: 3, Interrupted: true, Variants: vs}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"INTERRUPTED: 1 of 3 runs complete", "interrupted, not in the figures: seed 2, 3", "storm 0 of 1"} {
		if !strings.Contains(b.String(), want) {
			t.Fatalf("lacks %q:\n%s", want, b.String())
		}
	}

	// The command: interrupted before any run finished, it prints every seed
	// as interrupted and exits 130.
	var out, errb bytes.Buffer
	root := newRoot(nil, &out, &errb)
	root.SetArgs(append(append([]string{}, seedsArgs...), "--seeds", "2", "--json"))
	err = root.ExecuteContext(ctx)
	if _, ok := errors.AsType[interruptedError](err); !ok {
		t.Fatalf("error %v, want interrupted", err)
	}
	if !strings.Contains(out.String(), `"interrupted": true`) || strings.Count(out.String(), `"status": "interrupted"`) != 2 {
		t.Fatalf("output:\n%s", out.String())
	}
}

// A storm: on a cluster, more than 10 new peer connections (or handshakes) in
// the busiest second, whatever the renew interval did; on the idealised
// server, the renew interval falling to 500 ms.
func TestStormDefinition(t *testing.T) {
	at := 9.0
	cluster := spec.Spec{Server: spec.ServerCluster, Duration: spec.Duration(time.Minute)}
	ideal := spec.Spec{Server: spec.ServerIdeal, Duration: spec.Duration(time.Minute)}
	mk := func(sp spec.Spec, first500 *float64, conns, handshakes float64) outcome {
		return outcome{spec: sp, Summary: recorder.Summary{First500msS: first500},
			res: recorder.Outcome{Peaks: map[recorder.MetricName]float64{recorder.NewPeerConnections: conns, recorder.TLSHandshakes: handshakes}}}
	}
	for _, c := range []struct {
		name string
		o    outcome
		want bool
	}{
		{"cluster, 11 new conns/s", mk(cluster, nil, 11, 0), true},
		{"cluster, 11 handshakes/s", mk(cluster, nil, 0, 11), true},
		{"cluster, 10 new conns/s", mk(cluster, nil, 10, 10), false},
		{"cluster, 500 ms renewals without reconnects", mk(cluster, &at, 4, 4), false},
		{"ideal, 500 ms renewals", mk(ideal, &at, 0, 0), true},
		{"ideal, steady", mk(ideal, nil, 0, 0), false},
	} {
		if got := stormed(c.o); got != c.want {
			t.Errorf("%s: storm %v, want %v", c.name, got, c.want)
		}
	}
}

// The memory check counts the seeds' runs that go side by side: -j of them,
// at most as many as there are runs.
func TestSeedsMemoryCountsParallelRuns(t *testing.T) {
	saved := availableMemory
	defer func() { availableMemory = saved }()
	availableMemory = func() uint64 { return 1 << 30 } // one of these runs fits, two do not
	args := []string{"run", "--server", "cluster", "--clients", "300000", "--duration", "1m"}
	var out, errb bytes.Buffer
	if code := run(append(args, "--seeds", "2", "-j", "2"), &out, &errb); code != exitUsage || !strings.Contains(errb.String(), "2 run(s) side by side") {
		t.Fatalf("--seeds 2 -j 2: exit %d: %s", code, errb.String())
	}
	// These pass the check; a cancelled context then stops them before they run.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, extra := range [][]string{{"--seeds", "2", "-j", "1"}, {"--seeds", "1", "-j", "2"}} {
		root := newRoot(nil, &out, &errb)
		root.SetArgs(append(append([]string{}, args...), extra...))
		if _, ok := errors.AsType[interruptedError](root.ExecuteContext(ctx)); !ok {
			t.Fatalf("%v: refused or failed: %s", extra, errb.String())
		}
	}
}
