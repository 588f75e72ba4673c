package scenario

import (
	"testing"
	"time"

	"github.com/leasesim/leasesim/sim"
	"github.com/leasesim/leasesim/spec"
)

// TestPlatformStalls: the stall process is the measured one (its rate over
// a long run, its lengths within the table's range), its stalls are in time
// order and apart, the same seed draws the same stalls, and a stall stops
// the members' process: at its start their CPU has at least the stall's
// length of work ahead of anything new.
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
	if none := platformStalls(nil, 7, run); none != nil {
		t.Errorf("no stall process drew %d stalls", len(none))
	}

	sp := spec.Spec{Name: "stalls", Seed: 3, Duration: spec.Duration(20 * time.Second), Server: spec.ServerCluster,
		Clients: spec.ClientsSpec{Count: 10, TTL: spec.Duration(10 * time.Second), Version: "v3.7.3", Consumer: "drain"},
		Cluster: spec.ClusterSpec{Members: 3, Cores: 2, SharedCPU: true, PlatformStalls: spec.PlatformStallsQuiet}}
	r, err := sp.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	s, err := StartCluster(*r.Cluster, Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.stalls) == 0 {
		t.Fatal("no stalls in 20 s")
	}
	first := s.stalls[0]
	if err := s.Advance(time.Duration(first.from) + time.Microsecond); err != nil {
		t.Fatal(err)
	}
	if got, want := s.members[0].CPU().Backlog(s.k.Now()), time.Duration(first.to-s.k.Now()); got < want {
		t.Errorf("%v into a %v stall the members' CPU has %v of work ahead; want at least %v", time.Microsecond, time.Duration(first.to-first.from), got, want)
	}
}
