package clientmodel_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/leasesim/leasesim/clientmodel"
	"github.com/leasesim/leasesim/sim"
	"pgregory.net/rapid"
)

// Clients whose idle scans and deadline ticks are moved (LazyTimers) do
// what clients woken by every timer do: the same requests, facts and
// closes at the same instants in the same order, ties included; every moved
// wake-up stands for one the other run delivers.
func TestLazyTimersChangeNothing(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 4).Draw(t, "clients")
		cfgs := make([]clientmodel.Config, n)
		for i := range cfgs {
			cfgs[i] = clientmodel.Config{
				Rule:         clientmodel.Rule(rapid.IntRange(0, 1).Draw(t, "rule")),
				Consumer:     clientmodel.Consumer{Kind: rapid.SampledFrom([]clientmodel.ConsumerKind{clientmodel.Drain, clientmodel.Never}).Draw(t, "consumer")},
				ConnectDelay: time.Duration(rapid.IntRange(0, 1).Draw(t, "connect")) * time.Second / 2,
				ScanOverrun:  time.Duration(rapid.IntRange(0, 4).Draw(t, "overrun")/4) * 611 * time.Microsecond,
				// A small channel, so that a never-reading client fills it.
				ChannelCapacity: rapid.IntRange(1, 3).Draw(t, "capacity"),
			}
		}
		// The server's answer to the k-th request of the run: after a delay,
		// a TTL (0: the lease is gone) or a stream error.
		type answer struct {
			delay time.Duration
			ttl   int64
			fail  bool
		}
		answers := make([]answer, 200)
		for i := range answers {
			// Round delays make answers land on scans and deadline ticks.
			answers[i] = answer{delay: rapid.SampledFrom([]time.Duration{0, time.Millisecond, 3 * time.Millisecond, 250 * time.Millisecond,
				500 * time.Millisecond, time.Second, 1500 * time.Millisecond, 2 * time.Second}).Draw(t, "delay"),
				ttl: rapid.SampledFrom([]int64{5, 5, 5, 5, 2, 9, 0}).Draw(t, "ttl"), fail: rapid.IntRange(0, 30).Draw(t, "fail") == 0}
		}
		type ev struct {
			c  int
			in clientmodel.Input
		}
		run := func(lazy bool) (log []string, steps, moves uint64) {
			k := sim.New[ev]()
			clients := make([]*clientmodel.Client, n)
			timers := make([]clientmodel.LazyTimers, n)
			for i := range clients {
				clients[i] = clientmodel.New(cfgs[i])
				k.Schedule(sim.Time(i/2)*sim.Time(time.Second), ev{i, clientmodel.Input{Kind: clientmodel.InKeepAlive}})
			}
			sent := 0
			err := k.RunUntil(sim.Time(time.Minute), func(now sim.Time, e *ev) {
				c := clients[e.c]
				if lazy {
					timers[e.c].CatchUp(c, k)
				}
				for _, o := range c.Step(now, e.in, nil) {
					switch o.Kind {
					case clientmodel.OutTimer:
						in := clientmodel.Input{Kind: clientmodel.InTimer, Timer: o.Timer, Gen: o.Gen}
						if lazy && o.Timer < clientmodel.MovableTimers {
							timers[e.c].Armed(o.Timer, k.ScheduleRef(o.At, ev{e.c, in}), k)
						} else {
							k.Schedule(o.At, ev{e.c, in})
						}
						continue
					case clientmodel.OutSend:
						a := answers[sent%len(answers)]
						sent++
						in := clientmodel.Input{Kind: clientmodel.InResponse, Gen: o.Gen, TTL: a.ttl}
						if a.fail {
							in = clientmodel.Input{Kind: clientmodel.InStreamError, Gen: o.Gen}
						}
						k.Schedule(now+sim.Time(a.delay), ev{e.c, in})
					}
					log = append(log, fmt.Sprintf("%v c%d %v %d %v", now, e.c, o.Kind, o.Gen, o.Reason))
				}
				if lazy {
					timers[e.c].Settle(c, k)
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			return log, k.Steps(), k.Moves()
		}
		want, wantSteps, _ := run(false)
		got, steps, moves := run(true)
		if !slices.Equal(got, want) {
			i := 0
			for i < min(len(got), len(want)) && got[i] == want[i] {
				i++
			}
			t.Fatalf("lazy timers: outputs differ from output %d on:\n%q\nwant\n%q", i, got[i:min(i+3, len(got))], want[i:min(i+3, len(want))])
		}
		if moves == 0 {
			t.Logf("no moves")
		}
		if steps+moves != wantSteps {
			t.Fatalf("%d steps + %d moves, want %d steps", steps, moves, wantSteps)
		}
	})
}
