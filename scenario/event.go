package scenario

import (
	"github.com/leasesim/leasesim/clientmodel"
	"github.com/leasesim/leasesim/model"
	"github.com/leasesim/leasesim/netsim"
	"github.com/leasesim/leasesim/sim"
)

// target names the component an event is for.
type target uint8

const (
	toClient  target = iota // index: the client (a clientmodel.Input)
	toMember                // index: the member (a model.Input)
	toNetwork               // the netsim.Network (a netsim.Input)
	toRevoke                // the leader lessor's runLoop pass
	toFault                 // index: the scenario's fault
	toElected               // index: the election's winner
	toSample                // the end of a metrics bucket
	toRaft                  // the cluster's raft (a model.RaftInput; cluster.raft)
)

// event is one kernel event: a message for one component. The kernel copies
// every event it holds twice, so the message travels in one compact form —
// 48 bytes, where the three components' typed inputs side by side would take
// 112 — and is converted back to its component's typed input on delivery.
// Each conversion is lossless (TestEventRoundTrips).
type event struct {
	to    target
	kind  uint8 // the component's input kind
	flags uint8 // its booleans
	small uint8 // a small enum (timer kind, work kind, the network's To)
	from  int8  // a member (or the client's consumer kind)
	index int32
	a     uint32
	b     uint32
	c     uint32
	d     uint32
	x, y  int64
}

const (
	flagErr uint8 = 1 << iota
	flagLost
	flagClosed
	flagErrStatus
)

func flagIf(b bool, f uint8) uint8 {
	if b {
		return f
	}
	return 0
}

func clientEvent(client int32, in clientmodel.Input) event {
	return event{to: toClient, index: client, kind: uint8(in.Kind), small: uint8(in.Timer), from: int8(in.Consumer), a: in.Gen, x: in.TTL}
}

func (e *event) clientInput() clientmodel.Input {
	return clientmodel.Input{Kind: clientmodel.InputKind(e.kind), Timer: clientmodel.TimerKind(e.small),
		Consumer: clientmodel.ConsumerKind(e.from), Gen: e.a, TTL: e.x}
}

func memberEvent(member int32, in model.Input) event {
	return event{to: toMember, index: member, kind: uint8(in.Kind), small: uint8(in.Work), flags: flagIf(in.Err, flagErr),
		from: in.From, a: uint32(in.Slot), b: uint32(in.Client), c: in.Attempt, d: in.Gen, x: in.TTL, y: int64(in.Until)}
}

func (e *event) memberInput() model.Input {
	return model.Input{Kind: model.InputKind(e.kind), Work: model.Work(e.small), Err: e.flags&flagErr != 0,
		From: e.from, Slot: int32(e.a), Client: int32(e.b), Attempt: e.c, Gen: e.d, TTL: e.x, Until: sim.Time(e.y)}
}

func netEvent(in netsim.Input) event {
	return event{to: toNetwork, kind: uint8(in.Kind), small: uint8(in.To), from: in.From,
		flags: flagIf(in.Err, flagErr) | flagIf(in.Lost, flagLost) | flagIf(in.Closed, flagClosed) | flagIf(in.ErrStatus, flagErrStatus),
		a:     uint32(in.Slot), b: uint32(in.Client), c: in.Attempt, d: in.Dial, x: in.TTL, y: int64(in.Until)}
}

func (e *event) netInput() netsim.Input {
	return netsim.Input{Kind: netsim.InputKind(e.kind), To: int8(e.small), From: e.from,
		Err: e.flags&flagErr != 0, Lost: e.flags&flagLost != 0, Closed: e.flags&flagClosed != 0, ErrStatus: e.flags&flagErrStatus != 0,
		Slot: int32(e.a), Client: int32(e.b), Attempt: e.c, Dial: e.d, TTL: e.x, Until: sim.Time(e.y)}
}

func raftEvent(in model.RaftInput) event {
	return event{to: toRaft, kind: uint8(in.Kind), index: int32(in.Member), small: uint8(in.Msg.Kind),
		flags: flagIf(in.Msg.Reject, flagErr), from: in.Msg.From, a: uint32(uint8(in.Msg.To)), x: int64(in.Msg.Term), y: int64(in.Until)}
}

func (e *event) raftInput() model.RaftInput {
	return model.RaftInput{Kind: model.RaftInputKind(e.kind), Member: int8(e.index), Until: sim.Time(e.y),
		Msg: model.RaftMsg{Kind: model.RaftMsgKind(e.small), Reject: e.flags&flagErr != 0, From: e.from, To: int8(uint8(e.a)), Term: uint64(e.x)}}
}
