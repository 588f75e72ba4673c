package model

import "github.com/leasesim/leasesim/sim"

// flagErr is Input.Err in Message.Flags.
const flagErr uint8 = 1

// Pack is in in the kernel's compact form: Kind, Small = Work, Flags = Err,
// From, A = Slot, B = Client, C = Attempt, D = Gen, X = TTL, Y = Until.
func (in Input) Pack() sim.Message {
	return sim.Message{Kind: uint8(in.Kind), Small: uint8(in.Work), Flags: sim.Flag(in.Err, flagErr), From: in.From,
		A: uint32(in.Slot), B: uint32(in.Client), C: in.Attempt, D: in.Gen, X: in.TTL, Y: int64(in.Until)}
}

// Unpack is the Input that Pack made m from.
func Unpack(m *sim.Message) Input {
	return Input{Kind: InputKind(m.Kind), Work: Work(m.Small), Err: m.Flags&flagErr != 0, From: m.From,
		Slot: int32(m.A), Client: int32(m.B), Attempt: m.C, Gen: m.D, TTL: m.X, Until: sim.Time(m.Y)}
}

// Pack is in in the kernel's compact form: Kind, Small = Msg.Kind, Flags =
// Msg.Reject, From = Msg.From, A = Msg.To, B = Member, X = Msg.Term, Y =
// Until.
func (in RaftInput) Pack() sim.Message {
	return sim.Message{Kind: uint8(in.Kind), Small: uint8(in.Msg.Kind), Flags: sim.Flag(in.Msg.Reject, flagErr), From: in.Msg.From,
		A: uint32(uint8(in.Msg.To)), B: uint32(uint8(in.Member)), X: int64(in.Msg.Term), Y: int64(in.Until)}
}

// UnpackRaft is the RaftInput that Pack made m from.
func UnpackRaft(m *sim.Message) RaftInput {
	return RaftInput{Kind: RaftInputKind(m.Kind), Member: int8(uint8(m.B)), Until: sim.Time(m.Y),
		Msg: RaftMsg{Kind: RaftMsgKind(m.Small), Reject: m.Flags&flagErr != 0, From: m.From, To: int8(uint8(m.A)), Term: uint64(m.X)}}
}
