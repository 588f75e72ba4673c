package model_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/leasesim/leasesim/model"
	"github.com/leasesim/leasesim/sim"
)

// runShared starts jobs (at, work, owner 0, tag = index) on c and steps it
// the way a member does: to each arrival and to each NextDone in turn;
// it returns each job's completion.
func runShared(t *testing.T, c *model.CPU, at []sim.Time, work []time.Duration) []sim.Time {
	t.Helper()
	done := make([]sim.Time, len(at))
	for i := range done {
		done[i] = -1
	}
	next := 0
	var tags []int32
	for steps := 0; ; steps++ {
		if steps > 100*len(at)+100 {
			t.Fatalf("no progress: jobs at %v of %v, done so far %v", at, work, done)
		}
		tick, ok := c.NextDone(0)
		if next < len(at) && (!ok || at[next] <= tick) {
			c.Start(at[next], work[next], 1, 0, 0, int32(next), false)
			next++
			continue
		}
		if !ok {
			break
		}
		tags = c.Finished(tick, 0, tags[:0])
		for _, tag := range tags {
			if done[tag] >= 0 {
				t.Fatalf("job %d reported twice", tag)
			}
			done[tag] = tick
		}
	}
	for i, d := range done {
		if d < 0 {
			t.Fatalf("job %d never reported done", i)
		}
	}
	return done
}

func sharedCPU(cores float64) *model.CPU {
	return model.NewCPU(model.CPUConfig{Cores: cores, Bucket: time.Second, Duration: 10 * time.Second, Sharing: true})
}

func TestSharingEqualJobsFinishTogether(t *testing.T) {
	// Four 1 ms jobs at once on one core: a FIFO ends them at 1, 2, 3, 4 ms;
	// shared, each runs at a quarter of the core and all end at 4 ms.
	got := runShared(t, sharedCPU(1), []sim.Time{0, 0, 0, 0}, []time.Duration{time.Millisecond, time.Millisecond, time.Millisecond, time.Millisecond})
	for i, d := range got {
		if d != 4*ms {
			t.Errorf("job %d done at %v, want 4ms", i, d)
		}
	}
}

func TestSharingShortJobPassesLongOne(t *testing.T) {
	// A 10 ms job at 0 and a 1 ms one at 1 ms on one core: from 1 ms they
	// share it, the short one needs 2 ms of it (done at 3 ms), the long one
	// then has 8 ms left alone (done at 11 ms). A FIFO: 10 ms and 11 ms.
	got := runShared(t, sharedCPU(1), []sim.Time{0, ms}, []time.Duration{10 * time.Millisecond, time.Millisecond})
	if got[0] != 11*ms || got[1] != 3*ms {
		t.Errorf("done at %v, want [11ms 3ms]", got)
	}
}

func TestSharingWorklessJobEndsAtOnce(t *testing.T) {
	got := runShared(t, sharedCPU(1), []sim.Time{0, ms}, []time.Duration{3 * time.Millisecond, 0})
	if got[0] != 3*ms || got[1] != ms {
		t.Errorf("done at %v, want [3ms 1ms]", got)
	}
}

func TestSharingOneCoreARequest(t *testing.T) {
	// A request runs on one goroutine: on 2 cores one 4 ms job takes 4 ms;
	// three of them share the 2 cores, 2/3 of a core each: 6 ms.
	if got := runShared(t, sharedCPU(2), []sim.Time{0}, []time.Duration{4 * time.Millisecond}); got[0] != 4*ms {
		t.Errorf("one job done at %v, want 4ms", got[0])
	}
	got := runShared(t, sharedCPU(2), []sim.Time{0, 0, 0}, []time.Duration{4 * time.Millisecond, 4 * time.Millisecond, 4 * time.Millisecond})
	for i, d := range got {
		if d != 6*ms {
			t.Errorf("job %d done at %v, want 6ms", i, d)
		}
	}
}

func TestSharingStallAndBackground(t *testing.T) {
	// A stall stops every job for its length; other processes' cores are
	// not the member's.
	c := sharedCPU(1)
	c.Start(0, 2*time.Millisecond, 1, 0, 0, 0, false)
	c.Stall(ms/2, time.Millisecond)
	if at, _ := c.NextDone(0); at != 3*ms {
		t.Errorf("stalled job done at %v, want 3ms", at)
	}
	bg := model.NewCPU(model.CPUConfig{Cores: 2, Bucket: time.Second, Duration: time.Second, Sharing: true,
		Background: []model.LoadStep{{At: 0, Cores: 1}}})
	got := runShared(t, bg, []sim.Time{0, 0}, []time.Duration{time.Millisecond, time.Millisecond})
	if got[0] != 2*ms || got[1] != 2*ms {
		t.Errorf("with one of two cores taken: done at %v, want [2ms 2ms]", got)
	}
}

func TestSharingOwnersTakeTheirOwn(t *testing.T) {
	// Members on one machine (shared_cpu) share one CPU: each collects its
	// own jobs' completions.
	c := sharedCPU(1)
	c.Start(0, time.Millisecond, 1, 0, 0, 7, false)
	c.Start(0, time.Millisecond, 1, 0, 1, 8, false)
	at, _ := c.NextDone(1)
	if got := c.Finished(at, 1, nil); len(got) != 1 || got[0] != 8 {
		t.Fatalf("owner 1 took %v, want [8]", got)
	}
	if at0, _ := c.NextDone(0); at0 != at {
		t.Errorf("owner 0 told to look at %v, want %v (its job is done)", at0, at)
	}
	if got := c.Finished(at, 0, nil); len(got) != 1 || got[0] != 7 {
		t.Errorf("owner 0 took %v, want [7]", got)
	}
}

// TestSharingMatchesBruteForce checks the virtual-time bookkeeping against
// processor sharing simulated the slow way, in 1 µs steps, on random jobs;
// and that the work credited to the utilisation is the work submitted.
func TestSharingMatchesBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := range 200 {
		cores := float64(1 + r.IntN(3))
		n := 1 + r.IntN(12)
		at := make([]sim.Time, n)
		work := make([]time.Duration, n)
		var clock sim.Time
		total := 0.0
		for i := range n {
			clock += sim.Time(r.IntN(3000)) * sim.Time(time.Microsecond)
			at[i] = clock
			work[i] = time.Duration(1+r.IntN(4000)) * time.Microsecond
			total += float64(work[i])
		}
		c := model.NewCPU(model.CPUConfig{Cores: cores, Bucket: time.Second, Duration: time.Second, Sharing: true})
		got := runShared(t, c, at, work)
		want := bruteForcePS(cores, at, work)
		for i := range n {
			if d := got[i] - want[i]; d < -sim.Time(n+1)*sim.Time(time.Microsecond) || d > sim.Time(n+1)*sim.Time(time.Microsecond) { // the brute force rounds each completion up to its step
				t.Fatalf("trial %d (%g cores, jobs at %v of %v): job %d done at %v, brute force %v", trial, cores, at, work, i, got[i], want[i])
			}
		}
		c.Sync(sim.Time(time.Second))
		if busy := c.Utilisation()[0] * cores * float64(time.Second); busy < total*0.999999 || busy > total*1.000001 {
			t.Fatalf("trial %d: utilisation credits %.0f ns of work, %.0f were submitted", trial, busy, total)
		}
	}
}

// bruteForcePS runs processor sharing in 1 µs steps (each request at
// min(1, cores/N) of a core) and returns each job's completion, rounded up
// to the step.
func bruteForcePS(cores float64, at []sim.Time, work []time.Duration) []sim.Time {
	step := sim.Time(time.Microsecond)
	left := make([]float64, len(at))
	done := make([]sim.Time, len(at))
	for i := range left {
		left[i] = float64(work[i])
		done[i] = -1
	}
	for t := sim.Time(0); ; t += step {
		var in []int
		for i := range at {
			if at[i] <= t && done[i] < 0 {
				in = append(in, i)
			}
		}
		if len(in) == 0 {
			if all := func() bool {
				for _, d := range done {
					if d < 0 {
						return false
					}
				}
				return true
			}(); all {
				return done
			}
			continue
		}
		rate := min(1, cores/float64(len(in)))
		for _, i := range in {
			left[i] -= rate * float64(step)
			if left[i] <= 1e-6 {
				done[i] = t + step
			}
		}
	}
}
