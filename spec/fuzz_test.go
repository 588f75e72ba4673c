package spec_test

import (
	"strings"
	"testing"
	"time"

	"github.com/leasesim/leasesim/clientmodel"
	"github.com/leasesim/leasesim/spec"
)

// FuzzParseConsumer: the consumer syntax never panics, and what it accepts
// is inside the range the client model's time arithmetic is defined on
// (a rate's period fits a run's start times added to it, a stall ends
// within MaxDuration). The summary prose reads any consumer text.
func FuzzParseConsumer(f *testing.F) {
	for _, s := range []string{"drain", "never", "rate:4", "rate:0.5", "rate:1e6", "rate:1e-9", "rate:1e-10", "rate:5e-324",
		"rate:NaN", "rate:-Inf", "rate:0x1p-40", "stop-after:0", "stop-after:16", "stop-after:-1", "stop-after:9223372036854775808",
		"stall:10m-20m", "stall:0s-168h", "stall:0s-2562047h", "stall:-1ns-1s", "stall:1s-1s", "stall:", "rate:", ":", "drain:1", "\x1b[2J"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		c, err := spec.ParseConsumer(in)
		if err != nil {
			if !strings.Contains(err.Error(), "allowed") && !strings.Contains(err.Error(), "must be of the form") {
				t.Fatalf("%q: the error does not say what is allowed: %v", in, err)
			}
		} else {
			switch c.Kind {
			case clientmodel.Rate:
				if c.Period <= 0 || c.Period > time.Duration(1e18) {
					t.Fatalf("%q: period %d outside (0, 1e18] ns", in, c.Period)
				}
			case clientmodel.StopAfter:
				if c.K < 0 {
					t.Fatalf("%q: K %d", in, c.K)
				}
			case clientmodel.Stall:
				if c.From < 0 || c.To <= c.From || time.Duration(c.To) > spec.MaxDuration {
					t.Fatalf("%q: stall %d-%d", in, c.From, c.To)
				}
			}
		}
		s := spec.Spec{Name: "f", Duration: spec.Duration(time.Minute), Server: spec.ServerIdeal,
			Clients: spec.ClientsSpec{Count: 1, TTL: spec.Duration(10 * time.Second), Version: "v3.7.3", Consumer: in}}
		if sum := spec.Printable(s.Summary()); sum != s.Summary() {
			t.Fatalf("%q: the summary is not printable: %q", in, s.Summary())
		}
		if err == nil {
			if _, rerr := s.Resolve(); rerr != nil {
				t.Fatalf("%q: ParseConsumer accepts it, the validator does not: %v", in, rerr)
			}
		}
	})
}
