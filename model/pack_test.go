package model

import (
	"testing"

	"pgregory.net/rapid"

	"github.com/leasesim/leasesim/sim"
)

// Every field of an Input survives the kernel's compact form.
func TestPackRoundTrips(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		in := Input{
			Kind: InputKind(rapid.Uint8().Draw(t, "kind")), Work: Work(rapid.Uint8().Draw(t, "work")),
			Err: rapid.Bool().Draw(t, "err"), From: rapid.Int8().Draw(t, "from"), Slot: rapid.Int32().Draw(t, "slot"),
			Client: rapid.Int32().Draw(t, "client"), Attempt: rapid.Uint32().Draw(t, "attempt"), Gen: rapid.Uint32().Draw(t, "gen"),
			TTL: rapid.Int64().Draw(t, "ttl"), Until: sim.Time(rapid.Int64().Draw(t, "until")),
		}
		m := in.Pack()
		if got := Unpack(&m); got != in {
			t.Fatalf("%+v came back as %+v", in, got)
		}
	})
}

// Every field of a RaftInput survives the kernel's compact form.
func TestRaftPackRoundTrips(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		in := RaftInput{
			Kind: RaftInputKind(rapid.Uint8().Draw(t, "kind")), Member: rapid.Int8().Draw(t, "member"),
			Until: sim.Time(rapid.Int64().Draw(t, "until")),
			Msg: RaftMsg{Kind: RaftMsgKind(rapid.Uint8().Draw(t, "msg")), Reject: rapid.Bool().Draw(t, "reject"),
				From: rapid.Int8().Draw(t, "from"), To: rapid.Int8().Draw(t, "to"), Term: rapid.Uint64().Draw(t, "term")},
		}
		m := in.Pack()
		if got := UnpackRaft(&m); got != in {
			t.Fatalf("%+v came back as %+v", in, got)
		}
	})
}
