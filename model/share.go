package model

import (
	"container/heap"
	"math"
	"time"

	"github.com/leasesim/leasesim/sim"
)

// Processor sharing (CPUConfig.Sharing): the CPU serves every request in
// the system at once, each at an equal share of the capacity left for
// requests (Cores - Idle - Background(t) - GC(t)), and no request faster than
// one core: with C cores left and N requests, each runs at min(1, C/N).
//
// Why: a request through a real member is not one burst of CPU but a chain of
// short ones on several goroutines (the gRPC transport's reader, the stream
// handler, rafthttp's handler, the TLS state machine between its flights),
// each of which blocks between them. One woken by the network poller joins
// the tail of a run queue (runtime/proc.go: injectglist) and waits behind
// every runnable goroutine (one woken by a channel send from a running
// goroutine takes the runnext slot instead; a goroutine that does not block
// is preempted after forcePreemptNS = 10 ms). Measured in this project: a
// network-woken goroutine waits about 10 ms per runnable goroutine
// (calibrate/testdata/sched-delay-go.json), i.e. behind everyone.
// Go's scheduler is thus a FIFO of bursts. The member's default CPU, a FIFO
// of whole requests, is its limit of one burst a request; processor sharing
// is its limit of many small bursts. The two bound it: forwards (many hops,
// ~0.1 ms each) are nearer sharing, a handshake's RSA signature (one ~1 ms
// burst) nearer the FIFO, where the first of N concurrent handshakes ends
// after one handshake's work, not with the N-th.
//
// The state: virtual time v is the service each request in the system has
// received so far (core-nanoseconds per request). A job of n requests of work
// w each, started when v was v0, is done when v reaches v0 + w; completions
// happen in the order of those marks whatever arrives later, so the jobs are
// a heap on (mark, submission order) and only the head's completion time is
// ever computed. Between inputs v grows at min(1, C(t)/N).
//
// The completion of a job started with a tag is reported to its owner
// (Finished); one started without (Force, Charge) ends silently. A member
// learns when to ask from NextDone, which is never later than its next
// completion: later inputs only delay completions, and a completion that
// speeds the others up is itself a NextDone.
type sharing struct {
	at       sim.Time // v holds at this instant
	v        float64
	requests int // N: requests in the system
	jobs     shareJobs
	seq      uint64
	finished []shareDone // completed, not yet taken by their owners (Finished)
}

// NoTag marks a job whose completion nobody waits for.
const NoTag int32 = -1

type shareJob struct {
	mark  float64 // v at which each of its requests is done
	seq   uint64
	n     int32
	owner int8
	tag   int32
}

type shareDone struct {
	owner int8
	tag   int32
}

type shareJobs []shareJob

func (h shareJobs) Len() int { return len(h) }
func (h shareJobs) Less(i, j int) bool {
	if h[i].mark != h[j].mark {
		return h[i].mark < h[j].mark
	}
	return h[i].seq < h[j].seq
}
func (h shareJobs) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *shareJobs) Push(x any)   { *h = append(*h, x.(shareJob)) }
func (h *shareJobs) Pop() any {
	old := *h
	j := old[len(old)-1]
	*h = old[:len(old)-1]
	return j
}

// Sharing reports whether the CPU is processor-shared (CPUConfig.Sharing).
func (c *CPU) Sharing() bool { return c.share != nil }

// Start queues a job of n requests of work each for owner, holding bytes each
// until Done, on a processor-shared CPU; its completion is reported to owner
// by Finished with tag (NoTag: never). bounded: the job counts against
// MaxJobs, and ok=false if the bounded queue sheds it.
func (c *CPU) Start(now sim.Time, work time.Duration, n int, bytes int64, owner int8, tag int32, bounded bool) (ok bool) {
	if bounded && c.maxJobs > 0 && c.jobs+n > c.maxJobs {
		c.shed += uint64(n)
		return false
	}
	c.startShared(now, work, n, bytes, owner, tag)
	return true
}

// startShared is Start without the bound; it returns the job's mark.
func (c *CPU) startShared(now sim.Time, work time.Duration, n int, bytes int64, owner int8, tag int32) float64 {
	c.Sync(now)
	c.prune(now)
	w := float64(work)
	if c.spread > 0 {
		w *= c.spreadDraw(n) // as forceVariable
	}
	s := c.share
	s.seq++
	mark := s.v + w
	heap.Push(&s.jobs, shareJob{mark: mark, seq: s.seq, n: int32(n), owner: owner, tag: tag})
	s.requests += n
	c.jobs += n
	c.bytes += bytes * int64(n)
	c.allocate(now, n)
	return mark
}

// forceShared is Force on a processor-shared CPU: the job runs in the shared
// set, and the time returned is when it would end if nothing else arrived
// (a prediction: the callers that act at a time fixed when the work starts
// are Promote's apply stall, a ReadIndex round and an event lease's revoke,
// all rare; requests use Start).
func (c *CPU) forceShared(now sim.Time, work time.Duration, n int, bytes int64) sim.Time {
	mark := c.startShared(now, work, n, bytes, -1, NoTag)
	return c.until(mark)
}

// reserveShared takes cores over [from, to): on a shared CPU the jobs'
// completions follow from the capacity as time advances, so nothing is
// placed again.
func (c *CPU) reserveShared(from, to sim.Time, cores float64, busy bool) {
	if to <= from {
		return
	}
	c.reserved = append(c.reserved, reservation{from: from, to: to, cores: cores, busy: busy})
	if busy {
		c.credit(from, to, cores*float64(to-from))
	}
}

// Sync advances a processor-shared CPU to now: its virtual time, the
// utilisation of the time since the last input, and the jobs done by now
// (kept for their owners). A no-op on a FIFO CPU.
func (c *CPU) Sync(now sim.Time) {
	s := c.share
	if s == nil {
		return
	}
	c.popDone() // a job of no work is done where it starts
	for s.at < now {
		if s.requests == 0 {
			s.at = now
			return
		}
		capacity, until := c.rateAt(s.at)
		end := min(now, until)
		rate := min(1, capacity/float64(s.requests))
		head := s.jobs[0].mark
		done := false
		if rate > 0 {
			if at := s.at + sim.Time(math.Ceil((head-s.v)/rate)); at <= end {
				end, done = at, true
			}
		}
		c.credit(s.at, end, rate*float64(s.requests)*float64(end-s.at))
		s.v += rate * float64(end-s.at)
		s.at = end
		if done {
			s.v = max(s.v, head) // the ceiling above: v has reached the head's mark
			c.popDone()
		}
	}
}

// popDone removes the jobs whose marks v has reached.
func (c *CPU) popDone() {
	s := c.share
	for len(s.jobs) > 0 && s.jobs[0].mark <= s.v {
		j := heap.Pop(&s.jobs).(shareJob)
		s.requests -= int(j.n)
		if j.tag != NoTag {
			s.finished = append(s.finished, shareDone{owner: j.owner, tag: j.tag})
		}
	}
}

// until is when v reaches mark if nothing else arrives.
func (c *CPU) until(mark float64) sim.Time {
	s := c.share
	t, v, requests := s.at, s.v, s.requests
	var jobs shareJobs
	if len(s.jobs) > 0 && mark > s.jobs[0].mark {
		jobs = append(jobs, s.jobs...) // the completions before mark speed it up
	}
	for {
		for len(jobs) > 0 && jobs[0].mark <= v {
			requests -= int(heap.Pop(&jobs).(shareJob).n)
		}
		if mark <= v || requests == 0 {
			return t
		}
		next := mark
		if len(jobs) > 0 {
			next = min(next, jobs[0].mark)
		}
		capacity, until := c.rateAt(t)
		rate := min(1, capacity/float64(requests))
		if rate > 0 {
			if at := t + sim.Time(math.Ceil((next-v)/rate)); at <= until {
				t, v = at, next
				continue
			}
		} else if until == never {
			panic("model: CPU with no capacity for ever")
		}
		v += rate * float64(until-t)
		t = until
	}
}

// NextDone is when owner should next ask Finished: now, if a job of its is
// done; else the next completion of any job (false: none queued).
func (c *CPU) NextDone(owner int8) (sim.Time, bool) {
	s := c.share
	for _, d := range s.finished {
		if d.owner == owner {
			return s.at, true
		}
	}
	if len(s.jobs) == 0 {
		return 0, false
	}
	return c.until(s.jobs[0].mark), true
}

// Finished advances the CPU to now and appends to tags the tags of owner's
// jobs done by now, in the order they completed.
func (c *CPU) Finished(now sim.Time, owner int8, tags []int32) []int32 {
	c.Sync(now)
	s := c.share
	kept := s.finished[:0]
	for _, d := range s.finished {
		if d.owner == owner {
			tags = append(tags, d.tag)
		} else {
			kept = append(kept, d)
		}
	}
	s.finished = kept
	return tags
}

// backlogShared is the work in the system over the capacity left now.
func (c *CPU) backlogShared(now sim.Time) time.Duration {
	c.Sync(now)
	s := c.share
	var work float64
	for _, j := range s.jobs {
		work += float64(j.n) * (j.mark - s.v)
	}
	capacity, _ := c.rateAt(now)
	if capacity <= 0 {
		capacity = c.cores - c.idle
	}
	return time.Duration(work / capacity)
}
