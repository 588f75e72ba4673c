package spec_test

import (
	"strings"
	"testing"

	"github.com/leasesim/leasesim/spec"
)

// Names and descriptions reach the terminal without escape sequences
// (issue 15: terminal escapes in a scenario name reached it raw).
func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"incident-2018":                   "incident-2018",
		"a\x1b[2J\x1b]0;pwned\x07b":       "a[2J]0;pwnedb",
		"line one\nline\ttwo":             "line one\nline\ttwo",
		"c1\u009bcsi":                     "c1csi",
		"bidi\u202eevil\u2066x\u2069":     "bidievilx",
		"bad\xffutf8":                     "bad\ufffdutf8",
		"ok ünïcödé – fine, 日本":           "ok ünïcödé – fine, 日本",
		"cr\rreturn\x00nul\x7fdel\u200bz": "crreturnnuldelz",
	} {
		if got := spec.Printable(in); got != want {
			t.Errorf("Printable(%q) = %q, want %q", in, got, want)
		}
	}
	s := spec.Spec{Name: "evil\x1b[31m", Duration: spec.Duration(60e9), Server: spec.ServerIdeal,
		Clients: spec.ClientsSpec{Count: 1, TTL: spec.Duration(10e9), Version: "v3.7.3", Consumer: "drain"}}
	if sum := s.Summary(); strings.ContainsRune(sum, '\x1b') || !strings.HasPrefix(sum, "evil[31m: ") {
		t.Errorf("summary %q", sum)
	}
}
