package model_test

import (
	"math"
	"testing"
	"time"

	"github.com/leasesim/leasesim/model"
	"github.com/leasesim/leasesim/sim"
)

const mib = 1 << 20

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// Background load takes cores from requests while it lasts, and is not the
// member's CPU: 1.5 of 2 cores busy for the first second leave 0.5 core, so
// 2 core-seconds of work do 0.5 in the first second and the other 1.5 on
// both cores in 0.75 s.
func TestCPUBackgroundTakesCapacity(t *testing.T) {
	c := model.NewCPU(model.CPUConfig{Cores: 2, Bucket: time.Second, Duration: 3 * time.Second,
		Background: []model.LoadStep{{At: 0, Cores: 1.5}, {At: sim.Time(time.Second), Cores: 0}}})
	if done, _ := c.Submit(0, time.Second, 2, 0); done != 1750*ms {
		t.Fatalf("done at %v, want 1.75s", time.Duration(done))
	}
	u := c.Utilisation()
	if !near(u[0], 0.25) || !near(u[1], 0.75) || u[2] != 0 {
		t.Errorf("utilisation %v, want [0.25 0.75 0]: the background is not the member's", u)
	}
	// A constant load: one job of one core-second on the one core left.
	d := model.NewCPU(model.CPUConfig{Cores: 2, Bucket: time.Second, Duration: 3 * time.Second,
		Background: []model.LoadStep{{At: 0, Cores: 1}}})
	d.Submit(0, time.Second, 2, 0)
	if done, _ := d.Submit(0, time.Millisecond, 1, 0); done != 2001*ms {
		t.Fatalf("queued job done at %v, want 2.001s", time.Duration(done))
	}
}

// A stall on a CPU with background load pushes the backlog back as on a
// constant one.
func TestCPUStallWithBackground(t *testing.T) {
	c := model.NewCPU(model.CPUConfig{Cores: 1, Bucket: time.Second, Duration: 3 * time.Second,
		Background: []model.LoadStep{{At: 0, Cores: 0.5}}})
	c.Submit(0, 100*time.Millisecond, 1, 0) // done at 200 ms
	c.Stall(50*ms, 500*time.Millisecond)
	if done, _ := c.Submit(50*ms, 100*time.Millisecond, 1, 0); done != 900*ms {
		t.Fatalf("done at %v, want 900ms (200 + 500 stall + 200)", time.Duration(done))
	}
}

// The pacer's trigger: with no cons/mark history a cycle starts at the goal
// minus the 4 MiB heap minimum (a heap of 100 MiB: at 196 MiB); its marking
// scans the live heap at ScanRate on a quarter of GOMAXPROCS.
func TestGCTriggerAndMark(t *testing.T) {
	g := model.NewGC(model.GCConfig{GOGC: 100, Procs: 2, BaseHeap: 100 * mib, ScanRate: 100 * mib, STW: time.Millisecond})
	if g.Goal() != 200*mib || g.Trigger() != 196*mib {
		t.Fatalf("goal %d trigger %d, want 200 MiB and 196 MiB", g.Goal(), g.Trigger())
	}
	if _, ok := g.Alloc(0, 95*mib, 100*mib); ok {
		t.Fatal("a cycle below the trigger")
	}
	cy, ok := g.Alloc(sim.Time(time.Second), 1*mib, 150*mib)
	if !ok {
		t.Fatal("no cycle at the trigger")
	}
	// 150 MiB at 100 MiB per core-second: 1.5 core-seconds on 0.5 core: 3 s.
	if cy.Work != 1500*time.Millisecond || cy.Cores != 0.5 || cy.Mark != 3*time.Second || cy.STW != time.Millisecond {
		t.Fatalf("cycle %+v", cy)
	}
	// Allocation while marking starts no cycle; after the mark the marked
	// heap is the heap it started from plus what was allocated black
	// meanwhile (not the live heap at the end).
	if _, ok := g.Alloc(sim.Time(2*time.Second), 50*mib, 150*mib); ok || !g.Marking(sim.Time(2*time.Second)) {
		t.Fatal("a cycle while marking")
	}
	g.Alloc(sim.Time(5*time.Second), 0, 120*mib)
	if g.Marked() != 200*mib || g.Cycles() != 1 {
		t.Fatalf("marked %d MiB after %d cycles, want 200 MiB after 1", g.Marked()/mib, g.Cycles())
	}
	// cons/mark = 50 MiB x 0.25 / (150 MiB x 0.75) = 1/9: runway 3/9 x 200
	// MiB = 66.7 MiB, so goal - runway = 333 MiB, below the lower bound
	// 45/64 of the way from 200 MiB to 400 MiB: the trigger is that bound.
	want := int64(200*mib + 200*mib/64*45)
	if d := g.Trigger() - want; d < -1 || d > 1 {
		t.Fatalf("trigger %d, want %d", g.Trigger(), want)
	}
}

// A GC cycle takes its cores from the requests queued when it starts: the
// backlog finishes later by the cycle's work over the cores left.
func TestCPUGCSlowsTheBacklog(t *testing.T) {
	gc := model.GCConfig{GOGC: 100, Procs: 2, BaseHeap: 10 * mib, AllocPerRequest: 19 * mib / 10, ScanRate: 10 * mib, STW: 0}
	c := model.NewCPU(model.CPUConfig{Cores: 2, Bucket: time.Second, Duration: 10 * time.Second, GC: &gc})
	// Goal 20 MiB; trigger 61/64 of the way from 10 MiB (19.53 MiB): five
	// requests of 1.9 MiB stay below it.
	var last sim.Time
	for i := range 5 {
		done, _ := c.Submit(0, time.Second, 1, 0)
		if c.GC().Cycles() != 0 {
			t.Fatalf("a cycle after %d requests", i+1)
		}
		last = done
	}
	if last != 2500*ms {
		t.Fatalf("5 s of work on 2 cores done at %v", time.Duration(last))
	}
	// The 6th request passes it: a cycle marks 10 MiB, 1 core-second,
	// on 0.5 core for 2 s. The backlog (5 s of work left) does 1.5 cores x
	// 2 s = 3 s of it, then 2 s on 2 cores: the queue ends at 3 s, not 2.5 s.
	c.Submit(0, 0, 1, 0)
	if c.GC().Cycles() != 1 {
		t.Fatal("no cycle at the trigger")
	}
	if b := c.Backlog(0); b != 3*time.Second {
		t.Fatalf("backlog %v after the cycle, want 3s", b)
	}
	// The CPU is busy 100 % of the first 2 s (1.5 requests + 0.5 GC), then 1 s of
	// requests on 2 cores; its GC work counts.
	u := c.Utilisation()
	if !near(u[0], 1) || !near(u[1], 1) || !near(u[2], 1) || u[3] != 0 {
		t.Fatalf("utilisation %v", u[:3])
	}
}

// Service-time spread: each job's work is scaled by a lognormal of mean 1,
// so 10,000 jobs of 1 ms take about 10 s in all (seeded: the same every
// time), and single jobs vary: with sigma 0.7 the slowest of them takes
// several times the mean.
func TestCPUSpreadKeepsTheMean(t *testing.T) {
	run := func() (total sim.Time, longest time.Duration) {
		c := model.NewCPU(model.CPUConfig{Cores: 1, Bucket: time.Second, Duration: time.Minute,
			Spread: 0.7, Rand: sim.NewRand(1, "service-time")})
		prev := sim.Time(0)
		for range 10000 {
			done, _ := c.Submit(0, time.Millisecond, 1, 0)
			longest = max(longest, time.Duration(done-prev))
			prev = done
		}
		return prev, longest
	}
	total, longest := run()
	if total < sim.Time(9700*time.Millisecond) || total > sim.Time(10300*time.Millisecond) {
		t.Errorf("10,000 jobs of 1 ms on average took %v, want 10 s within 3 %%", time.Duration(total))
	}
	if longest < 5*time.Millisecond {
		t.Errorf("the longest job took %v: no tail", longest)
	}
	if again, _ := run(); again != total {
		t.Errorf("the same seed took %v, then %v", time.Duration(total), time.Duration(again))
	}
}

// More queue, more GC: the heap a member holds outside its CPU's jobs
// (requests buffered in streams, connections: HoldOutside) is marked by
// every cycle, so with 1 GiB held a cycle's marking is 1 GiB / ScanRate of
// CPU longer, and the backlog behind it finishes later.
func TestGCMarksTheQueuedHeap(t *testing.T) {
	gc := model.GCConfig{GOGC: 100, Procs: 2, BaseHeap: 64 * mib, AllocPerRequest: 10 * mib, ScanRate: 1024 * mib, STW: 0}
	run := func(held int64) (work time.Duration, backlog time.Duration) {
		c := model.NewCPU(model.CPUConfig{Cores: 2, Bucket: time.Second, Duration: 10 * time.Second, GC: &gc})
		c.HoldOutside(held)
		for c.GC().Cycles() == 0 {
			c.Submit(0, 100*time.Millisecond, 1, 0)
		}
		return c.GC().Work(), c.Backlog(0)
	}
	w0, b0 := run(0)
	w1, b1 := run(1024 * mib)
	if w0 != 62500*time.Microsecond || w1 != 1062500*time.Microsecond {
		t.Errorf("mark work %v with nothing held, %v with 1 GiB: want 62.5ms and 1.0625s", w0, w1)
	}
	// 7 jobs of 100 ms reach the trigger (64 + 7 x 10 MiB >= 125 MiB): 700
	// core-ms queued. Marking 64 MiB takes 0.5 core for 125 ms: 187.5 of them
	// on 1.5 cores, the rest on 2: 381 ms. Marking 1.06 GiB lasts longer than
	// the backlog: all of it on 1.5 cores, 467 ms.
	if b0 != 381250*time.Microsecond || b1 != 466666667*time.Nanosecond {
		t.Errorf("backlog %v with nothing held, %v with 1 GiB: want 381.25ms and 466.666667ms", b0, b1)
	}
}

// A process whose GC takes more than the background workers' quarter while
// it marks (GCConfig.MarkCores, measured as GC CPU over mark time) marks
// faster and leaves requests less; on a machine where other processes
// leave it fewer cores (AllocOn), the mark gets no more than those and
// lasts longer.
func TestGCMarkCores(t *testing.T) {
	cfg := model.GCConfig{GOGC: 100, Procs: 2, BaseHeap: 100 * mib, ScanRate: 100 * mib, MarkCores: 1.5}
	g := model.NewGC(cfg)
	cy, ok := g.Alloc(0, 96*mib, 150*mib)
	// 150 MiB at 100 MiB per core-second: 1.5 core-seconds on 1.5 cores.
	if !ok || cy.Work != 1500*time.Millisecond || cy.Cores != 1.5 || cy.Mark != time.Second {
		t.Fatalf("cycle %+v (started %v), want 1.5 s of work on 1.5 cores for 1 s", cy, ok)
	}
	g = model.NewGC(cfg)
	cy, ok = g.AllocOn(0, 96*mib, 150*mib, 0.75)
	if !ok || cy.Cores != 0.75 || cy.Mark != 2*time.Second {
		t.Fatalf("with 0.75 cores left by other processes: cycle %+v, want 1.5 s of work on 0.75 cores for 2 s", cy)
	}
	// On a CPU (as TestCPUGCSlowsTheBacklog, with MarkCores 1.5): the cycle
	// the 6th request starts takes 1.5 of the 2 cores while it marks, so the
	// backlog is served on 0.5 core meanwhile.
	gc := model.GCConfig{GOGC: 100, Procs: 2, BaseHeap: 10 * mib, AllocPerRequest: 19 * mib / 10, ScanRate: 10 * mib, MarkCores: 1.5}
	c := model.NewCPU(model.CPUConfig{Cores: 2, Bucket: time.Second, Duration: 10 * time.Second, GC: &gc})
	for range 6 {
		c.Submit(0, time.Second, 1, 0)
	}
	// 6 s of work; the cycle marks 10 MiB (1 core-second) on 1.5 cores for
	// 2/3 s, leaving 0.5 core: 1/3 s of work done then, 17/3 s on 2 cores
	// after: the queue ends at 2/3 + 17/6 = 3.5 s (3 s without GC).
	if b := c.Backlog(0); b < 3499*time.Millisecond || b > 3501*time.Millisecond {
		t.Fatalf("backlog %v, want 3.5 s", b)
	}
}

// MarkSpread scales each cycle's mark by a seeded lognormal of mean 1:
// marks of the same heap differ, the same seed gives the same marks, and
// their mean stays the unspread one.
func TestGCMarkSpread(t *testing.T) {
	marks := func(seed uint64) []time.Duration {
		g := model.NewGC(model.GCConfig{GOGC: 100, Procs: 2, BaseHeap: 100 * mib, ScanRate: 100 * mib,
			MarkCores: 1, MarkSpread: 0.2, Rand: sim.NewRand(seed, "gc-mark")})
		var out []time.Duration
		now := sim.Time(0)
		for range 400 {
			cy, ok := g.Alloc(now, 1<<40, 100*mib)
			if !ok {
				t.Fatal("no cycle")
			}
			out = append(out, cy.Mark)
			now += sim.Time(cy.Mark + time.Second)
			g.Advance(now)
		}
		return out
	}
	a, b := marks(1), marks(1)
	var sum time.Duration
	lo, hi := a[0], a[0]
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("cycle %d: %v, then %v with the same seed", i, a[i], b[i])
		}
		sum += a[i]
		lo, hi = min(lo, a[i]), max(hi, a[i])
	}
	if mean := sum / time.Duration(len(a)); mean < 970*time.Millisecond || mean > 1030*time.Millisecond {
		t.Errorf("mean mark %v, want 1 s within 3 %%", mean)
	}
	if hi < 1300*time.Millisecond || lo > 770*time.Millisecond {
		t.Errorf("marks from %v to %v: no spread", lo, hi)
	}
}

// A handshake allocates more than a request (GCConfig.AllocPerHandshake):
// the CPU reports the difference, and Allocate counts it towards the next
// cycle.
func TestCPUAllocateHandshake(t *testing.T) {
	gc := model.GCConfig{GOGC: 100, Procs: 2, BaseHeap: 10 * mib, AllocPerRequest: mib, AllocPerHandshake: 5 * mib, ScanRate: 10 * mib}
	c := model.NewCPU(model.CPUConfig{Cores: 2, Bucket: time.Second, Duration: 10 * time.Second, GC: &gc})
	if x := c.HandshakeExtra(); x != 4*mib {
		t.Fatalf("extra per handshake %d, want 4 MiB", x)
	}
	// The trigger is 19.53 MiB (10 MiB marked): one handshake (5 MiB) does
	// not reach it, the second does; as requests (1 MiB each), two do not.
	handshakes := func(c *model.CPU, n int) uint64 {
		for range n {
			c.Submit(0, time.Millisecond, 1, 0)
			c.Allocate(0, c.HandshakeExtra())
		}
		return c.GC().Cycles()
	}
	if n := handshakes(c, 1); n != 0 {
		t.Fatalf("%d cycles after one handshake, want 0", n)
	}
	if n := handshakes(c, 1); n != 1 {
		t.Fatalf("%d cycles after two handshakes, want 1", n)
	}
	plain := model.NewCPU(model.CPUConfig{Cores: 2, Bucket: time.Second, Duration: 10 * time.Second,
		GC: &model.GCConfig{GOGC: 100, Procs: 2, BaseHeap: 10 * mib, AllocPerRequest: mib, ScanRate: 10 * mib}})
	if plain.HandshakeExtra() != 0 || handshakes(plain, 2) != 0 {
		t.Fatal("without AllocPerHandshake a handshake allocates as a request: no cycle after two")
	}
}
