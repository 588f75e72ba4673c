package recorder

import (
	"time"

	"github.com/leasesim/leasesim/sim"
)

// OpKind names a lease-API operation in a history: the operations of a
// cluster run as the clients and the leader's lessor saw them, which package
// properties checks for linearizability.
type OpKind uint8

const (
	OpGrant     OpKind = iota // the client's Grant (instantaneous, at KeepAlive time)
	OpKeepAlive               // one keepalive: Call when sent, Return when its answer arrived
	OpExpire                  // the leader's lessor revoked the expired lease
	// OpGet: a linearizable read of the lease's key (instantaneous): Found
	// if it was there. The agent puts its key with the lease at its Grant.
	OpGet
	// OpTimeToLive: LeaseTimeToLive (instantaneous): Found, with TTL the
	// remaining seconds as etcd reports them (int64(Remaining().Seconds()),
	// v3.7.3 etcdserver/v3_server.go:651: 0 or less once expired and not yet
	// revoked), or not found.
	OpTimeToLive
	// OpRevoke: the client's LeaseRevoke (instantaneous).
	OpRevoke
)

// Op is one operation of a History. Times are virtual nanoseconds.
type Op struct {
	Kind         OpKind
	Lease        int64 // lease ID (client index + 1)
	Call, Return int64
	TTL          int64 // OpGrant: granted; OpKeepAlive: answered (0: not found); OpTimeToLive: remaining
	Found        bool  // OpGet: the key was there; OpTimeToLive: the lease was found
}

// Ledger pairs each client's keepalive requests with their answers, oldest
// first (a stream answers in order): for a History (each pair is an
// OpKeepAlive) and for round-trip records (leasesim calibrate compares them
// with a real cluster's). A nil *Ledger records nothing.
type Ledger struct {
	history func(Op) // receives the History, if not nil
	rtt     bool     // keep RTTs and Sends
	sent    [][]sim.Time
	// RTTs: per answered keepalive, its send time and its round trip, in ns,
	// split by whether the client's member led when the answer came.
	RTTs struct{ Direct, Forwarded [][2]int64 }
	// Sends: every keepalive each client sent, in ns.
	Sends [][]int64
}

// NewLedger returns a ledger for clients clients that hands history every
// Op (if not nil) and keeps round trips (if rtt); nil if neither.
func NewLedger(clients int, history func(Op), rtt bool) *Ledger {
	if history == nil && !rtt {
		return nil
	}
	l := &Ledger{history: history, rtt: rtt, sent: make([][]sim.Time, clients)}
	if rtt {
		l.Sends = make([][]int64, clients)
	}
	return l
}

func (l *Ledger) op(o Op) {
	if l.history != nil {
		l.history(o)
	}
}

// Grant: client c granted its lease with ttl at now.
func (l *Ledger) Grant(now sim.Time, c int, ttl time.Duration) {
	if l != nil {
		l.op(Op{Kind: OpGrant, Lease: int64(c) + 1, Call: int64(now), Return: int64(now), TTL: int64(ttl / time.Second)})
	}
}

// StreamOpened: client c opened a new stream; what it sent before is never answered.
func (l *Ledger) StreamOpened(c int) {
	if l != nil {
		l.sent[c] = l.sent[c][:0]
	}
}

// Sent: client c sent a keepalive at now.
func (l *Ledger) Sent(now sim.Time, c int) {
	if l == nil {
		return
	}
	l.sent[c] = append(l.sent[c], now)
	if l.rtt {
		l.Sends[c] = append(l.Sends[c], int64(now))
	}
}

// Answered: client c's oldest unanswered keepalive was answered ttl at now;
// direct: its member led.
func (l *Ledger) Answered(now sim.Time, c int, ttl int64, direct bool) {
	if l == nil || len(l.sent[c]) == 0 {
		return
	}
	at := l.sent[c][0]
	l.sent[c] = l.sent[c][1:]
	l.op(Op{Kind: OpKeepAlive, Lease: int64(c) + 1, Call: int64(at), Return: int64(now), TTL: ttl})
	if l.rtt {
		x := [2]int64{int64(at), int64(now - at)}
		if direct {
			l.RTTs.Direct = append(l.RTTs.Direct, x)
		} else {
			l.RTTs.Forwarded = append(l.RTTs.Forwarded, x)
		}
	}
}

// InFlight is the number of keepalives client c sent on its stream that
// are not answered yet.
func (l *Ledger) InFlight(c int) int {
	if l == nil {
		return 0
	}
	return len(l.sent[c])
}

// Read: a read of client c's lease at now: OpGet (found: its key was
// there) or OpTimeToLive (found, with ttl the remaining seconds); or its
// OpRevoke.
func (l *Ledger) Read(now sim.Time, c int, kind OpKind, found bool, ttl int64) {
	if l != nil {
		l.op(Op{Kind: kind, Lease: int64(c) + 1, Call: int64(now), Return: int64(now), TTL: ttl, Found: found})
	}
}

// Expired: the leader's lessor revoked client c's lease at now.
func (l *Ledger) Expired(now sim.Time, c int) {
	if l != nil {
		l.op(Op{Kind: OpExpire, Lease: int64(c) + 1, Call: int64(now), Return: int64(now)})
	}
}
