package onceclient

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/leasesim/leasesim/clientmodel"
	"github.com/leasesim/leasesim/sim"
)

// The loop, step by step: the dial, a call and its answer, the sleep, a
// stale answer ignored, a stream error retried at once on a new stream, and
// ErrLeaseNotFound stopping the loop.
func TestTranscript(t *testing.T) {
	c := New(Config{Period: 3 * time.Second, ConnectDelay: 100 * time.Microsecond})
	var b strings.Builder
	step := func(at time.Duration, in Input) {
		out := c.Step(sim.Time(at), in, nil)
		fmt.Fprintf(&b, "%v %v gen=%d ttl=%d -> %v\n", at, in.Kind, in.Gen, in.TTL, out)
	}
	step(0, Input{Kind: InStart})
	step(100*time.Microsecond, Input{Kind: InWake, Gen: 1})
	step(2*time.Millisecond, Input{Kind: InResponse, Gen: 1, TTL: 10})
	step(2*time.Millisecond, Input{Kind: InResponse, Gen: 1, TTL: 10}) // duplicate: ignored
	step(3002*time.Millisecond, Input{Kind: InWake, Gen: 1})           // stale wake-up: ignored
	step(3002*time.Millisecond, Input{Kind: InWake, Gen: 2})
	step(10*time.Second, Input{Kind: InStreamError, Gen: 2})
	step(10*time.Second+time.Millisecond, Input{Kind: InResponse, Gen: 2, TTL: 10}) // the failed stream's: ignored
	step(10*time.Second+2*time.Millisecond, Input{Kind: InResponse, Gen: 3, TTL: 0})
	step(20*time.Second, Input{Kind: InWake, Gen: 3})
	want := `0s start gen=0 ttl=0 -> [wake(1)@100µs]
100µs wake gen=1 ttl=0 -> [call(1)]
2ms response gen=1 ttl=10 -> [cancel(1) wake(2)@3.002s]
2ms response gen=1 ttl=10 -> []
3.002s wake gen=1 ttl=0 -> []
3.002s wake gen=2 ttl=0 -> [call(2)]
10s stream-error gen=2 ttl=0 -> [call(3)]
10.001s response gen=2 ttl=10 -> []
10.002s response gen=3 ttl=0 -> [cancel(3) lost(3)]
20s wake gen=3 ttl=0 -> []
`
	if got := b.String(); got != want {
		t.Errorf("transcript:\n%s\nwant:\n%s", got, want)
	}
	if c.Calls() != 3 || c.Answers() != 2 || !c.Lost() {
		t.Errorf("calls %d, answers %d, lost %v; want 3, 2, true", c.Calls(), c.Answers(), c.Lost())
	}
}

// One call at a time: whatever arrives, a client never has two calls
// waiting, and every call is answered or retried before the next.
func TestOneCallAtATime(t *testing.T) {
	r := sim.NewRand(1, "onceclient-test")
	c := New(Config{Period: time.Second})
	var out []Output
	out = c.Step(0, Input{Kind: InStart}, out[:0])
	open, in := 0, Input{Kind: InStart}
	for i := 0; i < 10_000 && !c.Lost(); i++ {
		for _, o := range out {
			switch {
			case o.Kind == OutCall && in.Kind == InStreamError:
				// the failed stream is gone; its retry opens another
			case o.Kind == OutCall:
				open++
			case o.Kind == OutCancel:
				open--
			}
		}
		if open > 1 || open < 0 {
			t.Fatalf("step %d: %d calls open", i, open)
		}
		in = Input{Kind: InputKind(1 + r.IntN(3)), Gen: uint32(r.IntN(int(c.stream + 2))), TTL: int64(r.IntN(50))}
		if in.Kind == InWake {
			in.Gen = uint32(r.IntN(int(c.wake + 2)))
		}
		out = c.Step(sim.Time(i)*sim.Time(time.Millisecond), in, out[:0])
	}
}

// StepKeepAlive speaks clientmodel's vocabulary: a call is a stream open and
// a send on it, a wake-up a plain (not movable) timer, ErrLeaseNotFound a
// channel closed as revoked.
func TestStepKeepAlive(t *testing.T) {
	c := New(Config{Period: time.Second})
	var b strings.Builder
	step := func(at time.Duration, in clientmodel.Input) {
		for _, o := range c.StepKeepAlive(sim.Time(at), in, nil) {
			fmt.Fprintf(&b, "%v %v gen=%d timer=%d at=%v reason=%v\n", at, o.Kind, o.Gen, o.Timer, o.At, o.Reason)
		}
	}
	step(0, clientmodel.Input{Kind: clientmodel.InKeepAlive})
	step(time.Millisecond, clientmodel.Input{Kind: clientmodel.InResponse, Gen: 1, TTL: 10})
	step(time.Second+time.Millisecond, clientmodel.Input{Kind: clientmodel.InTimer, Timer: TimerWake, Gen: 1})
	step(time.Second+2*time.Millisecond, clientmodel.Input{Kind: clientmodel.InResponse, Gen: 2, TTL: 0})
	want := `0s open-stream gen=1 timer=0 at=0s reason=
0s request gen=1 timer=0 at=0s reason=
1ms timer gen=1 timer=6 at=1.001s reason=
1.001s open-stream gen=2 timer=0 at=0s reason=
1.001s request gen=2 timer=0 at=0s reason=
1.002s closed gen=0 timer=0 at=0s reason=revoked
`
	if got := b.String(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	if TimerWake < clientmodel.MovableTimers {
		t.Error("TimerWake is a movable timer: drivers would hand it to the lazy timers of a clientmodel.Client")
	}
}
