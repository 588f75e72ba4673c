package model

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/leasesim/leasesim/sim"
)

// CPU is a member's processor: Cores cores draining one FIFO of work.
//
// It is a fluid model of an M/G/c FIFO queue: the backlog drains at
// Cores - Idle core-seconds per second, and a job of n identical requests
// cannot finish sooner than its own work spread over min(n, Cores - Idle)
// cores. Work submitted at the same instant is served in submission order.
// Utilisation and the work in the system are exact; the completion order of
// jobs shorter than the backlog is FIFO, which is how gRPC's per-stream
// receive buffer and the HTTP server's accept loop feed etcd (the report: an
// unbounded backlog, gRPC recvBuffer.put).
//
// With a MaxJobs > 0 the queue is bounded: a job that would exceed it is shed
// (the "bounded leader queue" what-if); by default it is unbounded, as gRPC's
// recvBuffer was.
//
// Idle is background work the member does with no load at all (raft
// heartbeats, rafthttp's prober, metrics, the Go runtime), as a constant
// number of cores: requests are served by the Cores - Idle that remain, and
// Utilisation counts the idle work as busy, so a member that serves nothing
// reports Idle/Cores. It must be below Cores.
//
// Three opt-in inputs make the service less smooth (all off by default,
// and then the CPU is exactly the constant-capacity queue above):
//   - Background: cores other processes on the same machine take, as a step
//     function of time known in advance (host.background_cores). They are not
//     this member's work: Utilisation does not count them.
//   - Spread: each job's work is scaled by a seeded lognormal draw of mean 1
//     (service-time variance: the same mean cost, a tail).
//   - GC: Go's garbage collector in the member's process (gc.go). A cycle's
//     marking takes GCBackgroundUtilization of the cores for as long as its
//     work needs, its stop-the-world pauses take all of them; the work counts
//     in Utilisation (it is the process's CPU).
//
// With Background or GC, the backlog drains at Cores - Idle - Background(t) - GC(t)
// (never below 0) core-seconds per second. A GC cycle starting now slows the
// backlog already queued: its completion (the next job's start) moves, but
// jobs already given a completion time keep it, as with Stall.
//
// A fourth opt-in input shares the machine with other processes the way
// Linux does (off by default; host.background_threads):
//   - Threads: other processes' threads, always runnable (a busy loop is
//     one). Linux's fair scheduler gives every runnable thread of equal
//     weight an equal share of the CPU, a thread at most one core: per
//     task, not per process (the kernel's
//     Documentation/scheduler/sched-design-CFS.rst, "an ideal, precise
//     multi-tasking CPU"; EEVDF, which replaced CFS from Linux 6.6 and runs
//     this project's 6.18 machine, keeps the shares:
//     Documentation/scheduler/sched-eevdf.rst, "Similarly to CFS, EEVDF
//     aims to distribute CPU time equally among all runnable tasks with the
//     same priority"). The member's process
//     runs at most Procs threads of Go code at once (GOMAXPROCS, Go 1.26
//     runtime/proc.go: one M per P), so while it has k runnable threads
//     (k = Procs with a backlog: the fluid model spreads it over every
//     core it can get; min(n, Procs) for a job of n requests alone) it gets
//     Share(k) = min(k, A k / (k + Threads)) cores, A = Cores -
//     Background(t): with Cores 2 and 1 other thread, 4/3 of a core with a
//     backlog and a whole one for a lone request, where Background would
//     take a whole core either way.
//   - Speed: while those threads run, every core is busy, and a thread runs
//     slower than on a quiet machine (cores sharing caches or a physical
//     core with the other vCPU: calibrate/testdata/host-speed.json measures
//     it). The jobs' work (costs measured on a machine where the member's
//     process ran alone) is done at Speed x the cores given, but counts in
//     Utilisation as its quiet CPU time: what the threads lose to the busy
//     machine is time, not CPU the process is charged (the storm set's
//     members spend no more CPU per renewal busy than quiet, 0.79x at
//     comparable rates: calibrate.TestStormBusyCPUPerRenewal; the
//     renewal-like workload that measured Speed saw 1.23x, on one thread
//     and noisily). So a process with a backlog reports Speed x its share
//     of the cores. GC marking is not
//     slowed (the measurement's gc-mark workload ran at 0.985 of its quiet
//     speed), but marks on its share of each P's thread: GCConfig.MarkCores
//     over Procs of Share(Procs) (the mark workers and assists run on Ps,
//     one worker per P, runtime/mgc.go:1693, mgcpacer.go:403-417, 450; a
//     P's thread gets its CFS share of a core). With MarkCores 1.3 of 2
//     Procs and one other thread on 1.86 cores that is 0.81 cores, where
//     the whole share would be 1.24: the storm-hiccups campaigns' marks
//     take 1.95x as long a MB of heap on the busy machine as on the quiet
//     one, the model's 1.6x (calibrate.TestBusyMarkCores; 1.06x with the
//     whole share).
//
// With Threads the backlog drains at Speed x (Share(Procs) - Idle - GC(t)),
// GC(t) the cores a mark takes (at most Share(Procs) - Idle).
// The member's own threads running at once are not slowed: the costs were
// measured with them.
type CPU struct {
	cores   float64
	idle    float64 // cores of background work, always running; 0 <= idle < cores
	maxJobs int     // 0: unbounded

	freeAt sim.Time // when the backlog submitted so far is done
	jobs   int      // requests in the system (waiting or in service)
	bytes  int64    // memory held by requests in the system
	shed   uint64

	busy   []float64 // core-seconds of work done per bucket
	bucket time.Duration

	// The opt-in inputs (variable: any of them is set).
	variable    bool
	background  []LoadStep    // other processes' cores, a step function; nil: none
	reserved    []reservation // GC marking and pauses, in start order
	gc          *GC           // nil: no GC modelled
	spread      float64       // lognormal sigma of a job's work (0: none)
	independent bool          // CPUConfig.IndependentDraws
	rand        *sim.Rand     // the draws for spread
	outside     int64         // heap held outside the CPU's jobs (HoldOutside)

	share *sharing // CPUConfig.Sharing: processor sharing (share.go); nil: FIFO

	// CPUConfig.Threads, Procs and Speed (0 threads: off).
	threads, procs, speed float64
}

// LoadStep is one step of a step function of time: Cores from At until the
// next step's At (the last one holds for ever).
type LoadStep struct {
	At    sim.Time
	Cores float64
}

// reservation: cores taken from requests over [from, to), by the member's
// own process (GC), so they count as busy.
type reservation struct {
	from, to sim.Time
	cores    float64
	busy     bool // the member's own work (GC marking), counted in Utilisation
}

// CPUConfig configures a CPU.
type CPUConfig struct {
	Cores float64
	// Idle: cores of background work, always running (0 <= Idle < Cores).
	Idle    float64
	MaxJobs int // 0: unbounded
	// Background: cores other processes take, a step function of time in
	// order of At (nil: none). Each step must leave some capacity: Idle +
	// Cores of a step < Cores.
	Background []LoadStep
	// GC: Go's garbage collector in the member's process (nil: off).
	GC *GCConfig
	// Spread: each job's work is scaled by a lognormal draw with mean 1 and
	// this sigma, from Rand (0: every job costs exactly its work).
	Spread float64
	Rand   *sim.Rand
	// IndependentDraws: a job of n requests is n requests that vary
	// independently (the fast mode's cohorts: spec.FidelityFast), so its
	// work is scaled by one draw whose variance is the mean of n draws' (a
	// lognormal with the sum's mean and variance); otherwise its requests
	// share one draw (the event writers' writes, applied as one batch).
	IndependentDraws bool
	// Bucket and Duration: utilisation is accounted per Bucket over Duration.
	Bucket, Duration time.Duration
	// Sharing: processor sharing instead of one FIFO (share.go). Requests
	// then go through Start and Finished, not Submit.
	Sharing bool
	// Threads: other processes' always-runnable threads (0: none), sharing
	// the cores with the process per thread (CFS); Procs: the process's
	// GOMAXPROCS (0: Cores rounded up); Speed: a thread's speed while every
	// core is busy, relative to a quiet machine (0 < Speed <= 1; 0: 1).
	// Not with Sharing.
	Threads, Procs, Speed float64
}

// NewCPU returns an idle CPU.
func NewCPU(cfg CPUConfig) *CPU {
	if !(cfg.Cores > 0) || cfg.Idle < 0 || cfg.Idle >= cfg.Cores || cfg.Bucket <= 0 || cfg.MaxJobs < 0 {
		panic(fmt.Sprintf("model: CPU needs cores > 0, 0 <= idle < cores, a bucket > 0 and max jobs >= 0: %+v", cfg))
	}
	c := &CPU{cores: cfg.Cores, idle: cfg.Idle, maxJobs: cfg.MaxJobs, bucket: cfg.Bucket,
		busy: make([]float64, int((cfg.Duration+cfg.Bucket-1)/cfg.Bucket))}
	for i, b := range cfg.Background {
		if b.Cores < 0 || cfg.Idle+b.Cores >= cfg.Cores || (i > 0 && b.At < cfg.Background[i-1].At) {
			panic(fmt.Sprintf("model: background load step %d (%+v) is negative, out of order or leaves no capacity on %g cores with %g idle", i, b, cfg.Cores, cfg.Idle))
		}
	}
	if len(cfg.Background) > 0 {
		c.background = cfg.Background
	}
	if cfg.GC != nil {
		c.gc = NewGC(*cfg.GC)
	}
	if cfg.Spread < 0 || (cfg.Spread > 0 && cfg.Rand == nil) {
		panic(fmt.Sprintf("model: CPU spread %g needs to be >= 0, and a random stream", cfg.Spread))
	}
	c.spread, c.rand, c.independent = cfg.Spread, cfg.Rand, cfg.IndependentDraws
	if cfg.Threads < 0 || cfg.Procs < 0 || cfg.Speed < 0 || cfg.Speed > 1 || (cfg.Threads > 0 && cfg.Sharing) {
		panic(fmt.Sprintf("model: CPU threads %g, procs %g and speed %g need threads >= 0, procs >= 0, 0 <= speed <= 1, and no processor sharing", cfg.Threads, cfg.Procs, cfg.Speed))
	}
	if cfg.Threads > 0 {
		c.threads, c.procs, c.speed = cfg.Threads, cfg.Procs, cfg.Speed
		if c.procs == 0 {
			c.procs = math.Ceil(cfg.Cores)
		}
		if c.speed == 0 {
			c.speed = 1
		}
		for _, b := range cfg.Background {
			if c.shareOf(c.procs, cfg.Cores-b.Cores) <= cfg.Idle {
				panic(fmt.Sprintf("model: %g other threads and %g background cores leave %g cores no more than the idle %g", c.threads, b.Cores, c.shareOf(c.procs, cfg.Cores-b.Cores), cfg.Idle))
			}
		}
	}
	c.variable = c.background != nil || c.gc != nil || c.spread > 0 || c.threads > 0
	if cfg.Sharing {
		c.share = &sharing{}
	}
	return c
}

// SetMaxJobs bounds the queue (0: unbounded); a member applies its leader
// queue limit while it leads.
func (c *CPU) SetMaxJobs(n int) { c.maxJobs = n }

// Submit queues a job of n requests, each costing work, holding bytes of
// memory each until done. It returns when the job completes, or ok=false if the
// bounded queue shed it.
func (c *CPU) Submit(now sim.Time, work time.Duration, n int, bytes int64) (done sim.Time, ok bool) {
	if c.maxJobs > 0 && c.jobs+n > c.maxJobs {
		c.shed += uint64(n)
		return 0, false
	}
	return c.Force(now, work, n, bytes), true
}

// Force queues a job that no bound refuses (work the kernel or the runtime
// does whether or not the application's queues are full, e.g. accepting a
// connection and its TLS handshake).
func (c *CPU) Force(now sim.Time, work time.Duration, n int, bytes int64) (done sim.Time) {
	if c.share != nil {
		return c.forceShared(now, work, n, bytes)
	}
	if c.variable {
		return c.forceVariable(now, work, n, bytes)
	}
	start := max(now, c.freeAt)
	total := float64(work) * float64(n)
	serve := c.cores - c.idle // what the background work leaves for requests
	// Rounded up to the nanosecond, so the backlog never drains faster than
	// serve (and Utilisation never exceeds 1); exact when serve divides total.
	c.freeAt = start + sim.Time(math.Ceil(total/serve))
	c.credit(start, c.freeAt, total)
	par := min(float64(n), serve)
	own := now + sim.Time(total/par)
	c.jobs += n
	c.bytes += bytes * int64(n)
	return max(c.freeAt, own)
}

// Charge queues work nobody waits for (no completion is reported, no job
// is counted): it takes its share of the cores and delays what is queued
// after it, as a follower's part of a ReadIndex round does.
func (c *CPU) Charge(now sim.Time, work time.Duration) {
	c.Force(now, work, 1, 0)
	c.Done(1, 0)
}

// Done releases a completed job's requests and memory.
func (c *CPU) Done(n int, bytes int64) {
	c.jobs -= n
	c.bytes -= bytes * int64(n)
}

// Stall makes the CPU do nothing for d from now (a GC pause, a stuck disk
// write): queued work is pushed back by d. Jobs already given a completion
// time keep it.
func (c *CPU) Stall(now sim.Time, d time.Duration) {
	if c.share != nil {
		c.Sync(now)
		c.prune(now)
		c.reserveShared(now, now+sim.Time(d), c.cores, false)
		return
	}
	if c.variable {
		c.prune(now)
		c.reserve(now, now+sim.Time(d), c.cores, false)
		return
	}
	c.freeAt = max(c.freeAt, now) + sim.Time(d)
}

// Backlog is how long the work already queued will take.
func (c *CPU) Backlog(now sim.Time) time.Duration {
	if c.share != nil {
		return c.backlogShared(now)
	}
	return time.Duration(max(0, c.freeAt-now))
}

// HoldOutside sets the heap the process holds outside this CPU's jobs
// (requests buffered in streams, open connections), which a GC cycle marks
// along with the jobs' bytes. The wiring updates it once per metrics bucket,
// with every member on this CPU's (one process with a shared CPU).
func (c *CPU) HoldOutside(bytes int64) { c.outside = bytes }

// Outside is the heap HoldOutside set.
func (c *CPU) Outside() int64 { return c.outside }

// HoldHeap tells the members' CPUs (their GC models) the heap held outside
// their jobs at a bucket's end: each member's stream queues
// (queuedRequestBytes a request) and, on the leader (-1: none), its
// leaderConns peer connections (connBytes each). Members sharing a CPU (one
// process) add up.
func HoldHeap(members []*Member, leader, leaderConns, queuedRequestBytes, connBytes int) {
	for _, mb := range members {
		mb.CPU().HoldOutside(0)
	}
	for m, mb := range members {
		held := int64(mb.Queued()) * int64(queuedRequestBytes)
		if m == leader {
			held += int64(leaderConns) * int64(connBytes)
		}
		mb.CPU().HoldOutside(mb.CPU().Outside() + held)
	}
}

// GC is the member's garbage collector, or nil when it is not modelled.
func (c *CPU) GC() *GC { return c.gc }

// Jobs is the number of requests in the system; Bytes their memory; Shed how
// many were refused.
func (c *CPU) Jobs() int    { return c.jobs }
func (c *CPU) Bytes() int64 { return c.bytes }
func (c *CPU) Shed() uint64 { return c.shed }

// Utilisation is the fraction of the cores busy in each bucket: the work
// done for requests and GC cycles plus the idle background work (Idle cores
// all the time, stalls included); other processes' load is not counted.
func (c *CPU) Utilisation() []float64 {
	out := make([]float64, len(c.busy))
	idle := c.idle * float64(c.bucket)
	for i, w := range c.busy {
		if c.variable {
			// A GC cycle takes back and places again the credit of the
			// backlog it slows: the rounding may leave a bucket a hair below 0.
			w = max(w, 0)
		}
		out[i] = (w + idle) / (float64(c.bucket) * c.cores)
	}
	return out
}

// credit spreads work (core-nanoseconds) evenly over [from, to).
func (c *CPU) credit(from, to sim.Time, work float64) {
	if to <= from {
		return
	}
	rate := work / float64(to-from)
	b := sim.Time(c.bucket)
	for t := from; t < to; {
		i := int(t / b)
		end := min(to, sim.Time(i+1)*b)
		if i < len(c.busy) {
			c.busy[i] += rate * float64(end-t)
		}
		t = end
	}
}

// never is a time no run reaches: the end of a step function's last step.
const never = sim.Time(math.MaxInt64)

// forceVariable is Force on a CPU whose capacity varies with time.
func (c *CPU) forceVariable(now sim.Time, work time.Duration, n int, bytes int64) sim.Time {
	c.prune(now)
	total := float64(work) * float64(n)
	if c.spread > 0 {
		total *= c.spreadDraw(n)
	}
	c.freeAt = c.drain(max(now, c.freeAt), total, math.Inf(1), 1)
	own := c.drain(now, total, float64(n), 0)
	c.jobs += n
	c.bytes += bytes * int64(n)
	c.allocate(now, n) // a cycle it starts: this job, queued before it, keeps its completion time
	return max(c.freeAt, own)
}

// spreadDraw is the factor a job of n requests' work is scaled by: a
// lognormal with mean 1, exp(sigma Z - sigma^2/2), one draw per job. With
// IndependentDraws its variance is that of the mean of n draws: sigma_n^2 =
// ln(1 + (e^(sigma^2) - 1)/n), matching the mean and the variance of the
// mean of n independent lognormals (Fenton-Wilkinson).
func (c *CPU) spreadDraw(n int) float64 {
	if !c.independent || n <= 1 {
		return math.Exp(c.spread*c.rand.NormFloat64() - c.spread*c.spread/2)
	}
	v := math.Log1p(math.Expm1(c.spread*c.spread) / float64(n))
	return math.Exp(math.Sqrt(v)*c.rand.NormFloat64() - v/2)
}

// allocate tells the GC model (if any) that a job of n requests starts now:
// a cycle its allocation starts pauses the cores, then marks on some of them.
func (c *CPU) allocate(now sim.Time, n int) {
	if c.gc == nil {
		return
	}
	c.Allocate(now, int64(n)*c.gc.cfg.AllocPerRequest)
}

// HandshakeExtra is what a TLS handshake's part that just started on this
// CPU allocates beyond a request (which the job's start counted): the
// wiring passes it to Allocate. 0 without GC or a handshake figure.
func (c *CPU) HandshakeExtra() int64 {
	if c.gc == nil {
		return 0
	}
	return max(0, c.gc.cfg.AllocPerHandshake-c.gc.cfg.AllocPerRequest)
}

// Allocate tells the GC model (if any) that the process allocates bytes now
// beyond what the jobs it runs count; a cycle it starts pauses the cores
// and marks on some of them, and the jobs already queued keep their
// completion times (as a job's own allocation does).
func (c *CPU) Allocate(now sim.Time, bytes int64) {
	if c.gc == nil || bytes <= 0 {
		return
	}
	avail := c.cores - c.idle - c.backgroundAt(now)
	if c.threads > 0 {
		share := c.shareOf(c.procs, c.cores-c.backgroundAt(now))
		avail = share - c.idle
		// The mark's share of each P, of what each P's thread gets.
		if mc := c.gc.cfg.MarkCores; mc > 0 {
			avail = min(avail, mc*share/c.procs)
		}
	}
	if cy, ok := c.gc.AllocOn(now, bytes, c.gc.cfg.BaseHeap+c.bytes+c.outside, avail); ok {
		markFrom := cy.Start + sim.Time(cy.STW)
		if c.share != nil {
			c.reserveShared(cy.Start, markFrom, c.cores, false)
			c.reserveShared(markFrom, markFrom+sim.Time(cy.Mark), cy.Cores, true)
			return
		}
		c.reserve(cy.Start, markFrom, c.cores, false)
		c.reserve(markFrom, markFrom+sim.Time(cy.Mark), cy.Cores, true)
	}
}

// backgroundAt is other processes' load at t (host.background_cores).
func (c *CPU) backgroundAt(t sim.Time) float64 {
	bg := c.background
	if i := sort.Search(len(bg), func(i int) bool { return bg[i].At > t }); i > 0 {
		return bg[i-1].Cores
	}
	return 0
}

// shareOf is the cores k runnable threads of the process get beside the
// other processes' Threads on avail cores (CFS: an equal share a runnable
// thread, at most a core each).
func (c *CPU) shareOf(k, avail float64) float64 {
	return min(k, avail*k/(k+c.threads))
}

// rateAt is the capacity left for requests at t (never below 0) and the time
// until which it holds.
func (c *CPU) rateAt(t sim.Time) (rate float64, until sim.Time) {
	rate, until = c.cores-c.idle, never
	var bgCores, gcCores float64 // for Threads
	if bg := c.background; len(bg) > 0 {
		i := sort.Search(len(bg), func(i int) bool { return bg[i].At > t }) // the first step after t
		if i > 0 {
			rate -= bg[i-1].Cores
			bgCores = bg[i-1].Cores
		}
		if i < len(bg) {
			until = bg[i].At
		}
	}
	for _, r := range c.reserved {
		switch {
		case r.from > t:
			until = min(until, r.from)
		case r.to > t:
			rate -= r.cores
			gcCores += r.cores
			until = min(until, r.to)
		}
	}
	if c.threads > 0 {
		rate = c.speed * (c.shareOf(c.procs, c.cores-bgCores) - c.idle - gcCores)
	}
	return max(rate, 0), until
}

// jobLimit is the most a job of n requests (on n goroutines) can be served
// at, at t: n cores, or with Threads the speed of min(n, Procs) threads at
// their CFS share.
func (c *CPU) jobLimit(t sim.Time, n float64) float64 {
	if c.threads == 0 || math.IsInf(n, 1) {
		return n
	}
	return c.speed * c.shareOf(min(n, c.procs), c.cores-c.backgroundAt(t))
}

// drain returns when work (core-nanoseconds) started at start is done, served
// at the capacity left for requests but on at most limit cores. With sign != 0
// it credits sign x the work to the buckets it runs in.
func (c *CPU) drain(start sim.Time, work, limit, sign float64) sim.Time {
	t := start
	for {
		rate, until := c.rateAt(t)
		rate = min(rate, c.jobLimit(t, limit))
		if rate > 0 {
			if until == never || rate*float64(until-t) >= work {
				end := t + sim.Time(math.Ceil(work/rate))
				if sign != 0 {
					c.credit(t, end, sign*work)
				}
				return end
			}
			part := rate * float64(until-t)
			if sign != 0 {
				c.credit(t, until, sign*part)
			}
			work -= part
		} else if until == never {
			panic("model: CPU with no capacity for ever")
		}
		t = until
	}
}

// served is the capacity left for requests over [from, to): the work a busy
// CPU does then.
func (c *CPU) served(from, to sim.Time) float64 {
	var w float64
	for t := from; t < to; {
		rate, until := c.rateAt(t)
		until = min(until, to)
		w += rate * float64(until-t)
		t = until
	}
	return w
}

// reserve takes cores from requests over [from, to), from >= every earlier
// input's time (the caller has pruned the reservations over by then). The backlog still queued at from drains slower: its remaining
// work is placed again (and credited again) under the new capacity.
func (c *CPU) reserve(from, to sim.Time, cores float64, busy bool) {
	if to <= from {
		return
	}
	var left float64
	if c.freeAt > from {
		left = c.served(from, c.freeAt)
		c.drain(from, left, math.Inf(1), -1)
	}
	c.reserved = append(c.reserved, reservation{from: from, to: to, cores: cores, busy: busy})
	if busy {
		c.credit(from, to, cores*float64(to-from))
	}
	if left > 0 {
		c.freeAt = c.drain(from, left, math.Inf(1), 1)
	} else {
		c.freeAt = max(c.freeAt, from)
	}
}

// prune forgets the reservations over by now.
func (c *CPU) prune(now sim.Time) {
	c.reserved = slices.DeleteFunc(c.reserved, func(r reservation) bool { return r.to <= now })
}
