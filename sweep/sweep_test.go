package sweep

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/leasesim/leasesim/spec"
)

// testApply is the CLI's flag -> field mapping.
var testApply = spec.ApplyFlag

// small is a small cluster scenario: runs take well under a second.
func small() spec.Spec {
	return spec.Spec{
		Name: "small", Seed: 7, Duration: spec.Duration(time.Minute), Server: spec.ServerCluster,
		Clients: spec.ClientsSpec{Count: 200, TTL: spec.Duration(5 * time.Second), Version: "v3.2.23",
			Consumer: "never", StartSpread: spec.Duration(5 * time.Second)},
		Cluster: spec.ClusterSpec{Members: 3, Cores: 0.5},
	}
}

func TestParseAxisAndShard(t *testing.T) {
	a, err := ParseAxis("clients=100, 200,300")
	if err != nil || a.Flag != "clients" || len(a.Values) != 3 || a.Values[1] != "200" {
		t.Fatalf("ParseAxis: %+v %v", a, err)
	}
	for _, bad := range []string{"clients", "=1,2", "clients=", "clients=1,,2", "clients=1,1"} {
		if _, err := ParseAxis(bad); err == nil {
			t.Errorf("ParseAxis(%q): no error", bad)
		}
	}
	if s, err := ParseShard("2/3"); err != nil || s != (Shard{2, 3}) {
		t.Fatalf("ParseShard: %v %v", s, err)
	}
	for _, bad := range []string{"3/3", "-1/2", "1", "a/b", "0/0"} {
		if _, err := ParseShard(bad); err == nil {
			t.Errorf("ParseShard(%q): no error", bad)
		}
	}
	g := Grid{{"clients", []string{"1", "2", "3"}}, {"transport", []string{"http1", "http2"}}}
	if g.Size() != 6 || strings.Join(g.Point(0), " ") != "1 http1" || strings.Join(g.Point(3), " ") != "2 http2" || strings.Join(g.Point(5), " ") != "3 http2" {
		t.Fatalf("grid points: %v %v %v", g.Point(0), g.Point(3), g.Point(5))
	}
	if err := (Grid{{"clients", []string{"x"}}}).Validate(small(), testApply); err == nil || !strings.Contains(err.Error(), "--clients") {
		t.Fatalf("Validate: want an error naming --clients, got %v", err)
	}
	if err := (Grid{{"clients", []string{"0"}}}).Validate(small(), testApply); err == nil || !strings.Contains(err.Error(), "clients.count") {
		t.Fatalf("Validate: want an out-of-range error, got %v", err)
	}
}

func render(t *testing.T, r Result) (string, string) {
	t.Helper()
	var c, j bytes.Buffer
	if err := r.WriteCSV(&c); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteJSON(&j); err != nil {
		t.Fatal(err)
	}
	return c.String(), j.String()
}

// Sharded, then merged == unsharded, byte for byte, in CSV and JSON; and a
// CSV or JSON output reads back to the same result.
func TestShardedMergeEqualsUnsharded(t *testing.T) {
	base := small()
	grid := Grid{{"clients", []string{"100", "300", "600"}}, {"client-version", []string{"v3.2.23", "v3.7.3"}}}
	whole, err := Run(context.Background(), Config{Base: base, Grid: grid, Apply: testApply, Workers: 3})
	if err != nil {
		t.Fatal(err)
	}
	if !whole.Complete || len(whole.Rows) != 6 {
		t.Fatalf("unsharded: complete %v, %d rows", whole.Complete, len(whole.Rows))
	}
	for i, r := range whole.Rows {
		if r.Index != i {
			t.Fatalf("row %d has index %d", i, r.Index)
		}
	}
	// The buggy client renews ~4x as often as the fixed one once its channel is full.
	if b, f := whole.Rows[4].RenewalsPerS, whole.Rows[5].RenewalsPerS; b < 3*f {
		t.Fatalf("600 clients: buggy %g renewals/s vs fixed %g", b, f)
	}
	wantCSV, wantJSON := render(t, whole)

	var parts, csvParts []Result
	for i := range 4 { // more shards than some have points: shard 3/4 has 1
		p, err := Run(context.Background(), Config{Base: base, Grid: grid, Apply: testApply, Shard: Shard{i, 4}, Workers: 2})
		if err != nil {
			t.Fatal(err)
		}
		c, j := render(t, p)
		pj, err := Read([]byte(j))
		if err != nil {
			t.Fatal(err)
		}
		pc, err := Read([]byte(c))
		if err != nil {
			t.Fatal(err)
		}
		parts, csvParts = append(parts, pj), append(csvParts, pc)
	}
	// Order of the parts does not matter.
	parts[0], parts[2] = parts[2], parts[0]
	merged, err := Merge(parts...)
	if err != nil {
		t.Fatal(err)
	}
	gotCSV, gotJSON := render(t, merged)
	if gotJSON != wantJSON {
		t.Fatalf("merged JSON differs from unsharded:\n%s\nwant\n%s", gotJSON, wantJSON)
	}
	if gotCSV != wantCSV {
		t.Fatalf("merged CSV differs:\n%s\nwant\n%s", gotCSV, wantCSV)
	}
	mc, err := Merge(csvParts...)
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := render(t, mc); c != wantCSV {
		t.Fatalf("CSV-merged CSV differs:\n%s\nwant\n%s", c, wantCSV)
	}

	// A missing shard: merged but incomplete, and the gaps are named.
	partial, err := Merge(parts[1:]...)
	if err != nil {
		t.Fatal(err)
	}
	if partial.Complete || len(partial.Missing()) == 0 {
		t.Fatalf("merge without a shard: complete %v, missing %v", partial.Complete, partial.Missing())
	}
	// Another sweep's output is refused.
	other := parts[0]
	other.Seed++
	if _, err := Merge(parts[1], other); err == nil {
		t.Fatal("merging different sweeps: no error")
	}
	// A point with two different results is refused.
	bad := parts[1]
	bad.Rows = append([]Row(nil), bad.Rows...)
	bad.Rows[0].KeysLost++
	if _, err := Merge(parts[1], bad); err == nil {
		t.Fatal("merging conflicting rows: no error")
	}
}

// Cancelling stops the sweep and keeps the rows that finished.
func TestCancelKeepsFinishedRows(t *testing.T) {
	base := small()
	grid := Grid{{"clients", []string{"50", "60", "70", "80", "90", "100"}}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res, err := Run(ctx, Config{Base: base, Grid: grid, Apply: testApply, Workers: 1,
		Progress: func(done, total int) {
			if done == 2 {
				cancel()
			}
		}})
	if !errors.Is(err, ErrInterrupted) {
		t.Fatalf("want ErrInterrupted, got %v", err)
	}
	if res.Complete || len(res.Rows) != 2 || res.Rows[0].Index != 0 || res.Rows[1].Index != 1 {
		t.Fatalf("after cancel: complete %v, rows %+v", res.Complete, res.Rows)
	}
	// Its CSV says so (issue 15: an interrupted CSV sweep carried no marker),
	// and merge refuses it in either format.
	c, j := render(t, res)
	if !strings.Contains(c, "complete=false interrupted=true") {
		t.Fatalf("interrupted CSV has no marker:\n%s", c)
	}
	for name, text := range map[string]string{"csv": c, "json": j} {
		part, err := Read([]byte(text))
		if err != nil {
			t.Fatal(err)
		}
		if !part.Interrupted || part.Complete {
			t.Fatalf("%s read back: interrupted %v complete %v", name, part.Interrupted, part.Complete)
		}
		if _, err := Merge(part); err == nil || !strings.Contains(err.Error(), "interrupted") {
			t.Fatalf("%s: merge of an interrupted part: %v", name, err)
		}
	}
}

// A point that cannot run is a failed row; the other points still run
// (issue 15: one failing grid point made the whole sweep exit 1 with no rows).
func TestFailingPointIsARow(t *testing.T) {
	grid := Grid{{"max-events", []string{"100", "1000000000"}}}
	res, err := Run(context.Background(), Config{Base: small(), Grid: grid, Apply: testApply, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 2 || !res.Complete || res.Failed() != 1 {
		t.Fatalf("rows %+v complete %v failed %d", res.Rows, res.Complete, res.Failed())
	}
	if r := res.Rows[0]; r.Verdict != VerdictError || !strings.Contains(r.Error, "event limit") {
		t.Fatalf("row 0: %+v", r)
	}
	if r := res.Rows[1]; r.Verdict == VerdictError || r.RenewalsPerS == 0 {
		t.Fatalf("row 1 did not run: %+v", r)
	}
	c, _ := render(t, res)
	back, err := Read([]byte(c))
	if err != nil {
		t.Fatal(err)
	}
	if back.Rows[0].Verdict != VerdictError || back.Rows[0].Error != res.Rows[0].Error {
		t.Fatalf("CSV round trip lost the error: %+v\n%s", back.Rows[0], c)
	}
}

// Merge refuses parts whose grid size, indexes or values do not add up
// (issue 15: a forged part with grid_size -5 and row index 99999999 merged
// with exit 0).
func TestMergeRefusesForgedParts(t *testing.T) {
	grid := Grid{{"clients", []string{"100", "200"}}}
	good, err := Run(context.Background(), Config{Base: small(), Grid: grid, Apply: testApply, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Merge(good); err != nil {
		t.Fatalf("the honest part: %v", err)
	}
	forge := func(f func(r *Result)) Result {
		r := good
		r.Rows = append([]Row(nil), good.Rows...)
		for i := range r.Rows {
			r.Rows[i].Values = map[string]string{"clients": r.Rows[i].Values["clients"]}
		}
		f(&r)
		return r
	}
	for name, part := range map[string]Result{
		"negative grid size":       forge(func(r *Result) { r.GridSize = -5 }),
		"grid size not the grid's": forge(func(r *Result) { r.GridSize = 3 }),
		"index out of range":       forge(func(r *Result) { r.Rows[1].Index = 99999999 }),
		"duplicate index":          forge(func(r *Result) { r.Rows[1].Index = 0 }),
		"values not the grid's":    forge(func(r *Result) { r.Rows[1].Values["clients"] = "999" }),
		"index not in shard":       forge(func(r *Result) { r.Shard = "1/2" }),
	} {
		if _, err := Merge(part); err == nil {
			t.Errorf("%s: merged", name)
		}
	}
}

// The knee: buggy clients (2 renewals/s each once the channel is full) fit
// about a quarter as many as fixed ones (one per ~TTL/3 = 2 s).
func TestKnee(t *testing.T) {
	base := small()
	res, err := Knees(context.Background(), KneeConfig{
		Config: Config{Base: base, Grid: Grid{{"client-version", []string{"v3.2.23", "v3.7.3"}}}, Apply: testApply, Workers: 2},
		At:     1000, Tolerance: 0.05, Max: 20000, Seeds: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Knees) != 2 {
		t.Fatalf("%d knees", len(res.Knees))
	}
	buggy, fixed := res.Knees[0], res.Knees[1]
	for _, k := range res.Knees {
		t.Logf("%v: max %d clients (first fail %d, %s), headroom at %d: %+.0f%%, %d probes, horizon %gs, %s",
			k.Values, k.MaxClients, k.FirstFail, k.FirstSaturating, k.At, 100*k.Headroom, len(k.Probes), k.HorizonS, k.FailFractions())
		if !k.Bracketed || k.MaxClients <= 0 || k.FirstFail <= k.MaxClients {
			t.Fatalf("not bracketed: %+v", k)
		}
		if len(k.Seeds) != 2 || len(k.Probes) != 2*len(k.Points) {
			t.Fatalf("%d seeds, %d probes of %d points", len(k.Seeds), len(k.Probes), len(k.Points))
		}
		for _, p := range k.Probes {
			n, _ := strconv.Atoi(p.Values["clients"])
			if n < k.LowestFail && p.Verdict != "ok" {
				t.Fatalf("probe at %d clients is %s below the lowest failing count %d", n, p.Verdict, k.LowestFail)
			}
		}
		if !strings.HasPrefix(k.FirstSaturating, "leader CPU") {
			t.Fatalf("first saturating: %q (%+v)", k.FirstSaturating, k.Saturation)
		}
	}
	if float64(buggy.FirstFail-buggy.MaxClients) > max(1, 0.05*float64(buggy.MaxClients)) {
		t.Fatalf("buggy knee not within 5%%: %d..%d", buggy.MaxClients, buggy.FirstFail)
	}
	// The pre-fix fleet runs until its channels are full (5 s spread + 16
	// renewals of ~2.2 s) and 30 s more; the fixed one for spread + TTL + 30 s.
	if buggy.HorizonS != 70 || fixed.HorizonS != 40 {
		t.Fatalf("horizons %g s, %g s; want 70 s, 40 s", buggy.HorizonS, fixed.HorizonS)
	}
	if r := float64(fixed.MaxClients) / float64(buggy.MaxClients); r < 2.5 || r > 6 {
		t.Fatalf("fixed/buggy knee ratio %.2f, want about 4", r)
	}
	if _, err := Knees(context.Background(), KneeConfig{Config: Config{Base: base, Grid: Grid{{"clients", []string{"1"}}}, Apply: testApply}}); err == nil {
		t.Fatal("a knee search over clients: no error")
	}
}

// The CSV writes numbers one way: plain decimals, never an exponent
// (3538944, not 3.538944e+06), and they read back exactly.
func TestCSVNumberFormat(t *testing.T) {
	r := Result{Scenario: "s", Seed: 1, CPUTarget: 0.7, Grid: Grid{{Flag: "clients", Values: []string{"100"}}}, Complete: true,
		Rows: []Row{{Index: 0, Values: map[string]string{"clients": "100"}, Seed: 1, RenewalsPerS: 100.0 / 3,
			LeaderCPUPeak: 0.0414735, PeakQueueBytes: 3538944, PeakNewConnsPerS: 1e-7, Verdict: "ok"}}}
	var b bytes.Buffer
	if err := r.WriteCSV(&b); err != nil {
		t.Fatal(err)
	}
	if s := b.String(); strings.Contains(s, "e+") || strings.Contains(s, "e-") || !strings.Contains(s, ",3538944,") ||
		!strings.Contains(s, ",33.333333333333336,") || !strings.Contains(s, ",0.0000001,") {
		t.Fatalf("CSV:\n%s", s)
	}
	back, err := Read(b.Bytes())
	if err != nil || back.Rows[0].PeakQueueBytes != 3538944 || back.Rows[0].RenewalsPerS != 100.0/3 {
		t.Fatalf("read back: %v %+v", err, back.Rows)
	}
}

// A fast-mode sweep says so in its JSON and its CSV trailer, reads back
// with it, and does not merge with an exact one; an exact sweep's outputs
// carry no fidelity (they are as they were).
func TestSweepRecordsFidelity(t *testing.T) {
	base := Result{Scenario: "s", Seed: 1, CPUTarget: 0.7, GridSize: 2, Grid: Grid{{Flag: "clients", Values: []string{"100", "200"}}}, Complete: true,
		Rows: []Row{{Index: 0, Values: map[string]string{"clients": "100"}, Seed: 1, Verdict: "ok"}}}
	fast := base
	fast.Fidelity = "fast"
	var b bytes.Buffer
	if err := base.WriteCSV(&b); err != nil || strings.Contains(b.String(), "fidelity") {
		t.Fatalf("exact CSV: %v\n%s", err, b.String())
	}
	b.Reset()
	if err := fast.WriteCSV(&b); err != nil || !strings.Contains(b.String(), " fidelity=fast") {
		t.Fatalf("fast CSV: %v\n%s", err, b.String())
	}
	back, err := Read(b.Bytes())
	if err != nil || back.Fidelity != "fast" {
		t.Fatalf("read back: %v, fidelity %q", err, back.Fidelity)
	}
	other := base
	other.Rows = []Row{{Index: 1, Values: map[string]string{"clients": "200"}, Seed: 1, Verdict: "ok"}}
	if _, err := Merge(fast, other); err == nil || !strings.Contains(err.Error(), "fidelity exact") {
		t.Errorf("merging a fast part with an exact one: %v", err)
	}
	if fidelityOf(spec.Spec{Fidelity: spec.FidelityFast}) != "fast" || fidelityOf(spec.Spec{}) != "" {
		t.Error("fidelityOf")
	}
}
