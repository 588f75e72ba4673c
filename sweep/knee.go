package sweep

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/leasesim/leasesim/model"
	"github.com/leasesim/leasesim/recorder"
	"github.com/leasesim/leasesim/scenario"
	"github.com/leasesim/leasesim/spec"
)

// KneeConfig is a knee search: for every configuration of the grid (which
// must not vary clients), the client counts at which the fleet holds ("ok":
// no lease expired, leader CPU peak under the target) on every seed, fails on
// every seed, or on some seeds only (see the package doc: Knee search).
type KneeConfig struct {
	Config
	// At is the client count to report headroom for; 0: the base scenario's.
	At int
	// Min and Max bound the search; defaults 1 and 1,000,000.
	Min, Max int
	// Margin is how long each probe runs past the time the fleet settles
	// (Horizon); 0: DefaultMargin, 2 x TTL and at least 30 s.
	Margin time.Duration
	// Seeds is the number of seeds each probed count runs with (SeedsFor);
	// 0: DefaultSeeds.
	Seeds int
	// Tolerance is the relative precision of the bisection (default 0.02: the
	// lowest failing count is known to within 2%).
	Tolerance float64

	// probe runs one scenario; nil: RunProbe. Tests inject cheap fakes.
	probe func(ctx context.Context, s spec.Spec, cpuTarget float64) (Row, []Crossing, error)
}

// DefaultSeeds is how many seeds each knee probe runs with.
const DefaultSeeds = 3

// MaxSeeds bounds --seeds: each seed multiplies the ~20 counts of a search.
const MaxSeeds = 100

// ScanSteps is how many counts the search probes on each side of the
// bisected boundary, and at most how many more inside a metastable band.
const ScanSteps = 4

// Classes of a probed client count, over its seeds.
const (
	ClassPass       = "pass"       // every seed ok
	ClassFail       = "fail"       // every seed failed
	ClassMetastable = "metastable" // some seeds ok, some failed
)

// KneePoint is one probed client count: how many of its seeds failed.
type KneePoint struct {
	Clients int `json:"clients"`
	Seeds   int `json:"seeds"`
	Failed  int `json:"failed"`
	// FailFraction is Failed/Seeds.
	FailFraction float64 `json:"fail_fraction"`
	Class        string  `json:"class"` // pass | fail | metastable
}

// Knee is the search's result for one configuration.
type Knee struct {
	Index  int               `json:"index"`
	Values map[string]string `json:"values"`
	// MaxClients is the largest probed count below FirstFail on which every
	// seed was ok (0: none); without a failure, the largest probed count.
	MaxClients int `json:"max_clients"`
	// Bracketed: a count with a failing seed (FirstFail) was found; false
	// when every seed of every probe up to Max was ok.
	Bracketed bool `json:"bracketed"`
	// FirstFail is the lowest probed count with a failing seed (LowestFail).
	FirstFail int `json:"first_fail,omitempty"`
	At        int `json:"at"`
	// AtRow is the run at At clients with the first seed (the scenario's).
	AtRow Row `json:"at_row"`
	// Headroom is MaxClients/At - 1: +0.5 means 50% more clients fit, -0.6
	// means At is 2.5x too many.
	Headroom float64 `json:"headroom"`
	// FirstSaturating names the resource that gave out first in the first
	// failing seed's run at FirstFail clients; Saturation lists every limit
	// it crossed, in order.
	FirstSaturating string     `json:"first_saturating"`
	Saturation      []Crossing `json:"saturation,omitempty"`
	// Probes is every run of the search, by client count, then by seed (in
	// the order of Seeds); Values["clients"] of each holds its count.
	Probes []Row `json:"probes"`

	// Seeds are the seeds every count ran with (SeedsFor).
	Seeds []uint64 `json:"seeds"`
	// HorizonS is each probe's virtual duration in seconds (Horizon), of
	// which MarginS is the margin.
	HorizonS float64 `json:"horizon_s"`
	MarginS  float64 `json:"margin_s"`
	// Points are the probed counts in order, with their seeds' failures.
	Points []KneePoint `json:"points"`
	// LowestFail is the lowest probed count with any failing seed, and
	// HighestPass the highest with any ok seed (0: none).
	LowestFail  int `json:"lowest_fail"`
	HighestPass int `json:"highest_pass"`
	// Metastable: HighestPass >= LowestFail, the outcome is not a step in the
	// client count; the band is [BandLow, BandHigh] = [LowestFail,
	// HighestPass] (both 0 when not metastable).
	Metastable bool `json:"metastable"`
	BandLow    int  `json:"band_low"`
	BandHigh   int  `json:"band_high"`
	// AtClass is the class of the At count over its seeds.
	AtClass string `json:"at_class"`
}

// Crossing is the first time a run crossed a limit.
type Crossing struct {
	Resource string  `json:"resource"`
	AtS      float64 `json:"at_s"`
	Detail   string  `json:"detail"`
	// Consequence marks effects (leases expiring) rather than resources.
	Consequence bool `json:"consequence,omitempty"`
}

// QueueMemoryLimit is the leader queue memory that counts as saturated (etcd
// has no bound; a member with a few GiB of RAM is in trouble well before).
const QueueMemoryLimit = 1 << 30

// HandshakeShare: when the leader's CPU crosses the target and at least this
// share of it goes to TLS handshakes, the resource is "leader CPU on TLS
// handshakes" rather than "leader CPU on renewals".
const HandshakeShare = 0.25

// SeedsFor returns the n seeds of a knee probe: the base seed S and the n-1
// after it, S, S+1, ..., S+n-1, as 'leasesim run --seeds n' runs them, so
// any probe can be rerun alone with 'leasesim run --clients N --seed S+k'
// (sim.NewRand hashes the seed with SHA-256: consecutive seeds are unrelated
// draws). Every client count of a search runs with the same seeds, so that
// neighbouring counts differ in the count, not in their luck. ok is false
// when the seeds would pass 2^64-1.
func SeedsFor(base uint64, n int) (seeds []uint64, ok bool) {
	if n > 0 && base > math.MaxUint64-uint64(n-1) {
		return nil, false
	}
	for k := range n {
		seeds = append(seeds, base+uint64(k))
	}
	return seeds, true
}

func (kc KneeConfig) seeds() int {
	if kc.Seeds > 0 {
		return kc.Seeds
	}
	return DefaultSeeds
}

func (kc KneeConfig) tolerance() float64 {
	if kc.Tolerance > 0 {
		return kc.Tolerance
	}
	return 0.02
}

// Knees runs the search for every configuration of the config's shard, the
// configurations side by side; every run (a count and a seed) takes one of
// the Workers slots. What is probed depends only on the results, never on
// Workers or on which run ends first, so the output is the same on any
// GOMAXPROCS.
func Knees(ctx context.Context, kc KneeConfig) (Result, error) {
	for _, a := range kc.Grid {
		if a.Flag == "clients" {
			return Result{}, fmt.Errorf("--grid: a knee search finds the client count itself; do not vary clients")
		}
	}
	if kc.Base.IsIdeal() {
		return Result{}, fmt.Errorf("a knee search needs a cluster scenario (server: cluster): the idealised server has no leader CPU")
	}
	if kc.Min <= 0 {
		kc.Min = 1
	}
	if kc.Max <= 0 {
		kc.Max = 1_000_000
	}
	if kc.At <= 0 {
		kc.At = kc.Base.Clients.Count
	}
	if kc.At < kc.Min || kc.At > kc.Max {
		return Result{}, fmt.Errorf("--at %d is outside the search range %d..%d", kc.At, kc.Min, kc.Max)
	}
	if kc.Seeds < 0 || kc.Seeds > MaxSeeds {
		return Result{}, fmt.Errorf("--seeds %d: allowed 1 to %d", kc.Seeds, MaxSeeds)
	}
	if _, ok := SeedsFor(kc.Base.Seed, kc.seeds()); !ok {
		return Result{}, fmt.Errorf("--seeds %d: the seeds from %d on pass 2^64-1; give a smaller --seed", kc.seeds(), kc.Base.Seed)
	}
	res := Result{Scenario: kc.Base.Name, Seed: kc.Base.Seed, CPUTarget: kc.target(), Fidelity: fidelityOf(kc.Base), Grid: kc.Grid,
		GridSize: kc.Grid.Size(), Shard: kc.Shard.String(), Knees: []Knee{}}
	idx := kc.Indexes()
	slots := make(chan struct{}, kc.workers())
	progress := kc.Progress
	cfg := kc.Config
	cfg.Progress = nil
	cfg.Workers = max(1, len(idx)) // the searches only wait; slots bound the runs
	var mu sync.Mutex
	probes := 0
	estimate := kc.EstimatedProbes()
	knees, err := runPoints(ctx, cfg, idx, func(i int) (Knee, error) {
		return kc.search(ctx, i, slots, func() {
			if progress != nil {
				mu.Lock()
				probes++
				progress(probes, max(estimate, probes))
				mu.Unlock()
			}
		})
	})
	if knees != nil {
		res.Knees = knees
	}
	res.Complete = err == nil
	res.Interrupted = errors.Is(err, ErrInterrupted)
	return res, err
}

// EstimatedProbes is about how many runs Knees makes (the search is
// adaptive: the exact number is known only at the end): per configuration
// and seed, the probe at --at, about two doublings or halvings to bracket
// the boundary, the bisection to the tolerance, and the scan on both sides.
func (kc KneeConfig) EstimatedProbes() int {
	per := 1 + 2 + int(math.Ceil(math.Log2(1/kc.tolerance()))) + 2*ScanSteps
	return per * kc.seeds() * len(kc.Indexes())
}

// electionTimeout is the scenario's election timeout, etcd's default if unset.
func electionTimeout(s spec.Spec) time.Duration {
	if e := s.Cluster.ElectionTimeout.D(); e > 0 {
		return e
	}
	return spec.DefaultElectionTimeout.D()
}

// RunProbe runs one knee probe: its row (Index 0, Values["clients"] set)
// and, if it failed, the limits it crossed.
func RunProbe(ctx context.Context, s spec.Spec, cpuTarget float64) (Row, []Crossing, error) {
	o, err := scenario.Run(ctx, s, nil)
	if err != nil {
		return Row{}, nil, err
	}
	g := Grid{{Flag: "clients", Values: []string{strconv.Itoa(s.Clients.Count)}}}
	r := rowOf(s, o, g, 0, cpuTarget)
	var cs []Crossing
	if r.Verdict != VerdictOK {
		cs = Saturation(s, o, cpuTarget)
	}
	return r, cs, nil
}

// run is one probe's run: a count and a seed.
type run struct {
	row  Row
	sat  []Crossing
	fail bool
}

// kneeSearch is one configuration's search: the probed counts, each with
// its seeds' runs.
type kneeSearch struct {
	kc    KneeConfig
	base  spec.Spec
	seeds []uint64
	vals  map[string]string
	runs  map[int][]run // by count; in the order of seeds
}

// failed is how many seeds of count n failed.
func (ks *kneeSearch) failed(n int) int {
	f := 0
	for _, r := range ks.runs[n] {
		if r.fail {
			f++
		}
	}
	return f
}

func (ks *kneeSearch) anyFail(n int) bool { return ks.failed(n) > 0 }

// probe runs every seed of every count not yet probed, side by side within
// the slots, and waits for them all.
func (ks *kneeSearch) probe(ctx context.Context, slots chan struct{}, tick func(), counts ...int) error {
	var todo []int
	for _, n := range counts {
		if _, ok := ks.runs[n]; !ok && !slices.Contains(todo, n) {
			todo = append(todo, n)
		}
	}
	probeFn := ks.kc.probe
	if probeFn == nil {
		probeFn = RunProbe
	}
	out := make([][]run, len(todo))
	errs := make([]error, len(todo)*len(ks.seeds))
	var wg sync.WaitGroup
	for j, n := range todo {
		out[j] = make([]run, len(ks.seeds))
		for k, seed := range ks.seeds {
			wg.Go(func() {
				select {
				case slots <- struct{}{}:
				case <-ctx.Done():
					errs[j*len(ks.seeds)+k] = ctx.Err()
					return
				}
				defer func() { <-slots }()
				if ctx.Err() != nil {
					errs[j*len(ks.seeds)+k] = ctx.Err()
					return
				}
				s := ks.base
				s.Seed = seed
				if err := ks.kc.Apply(&s, "clients", strconv.Itoa(n)); err != nil {
					errs[j*len(ks.seeds)+k] = err
					return
				}
				r, cs, err := probeFn(ctx, s, ks.kc.target())
				if err != nil {
					errs[j*len(ks.seeds)+k] = fmt.Errorf("%d clients, seed %d: %w", n, seed, err)
					return
				}
				r.Index, r.Seed = 0, seed
				r.Values = map[string]string{"clients": strconv.Itoa(n)}
				maps.Copy(r.Values, ks.vals)
				out[j][k] = run{row: r, sat: cs, fail: r.Verdict != VerdictOK}
				tick()
			})
		}
	}
	wg.Wait()
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	for j, n := range todo {
		ks.runs[n] = out[j]
	}
	return nil
}

func (kc KneeConfig) search(ctx context.Context, i int, slots chan struct{}, tick func()) (Knee, error) {
	base, err := kc.Spec(i)
	if err != nil {
		return Knee{}, err
	}
	h, err := Horizon(base, kc.Margin)
	if err != nil {
		return Knee{}, err
	}
	base.Duration = spec.Duration(h)
	margin := kc.Margin
	if margin <= 0 {
		margin = DefaultMargin(base.Clients.TTL.D())
	}
	seeds, ok := SeedsFor(base.Seed, kc.seeds())
	if !ok {
		return Knee{}, fmt.Errorf("--seeds %d: the seeds from %d on pass 2^64-1; give a smaller --seed", kc.seeds(), base.Seed)
	}
	ks := &kneeSearch{kc: kc, base: base, seeds: seeds, vals: map[string]string{}, runs: map[int][]run{}}
	for n, v := range kc.Grid.Point(i) {
		ks.vals[kc.Grid[n].Flag] = v
	}
	probe := func(counts ...int) error { return ks.probe(ctx, slots, tick, counts...) }
	tol := kc.tolerance()

	// Bracket, then bisect, on "any seed fails": lo is the largest count
	// found with every seed ok (0: none), hi the smallest with a failing
	// seed (0: none).
	if err := probe(kc.At); err != nil {
		return Knee{}, err
	}
	lo, hi := 0, 0
	// narrow probes n and moves the failing (hi) or passing (lo) end to it.
	narrow := func(n int) error {
		if err := probe(n); err != nil {
			return err
		}
		if ks.anyFail(n) {
			hi = n
		} else {
			lo = n
		}
		return nil
	}
	if !ks.anyFail(kc.At) {
		lo = kc.At
		for hi == 0 && lo < kc.Max {
			if err := narrow(min(lo*2, kc.Max)); err != nil {
				return Knee{}, err
			}
		}
	} else {
		hi = kc.At
		for lo == 0 && hi > kc.Min {
			if err := narrow(max(hi/2, kc.Min)); err != nil {
				return Knee{}, err
			}
		}
	}
	for lo > 0 && hi > 0 && float64(hi-lo) > max(1, tol*float64(lo)) {
		if err := narrow(lo + (hi-lo)/2); err != nil {
			return Knee{}, err
		}
	}
	// The scan: a bisection sees one boundary; a metastable fleet has
	// passing counts above a failing one (or failing below a passing one),
	// so probe a few counts on each side, at 2, 4, 8 ... x the tolerance.
	// A count within half the tolerance of one already probed tells
	// nothing new (the doubling's 120,000 and the scan's 120,450).
	near := func(n int) bool {
		for m := range ks.runs {
			if math.Abs(float64(n-m)) < tol/2*float64(m) {
				return true
			}
		}
		return false
	}
	var scan []int
	for j := 1; j <= ScanSteps; j++ {
		step := tol * float64(int(1)<<j)
		if hi > 0 {
			if n := int(math.Round(float64(hi) * (1 + step))); n > hi && n <= kc.Max && !near(n) {
				scan = append(scan, n)
			}
		}
		if lo > 0 && step < 1 {
			if n := int(math.Round(float64(lo) * (1 - step))); n < lo && n >= kc.Min && !near(n) {
				scan = append(scan, n)
			}
		}
	}
	if err := probe(scan...); err != nil {
		return Knee{}, err
	}
	// Inside a band, the widest gaps between probed counts get their
	// midpoint, so the band's shape is seen at more than its edges.
	if low, high := ks.edges(); low > 0 && high >= low {
		counts := ks.counts()
		type gap struct{ a, b int }
		var gaps []gap
		for j := 1; j < len(counts); j++ {
			a, b := counts[j-1], counts[j]
			if a >= low && b <= high && float64(b-a) > max(1, tol*float64(a)) {
				gaps = append(gaps, gap{a, b})
			}
		}
		slices.SortStableFunc(gaps, func(x, y gap) int { return (y.b - y.a) - (x.b - x.a) })
		var inside []int
		for _, g := range gaps[:min(len(gaps), ScanSteps)] {
			inside = append(inside, g.a+(g.b-g.a)/2)
		}
		if err := probe(inside...); err != nil {
			return Knee{}, err
		}
	}
	return ks.knee(i, h, margin), nil
}

// counts lists the probed counts in increasing order.
func (ks *kneeSearch) counts() []int { return slices.Sorted(maps.Keys(ks.runs)) }

// edges are the lowest probed count with any failing seed and the highest
// with any ok seed (0: none).
func (ks *kneeSearch) edges() (lowestFail, highestPass int) {
	for _, n := range ks.counts() {
		f := ks.failed(n)
		if f > 0 && lowestFail == 0 {
			lowestFail = n
		}
		if f < len(ks.seeds) {
			highestPass = n
		}
	}
	return lowestFail, highestPass
}

func classOf(failed, seeds int) string {
	switch failed {
	case 0:
		return ClassPass
	case seeds:
		return ClassFail
	}
	return ClassMetastable
}

// knee summarises the search.
func (ks *kneeSearch) knee(i int, horizon, margin time.Duration) Knee {
	kc := ks.kc
	k := Knee{Index: i, Values: ks.vals, At: kc.At, Seeds: ks.seeds, HorizonS: horizon.Seconds(), MarginS: margin.Seconds()}
	k.LowestFail, k.HighestPass = ks.edges()
	for _, n := range ks.counts() {
		f := ks.failed(n)
		k.Points = append(k.Points, KneePoint{Clients: n, Seeds: len(ks.seeds), Failed: f,
			FailFraction: float64(f) / float64(len(ks.seeds)), Class: classOf(f, len(ks.seeds))})
		if f == 0 && (k.LowestFail == 0 || n < k.LowestFail) {
			k.MaxClients = n
		}
		for _, r := range ks.runs[n] {
			k.Probes = append(k.Probes, r.row)
		}
	}
	k.AtRow = ks.runs[kc.At][0].row
	k.AtClass = classOf(ks.failed(kc.At), len(ks.seeds))
	k.Headroom = float64(k.MaxClients)/float64(kc.At) - 1
	if k.LowestFail > 0 {
		k.Bracketed, k.FirstFail = true, k.LowestFail
		for _, r := range ks.runs[k.LowestFail] {
			if r.fail {
				k.Saturation = r.sat
				break
			}
		}
		k.FirstSaturating = firstResource(k.Saturation)
		if k.HighestPass >= k.LowestFail {
			k.Metastable, k.BandLow, k.BandHigh = true, k.LowestFail, k.HighestPass
		}
	} else {
		k.FirstSaturating = fmt.Sprintf("none up to %d clients", kc.Max)
	}
	return k
}

func firstResource(cs []Crossing) string {
	for _, c := range cs {
		if !c.Consequence {
			return c.Resource
		}
	}
	if len(cs) > 0 {
		return cs[0].Resource
	}
	return "none found in the metrics"
}

// Saturation lists, in order of time, the first time a run crossed each
// limit leasesim can see in its metrics: leader CPU over the target (on TLS
// handshakes or on renewals), leader queue memory over QueueMemoryLimit,
// ephemeral ports (dial errors), TLS handshake timeouts, requests shed by a
// bounded queue, client streams broken by ReqTimeout, the lessor's revoke
// rate, and leases expiring. Ties keep that order.
func Saturation(s spec.Spec, o recorder.Outcome, cpuTarget float64) []Crossing {
	bucket := s.Bucket.D()
	if bucket <= 0 {
		bucket = time.Second
	}
	var out []Crossing
	first := func(name recorder.MetricName, pred func(b int, v float64) bool) (int, bool) {
		for b, v := range o.Metric(name) {
			if pred(b, v) {
				return b, true
			}
		}
		return 0, false
	}
	add := func(b int, resource, detail string, consequence bool) {
		out = append(out, Crossing{Resource: resource, AtS: (time.Duration(b) * bucket).Seconds(), Detail: detail, Consequence: consequence})
	}
	cores := s.Cluster.Cores
	var hsCost time.Duration
	if r, err := s.Resolve(); err == nil && r.Cluster != nil {
		hsCost = r.Cluster.Costs.TLSServerFull
		cores = r.Cluster.Cores
	}
	hs := o.Metric(recorder.TLSHandshakes)
	if b, ok := first(LeaderCPUMetric(s), func(_ int, v float64) bool { return v >= cpuTarget }); ok {
		cpu := o.Metric(LeaderCPUMetric(s))[b]
		share := 0.0
		if b < len(hs) && cores > 0 && cpu > 0 {
			share = hs[b] * hsCost.Seconds() / cores / cpu
		}
		res := "leader CPU on renewals"
		if share >= HandshakeShare {
			res = "leader CPU on TLS handshakes"
		}
		add(b, res, fmt.Sprintf("leader CPU %.0f%% >= target %.0f%%; TLS handshakes %.0f/s, %.0f%% of it", 100*cpu, 100*cpuTarget, hs[b], 100*share), false)
	}
	if b, ok := first(recorder.LeaderQueueBytes, func(_ int, v float64) bool { return v >= QueueMemoryLimit }); ok {
		add(b, "leader queue memory", fmt.Sprintf("queued requests hold >= %d MiB", QueueMemoryLimit>>20), false)
	}
	if b, ok := first(recorder.DialErrors, func(_ int, v float64) bool { return v > 0 }); ok {
		add(b, "ephemeral ports (dial errors)", "a follower could not dial the leader: no free local port", false)
	}
	if b, ok := first(recorder.TLSHandshakeTimeouts, func(_ int, v float64) bool { return v > 0 }); ok {
		add(b, "TLS handshake timeouts", "a peer TLS handshake took longer than 10 s", false)
	}
	if b, ok := first(recorder.ShedRequests, func(_ int, v float64) bool { return v > 0 }); ok {
		add(b, "leader queue limit (requests shed)", "the bounded leader queue shed requests", false)
	}
	if b, ok := first(recorder.ClientStreamErrors, func(_ int, v float64) bool { return v > 0 }); ok {
		add(b, "forward timeouts (client streams broken)", fmt.Sprintf("a forwarded renewal ran out of ReqTimeout (%g s)", model.ReqTimeout(electionTimeout(s)).Seconds()), false)
	}
	kpl := float64(max(1, s.Clients.KeysPerLease))
	if b, ok := first(recorder.KeysLost, func(_ int, v float64) bool { return v/kpl >= 0.99*model.LeaseRevokeRate }); ok {
		add(b, "revoke rate", fmt.Sprintf("the lessor revokes expired leases at its limit, %d/s", model.LeaseRevokeRate), false)
	}
	if b, ok := first(recorder.KeysLost, func(_ int, v float64) bool { return v > 0 }); ok {
		add(b, "lease expiry (keys lost)", "leases expired and their keys were deleted", true)
	}
	slices.SortStableFunc(out, func(a, b Crossing) int {
		switch {
		case a.AtS < b.AtS:
			return -1
		case a.AtS > b.AtS:
			return 1
		}
		return 0
	})
	return out
}
