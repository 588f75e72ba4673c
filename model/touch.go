package model

// TouchStream reads stream slot's state and lease's entry in the lessor
// and returns a byte of them, changing nothing: the wiring calls it for a
// batch of events before they are delivered (sim.Kernel.SetTouch), so that
// their cache misses overlap. Out-of-range arguments read nothing.
func (m *Member) TouchStream(slot, lease int32) byte {
	var b byte
	if uint(slot) < uint(len(m.streams)) {
		b = byte(m.streams[slot].queue)
	}
	return b + m.lessor.Touch(lease)
}

// Touch reads lease's entry and returns a byte of it, changing nothing (see
// Member.TouchStream).
func (l *Lessor) Touch(lease int32) byte {
	if uint(lease) < uint(len(l.leases)) {
		return byte(l.leases[lease].n)
	}
	return 0
}
