// Package clientmodel is the etcd client lessor (clientv3's lease keepalive
// machinery) as an IO-free state machine, one per client process, for each
// library behaviour (see Version).
//
// A Client holds one lease at a time kept alive with KeepAlive, as the 2018
// incident's agents did; with Config.Regrant the application may call
// KeepAlive again, for a new lease, once the channel has closed (an agent that
// re-grants when its key vanishes), on the same lessor, loops and stream. A
// Process (process.go) keeps several leases alive at once on one lessor; the
// Client stays the one-lease type the simulator's hot loop walks. Both are
// driven like go.etcd.io/raft: the caller passes an Input and the current
// virtual time to Step and gets Outputs back — requests to send, timers to
// arm, facts to record. The Client never reads a clock, never draws a
// random number and never blocks, so a table of inputs fully determines it.
//
// Terms, after the real lessor (go.etcd.io/etcd/client/v3 v3.7.3 lease.go):
//   - nextKeepAlive: when the lease is next due; a scan sends it if
//     nextKeepAlive is strictly before the scan's time (lease.go:593).
//   - deadline: when the keepalive gives up if no response came; the deadline loop
//     closes it if deadline is strictly before its tick (lease.go:575).
//   - scan: one pass of sendKeepAliveLoop, every 500 ms on the current stream,
//     the first one as soon as the stream opens (lease.go:586-619).
//   - the channel: the 16-slot buffered channel KeepAlive returns (lease.go:92, 274);
//     each KeepAlive call makes a new one.
//   - grant: one KeepAlive call and its lease; Client.Grants counts them, and
//     Input.Lease says which one a response answers (a response for an earlier
//     lease finds no keepalive for its ID, lease.go:529-532).
//   - lease number: a Process's leases, 1-based in KeepAlive order; its
//     outputs carry it (Output.Lease) and its inputs name it (Input.Lease).
//     Where the real lessor walks its leases in Go map order (the scan,
//     lease.go:592; the deadline loop, 574), a Process walks them by number.
//   - stream: the LeaseKeepAlive gRPC stream; after it fails, the lessor waits
//     retryConnWait (500 ms) and opens a new one (lease.go:86, 488-492).
package clientmodel

import (
	"fmt"
	"strings"
	"time"

	"github.com/leasesim/leasesim/sim"
)

// Constants of the real lessor. go.etcd.io/etcd/client/v3 v3.7.3 lease.go, and
// the same values in coreos/etcd v3.3.8 clientv3/lease.go.
const (
	// ScanInterval: sendKeepAliveLoop sleeps this long between scans
	// (v3.7.3 lease.go:610 `time.After(retryConnWait)`; v3.3.8 lease.go:568 500ms).
	ScanInterval = 500 * time.Millisecond
	// RetryConnWait: recvKeepAliveLoop waits this long after a stream error before
	// opening a new stream (v3.7.3 lease.go:86, 488-492).
	RetryConnWait = 500 * time.Millisecond
	// DeadlineInterval: deadlineLoop's period (v3.7.3 lease.go:563-566).
	DeadlineInterval = time.Second
	// DefaultFirstKeepAliveTimeout: the deadline of a lease that has had no
	// response yet is KeepAlive time + firstKeepAliveTimeout, which is
	// DialTimeout+1s, replaced by defaultTTL = 5 s when DialTimeout is 0
	// (v3.7.3 lease.go:81, 193, 203-205, 296).
	DefaultFirstKeepAliveTimeout = 5 * time.Second
	// ChannelCapacity: LeaseResponseChSize (v3.7.3 lease.go:92; v3.3.8
	// leaseResponseChSize, lease.go:81).
	ChannelCapacity = 16
)

// ConsumerKind is how the application reads the channel.
type ConsumerKind uint8

const (
	Drain     ConsumerKind = iota // reads every response as soon as it is delivered
	Never                         // never reads (the 2018 agents)
	Rate                          // at start+Phase+k*Period, k>=1, takes one buffered response if any
	StopAfter                     // reads like Drain until it has read K responses, then stops
	Stall                         // reads like Drain except in [From, To); at To it drains the buffer
	// Pace is the usual application loop: it blocks in a receive, handles the
	// response, then sleeps Period (for r := range ch { ...; time.Sleep(p) }).
	// Unlike Rate, whose reads fall on a fixed grid, its sleeps start at its
	// reads.
	Pace
)

var consumerNames = [...]string{"drain", "never", "rate", "stop-after", "stall", "pace"}

func (k ConsumerKind) String() string { return consumerNames[k] }

// ParseConsumerKind maps a name to its kind.
func ParseConsumerKind(s string) (ConsumerKind, error) {
	for i, n := range consumerNames {
		if n == s {
			return ConsumerKind(i), nil
		}
	}
	return 0, fmt.Errorf("consumer %q is unknown; allowed: %s", s, strings.Join(consumerNames[:], ", "))
}

// Consumer is the application's reading behaviour.
type Consumer struct {
	Kind     ConsumerKind
	Period   time.Duration // Rate, Pace
	Phase    time.Duration // Rate
	K        int           // StopAfter
	From, To sim.Time      // Stall, absolute
}

// Config is what a Client needs besides its inputs.
type Config struct {
	Rule Rule
	// Tie is who wins when a response lands on a scan (TieOrder; the
	// version's Version.Tie).
	Tie TieOrder
	// Regrant: the application may call KeepAlive again, for a new lease,
	// once its channel has closed (an agent that re-grants when its key
	// vanishes). The real lessor keeps its loops and its stream after its
	// last lease is gone: recvKeepAliveLoop reopens a failed stream whether
	// or not it has leases (v3.7.3 lease.go:461-493), and a later KeepAlive
	// finds the loops running (lease.go:311-314, firstKeepAliveOnce). With
	// Regrant the Client simulates that stream while it holds no lease, so a
	// later lease sees the stream and scan grid the real one would. Without
	// it the Client stops at its close, which nothing about that lease can
	// tell apart, and a second KeepAlive panics.
	Regrant  bool
	Consumer Consumer
	// ConnectDelay is the time from the first KeepAlive to its stream being open
	// and its send loop's first scan: the lazy dial of the connection, or a
	// stream open on a connection that is up. On a real clock it is never 0, so
	// the first scan finds nextKeepAlive (the KeepAlive instant) strictly in the
	// past and sends at once; with 0 (a frozen synctest clock) the first request
	// waits for the scan 500 ms later.
	ConnectDelay time.Duration
	// ScanOverrun: how late each 500 ms scan of sendKeepAliveLoop comes after
	// the previous one. The real loop arms time.After(500 ms) only after the
	// scan's work (lease.go:586-611), and the timer fires with the runtime's
	// latency, so on a real machine scans drift by a fraction of a millisecond
	// each (measured by leasesim calibrate: ~0.6 ms on a 2-vCPU VM, which makes
	// TTL 30 s leases answered within 12 ms renew every 10.012 s, not 10.5 s).
	// 0 is the exact grid of a synctest bubble, which the differential tests
	// compare against.
	ScanOverrun time.Duration
	// RenewNum/RenewDen, if set, replace the real lessor's TTL/3 with
	// TTL*RenewNum/RenewDen: a what-if ("renew at 2/3 of the TTL", the 2018
	// reporter's idea), not any released client. 0/0 means 1/3.
	RenewNum, RenewDen    int64
	FirstKeepAliveTimeout time.Duration // 0 means DefaultFirstKeepAliveTimeout
	ChannelCapacity       int           // 0 means ChannelCapacity
}

// InputKind names what happened to a Client.
type InputKind uint8

const (
	// InKeepAlive: the application calls KeepAlive. A second call is legal
	// only with Config.Regrant and once the previous lease's channel has
	// closed: it keeps alive a new lease (Client.Grants counts them).
	InKeepAlive   InputKind = iota
	InTimer                 // a timer the Client armed fires
	InResponse              // a keepalive response arrives on stream Gen
	InStreamError           // stream Gen failed (Recv returned an error)
	InCancel                // the application cancels KeepAlive's context
	InConsumer              // the application switches to reading like Input.Consumer (Drain or Never)
)

// TimerKind names a Client's timers.
type TimerKind uint8

const (
	TimerScan      TimerKind = iota // sendKeepAliveLoop wakes (Gen = scan epoch)
	TimerDeadline                   // deadlineLoop wakes (Gen = deadline epoch)
	TimerReconnect                  // recvKeepAliveLoop's retry wait ends
	TimerConsumer                   // Rate: the consumer's next tick
	TimerStallFrom                  // Stall: the consumer stops reading
	TimerStallTo                    // Stall: the consumer resumes
	TimerConnect                    // the first stream opens (Config.ConnectDelay)
)

// Input is one thing that happened to a Client.
type Input struct {
	Kind  InputKind
	Timer TimerKind // InTimer
	Gen   uint32    // InTimer: as armed; InResponse, InStreamError: the stream
	TTL   int64     // InResponse: TTL in seconds; <= 0 means the lease is gone
	// Consumer: InConsumer's new behaviour, Drain (resume reading: the buffer
	// is emptied at once) or Never (stop reading).
	Consumer ConsumerKind
	// Lease: InResponse, InCancel: which lease the answered request or the
	// cancelled KeepAlive was for, as Client.Grants numbered it (1 for the
	// first KeepAlive). A response for an earlier lease is ignored, as the
	// real lessor finds no keepalive for its ID (lease.go:529-532), and so is
	// a cancel (lease.go:354-357). 0 means the current lease: a driver that
	// never calls KeepAlive twice can leave it unset.
	Lease uint32
}

// OutputKind names what a Client asks for or reports.
type OutputKind uint8

const (
	OutOpenStream OutputKind = iota // a new LeaseKeepAlive stream Gen opens now
	OutSend                         // send a keepalive request on stream Gen now
	OutTimer                        // wake me with Input{Kind: InTimer, Timer, Gen} at At
	OutDelivered                    // the response went into the channel
	OutDropped                      // the channel was full: the response was dropped
	OutRead                         // the application took a response off the channel
	OutClosed                       // the lessor closed the channel (Reason)
	OutCloseSeen                    // the application saw the channel closed
)

var outputNames = [...]string{"open-stream", "request", "timer", "delivered", "dropped", "read", "closed", "close-seen"}

func (k OutputKind) String() string { return outputNames[k] }

// CloseReason says why the lessor closed a keepalive channel.
type CloseReason uint8

const (
	ClosedNone      CloseReason = iota
	ClosedDeadline              // no response before the deadline (lease.go:575-579)
	ClosedRevoked               // a response with TTL <= 0 (lease.go:534-539)
	ClosedCancelled             // the application cancelled KeepAlive's context (lease.go:342-371)
)

func (r CloseReason) String() string {
	return [...]string{"", "deadline", "revoked", "cancelled"}[r]
}

// Output is one effect of a Step.
type Output struct {
	Kind   OutputKind
	Timer  TimerKind
	Gen    uint32
	At     sim.Time // OutTimer
	Reason CloseReason
	// Lease: a Process's outputs: which of its leases (1-based, in KeepAlive
	// order) the output is about; 0 for the process's own (the stream and
	// its timers). Always 0 from a Client.
	Lease uint32
}

// Client is one client process's lessor with one lease at a time.
type Client struct {
	// cfg is shared by the clients NewLike made alike, and copied before
	// it changes (InConsumer): a cluster of 20,000 clients walks their
	// states at random, and a copy each would make every state a cache
	// line bigger.
	cfg *Config

	grants   uint32 // KeepAlive calls so far: the current lease is the grants-th
	active   bool   // the current lease's keepalive exists (not yet closed)
	nextKA   sim.Time
	deadline sim.Time
	buffered int // responses in the current channel
	reads    int // responses the application took, from all its channels
	// start: the first KeepAlive, when deadlineLoop started (lease.go:311-314);
	// its ticks stay on this grid for every later lease.
	start sim.Time

	stream      uint32 // current stream; 0 before the first
	streamOpen  bool
	streamStart sim.Time // the current stream's scans run at streamStart + k*ScanInterval

	// Idle wake-ups are not simulated: each loop's timer is armed at the first
	// instant of its grid at which it could act, and re-armed from there. This is
	// exact as long as the one armed instant is never later than the next one at
	// which the loop would act; a change that moves that instant earlier bumps the
	// loop's epoch, so the stale timer is ignored and an earlier one armed.
	scanEpoch     uint32
	scanAt        sim.Time // pending scan, or -1
	deadlineEpoch uint32
	deadlineAt    sim.Time // pending deadline tick, or -1
	consumerAt    sim.Time // Rate: the pending tick; Pace: the end of its sleep; or -1

	// A response and a scan at the same instant (TieOrder): respAt is the
	// instant of the last response that moved nextKA, or -1, and
	// dueBeforeResp whether the nextKA it found was already due then, which
	// is what a ScanFirst scan of that instant reads whichever of the two
	// inputs came first. (A bool, not the old nextKA: the client array is
	// the hot loop's, and a scan only compares nextKA with its own instant.)
	respAt sim.Time

	closed    bool // the channel is closed
	closeSeen bool
	stalled   bool // Stall consumer inside [From, To)

	dueBeforeResp bool
}

// New returns a Client that has not yet called KeepAlive.
func New(cfg Config) *Client { return NewLike(cfg, nil) }

// NewLike is New, with the configuration of like (nil: none) shared
// rather than copied if it is the same as cfg.
func NewLike(cfg Config, like *Client) *Client {
	if cfg.FirstKeepAliveTimeout == 0 {
		cfg.FirstKeepAliveTimeout = DefaultFirstKeepAliveTimeout
	}
	if cfg.ChannelCapacity == 0 {
		cfg.ChannelCapacity = ChannelCapacity
	}
	shared := &cfg
	if like != nil && *like.cfg == cfg {
		shared = like.cfg
	}
	return &Client{cfg: shared, scanAt: -1, deadlineAt: -1, consumerAt: -1, respAt: -1}
}

// nextOnGrid is the first instant anchor + k*period (k >= 1) strictly after x.
func nextOnGrid(anchor sim.Time, period time.Duration, x sim.Time) sim.Time {
	p := sim.Time(period)
	if x < anchor {
		return anchor + p
	}
	return anchor + ((x-anchor)/p+1)*p
}

// Active reports whether the keepalive still exists.
func (c *Client) Active() bool { return c.active }

// CheckInvariants checks the client's bookkeeping: its channel holds 0 to
// ChannelCapacity responses.
func (c *Client) CheckInvariants() error {
	if c.buffered < 0 || c.buffered > ChannelCapacity {
		return fmt.Errorf("%d responses in its channel", c.buffered)
	}
	return nil
}

// Buffered is the number of responses waiting in the channel.
func (c *Client) Buffered() int { return c.buffered }

// Reads is the number of responses the application took, from all the
// channels of its leases.
func (c *Client) Reads() int { return c.reads }

// NextKeepAlive and Deadline expose the lessor's two clocks (for tests and traces).
func (c *Client) NextKeepAlive() sim.Time { return c.nextKA }
func (c *Client) Deadline() sim.Time      { return c.deadline }

// Grants is the number of KeepAlive calls so far; the current lease is the
// Grants-th (see Input.Lease).
func (c *Client) Grants() uint32 { return c.grants }

// Stream is the current stream generation and whether it is open.
func (c *Client) Stream() (uint32, bool) { return c.stream, c.streamOpen }

// Step applies in at time now and appends the effects to out.
func (c *Client) Step(now sim.Time, in Input, out []Output) []Output {
	switch in.Kind {
	case InKeepAlive:
		return c.keepAlive(now, out)
	case InResponse:
		if in.Lease != 0 && in.Lease != c.grants {
			return out // an earlier lease's: no keepalive for its ID any more (lease.go:529-532)
		}
		return c.response(now, in.Gen, in.TTL, out)
	case InStreamError:
		if in.Gen != c.stream || !c.streamOpen {
			return out
		}
		c.streamOpen = false
		if c.done() {
			return out
		}
		// recvKeepAliveLoop waits retryConnWait, then resetRecv (lease.go:488-492, 462).
		return append(out, Output{Kind: OutTimer, Timer: TimerReconnect, At: now + sim.Time(RetryConnWait)})
	case InTimer:
		return c.timer(now, in.Timer, in.Gen, out)
	case InCancel:
		// keepAliveCtxCloser closes the channel and, with no other listener,
		// drops the keepalive: no more requests for the lease (lease.go:342-371).
		if !c.active || (in.Lease != 0 && in.Lease != c.grants) {
			return out // that lease is gone already
		}
		return c.close(now, ClosedCancelled, out)
	case InConsumer:
		if in.Consumer != Drain && in.Consumer != Never {
			panic("clientmodel: InConsumer switches only between drain and never")
		}
		cfg := *c.cfg // it may be shared
		cfg.Consumer = Consumer{Kind: in.Consumer}
		c.cfg = &cfg
		c.stalled = false
		if in.Consumer == Drain {
			out = c.drain(out)
		}
		return out
	}
	panic(fmt.Sprintf("clientmodel: unknown input kind %d", in.Kind))
}

// keepAlive registers the lease (lease.go:292-300: nextKeepAlive = now,
// deadline = now + firstKeepAliveTimeout) and starts recvKeepAliveLoop and
// deadlineLoop (lease.go:311-314); the former opens a stream at once.
func (c *Client) keepAlive(now sim.Time, out []Output) []Output {
	if c.grants > 0 {
		return c.regrant(now, out)
	}
	out = c.register(now, now, out)
	if c.cfg.ConnectDelay > 0 {
		return append(out, Output{Kind: OutTimer, Timer: TimerConnect, At: now + sim.Time(c.cfg.ConnectDelay)})
	}
	return c.openStream(now, out)
}

// register makes the lease (lease.go:292-300), on a lessor whose
// deadlineLoop ticks on start + k s, and arms its deadline and its
// consumer's stall edges.
func (c *Client) register(now, start sim.Time, out []Output) []Output {
	c.grants, c.active = 1, true
	c.start = start
	c.nextKA = now
	c.deadline = now + sim.Time(c.cfg.FirstKeepAliveTimeout)
	out = c.armDeadline(now, out)
	switch c.cfg.Consumer.Kind {
	case Stall:
		from, to := c.cfg.Consumer.From, c.cfg.Consumer.To
		c.stalled = from <= now && now < to
		if from > now {
			out = append(out, Output{Kind: OutTimer, Timer: TimerStallFrom, At: from})
		}
		if to > now {
			out = append(out, Output{Kind: OutTimer, Timer: TimerStallTo, At: to})
		}
	}
	return out
}

// done: the Client has nothing left to simulate: its lease is gone and the
// application will not call KeepAlive again (Config.Regrant).
func (c *Client) done() bool { return !c.active && !c.cfg.Regrant }

// regrant is a later KeepAlive, for a new lease, on a lessor whose loops
// already run (lease.go:311-314 starts them once). The new keepAlive gets
// nextKeepAlive = now and deadline = now + firstKeepAliveTimeout
// (lease.go:292-300) and a new channel (lease.go:274); the send loop sends it
// at its next scan of the current stream's grid (a scan only sends what is
// due, lease.go:592-596), or at once when the stream in its retry wait opens
// again (lease.go:586-597). deadlineLoop keeps the ticks of the first
// KeepAlive (lease.go:562-583).
func (c *Client) regrant(now sim.Time, out []Output) []Output {
	if c.active {
		panic("clientmodel: KeepAlive while a lease is still kept alive: a Client keeps one lease at a time (several: Process)")
	}
	if !c.cfg.Regrant {
		panic("clientmodel: KeepAlive after the channel closed needs Config.Regrant")
	}
	c.grants++
	c.active = true
	c.nextKA = now
	c.deadline = now + sim.Time(c.cfg.FirstKeepAliveTimeout)
	c.respAt = -1
	// A new channel. Whatever the old one still held is the old consumer's;
	// the application reads the new one from now on.
	c.buffered = 0
	c.closed, c.closeSeen = false, false
	if c.cfg.Consumer.Kind == Stall { // the stall edges are absolute: their timers are armed already
		c.stalled = c.cfg.Consumer.From <= now && now < c.cfg.Consumer.To
	}
	out = c.armDeadline(now, out)
	if c.streamOpen {
		out = c.armScan(now, out)
	}
	return out
}

// armDeadline arms deadlineLoop at its first tick (KeepAlive time + k s) at
// which the deadline would be strictly before the tick, unless that tick is
// already armed.
func (c *Client) armDeadline(now sim.Time, out []Output) []Output {
	at := nextOnGrid(c.start, DeadlineInterval, max(now, c.deadline))
	if at == c.deadlineAt {
		return out
	}
	c.deadlineEpoch++
	c.deadlineAt = at
	return append(out, Output{Kind: OutTimer, Timer: TimerDeadline, Gen: c.deadlineEpoch, At: at})
}

// scanPeriod is the time between two scans of the send loop.
func (c *Client) scanPeriod() time.Duration { return ScanInterval + c.cfg.ScanOverrun }

// armScan arms the current stream's send loop at its first scan at which the
// lease would be due (nextKeepAlive strictly before the scan).
func (c *Client) armScan(now sim.Time, out []Output) []Output {
	at := nextOnGrid(c.streamStart, c.scanPeriod(), max(now, c.nextKA))
	if at == c.scanAt {
		return out
	}
	c.scanEpoch++
	c.scanAt = at
	return append(out, Output{Kind: OutTimer, Timer: TimerScan, Gen: c.scanEpoch, At: at})
}

// armConsumer arms a Rate consumer's next tick if it has something to see.
func (c *Client) armConsumer(now sim.Time, out []Output) []Output {
	if c.consumerAt >= 0 || (c.buffered == 0 && !(c.closed && !c.closeSeen)) {
		return out
	}
	c.consumerAt = nextOnGrid(c.start+sim.Time(c.cfg.Consumer.Phase), c.cfg.Consumer.Period, now)
	return append(out, Output{Kind: OutTimer, Timer: TimerConsumer, At: c.consumerAt})
}

// openStream is resetRecv: a new stream, and a sendKeepAliveLoop whose first
// scan runs at once (lease.go:497-516, 586-597).
func (c *Client) openStream(now sim.Time, out []Output) []Output {
	c.stream++
	out = append(out, Output{Kind: OutOpenStream, Gen: c.stream})
	return c.adoptStream(now, c.stream, out)
}

// adoptStream: stream gen opened now, and its send loop scans at once.
func (c *Client) adoptStream(now sim.Time, gen uint32, out []Output) []Output {
	c.stream = gen
	c.streamOpen = true
	c.streamStart = now
	c.scanAt = -1
	return c.scan(now, out)
}

// scan is one pass of sendKeepAliveLoop on the current stream.
func (c *Client) scan(now sim.Time, out []Output) []Output {
	if !c.active {
		return out // the loop keeps waking, but has nothing to send: stop simulating it
	}
	if c.dueAtScan(now) { // ka.nextKeepAlive.Before(now), lease.go:593
		out = append(out, Output{Kind: OutSend, Gen: c.stream})
	}
	return c.armScan(now, out)
}

// dueAtScan is whether the nextKeepAlive a scan at now reads is before now.
// If a response landed at this same instant, the two goroutines raced for
// the lock; with ScanFirst the scan read the value the response then
// replaced, even if the simulation delivered the response first.
// (ScanFirst is the only TieOrder.)
func (c *Client) dueAtScan(now sim.Time) bool {
	if c.respAt == now && c.cfg.Tie == ScanFirst {
		return c.dueBeforeResp
	}
	return c.nextKA < now
}

// MovableTimers: the timers IdleTimer knows, TimerScan and TimerDeadline
// (TimerKind < MovableTimers). Both loops wake on a fixed grid and most of
// their armed wake-ups find that a response has moved their clock on, so
// they only re-arm.
const MovableTimers = 2

// IdleTimer reports whether the armed timer t (TimerScan or TimerDeadline),
// were it to fire with the client as it is now, would do nothing but re-arm
// (a scan finds the lease not due; a deadline tick finds the deadline not
// passed), and the instant it would re-arm at. A driver that knows this can
// skip delivering that wake-up (sim.Kernel.Move) and tell the client with
// Moved. Any input before the timer fires can change the answer, so the
// driver asks again after every Step.
func (c *Client) IdleTimer(t TimerKind) (sim.Time, bool) {
	if !c.active {
		return 0, false
	}
	switch t {
	case TimerScan:
		if c.scanAt >= 0 && c.streamOpen && !c.dueAtScan(c.scanAt) {
			return nextOnGrid(c.streamStart, c.scanPeriod(), max(c.scanAt, c.nextKA)), true
		}
	case TimerDeadline:
		if c.deadlineAt >= 0 && !(c.deadline < c.deadlineAt) {
			return nextOnGrid(c.start, DeadlineInterval, max(c.deadlineAt, c.deadline)), true
		}
	}
	return 0, false
}

// Armed is the instant timer t (TimerScan or TimerDeadline) is armed at, or -1.
func (c *Client) Armed(t TimerKind) sim.Time {
	if t == TimerScan {
		return c.scanAt
	}
	return c.deadlineAt
}

// Moved: the armed timer t fired when IdleTimer said it would only re-arm,
// and was moved, undelivered, to at (what IdleTimer returned). The client
// is as that wake-up would have left it: the timer armed at at. (It keeps
// its epoch: the moved wake-up is still the armed one.)
func (c *Client) Moved(t TimerKind, at sim.Time) {
	if t == TimerScan {
		c.scanAt = at
	} else {
		c.deadlineAt = at
	}
}

func (c *Client) timer(now sim.Time, t TimerKind, gen uint32, out []Output) []Output {
	switch t {
	case TimerScan:
		if gen != c.scanEpoch || !c.streamOpen {
			return out // stale, or that stream's send loop has returned (lease.go:611)
		}
		c.scanAt = -1
		return c.scan(now, out)
	case TimerDeadline:
		if gen != c.deadlineEpoch {
			return out
		}
		c.deadlineAt = -1
		if !c.active {
			return out // the loop keeps ticking with nothing to reap: stop simulating it
		}
		if c.deadline < now { // ka.deadline.Before(now), lease.go:575
			return c.close(now, ClosedDeadline, out)
		}
		return c.armDeadline(now, out)
	case TimerReconnect, TimerConnect:
		if c.done() || c.streamOpen {
			return out
		}
		return c.openStream(now, out)
	case TimerConsumer:
		c.consumerAt = -1
		if c.cfg.Consumer.Kind == Pace {
			return c.paceWakes(now, out)
		}
		if c.cfg.Consumer.Kind != Rate {
			return out // switched away from Rate (InConsumer)
		}
		if c.buffered > 0 {
			c.buffered--
			c.reads++
			out = append(out, Output{Kind: OutRead})
		} else if c.closed && !c.closeSeen {
			c.closeSeen = true
			return append(out, Output{Kind: OutCloseSeen})
		}
		return c.armConsumer(now, out)
	case TimerStallFrom:
		c.stalled = true
		return out
	case TimerStallTo:
		c.stalled = false
		return c.drain(out)
	}
	panic(fmt.Sprintf("clientmodel: unknown timer kind %d", t))
}

// drain: the application, reading again, takes every buffered response and
// then sees the channel closed if it is.
func (c *Client) drain(out []Output) []Output {
	for c.buffered > 0 {
		c.buffered--
		c.reads++
		out = append(out, Output{Kind: OutRead})
	}
	if c.closed && !c.closeSeen {
		c.closeSeen = true
		out = append(out, Output{Kind: OutCloseSeen})
	}
	return out
}

// readsNow reports whether the application is blocked in a receive right now,
// so that a delivered response is taken at once.
func (c *Client) readsNow() bool {
	switch c.cfg.Consumer.Kind {
	case Drain:
		return true
	case StopAfter:
		return c.reads < c.cfg.Consumer.K
	case Stall:
		return !c.stalled
	case Pace:
		return c.consumerAt < 0 // blocked in the receive, not asleep
	}
	return false
}

// paceSleep: a Pace consumer has just read; it sleeps Period.
func (c *Client) paceSleep(now sim.Time, out []Output) []Output {
	c.consumerAt = now + sim.Time(c.cfg.Consumer.Period)
	return append(out, Output{Kind: OutTimer, Timer: TimerConsumer, At: c.consumerAt})
}

// paceWakes: a Pace consumer's sleep ended; it receives again: a buffered
// response at once (then sleeps again), the close if the channel is closed
// and empty, else it blocks until the next delivery.
func (c *Client) paceWakes(now sim.Time, out []Output) []Output {
	switch {
	case c.buffered > 0:
		c.buffered--
		c.reads++
		out = append(out, Output{Kind: OutRead})
		return c.paceSleep(now, out)
	case c.closed && !c.closeSeen:
		c.closeSeen = true
		return append(out, Output{Kind: OutCloseSeen})
	}
	return out
}

// response is recvKeepAlive (lease.go:519-558).
func (c *Client) response(now sim.Time, gen uint32, ttl int64, out []Output) []Output {
	if gen != c.stream || !c.streamOpen || !c.active {
		return out // no keepalive for that ID any more (lease.go:529-532)
	}
	if ttl <= 0 {
		return c.close(now, ClosedRevoked, out) // lease.go:534-539
	}
	// (time.Duration(TTL) * time.Second) / 3.0 is integer nanosecond division.
	next := now + sim.Time(time.Duration(ttl)*time.Second/3)
	if c.cfg.RenewDen > 0 {
		next = now + sim.Time(time.Duration(ttl)*time.Second*time.Duration(c.cfg.RenewNum)/time.Duration(c.cfg.RenewDen))
	}
	c.deadline = now + sim.Time(time.Duration(ttl)*time.Second)
	delivered := c.buffered < c.cfg.ChannelCapacity
	if delivered {
		out = append(out, Output{Kind: OutDelivered})
		if c.readsNow() {
			c.reads++
			out = append(out, Output{Kind: OutRead})
			if c.cfg.Consumer.Kind == Pace {
				out = c.paceSleep(now, out)
			}
		} else {
			c.buffered++
			if c.cfg.Consumer.Kind == Rate {
				out = c.armConsumer(now, out)
			}
		}
	} else {
		out = append(out, Output{Kind: OutDropped})
	}
	if delivered || c.cfg.Rule == AdvanceAlways {
		if c.respAt != now { // the first response of this instant: remember what a tied scan reads
			c.respAt, c.dueBeforeResp = now, c.nextKA < now
		}
		c.nextKA = next
	}
	// Both clocks only matter at their next grid instant; re-arm if that moved
	// earlier (a shorter TTL than before). Later moves are handled when the armed
	// timer fires and finds nothing to do.
	if c.scanAt >= 0 && nextOnGrid(c.streamStart, c.scanPeriod(), max(now, c.nextKA)) < c.scanAt {
		out = c.armScan(now, out)
	}
	if c.deadlineAt >= 0 && nextOnGrid(c.start, DeadlineInterval, max(now, c.deadline)) < c.deadlineAt {
		out = c.armDeadline(now, out)
	}
	return out
}

// close is ka.close(): the channel closes (lease.go:621-626). A consumer blocked
// in a receive sees it at once; a stalled one when it resumes; a rate consumer
// at its next tick with an empty buffer.
func (c *Client) close(now sim.Time, why CloseReason, out []Output) []Output {
	c.active = false
	c.closed = true
	out = append(out, Output{Kind: OutClosed, Reason: why})
	if c.readsNow() && c.buffered == 0 {
		c.closeSeen = true
		out = append(out, Output{Kind: OutCloseSeen})
	}
	if c.cfg.Consumer.Kind == Rate {
		out = c.armConsumer(now, out)
	}
	return out
}
