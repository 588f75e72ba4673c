// Package sampler is the wall-clock side of the calibration harness: it takes
// periodic samples of a measurement (Run), turns samples of a cumulative
// counter into rates (Rate) and per-interval increments (PerInterval), and
// waits for a condition with a timeout (WaitFor).
//
// Everything that reads or waits on time takes a clock.Clock
// (github.com/benbjohnson/clock), so that the harness uses the real clock and
// the tests drive a clock.Mock, deterministically and without sleeping.
package sampler

import (
	"context"
	"fmt"
	"time"

	"github.com/benbjohnson/clock"
)

// Sample is a value V measured at time At.
type Sample[T any] struct {
	At time.Time
	V  T
}

// Run calls probe once immediately and then once per tick of a ticker with
// period every, until ctx is done, and returns the samples in order. Each
// sample's At is clk.Now() just before probe is called, and is also probe's
// argument.
//
// ctx ending is how a run is meant to stop, so it is not an error: Run then
// returns the samples and nil. A probe error stops the run; Run returns the
// samples taken before it and the error, wrapped with the failing sample's
// index and time since the first sample.
//
// Like time.Ticker, Run drops ticks rather than queueing them when probe is
// slower than every, so samples can be further apart than every, never
// closer; Rate and PerInterval use the actual sample times for this reason.
func Run[T any](ctx context.Context, clk clock.Clock, every time.Duration, probe func(time.Time) (T, error)) ([]Sample[T], error) {
	if every <= 0 {
		return nil, fmt.Errorf("sampler: sampling interval %v is not positive", every)
	}
	if ctx.Err() != nil {
		return nil, nil
	}
	// Start the ticker before the first probe so that ticks keep to a grid
	// anchored at the start, whatever the first probe costs.
	ticker := clk.Ticker(every)
	defer ticker.Stop()
	var samples []Sample[T]
	start := clk.Now()
	for now := start; ; now = clk.Now() {
		v, err := probe(now)
		if err != nil {
			return samples, fmt.Errorf("sampler: probe #%d at +%v: %w", len(samples), now.Sub(start), err)
		}
		samples = append(samples, Sample[T]{At: now, V: v})
		select {
		case <-ctx.Done():
			return samples, nil
		case <-ticker.C:
			// When a tick and cancellation are both ready, select picks
			// either; checking again means a cancelled run never takes
			// one more sample.
			if ctx.Err() != nil {
				return samples, nil
			}
		}
	}
}
