package sim

import (
	"crypto/sha256"
	"encoding/binary"
	"math/rand/v2"
)

// Rand is a deterministic random stream. Each component draws from its own
// stream, derived from the run's root seed and the stream's name, so that a new
// draw in one component never shifts the numbers another component sees.
//
// The generator is math/rand/v2's PCG, whose output for a given seed is part of
// Go's compatibility promise; the seed derivation is SHA-256, so it does not
// depend on Go's hash functions or on map order.
type Rand struct {
	*rand.Rand
	seed1, seed2 uint64
}

// NewRand returns the stream called name under root seed root.
func NewRand(root uint64, name string) *Rand {
	var buf [8]byte
	binary.LittleEndian.PutUint64(buf[:], root)
	h := sha256.New()
	h.Write(buf[:])
	h.Write([]byte(name))
	sum := h.Sum(nil)
	s1 := binary.LittleEndian.Uint64(sum[0:8])
	s2 := binary.LittleEndian.Uint64(sum[8:16])
	return &Rand{Rand: rand.New(rand.NewPCG(s1, s2)), seed1: s1, seed2: s2}
}

// Child derives a sub-stream, e.g. one per client from a "clients" stream,
// without drawing from r.
func (r *Rand) Child(name string) *Rand {
	return NewRand(r.seed1^r.seed2, name)
}
