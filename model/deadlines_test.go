package model

import (
	"testing"

	"github.com/leasesim/leasesim/sim"
)

// The deadline ring keeps its entries in order across its growth and its
// wrap-around.
func TestDeadlineQueueKeepsOrder(t *testing.T) {
	var q deadlineQueue
	var ref []deadline
	next := int32(0)
	for step := range 5000 {
		if step%3 != 2 || q.len() == 0 { // push twice as often as drop
			d := deadline{at: sim.Time(next), slot: next}
			next++
			q.push(d)
			ref = append(ref, d)
		} else {
			k := 1 + step%min(q.len(), 7)
			k = min(k, q.len())
			q.drop(k)
			ref = ref[k:]
		}
		if q.len() != len(ref) {
			t.Fatalf("step %d: len %d, want %d", step, q.len(), len(ref))
		}
		for i := range ref {
			if q.at(i) != ref[i] {
				t.Fatalf("step %d: entry %d is %v, want %v", step, i, q.at(i), ref[i])
			}
		}
	}
}
