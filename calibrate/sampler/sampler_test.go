package sampler

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
)

// stuck bounds how long a test waits for something that should happen at
// once; it only turns a bug that would hang into a failure.
const stuck = 10 * time.Second

func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(stuck):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

type runResult[T any] struct {
	samples []Sample[T]
	err     error
}

// startRun runs Run on a goroutine with a probe that reports each call's time
// on the returned channel before returning value(call index). Because the
// probe blocks until the test has received that report, the test knows Run
// is back waiting for the next tick before it advances the mock clock: the
// mock's ticker drops ticks that arrive while nobody is receiving.
func startRun(ctx context.Context, clk clock.Clock, every time.Duration, value func(i int) (int, error)) (probed <-chan time.Time, done <-chan runResult[int]) {
	p := make(chan time.Time)
	d := make(chan runResult[int], 1)
	go func() {
		i := 0
		s, err := Run(ctx, clk, every, func(at time.Time) (int, error) {
			p <- at
			v, err := value(i)
			i++
			return v, err
		})
		d <- runResult[int]{s, err}
	}()
	return p, d
}

func TestRunCountsTicksExactly(t *testing.T) {
	clk := clock.NewMock()
	start := clk.Now()
	const every = 100 * time.Millisecond
	const ticks = 25
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	probed, done := startRun(ctx, clk, every, func(i int) (int, error) { return i * i, nil })

	if at := recv(t, probed, "the immediate probe"); !at.Equal(start) {
		t.Fatalf("first probe at %v, want the start %v", at.Sub(start), 0)
	}
	for i := 1; i <= ticks; i++ {
		// Two steps that add up to one period: the first must not
		// trigger a probe, or the next one received would be early.
		clk.Add(every - time.Nanosecond)
		clk.Add(time.Nanosecond)
		if at := recv(t, probed, "a probe per tick"); at.Sub(start) != time.Duration(i)*every {
			t.Fatalf("probe %d at %v, want %v", i, at.Sub(start), time.Duration(i)*every)
		}
	}
	cancel()
	r := recv(t, done, "Run to return after cancel")
	if r.err != nil {
		t.Fatalf("Run after cancel returned error %v, want nil", r.err)
	}
	if len(r.samples) != ticks+1 {
		t.Fatalf("%d samples, want %d (one immediately, one per tick)", len(r.samples), ticks+1)
	}
	for i, s := range r.samples {
		if s.At.Sub(start) != time.Duration(i)*every || s.V != i*i {
			t.Errorf("sample %d = {%v, %d}, want {%v, %d}", i, s.At.Sub(start), s.V, time.Duration(i)*every, i*i)
		}
	}
}

func TestRunProbeError(t *testing.T) {
	clk := clock.NewMock()
	const every = 100 * time.Millisecond
	errBoom := errors.New("boom")
	const failAt = 3
	probed, done := startRun(context.Background(), clk, every, func(i int) (int, error) {
		if i == failAt {
			return 0, errBoom
		}
		return i, nil
	})
	recv(t, probed, "the immediate probe")
	for i := 1; i <= failAt; i++ {
		clk.Add(every)
		recv(t, probed, "a probe per tick")
	}
	r := recv(t, done, "Run to stop on the probe error")
	if !errors.Is(r.err, errBoom) {
		t.Fatalf("error %v, want one wrapping %v", r.err, errBoom)
	}
	for _, want := range []string{"probe #3", "+300ms"} {
		if !strings.Contains(r.err.Error(), want) {
			t.Errorf("error %q does not mention %q", r.err, want)
		}
	}
	if len(r.samples) != failAt {
		t.Errorf("%d samples, want the %d taken before the failure", len(r.samples), failAt)
	}
}

// A cancellation that races with a tick must win: Run takes no more samples
// once ctx is done. The probe makes the race certain by cancelling and then
// firing the next tick itself, so that both are ready when Run selects.
func TestRunCancelBeatsPendingTick(t *testing.T) {
	clk := clock.NewMock()
	const every = time.Second
	ctx, cancel := context.WithCancel(context.Background())
	s, err := Run(ctx, clk, every, func(time.Time) (int, error) {
		cancel()
		clk.Add(every)
		return 1, nil
	})
	if err != nil || len(s) != 1 {
		t.Errorf("Run = %d samples, %v; want 1 sample and no error", len(s), err)
	}
}

func TestRunCancelledBeforeStart(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	calls := 0
	s, err := Run(ctx, clock.NewMock(), time.Second, func(time.Time) (int, error) { calls++; return 0, nil })
	if err != nil || len(s) != 0 || calls != 0 {
		t.Errorf("Run with a done ctx: %d samples, %d probes, error %v; want none and nil", len(s), calls, err)
	}
}

func TestRunRejectsBadInterval(t *testing.T) {
	for _, every := range []time.Duration{0, -time.Second} {
		_, err := Run(context.Background(), clock.NewMock(), every, func(time.Time) (int, error) { return 0, nil })
		if err == nil || !strings.Contains(err.Error(), every.String()) {
			t.Errorf("Run(every=%v) error %v, want one naming the interval", every, err)
		}
	}
}
