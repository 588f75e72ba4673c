package sampler

import (
	"context"
	"fmt"
	"time"

	"github.com/benbjohnson/clock"
)

// WaitFor calls cond immediately and then every poll until it returns true
// (WaitFor returns nil), returns an error (WaitFor returns it, wrapped), ctx
// is done, or timeout has passed on clk. The last poll is made at exactly
// the timeout, so a condition that becomes true just in time is seen.
//
// On timeout the error says how long WaitFor waited and wraps
// context.DeadlineExceeded, so that errors.Is(err, context.DeadlineExceeded)
// holds whether the timeout or a ctx deadline ended the wait; when ctx ends
// first the error wraps ctx's error.
//
// Polls are scheduled from the start (at 0, poll, 2*poll, ...), not from the
// end of the previous cond, so a slow cond does not stretch the schedule; if
// cond takes longer than poll, the next poll starts at once and the schedule
// restarts from there rather than firing the missed polls back to back.
func WaitFor(ctx context.Context, clk clock.Clock, timeout, poll time.Duration, cond func() (bool, error)) error {
	if poll <= 0 {
		return fmt.Errorf("sampler: poll interval %v is not positive", poll)
	}
	if timeout < 0 {
		return fmt.Errorf("sampler: timeout %v is negative", timeout)
	}
	start := clk.Now()
	deadline := start.Add(timeout)
	next := start // when the current poll was due
	for polls := 1; ; polls++ {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("sampler: gave up waiting after %v, %d polls: %w", clk.Since(start), polls-1, err)
		}
		ok, err := cond()
		if err != nil {
			return fmt.Errorf("sampler: poll %d, after %v: %w", polls, clk.Since(start), err)
		}
		if ok {
			return nil
		}
		now := clk.Now()
		if !now.Before(deadline) {
			return fmt.Errorf("sampler: condition not met after waiting %v (timeout %v, %d polls): %w",
				now.Sub(start), timeout, polls, context.DeadlineExceeded)
		}
		next = next.Add(poll)
		if next.After(deadline) {
			next = deadline
		}
		wait := next.Sub(now)
		if wait <= 0 {
			next = now
			continue
		}
		t := clk.Timer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("sampler: gave up waiting after %v, %d polls: %w", clk.Since(start), polls, ctx.Err())
		case <-t.C:
		}
	}
}
