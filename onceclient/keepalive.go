package onceclient

import (
	"github.com/leasesim/leasesim/clientmodel"
	"github.com/leasesim/leasesim/sim"
)

// TimerWake is the clientmodel timer kind a Client's wake-ups travel as:
// not one of clientmodel.MovableTimers, so a driver schedules it as it is.
const TimerWake = clientmodel.TimerConnect

// StepKeepAlive is Step in clientmodel's vocabulary, so that a driver of
// clientmodel.Clients drives a Client unchanged and routes its outputs with
// clientmodel.Route: InKeepAlive starts it (the lease is granted),
// InTimer wakes it, InResponse and InStreamError answer its call. A call is
// OutOpenStream and OutSend on one new stream; a wake-up is an OutTimer
// (TimerWake); ErrLeaseNotFound is OutClosed with ClosedRevoked, KeepAlive's
// own reason for an answer with TTL <= 0 (client/v3@v3.7.3
// lease.go:534-539). The cancel of a call's stream has no counterpart: a
// member holds nothing for an idle stream, and the next call's replaces it.
func (c *Client) StepKeepAlive(now sim.Time, in clientmodel.Input, out []clientmodel.Output) []clientmodel.Output {
	var k InputKind
	switch in.Kind {
	case clientmodel.InKeepAlive:
		k = InStart
	case clientmodel.InTimer:
		k = InWake
	case clientmodel.InResponse:
		k = InResponse
	case clientmodel.InStreamError:
		k = InStreamError
	default:
		return out // cancel and consumer switches: not modelled for this loop
	}
	var buf [3]Output
	for _, o := range c.Step(now, Input{Kind: k, Gen: in.Gen, TTL: in.TTL}, buf[:0]) {
		switch o.Kind {
		case OutCall:
			out = append(out, clientmodel.Output{Kind: clientmodel.OutOpenStream, Gen: o.Gen}, clientmodel.Output{Kind: clientmodel.OutSend, Gen: o.Gen})
		case OutWake:
			out = append(out, clientmodel.Output{Kind: clientmodel.OutTimer, Timer: TimerWake, Gen: o.Gen, At: o.At})
		case OutLost:
			out = append(out, clientmodel.Output{Kind: clientmodel.OutClosed, Reason: clientmodel.ClosedRevoked})
		}
	}
	return out
}
