package model

import (
	"fmt"
	"math"
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
}

// CPUConfig configures a CPU.
type CPUConfig struct {
	Cores float64
	// Idle: cores of background work, always running (0 <= Idle < Cores).
	Idle    float64
	MaxJobs int // 0: unbounded
	// Bucket and Duration: utilisation is accounted per Bucket over Duration.
	Bucket, Duration time.Duration
}

// NewCPU returns an idle CPU.
func NewCPU(cfg CPUConfig) *CPU {
	if !(cfg.Cores > 0) || cfg.Idle < 0 || cfg.Idle >= cfg.Cores || cfg.Bucket <= 0 || cfg.MaxJobs < 0 {
		panic(fmt.Sprintf("model: CPU needs cores > 0, 0 <= idle < cores, a bucket > 0 and max jobs >= 0: %+v", cfg))
	}
	return &CPU{cores: cfg.Cores, idle: cfg.Idle, maxJobs: cfg.MaxJobs, bucket: cfg.Bucket,
		busy: make([]float64, int((cfg.Duration+cfg.Bucket-1)/cfg.Bucket))}
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

// Done releases a completed job's requests and memory.
func (c *CPU) Done(n int, bytes int64) {
	c.jobs -= n
	c.bytes -= bytes * int64(n)
}

// Stall makes the CPU do nothing for d from now (a GC pause, a stuck disk
// write): queued work is pushed back by d. Jobs already given a completion
// time keep it.
func (c *CPU) Stall(now sim.Time, d time.Duration) {
	c.freeAt = max(c.freeAt, now) + sim.Time(d)
}

// Backlog is how long the work already queued will take.
func (c *CPU) Backlog(now sim.Time) time.Duration {
	return time.Duration(max(0, c.freeAt-now))
}

// Jobs is the number of requests in the system; Bytes their memory; Shed how
// many were refused.
func (c *CPU) Jobs() int    { return c.jobs }
func (c *CPU) Bytes() int64 { return c.bytes }
func (c *CPU) Shed() uint64 { return c.shed }

// Utilisation is the fraction of the cores busy in each bucket: the work
// done for requests plus the idle background work (Idle cores all the time,
// stalls included).
func (c *CPU) Utilisation() []float64 {
	out := make([]float64, len(c.busy))
	idle := c.idle * float64(c.bucket)
	for i, w := range c.busy {
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
