package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite ../scripted/testdata/golden-<version>.json from the real library")

const (
	scriptsPath     = "../scripted/testdata/scripts.json"
	paceScriptsPath = "../scripted/testdata/scripts-pace.json"
	// regrantScriptsPath: processes that keep a new lease alive after their
	// channel closed (scripted.RegrantCorpus).
	regrantScriptsPath = "../scripted/testdata/scripts-regrant.json"
	// othersScriptsPath: processes that keep several leases alive at once
	// (scripted.OthersCorpus).
	othersScriptsPath = "../scripted/testdata/scripts-others.json"
	goldenDir         = "../scripted/testdata"

	ms = int64(time.Millisecond)
	s  = int64(time.Second)
)

// version is the etcd client version linked into this test binary: v3.3.8
// with go.mod, v3.3.9 with -modfile=go.v339.mod.
func version(t *testing.T) string {
	t.Helper()
	v, err := EtcdVersion()
	if err != nil {
		t.Fatal(err)
	}
	if v != "v3.3.8" && v != "v3.3.9" {
		t.Fatalf("linked %s %s: this harness is for v3.3.8 (go.mod) or v3.3.9 (go.v339.mod)", EtcdModule, v)
	}
	return v
}

// factScript is the spec's reference scenario: one lease, TTL 60, a consumer
// that never reads, default 1 µs server delay, given duration.
func factScript(durationNs int64) Script {
	return Script{Name: "fact-ttl60-never", DurationNs: durationNs, Leases: []Lease{
		{ID: 1, TTLs: 60, Consumer: Consumer{Kind: ConsumerNever}},
	}}
}

// Measured facts: v3.3.9 renews every 20.5 s (TTL/3 rounded up to the next
// 500 ms scan); v3.3.8, whose nextKeepAlive only advances when the response fits
// in the 16-slot channel, does so for 17 requests and then, from request 18 at
// 5 m 29 s, sends on every 500 ms scan.
func TestFactTTL60Never(t *testing.T) {
	v := version(t)
	const twoHours = 7200 * s
	got := RunScript(t, factScript(twoHours), v)
	reqs := got.Leases[0].Requests
	var want []Run
	switch v {
	case "v3.3.9":
		want = []Run{{Start: 500 * ms, Step: 20500 * ms, N: 352}}
	case "v3.3.8":
		want = []Run{
			{Start: 500 * ms, Step: 20500 * ms, N: 17}, // 0.5 s … 328.5 s
			{Start: 329 * s, Step: 500 * ms, N: 13742}, // 5m29s … 7199.5 s
		}
	}
	if !reflect.DeepEqual(reqs, want) {
		t.Fatalf("%s requests:\n got %+v\nwant %+v", v, reqs, want)
	}
	if n := len(Expand(reqs)); v == "v3.3.8" && n != 13759 || v == "v3.3.9" && n != 352 {
		t.Fatalf("%s: %d requests in 2 h", v, n)
	}
	if len(got.Leases[0].Reads) != 0 || got.Leases[0].Closed != -1 {
		t.Fatalf("never-consumer recorded reads/close: %+v", got.Leases[0])
	}

	// v3.3.8 lands a request at exactly 2 h (329 s + 13742 × 0.5 s). Events at
	// t < DurationNs count, so 13,759 fall inside 2 h; counting the one at
	// 7,200 s too gives the 13,760 often quoted for this scenario.
	if v == "v3.3.8" {
		got := RunScript(t, factScript(twoHours+1), v)
		if n := len(Expand(got.Leases[0].Requests)); n != 13760 {
			t.Fatalf("v3.3.8 up to and including 2 h: %d requests, want 13760", n)
		}
	}
}

// With a 700 ms reply delay every version sends its renewals in pairs 0.5 s
// apart: the scan after the request still sees the old nextKeepAlive. (Checked
// with a draining consumer, so that v3.3.8's full-channel bug stays out of it.)
func TestFactSlowReplyPairs(t *testing.T) {
	v := version(t)
	sc := Script{Name: "fact-pairs", DurationNs: 600 * s, Leases: []Lease{
		{ID: 7, TTLs: 60, Consumer: Consumer{Kind: ConsumerDrain}, DelaysNs: []int64{700*ms + 1000}},
	}}
	got := RunScript(t, sc, v)
	reqs := Expand(got.Leases[0].Requests)
	if len(reqs) < 20 || len(reqs)%2 != 0 {
		t.Fatalf("%s: %d requests, want an even number ≥ 20: %+v", v, len(reqs), got.Leases[0].Requests)
	}
	for i := 0; i+1 < len(reqs); i += 2 {
		if d := reqs[i+1] - reqs[i]; d != 500*ms {
			t.Fatalf("%s: requests %d,%d are %v apart, want a pair 500ms apart: %+v", v, i, i+1, time.Duration(d), got.Leases[0].Requests)
		}
		if i+2 < len(reqs) && reqs[i+2]-reqs[i+1] <= 500*ms {
			t.Fatalf("%s: request %d follows its pair after %v: %+v", v, i+2, time.Duration(reqs[i+2]-reqs[i+1]), got.Leases[0].Requests)
		}
	}
	if len(got.Leases[0].Reads) == 0 {
		t.Fatalf("%s: drain consumer read nothing", v)
	}
}

// devScripts exercise every consumer kind, delays, revocation, resets and
// connect delays (they obey the tie rule of ../scripted/script.go: connect
// delays are a whole millisecond + 50 ns, so no scan meets a deadline tick).
var devScripts = []Script{
	{Name: "dev-drain-resets", DurationNs: 300 * s, Leases: []Lease{
		{ID: 1, StartNs: 3 * ms, ConnectDelayNs: 50, TTLs: 30, Consumer: Consumer{Kind: ConsumerDrain}, DelaysNs: []int64{1000, 20*ms + 1000}, ResetsNs: []int64{25*s + 100, 26*s + 200, 90*s + 300}},
		{ID: 2, StartNs: 1250 * ms, ConnectDelayNs: 1*ms + 50, TTLs: 9, Consumer: Consumer{Kind: ConsumerRate, PeriodNs: 4 * s, PhaseNs: 7}},
	}},
	{Name: "dev-revoke-stall", DurationNs: 400 * s, Leases: []Lease{
		{ID: 3, ConnectDelayNs: 20*ms + 50, TTLs: 12, Consumer: Consumer{Kind: ConsumerStall, FromNs: 20*s + 7, ToNs: 150*s + 7}, RevokeAt: 40},
		{ID: 4, StartNs: 7 * ms, ConnectDelayNs: 50, TTLs: 6, Consumer: Consumer{Kind: ConsumerStopAfter, K: 5}, DelaysNs: []int64{1001000, 2500*ms + 1000}},
		{ID: 5, StartNs: 2 * s, ConnectDelayNs: 50, TTLs: 60, Consumer: Consumer{Kind: ConsumerNever}, ResetsNs: []int64{1*s + 100, 200*s + 200}},
	}},
	{Name: "dev-slow-server-deadline", DurationNs: 120 * s, Leases: []Lease{
		{ID: 6, ConnectDelayNs: 50, TTLs: 5, Consumer: Consumer{Kind: ConsumerDrain}, DelaysNs: []int64{6*s + 1000}},
	}},
}

// The reap tie (a real-library race, see README.md): with no connect delay the
// first stream's 500 ms scans fall on the 1 s deadlineLoop ticks, and when the
// lease is reaped at such a tick (here at 6 s: no answer within the 5 s first
// deadline) whether that instant's scan still sends is up to the scheduler.
// With a 50 ns connect delay the first scan sends at once (nextKeepAlive is the
// KeepAlive instant) and the grids no longer meet.
func TestReapTie(t *testing.T) {
	v := version(t)
	sc := func(connectDelay int64) Script {
		return Script{Name: "reap-tie", DurationNs: 60 * s, Leases: []Lease{
			{ID: 3, ConnectDelayNs: connectDelay, TTLs: 60, Consumer: Consumer{Kind: ConsumerDrain}, DelaysNs: []int64{30*s + 1000}},
		}}
	}
	for range 3 {
		got := RunScript(t, sc(0), v).Leases[0]
		a := []Run{{Start: 500 * ms, Step: 500 * ms, N: 11}} // reaped first
		b := []Run{{Start: 500 * ms, Step: 500 * ms, N: 12}} // 6 s scan first
		if !reflect.DeepEqual(got.Requests, a) && !reflect.DeepEqual(got.Requests, b) || got.Closed != 6*s {
			t.Fatalf("%s without connect delay: %+v, want requests 0.5 s .. 5.5 s or .. 6 s and closed at 6 s", v, got)
		}
	}
	got := RunScript(t, sc(50), v).Leases[0]
	want := LeaseResult{ID: 3, Requests: []Run{{Start: 50, Step: 500 * ms, N: 12}}, Closed: 6 * s}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s with 50 ns connect delay:\n got %+v\nwant %+v", v, got, want)
	}
}

// With a 50 ns connect delay the first request goes out when the stream opens
// and the rest of the timeline is the spec's, shifted by 50 ns.
func TestFactTTL60NeverConnectDelay(t *testing.T) {
	v := version(t)
	sc := factScript(7200 * s)
	sc.Leases[0].ConnectDelayNs = 50
	got := RunScript(t, sc, v).Leases[0].Requests
	want := []Run{{Start: 50, Step: 20500 * ms, N: 352}}
	if v == "v3.3.8" {
		// nextKeepAlive last advances with response 16 (307.5 s + 50 ns + 1 µs),
		// so from request 18 at 328.5 s + 50 ns every scan sends: 13,760 in 2 h.
		want = []Run{{Start: 50, Step: 20500 * ms, N: 17}, {Start: 328500*ms + 50, Step: 500 * ms, N: 13743}}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s requests:\n got %+v\nwant %+v", v, got, want)
	}
}

// The same script twice gives the same result.
func TestDeterministic(t *testing.T) {
	v := version(t)
	for _, sc := range append(devScripts, factScript(1800*s)) {
		t.Run(sc.Name, func(t *testing.T) {
			a := RunScript(t, sc, v)
			b := RunScript(t, sc, v)
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("two runs differ:\n%s\n%s", mustJSON(a), mustJSON(b))
			}
			if len(a.Leases) != len(sc.Leases) {
				t.Fatalf("%d lease results for %d leases", len(a.Leases), len(sc.Leases))
			}
			for i, l := range a.Leases {
				if l.ID != sc.Leases[i].ID || len(l.Requests) == 0 {
					t.Fatalf("lease %d: %+v", sc.Leases[i].ID, l)
				}
			}
			t.Logf("%s", mustJSON(a))
		})
	}
}

// Golden: every script of the shared corpora, run on the real library, gives
// exactly ../scripted/testdata/golden-<version>.json (the main corpus,
// scripts.json), golden-pace-<version>.json (the read-then-sleep
// consumer's, scripts-pace.json), golden-regrant-<version>.json (the
// re-granting processes', scripts-regrant.json) and
// golden-others-<version>.json (processes with several leases,
// scripts-others.json); -update rewrites them.
func TestGolden(t *testing.T) {
	for _, c := range []struct{ name, scripts, prefix string }{
		{"main", scriptsPath, "golden-"},
		{"pace", paceScriptsPath, "golden-pace-"},
		{"regrant", regrantScriptsPath, "golden-regrant-"},
		{"others", othersScriptsPath, "golden-others-"},
	} {
		t.Run(c.name, func(t *testing.T) { testGolden(t, c.scripts, c.prefix) })
	}
}

func testGolden(t *testing.T, scriptsPath, prefix string) {
	v := version(t)
	scripts, err := LoadScripts(scriptsPath)
	if errors.Is(err, fs.ErrNotExist) {
		t.Skipf("%s does not exist yet (the main module's generator writes it); skipping the golden test", scriptsPath)
	}
	if err != nil {
		t.Fatal(err)
	}
	results := make([]Result, len(scripts))
	start := time.Now()
	t.Run("scripts", func(t *testing.T) {
		for i, sc := range scripts {
			t.Run(sc.Name, func(t *testing.T) {
				t.Parallel()
				results[i] = RunScript(t, sc, v)
			})
		}
	})
	if t.Failed() {
		return
	}
	t.Logf("ran %d scripts on %s in %v", len(scripts), v, time.Since(start).Round(time.Millisecond))

	got, err := encodeResults(results)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(goldenDir, prefix+v+".json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", path)
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (record it with: go test -run TestGolden -update%s)", err, modfileFlag(v))
	}
	if bytes.Equal(got, want) {
		return
	}
	var wantResults []Result
	if err := json.Unmarshal(want, &wantResults); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(wantResults) != len(results) {
		t.Fatalf("%s has %d results for %d scripts (re-record with -update%s)", path, len(wantResults), len(results), modfileFlag(v))
	}
	bad := 0
	for i := range results {
		if !reflect.DeepEqual(results[i], wantResults[i]) {
			bad++
			if bad <= 5 {
				t.Errorf("%s differs from %s:\n got %s\nwant %s", results[i].Script, path, mustJSON(results[i]), mustJSON(wantResults[i]))
			}
		}
	}
	t.Fatalf("%d of %d results differ from %s (re-record with -update%s if the corpus changed)", bad, len(results), path, modfileFlag(v))
}

// TestStress (opt-in: LEGACY_STRESS=N) runs the corpus N times and reports
// every script whose result is not the same each time.
func TestStress(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("LEGACY_STRESS"))
	if n < 2 {
		t.Skip("set LEGACY_STRESS=N (N >= 2) to run the corpus N times and compare")
	}
	v := version(t)
	scripts, err := LoadScripts(scriptsPath)
	if err != nil {
		t.Skip(err)
	}
	res := make([][]Result, n)
	for r := range res {
		res[r] = make([]Result, len(scripts))
		t.Run(fmt.Sprint("rep", r), func(t *testing.T) {
			for i, sc := range scripts {
				t.Run(sc.Name, func(t *testing.T) {
					t.Parallel()
					res[r][i] = RunScript(t, sc, v)
				})
			}
		})
	}
	for i, sc := range scripts {
		for r := 1; r < n; r++ {
			if !reflect.DeepEqual(res[0][i], res[r][i]) {
				t.Errorf("%s is not deterministic:\n%s\n%s", sc.Name, mustJSON(res[0][i]), mustJSON(res[r][i]))
				break
			}
		}
	}
}

func modfileFlag(v string) string {
	if v == "v3.3.9" {
		return " -modfile=go.v339.mod"
	}
	return ""
}

// encodeResults writes a JSON array with one compact Result per line, exactly
// as the main module writes its JSON arrays.
func encodeResults(rs []Result) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("[\n")
	for i, r := range rs {
		line, err := json.Marshal(r)
		if err != nil {
			return nil, err
		}
		b.Write(line)
		if i < len(rs)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString("]\n")
	return b.Bytes(), nil
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprint(err))
	}
	return string(b)
}

// The read-then-sleep consumer against a grid-reading one: TTL 3 s, 0.3
// reads/s, replies after 1 µs. With v3.3.8 the channel fills and the lease
// collapses to a renewal on every 500 ms scan; a pace consumer (sleeps start
// at its reads) delays that by 3 s: the first renewal 500 ms after the one
// before comes at 45.501 s (+ the 50 ns connect offset), against 42.501 s with rate:0.3. The main module's
// model gives the same instants (scripted.TestPaceCollapseLaterThanRate);
// v3.3.9 never collapses.
func TestPaceCollapseV338(t *testing.T) {
	v := version(t)
	first500 := func(c Consumer) int64 {
		got := RunScript(t, Script{Name: "pace-vs-rate", DurationNs: 90 * s, Leases: []Lease{
			{ID: 1, TTLs: 3, ConnectDelayNs: 1*ms + 50, DelaysNs: []int64{1001}, Consumer: c}}}, v)
		req := Expand(got.Leases[0].Requests)
		for i := 1; i < len(req); i++ {
			if req[i]-req[i-1] <= 500*ms {
				return req[i]
			}
		}
		return -1
	}
	const period = 3_333_333_333 // 1/0.3 s
	rate := first500(Consumer{Kind: ConsumerRate, PeriodNs: period, PhaseNs: 7})
	pace := first500(Consumer{Kind: ConsumerPace, PeriodNs: period})
	t.Logf("%s: first 500 ms renewal: rate %d ns, pace %d ns", v, rate, pace)
	wantRate, wantPace := int64(42501*ms+50), int64(45501*ms+50)
	if v == "v3.3.9" {
		wantRate, wantPace = -1, -1
	}
	if rate != wantRate || pace != wantPace {
		t.Fatalf("%s: first 500 ms renewal: rate %d, pace %d; want %d, %d", v, rate, pace, wantRate, wantPace)
	}
}
