package fidelity

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/leasesim/leasesim/scenario"
	"github.com/leasesim/leasesim/spec"
)

// Timing is one run's cost: wall time, and the process's CPU time over the
// run (user+system; the runs go one at a time, so it is the run's, plus the
// Go runtime's background work; 0 where the platform does not tell).
type Timing struct {
	WallS float64 `json:"wall_s"`
	CPUS  float64 `json:"cpu_s"`
}

// Result is one corpus scenario run in both modes.
type Result struct {
	Name    string `json:"name"`
	Clients int    `json:"clients"`
	// Cohort, Simulated: the fast run's cohort size and simulated clients
	// (as spec.Spec.Resolve chooses them: spec.AutoCohort, spec.CohortClients).
	Cohort    int     `json:"cohort"`
	Simulated int     `json:"simulated_clients"`
	Exact     Metrics `json:"exact"`
	Fast      Metrics `json:"fast"`
	Errors    Errors  `json:"errors"`
	ExactTime Timing  `json:"exact_time"`
	FastTime  Timing  `json:"fast_time"`
	// NextSeed: the same scenario in the exact mode with the next seed;
	// Noise: its errors against the exact run (Compare(Exact, *NextSeed)):
	// how far the exact mode strays from itself when only the seed
	// changes, the yardstick of the fast mode's errors (package doc:
	// Seed noise). Nil in a report from before they were measured.
	NextSeed     *Metrics `json:"exact_next_seed,omitempty"`
	Noise        *Errors  `json:"seed_noise,omitempty"`
	NextSeedTime Timing   `json:"exact_next_seed_time"`
	// ExactEvents, FastEvents: the kernel events each run delivered.
	ExactEvents uint64 `json:"exact_events"`
	FastEvents  uint64 `json:"fast_events"`
}

// Speedup is the exact run's wall time over the fast run's.
func (r Result) Speedup() float64 {
	if r.FastTime.WallS <= 0 {
		return 0
	}
	return r.ExactTime.WallS / r.FastTime.WallS
}

// RunOne runs s in the exact mode (Fidelity "") with its seed and with the
// next one, and in the fast mode (Fast: Fidelity "fast", Cohort 0), one
// after the other, and compares them.
func RunOne(ctx context.Context, s spec.Spec) (Result, error) {
	return runOne(ctx, s, nil)
}

// runOne is RunOne; with saved (not nil) the exact runs' metrics, times and
// events are saved's instead of runs' (the next seed's is run if saved
// lacks it).
func runOne(ctx context.Context, s spec.Spec, saved *Result) (Result, error) {
	ex := s
	ex.Fidelity, ex.Cohort = "", 0
	fa := Fast(s)
	r := Result{Name: s.Name, Clients: s.Clients.Count}
	res, err := fa.Resolve()
	if err != nil {
		return r, fmt.Errorf("%s, fast: %w", s.Name, err)
	}
	r.Cohort, r.Simulated = res.Cluster.Cohort, res.Cluster.Clients
	if saved != nil {
		r.Exact, r.ExactEvents, r.ExactTime = saved.Exact, saved.ExactEvents, saved.ExactTime
	} else if r.Exact, r.ExactEvents, r.ExactTime, err = runTimed(ctx, ex); err != nil {
		return r, fmt.Errorf("%s, exact: %w", s.Name, err)
	}
	if saved != nil && saved.NextSeed != nil {
		r.NextSeed, r.NextSeedTime = saved.NextSeed, saved.NextSeedTime
	} else {
		next := ex
		next.Seed++
		m, _, t, err := runTimed(ctx, next)
		if err != nil {
			return r, fmt.Errorf("%s, exact, seed %d: %w", s.Name, next.Seed, err)
		}
		r.NextSeed, r.NextSeedTime = &m, t
	}
	if r.Fast, r.FastEvents, r.FastTime, err = runTimed(ctx, fa); err != nil {
		return r, fmt.Errorf("%s, fast: %w", s.Name, err)
	}
	r.Errors = Compare(r.Exact, r.Fast)
	noise := Compare(r.Exact, *r.NextSeed)
	r.Noise = &noise
	return r, nil
}

func runTimed(ctx context.Context, s spec.Spec) (Metrics, uint64, Timing, error) {
	c0, t0 := processCPU(), time.Now()
	o, err := scenario.Run(ctx, s, nil)
	t := Timing{WallS: time.Since(t0).Seconds(), CPUS: (processCPU() - c0).Seconds()}
	if err != nil {
		return Metrics{}, 0, t, err
	}
	return Headline(s, o), o.Events, t, nil
}

// RunCorpus runs each of specs in both modes (RunOne), one scenario at a
// time, calling before (if not nil) ahead of each and progress (if not nil)
// after each. A scenario whose name saved has (saved may be nil) takes its
// exact run from there instead of running it (SavedExact): only valid while
// the exact mode's results are the same as when saved was measured. It
// stops at the first error, returning the results so far.
func RunCorpus(ctx context.Context, specs []spec.Spec, saved map[string]Result, before func(i int, s spec.Spec), progress func(i int, r Result)) ([]Result, error) {
	var out []Result
	for i, s := range specs {
		if before != nil {
			before(i, s)
		}
		var sv *Result
		if x, ok := saved[s.Name]; ok {
			sv = &x
		}
		r, err := runOne(ctx, s, sv)
		if err != nil {
			return out, err
		}
		out = append(out, r)
		if progress != nil {
			progress(i, r)
		}
	}
	return out, nil
}

// SavedExact reads the results of a corpus report's JSON (bin/fast-corpus.json,
// as TestFastCorpus writes it) by scenario name, for RunCorpus to take their
// exact runs from.
func SavedExact(data []byte) (map[string]Result, error) {
	var doc struct {
		Results []Result `json:"results"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	m := make(map[string]Result, len(doc.Results))
	for _, r := range doc.Results {
		m[r.Name] = r
	}
	return m, nil
}

// MarshalJSON writes the errors by metric name.
func (e Errors) MarshalJSON() ([]byte, error) {
	rel := make(map[string]float64, NumMetrics)
	for k := range NumMetrics {
		rel[k.String()] = e.Rel[k]
	}
	return json.Marshal(struct {
		Rel           map[string]float64 `json:"rel"`
		FirstExpiryS  *float64           `json:"first_expiry_s"`
		StormAgrees   bool               `json:"storm_agrees"`
		KeysLostAgree bool               `json:"keys_lost_agree"`
	}{rel, e.FirstExpiryS, e.StormAgrees, e.KeysLostAgree})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (e *Errors) UnmarshalJSON(data []byte) error {
	var v struct {
		Rel           map[string]float64 `json:"rel"`
		FirstExpiryS  *float64           `json:"first_expiry_s"`
		StormAgrees   bool               `json:"storm_agrees"`
		KeysLostAgree bool               `json:"keys_lost_agree"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	*e = Errors{FirstExpiryS: v.FirstExpiryS, StormAgrees: v.StormAgrees, KeysLostAgree: v.KeysLostAgree}
	for k := range NumMetrics {
		e.Rel[k] = v.Rel[k.String()]
	}
	return nil
}
