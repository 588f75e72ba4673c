// Package onceclient is an application that keeps its lease alive with
// KeepAliveOnce, not KeepAlive (clients.kind keepalive-once): a loop that
// calls KeepAliveOnce, waits for the answer, sleeps a period (TTL/3 unless
// set), and calls again.
//
// Terms. A call is one KeepAliveOnce. In clientv3 v3.7.3 (client/v3@v3.7.3
// lease.go keepAliveOnce, :413-447) a call opens a new LeaseKeepAlive stream
// (:417), sends one request on it (:431), receives one response (:436) and
// cancels the stream (its context, :414-415, and CloseSend, :422-429): on a
// member, a stream open and one renewal per call. KeepAliveOnce retries a
// failed call at once on a new stream unless the error halts it (:319-332;
// isHaltErr, client.go:570-585): a member's "no leader" and "request timed
// out" are codes.Unavailable (api/v3rpc/rpctypes/error.go:77-83), so they
// are retried. An answer with TTL <= 0 is ErrLeaseNotFound (:323-325): the
// lease is gone and the application stops (it would have to grant a new
// one). The call has no timeout of its own (the application's context,
// context.Background here): a slow answer is waited for, however slow.
// There is no client lessor: no 500 ms scan, no deadline, no channel.
//
// Like the other components it is a state machine: inputs go in with the
// current time (Step), outputs come back; it never reads a clock, schedules
// or draws a random number. Time is an input only.
package onceclient

import (
	"fmt"
	"time"

	"github.com/leasesim/leasesim/sim"
)

// Config is what a Client needs besides its inputs.
type Config struct {
	// Period: the application's sleep between an answer and its next call.
	Period time.Duration
	// ConnectDelay: from the start to the first call's stream being open
	// (the lazy dial of the client's connection; clients.connect_delay).
	ConnectDelay time.Duration
}

// InputKind names what happened to a Client.
type InputKind uint8

const (
	InStart       InputKind = iota // the application has its lease: it starts its loop
	InResponse                     // the answer on stream Gen arrives, with TTL
	InStreamError                  // stream Gen failed (Recv returned codes.Unavailable)
	InWake                         // the wake-up armed with Gen is due
)

var inputNames = [...]string{"start", "response", "stream-error", "wake"}

func (k InputKind) String() string { return inputNames[k] }

// Input is one thing that happened to a Client.
type Input struct {
	Kind InputKind
	Gen  uint32 // InResponse, InStreamError: the stream; InWake: as armed
	TTL  int64  // InResponse: seconds; <= 0: the lease is gone
}

// OutputKind names what a Client asks for or reports.
type OutputKind uint8

const (
	OutCall   OutputKind = iota // open stream Gen and send one keepalive request on it
	OutCancel                   // the call on stream Gen is over: its stream is cancelled
	OutWake                     // wake me at At with InWake, Gen
	OutLost                     // the answer was ErrLeaseNotFound: the loop stops
)

var outputNames = [...]string{"call", "cancel", "wake", "lost"}

func (k OutputKind) String() string { return outputNames[k] }

// Output is one thing a Client asks for or reports.
type Output struct {
	Kind OutputKind
	Gen  uint32
	At   sim.Time // OutWake
}

func (o Output) String() string {
	if o.Kind == OutWake {
		return fmt.Sprintf("%v(%d)@%v", o.Kind, o.Gen, o.At)
	}
	return fmt.Sprintf("%v(%d)", o.Kind, o.Gen)
}

// Client is one application's KeepAliveOnce loop.
type Client struct {
	cfg     Config
	stream  uint32 // the last call's stream; 0: none yet
	wake    uint32 // the last wake-up armed
	calling bool   // a call waits for its answer on stream
	started bool
	lost    bool
	calls   int
	answers int
}

// New returns a client that has not started.
func New(cfg Config) *Client { return &Client{cfg: cfg} }

// NewLoops returns n clients that have not started.
func NewLoops(n int, cfg Config) []Client {
	cs := make([]Client, n)
	for i := range cs {
		cs[i] = Client{cfg: cfg}
	}
	return cs
}

// Calls is the number of streams opened (calls and their retries).
func (c *Client) Calls() int { return c.calls }

// Answers is the number of answers received (renewals and ErrLeaseNotFound).
func (c *Client) Answers() int { return c.answers }

// Lost reports whether the lease was found gone.
func (c *Client) Lost() bool { return c.lost }

// Step applies in at now and appends the client's outputs to out.
func (c *Client) Step(now sim.Time, in Input, out []Output) []Output {
	switch in.Kind {
	case InStart:
		if c.started {
			panic("onceclient: started twice")
		}
		c.started = true
		if c.cfg.ConnectDelay > 0 {
			return c.arm(now+sim.Time(c.cfg.ConnectDelay), out)
		}
		return c.call(out)
	case InResponse:
		if !c.calling || in.Gen != c.stream {
			return out
		}
		c.calling = false
		c.answers++
		out = append(out, Output{Kind: OutCancel, Gen: in.Gen})
		if in.TTL <= 0 {
			c.lost = true
			return append(out, Output{Kind: OutLost, Gen: in.Gen})
		}
		return c.arm(now+sim.Time(c.cfg.Period), out)
	case InStreamError:
		if !c.calling || in.Gen != c.stream {
			return out
		}
		return c.call(out) // KeepAliveOnce's loop: again, on a new stream
	case InWake:
		if in.Gen != c.wake || c.calling || c.lost {
			return out
		}
		return c.call(out)
	}
	panic(fmt.Sprintf("onceclient: unknown input kind %d", in.Kind))
}

func (c *Client) arm(at sim.Time, out []Output) []Output {
	c.wake++
	return append(out, Output{Kind: OutWake, Gen: c.wake, At: at})
}

func (c *Client) call(out []Output) []Output {
	c.stream++
	c.calling = true
	c.calls++
	return append(out, Output{Kind: OutCall, Gen: c.stream})
}
