package clientmodel

import "github.com/leasesim/leasesim/sim"

// Queue is what LazyTimers need of a driver's event queue (sim.Kernel).
type Queue interface {
	Due(r sim.Ref) (sim.Time, bool)
	Move(r sim.Ref, to sim.Time) bool
}

// LazyTimers are a driver's handles (sim.Kernel.ScheduleRef) on the events
// of one Client's movable timers (MovableTimers: the scan and the deadline
// tick), by TimerKind. Most of these timers' wake-ups find that a response
// has moved the clock on, and only re-arm: after each Step the driver
// (Settle) moves such a wake-up, undelivered, to where it would re-arm
// (sim.Kernel.Move keeps every other event's order), and before the next
// Step (CatchUp) tells the Client where its moved timers got to.
//
// It pays where timers are mostly idle: clients that read their channel.
// A client that never reads sends on every scan once its channel is full,
// so its timers rarely idle and the bookkeeping costs more than it saves
// (incident-2018, 3 min: 4.5 s -> 5.6 s of wall time); the cluster wiring
// arms such clients' timers plainly, and then CatchUp and Settle return at
// once.
type LazyTimers [MovableTimers]sim.Ref

// CatchUp tells c where its timers are now due, if they were moved; call it
// before every Step of c.
func (l *LazyTimers) CatchUp(c *Client, q Queue) {
	if *l == (LazyTimers{}) {
		return // no timer of its armed lazily (the driver chose not to)
	}
	for t, r := range l {
		if at, ok := q.Due(r); ok && at != c.Armed(TimerKind(t)) {
			c.Moved(TimerKind(t), at)
		}
	}
}

// Settle moves each of c's idle timers to where it would re-arm, and lets
// the others be delivered; call it after every Step of c, once its outputs
// are scheduled.
func (l *LazyTimers) Settle(c *Client, q Queue) {
	if *l == (LazyTimers{}) {
		return
	}
	for t, r := range l {
		at, _ := c.IdleTimer(TimerKind(t)) // 0 if it would act: it is delivered
		q.Move(r, at)
	}
}

// Armed records r, the event of a newly armed timer t. The event of the
// timer it replaces, if still queued, is delivered as it was armed: stale,
// it does nothing.
func (l *LazyTimers) Armed(t TimerKind, r sim.Ref, q Queue) {
	q.Move(l[t], 0)
	l[t] = r
}
