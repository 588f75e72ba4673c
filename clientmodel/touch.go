package clientmodel

// Touch reads a byte from each part of c's state and returns their sum,
// changing nothing: a wiring calls it for a batch of events before they are
// delivered (sim.Kernel.SetTouch), so that their cache misses overlap.
func (c *Client) Touch() byte {
	return byte(c.cfg.Rule) + byte(c.grants) + byte(c.stream) + byte(c.deadlineEpoch)
}
