package netsim

import (
	"time"

	"github.com/leasesim/leasesim/sim"
)

// TimeWaits counts sockets in TIME-WAIT on one side of a member pair; each
// leaves TIME-WAIT TimeWait after its side closed first.
type TimeWaits struct {
	q   []twEntry // expiry order (closes are recorded in time order)
	n   int
	len time.Duration
}

type twEntry struct {
	until sim.Time
	n     int
}

// Add records n sockets closed first by this side at now.
func (t *TimeWaits) Add(now sim.Time, n int) {
	if n <= 0 {
		return
	}
	if t.len == 0 {
		t.len = TimeWait
	}
	until := now + sim.Time(t.len)
	if k := len(t.q); k > 0 && t.q[k-1].until == until {
		t.q[k-1].n += n
	} else {
		t.q = append(t.q, twEntry{until, n})
	}
	t.n += n
}

// Count returns how many are in TIME-WAIT at now.
func (t *TimeWaits) Count(now sim.Time) int {
	i := 0
	for i < len(t.q) && t.q[i].until <= now {
		t.n -= t.q[i].n
		i++
	}
	if i > 0 {
		t.q = append(t.q[:0], t.q[i:]...)
	}
	return t.n
}
