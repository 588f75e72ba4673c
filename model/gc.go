package model

import (
	"fmt"
	"math"
	"time"

	"github.com/leasesim/leasesim/sim"
)

// GC is Go's garbage collector in one etcd process, as a state machine over
// the process's heap: Alloc reports each allocation with the current time
// and the heap reachable then, and returns the cycle it starts, if any. The
// CPU (cpu.go) turns a cycle into capacity taken from requests.
//
// Terms, as in the runtime's pacer (runtime/mgcpacer.go, Go 1.26):
//   - live heap: the bytes reachable now: the process's base heap plus what
//     queued requests and open connections hold (the CPU passes it).
//   - marked heap (heapMarked): the live heap the last cycle marked.
//   - heap goal: marked + marked x GOGC/100 (mgcpacer.go:1296-1297; stacks
//     and globals left out), at least the heap minimum, 4 MiB x GOGC/100
//     (defaultHeapMinimum, mgcpacer.go:58-60 and 1345).
//   - trigger: a cycle starts when marked + the bytes allocated since the last
//     cycle ended reaches goal - runway, clamped between 0.7 (45/64) and 0.95
//     (61/64) of the way from marked to goal, or goal - 4 MiB for large
//     heaps (trigger, mgcpacer.go:1170-1180 and 1221-1250).
//   - runway: consMark x (1-u)/u x marked (commit, mgcpacer.go:1329), with
//     u = gcBackgroundUtilization = 0.25 (mgcpacer.go:39) and consMark the
//     largest of the last 5 cycles' (allocated during mark x u) / (scan work
//     x (1-u)) (endCycle, mgcpacer.go:659-660 and the 4-cycle history).
//   - mark: a cycle marks the live heap at ScanRate bytes per core-second,
//     on u x GOMAXPROCS of the cores (the dedicated and fractional workers;
//     gcBackgroundUtilization), so its wall time is the work / (u x Procs).
//     Idle mark workers and assists change how fast marking ends, not how
//     much work it is: a fluid CPU only sees the work; the model keeps the
//     background rate (so it errs towards longer marks when the member idles,
//     when they cost requests nothing anyway).
//   - STW: the stop-the-world pauses of a cycle (sweep termination and mark
//     termination), taken together at its start: no request runs then.
//
// The sweep phase is not modelled (it is done lazily by allocating
// goroutines, a cost per allocation already inside the measured request
// costs).
type GC struct {
	cfg GCConfig

	marked        int64    // heapMarked: the live heap the last cycle marked
	allocated     int64    // bytes allocated since the last cycle ended
	marking       bool     // a cycle is marking
	markEnd       sim.Time // when it ends
	scanWork      int64    // its scan work (bytes)
	allocDuring   int64    // bytes allocated while it marks
	consMarks     [5]float64
	cycles        uint64
	work          time.Duration // core time of every cycle's marking so far
	stw           time.Duration // pauses so far
	lastGoal      int64
	lastTriggered int64
	marks         []Span // every cycle's pauses and mark, in start order
}

// Span is an interval of virtual time, [From, To).
type Span struct{ From, To sim.Time }

// GCConfig is one process's collector. Every default in package spec cites
// its source.
type GCConfig struct {
	// GOGC: the heap grows by this percent of the marked heap between cycles
	// (the runtime's default: 100).
	GOGC float64
	// Procs: GOMAXPROCS, the cores the process's goroutines run on.
	Procs float64
	// BaseHeap: the live heap of the process with no requests queued (the
	// members' own state: raft log, MVCC index, lessor, buffers).
	BaseHeap int64
	// AllocPerRequest: bytes a request allocates on its way through the
	// process, garbage once it is answered.
	AllocPerRequest int64
	// AllocPerHandshake: bytes one end of a TLS handshake allocates (0: as
	// a request, AllocPerRequest); CPU.Allocate reports the difference.
	AllocPerHandshake int64
	// ScanRate: bytes of live heap one core marks per second.
	ScanRate float64
	// STW: the stop-the-world pauses of one cycle, in all.
	STW time.Duration
	// MarkCores: the cores a cycle takes from requests while it marks; 0
	// means the background mark workers' share, GCBackgroundUtilization x
	// Procs (what the runtime plans). A process whose idle mark workers and
	// assists take more of its cores while it marks (measured: the GC's CPU
	// over a mark's wall time) sets it; the mark then lasts work / MarkCores.
	MarkCores float64
	// MarkSpread: the sigma of a lognormal of mean 1 that scales each
	// cycle's mark (its wall time, and so the core time it takes from
	// requests), drawn from Rand: a real process's marks of the same heap
	// vary (0: every cycle marks at ScanRate exactly).
	MarkSpread float64
	Rand       *sim.Rand
}

// GCBackgroundUtilization is the fraction of GOMAXPROCS the runtime's
// background mark workers take while a cycle marks (gcBackgroundUtilization,
// runtime/mgcpacer.go:39).
const GCBackgroundUtilization = 0.25

// Trigger bounds as fractions of the way from the marked heap to the goal,
// in 64ths, and the heap minimum at GOGC=100 (runtime/mgcpacer.go:58-60,
// 1170-1180).
const (
	gcTriggerDen       = 64
	gcMinTriggerNum    = 45
	gcMaxTriggerNum    = 61
	gcHeapMinimum      = 4 << 20
	gcConsMarkHistory  = 5 // the cycle's own and the last 4 (mgcpacer.go:662-665)
	gcPercentOfDefault = 100
)

// GCCycle is a cycle Alloc started: its pauses from Start for STW, then its
// marking on Cores cores for Mark.
type GCCycle struct {
	Start sim.Time
	STW   time.Duration
	Mark  time.Duration // wall time
	Cores float64
	Work  time.Duration // core time: Mark x Cores
	Heap  int64         // the live heap it marks
}

// NewGC returns a collector whose last cycle marked the base heap (a process
// that has run for a while).
func NewGC(cfg GCConfig) *GC {
	if !(cfg.GOGC > 0) || !(cfg.Procs > 0) || cfg.BaseHeap < 0 || cfg.AllocPerRequest < 0 || cfg.AllocPerHandshake < 0 || !(cfg.ScanRate > 0) || cfg.STW < 0 || cfg.MarkCores < 0 || cfg.MarkCores > cfg.Procs ||
		cfg.MarkSpread < 0 || (cfg.MarkSpread > 0 && cfg.Rand == nil) {
		panic(fmt.Sprintf("model: GC needs GOGC > 0, procs > 0, a scan rate > 0, no negative sizes and mark cores within [0, procs], a mark spread >= 0 with a random stream: %+v", cfg))
	}
	return &GC{cfg: cfg, marked: cfg.BaseHeap}
}

// Config is the collector's configuration.
func (g *GC) Config() GCConfig { return g.cfg }

// Goal is the heap goal for the marked heap (mgcpacer.go:1296-1303).
func (g *GC) Goal() int64 {
	goal := g.marked + int64(float64(g.marked)*g.cfg.GOGC/100)
	return max(goal, int64(gcHeapMinimum*g.cfg.GOGC/gcPercentOfDefault))
}

// Trigger is the heap (marked + allocated since the last cycle) at which the
// next cycle starts (trigger, mgcpacer.go:1190-1250).
func (g *GC) Trigger() int64 {
	goal := g.Goal()
	if g.marked >= goal {
		return goal
	}
	lo := (goal-g.marked)/gcTriggerDen*gcMinTriggerNum + g.marked
	hi := (goal-g.marked)/gcTriggerDen*gcMaxTriggerNum + g.marked
	if goal > gcHeapMinimum && goal-gcHeapMinimum > hi {
		hi = goal - gcHeapMinimum
	}
	hi = max(hi, lo)
	consMark := 0.0
	for _, c := range g.consMarks {
		consMark = max(consMark, c)
	}
	runway := int64(consMark * (1 - GCBackgroundUtilization) / GCBackgroundUtilization * float64(g.marked))
	trigger := lo
	if runway <= goal {
		trigger = goal - runway
	}
	return min(max(trigger, lo), hi)
}

// Advance ends, at now, a cycle whose marking is over by then.
func (g *GC) Advance(now sim.Time) {
	if g.marking && now >= g.markEnd {
		g.endCycle()
	}
}

// Alloc: the process allocates bytes at now, with live bytes reachable. A
// cycle that has finished marking by now ends first; then, if the heap
// reaches the trigger, a cycle starts.
func (g *GC) Alloc(now sim.Time, bytes, live int64) (GCCycle, bool) {
	return g.AllocOn(now, bytes, live, g.cfg.Procs)
}

// AllocOn is Alloc on a machine where other processes leave the process
// only avail cores now: a cycle it starts marks on at most those (its
// mark lasts longer, as the runtime's workers get no more of the machine
// than its other threads).
func (g *GC) AllocOn(now sim.Time, bytes, live int64, avail float64) (GCCycle, bool) {
	g.Advance(now)
	if g.marking {
		g.allocDuring += bytes
		return GCCycle{}, false
	}
	g.allocated += bytes
	if g.marked+g.allocated < g.Trigger() {
		return GCCycle{}, false
	}
	return g.startCycle(now, live, avail), true
}

func (g *GC) startCycle(now sim.Time, live int64, avail float64) GCCycle {
	cores := GCBackgroundUtilization * g.cfg.Procs
	if g.cfg.MarkCores > 0 {
		cores = g.cfg.MarkCores
	}
	if avail > 0 {
		cores = min(cores, avail)
	}
	scan := float64(live) / g.cfg.ScanRate
	if sg := g.cfg.MarkSpread; sg > 0 {
		scan *= math.Exp(sg*g.cfg.Rand.NormFloat64() - sg*sg/2)
	}
	work := time.Duration(scan * float64(time.Second))
	c := GCCycle{Start: now, STW: g.cfg.STW, Cores: cores, Work: work, Heap: live,
		Mark: time.Duration(float64(work) / cores)}
	g.lastGoal, g.lastTriggered = g.Goal(), g.marked+g.allocated
	g.marking, g.markEnd = true, now+sim.Time(c.STW+c.Mark)
	g.marks = append(g.marks, Span{From: now, To: g.markEnd})
	g.scanWork, g.allocDuring = live, 0
	g.cycles++
	g.work += work
	g.stw += c.STW
	return c
}

// endCycle: marking is over. The marked heap is the heap reachable when the
// cycle started (the collector marks a snapshot: what the write barrier keeps
// grey, mbarrier.go) plus what was allocated while marking: the runtime
// allocates black during a cycle (gcmarknewobject, runtime/mgcmark.go:1757),
// so those bytes count as marked even if they are already garbage, and the
// next cycle's allocation starts from there. The cycle's cons/mark ratio
// joins the history (endCycle, mgcpacer.go:659-667).
func (g *GC) endCycle() {
	u := GCBackgroundUtilization
	cm := 0.0
	if g.scanWork > 0 {
		cm = float64(g.allocDuring) * u / (float64(g.scanWork) * (1 - u))
	}
	copy(g.consMarks[1:], g.consMarks[:gcConsMarkHistory-1])
	g.consMarks[0] = cm
	g.marked, g.allocated, g.marking = g.scanWork+g.allocDuring, 0, false
}

// Cycles is the number of cycles started; Work their marking's core time;
// Pauses their stop-the-world time.
func (g *GC) Cycles() uint64 { return g.cycles }

// Marks are the cycles' spans so far, pauses and mark, in start order.
func (g *GC) Marks() []Span         { return g.marks }
func (g *GC) Work() time.Duration   { return g.work }
func (g *GC) Pauses() time.Duration { return g.stw }

// Marked is the live heap the last finished cycle marked.
func (g *GC) Marked() int64 { return g.marked }

// Marking reports whether a cycle is marking at now (one that ended by now
// is reported over only at the next Alloc, which needs the live heap).
func (g *GC) Marking(now sim.Time) bool { return g.marking && now < g.markEnd }
