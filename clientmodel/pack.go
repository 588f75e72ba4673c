package clientmodel

import "github.com/leasesim/leasesim/sim"

// Pack is in in the kernel's compact form: Kind, Small = Timer, From =
// Consumer, A = Gen, B = Lease, X = TTL.
func (in Input) Pack() sim.Message {
	return sim.Message{Kind: uint8(in.Kind), Small: uint8(in.Timer), From: int8(in.Consumer), A: in.Gen, B: in.Lease, X: in.TTL}
}

// Unpack is the Input that Pack made m from.
func Unpack(m *sim.Message) Input {
	return Input{Kind: InputKind(m.Kind), Timer: TimerKind(m.Small), Consumer: ConsumerKind(m.From), Gen: m.A, Lease: m.B, TTL: m.X}
}
