package main

// 'leasesim run --seeds N': one scenario, many seeds.
//
// A storm is metastable: whether it starts, and when, depends on the seed (the
// clients' start times and the peer network's jitter). --seeds N runs the
// scenario, and each --what-if variant, once per seed and reports the
// distribution instead of one draw.
//
// Terms:
//   - seeds: a variant's seeds are its scenario seed S and the N-1 after it,
//     S, S+1, ..., S+N-1 (so --seeds 1 is the single run, and --seed 7 --seeds 3
//     is seeds 7, 8, 9). Every variant uses the same seeds unless a --what-if
//     changes the seed: the variants are compared draw for draw.
//   - storm: on a cluster, a reconnect storm — the run's busiest second dialled
//     more than stormPerS (10) new peer connections or finished more than 10
//     TLS handshakes (the rule by which the single run's "Why" explains
//     reconnects and full handshakes). The idealised server has no
//     connections: there a storm is the renew interval falling to 500 ms
//     (Summary.First500msS set: leases renewed on every keepalive scan).
//   - not recovered: a fault after which the leader's queue did not return to
//     its level before the trigger by the end of the run (recoveries; the single
//     run calls it a metastable failure). Counted only for scenarios with faults.
//   - spread: over the seeds that ran to the end, the min, p50 (the median
//     seed's value: the lower of the two middle ones for an even count), max
//     and mean of each headline figure; the first expiry's spread is over the
//     seeds that had one.
//   - --fail-on judges the base variant's seeds: it fails if any seed fails a
//     criterion.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"

	"github.com/leasesim/leasesim/export"
	"github.com/leasesim/leasesim/recorder"
	"github.com/leasesim/leasesim/scenario"
	"github.com/leasesim/leasesim/spec"
	"github.com/leasesim/leasesim/sweep"
)

// maxSeeds bounds --seeds: a typo (1000000) should not queue days of runs.
const maxSeeds = 100000

// seedsFlag is --seeds, kept as given so that a bad value is refused by
// cmdRun with the allowed values (pflag's own error would not name them).
type seedsFlag struct{ val string }

func (f *seedsFlag) String() string     { return f.val }
func (f *seedsFlag) Set(s string) error { f.val = s; return nil }
func (f *seedsFlag) Type() string       { return "int" }

// parseSeeds reads --seeds.
func parseSeeds(v string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 1 || n > maxSeeds {
		return 0, usagef("--seeds: %q is not allowed: give a whole number of seeds from 1 to %d (e.g. --seeds 10)", v, maxSeeds)
	}
	return n, nil
}

// seedsOf is a variant's N seeds: its scenario seed and the N-1 after it.
func seedsOf(sp spec.Spec, n int) ([]uint64, error) {
	if sp.Seed > math.MaxUint64-uint64(n-1) {
		return nil, usagef("--seeds %d: the seeds from %d on pass 2^64-1; give a smaller --seed", n, sp.Seed)
	}
	s := make([]uint64, n)
	for i := range s {
		s[i] = sp.Seed + uint64(i)
	}
	return s, nil
}

// Statuses of a seed's row.
const (
	seedDone        = "done"
	seedInterrupted = "interrupted" // stopped by SIGINT/SIGTERM, or never started
)

// SeedRow is one seed's run: its headline figures once it ran to the end.
type SeedRow struct {
	Seed   uint64 `json:"seed"`
	Status string `json:"status"` // done | interrupted
	*SeedFigures
	failed []string // the --fail-on criteria it failed
}

// SeedFigures are a finished run's verdicts and headline figures. The
// cluster's figures are absent (nil) for runs against the idealised server.
type SeedFigures struct {
	Storm        bool  `json:"storm"`
	NotRecovered *bool `json:"not_recovered,omitempty"` // scenarios with faults
	// RenewalsPerS: the mean over the last 10 % of the run (as sweep's rows).
	RenewalsPerS    float64  `json:"renewals_per_s"`
	IntervalP50Ms   float64  `json:"interval_p50_ms"`
	IntervalP99Ms   float64  `json:"interval_p99_ms"`
	LeaderCPUPeak   *float64 `json:"leader_cpu_peak,omitempty"` // fraction of its cores, busiest second
	PeakNewConnsS   *float64 `json:"peak_new_conns_per_s,omitempty"`
	PeakTimeWaitLdr *float64 `json:"peak_time_wait_leader,omitempty"`
	// NewConnsTotal: new peer connections dialled over the whole run (a
	// storm's size, where the peak second is its sharpness); PeakEstablished:
	// ESTABLISHED peer sockets, the largest bucket-end sample; SaturatedS:
	// when the leader's CPU first reached 95 % of its cores (the run's
	// timeline's "leader CPU saturated"), nil if it never did.
	NewConnsTotal   *float64 `json:"new_conns_total,omitempty"`
	PeakEstablished *float64 `json:"peak_established,omitempty"`
	SaturatedS      *float64 `json:"leader_saturated_s,omitempty"`
	LeasesExpired   uint64   `json:"leases_expired"`
	KeysLost        uint64   `json:"keys_lost"`
	FirstExpiryS    *float64 `json:"first_expiry_s"`
	Events          uint64   `json:"events"`
}

// stormed is one run's storm verdict (see the terms above).
func stormed(o outcome) bool {
	if o.spec.IsIdeal() {
		return o.First500msS != nil
	}
	return reconnectStorm(o)
}

func figuresOf(o outcome) *SeedFigures {
	d := o.spec.Duration.D()
	f := &SeedFigures{
		RenewalsPerS: o.MeanRenewalsPerS(d*9/10, d), IntervalP50Ms: o.IntervalMs.P50, IntervalP99Ms: o.IntervalMs.P99,
		LeasesExpired: o.LeasesExpired, KeysLost: o.KeysLost, FirstExpiryS: o.FirstExpiryS, Events: o.Events,
	}
	f.Storm = stormed(o)
	if o.spec.IsIdeal() {
		return f
	}
	cpu, conns, tw := o.res.Peaks[sweep.LeaderCPUMetric(o.spec)], o.res.Peaks[recorder.NewPeerConnections], o.res.Peaks[recorder.TimeWaitLeader]
	f.LeaderCPUPeak, f.PeakNewConnsS, f.PeakTimeWaitLdr = &cpu, &conns, &tw
	total := 0.0
	for _, x := range o.res.Metric(recorder.NewPeerConnections) {
		total += x * o.BucketSeconds // a counter's series is per second
	}
	estab := o.res.Peaks[recorder.PeerEstablished]
	f.NewConnsTotal, f.PeakEstablished = &total, &estab
	if t, ok := leaderSaturatedAt(o); ok {
		at := t.Seconds()
		f.SaturatedS = &at
	}
	if len(o.spec.Faults) > 0 {
		failed := false
		for _, r := range recoveries(o, o.bucket()) {
			failed = failed || !r.recovered
		}
		f.NotRecovered = &failed
	}
	return f
}

// Share is how many of a variant's finished seeds have a property, and which.
type Share struct {
	Count    int      `json:"count"`
	Of       int      `json:"of"`
	Fraction float64  `json:"fraction"`
	Seeds    []uint64 `json:"seeds"`
}

func shareOf(rows []SeedRow, has func(*SeedFigures) bool) Share {
	s := Share{Seeds: []uint64{}}
	for _, r := range rows {
		if r.SeedFigures == nil {
			continue
		}
		s.Of++
		if has(r.SeedFigures) {
			s.Count++
			s.Seeds = append(s.Seeds, r.Seed)
		}
	}
	if s.Of > 0 {
		s.Fraction = float64(s.Count) / float64(s.Of)
	}
	return s
}

// Spread is a headline figure over the seeds that have it.
type Spread struct {
	N    int     `json:"n"`
	Min  float64 `json:"min"`
	P50  float64 `json:"p50"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

func spreadOf(vals []float64) Spread {
	if len(vals) == 0 {
		return Spread{}
	}
	v := slices.Clone(vals)
	slices.Sort(v)
	var sum float64
	for _, x := range v {
		sum += x
	}
	return Spread{N: len(v), Min: v[0], P50: v[(len(v)-1)/2], Max: v[len(v)-1], Mean: sum / float64(len(v))}
}

// headline is one figure of the spread table: its JSON key, its name in the
// human table, how to read it off a seed's figures (false: the seed lacks it)
// and how to print it.
type headline struct {
	key, name string
	get       func(*SeedFigures) (float64, bool)
	format    func(float64) string
}

// amount prints a count (or a peak of one): whole numbers with thousands
// separators, a mean over seeds with its fraction.
func amount(x float64) string {
	if x == math.Trunc(x) && x >= 0 && x < 1e18 {
		return count(uint64(x))
	}
	return rate(x)
}

func optional(p *float64) (float64, bool) {
	if p == nil {
		return 0, false
	}
	return *p, true
}

var headlines = []headline{
	{"renewals_per_s", "renewals/s (last 10% of run)", func(f *SeedFigures) (float64, bool) { return f.RenewalsPerS, true }, rate},
	{"interval_p50_ms", "renew interval p50", func(f *SeedFigures) (float64, bool) { return f.IntervalP50Ms, true }, ms},
	{"interval_p99_ms", "renew interval p99", func(f *SeedFigures) (float64, bool) { return f.IntervalP99Ms, true }, ms},
	{"leader_cpu_peak", "leader CPU (peak second)", func(f *SeedFigures) (float64, bool) { return optional(f.LeaderCPUPeak) },
		func(x float64) string { return fmt.Sprintf("%.0f%%", 100*x) }},
	{"peak_new_conns_per_s", "new peer conns/s (peak)", func(f *SeedFigures) (float64, bool) { return optional(f.PeakNewConnsS) }, amount},
	{"new_conns_total", "new peer conns (whole run)", func(f *SeedFigures) (float64, bool) { return optional(f.NewConnsTotal) }, amount},
	{"peak_time_wait_leader", "TIME-WAIT on leader (peak)", func(f *SeedFigures) (float64, bool) { return optional(f.PeakTimeWaitLdr) }, amount},
	{"peak_established", "ESTABLISHED peer sockets (peak)", func(f *SeedFigures) (float64, bool) { return optional(f.PeakEstablished) }, amount},
	{"leader_saturated_s", "leader CPU first >= 95 % at", func(f *SeedFigures) (float64, bool) { return optional(f.SaturatedS) },
		func(x float64) string { return dur(secs(&x)) }},
	{"leases_expired", "leases expired", func(f *SeedFigures) (float64, bool) { return float64(f.LeasesExpired), true }, amount},
	{"keys_lost", "keys lost", func(f *SeedFigures) (float64, bool) { return float64(f.KeysLost), true }, amount},
	{"first_expiry_s", "first lease expiry at", func(f *SeedFigures) (float64, bool) { return optional(f.FirstExpiryS) },
		func(x float64) string { return dur(secs(&x)) }},
}

// SeedsSummary is a variant's distribution over its finished seeds.
type SeedsSummary struct {
	Done         int               `json:"done"` // seeds that ran to the end
	Storm        Share             `json:"storm"`
	NotRecovered *Share            `json:"not_recovered,omitempty"`
	Expired      Share             `json:"leases_expired"`
	LostKeys     Share             `json:"lost_keys"`
	Spreads      map[string]Spread `json:"spreads"` // by headline key; a figure no seed has is left out
}

func summarise(rows []SeedRow, faults bool) SeedsSummary {
	s := SeedsSummary{Spreads: map[string]Spread{}}
	s.Storm = shareOf(rows, func(f *SeedFigures) bool { return f.Storm })
	if faults {
		nr := shareOf(rows, func(f *SeedFigures) bool { return f.NotRecovered != nil && *f.NotRecovered })
		s.NotRecovered = &nr
	}
	s.Expired = shareOf(rows, func(f *SeedFigures) bool { return f.LeasesExpired > 0 })
	s.LostKeys = shareOf(rows, func(f *SeedFigures) bool { return f.KeysLost > 0 })
	s.Done = s.Storm.Of
	for _, h := range headlines {
		var vals []float64
		for _, r := range rows {
			if r.SeedFigures == nil {
				continue
			}
			if v, ok := h.get(r.SeedFigures); ok {
				vals = append(vals, v)
			}
		}
		if len(vals) > 0 {
			s.Spreads[h.key] = spreadOf(vals)
		}
	}
	return s
}

// SeedsVariant is one run variant (base or a what-if) over its seeds.
type SeedsVariant struct {
	Label   string       `json:"label"`
	Summary SeedsSummary `json:"summary"`
	Runs    []SeedRow    `json:"runs"`
	faults  bool
}

// SeedsResult is the output of 'run --seeds N' (its -w json document).
type SeedsResult struct {
	Scenario string `json:"scenario"`
	Seeds    int    `json:"seeds"`
	// SeedRule: how each variant's seeds derive from its scenario seed.
	SeedRule string `json:"seed_rule"`
	// StormRule: what counts as a storm (see the package's terms).
	StormRule string `json:"storm_rule"`
	Complete  bool   `json:"complete"`
	// Interrupted: SIGINT or SIGTERM stopped the runs; the summaries are of
	// the seeds that finished.
	Interrupted bool `json:"interrupted,omitempty"`
	// Fidelity: the base run's mode, as fast (cohorts of N) when it is fast
	// (spec.FidelityFast); omitted when exact.
	Fidelity string         `json:"fidelity,omitempty"`
	Variants []SeedsVariant `json:"runs"`
}

const seedRuleText = "scenario seed + i, i = 0 .. seeds-1"

var stormRuleText = fmt.Sprintf("cluster: peak new peer connections/s or TLS handshakes/s above %d; idealised server: renew interval at or below 500 ms", stormPerS)

// seedJob is one (variant, seed) run.
type seedJob struct{ v, i int }

// runSeeds runs every variant's seeds on workers goroutines, taking the jobs
// in order (variant by variant, seed by seed). It returns the rows (those not
// finished when ctx ended are marked interrupted) and the first errors of
// runs that failed. done, if not nil, is called after each job.
func runSeeds(ctx context.Context, labels []string, specs []spec.Spec, seeds [][]uint64, workers int,
	crit []criterion, done func()) ([]SeedsVariant, error) {
	vs := make([]SeedsVariant, len(specs))
	var jobs []seedJob
	for v, sp := range specs {
		vs[v] = SeedsVariant{Label: labels[v], Runs: make([]SeedRow, len(seeds[v])), faults: len(sp.Faults) > 0}
		for i, s := range seeds[v] {
			vs[v].Runs[i] = SeedRow{Seed: s, Status: seedInterrupted}
			jobs = append(jobs, seedJob{v, i})
		}
	}
	errs := make([]error, len(jobs))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(max(1, workers), len(jobs)) {
		wg.Go(func() {
			for {
				k := int(next.Add(1) - 1)
				if k >= len(jobs) || ctx.Err() != nil {
					return
				}
				j := jobs[k]
				sp := specs[j.v]
				sp.Seed = seeds[j.v][j.i]
				res, err := scenario.Run(ctx, sp, nil)
				if done != nil {
					done()
				}
				if err != nil {
					if ctx.Err() == nil {
						errs[k] = fmt.Errorf("%s, seed %d: %w", labels[j.v], sp.Seed, err)
					}
					continue
				}
				o := outcomeOf(labels[j.v], sp, res)
				row := &vs[j.v].Runs[j.i]
				row.Status, row.SeedFigures = seedDone, figuresOf(o)
				if j.v == 0 {
					row.failed = judge(crit, o)
				}
			}
		})
	}
	wg.Wait()
	for v := range vs {
		vs[v].Summary = summarise(vs[v].Runs, vs[v].faults)
	}
	return vs, errors.Join(errs...)
}

// cmdRunSeeds is 'run --seeds N': the base and what-if specs are parsed and
// validated already.
func cmdRunSeeds(ctx context.Context, o *runOpts, n int, format string, crit []criterion, labels []string, specs []spec.Spec,
	stdout, stderr io.Writer) error {
	for _, f := range []struct{ name, val string }{{"trace", o.trace}, {"csv", o.csvDir}, {"prom", o.prom}} {
		if f.val != "" {
			return usagef("--%s writes one run's series and --seeds runs many: run the seed you want alone (--seed S, without --seeds)", f.name)
		}
	}
	seeds := make([][]uint64, len(specs))
	for v, sp := range specs {
		var err error
		if seeds[v], err = seedsOf(sp, n); err != nil {
			return err
		}
	}
	workers := o.jobs
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	total := len(specs) * n
	workers = min(workers, total)
	if err := checkMemory(specs, workers, o.force, "-j 1, --clients, --duration, fewer --what-if or --fast (cohorts: an approximation, see the README)"); err != nil {
		return err
	}
	var bar *progress
	if total > 1 && !o.quiet {
		bar = newProgress(stderr, total, "run", "runs")
	}
	vs, err := runSeeds(ctx, labels, specs, seeds, workers, crit, func() { bar.add(1) })
	bar.finish()
	if err != nil {
		return err
	}
	res := SeedsResult{Scenario: specs[0].Name, Seeds: n, SeedRule: seedRuleText, StormRule: stormRuleText,
		Complete: true, Variants: vs}
	if r, err := specs[0].Resolve(); err == nil && r.Cluster != nil && r.Cluster.Fast {
		res.Fidelity = r.Cluster.FidelityString()
	}
	for _, v := range vs {
		res.Complete = res.Complete && v.Summary.Done == len(v.Runs)
	}
	res.Interrupted = !res.Complete
	switch format {
	case "json":
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", " ")
		err = enc.Encode(res)
	case "csv":
		err = writeSeedsCSV(stdout, res)
	default:
		err = printSeeds(stdout, res)
	}
	if err != nil {
		return err
	}
	if res.Interrupted {
		return interrupted(fmt.Sprintf("%d of %d runs complete; the output marks the others", doneRuns(res), total))
	}
	var failed []string
	for _, r := range vs[0].Runs {
		if len(r.failed) > 0 {
			failed = append(failed, fmt.Sprintf("seed %d: %s", r.Seed, strings.Join(r.failed, ", ")))
		}
	}
	if len(failed) > 0 {
		return verdictError{fmt.Sprintf("--fail-on: %d of %d seeds failed: %s", len(failed), n, strings.Join(failed, "; "))}
	}
	return nil
}

func doneRuns(res SeedsResult) int {
	d := 0
	for _, v := range res.Variants {
		d += v.Summary.Done
	}
	return d
}

// seedList prints seeds, at most maxN of them.
func seedList(s []uint64, maxN int) string {
	var out []string
	for i, x := range s {
		if i == maxN {
			out = append(out, fmt.Sprintf("... (%d in all)", len(s)))
			break
		}
		out = append(out, strconv.FormatUint(x, 10))
	}
	return strings.Join(out, ", ")
}

func shareText(what string, s Share) string {
	t := fmt.Sprintf("%s %d of %d", what, s.Count, s.Of)
	if s.Count > 0 && s.Count < s.Of {
		t += " (seed " + seedList(s.Seeds, 10) + ")"
	}
	return t
}

// printSeeds is the human output: per variant, the shares of seeds that storm,
// do not recover, expire leases and lose keys, then a table of each headline
// figure's spread.
func printSeeds(w io.Writer, res SeedsResult) error {
	title := "leasesim run"
	if res.Scenario != "" {
		title += " --scenario " + spec.Printable(res.Scenario)
	}
	first := res.Variants[0].Runs
	fmt.Fprintf(w, "%s --seeds %d: seeds %d..%d (the scenario's seed + 0..%d)\n", title, res.Seeds, first[0].Seed, first[len(first)-1].Seed, res.Seeds-1)
	if res.Fidelity != "" {
		fmt.Fprintf(w, "Fidelity: %s; its error against the exact mode is in the README (\"The fast mode\"); --what-if fast=false runs the exact mode beside it.\n", res.Fidelity)
	}
	if res.Interrupted {
		fmt.Fprintf(w, "INTERRUPTED: %d of %d runs complete; the figures are of the complete seeds only\n", doneRuns(res), res.Seeds*len(res.Variants))
	}
	fmt.Fprintln(w, wrap("Storm: "+stormRuleText+". Spread over the seeds: min, p50 (the median seed), max, mean.", 88, ""))
	for _, v := range res.Variants {
		s := v.Summary
		fmt.Fprintln(w)
		parts := []string{shareText("storm", s.Storm)}
		if s.NotRecovered != nil {
			parts = append(parts, shareText("not recovered", *s.NotRecovered))
		}
		parts = append(parts, shareText("leases expired", s.Expired), shareText("keys lost", s.LostKeys))
		fmt.Fprintln(w, wrap(v.Label+": "+strings.Join(parts, "; "), 88, ""))
		if s.Done < len(v.Runs) {
			var missing []uint64
			for _, r := range v.Runs {
				if r.SeedFigures == nil {
					missing = append(missing, r.Seed)
				}
			}
			fmt.Fprintf(w, "  interrupted, not in the figures: seed %s\n", seedList(missing, 10))
		}
		if s.Done == 0 {
			continue
		}
		// Names left, figures right: the names are padded here, the tabwriter
		// aligns the figures to the right.
		width := 0
		for _, h := range headlines {
			width = max(width, len(h.name))
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "%-*s\tmin\tp50\tmax\tmean\tseeds\t\n", width, "")
		for _, h := range headlines {
			sp, ok := s.Spreads[h.key]
			if !ok {
				if h.key == "first_expiry_s" || h.key == "leader_saturated_s" {
					fmt.Fprintf(tw, "%-*s\tnever\t\t\t\t0\t\n", width, h.name)
				}
				continue
			}
			fmt.Fprintf(tw, "%-*s\t%s\t%s\t%s\t%s\t%d\t\n", width, h.name, h.format(sp.Min), h.format(sp.P50), h.format(sp.Max), h.format(sp.Mean), sp.N)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

// writeSeedsCSV: one row per (variant, seed), in order; a seed that did not
// finish has its status and empty figures.
func writeSeedsCSV(w io.Writer, res SeedsResult) error {
	cols := []string{"run", "scenario", "seed", "status", "storm", "not_recovered", "renewals_per_s", "interval_p50_ms",
		"interval_p99_ms", "leader_cpu_peak_ratio", "peak_new_conns_per_s", "peak_time_wait_leader", "leases_expired",
		"keys_lost", "first_expiry_s", "events", "new_conns_total", "peak_established", "leader_saturated_s"}
	var b strings.Builder
	b.WriteString(strings.Join(cols, ",") + "\n")
	opt := func(p *float64) string {
		if p == nil {
			return ""
		}
		return export.Num(*p)
	}
	for _, v := range res.Variants {
		for _, r := range v.Runs {
			row := []string{csvQuote(v.Label), csvQuote(res.Scenario), strconv.FormatUint(r.Seed, 10), r.Status}
			if f := r.SeedFigures; f != nil {
				nr := ""
				if f.NotRecovered != nil {
					nr = strconv.FormatBool(*f.NotRecovered)
				}
				row = append(row, strconv.FormatBool(f.Storm), nr, export.Num(f.RenewalsPerS), export.Num(f.IntervalP50Ms),
					export.Num(f.IntervalP99Ms), opt(f.LeaderCPUPeak), opt(f.PeakNewConnsS), opt(f.PeakTimeWaitLdr),
					fmt.Sprint(f.LeasesExpired), fmt.Sprint(f.KeysLost), opt(f.FirstExpiryS), fmt.Sprint(f.Events),
					opt(f.NewConnsTotal), opt(f.PeakEstablished), opt(f.SaturatedS))
			} else {
				row = append(row, make([]string, len(cols)-len(row))...)
			}
			b.WriteString(strings.Join(row, ",") + "\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
