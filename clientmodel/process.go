package clientmodel

import (
	"fmt"

	"github.com/leasesim/leasesim/sim"
)

// Process is one client process's lessor keeping several leases alive at
// once: one KeepAlive call per lease, each with its own channel (lease.go:274),
// all on one stream (resetRecv, lease.go:497-516), one send loop that sends
// every due lease at each 500 ms scan (lease.go:586-619) and one deadlineLoop
// that reaps every lease past its deadline at each 1 s tick (lease.go:562-583).
//
// Each lease is a Client (Client.register, Client.adoptStream), whose clocks,
// channel and consumer are the lease's; the Process owns what they share: the
// stream and its retry wait, and the two loops. A scan's or a tick's decision
// for a lease reads only that lease's nextKeepAlive or deadline
// (lease.go:592-596, 574-579), so the Process arms one scan timer and one
// deadline timer, at the earliest instant at which some lease's would act,
// and at that instant steps the leases due then.
//
// Order. The real scan collects the due leases by walking a Go map, in
// random order, and sends them one after the other at the same instant; the
// deadline loop walks the map too. The Process steps them by lease number
// (KeepAlive order). Only the order of requests within one instant depends
// on it, which a server that answers each request after its own delay does
// not see.
//
// A Process keeps its stream after its last lease is gone, as the real lessor
// does (lease.go:461-493), so a later KeepAlive finds it where the real one
// would: a lease that replaces a closed one is simply the next lease. It is
// not the simulator's hot path: use a Client for a process with one lease at
// a time. It has no IdleTimer/Moved (LazyTimers are the Client's): its
// timers are delivered as armed.
type Process struct {
	cfg    Config
	leases []Client // by lease number - 1

	started     bool // the first KeepAlive came: the loops run
	start       sim.Time
	stream      uint32
	streamOpen  bool
	streamStart sim.Time

	scanEpoch, deadlineEpoch uint32
	scanAt, deadlineAt       sim.Time // the process's pending scan and tick, or -1
}

// NewProcess returns a Process that has not yet called KeepAlive. cfg is
// every lease's (its Regrant is irrelevant: a Process always keeps its stream).
func NewProcess(cfg Config) *Process {
	return &Process{cfg: cfg, scanAt: -1, deadlineAt: -1}
}

// Leases is the number of KeepAlive calls so far.
func (p *Process) Leases() int { return len(p.leases) }

// Lease is the n-th lease (1-based), for its accessors (Active, Buffered,
// Reads, NextKeepAlive, Deadline). Do not Step it.
func (p *Process) Lease(n int) *Client { return &p.leases[n-1] }

// Stream is the current stream generation and whether it is open.
func (p *Process) Stream() (uint32, bool) { return p.stream, p.streamOpen }

// Step applies in at time now and appends the effects to out, each with
// Output.Lease set. Input.Lease names the lease an input is for, as the
// outputs did: InResponse (the lease of the OutSend it answers), InCancel,
// InConsumer, and InTimer (copy Output.Lease into it; 0 is the process's own
// timer). InKeepAlive adds lease Leases()+1; InStreamError is the process's.
func (p *Process) Step(now sim.Time, in Input, out []Output) []Output {
	switch in.Kind {
	case InKeepAlive:
		return p.keepAlive(now, out)
	case InStreamError:
		if in.Gen != p.stream || !p.streamOpen {
			return out
		}
		p.streamOpen = false
		for k := range p.leases { // that stream's send loop returns (lease.go:611)
			p.leases[k].streamOpen = false
			p.leases[k].scanAt = -1
		}
		// recvKeepAliveLoop waits retryConnWait, then resetRecv (lease.go:488-492, 462).
		return append(out, Output{Kind: OutTimer, Timer: TimerReconnect, At: now + sim.Time(RetryConnWait)})
	case InTimer:
		if in.Lease == 0 {
			return p.timer(now, in, out)
		}
	}
	if in.Lease == 0 || int(in.Lease) > len(p.leases) {
		panic(fmt.Sprintf("clientmodel: Process input %d for lease %d of %d", in.Kind, in.Lease, len(p.leases)))
	}
	n := in.Lease
	in.Lease = 0 // the Client's one lease
	mark := len(out)
	out = p.leases[n-1].Step(now, in, out)
	return p.settle(out, mark, n)
}

// keepAlive adds a lease. The first KeepAlive starts the loops and dials
// (lease.go:311-314); a later one joins them: it is sent at the next scan of
// the current stream, or as a new stream opens (lease.go:586-597).
func (p *Process) keepAlive(now sim.Time, out []Output) []Output {
	cfg := p.cfg
	cfg.Regrant = false
	p.leases = append(p.leases, *New(cfg))
	n := uint32(len(p.leases))
	c := &p.leases[n-1]
	mark := len(out)
	if !p.started {
		p.started, p.start = true, now
		out = p.settle(c.register(now, now, out), mark, n)
		if p.cfg.ConnectDelay > 0 {
			return append(out, Output{Kind: OutTimer, Timer: TimerConnect, At: now + sim.Time(p.cfg.ConnectDelay)})
		}
		return p.openStream(now, out)
	}
	out = c.register(now, p.start, out)
	c.stream, c.streamOpen, c.streamStart = p.stream, p.streamOpen, p.streamStart
	if c.streamOpen {
		out = c.armScan(now, out)
	}
	return p.settle(out, mark, n)
}

// openStream is resetRecv: a new stream whose send loop scans at once.
func (p *Process) openStream(now sim.Time, out []Output) []Output {
	p.stream++
	p.streamOpen, p.streamStart = true, now
	out = append(out, Output{Kind: OutOpenStream, Gen: p.stream})
	for k := range p.leases {
		mark := len(out)
		out = p.leases[k].adoptStream(now, p.stream, out)
		out = p.settle(out, mark, uint32(k+1))
	}
	return out
}

func (p *Process) timer(now sim.Time, in Input, out []Output) []Output {
	switch in.Timer {
	case TimerConnect, TimerReconnect:
		if p.streamOpen {
			return out
		}
		return p.openStream(now, out)
	case TimerScan, TimerDeadline:
		epoch, at := &p.scanEpoch, &p.scanAt
		if in.Timer == TimerDeadline {
			epoch, at = &p.deadlineEpoch, &p.deadlineAt
		}
		if in.Gen != *epoch {
			return out
		}
		*at = -1
		for k := range p.leases {
			c := &p.leases[k]
			if c.Armed(in.Timer) != now {
				continue
			}
			gen := c.scanEpoch
			if in.Timer == TimerDeadline {
				gen = c.deadlineEpoch
			}
			mark := len(out)
			out = c.timer(now, in.Timer, gen, out)
			out = p.settle(out, mark, uint32(k+1))
		}
		return p.arm(out)
	}
	panic(fmt.Sprintf("clientmodel: Process timer %d has no lease", in.Timer))
}

// settle tags lease n's outputs out[mark:] and takes its scan and deadline
// timers out of them: the Process arms one of each for all its leases.
func (p *Process) settle(out []Output, mark int, n uint32) []Output {
	j := mark
	for i := mark; i < len(out); i++ {
		o := out[i]
		if o.Kind == OutTimer && o.Timer < MovableTimers {
			continue
		}
		o.Lease = n
		out[j] = o
		j++
	}
	return p.arm(out[:j])
}

// arm arms the process's scan and deadline timers at their leases' earliest.
func (p *Process) arm(out []Output) []Output {
	scan, deadline := sim.Time(-1), sim.Time(-1)
	for k := range p.leases {
		c := &p.leases[k]
		if c.scanAt >= 0 && (scan < 0 || c.scanAt < scan) {
			scan = c.scanAt
		}
		if c.deadlineAt >= 0 && (deadline < 0 || c.deadlineAt < deadline) {
			deadline = c.deadlineAt
		}
	}
	if scan >= 0 && scan != p.scanAt {
		p.scanEpoch++
		p.scanAt = scan
		out = append(out, Output{Kind: OutTimer, Timer: TimerScan, Gen: p.scanEpoch, At: scan})
	}
	if deadline >= 0 && deadline != p.deadlineAt {
		p.deadlineEpoch++
		p.deadlineAt = deadline
		out = append(out, Output{Kind: OutTimer, Timer: TimerDeadline, Gen: p.deadlineEpoch, At: deadline})
	}
	return out
}
