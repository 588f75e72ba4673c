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
// must not vary clients), the largest client count that stays "ok" (no lease
// expired, leader CPU peak under the target).
type KneeConfig struct {
	Config
	// At is the client count to report headroom for; 0: the base scenario's.
	At int
	// Min and Max bound the search; defaults 1 and 1,000,000.
	Min, Max int
	// Duration, if set, overrides every probe's duration (e.g. "3m": keep
	// probes short, but long enough for the load to reach its steady state).
	Duration string
	// Tolerance is the relative precision of the result (default 0.02: the
	// knee is known to within 2%).
	Tolerance float64
}

// Knee is the search's result for one configuration.
type Knee struct {
	Index  int               `json:"index"`
	Values map[string]string `json:"values"`
	// MaxClients is the largest count found ok (0: even Min fails).
	MaxClients int `json:"max_clients"`
	// Bracketed: a failing count (FirstFail) was found; false when Max was ok.
	Bracketed bool `json:"bracketed"`
	FirstFail int  `json:"first_fail,omitempty"`
	At        int  `json:"at"`
	AtRow     Row  `json:"at_row"`
	// Headroom is MaxClients/At - 1: +0.5 means 50% more clients fit, -0.6
	// means At is 2.5x too many.
	Headroom float64 `json:"headroom"`
	// FirstSaturating names the resource that gave out first in the run at
	// FirstFail clients; Saturation lists every limit it crossed, in order.
	FirstSaturating string     `json:"first_saturating"`
	Saturation      []Crossing `json:"saturation,omitempty"`
	// Probes is every run of the search, by client count; Values["clients"] of
	// each holds its count.
	Probes []Row `json:"probes"`
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

// Knees runs the search for every configuration of the config's shard, the
// configurations in parallel; each search is sequential rounds of probes, run
// in parallel within a round when there are more workers than configurations.
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
	if kc.Tolerance <= 0 {
		kc.Tolerance = 0.02
	}
	if kc.At < kc.Min || kc.At > kc.Max {
		return Result{}, fmt.Errorf("--at %d is outside the search range %d..%d", kc.At, kc.Min, kc.Max)
	}
	res := Result{Scenario: kc.Base.Name, Seed: kc.Base.Seed, CPUTarget: kc.target(), Grid: kc.Grid,
		GridSize: kc.Grid.Size(), Shard: kc.Shard.String(), Knees: []Knee{}}
	idx := kc.Indexes()
	per := max(1, kc.workers()/max(1, len(idx)))
	progress := kc.Progress
	cfg := kc.Config
	cfg.Progress = nil
	var mu sync.Mutex
	probes := 0
	estimate := kc.EstimatedProbes()
	knees, err := runPoints(ctx, cfg, idx, func(i int) (Knee, error) {
		return kc.search(ctx, i, per, func() {
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
// adaptive: the exact number is known only at the end): per configuration,
// the probe at --at, about two doublings or halvings to bracket the knee,
// and the bisection to the tolerance.
func (kc KneeConfig) EstimatedProbes() int {
	tol := kc.Tolerance
	if tol <= 0 {
		tol = 0.02
	}
	per := 1 + 2 + int(math.Ceil(math.Log2(1/tol)))
	return per * len(kc.Indexes())
}

// electionTimeout is the scenario's election timeout, etcd's default if unset.
func electionTimeout(s spec.Spec) time.Duration {
	if e := s.Cluster.ElectionTimeout.D(); e > 0 {
		return e
	}
	return spec.DefaultElectionTimeout.D()
}

type probe struct {
	row Row
	out scenario.Outcome
	sp  spec.Spec
}

func (kc KneeConfig) search(ctx context.Context, i, per int, tick func()) (Knee, error) {
	base, err := kc.Spec(i)
	if err != nil {
		return Knee{}, err
	}
	if kc.Duration != "" {
		if err := kc.Apply(&base, "duration", kc.Duration); err != nil {
			return Knee{}, err
		}
	}
	k := Knee{Index: i, Values: map[string]string{}, At: kc.At}
	for n, v := range kc.Grid.Point(i) {
		k.Values[kc.Grid[n].Flag] = v
	}
	runs := map[int]probe{}
	var mu sync.Mutex
	run := func(counts []int) error {
		var todo []int
		for _, n := range counts {
			if _, ok := runs[n]; !ok && !slices.Contains(todo, n) {
				todo = append(todo, n)
			}
		}
		errs := make([]error, len(todo))
		var wg sync.WaitGroup
		for j, n := range todo {
			wg.Go(func() {
				if ctx.Err() != nil {
					errs[j] = ctx.Err()
					return
				}
				s := base
				if err := kc.Apply(&s, "clients", strconv.Itoa(n)); err != nil {
					errs[j] = err
					return
				}
				o, err := scenario.Run(ctx, s, nil)
				if err != nil {
					errs[j] = fmt.Errorf("%d clients: %w", n, err)
					return
				}
				g := Grid{{Flag: "clients", Values: []string{strconv.Itoa(n)}}}
				r := rowOf(s, o, g, 0, kc.target())
				for f, v := range k.Values {
					r.Values[f] = v
				}
				mu.Lock()
				runs[n] = probe{r, o, s}
				mu.Unlock()
				tick()
			})
		}
		wg.Wait()
		for _, e := range errs {
			if e != nil {
				return e
			}
		}
		return nil
	}
	ok := func(n int) bool { return runs[n].row.Verdict == "ok" }

	if err := run([]int{kc.At}); err != nil {
		return Knee{}, err
	}
	lo, hi := 0, 0 // lo: largest ok so far (0: none); hi: smallest failing (0: none)
	if ok(kc.At) {
		lo = kc.At
		for hi == 0 && lo < kc.Max {
			var next []int
			for j, n := 0, lo; j < per && n < kc.Max; j++ {
				n = min(n*2, kc.Max)
				next = append(next, n)
			}
			if err := run(next); err != nil {
				return Knee{}, err
			}
			for _, n := range next {
				if !ok(n) {
					hi = n
					break
				}
				lo = n
			}
		}
	} else {
		hi = kc.At
		for lo == 0 && hi > kc.Min {
			var next []int
			for j, n := 0, hi; j < per && n > kc.Min; j++ {
				n = max(n/2, kc.Min)
				next = append(next, n)
			}
			if err := run(next); err != nil {
				return Knee{}, err
			}
			for _, n := range next {
				if ok(n) {
					lo = n
					break
				}
				hi = n
			}
		}
	}
	if lo > 0 && hi > 0 {
		for float64(hi-lo) > max(1, kc.Tolerance*float64(lo)) {
			var next []int
			for j := 1; j <= per; j++ {
				n := lo + (hi-lo)*j/(per+1)
				if n > lo && n < hi && !slices.Contains(next, n) {
					next = append(next, n)
				}
			}
			if len(next) == 0 {
				break
			}
			if err := run(next); err != nil {
				return Knee{}, err
			}
			// The smallest failure bounds from above; the largest ok count
			// below it from below (robust to a non-monotone response).
			for _, n := range next {
				if !ok(n) {
					hi = n
					break
				}
			}
			for _, n := range next {
				if n < hi && ok(n) {
					lo = max(lo, n)
				}
			}
		}
	}
	k.MaxClients = lo
	k.AtRow = runs[kc.At].row
	k.Headroom = float64(lo)/float64(kc.At) - 1
	if hi > 0 {
		k.Bracketed, k.FirstFail = true, hi
		p := runs[hi]
		k.Saturation = Saturation(p.sp, p.out, kc.target())
		k.FirstSaturating = firstResource(k.Saturation)
	} else {
		k.FirstSaturating = fmt.Sprintf("none up to %d clients", kc.Max)
	}
	for _, n := range slices.Sorted(maps.Keys(runs)) {
		k.Probes = append(k.Probes, runs[n].row)
	}
	return k, nil
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
func Saturation(s spec.Spec, o scenario.Outcome, cpuTarget float64) []Crossing {
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
