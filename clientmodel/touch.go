package clientmodel

// Touch reads a byte from each part of c's state and returns their sum,
// changing nothing: a wiring calls it for a batch of events before they are
// delivered (sim.Kernel.SetTouch), so that their cache misses overlap.
func (c *Client) Touch() byte {
	return byte(c.grants) + byte(c.deadlineEpoch) + byte(c.cfg.Rule)
}
