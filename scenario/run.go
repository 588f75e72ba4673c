package scenario

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/leasesim/leasesim/recorder"
	"github.com/leasesim/leasesim/sim"
	"github.com/leasesim/leasesim/spec"
)

// Run resolves s (spec.Spec.Resolve: defaults, the one validator) and
// simulates it; trace, if not nil, receives the JSON-lines trace. It stops,
// with ctx's error, soon after ctx ends (it checks between seconds of
// virtual time). An invalid s is an error from the validator, naming the field.
func Run(ctx context.Context, s spec.Spec, trace io.Writer) (recorder.Outcome, error) {
	r, err := s.Resolve()
	if err != nil {
		return recorder.Outcome{}, err
	}
	if r.Ideal != nil {
		return RunIdeal(ctx, *r.Ideal, trace)
	}
	return runCluster(ctx, *r.Cluster, Options{}, trace)
}

// runTo runs k to end (sim.Kernel.RunContext); an exhausted event budget's
// error names the field and the flag that set it.
func runTo[P any](ctx context.Context, k *sim.Kernel[P], end sim.Time, handle func(sim.Time, *P)) error {
	err := k.RunContext(ctx, end, handle)
	if errors.Is(err, sim.ErrEventLimit) {
		return fmt.Errorf("%w (raise limits.max_events, or --max-events)", err)
	}
	return err
}
