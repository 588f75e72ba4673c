package clientmodel

import (
	"testing"

	"pgregory.net/rapid"
)

// Every field of an Input survives the kernel's compact form.
func TestPackRoundTrips(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		in := Input{
			Kind: InputKind(rapid.Uint8().Draw(t, "kind")), Timer: TimerKind(rapid.Uint8().Draw(t, "timer")),
			Gen: rapid.Uint32().Draw(t, "gen"), Lease: rapid.Uint32().Draw(t, "lease"), TTL: rapid.Int64().Draw(t, "ttl"),
			Consumer: ConsumerKind(rapid.Uint8Range(0, 127).Draw(t, "consumer")),
		}
		m := in.Pack()
		if got := Unpack(&m); got != in {
			t.Fatalf("%+v came back as %+v", in, got)
		}
	})
}
