package fidelity

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
)

// Stat summarises one metric's error over a corpus: the median, 90th
// percentile and largest |error| (nearest rank), over N scenarios, and
// for the first expiry over the scenarios where both runs had one.
type Stat struct {
	Metric string  `json:"metric"`
	N      int     `json:"n"`
	Median float64 `json:"median_abs"`
	P90    float64 `json:"p90_abs"`
	Max    float64 `json:"max_abs"`
	// Worst: the scenario of the largest |error|.
	Worst string `json:"worst"`
}

// Summary is the corpus's errors per metric, its verdicts' agreement and
// its cost in both modes.
type Summary struct {
	Scenarios int `json:"scenarios"`
	// Rel: per relative metric (Metric order); FirstExpiry: seconds.
	Rel         []Stat `json:"rel"`
	FirstExpiry Stat   `json:"first_expiry_s"`
	// StormAgree, KeysAgree: scenarios whose verdicts agree; Storms: those
	// where the exact run stormed (any lease expired).
	StormAgree int `json:"storm_agree"`
	KeysAgree  int `json:"keys_lost_agree"`
	Storms     int `json:"exact_storms"`
	// Exact, Fast: total wall and CPU time; Speedup: total exact wall time
	// over total fast wall time; MedianSpeedup: the median of the
	// scenarios' own.
	// NoiseN: scenarios with a next-seed run (Result.Noise); NoiseRel,
	// NoiseFirstExpiry, NoiseStormAgree, NoiseKeysAgree: the seed noise's
	// figures, as Rel and the rest are the fast mode's; WithinNoise: per
	// metric, the scenarios whose fast |error| is at most the seed noise's
	// (or under 1 %).
	NoiseN           int    `json:"noise_scenarios"`
	NoiseRel         []Stat `json:"noise_rel,omitempty"`
	NoiseFirstExpiry Stat   `json:"noise_first_expiry_s"`
	NoiseStormAgree  int    `json:"noise_storm_agree"`
	NoiseKeysAgree   int    `json:"noise_keys_lost_agree"`
	WithinNoise      []int  `json:"within_noise,omitempty"`
	Exact            Timing `json:"exact_total"`
	// NextSeed: the next-seed exact runs' total time.
	NextSeed      Timing  `json:"exact_next_seed_total"`
	Fast          Timing  `json:"fast_total"`
	Speedup       float64 `json:"speedup"`
	MedianSpeedup float64 `json:"median_speedup"`
}

// scored is one scenario's |error| in one metric.
type scored struct {
	abs  float64
	name string
}

// verdictTally counts, over a set of Errors, the first-expiry differences
// and the agreeing verdicts.
type verdictTally struct {
	firstExpiry []scored
	storm, keys int
}

func (t *verdictTally) add(name string, e Errors) {
	if d := e.FirstExpiryS; d != nil {
		t.firstExpiry = append(t.firstExpiry, scored{math.Abs(*d), name})
	}
	if e.StormAgrees {
		t.storm++
	}
	if e.KeysLostAgree {
		t.keys++
	}
}

// Summarise is the summary of rs.
func Summarise(rs []Result) Summary {
	s := Summary{Scenarios: len(rs)}
	stat := func(name string, vs []scored) Stat {
		st := Stat{Metric: name, N: len(vs)}
		if len(vs) == 0 {
			return st
		}
		slices.SortStableFunc(vs, func(a, b scored) int { return cmp.Compare(a.abs, b.abs) })
		rank := func(q float64) float64 {
			i := int(math.Ceil(q*float64(len(vs)))) - 1
			return vs[max(0, i)].abs
		}
		st.Median, st.P90 = rank(0.5), rank(0.9)
		st.Max, st.Worst = vs[len(vs)-1].abs, vs[len(vs)-1].name
		return st
	}
	var noisy []Result // the scenarios with a seed-noise run
	for _, r := range rs {
		if r.Noise != nil {
			noisy = append(noisy, r)
		}
	}
	s.NoiseN = len(noisy)
	for k := range NumMetrics {
		var vs, ns []scored
		for _, r := range rs {
			vs = append(vs, scored{math.Abs(r.Errors.Rel[k]), r.Name})
		}
		s.Rel = append(s.Rel, stat(k.String(), vs))
		within := 0
		for _, r := range noisy {
			n := math.Abs(r.Noise.Rel[k])
			ns = append(ns, scored{n, r.Name})
			if f := math.Abs(r.Errors.Rel[k]); f <= n || f < 0.01 {
				within++
			}
		}
		s.NoiseRel = append(s.NoiseRel, stat(k.String(), ns))
		s.WithinNoise = append(s.WithinNoise, within)
	}
	var noise verdictTally
	for _, r := range noisy {
		noise.add(r.Name, *r.Noise)
		s.NextSeed.WallS += r.NextSeedTime.WallS
		s.NextSeed.CPUS += r.NextSeedTime.CPUS
	}
	s.NoiseFirstExpiry = stat("first expiry (s)", noise.firstExpiry)
	s.NoiseStormAgree, s.NoiseKeysAgree = noise.storm, noise.keys
	var fast verdictTally
	var speedups []float64
	for _, r := range rs {
		fast.add(r.Name, r.Errors)
		if r.Exact.Storm() {
			s.Storms++
		}
		s.Exact.WallS += r.ExactTime.WallS
		s.Exact.CPUS += r.ExactTime.CPUS
		s.Fast.WallS += r.FastTime.WallS
		s.Fast.CPUS += r.FastTime.CPUS
		speedups = append(speedups, r.Speedup())
	}
	s.FirstExpiry = stat("first expiry (s)", fast.firstExpiry)
	s.StormAgree, s.KeysAgree = fast.storm, fast.keys
	if s.Fast.WallS > 0 {
		s.Speedup = s.Exact.WallS / s.Fast.WallS
	}
	if len(speedups) > 0 {
		slices.Sort(speedups)
		s.MedianSpeedup = speedups[(len(speedups)-1)/2]
	}
	return s
}

// Score orders scenarios by how far the fast mode strays on them: the
// largest |relative error| over the metrics, plus 10 for each verdict that
// disagrees (a wrong verdict is worse than any error in a figure).
func (r Result) Score() float64 {
	var w float64
	for k := range NumMetrics {
		w = max(w, math.Abs(r.Errors.Rel[k]))
	}
	if !r.Errors.StormAgrees {
		w += 10
	}
	if !r.Errors.KeysLostAgree {
		w += 10
	}
	return w
}

// Worst is the n scenarios of rs with the highest Score, highest first.
func Worst(rs []Result, n int) []Result {
	w := slices.Clone(rs)
	slices.SortStableFunc(w, func(a, b Result) int { return cmp.Compare(b.Score(), a.Score()) })
	return w[:min(n, len(w))]
}

// pct formats a relative error as a signed percentage.
func pct(x float64) string {
	if x == 0 {
		return "0"
	}
	return fmt.Sprintf("%+.1f%%", 100*x)
}

// apct formats an |error| as a percentage.
func apct(x float64) string {
	if x == 0 {
		return "0"
	}
	return fmt.Sprintf("%.1f%%", 100*x)
}

// value formats metric k's value in m.
func value(k Metric, m Metrics) string {
	x := k.Of(m)
	switch k {
	case LeaderCPUMean, LeaderCPUPeak:
		return fmt.Sprintf("%.1f%%", 100*x)
	case IntervalP50, IntervalP99:
		return fmt.Sprintf("%.0f ms", x)
	case LeasesExpired, KeysLost, TimeWaitPeak:
		return fmt.Sprintf("%.0f", x)
	}
	return fmt.Sprintf("%.1f", x)
}

func instant(p *float64) string {
	if p == nil {
		return "–"
	}
	return fmt.Sprintf("%.1f s", *p)
}

func verdicts(m Metrics) string {
	storm, keys := "calm", "no keys lost"
	if m.Storm() {
		storm = "storm"
	}
	if m.LostKeys() {
		keys = "keys lost"
	}
	return storm + ", " + keys
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "**NO**"
}

// Report writes the markdown report of rs: the summary per metric, the
// worst scenarios, one row per scenario, and each scenario's table.
// header, if not empty, is written under the title (e.g. the commit).
func Report(w io.Writer, rs []Result, header string) {
	s := Summarise(rs)
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }
	p("# Fast mode against exact mode: the error corpus\n\n")
	if header != "" {
		p("%s\n\n", header)
	}
	p("%d scenarios (package fidelity, `make fast-corpus`), each run in the exact mode and in the fast mode "+
		"(`fidelity: fast`, the cohort left to spec.AutoCohort). Error: (fast − exact) / max(|exact|, floor), "+
		"signed; the first expiry: fast − exact in seconds, where both runs had one. Verdicts: storm = any lease "+
		"expired; keys lost = any key deleted.\n\n", s.Scenarios)

	p("## Per metric\n\n")
	p("Beside each of the fast mode's figures, the seed noise's: the exact mode against itself with the next seed "+
		"(over the %d scenarios that have it). Within noise: the scenarios whose fast |error| is at most the seed "+
		"noise's, or under 1 %%.\n\n", s.NoiseN)
	p("| metric | floor | n | median \\|error\\| fast / noise | p90 fast / noise | max fast / noise | within noise | worst scenario (fast) |\n|---|---:|---:|---:|---:|---:|---:|---|\n")
	for k := range NumMetrics {
		st, ns := s.Rel[k], s.NoiseRel[k]
		p("| %s | %g | %d | %s / %s | %s / %s | %s / %s | %d/%d | %s |\n", st.Metric, k.Floor(), st.N,
			apct(st.Median), apct(ns.Median), apct(st.P90), apct(ns.P90), apct(st.Max), apct(ns.Max), s.WithinNoise[k], s.NoiseN, worst(st))
	}
	fe, nf := s.FirstExpiry, s.NoiseFirstExpiry
	p("| first expiry | – | %d / %d | %.2f s / %.2f s | %.2f s / %.2f s | %.2f s / %.2f s | – | %s |\n\n",
		fe.N, nf.N, fe.Median, nf.Median, fe.P90, nf.P90, fe.Max, nf.Max, worst(fe))
	p("Verdicts: storm agrees on %d/%d, keys lost on %d/%d (the exact mode stormed in %d); between the exact mode's "+
		"two seeds, storm on %d/%d, keys lost on %d/%d.\n\n",
		s.StormAgree, s.Scenarios, s.KeysAgree, s.Scenarios, s.Storms, s.NoiseStormAgree, s.NoiseN, s.NoiseKeysAgree, s.NoiseN)
	var agreeing []Result
	for _, r := range rs {
		if r.Errors.StormAgrees && r.Errors.KeysLostAgree {
			agreeing = append(agreeing, r)
		}
	}
	if len(agreeing) < len(rs) {
		a := Summarise(agreeing)
		p("The same over the %d scenarios whose verdicts agree:\n\n", len(agreeing))
		p("| metric | median \\|error\\| | p90 \\|error\\| | max \\|error\\| | worst scenario |\n|---|---:|---:|---:|---|\n")
		for k := range NumMetrics {
			st := a.Rel[k]
			p("| %s | %s | %s | %s | %s |\n", st.Metric, apct(st.Median), apct(st.P90), apct(st.Max), worst(st))
		}
		fe := a.FirstExpiry
		p("| first expiry (n = %d) | %.2f s | %.2f s | %.2f s | %s |\n\n", fe.N, fe.Median, fe.P90, fe.Max, worst(fe))
	}
	p("Cost: exact %.1f s wall (%.1f s CPU), fast %.1f s wall (%.1f s CPU): %.1fx faster in all, median per scenario %.1fx",
		s.Exact.WallS, s.Exact.CPUS, s.Fast.WallS, s.Fast.CPUS, s.Speedup, s.MedianSpeedup)
	if s.NoiseN > 0 {
		p("; the next-seed exact runs %.1f s wall", s.NextSeed.WallS)
	}
	p(".\n\n")

	p("## Worst scenarios\n\n")
	p("By the largest |error| over the metrics, +10 per verdict that disagrees.\n\n")
	p("| scenario | score | largest errors | verdicts exact → fast |\n|---|---:|---|---|\n")
	for _, r := range Worst(rs, 5) {
		p("| %s | %.2f | %s | %s → %s |\n", r.Name, r.Score(), largest(r, 3), verdicts(r.Exact), verdicts(r.Fast))
	}
	p("\n")

	p("## Every scenario\n\n")
	p("| scenario | clients | cohort |")
	for k := range NumMetrics {
		p(" %s |", k)
	}
	p(" first expiry Δ | storm agrees | keys agree | exact s | fast s | speed-up |\n|---|---:|---:|")
	for range NumMetrics {
		p("---:|")
	}
	p("---:|---|---|---:|---:|---:|\n")
	for _, r := range rs {
		p("| %s | %d | %d |", r.Name, r.Clients, r.Cohort)
		for k := range NumMetrics {
			p(" %s |", pct(r.Errors.Rel[k]))
		}
		d := "–"
		if r.Errors.FirstExpiryS != nil {
			d = fmt.Sprintf("%+.1f s", *r.Errors.FirstExpiryS)
		}
		p(" %s | %s | %s | %.2f | %.2f | %.1fx |\n", d, yesNo(r.Errors.StormAgrees), yesNo(r.Errors.KeysLostAgree),
			r.ExactTime.WallS, r.FastTime.WallS, r.Speedup())
	}
	p("\n## Each scenario\n\n")
	for _, r := range rs {
		p("### %s\n\n", r.Name)
		p("%d clients; fast: cohorts of %d, %d simulated. Exact %.2f s wall, %d events; fast %.2f s wall, %d events.\n\n",
			r.Clients, r.Cohort, r.Simulated, r.ExactTime.WallS, r.ExactEvents, r.FastTime.WallS, r.FastEvents)
		// A result from before the seed noise has none: "–".
		nextCell := func(f func(Metrics) string) string {
			if r.NextSeed == nil {
				return "–"
			}
			return f(*r.NextSeed)
		}
		noiseCell := func(f func(Errors) string) string {
			if r.Noise == nil {
				return "–"
			}
			return f(*r.Noise)
		}
		p("| metric | exact | fast | error | exact, next seed | seed noise |\n|---|---:|---:|---:|---:|---:|\n")
		for k := range NumMetrics {
			p("| %s | %s | %s | %s | %s | %s |\n", k, value(k, r.Exact), value(k, r.Fast), pct(r.Errors.Rel[k]),
				nextCell(func(m Metrics) string { return value(k, m) }), noiseCell(func(e Errors) string { return pct(e.Rel[k]) }))
		}
		p("| first expiry | %s | %s | %s | %s | %s |\n", instant(r.Exact.FirstExpiryS), instant(r.Fast.FirstExpiryS), delta(r.Errors),
			nextCell(func(m Metrics) string { return instant(m.FirstExpiryS) }), noiseCell(delta))
		p("| verdicts | %s | %s | %s | %s | %s |\n\n", verdicts(r.Exact), verdicts(r.Fast), agree(r.Errors),
			nextCell(verdicts), noiseCell(agree))
	}
}

// delta is an Errors' first-expiry difference ("+1.20 s"), or "–".
func delta(e Errors) string {
	if e.FirstExpiryS == nil {
		return "–"
	}
	return fmt.Sprintf("%+.2f s", *e.FirstExpiryS)
}

func worst(st Stat) string {
	if st.Max == 0 {
		return "–"
	}
	return st.Worst
}

func agree(e Errors) string {
	if e.StormAgrees && e.KeysLostAgree {
		return "agree"
	}
	return "**disagree**"
}

// largest lists r's n largest relative errors ("leader CPU peak −96.0%, ...").
func largest(r Result, n int) string {
	ks := make([]Metric, 0, NumMetrics)
	for k := range NumMetrics {
		ks = append(ks, k)
	}
	slices.SortStableFunc(ks, func(a, b Metric) int {
		return cmp.Compare(math.Abs(r.Errors.Rel[b]), math.Abs(r.Errors.Rel[a]))
	})
	var parts []string
	for _, k := range ks[:n] {
		parts = append(parts, fmt.Sprintf("%s %s", k, pct(r.Errors.Rel[k])))
	}
	if d := r.Errors.FirstExpiryS; d != nil && math.Abs(*d) >= 1 {
		parts = append(parts, fmt.Sprintf("first expiry %+.1f s", *d))
	}
	return strings.Join(parts, ", ")
}
