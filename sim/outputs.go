package sim

// Outputs are one component's output buffers, one per depth of a depth-first
// routing: the wiring steps a component into Push's buffer, and an output
// that is another component's input is applied (which may step the first
// component again, one level deeper) before the next output is routed, as a
// function call would. Pop hands the buffer back for reuse, so a run
// allocates a buffer per depth once.
type Outputs[O any] struct {
	bufs  [][]O
	depth int
}

// Push returns the next depth's buffer, empty.
func (b *Outputs[O]) Push() []O {
	if b.depth == len(b.bufs) {
		b.bufs = append(b.bufs, nil)
	}
	b.depth++
	return b.bufs[b.depth-1][:0]
}

// Pop returns out, the buffer Push gave (grown as the component needed), for reuse.
func (b *Outputs[O]) Pop(out []O) { b.depth--; b.bufs[b.depth] = out }
