package sweep

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leasesim/leasesim/spec"
)

// metastableFleet is a fake probe shaped like the README's sweep of the
// fixed client: every seed loses its keys at 91,000-95,999 clients, holds at
// 96,000-117,999, and fails again from 118,000; and the seeds disagree at
// the edges and inside: the third seed alone fails at 85,000-90,999 and
// alone holds at 118,000-124,999, the second alone fails at 98,000-99,999.
// It records the durations it was asked to run.
type metastableFleet struct {
	seeds     []uint64
	mu        sync.Mutex
	durations map[time.Duration]int
}

func (f *metastableFleet) probe(_ context.Context, s spec.Spec, _ float64) (Row, []Crossing, error) {
	f.mu.Lock()
	f.durations[s.Duration.D()]++
	f.mu.Unlock()
	n := s.Clients.Count
	fail := (n >= 91_000 && n < 96_000) || n >= 125_000
	switch {
	case n >= 85_000 && n < 91_000:
		fail = s.Seed == f.seeds[2]
	case n >= 98_000 && n < 100_000:
		fail = s.Seed == f.seeds[1]
	case n >= 118_000 && n < 125_000:
		fail = s.Seed != f.seeds[2]
	}
	r := Row{Verdict: VerdictOK, Seed: s.Seed}
	var cs []Crossing
	if fail {
		r.Verdict, r.KeysLost = VerdictFail, uint64(n)
		cs = []Crossing{{Resource: "leader CPU on TLS handshakes", AtS: 80}, {Resource: "lease expiry (keys lost)", AtS: 90, Consequence: true}}
	}
	return r, cs, nil
}

func metastableSearch(t *testing.T, workers int) (Result, *metastableFleet) {
	t.Helper()
	base := small()
	base.Clients.Version = "v3.7.3"
	seeds, _ := SeedsFor(base.Seed, 3)
	f := &metastableFleet{seeds: seeds, durations: map[time.Duration]int{}}
	res, err := Knees(context.Background(), KneeConfig{
		Config: Config{Base: base, Apply: testApply, Workers: workers},
		At:     92_000, Max: 1_000_000, probe: f.probe,
	})
	if err != nil {
		t.Fatal(err)
	}
	return res, f
}

// A non-monotone outcome is reported as a band: the lowest count with a
// failing seed, the highest with an ok one, and every probed count's fail
// fraction; a point where the seeds disagree is metastable.
func TestKneeMetastableBand(t *testing.T) {
	res, _ := metastableSearch(t, 2)
	k := res.Knees[0]
	t.Logf("max %d, lowest fail %d, highest pass %d, band %d-%d: %s", k.MaxClients, k.LowestFail, k.HighestPass, k.BandLow, k.BandHigh, k.FailFractions())
	// The bisection knows the failing edge to the tolerance (2 %), where
	// the seeds disagree; the scan above finds counts that hold again.
	if !k.Metastable || k.LowestFail < 85_000 || k.LowestFail > 85_000*1.02 || k.BandLow != k.LowestFail ||
		k.BandHigh != k.HighestPass || k.HighestPass < 96_000 || k.HighestPass >= 125_000 {
		t.Fatalf("band: metastable %v, lowest fail %d, highest pass %d, band %d-%d", k.Metastable, k.LowestFail, k.HighestPass, k.BandLow, k.BandHigh)
	}
	if k.MaxClients >= 85_000 || float64(k.LowestFail-k.MaxClients) > 0.02*float64(k.MaxClients) || !k.Bracketed || k.FirstFail != k.LowestFail {
		t.Fatalf("knee %d, first fail %d: want the bisected edge below 85,000", k.MaxClients, k.FirstFail)
	}
	if k.FirstSaturating != "leader CPU on TLS handshakes" || k.AtClass != ClassFail || k.AtRow.Verdict != VerdictFail {
		t.Fatalf("first saturating %q, at %s/%s", k.FirstSaturating, k.AtClass, k.AtRow.Verdict)
	}
	classes := map[string][]int{}
	for _, p := range k.Points {
		classes[p.Class] = append(classes[p.Class], p.Clients)
		want := ClassPass
		switch n := p.Clients; {
		case (n >= 91_000 && n < 96_000) || n >= 125_000:
			want = ClassFail
		case (n >= 85_000 && n < 91_000) || (n >= 98_000 && n < 100_000) || (n >= 118_000 && n < 125_000):
			want = ClassMetastable
		}
		if p.Class != want || p.Seeds != 3 || p.FailFraction != float64(p.Failed)/3 {
			t.Errorf("point %+v: want class %s", p, want)
		}
	}
	if len(classes[ClassMetastable]) < 2 || len(classes[ClassFail]) < 2 || !slices.ContainsFunc(classes[ClassPass], func(n int) bool { return n >= 100_000 }) {
		t.Fatalf("the scan did not see the shape: %v", classes)
	}
	// Inside the band, the widest gaps between the bisection's and the
	// scan's counts got their midpoints (4 more counts than those 6).
	inBand := 0
	for _, p := range k.Points {
		if p.Clients >= k.BandLow && p.Clients <= k.BandHigh {
			inBand++
		}
	}
	if inBand < 10 {
		t.Errorf("%d probed counts in the band; want the bisection's and the scan's 6 and 4 midpoints", inBand)
	}
	// The outputs carry it.
	c, j := render(t, res)
	if !strings.Contains(c, fmt.Sprintf(",%d,%d,true,%d,%d,fail,", k.LowestFail, k.HighestPass, k.LowestFail, k.HighestPass)) || !strings.Contains(c, fmt.Sprintf(" %d:1/3 ", k.LowestFail)) || !strings.Contains(c, fmt.Sprintf(" %d:0/3", k.HighestPass)) {
		t.Fatalf("CSV lacks the band or the fail fractions:\n%s", c)
	}
	for _, want := range []string{`"metastable": true`, fmt.Sprintf(`"band_low": %d`, k.LowestFail), `"class": "metastable"`, `"fail_fraction": 0.3333333333333333`} {
		if !strings.Contains(j, want) {
			t.Errorf("JSON lacks %s", want)
		}
	}
	back, err := Read([]byte(j))
	if err != nil {
		t.Fatal(err)
	}
	if _, j2 := render(t, back); j2 != j {
		t.Fatal("the JSON does not read back to itself")
	}
}

// Same inputs, any number of workers or GOMAXPROCS: byte-identical output.
func TestKneeDeterministic(t *testing.T) {
	want, _ := metastableSearch(t, 2)
	wc, wj := render(t, want)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	for _, w := range []int{0, 1, 7} {
		got, _ := metastableSearch(t, w)
		if c, j := render(t, got); c != wc || j != wj {
			t.Fatalf("workers %d: output differs:\n%s\nwant\n%s", w, c, wc)
		}
	}
}

// A monotone fleet has no band: the lowest failing count is above the
// highest passing one.
func TestKneeStepHasNoBand(t *testing.T) {
	base := small()
	res, err := Knees(context.Background(), KneeConfig{
		Config: Config{Base: base, Apply: testApply}, At: 1000, Seeds: 2,
		probe: func(_ context.Context, s spec.Spec, _ float64) (Row, []Crossing, error) {
			if s.Clients.Count >= 5000 {
				return Row{Verdict: VerdictFail}, nil, nil
			}
			return Row{Verdict: VerdictOK}, nil, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	k := res.Knees[0]
	if k.Metastable || k.BandLow != 0 || k.BandHigh != 0 || k.LowestFail != 5000 || k.HighestPass != 4999 && k.HighestPass < 4900 || k.MaxClients != k.HighestPass {
		t.Fatalf("step at 5000: %+v", k)
	}
}

// Seeds: the scenario's and the ones after it, as 'leasesim run --seeds';
// none past 2^64-1.
func TestSeedsFor(t *testing.T) {
	s, ok := SeedsFor(7, 4)
	if !ok || !slices.Equal(s, []uint64{7, 8, 9, 10}) {
		t.Fatalf("SeedsFor(7, 4) = %v %v", s, ok)
	}
	if _, ok := SeedsFor(math.MaxUint64-1, 3); ok {
		t.Fatal("seeds past 2^64-1")
	}
	if s, ok := SeedsFor(math.MaxUint64-2, 3); !ok || s[2] != math.MaxUint64 {
		t.Fatalf("the last seeds: %v %v", s, ok)
	}
	base := small()
	base.Seed = math.MaxUint64
	if _, err := Knees(context.Background(), KneeConfig{Config: Config{Base: base, Apply: testApply}, Seeds: 2}); err == nil || !strings.Contains(err.Error(), "2^64-1") {
		t.Fatalf("seeds past 2^64-1: %v", err)
	}
}

// The horizon of a pre-fix fleet covers 16 renewals at TTL/3 after the last
// client starts: a TTL-600 fleet collapses ~53 min in, and its probes must
// run past that; a fixed fleet's probes run for the spread, one TTL and the
// margin. And the search runs its probes for that horizon.
func TestHorizonCoversChannelFill(t *testing.T) {
	ttl600, err := spec.Builtin("incident-2018-ttl600")
	if err != nil {
		t.Fatal(err)
	}
	ttl := ttl600.Clients.TTL.D()
	spread := ttl600.Clients.StartSpread.D()
	h, err := Horizon(ttl600, 0)
	if err != nil {
		t.Fatal(err)
	}
	fill := spread + 16*ttl/3
	if h < fill+DefaultMargin(ttl) || h > fill+16*time.Second+DefaultMargin(ttl) {
		t.Fatalf("TTL 600 s pre-fix horizon %v; want 16 x TTL/3 after the %v spread (%v), plus 16 scans at most, plus the %v margin", h, spread, fill, DefaultMargin(ttl))
	}
	if h2, _ := Horizon(ttl600, time.Minute); h2 != h-DefaultMargin(ttl)+time.Minute {
		t.Fatalf("--knee-margin 1m: horizon %v, want %v", h2, h-DefaultMargin(ttl)+time.Minute)
	}
	fixed := ttl600
	fixed.Clients.Version = "v3.7.3"
	if h, _ := Horizon(fixed, 0); h != spread+ttl+2*ttl {
		t.Fatalf("fixed horizon %v, want spread + TTL + 2 x TTL", h)
	}
	// A pre-fix client that reads for a while first fills later; one that
	// drains never fills.
	for cons, want := range map[string]time.Duration{
		"never":          spread + 16*ttl/3,
		"stop-after:4":   spread + 20*ttl/3,
		"stall:1h-10h":   spread + time.Hour + 16*ttl/3,
		"drain":          spread + ttl,
		"stall:1h-1h30m": spread + ttl, // too short to fill
	} {
		s := ttl600
		s.Clients.Consumer = cons
		h, err := Horizon(s, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if got := h - time.Second; got < want || got > want+20*time.Second {
			t.Errorf("consumer %s: settled at %v, want %v (+ up to 16 scans)", cons, got, want)
		}
	}

	// The search runs every probe for the horizon of its configuration.
	base := small()
	seeds, _ := SeedsFor(base.Seed, 3)
	f := &metastableFleet{seeds: seeds, durations: map[time.Duration]int{}}
	_, err = Knees(context.Background(), KneeConfig{
		Config: Config{Base: base, Apply: testApply, Grid: Grid{{"client-version", []string{"v3.2.23", "v3.7.3"}}}},
		At:     92_000, probe: f.probe,
	})
	if err != nil {
		t.Fatal(err)
	}
	fillSmall := 5*time.Second + 16*5*time.Second/3
	if len(f.durations) != 2 {
		t.Fatalf("probe durations %v: want one per client version", f.durations)
	}
	for d := range f.durations {
		if d != 40*time.Second && (d < fillSmall+30*time.Second || d > fillSmall+16*(500*time.Second/1000+time.Millisecond)+31*time.Second) {
			t.Errorf("a probe ran %v: want 40 s (fixed) or the %v fill + 30 s (pre-fix)", d, fillSmall)
		}
	}
}

// The summary of probed counts: a lone count where the seeds disagree, with
// every count below it passing and every count above failing, is a band of
// one count.
func TestKneeSummary(t *testing.T) {
	ok, fail := run{row: Row{Verdict: VerdictOK}}, run{row: Row{Verdict: VerdictFail}, fail: true, sat: []Crossing{{Resource: "leader queue memory"}}}
	ks := &kneeSearch{kc: KneeConfig{At: 200, Max: 1000}, seeds: []uint64{1, 2}, runs: map[int][]run{
		100: {ok, ok}, 190: {ok, ok}, 200: {ok, fail}, 210: {fail, fail}, 400: {fail, fail}}}
	k := ks.knee(0, time.Minute, 30*time.Second)
	if !k.Metastable || k.BandLow != 200 || k.BandHigh != 200 || k.LowestFail != 200 || k.HighestPass != 200 ||
		k.MaxClients != 190 || k.FirstFail != 200 || k.FirstSaturating != "leader queue memory" || k.AtClass != ClassMetastable ||
		k.AtRow.Verdict != VerdictOK || k.FailFractions() != "100:0/2 190:0/2 200:1/2 210:2/2 400:2/2" || k.HorizonS != 60 || k.MarginS != 30 {
		t.Fatalf("%+v", k)
	}
	// A step: no band.
	ks.runs[200] = []run{fail, fail}
	k = ks.knee(0, time.Minute, 30*time.Second)
	if k.Metastable || k.BandLow != 0 || k.BandHigh != 0 || k.LowestFail != 200 || k.HighestPass != 190 || k.MaxClients != 190 || k.AtClass != ClassFail {
		t.Fatalf("%+v", k)
	}
	// Nothing fails: not bracketed, the knee is the largest count.
	ks.runs = map[int][]run{100: {ok, ok}, 200: {ok, ok}}
	k = ks.knee(0, time.Minute, 30*time.Second)
	if k.Bracketed || k.Metastable || k.MaxClients != 200 || k.LowestFail != 0 || k.HighestPass != 200 || !strings.HasPrefix(k.FirstSaturating, "none up to 1000") {
		t.Fatalf("%+v", k)
	}
}

// The horizon is what makes the verdict hold: a pre-fix fleet at TTL 30 s
// renews every ~10.5 s until its channels fill (16 renewals, ~170 s in),
// then every 500 ms. A 2-minute probe sees the quiet phase and says ok; the
// horizon's probe sees the collapse.
func TestHorizonSeesTheCollapse(t *testing.T) {
	s := small()
	s.Clients.Count = 2000
	s.Clients.TTL = spec.Duration(30 * time.Second)
	short := s
	short.Duration = spec.Duration(2 * time.Minute)
	r, _, err := RunProbe(context.Background(), short, DefaultCPUTarget)
	if err != nil {
		t.Fatal(err)
	}
	if r.Verdict != VerdictOK {
		t.Fatalf("2 min probe: %+v; want ok (the channels are not full yet)", r)
	}
	h, err := Horizon(s, 0)
	if err != nil {
		t.Fatal(err)
	}
	s.Duration = spec.Duration(h)
	r, cs, err := RunProbe(context.Background(), s, DefaultCPUTarget)
	if err != nil {
		t.Fatal(err)
	}
	if r.Verdict != VerdictFail || len(cs) == 0 || cs[0].AtS < 160 {
		t.Fatalf("%v probe: %+v, crossings %+v; want a failure after the channels fill (~170 s)", h, r, cs)
	}
	t.Logf("horizon %v: %s at %g s", h, cs[0].Resource, cs[0].AtS)
}
