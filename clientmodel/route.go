package clientmodel

import "github.com/leasesim/leasesim/sim"

// Handler takes a Client's outputs from Route: what a server, a transport and
// a recorder do with them is the caller's; what each output means is here.
type Handler interface {
	// OpenStream: a new LeaseKeepAlive stream gen opens now; requests of
	// older streams will never be answered.
	OpenStream(now sim.Time, gen uint32)
	// Send: a keepalive request goes out on stream gen now.
	Send(now sim.Time, gen uint32)
	// Wake: deliver in to the Client at at (a timer it armed).
	Wake(at sim.Time, in Input)
	// Report: a fact for the recorder (OutDelivered, OutDropped, OutRead,
	// OutClosed with its Reason, OutCloseSeen).
	Report(now sim.Time, o Output)
}

// Route passes the outputs of one Step, in order, to h. Every simulation that
// drives Clients (the idealised server, the cluster, the scripted replay)
// routes through it, so an output kind means the same thing everywhere.
func Route(now sim.Time, out []Output, h Handler) {
	for i := range out {
		o := &out[i]
		switch o.Kind {
		case OutOpenStream:
			h.OpenStream(now, o.Gen)
		case OutSend:
			h.Send(now, o.Gen)
		case OutTimer:
			h.Wake(o.At, Input{Kind: InTimer, Timer: o.Timer, Gen: o.Gen, Lease: o.Lease})
		default:
			h.Report(now, *o)
		}
	}
}

// LeaseHandler takes a Process's outputs from RouteLeases: as Handler, with
// the lease each request is for (Output.Lease, 1-based). Wake's Input and
// Report's Output carry their lease in their Lease field.
type LeaseHandler interface {
	OpenStream(now sim.Time, gen uint32)
	Send(now sim.Time, gen uint32, lease uint32)
	Wake(at sim.Time, in Input)
	Report(now sim.Time, o Output)
}

// RouteLeases is Route for a Process's outputs.
func RouteLeases(now sim.Time, out []Output, h LeaseHandler) {
	for i := range out {
		o := &out[i]
		switch o.Kind {
		case OutOpenStream:
			h.OpenStream(now, o.Gen)
		case OutSend:
			h.Send(now, o.Gen, o.Lease)
		case OutTimer:
			h.Wake(o.At, Input{Kind: InTimer, Timer: o.Timer, Gen: o.Gen, Lease: o.Lease})
		default:
			h.Report(now, *o)
		}
	}
}
