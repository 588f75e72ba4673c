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
