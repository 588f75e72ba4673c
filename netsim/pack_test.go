package netsim

import (
	"testing"

	"pgregory.net/rapid"

	"github.com/leasesim/leasesim/sim"
)

// Every field of an Input survives the kernel's compact form.
func TestPackRoundTrips(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		in := Input{
			Kind: InputKind(rapid.Uint8().Draw(t, "kind")), Lost: rapid.Bool().Draw(t, "lost"), Err: rapid.Bool().Draw(t, "err"),
			Closed: rapid.Bool().Draw(t, "closed"), ErrStatus: rapid.Bool().Draw(t, "errstatus"), Read: rapid.Bool().Draw(t, "read"),
			From: rapid.Int8().Draw(t, "from"), To: rapid.Int8().Draw(t, "to"), Slot: rapid.Int32().Draw(t, "slot"),
			Client: rapid.Int32().Draw(t, "client"), Attempt: rapid.Uint32().Draw(t, "attempt"), Dial: rapid.Uint32().Draw(t, "dial"),
			TTL: rapid.Int64().Draw(t, "ttl"), Until: sim.Time(rapid.Int64().Draw(t, "until")),
		}
		m := in.Pack()
		if got := Unpack(&m); got != in {
			t.Fatalf("%+v came back as %+v", in, got)
		}
	})
}
