// Package sweep runs a grid of leasesim scenarios: every combination of a few
// scenario fields (named by the CLI flags that set them, e.g. clients=5000,10000),
// each a deterministic run with the base scenario's seed, in parallel over a
// worker pool, with results ordered by grid index so output never depends on
// scheduling. A grid can be cut into deterministic shards (--shard i/n) that run
// on different machines and are combined with Merge.
//
// # Knee search
//
// Knees (knee.go) finds, per configuration of the grid, the client counts a
// cluster carries. Terms:
//
//   - probe: the runs at one client count, one per seed. Every count runs
//     with the same seeds (SeedsFor: the scenario's seed S and the ones after
//     it, S, S+1, ..., as 'leasesim run --seeds'; --seeds, default 3).
//   - horizon: how long each run lasts (Horizon): until the fleet has settled
//     (Settled: for a pre-fix client that never reads, the last start plus 16
//     renewal intervals, when its 16-slot channel is full and it renews on
//     every 500 ms scan; for a fixed client, the last start plus one TTL),
//     plus a margin (DefaultMargin: 2 x TTL, at least 30 s; --knee-margin). A
//     shorter run would judge the quiet hour before a TTL-600 fleet collapses.
//   - a run is ok when no lease expired and the leader's CPU peak stayed
//     under the target; a count is pass (every seed ok), fail (every seed
//     failed) or metastable (some of each).
//   - lowest failing count: the lowest probed count with any failing seed;
//     highest passing count: the highest with any ok seed. When the highest
//     passing count is not below the lowest failing one, the outcome is not a
//     step in the client count: the metastable band is [lowest failing,
//     highest passing]. A band is evidence; no band is not proof that none
//     exists between the probed counts.
//   - knee (MaxClients): the largest probed count below the lowest failing
//     count on which every seed was ok.
//
// The search, per configuration: probe --at; double (or halve) until a count
// with a failing seed and one with none bracket the boundary; bisect on "any
// seed fails" to the tolerance; then scan ScanSteps counts above the failing
// edge and below the passing edge, at 2, 4, 8, 16 x the tolerance away,
// leaving out those within half the tolerance of a count already probed (a
// bisection sees one boundary, and a fleet that fails at 91,000 clients may
// hold at 100,000); if that shows a band, probe the midpoints of its widest
// gaps (at most ScanSteps). What is probed next depends only on the results
// so far, never on -j or on which run ends first, so the output is the same
// on any GOMAXPROCS.
package sweep

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"

	"github.com/leasesim/leasesim/recorder"
	"github.com/leasesim/leasesim/scenario"
	"github.com/leasesim/leasesim/spec"
)

// ApplyFunc sets the scenario field that the CLI flag called flag sets, from
// its textual value (the CLI passes its own applyFlag, so a grid axis accepts
// exactly what the flag accepts).
type ApplyFunc func(spec *spec.Spec, flag, value string) error

// DefaultCPUTarget is the leader CPU (fraction of its cores, peak 1 s bucket) a
// run must stay under to be "ok".
const DefaultCPUTarget = 0.70

// Axis is one varied field: the flag that sets it and the values, in order.
type Axis struct {
	Flag   string   `json:"flag"`
	Values []string `json:"values"`
}

// ParseAxis reads "clients=5000,10000,20000".
func ParseAxis(s string) (Axis, error) {
	name, vals, ok := strings.Cut(s, "=")
	name = strings.TrimLeft(strings.TrimSpace(name), "-")
	if !ok || name == "" || strings.TrimSpace(vals) == "" {
		return Axis{}, fmt.Errorf("%q must be FLAG=V1,V2,... (e.g. clients=5000,10000,20000)", s)
	}
	a := Axis{Flag: name}
	seen := map[string]bool{}
	for _, v := range strings.Split(vals, ",") {
		v = strings.TrimSpace(v)
		if v == "" {
			return Axis{}, fmt.Errorf("%q: empty value", s)
		}
		if seen[v] {
			return Axis{}, fmt.Errorf("%q: value %q given twice", s, v)
		}
		seen[v] = true
		a.Values = append(a.Values, v)
	}
	return a, nil
}

// Grid is the cartesian product of its axes; the first axis varies slowest.
type Grid []Axis

// Size is the number of points (1 for an empty grid: the base scenario alone).
func (g Grid) Size() int {
	n := 1
	for _, a := range g {
		n *= len(a.Values)
	}
	return n
}

// known reports whether the grid's values are known (a CSV part knows only
// its flags).
func (g Grid) known() bool {
	for _, a := range g {
		if len(a.Values) == 0 {
			return false
		}
	}
	return len(g) > 0
}

// Flags lists the axes' flags in order.
func (g Grid) Flags() []string {
	var f []string
	for _, a := range g {
		f = append(f, a.Flag)
	}
	return f
}

// Point returns the values of grid point i, one per axis.
func (g Grid) Point(i int) []string {
	vals := make([]string, len(g))
	for k := len(g) - 1; k >= 0; k-- {
		n := len(g[k].Values)
		vals[k] = g[k].Values[i%n]
		i /= n
	}
	return vals
}

// Validate checks that no flag is varied twice and that apply accepts every
// value on base (so a bad value is an error before anything runs).
func (g Grid) Validate(base spec.Spec, apply ApplyFunc) error {
	seen := map[string]bool{}
	for _, a := range g {
		if seen[a.Flag] {
			return fmt.Errorf("--grid: %s is varied twice", a.Flag)
		}
		seen[a.Flag] = true
		for _, v := range a.Values {
			s := base
			if err := apply(&s, a.Flag, v); err != nil {
				return err
			}
			if _, err := s.Resolve(); err != nil {
				return fmt.Errorf("--grid %s=%s: %w", a.Flag, v, err)
			}
		}
	}
	return nil
}

// Shard is a deterministic slice of a grid: the points whose index is I modulo
// N (0 <= I < N). Round-robin, so that shards of a grid ordered by size get
// similar work. The zero Shard is the whole grid.
type Shard struct{ I, N int }

// ParseShard reads "i/n" with 0 <= i < n.
func ParseShard(s string) (Shard, error) {
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 0 || i >= n {
		return Shard{}, fmt.Errorf("%q must be i/n with 0 <= i < n (e.g. 0/4 ... 3/4)", s)
	}
	return Shard{I: i, N: n}, nil
}

// Has reports whether grid point idx belongs to the shard.
func (s Shard) Has(idx int) bool { return s.N <= 1 || idx%s.N == s.I }

func (s Shard) String() string {
	if s.N <= 1 {
		return ""
	}
	return fmt.Sprintf("%d/%d", s.I, s.N)
}

// Row is one grid point's result. Rates are per second; peaks are the largest
// 1 s bucket of the run (cluster scenarios; 0 against the idealised server).
type Row struct {
	Index  int               `json:"index"`
	Values map[string]string `json:"values"`
	Seed   uint64            `json:"seed"`
	// RenewalsPerS is the mean renewal rate over the last 10% of the run (the
	// steady state the load settled into).
	RenewalsPerS       float64 `json:"renewals_per_s"`
	LeaderCPUPeak      float64 `json:"leader_cpu_peak"` // fraction of the leader's cores
	LeasesExpired      uint64  `json:"leases_expired"`
	KeysLost           uint64  `json:"keys_lost"`
	PeakNewConnsPerS   float64 `json:"peak_new_conns_per_s"`
	PeakHandshakesPerS float64 `json:"peak_handshakes_per_s"`
	PeakQueueBytes     float64 `json:"peak_queue_bytes"`
	// PeakTimeWait: the largest TIME-WAIT count, leader and followers together.
	PeakTimeWait float64 `json:"peak_time_wait"`
	PeakDialErrs float64 `json:"peak_dial_errors_per_s"`
	Verdict      string  `json:"verdict"` // ok | fail | error
	// Error: why the point could not be run (Verdict "error"); the sweep
	// goes on with the other points.
	Error string `json:"error,omitempty"`
}

// Verdicts of a row.
const (
	VerdictOK    = "ok"
	VerdictFail  = "fail"
	VerdictError = "error" // the point could not be run (Row.Error says why)
)

// Result is a sweep's output (or a merge of shards' outputs).
type Result struct {
	Scenario  string  `json:"scenario"`
	Seed      uint64  `json:"seed"`
	CPUTarget float64 `json:"cpu_target"`
	// Fidelity: "fast" when every run is in the fast mode (the base
	// scenario's spec.Spec.Fidelity; a grid may vary it too), else empty.
	Fidelity string `json:"fidelity,omitempty"`
	Grid     Grid   `json:"grid"`
	GridSize int    `json:"grid_size"`
	Shard    string `json:"shard,omitempty"`
	// Complete: every point of the shard (or grid) has its row (false after an
	// interruption, or a merge missing shards).
	Complete bool `json:"complete"`
	// Interrupted: the run was stopped (Ctrl-C, SIGTERM) before every point
	// of its shard finished; merge refuses such a part.
	Interrupted bool   `json:"interrupted,omitempty"`
	Rows        []Row  `json:"rows,omitempty"`
	Knees       []Knee `json:"knees,omitempty"`
}

// fidelityOf is Result.Fidelity for a sweep of base.
func fidelityOf(base spec.Spec) string {
	if base.Fidelity == spec.FidelityFast {
		return spec.FidelityFast
	}
	return ""
}

// Config is what a sweep runs.
type Config struct {
	Base      spec.Spec
	Grid      Grid
	Apply     ApplyFunc
	Shard     Shard
	Workers   int     // 0: runtime.GOMAXPROCS
	CPUTarget float64 // 0: DefaultCPUTarget
	// Progress, if set, is called (from one goroutine at a time) after each point
	// (a knee search: after each probe, with total its estimate, EstimatedProbes).
	Progress func(done, total int)
}

func (c Config) target() float64 {
	if c.CPUTarget > 0 {
		return c.CPUTarget
	}
	return DefaultCPUTarget
}

func (c Config) workers() int {
	if c.Workers > 0 {
		return c.Workers
	}
	return runtime.GOMAXPROCS(0)
}

// Indexes lists the grid points of the config's shard.
func (c Config) Indexes() []int {
	var idx []int
	for i := 0; i < c.Grid.Size(); i++ {
		if c.Shard.Has(i) {
			idx = append(idx, i)
		}
	}
	return idx
}

// Spec returns the scenario of grid point i.
func (c Config) Spec(i int) (spec.Spec, error) {
	s := c.Base
	s.Faults = append([]spec.FaultSpec(nil), c.Base.Faults...)
	if c.Base.Cluster.Prober != nil {
		p := *c.Base.Cluster.Prober
		s.Cluster.Prober = &p
	}
	for k, v := range c.Grid.Point(i) {
		if err := c.Apply(&s, c.Grid[k].Flag, v); err != nil {
			return s, err
		}
	}
	return s, nil
}

// ErrInterrupted is returned (wrapped) when the context ended the sweep early;
// the Result then holds the rows that finished.
var ErrInterrupted = errors.New("sweep interrupted")

// Run runs the config's points over a pool of workers. If ctx ends, it stops
// handing out points and returns at once with the finished rows (sorted by
// index, Complete false) and an error wrapping ErrInterrupted; runs in
// progress stop within a second of virtual time and their rows are dropped.
func Run(ctx context.Context, c Config) (Result, error) {
	res := Result{Scenario: c.Base.Name, Seed: c.Base.Seed, CPUTarget: c.target(), Fidelity: fidelityOf(c.Base), Grid: c.Grid,
		GridSize: c.Grid.Size(), Shard: c.Shard.String()}
	idx := c.Indexes()
	rows, err := runPoints(ctx, c, idx, func(i int) (Row, error) {
		s, err := c.Spec(i)
		if err == nil {
			var r Row
			if r, err = RunPoint(ctx, s, c.Grid, i, c.target()); err == nil {
				return r, nil
			}
		}
		if ctx.Err() != nil {
			return Row{}, err // interrupted: the point did not finish
		}
		// A point that cannot run is a failed row, not a lost sweep.
		return errorRow(c.Base, c.Grid, i, err), nil
	})
	res.Rows = rows
	res.Complete = err == nil
	res.Interrupted = errors.Is(err, ErrInterrupted)
	return res, err
}

// errorRow is the row of grid point i that could not be run.
func errorRow(base spec.Spec, g Grid, i int, err error) Row {
	r := Row{Index: i, Values: map[string]string{}, Seed: base.Seed, Verdict: VerdictError, Error: err.Error()}
	for k, v := range g.Point(i) {
		r.Values[g[k].Flag] = v
	}
	return r
}

// Failed counts the rows whose point could not be run.
func (r Result) Failed() int {
	n := 0
	for _, row := range r.Rows {
		if row.Verdict == VerdictError {
			n++
		}
	}
	return n
}

// runPoints runs f for every index over the pool and returns the results in
// the order of idx; it is shared by Run and the knee search.
func runPoints[T any](ctx context.Context, c Config, idx []int, f func(int) (T, error)) ([]T, error) {
	type done struct {
		pos int
		v   T
		err error
	}
	jobs := make(chan int)
	out := make(chan done, len(idx)) // buffered: an abandoned worker never blocks
	for range min(c.workers(), max(1, len(idx))) {
		go func() {
			for pos := range jobs {
				v, err := f(idx[pos])
				out <- done{pos, v, err}
			}
		}()
	}
	defer close(jobs)
	results := make([]*T, len(idx))
	var firstErr error
	next, inFlight, finished := 0, 0, 0
	for {
		if ctx.Err() != nil {
			return collect(results), fmt.Errorf("%w: %d of %d points finished", ErrInterrupted, finished, len(idx))
		}
		var send chan int
		if firstErr == nil && next < len(idx) {
			send = jobs
		}
		if send == nil && inFlight == 0 {
			break
		}
		select {
		case send <- next:
			next++
			inFlight++
		case d := <-out:
			inFlight--
			if d.err != nil {
				if firstErr == nil {
					firstErr = fmt.Errorf("grid point %d: %w", idx[d.pos], d.err)
				}
				continue
			}
			finished++
			results[d.pos] = &d.v
			if c.Progress != nil {
				c.Progress(finished, len(idx))
			}
		case <-ctx.Done():
		}
	}
	return collect(results), firstErr
}

func collect[T any](r []*T) []T {
	var out []T
	for _, p := range r {
		if p != nil {
			out = append(out, *p)
		}
	}
	return out
}

// RunPoint runs one scenario and summarises it as grid point i's row.
func RunPoint(ctx context.Context, s spec.Spec, g Grid, i int, cpuTarget float64) (Row, error) {
	o, err := scenario.Run(ctx, s, nil)
	if err != nil {
		return Row{}, err
	}
	return rowOf(s, o, g, i, cpuTarget), nil
}

func rowOf(s spec.Spec, o recorder.Outcome, g Grid, i int, cpuTarget float64) Row {
	r := Row{Index: i, Values: map[string]string{}, Seed: s.Seed}
	for k, v := range g.Point(i) {
		r.Values[g[k].Flag] = v
	}
	d := s.Duration.D()
	r.RenewalsPerS = o.Summary.MeanRenewalsPerS(d*9/10, d)
	r.LeasesExpired, r.KeysLost = o.Summary.LeasesExpired, o.Summary.KeysLost
	if o.Peaks != nil {
		r.LeaderCPUPeak = o.Peaks[LeaderCPUMetric(s)]
		r.PeakNewConnsPerS = o.Peaks[recorder.NewPeerConnections]
		r.PeakHandshakesPerS = o.Peaks[recorder.TLSHandshakes]
		r.PeakQueueBytes = o.Peaks[recorder.LeaderQueueBytes]
		r.PeakDialErrs = o.Peaks[recorder.DialErrors]
		tl, tf := o.Metric(recorder.TimeWaitLeader), o.Metric(recorder.TimeWaitFollowers)
		for b := range tl {
			v := tl[b]
			if b < len(tf) {
				v += tf[b]
			}
			r.PeakTimeWait = max(r.PeakTimeWait, v)
		}
	}
	r.Verdict = VerdictOK
	if r.KeysLost > 0 || r.LeasesExpired > 0 || r.LeaderCPUPeak >= cpuTarget {
		r.Verdict = VerdictFail
	}
	return r
}

// LeaderCPUMetric names the leader's CPU utilisation series: the initial
// leader's, or with cluster.raft (whose elections move the leadership)
// whichever member led in each bucket.
func LeaderCPUMetric(s spec.Spec) recorder.MetricName {
	if s.Cluster.Raft {
		return recorder.LeaderCPUUtilisation
	}
	return recorder.CPUUtilisation(s.Cluster.Leader)
}
