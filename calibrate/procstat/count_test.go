package procstat

import (
	"maps"
	"net/netip"
	"path/filepath"
	"testing"
)

func fixtureSockets(t *testing.T) []Socket {
	t.Helper()
	if !littleEndianHost() {
		t.Skip("fixtures are little-endian; this host is big-endian")
	}
	socks, err := FS{Root: filepath.Join("testdata", "proc")}.Sockets()
	if err != nil {
		t.Fatal(err)
	}
	return socks
}

// Expected counts were read off the fixture rows by hand (see
// TestParseNetTCPFixtures for what the capturing process did).
func TestCountByState(t *testing.T) {
	socks := fixtureSockets(t)
	tests := []struct {
		name  string
		match func(Socket) bool
		want  StateCounts
	}{
		{"all", nil, StateCounts{TCPListen: 4, TCPEstablished: 11, TCPTimeWait: 18}},
		// Two connections kept open into 127.0.0.1:2390; the two the client
		// closed left TIME_WAIT only on the client side.
		{"inbound 2390", InboundTo(2390), StateCounts{TCPEstablished: 2}},
		{"outbound 2390", OutboundTo(2390), StateCounts{TCPEstablished: 2, TCPTimeWait: 2}},
		{"either end 2390", EitherEnd(2390), StateCounts{TCPEstablished: 4, TCPTimeWait: 2}},
		// The dual-stack listener: one IPv4 client (in tcp6 as a mapped
		// address) and one IPv6 client, plus one IPv4 client in TIME_WAIT.
		{"inbound 2389", InboundTo(2389), StateCounts{TCPEstablished: 2}},
		{"outbound 2389", OutboundTo(2389), StateCounts{TCPEstablished: 2, TCPTimeWait: 1}},
		{"inbound 443", InboundTo(443), StateCounts{}},
		{"outbound 443", OutboundTo(443), StateCounts{TCPEstablished: 1, TCPTimeWait: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := CountByState(socks, tc.match)
			if !maps.Equal(got, tc.want) {
				t.Errorf("CountByState = %v, want %v", got, tc.want)
			}
			wantTotal := 0
			for _, n := range tc.want {
				wantTotal += n
			}
			if got.Total() != wantTotal {
				t.Errorf("Total() = %d, want %d", got.Total(), wantTotal)
			}
		})
	}
}

func TestPredicates(t *testing.T) {
	const port = 2380
	tests := []struct {
		name              string
		s                 Socket
		inbound, outbound bool
	}{
		{"listener", Socket{Local: ap("127.0.0.1:2380"), Remote: ap("0.0.0.0:0"), State: TCPListen}, false, false},
		{"server end", Socket{Local: ap("127.0.0.1:2380"), Remote: ap("127.0.0.1:40000"), State: TCPEstablished}, true, false},
		{"server end closing", Socket{Local: ap("127.0.0.1:2380"), Remote: ap("127.0.0.1:40000"), State: TCPLastAck}, true, false},
		{"client end", Socket{Local: ap("127.0.0.1:40000"), Remote: ap("127.0.0.1:2380"), State: TCPEstablished}, false, true},
		{"client end in TIME_WAIT", Socket{Local: ap("127.0.0.1:40000"), Remote: ap("127.0.0.1:2380"), State: TCPTimeWait}, false, true},
		{"other port", Socket{Local: ap("127.0.0.1:40000"), Remote: ap("127.0.0.1:2379"), State: TCPEstablished}, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := InboundTo(port)(tc.s); got != tc.inbound {
				t.Errorf("InboundTo = %v, want %v", got, tc.inbound)
			}
			if got := OutboundTo(port)(tc.s); got != tc.outbound {
				t.Errorf("OutboundTo = %v, want %v", got, tc.outbound)
			}
			if got := EitherEnd(port)(tc.s); got != (tc.inbound || tc.outbound) {
				t.Errorf("EitherEnd = %v, want %v", got, tc.inbound || tc.outbound)
			}
		})
	}
}

// lo is a loopback endpoint.
func lo(port uint16) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), port)
}

// sock is one end of a loopback connection.
func sock(local, remote uint16, st TCPState) Socket {
	return Socket{Local: lo(local), Remote: lo(remote), State: st}
}

func TestConnTracker(t *testing.T) {
	const peer = 2380
	listener := Socket{Local: lo(peer), Remote: netip.AddrPortFrom(netip.IPv4Unspecified(), 0), State: TCPListen}
	// Connection A stays open; B is opened and closed by its client between
	// two snapshots; C goes to another port.
	aClient, aServer := sock(40001, peer, TCPEstablished), sock(peer, 40001, TCPEstablished)
	bClientTW := sock(40002, peer, TCPTimeWait)
	c := sock(40003, 2379, TCPEstablished)

	steps := []struct {
		name     string
		snapshot []Socket
		wantNew  int
	}{
		{"listener only", []Socket{listener}, 0},
		{"A opens: both ends count once", []Socket{listener, aClient, aServer, c}, 1},
		{"A again", []Socket{listener, aServer, aClient, c}, 0},
		{"B came and went, its TIME_WAIT remains", []Socket{listener, aClient, aServer, bClientTW}, 1},
		{"B's TIME_WAIT listed twice", []Socket{listener, aClient, aServer, bClientTW, bClientTW}, 0},
		{"only the server end of A is left", []Socket{listener, aServer}, 0},
		{"all gone", []Socket{listener}, 0},
		{"A's 4-tuple reused after it left", []Socket{aClient, aServer}, 1},
		{"A closing, B's 4-tuple reused", []Socket{sock(40001, peer, TCPFinWait2), sock(peer, 40001, TCPCloseWait), sock(40002, peer, TCPSynSent)}, 1},
	}
	tr := NewConnTracker(EitherEnd(peer))
	wantTotal := 0
	for i, st := range steps {
		got := tr.Observe(st.snapshot)
		wantTotal += st.wantNew
		if got != st.wantNew {
			t.Errorf("step %d (%s): Observe = %d new, want %d", i, st.name, got, st.wantNew)
		}
		if tr.Total() != wantTotal {
			t.Errorf("step %d (%s): Total = %d, want %d", i, st.name, tr.Total(), wantTotal)
		}
	}
}

// On the fixture, the distinct connections to port 2390 are the two open
// ones (each listed from both ends) and the two in TIME_WAIT.
func TestConnTrackerFixture(t *testing.T) {
	socks := fixtureSockets(t)
	tests := []struct {
		name  string
		match func(Socket) bool
		want  int
	}{
		{"either end", EitherEnd(2390), 4},
		{"inbound only misses the client-closed ones", InboundTo(2390), 2},
		{"outbound", OutboundTo(2390), 4},
		// 29 non-listening rows, 5 connections listed from both ends; one
		// of those pairs spans the tables (an IPv4 client in tcp, the
		// dual-stack server end in tcp6), which only matches after Unmap.
		{"everything", nil, 29 - 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := NewConnTracker(tc.match)
			if got := tr.Observe(socks); got != tc.want {
				t.Errorf("first Observe = %d, want %d", got, tc.want)
			}
			if got := tr.Observe(socks); got != 0 {
				t.Errorf("second Observe of the same snapshot = %d, want 0", got)
			}
			if tr.Total() != tc.want {
				t.Errorf("Total = %d, want %d", tr.Total(), tc.want)
			}
		})
	}
}
