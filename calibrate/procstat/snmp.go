package procstat

import (
	"bytes"
	"fmt"
	"strconv"
)

// TCPCounters are TCP MIB counters (the TCP-MIB of RFC 4022, described for
// Linux in Documentation/networking/snmp_counter.rst). The kernel keeps them
// for the whole network namespace, not per process: every socket on the host
// (or in the container) contributes, so take differences between two reads
// and keep other TCP traffic quiet while measuring.
type TCPCounters struct {
	ActiveOpens  uint64 // connect()s that sent a SYN (CLOSED -> SYN_SENT)
	PassiveOpens uint64 // connections accepted by a listener (LISTEN -> SYN_RECV)
	AttemptFails uint64 // connection attempts that failed
	EstabResets  uint64 // ESTABLISHED or CLOSE_WAIT connections reset
	CurrEstab    uint64 // connections now in ESTABLISHED or CLOSE_WAIT (a gauge)
	InSegs       uint64 // segments received
	OutSegs      uint64 // segments sent
	RetransSegs  uint64 // segments retransmitted
}

// ParseSNMP parses the contents of /proc/net/snmp and returns its TCP
// counters. As proc(5) and net/ipv4/proc.c lay it out, the file is a series
// of line pairs, a header naming the counters and a line of values, both
// starting with the protocol ("Tcp:"). We look counters up by name rather
// than by position because kernels have appended new ones over time.
func ParseSNMP(data []byte) (TCPCounters, error) {
	var names, values [][]byte
	for _, line := range bytes.Split(data, []byte("\n")) {
		rest, ok := bytes.CutPrefix(line, []byte("Tcp:"))
		if !ok {
			continue
		}
		switch {
		case names == nil:
			names = bytes.Fields(rest)
		case values == nil:
			values = bytes.Fields(rest)
		default:
			return TCPCounters{}, fmt.Errorf("malformed snmp: more than two \"Tcp:\" lines")
		}
	}
	if names == nil || values == nil {
		return TCPCounters{}, fmt.Errorf("malformed snmp: missing the \"Tcp:\" header and value lines")
	}
	if len(names) != len(values) {
		return TCPCounters{}, fmt.Errorf("malformed snmp: \"Tcp:\" header names %d counters but the value line has %d",
			len(names), len(values))
	}
	byName := make(map[string][]byte, len(names))
	for i, n := range names {
		byName[string(n)] = values[i]
	}
	var c TCPCounters
	for _, f := range []struct {
		name string
		dst  *uint64
	}{
		{"ActiveOpens", &c.ActiveOpens},
		{"PassiveOpens", &c.PassiveOpens},
		{"AttemptFails", &c.AttemptFails},
		{"EstabResets", &c.EstabResets},
		{"CurrEstab", &c.CurrEstab},
		{"InSegs", &c.InSegs},
		{"OutSegs", &c.OutSegs},
		{"RetransSegs", &c.RetransSegs},
	} {
		v, ok := byName[f.name]
		if !ok {
			return TCPCounters{}, fmt.Errorf("malformed snmp: no Tcp counter %q", f.name)
		}
		n, err := strconv.ParseUint(string(v), 10, 64)
		if err != nil {
			return TCPCounters{}, fmt.Errorf("malformed snmp: Tcp %s value %q is not an unsigned number", f.name, v)
		}
		*f.dst = n
	}
	return c, nil
}
