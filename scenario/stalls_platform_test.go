package scenario

import (
	"testing"
	"time"

	"github.com/leasesim/leasesim/sim"
	"github.com/leasesim/leasesim/spec"
)

// TestPlatformStalls: the stall process is the measured one (its rate over
// a long run, its lengths within the table's range), its stalls are in time
// order and apart, the same seed draws the same stalls, and an answer in a
// stall reaches its client one way after the stall's end, in order.
func TestPlatformStalls(t *testing.T) {
	p := spec.PlatformStallTables[spec.PlatformStallsQuiet]
	const run = 2000 * time.Second
	stalls := platformStalls(&p, 7, run)
	if again := platformStalls(&p, 7, run); len(again) != len(stalls) || again[len(again)-1] != stalls[len(stalls)-1] {
		t.Fatal("the same seed drew other stalls")
	}
	var total sim.Time
	for i, s := range stalls {
		if s.to <= s.from || (i > 0 && s.from <= stalls[i-1].to) {
			t.Fatalf("stall %d %+v after %+v: not in order and apart", i, s, stalls[i-1])
		}
		total += s.to - s.from
	}
	// Merging stalls that meet makes a few fewer, longer ones.
	if perS := float64(len(stalls)) / run.Seconds(); perS < 0.9*p.PerS || perS > 1.01*p.PerS {
		t.Errorf("%.2f stalls a second; the table's %.2f", perS, p.PerS)
	}
	mean := time.Duration(total) / time.Duration(len(stalls))
	if lo, hi := p.Lengths[0], p.Lengths[len(p.Lengths)-1]; mean < lo || mean > hi {
		t.Errorf("mean stall %v outside the table's %v-%v", mean, lo, hi)
	}
	s := &Sim{cfg: spec.Cluster{ClientRTT: 2 * time.Millisecond}, stalls: stalls}
	in := stalls[3]
	if got, want := s.answerAt(in.from), in.to+sim.Time(time.Millisecond); got != want {
		t.Errorf("an answer at a stall's start arrives at %v; want its end plus one way, %v", got, want)
	}
	if got, want := s.answerAt(in.to), in.to+sim.Time(time.Millisecond); got != want {
		t.Errorf("an answer at a stall's end arrives at %v; want %v", got, want)
	}
	if got, want := s.answerAt(in.from-1), in.from-1+sim.Time(time.Millisecond); got != want {
		t.Errorf("an answer before a stall arrives at %v; want %v", got, want)
	}
	if s.answerAt(in.to-1) > s.answerAt(in.to) {
		t.Error("an answer later in a stall arrives after one sent at its end")
	}
	if none := platformStalls(nil, 7, run); none != nil {
		t.Errorf("no stall process drew %d stalls", len(none))
	}
}
