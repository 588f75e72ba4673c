package sim_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/leasesim/leasesim/sim"
	"pgregory.net/rapid"
)

// Events come out in (time, scheduling order), whatever order they went in.
func TestKernelOrdersByTimeThenSequence(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		times := rapid.SliceOfN(rapid.Int64Range(0, 50), 1, 300).Draw(t, "times")
		k := sim.New[int]()
		for i, at := range times {
			k.Schedule(sim.Time(at), i)
		}
		prevAt, prevIdx := sim.Time(-1), -1
		n := 0
		for {
			at, idx, ok := k.Step()
			if !ok {
				break
			}
			n++
			if sim.Time(times[idx]) != at {
				t.Fatalf("event %d delivered at %v, scheduled for %d", idx, at, times[idx])
			}
			if at < prevAt || (at == prevAt && idx < prevIdx) {
				t.Fatalf("event %d at %v delivered after event %d at %v", idx, at, prevIdx, prevAt)
			}
			prevAt, prevIdx = at, idx
		}
		if n != len(times) {
			t.Fatalf("delivered %d of %d events", n, len(times))
		}
	})
}

func TestRunUntilIsExclusiveAndAdvancesClock(t *testing.T) {
	k := sim.New[string]()
	k.Schedule(10, "a")
	k.Schedule(20, "b")
	var got []string
	handle := func(now sim.Time, p *string) {
		got = append(got, fmt.Sprintf("%s@%d", *p, now))
		if *p == "a" {
			k.Schedule(now+5, "a2") // scheduled from a handler, due before end
		}
	}
	if err := k.RunUntil(20, handle); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[a@10 a2@15]" || k.Now() != 20 || k.Len() != 1 {
		t.Fatalf("got %v now=%v len=%d", got, k.Now(), k.Len())
	}
	if err := k.RunUntil(21, handle); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[a@10 a2@15 b@20]" {
		t.Fatalf("got %v", got)
	}
}

func TestEventLimit(t *testing.T) {
	k := sim.New[int]()
	k.SetLimits(3, 0)
	var loop func(now sim.Time, p *int)
	loop = func(now sim.Time, p *int) { k.Schedule(now+1, *p+1) }
	k.Schedule(0, 0)
	if err := k.RunUntil(100, loop); !errors.Is(err, sim.ErrEventLimit) {
		t.Fatalf("err = %v, want ErrEventLimit", err)
	}
	if k.Steps() != 3 {
		t.Fatalf("steps = %d", k.Steps())
	}
}

func TestSchedulingInThePastPanics(t *testing.T) {
	k := sim.New[int]()
	k.Schedule(10, 1)
	k.Step()
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	k.Schedule(9, 2)
}

func TestQueueLimitPanics(t *testing.T) {
	k := sim.New[int]()
	k.SetLimits(0, 2)
	k.Schedule(1, 1)
	k.Schedule(1, 2)
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	k.Schedule(1, 3)
}

// BenchmarkKernel measures the kernel alone: a steady queue of pending timers,
// each event rescheduling itself, as client scan loops do.
func BenchmarkKernel(b *testing.B) {
	for _, pending := range []int{1_000, 100_000} {
		b.Run(fmt.Sprintf("pending=%d", pending), func(b *testing.B) {
			k := sim.New[uint32]()
			r := sim.NewRand(1, "bench")
			for i := 0; i < pending; i++ {
				k.Schedule(sim.Time(r.Int64N(500_000_000)), uint32(i))
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				now, p, _ := k.Step()
				k.Schedule(now+500_000_000+sim.Time(p%7), p)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

func Example() {
	k := sim.New[string]()
	k.Schedule(sim.At(1500e6), "scan")
	k.Schedule(sim.At(1000e6), "deadline tick")
	k.Schedule(sim.At(1000e6), "second at the same instant")
	_ = k.RunUntil(sim.At(2e9), func(now sim.Time, p *string) {
		fmt.Println(now, *p)
	})
	// Output:
	// 1s deadline tick
	// 1s second at the same instant
	// 1.5s scan
}

// The timing wheel must deliver exactly what a reference priority queue would,
// for delays from 0 to hours (current slot, wheel, overflow) scheduled while
// the kernel runs.
func TestKernelMatchesReferenceQueue(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		k := sim.New[int]()
		type ref struct {
			at  sim.Time
			seq int
		}
		var pending []ref
		delay := rapid.OneOf(
			rapid.Int64Range(0, 0),
			rapid.Int64Range(0, 2_000_000),          // within a couple of slots
			rapid.Int64Range(0, 1_200_000_000),      // across the wheel
			rapid.Int64Range(1_000_000_000, 7200e9), // overflow
			rapid.SampledFrom([]int64{1 << 17, 1<<17 - 1, 8192 << 17, 8192<<17 - 1, 8193 << 17}), // slot and wheel edges
		)
		seq := 0
		for step := 0; step < 400; step++ {
			if rapid.IntRange(0, 2).Draw(t, "op") > 0 || len(pending) == 0 {
				at := k.Now() + sim.Time(delay.Draw(t, "delay"))
				k.Schedule(at, seq)
				pending = append(pending, ref{at, seq})
				seq++
				continue
			}
			// The reference's next: the smallest (at, seq).
			best := 0
			for i, r := range pending {
				if r.at < pending[best].at || (r.at == pending[best].at && r.seq < pending[best].seq) {
					best = i
				}
			}
			want := pending[best]
			pending = append(pending[:best], pending[best+1:]...)
			at, got, ok := k.Step()
			if !ok || got != want.seq || at != want.at {
				t.Fatalf("step %d: got %d at %v, want %d at %v", step, got, at, want.seq, want.at)
			}
			if k.Len() != len(pending) {
				t.Fatalf("Len %d, want %d", k.Len(), len(pending))
			}
		}
	})
}

// Moving a timer that would only re-arm (Move) delivers every other event in
// the order it would have had if the timer had been delivered and its
// handler had re-scheduled it: the same events at the same times, in the
// same order, ties included.
func TestMoveKeepsDeliveryOrder(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		owners := rapid.IntRange(1, 6).Draw(t, "owners")
		type timer struct {
			hops []int64 // idle re-arms, each this much later, before the timer acts
			at   int64
		}
		timers := make([]timer, owners)
		for i := range timers {
			timers[i] = timer{at: rapid.Int64Range(0, 20).Draw(t, "at"),
				hops: rapid.SliceOfN(rapid.Int64Range(1, 8), 0, 5).Draw(t, "hops")}
		}
		noise := rapid.SliceOfN(rapid.Int64Range(0, 40), 1, 40).Draw(t, "noise")
		// An event: a timer (owner, the hop it fires after), or noise (owner,
		// how many follow-ups it still schedules).
		type ev struct {
			timer      bool
			owner, arg int
		}
		run := func(move bool) (log []string, steps, moves uint64) {
			k := sim.New[ev]()
			refs := make([]sim.Ref, owners)
			hop := make([]int, owners)     // hops taken
			filed := make([]int64, owners) // where the owner believes its timer is filed
			for i, tm := range timers {
				refs[i] = k.ScheduleRef(sim.Time(tm.at), ev{timer: true, owner: i})
				filed[i] = tm.at
			}
			for i, at := range noise {
				k.Schedule(sim.Time(at), ev{owner: i % owners, arg: 2})
			}
			// The owner catches up with the moves made since it last ran.
			catchUp := func(o int, now sim.Time) {
				if at, ok := k.Due(refs[o]); ok {
					for filed[o] != int64(at) {
						filed[o] += timers[o].hops[hop[o]]
						hop[o]++
					}
				}
			}
			err := k.RunUntil(1000, func(now sim.Time, e *ev) {
				o := e.owner
				if move {
					catchUp(o, now)
				}
				if e.timer {
					if h := hop[o]; h < len(timers[o].hops) { // idle: re-arm only
						hop[o]++
						filed[o] = int64(now) + timers[o].hops[h]
						refs[o] = k.ScheduleRef(sim.Time(filed[o]), *e)
						return
					}
					log = append(log, fmt.Sprintf("%d timer %d", now, o))
					return
				}
				log = append(log, fmt.Sprintf("%d noise %d", now, o))
				if e.arg > 0 {
					k.Schedule(now+sim.Time(e.arg%3), ev{owner: (o + 1) % owners, arg: e.arg - 1})
				}
				if !move {
					return
				}
				// The owner moves its timer to where its next idle firing
				// re-arms it.
				if at, ok := k.Due(refs[o]); ok {
					if h := hop[o]; h < len(timers[o].hops) {
						k.Move(refs[o], at+sim.Time(timers[o].hops[h]))
					}
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			return log, k.Steps(), k.Moves()
		}
		want, wantSteps, _ := run(false)
		got, steps, moves := run(true)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("with moves:\n%v\nwithout:\n%v", got, want)
		}
		if steps+moves != wantSteps {
			t.Fatalf("%d steps + %d moves, want %d steps", steps, moves, wantSteps)
		}
	})
}

// A touch hook (SetTouch) sees every event filed on the wheel before it is
// delivered, and changes nothing about the delivery.
func TestTouchSeesWheelEventsFirst(t *testing.T) {
	run := func(withTouch bool) (order []int, untouched int) {
		k := sim.New[int]()
		touched := map[int]bool{}
		if withTouch {
			k.SetTouch(func(p *int) byte { touched[*p] = true; return 0 })
		}
		r := sim.NewRand(1, "touch")
		for i := range 2000 {
			k.Schedule(sim.Time(1e6+r.Int64N(3e9)), i) // past the first slot: across the wheel and into the overflow
		}
		if err := k.RunUntil(4e9, func(now sim.Time, p *int) {
			order = append(order, *p)
			if withTouch && !touched[*p] {
				untouched++
			}
		}); err != nil {
			t.Fatal(err)
		}
		return order, untouched
	}
	plain, _ := run(false)
	touched, untouched := run(true)
	if fmt.Sprint(plain) != fmt.Sprint(touched) {
		t.Fatal("a touch hook changed the delivery order")
	}
	if untouched > 0 || len(touched) != 2000 {
		t.Fatalf("%d of %d events delivered untouched", untouched, len(touched))
	}
}
