package procstat

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestParseSNMP(t *testing.T) {
	tests := []struct {
		name string
		data string
		want TCPCounters
	}{
		{
			// testdata/proc/net/snmp's line pair:
			// Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors
			// Tcp: 1 200 120000 -1 89 26 1 0 11 13944 11000 0 0 2 0
			"real file", string(readTestdata(t, "proc", "net", "snmp")),
			TCPCounters{ActiveOpens: 89, PassiveOpens: 26, AttemptFails: 1, EstabResets: 0,
				CurrEstab: 11, InSegs: 13944, OutSegs: 11000, RetransSegs: 0},
		},
		{
			// Counters are found by name, whatever their order, and unknown
			// ones (including the signed MaxConn) are ignored.
			"reordered, extra counters",
			"Ip: Forwarding\nIp: 1\n" +
				"Tcp: RetransSegs OutSegs InSegs CurrEstab EstabResets AttemptFails PassiveOpens ActiveOpens MaxConn FutureCounter\n" +
				"Tcp: 8 7 6 5 4 3 2 1 -1 99\n" +
				"Udp: InDatagrams\nUdp: 5\n",
			TCPCounters{ActiveOpens: 1, PassiveOpens: 2, AttemptFails: 3, EstabResets: 4,
				CurrEstab: 5, InSegs: 6, OutSegs: 7, RetransSegs: 8},
		},
		{
			"64-bit values",
			"Tcp: ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab InSegs OutSegs RetransSegs\n" +
				"Tcp: 0 0 0 0 0 18446744073709551615 4294967296 0",
			TCPCounters{InSegs: 1<<64 - 1, OutSegs: 1 << 32},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseSNMP([]byte(tc.data))
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("ParseSNMP = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestParseSNMPErrors(t *testing.T) {
	tests := []struct {
		name string
		data string
		want []string // substrings of the error
	}{
		{"no Tcp lines", string(readTestdata(t, "malformed", "snmp-no-tcp")), []string{`"Tcp:"`, "missing"}},
		{"header without values", string(readTestdata(t, "malformed", "snmp-no-values")), []string{`"Tcp:"`, "missing"}},
		{"count mismatch", string(readTestdata(t, "malformed", "snmp-count-mismatch")), []string{"15 counters", "has 14"}},
		{"counter missing", string(readTestdata(t, "malformed", "snmp-no-retranssegs")), []string{`"RetransSegs"`}},
		{"negative value", string(readTestdata(t, "malformed", "snmp-negative")), []string{"ActiveOpens", `"-89"`}},
		{"three Tcp lines", "Tcp: ActiveOpens\nTcp: 1\nTcp: 2\n", []string{"more than two"}},
		{"empty", "", []string{"missing"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseSNMP([]byte(tc.data))
			if err == nil {
				t.Fatalf("ParseSNMP = %+v, want an error", got)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestFSSNMP(t *testing.T) {
	got, err := FS{Root: filepath.Join("testdata", "proc")}.SNMP()
	if err != nil {
		t.Fatal(err)
	}
	if got.ActiveOpens != 89 || got.PassiveOpens != 26 || got.CurrEstab != 11 {
		t.Errorf("SNMP = %+v, want the fixture's ActiveOpens 89, PassiveOpens 26, CurrEstab 11", got)
	}
	if _, err := (FS{Root: t.TempDir()}).SNMP(); err == nil {
		t.Error("SNMP succeeded without net/snmp")
	}
}
