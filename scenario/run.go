package scenario

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/leasesim/leasesim/recorder"
	"github.com/leasesim/leasesim/sim"
	"github.com/leasesim/leasesim/spec"
)

// Outcome is what a run of a spec.Spec produced, whichever server it simulated.
type Outcome struct {
	Summary recorder.Summary
	Metrics []recorder.Metric // per-bucket series (cluster runs)
	Events  uint64
	Cohorts int
	Peaks   map[recorder.MetricName]float64 // peak of each metric
	Finals  map[recorder.MetricName]float64 // last bucket of each metric
	// RTTs (cluster runs with Options.RecordRTT): per answered keepalive, its
	// send time and its round trip as the client saw them, in ns, split by
	// whether the client's member was the leader when the answer came.
	RTTs struct{ Direct, Forwarded [][2]int64 }
	// Sends (with Options.RecordRTT): every keepalive each client sent, in ns.
	Sends [][]int64
}

// Metric returns the series called name, or nil.
func (o Outcome) Metric(name recorder.MetricName) []float64 {
	for _, m := range o.Metrics {
		if m.Name == name {
			return m.Values
		}
	}
	return nil
}

// Run resolves s (spec.Spec.Resolve: defaults, the one validator) and
// simulates it; trace, if not nil, receives the JSON-lines trace. It stops,
// with ctx's error, soon after ctx ends (it checks between seconds of
// virtual time). An invalid s is an error from the validator, naming the field.
func Run(ctx context.Context, s spec.Spec, trace io.Writer) (Outcome, error) {
	r, err := s.Resolve()
	if err != nil {
		return Outcome{}, err
	}
	if r.Ideal != nil {
		res, err := RunIdeal(ctx, *r.Ideal, trace)
		if err != nil {
			return Outcome{}, err
		}
		return Outcome{Summary: res.Summary, Events: res.Events, Cohorts: res.Cohorts}, nil
	}
	return runCluster(ctx, *r.Cluster, Options{}, trace)
}

// runInSeconds runs k until end, a second of virtual time at a time, so that
// it stops, with ctx's error, soon after ctx ends.
func runInSeconds[P any](ctx context.Context, k *sim.Kernel[P], end sim.Time, handle func(sim.Time, *P)) error {
	for k.Now() < end {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := k.RunUntil(min(k.Now()+sim.Time(time.Second), end), handle); err != nil {
			return fmt.Errorf("after %d events at %v of virtual time: %w (raise limits.max_events, or --max-events)", k.Steps(), k.Now(), err)
		}
	}
	return nil
}
