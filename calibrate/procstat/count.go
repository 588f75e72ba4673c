package procstat

import "net/netip"

// StateCounts is a number of sockets per TCP state.
type StateCounts map[TCPState]int

// Total is the number of sockets over all states.
func (c StateCounts) Total() int {
	n := 0
	for _, v := range c {
		n += v
	}
	return n
}

// CountByState counts the sockets for which match returns true, by state. A
// nil match counts every socket.
func CountByState(socks []Socket, match func(Socket) bool) StateCounts {
	counts := make(StateCounts)
	for _, s := range socks {
		if match == nil || match(s) {
			counts[s.State]++
		}
	}
	return counts
}

// InboundTo matches the server side of connections into a listener on port
// (for example followers' connections into the leader's peer port), and not
// the listener itself.
func InboundTo(port uint16) func(Socket) bool {
	return func(s Socket) bool { return s.Local.Port() == port && s.State != TCPListen }
}

// OutboundTo matches the client side of connections to port: what a process
// on this host dialled.
func OutboundTo(port uint16) func(Socket) bool {
	return func(s Socket) bool { return s.Remote.Port() == port }
}

// EitherEnd matches both sides of connections to port, which is what a
// ConnTracker needs when client and server share the host (see ConnTracker).
func EitherEnd(port uint16) func(Socket) bool {
	in, out := InboundTo(port), OutboundTo(port)
	return func(s Socket) bool { return in(s) || out(s) }
}

// ConnTracker counts distinct TCP connections across successive socket
// snapshots, to estimate how many new connections per second go to a port
// when the table can only be sampled.
//
// A connection is identified by its pair of endpoints, in either order, so
// the client and server sockets of one loopback connection count once.
// Sampling catches short-lived connections because the end that closes first
// keeps its socket in TIME_WAIT for 60 s (TCP_TIMEWAIT_LEN in
// include/net/tcp.h, a compile-time constant, not a sysctl): a connection
// opened and closed entirely between two samples is still in the next
// snapshot, and is counted.
//
// Blind spots:
//   - Only the end that closes first enters TIME_WAIT; the other end
//     disappears within a round trip. Match both ends (EitherEnd) when both
//     are on this host, or the end you know closes first; matching only the
//     passive closer misses short connections.
//   - A connection aborted with RST (or SO_LINGER 0) skips TIME_WAIT, so a
//     short one can vanish between samples and be missed.
//   - A new connection that reuses the 4-tuple of one still in the previous
//     snapshot (a TIME_WAIT socket taken over by tcp_tw_reuse, or the same
//     ports reused within one interval) looks like the old one and is missed.
//   - Snapshots must be taken less than 60 s apart.
type ConnTracker struct {
	match func(Socket) bool
	prev  map[connKey]struct{}
	total int
}

// connKey is a connection's endpoints, lower first, so that both of its
// sockets map to the same key.
type connKey struct{ a, b netip.AddrPort }

func keyOf(s Socket) connKey {
	a, b := s.Local, s.Remote
	if a.Compare(b) > 0 {
		a, b = b, a
	}
	return connKey{a, b}
}

// NewConnTracker returns a tracker of the connections whose sockets match
// (nil matches every socket). Listening sockets are never counted.
func NewConnTracker(match func(Socket) bool) *ConnTracker {
	return &ConnTracker{match: match}
}

// Observe takes the next snapshot and returns how many connections in it
// were not in the previous one. On the first call every matching connection
// is new; take a baseline snapshot first and ignore its result to count only
// connections opened afterwards.
//
// Only the previous snapshot is remembered: a connection is over once its
// 4-tuple has left the table, so the same 4-tuple reappearing later is a
// new connection and memory stays proportional to one snapshot.
func (t *ConnTracker) Observe(socks []Socket) int {
	cur := make(map[connKey]struct{}, len(t.prev))
	fresh := 0
	for _, s := range socks {
		if s.State == TCPListen || (t.match != nil && !t.match(s)) {
			continue
		}
		k := keyOf(s)
		if _, dup := cur[k]; dup {
			continue // the other end of a loopback connection, or a duplicated row
		}
		cur[k] = struct{}{}
		if _, seen := t.prev[k]; !seen {
			fresh++
		}
	}
	t.prev = cur
	t.total += fresh
	return fresh
}

// Total is the number of distinct connections observed so far, the sum of
// Observe's results. It is a cumulative counter suitable for a rate.
func (t *ConnTracker) Total() int { return t.total }
