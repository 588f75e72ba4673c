package netsim

import "github.com/leasesim/leasesim/sim"

// Input's booleans in Message.Flags.
const (
	flagErr uint8 = 1 << iota
	flagLost
	flagClosed
	flagErrStatus
	flagRead
)

// Pack is in in the kernel's compact form: Kind, Small = To, Flags = Err,
// Lost, Closed, ErrStatus, Read, From, A = Slot, B = Client, C = Attempt, D = Dial,
// X = TTL, Y = Until.
func (in Input) Pack() sim.Message {
	return sim.Message{Kind: uint8(in.Kind), Small: uint8(in.To), From: in.From,
		Flags: sim.Flag(in.Err, flagErr) | sim.Flag(in.Lost, flagLost) | sim.Flag(in.Closed, flagClosed) | sim.Flag(in.ErrStatus, flagErrStatus) | sim.Flag(in.Read, flagRead),
		A:     uint32(in.Slot), B: uint32(in.Client), C: in.Attempt, D: in.Dial, X: in.TTL, Y: int64(in.Until)}
}

// Unpack is the Input that Pack made m from.
func Unpack(m *sim.Message) Input {
	return Input{Kind: InputKind(m.Kind), To: int8(m.Small), From: m.From,
		Err: m.Flags&flagErr != 0, Lost: m.Flags&flagLost != 0, Closed: m.Flags&flagClosed != 0, ErrStatus: m.Flags&flagErrStatus != 0, Read: m.Flags&flagRead != 0,
		Slot: int32(m.A), Client: int32(m.B), Attempt: m.C, Dial: m.D, TTL: m.X, Until: sim.Time(m.Y)}
}
