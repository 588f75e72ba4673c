package sim

// Message is a component's input in the kernel's compact form. The kernel
// copies every payload it holds twice, so a simulation whose components
// have different typed inputs carries them in one small type: each component
// packs its input into a Message (its Input's Pack) and unpacks it on
// delivery; the packing is lossless, and each component's round-trip test
// says so. The fields are named by position: each component documents which
// of its input's fields goes where.
type Message struct {
	Kind  uint8 // the component's input kind
	Small uint8 // a small enum (a timer kind, a work kind, a member)
	Flags uint8 // the input's booleans
	From  int8
	A, B  uint32
	C, D  uint32
	X, Y  int64
}

// Flag is f if b, else 0: for packing booleans into Message.Flags.
func Flag(b bool, f uint8) uint8 {
	if b {
		return f
	}
	return 0
}
