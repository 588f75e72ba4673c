package procstat

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
)

// TCPState is a socket's state as the kernel numbers it (enum in
// include/net/tcp_states.h), which is the "st" column of /proc/net/tcp.
type TCPState uint8

// The kernel's TCP states, with its numbering.
const (
	TCPEstablished TCPState = 0x01
	TCPSynSent     TCPState = 0x02
	TCPSynRecv     TCPState = 0x03
	TCPFinWait1    TCPState = 0x04
	TCPFinWait2    TCPState = 0x05
	TCPTimeWait    TCPState = 0x06
	TCPClose       TCPState = 0x07
	TCPCloseWait   TCPState = 0x08
	TCPLastAck     TCPState = 0x09
	TCPListen      TCPState = 0x0A
	TCPClosing     TCPState = 0x0B
	TCPNewSynRecv  TCPState = 0x0C
)

var tcpStateNames = [...]string{
	TCPEstablished: "ESTABLISHED",
	TCPSynSent:     "SYN_SENT",
	TCPSynRecv:     "SYN_RECV",
	TCPFinWait1:    "FIN_WAIT1",
	TCPFinWait2:    "FIN_WAIT2",
	TCPTimeWait:    "TIME_WAIT",
	TCPClose:       "CLOSE",
	TCPCloseWait:   "CLOSE_WAIT",
	TCPLastAck:     "LAST_ACK",
	TCPListen:      "LISTEN",
	TCPClosing:     "CLOSING",
	TCPNewSynRecv:  "NEW_SYN_RECV",
}

// String returns the kernel's name for the state, e.g. "TIME_WAIT", or
// "TCPState(0xNN)" for a number this package does not know.
func (s TCPState) String() string {
	if int(s) < len(tcpStateNames) && tcpStateNames[s] != "" {
		return tcpStateNames[s]
	}
	return fmt.Sprintf("TCPState(0x%02X)", uint8(s))
}

// Socket is one row of /proc/net/tcp or /proc/net/tcp6.
type Socket struct {
	Local, Remote netip.AddrPort // Remote is 0.0.0.0:0 (or [::]:0) for a listener
	State         TCPState
	Inode         uint64 // 0 for TIME_WAIT and NEW_SYN_RECV entries, which have no file
}

// Column positions in a /proc/net/tcp row, from 0, per
// Documentation/networking/proc_net_tcp.rst and proc(5):
//
//	sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ...
//
// TIME_WAIT rows stop a few columns after inode; all rows have at least 10.
const (
	colSlot   = 0
	colLocal  = 1
	colRemote = 2
	colState  = 3
	colInode  = 9
	minCols   = colInode + 1
)

// ParseNetTCP parses the contents of /proc/net/tcp or /proc/net/tcp6 (the
// two differ only in address width). IPv4-mapped IPv6 addresses, which
// dual-stack listeners produce in tcp6, are unmapped, so a connection to
// 127.0.0.1 compares equal whichever table it came from.
//
// Addresses are written by the kernel as hex dumps of 32-bit words in the
// host's byte order (little-endian on amd64 and arm64, big-endian on s390x);
// ports are plain hex numbers.
func ParseNetTCP(data []byte) ([]Socket, error) {
	return parseNetTCP(data, binary.NativeEndian)
}

// parseNetTCP is ParseNetTCP for a table written on a host with byte order
// order, so tests can parse little-endian fixtures on any host.
func parseNetTCP(data []byte, order binary.ByteOrder) ([]Socket, error) {
	lines := bytes.Split(data, []byte("\n"))
	header := bytes.Fields(lines[0])
	if len(header) == 0 || string(header[0]) != "sl" {
		return nil, fmt.Errorf("malformed tcp table: line 1 is %q, want the header starting with \"sl\"", abbrev(lines[0]))
	}
	var socks []Socket
	for i, line := range lines[1:] {
		lineNo := i + 2
		cols := bytes.Fields(line)
		if len(cols) == 0 {
			continue
		}
		s, err := parseTCPRow(cols, order)
		if err != nil {
			return nil, fmt.Errorf("malformed tcp table line %d: %w", lineNo, err)
		}
		socks = append(socks, s)
	}
	return socks, nil
}

func parseTCPRow(cols [][]byte, order binary.ByteOrder) (Socket, error) {
	if len(cols) < minCols {
		return Socket{}, fmt.Errorf("%d columns, need at least %d", len(cols), minCols)
	}
	if slot := cols[colSlot]; len(slot) < 2 || slot[len(slot)-1] != ':' {
		return Socket{}, fmt.Errorf("slot column %q does not end in ':'", slot)
	}
	local, err := parseHexAddrPort(cols[colLocal], order)
	if err != nil {
		return Socket{}, fmt.Errorf("local_address: %w", err)
	}
	remote, err := parseHexAddrPort(cols[colRemote], order)
	if err != nil {
		return Socket{}, fmt.Errorf("rem_address: %w", err)
	}
	st, err := strconv.ParseUint(string(cols[colState]), 16, 8)
	if err != nil || st == 0 {
		return Socket{}, fmt.Errorf("state column %q is not a two-digit hex TCP state", cols[colState])
	}
	inode, err := strconv.ParseUint(string(cols[colInode]), 10, 64)
	if err != nil {
		return Socket{}, fmt.Errorf("inode column %q is not a decimal number", cols[colInode])
	}
	return Socket{Local: local, Remote: remote, State: TCPState(st), Inode: inode}, nil
}

// parseHexAddrPort decodes "0100007F:094C" (IPv4, 8 hex digits) or
// "00000000000000000000000001000000:094C" (IPv6, 32 hex digits).
func parseHexAddrPort(b []byte, order binary.ByteOrder) (netip.AddrPort, error) {
	addrHex, portHex, ok := bytes.Cut(b, []byte(":"))
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("%q has no ':' between address and port", b)
	}
	port, err := strconv.ParseUint(string(portHex), 16, 16)
	if err != nil || len(portHex) != 4 {
		return netip.AddrPort{}, fmt.Errorf("port %q in %q is not 4 hex digits", portHex, b)
	}
	// Each 8-digit group is one 32-bit word that the kernel printed with
	// %08X, i.e. the word's numeric value in the host's byte order.
	var raw [16]byte
	words := len(addrHex) / 8
	if len(addrHex)%8 != 0 || (words != 1 && words != 4) {
		return netip.AddrPort{}, fmt.Errorf("address %q in %q is %d hex digits, want 8 (IPv4) or 32 (IPv6)", addrHex, b, len(addrHex))
	}
	for w := 0; w < words; w++ {
		v, err := strconv.ParseUint(string(addrHex[w*8:w*8+8]), 16, 32)
		if err != nil {
			return netip.AddrPort{}, fmt.Errorf("address %q in %q is not hex", addrHex, b)
		}
		order.PutUint32(raw[w*4:], uint32(v))
	}
	var addr netip.Addr
	if words == 1 {
		addr = netip.AddrFrom4([4]byte(raw[:4]))
	} else {
		addr = netip.AddrFrom16(raw).Unmap()
	}
	return netip.AddrPortFrom(addr, uint16(port)), nil
}
