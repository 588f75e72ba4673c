package sampler

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
)

// stepClock is a mock clock that reports every timer WaitFor creates, after
// it is registered. The test then advances the clock by exactly that much,
// knowing the timer will fire: advancing before registration would leave
// the timer scheduled from the new time, and WaitFor stuck.
type stepClock struct {
	*clock.Mock
	timers chan time.Duration
}

func newStepClock() *stepClock {
	return &stepClock{Mock: clock.NewMock(), timers: make(chan time.Duration)}
}

func (c *stepClock) Timer(d time.Duration) *clock.Timer {
	t := c.Mock.Timer(d)
	c.timers <- d
	return t
}

// drive runs wait on a goroutine and serves its timers: for the i'th timer
// it calls onTimer, and advances the clock by the timer's duration if that
// returns true. It returns the durations requested and wait's result.
func drive(t *testing.T, clk *stepClock, wait func() error, onTimer func(i int, d time.Duration) bool) ([]time.Duration, error) {
	t.Helper()
	errc := make(chan error, 1)
	go func() { errc <- wait() }()
	var waits []time.Duration
	for {
		select {
		case d := <-clk.timers:
			waits = append(waits, d)
			if onTimer == nil || onTimer(len(waits)-1, d) {
				clk.Add(d)
			}
		case err := <-errc:
			return waits, err
		case <-time.After(stuck):
			t.Fatal("WaitFor neither returned nor asked for a timer")
		}
	}
}

// polls records the mock time of each call of a condition.
type polls struct {
	mu    sync.Mutex
	start time.Time
	at    []time.Duration
}

func (p *polls) record(clk clock.Clock) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.at = append(p.at, clk.Now().Sub(p.start))
	return len(p.at)
}

func (p *polls) times() []time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]time.Duration(nil), p.at...)
}

func durations(ms ...int) []time.Duration {
	out := make([]time.Duration, len(ms))
	for i, m := range ms {
		out[i] = time.Duration(m) * time.Millisecond
	}
	return out
}

func TestWaitFor(t *testing.T) {
	errBoom := errors.New("boom")
	tests := []struct {
		name          string
		timeout, poll time.Duration
		// cond's result on poll n (from 1)
		cond      func(n int) (bool, error)
		wantErr   error // nil, or what the error must wrap
		wantText  []string
		wantPolls []time.Duration // mock time of each poll
		wantWaits []time.Duration // timers WaitFor asked for
		wantEnd   time.Duration   // mock time when WaitFor returned
	}{
		{
			name: "times out at exactly the timeout", timeout: time.Second, poll: 300 * time.Millisecond,
			cond:    func(int) (bool, error) { return false, nil },
			wantErr: context.DeadlineExceeded, wantText: []string{"after waiting 1s", "5 polls"},
			// The last poll is moved to the deadline itself.
			wantPolls: durations(0, 300, 600, 900, 1000),
			wantWaits: durations(300, 300, 300, 100),
			wantEnd:   time.Second,
		},
		{
			name: "poll longer than timeout", timeout: time.Second, poll: 5 * time.Second,
			cond:    func(int) (bool, error) { return false, nil },
			wantErr: context.DeadlineExceeded, wantText: []string{"after waiting 1s"},
			wantPolls: durations(0, 1000), wantWaits: durations(1000), wantEnd: time.Second,
		},
		{
			name: "zero timeout polls once", timeout: 0, poll: time.Second,
			cond:    func(int) (bool, error) { return false, nil },
			wantErr: context.DeadlineExceeded, wantText: []string{"after waiting 0s"},
			wantPolls: durations(0), wantEnd: 0,
		},
		{
			name: "succeeds on the 4th poll", timeout: 10 * time.Second, poll: 250 * time.Millisecond,
			cond:      func(n int) (bool, error) { return n == 4, nil },
			wantPolls: durations(0, 250, 500, 750), wantWaits: durations(250, 250, 250),
			wantEnd: 750 * time.Millisecond,
		},
		{
			name: "succeeds on the last poll, at the deadline", timeout: time.Second, poll: 400 * time.Millisecond,
			cond:      func(n int) (bool, error) { return n == 4, nil },
			wantPolls: durations(0, 400, 800, 1000), wantWaits: durations(400, 400, 200),
			wantEnd: time.Second,
		},
		{
			name: "succeeds at once", timeout: time.Second, poll: time.Millisecond,
			cond:      func(int) (bool, error) { return true, nil },
			wantPolls: durations(0), wantEnd: 0,
		},
		{
			name: "condition error", timeout: time.Minute, poll: time.Second,
			cond: func(n int) (bool, error) {
				if n == 3 {
					return false, errBoom
				}
				return false, nil
			},
			wantErr: errBoom, wantText: []string{"poll 3", "after 2s"},
			wantPolls: durations(0, 1000, 2000), wantWaits: durations(1000, 1000), wantEnd: 2 * time.Second,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := newStepClock()
			p := &polls{start: clk.Now()}
			waits, err := drive(t, clk, func() error {
				return WaitFor(context.Background(), clk, tc.timeout, tc.poll, func() (bool, error) {
					return tc.cond(p.record(clk))
				})
			}, nil)
			switch {
			case tc.wantErr == nil && err != nil:
				t.Errorf("WaitFor: %v, want success", err)
			case tc.wantErr != nil && !errors.Is(err, tc.wantErr):
				t.Errorf("WaitFor: %v, want an error wrapping %v", err, tc.wantErr)
			}
			for _, w := range tc.wantText {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("error %v does not mention %q", err, w)
				}
			}
			if got := p.times(); !slices.Equal(got, tc.wantPolls) {
				t.Errorf("polled at %v, want %v", got, tc.wantPolls)
			}
			if !slices.Equal(waits, tc.wantWaits) {
				t.Errorf("waited %v, want %v", waits, tc.wantWaits)
			}
			if end := clk.Now().Sub(p.start); end != tc.wantEnd {
				t.Errorf("returned at %v, want %v", end, tc.wantEnd)
			}
		})
	}
}

func TestWaitForContextCancel(t *testing.T) {
	clk := newStepClock()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := &polls{start: clk.Now()}
	const cancelOn = 2 // cancel instead of serving the third timer
	waits, err := drive(t, clk, func() error {
		return WaitFor(ctx, clk, time.Minute, time.Second, func() (bool, error) {
			p.record(clk)
			return false, nil
		})
	}, func(i int, _ time.Duration) bool {
		if i == cancelOn {
			cancel()
			return false
		}
		return true
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitFor: %v, want an error wrapping context.Canceled", err)
	}
	if !strings.Contains(err.Error(), "after 2s") {
		t.Errorf("error %q does not say how long it waited (2s)", err)
	}
	if got, want := p.times(), durations(0, 1000, 2000); !slices.Equal(got, want) {
		t.Errorf("polled at %v, want %v", got, want)
	}
	if len(waits) != cancelOn+1 {
		t.Errorf("%d timers, want %d", len(waits), cancelOn+1)
	}
}

func TestWaitForCancelledBeforeStart(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	calls := 0
	err := WaitFor(ctx, clock.NewMock(), time.Second, time.Millisecond, func() (bool, error) { calls++; return true, nil })
	if !errors.Is(err, context.Canceled) || calls != 0 {
		t.Errorf("WaitFor with a done ctx: %v after %d polls, want context.Canceled and no poll", err, calls)
	}
}

// A condition slower than the poll interval is polled again at once, and the
// schedule restarts from there instead of firing the missed polls.
func TestWaitForSlowCondition(t *testing.T) {
	clk := newStepClock()
	p := &polls{start: clk.Now()}
	waits, err := drive(t, clk, func() error {
		return WaitFor(context.Background(), clk, time.Second, 100*time.Millisecond, func() (bool, error) {
			n := p.record(clk)
			if n == 1 {
				clk.Add(250 * time.Millisecond) // the first poll takes 250 ms
			}
			return n == 3, nil
		})
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := p.times(), durations(0, 250, 350); !slices.Equal(got, want) {
		t.Errorf("polled at %v, want %v", got, want)
	}
	if want := durations(100); !slices.Equal(waits, want) {
		t.Errorf("waited %v, want %v", waits, want)
	}
}

func TestWaitForRejectsBadArguments(t *testing.T) {
	tests := []struct {
		timeout, poll time.Duration
		want          string
	}{
		{time.Second, 0, "poll interval 0s"},
		{time.Second, -time.Second, "poll interval -1s"},
		{-time.Second, time.Second, "timeout -1s"},
	}
	for _, tc := range tests {
		err := WaitFor(context.Background(), clock.NewMock(), tc.timeout, tc.poll, func() (bool, error) { return true, nil })
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("WaitFor(timeout %v, poll %v): %v, want an error mentioning %q", tc.timeout, tc.poll, err, tc.want)
		}
	}
}
