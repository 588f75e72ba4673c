package netsim

// Touch reads the state of stream slot's forward from member from and
// returns a byte of it, changing nothing: the wiring calls it for a batch of
// events before they are delivered (sim.Kernel.SetTouch), so that their
// cache misses overlap. Out-of-range arguments read nothing.
func (n *Network) Touch(from int8, slot int32) byte {
	if uint(from) < uint(len(n.forwards)) && uint(slot) < uint(len(n.forwards[from])) {
		return byte(n.forwards[from][slot].attempt)
	}
	return 0
}
