//go:build linux

package procstat

import (
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"
)

// These tests read this machine's real /proc and check it against sockets
// and CPU use the test itself creates.

// addrPort is a as /proc shows it (IPv4 unmapped).
func addrPort(t *testing.T, a net.Addr) netip.AddrPort {
	t.Helper()
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		t.Fatalf("%v is a %T, want *net.TCPAddr", a, a)
	}
	ap := tcp.AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// inodeOf returns the inode of a socket's file, which /proc/net/tcp lists.
func inodeOf(t *testing.T, c syscall.Conn) uint64 {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	var statErr error
	if err := rc.Control(func(fd uintptr) { statErr = syscall.Fstat(int(fd), &st) }); err != nil {
		t.Fatal(err)
	}
	if statErr != nil {
		t.Fatal(statErr)
	}
	return st.Ino
}

// connect opens a connection to ln and returns its client and server ends.
func connect(t *testing.T, network string, ln net.Listener, addr string) (client, server *net.TCPConn) {
	t.Helper()
	c, err := net.Dial(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return c.(*net.TCPConn), s.(*net.TCPConn)
}

// find returns the sockets with the given endpoints.
func find(socks []Socket, local, remote netip.AddrPort) []Socket {
	var out []Socket
	for _, s := range socks {
		if s.Local == local && s.Remote == remote {
			out = append(out, s)
		}
	}
	return out
}

// only restricts match to sockets on addr (the port alone could, in
// principle, be shared with a socket on another local address).
func only(addr netip.Addr, match func(Socket) bool) func(Socket) bool {
	return func(s Socket) bool {
		return match(s) && (s.Local.Addr() == addr || s.Remote.Addr() == addr)
	}
}

func TestLiveSockets(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, server := connect(t, "tcp", ln, ln.Addr().String())

	lnAP, clAP := addrPort(t, ln.Addr()), addrPort(t, client.LocalAddr())
	socks, err := FS{}.Sockets()
	if err != nil {
		t.Fatal(err)
	}
	unspecified := netip.AddrPortFrom(netip.IPv4Unspecified(), 0)
	tests := []struct {
		name          string
		local, remote netip.AddrPort
		state         TCPState
		inode         uint64
	}{
		{"listener", lnAP, unspecified, TCPListen, inodeOf(t, ln.(*net.TCPListener))},
		{"client end", clAP, lnAP, TCPEstablished, inodeOf(t, client)},
		{"server end", lnAP, clAP, TCPEstablished, inodeOf(t, server)},
	}
	for _, tc := range tests {
		got := find(socks, tc.local, tc.remote)
		if len(got) != 1 {
			t.Errorf("%s: %d sockets %v -> %v, want 1", tc.name, len(got), tc.local, tc.remote)
			continue
		}
		if got[0].State != tc.state || got[0].Inode != tc.inode {
			t.Errorf("%s: state %v inode %d, want %v inode %d", tc.name, got[0].State, got[0].Inode, tc.state, tc.inode)
		}
	}

	lo := lnAP.Addr()
	if n := CountByState(socks, only(lo, InboundTo(lnAP.Port())))[TCPEstablished]; n != 1 {
		t.Errorf("InboundTo(%d): %d ESTABLISHED, want 1", lnAP.Port(), n)
	}
	if n := CountByState(socks, only(lo, OutboundTo(lnAP.Port())))[TCPEstablished]; n != 1 {
		t.Errorf("OutboundTo(%d): %d ESTABLISHED, want 1", lnAP.Port(), n)
	}
}

// A dual-stack listener's IPv4 connections are in /proc/net/tcp6 as
// ::ffff:127.0.0.1, and must come out as plain 127.0.0.1.
func TestLiveDualStackUnmapped(t *testing.T) {
	ln, err := net.Listen("tcp", "[::]:0")
	if err != nil {
		t.Skipf("no IPv6 listener: %v", err)
	}
	defer ln.Close()
	port := addrPort(t, ln.Addr()).Port()
	client, server := connect(t, "tcp4", ln, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port).String())

	socks, err := FS{}.Sockets()
	if err != nil {
		t.Fatal(err)
	}
	srvAP, clAP := addrPort(t, server.LocalAddr()), addrPort(t, client.LocalAddr())
	if want := netip.MustParseAddrPort("127.0.0.1:0"); srvAP.Addr() != want.Addr() {
		t.Fatalf("server end is %v, expected an IPv4 address", srvAP)
	}
	got := find(socks, srvAP, clAP)
	if len(got) != 1 || got[0].State != TCPEstablished || got[0].Inode != inodeOf(t, server) {
		t.Errorf("server end %v -> %v: got %+v, want one ESTABLISHED socket with inode %d", srvAP, clAP, got, inodeOf(t, server))
	}
}

// Connections opened and closed by the client between two snapshots are
// still counted, because the client ends linger in TIME_WAIT.
func TestLiveConnTracker(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	lnAP := addrPort(t, ln.Addr())
	tr := NewConnTracker(only(lnAP.Addr(), EitherEnd(lnAP.Port())))
	observe := func() int {
		socks, err := FS{}.Sockets()
		if err != nil {
			t.Fatal(err)
		}
		return tr.Observe(socks)
	}
	// The baseline is normally empty, but a TIME_WAIT socket left by an
	// earlier test can hold the same port number as a client port.
	observe()

	const short = 3
	for i := 0; i < short; i++ {
		client, server := connect(t, "tcp", ln, ln.Addr().String())
		client.Close() // the client closes first, so its end enters TIME_WAIT
		buf := make([]byte, 1)
		server.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := server.Read(buf); err == nil {
			t.Fatal("read data on a connection the client closed")
		}
		server.Close()
	}
	connect(t, "tcp", ln, ln.Addr().String()) // and one that stays open

	if n := observe(); n != short+1 {
		t.Errorf("after %d short connections and 1 open one: %d new, want %d", short, n, short+1)
	}
	if n := observe(); n != 0 {
		t.Errorf("unchanged table: %d new, want 0", n)
	}
	if tr.Total() != short+1 {
		t.Errorf("Total = %d, want %d", tr.Total(), short+1)
	}
}

var sink uint64

// burn spins until getrusage says the process has used at least d more CPU.
func burn(t *testing.T, d time.Duration) {
	t.Helper()
	start, err := SelfRusage()
	if err != nil {
		t.Fatal(err)
	}
	giveUp := time.Now().Add(20 * d)
	x := uint64(1)
	for i := 0; ; i++ {
		x = x*6364136223846793005 + 1442695040888963407
		if i%100000 != 0 {
			continue
		}
		now, err := SelfRusage()
		if err != nil {
			t.Fatal(err)
		}
		if now.Total()-start.Total() >= d {
			break
		}
		if time.Now().After(giveUp) {
			t.Fatalf("burnt only %v of CPU in %v of wall time", now.Total()-start.Total(), 20*d)
		}
	}
	sink += x
}

func TestLiveProcessCPUGrows(t *testing.T) {
	before, err := FS{}.ProcessCPU(0)
	if err != nil {
		t.Fatal(err)
	}
	ruBefore, err := SelfRusage()
	if err != nil {
		t.Fatal(err)
	}
	const spent = 300 * time.Millisecond
	burn(t, spent)
	after, err := FS{}.ProcessCPU(0)
	if err != nil {
		t.Fatal(err)
	}
	ruAfter, err := SelfRusage()
	if err != nil {
		t.Fatal(err)
	}
	// /proc/self/stat counts in 10 ms ticks and may lag getrusage
	// slightly, so ask for most, not all, of what was burnt.
	if grew := after.Total() - before.Total(); grew < spent/2 {
		t.Errorf("ProcessCPU(0) grew by %v (%+v -> %+v) after burning %v", grew, before, after, spent)
	}
	if grew := ruAfter.User - ruBefore.User; grew < spent/2 {
		t.Errorf("SelfRusage user time grew by %v after burning %v in user space", grew, spent)
	}
	// The stat file is of this process: it is within a tick or two of
	// getrusage's figure, read just after it.
	if diff := ruAfter.Total() - after.Total(); diff < -50*time.Millisecond || diff > 50*time.Millisecond+spent/10 {
		t.Errorf("ProcessCPU(0) = %v but getrusage says %v", after.Total(), ruAfter.Total())
	}
}
