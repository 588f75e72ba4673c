package scenario

import (
	"testing"
	"unsafe"

	"pgregory.net/rapid"

	"github.com/leasesim/leasesim/clientmodel"
	"github.com/leasesim/leasesim/model"
	"github.com/leasesim/leasesim/netsim"
	"github.com/leasesim/leasesim/sim"
)

// Every field of every component input survives the kernel's compact event.
func TestEventRoundTrips(t *testing.T) {
	if n := unsafe.Sizeof(event{}); n > 48 {
		t.Fatalf("event is %d bytes; the kernel copies it twice per event", n)
	}
	rapid.Check(t, func(t *rapid.T) {
		c := clientmodel.Input{
			Kind: clientmodel.InputKind(rapid.Uint8().Draw(t, "kind")), Timer: clientmodel.TimerKind(rapid.Uint8().Draw(t, "timer")),
			Gen: rapid.Uint32().Draw(t, "gen"), TTL: rapid.Int64().Draw(t, "ttl"),
			Consumer: clientmodel.ConsumerKind(rapid.Uint8Range(0, 127).Draw(t, "consumer")),
		}
		e := clientEvent(rapid.Int32().Draw(t, "client"), c)
		if got := e.clientInput(); got != c {
			t.Fatalf("client input %+v came back as %+v", c, got)
		}
		m := model.Input{
			Kind: model.InputKind(rapid.Uint8().Draw(t, "mkind")), Work: model.Work(rapid.Uint8().Draw(t, "work")),
			Err: rapid.Bool().Draw(t, "err"), From: rapid.Int8().Draw(t, "from"), Slot: rapid.Int32().Draw(t, "slot"),
			Client: rapid.Int32().Draw(t, "mclient"), Attempt: rapid.Uint32().Draw(t, "attempt"), Gen: rapid.Uint32().Draw(t, "mgen"),
			TTL: rapid.Int64().Draw(t, "mttl"), Until: sim.Time(rapid.Int64().Draw(t, "muntil")),
		}
		e = memberEvent(rapid.Int32().Draw(t, "member"), m)
		if got := e.memberInput(); got != m {
			t.Fatalf("member input %+v came back as %+v", m, got)
		}
		n := netsim.Input{
			Kind: netsim.InputKind(rapid.Uint8().Draw(t, "nkind")), Lost: rapid.Bool().Draw(t, "lost"), Err: rapid.Bool().Draw(t, "nerr"),
			Closed: rapid.Bool().Draw(t, "closed"), ErrStatus: rapid.Bool().Draw(t, "notleader"),
			From: rapid.Int8().Draw(t, "nfrom"), To: rapid.Int8().Draw(t, "to"), Slot: rapid.Int32().Draw(t, "nslot"),
			Client: rapid.Int32().Draw(t, "nclient"), Attempt: rapid.Uint32().Draw(t, "nattempt"), Dial: rapid.Uint32().Draw(t, "dial"),
			TTL: rapid.Int64().Draw(t, "nttl"), Until: sim.Time(rapid.Int64().Draw(t, "until")),
		}
		e = netEvent(n)
		if got := e.netInput(); got != n {
			t.Fatalf("network input %+v came back as %+v", n, got)
		}
		r := model.RaftInput{
			Kind: model.RaftInputKind(rapid.Uint8().Draw(t, "rkind")), Member: rapid.Int8().Draw(t, "rmember"),
			Until: sim.Time(rapid.Int64().Draw(t, "runtil")),
			Msg: model.RaftMsg{Kind: model.RaftMsgKind(rapid.Uint8().Draw(t, "msg")), Reject: rapid.Bool().Draw(t, "reject"),
				From: rapid.Int8().Draw(t, "rfrom"), To: rapid.Int8().Draw(t, "rto"), Term: rapid.Uint64().Draw(t, "term")},
		}
		e = raftEvent(r)
		if got := e.raftInput(); got != r {
			t.Fatalf("raft input %+v came back as %+v", r, got)
		}
	})
}
