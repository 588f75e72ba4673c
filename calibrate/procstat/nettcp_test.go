package procstat

import (
	"encoding/binary"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func readTestdata(t *testing.T, elem ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(append([]string{"testdata"}, elem...)...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// dataRows is the number of socket rows in a /proc/net/tcp file: every
// non-blank line but the header.
func dataRows(b []byte) int {
	n := 0
	for _, l := range strings.Split(string(b), "\n")[1:] {
		if strings.TrimSpace(l) != "" {
			n++
		}
	}
	return n
}

var ap = netip.MustParseAddrPort

// littleEndianHost reports whether FS methods, which parse with the host's
// byte order, decode the little-endian fixtures' addresses correctly.
func littleEndianHost() bool { return binary.NativeEndian.Uint16([]byte{1, 0}) == 1 }

// The fixtures were captured on amd64 (little-endian), from a process that
// listened on 127.0.0.1:2390 (0x0956), [::]:2389 (0x0955, dual-stack) and
// [::1]:2391 (0x0957), kept some connections open and closed others from the
// client side, leaving the client ends in TIME_WAIT.
func TestParseNetTCPFixtures(t *testing.T) {
	tests := []struct {
		file string
		rows map[int]Socket // row index -> expected socket
	}{
		{"tcp", map[int]Socket{
			0:  {ap("127.0.0.1:2390"), ap("0.0.0.0:0"), TCPListen, 135123},
			1:  {ap("0.0.0.0:2024"), ap("0.0.0.0:0"), TCPListen, 1077},
			2:  {ap("127.0.0.1:2380"), ap("127.0.0.1:50648"), TCPTimeWait, 0},
			3:  {ap("127.0.0.1:52672"), ap("127.0.0.1:2390"), TCPEstablished, 135129},
			14: {ap("127.0.0.1:2390"), ap("127.0.0.1:52672"), TCPEstablished, 135130},
			18: {ap("192.0.2.2:37696"), ap("203.0.113.80:443"), TCPEstablished, 134963},
			19: {ap("192.0.2.2:37702"), ap("203.0.113.80:443"), TCPTimeWait, 0},
		}},
		{"tcp6", map[int]Socket{
			0: {ap("[::1]:2391"), ap("[::]:0"), TCPListen, 135127},
			1: {ap("[::]:2389"), ap("[::]:0"), TCPListen, 135125},
			3: {ap("[::1]:44708"), ap("[::1]:2389"), TCPEstablished, 135136},
			// IPv4 clients of the dual-stack listener, unmapped from ::ffff:127.0.0.1.
			4: {ap("127.0.0.1:2379"), ap("127.0.0.1:53668"), TCPTimeWait, 0},
			6: {ap("127.0.0.1:2389"), ap("127.0.0.1:53802"), TCPEstablished, 135134},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			data := readTestdata(t, "proc", "net", tc.file)
			socks, err := parseNetTCP(data, binary.LittleEndian)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if want := dataRows(data); len(socks) != want {
				t.Fatalf("got %d sockets, want %d (one per row)", len(socks), want)
			}
			for i, want := range tc.rows {
				if socks[i] != want {
					t.Errorf("row %d = %+v, want %+v", i, socks[i], want)
				}
			}
		})
	}
}

// The exported parser uses the host's byte order; on the little-endian hosts
// the fixtures come from it must agree with the explicit one.
func TestParseNetTCPUsesHostOrder(t *testing.T) {
	if !littleEndianHost() {
		t.Skip("fixtures are little-endian; this host is big-endian")
	}
	data := readTestdata(t, "proc", "net", "tcp6")
	a, errA := ParseNetTCP(data)
	b, errB := parseNetTCP(data, binary.LittleEndian)
	if errA != nil || errB != nil {
		t.Fatalf("errors: %v, %v", errA, errB)
	}
	if len(a) != len(b) {
		t.Fatalf("ParseNetTCP gave %d sockets, parseNetTCP(LittleEndian) %d", len(a), len(b))
	}
	for i := range a {
		if a[i] != b[i] {
			t.Errorf("row %d: %+v != %+v", i, a[i], b[i])
		}
	}
}

// An address with distinct bytes in every position catches a word or byte
// order mistake that loopback addresses, mostly zeros, would hide. The hex
// strings were derived by hand from the address's bytes
// 20 01 0d b8 85 a3 00 00 00 00 8a 2e 03 70 73 34 and, for the remote
// ::ffff:198.51.100.7, 00 (x10) ff ff c6 33 64 07.
func TestParseNetTCPByteOrder(t *testing.T) {
	const header = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
	want := Socket{
		Local:  ap("[2001:db8:85a3::8a2e:370:7334]:2380"),
		Remote: ap("198.51.100.7:40000"), // written IPv4-mapped, read unmapped
		State:  TCPSynSent,
		Inode:  4242,
	}
	tests := []struct {
		name  string
		order binary.ByteOrder
		row   string
	}{
		{"little-endian host", binary.LittleEndian,
			"   0: B80D01200000A3852E8A000034737003:094C 0000000000000000FFFF0000076433C6:9C40 02 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0\n"},
		{"big-endian host", binary.BigEndian,
			"   0: 20010DB885A3000000008A2E03707334:094C 00000000000000000000FFFFC6336407:9C40 02 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			socks, err := parseNetTCP([]byte(header+tc.row), tc.order)
			if err != nil {
				t.Fatal(err)
			}
			if len(socks) != 1 || socks[0] != want {
				t.Errorf("got %+v, want [%+v]", socks, want)
			}
		})
	}
}

func TestParseNetTCPErrors(t *testing.T) {
	tests := []struct {
		file string
		want []string // substrings of the error
	}{
		{"tcp-no-header", []string{"line 1", `"sl"`}},
		{"tcp-short-address", []string{"line 4", "local_address", `"100007F"`, "7 hex digits"}},
		{"tcp-nonhex-address", []string{"line 4", "local_address", `"0100007G"`, "not hex"}},
		{"tcp-short-port", []string{"line 5", "rem_address", `"956"`}},
		{"tcp-no-colon", []string{"line 5", "rem_address", "no ':'"}},
		{"tcp-bad-state", []string{"line 5", "state", `"ZZ"`}},
		{"tcp-bad-inode", []string{"line 6", "inode", `"13x131"`}},
		{"tcp-bad-slot", []string{"line 5", "slot", `"3"`}},
		{"tcp-truncated-row", []string{"line 6", "6 columns, need at least 10"}},
		{"tcp6-bad-address", []string{"line 6", "local_address", "24 hex digits"}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			socks, err := parseNetTCP(readTestdata(t, "malformed", tc.file), binary.LittleEndian)
			if err == nil {
				t.Fatalf("parsed %d sockets, want an error", len(socks))
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestTCPStateString(t *testing.T) {
	// Names and numbers from include/net/tcp_states.h.
	tests := []struct {
		st   TCPState
		want string
	}{
		{0x01, "ESTABLISHED"}, {0x02, "SYN_SENT"}, {0x03, "SYN_RECV"},
		{0x04, "FIN_WAIT1"}, {0x05, "FIN_WAIT2"}, {0x06, "TIME_WAIT"},
		{0x07, "CLOSE"}, {0x08, "CLOSE_WAIT"}, {0x09, "LAST_ACK"},
		{0x0A, "LISTEN"}, {0x0B, "CLOSING"}, {0x0C, "NEW_SYN_RECV"},
		{0x0D, "TCPState(0x0D)"}, {0x00, "TCPState(0x00)"}, {0xFF, "TCPState(0xFF)"},
	}
	for _, tc := range tests {
		if got := tc.st.String(); got != tc.want {
			t.Errorf("TCPState(%#x).String() = %q, want %q", uint8(tc.st), got, tc.want)
		}
	}
}

func TestSockets(t *testing.T) {
	t.Run("tcp and tcp6", func(t *testing.T) {
		socks, err := FS{Root: filepath.Join("testdata", "proc")}.Sockets()
		if err != nil {
			t.Fatal(err)
		}
		want := dataRows(readTestdata(t, "proc", "net", "tcp")) + dataRows(readTestdata(t, "proc", "net", "tcp6"))
		if len(socks) != want {
			t.Errorf("got %d sockets, want %d", len(socks), want)
		}
		if !littleEndianHost() {
			return // addresses in the fixtures are little-endian
		}
		// IPv4 first, then IPv6.
		if first := ap("127.0.0.1:2390"); socks[0].Local != first {
			t.Errorf("first socket %v, want the first tcp row %v", socks[0].Local, first)
		}
		if last := ap("[::1]:38522"); socks[len(socks)-1].Local != last {
			t.Errorf("last socket %v, want the last tcp6 row %v", socks[len(socks)-1].Local, last)
		}
	})
	t.Run("no tcp6", func(t *testing.T) {
		socks, err := FS{Root: filepath.Join("testdata", "proc-v4only")}.Sockets()
		if err != nil {
			t.Fatalf("a missing tcp6 should not be an error: %v", err)
		}
		if want := dataRows(readTestdata(t, "proc-v4only", "net", "tcp")); len(socks) != want {
			t.Errorf("got %d sockets, want %d", len(socks), want)
		}
	})
	t.Run("no tcp", func(t *testing.T) {
		if _, err := (FS{Root: t.TempDir()}).Sockets(); err == nil {
			t.Error("Sockets succeeded without net/tcp")
		}
	})
	t.Run("malformed tcp6", func(t *testing.T) {
		root := t.TempDir()
		if err := os.MkdirAll(filepath.Join(root, "net"), 0o755); err != nil {
			t.Fatal(err)
		}
		for name, src := range map[string][]byte{
			"tcp":  readTestdata(t, "proc", "net", "tcp"),
			"tcp6": readTestdata(t, "malformed", "tcp6-bad-address"),
		} {
			if err := os.WriteFile(filepath.Join(root, "net", name), src, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		_, err := FS{Root: root}.Sockets()
		if p := filepath.Join(root, "net", "tcp6"); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("error %v, want one naming %s", err, p)
		}
	})
}
