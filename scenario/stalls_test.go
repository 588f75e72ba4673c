package scenario_test

import (
	"reflect"
	"runtime"
	"testing"

	"github.com/leasesim/leasesim/recorder"
	"github.com/leasesim/leasesim/scenario"
	"github.com/leasesim/leasesim/spec"
)

// cpuSeconds is the machine's CPU utilisation summed over the run.
func cpuSeconds(r recorder.Outcome) (sum float64) {
	for _, m := range r.Metrics {
		if m.Name == recorder.CPUUtilisation(0) {
			for _, v := range m.Values {
				sum += v
			}
		}
	}
	return sum
}

// stalls2core is calibrate's cluster (3 members in one process on 2 cores)
// at 1,800 renewals/s, with the given host load and GC switch.
func stalls2core(t *testing.T, background string, gc bool, spread ...bool) recorder.Outcome {
	t.Helper()
	s, err := spec.LoadBytes([]byte(`name: stalls
seed: 2
duration: 1m
server: cluster
clients: {count: 3600, ttl: 5s, version: v3.7.3, consumer: drain, start_spread: 2s}
cluster: {members: 3, cores: 2, shared_cpu: true}
`), "stalls.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s.Host.BackgroundCores, s.Cluster.GC = background, gc
	s.Cluster.ServiceSpread = len(spread) > 0 && spread[0]
	r, err := s.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	res, err := scenario.RunCluster(*r.Cluster, scenario.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// One core of other work on the machine turns 1,800 renewals/s that the
// quiet machine serves from its idle connection pool into a reconnect storm
// (seed 2); GC on adds the member's collector work to its CPU. The same
// scenario and seed give the same run at any GOMAXPROCS, the seeded
// uniform load and service-time spread included.
func TestBackgroundLoadAndGCOnTheSharedMachine(t *testing.T) {
	quiet, loaded := stalls2core(t, "", false), stalls2core(t, "1", false)
	if q, l := quiet.Peaks[recorder.NewPeerConnections], loaded.Peaks[recorder.NewPeerConnections]; q > 10 || l <= 10 {
		t.Errorf("new peer connections/s at peak: quiet %v, one core busy %v; want no storm, then a storm", q, l)
	}
	gc := stalls2core(t, "", true)
	if g, q := cpuSeconds(gc), cpuSeconds(quiet); !(g > q) {
		t.Errorf("CPU with GC %v, without %v: the collector's work should show", g, q)
	}
	a := stalls2core(t, "uniform:0-1.5/5s", true, true)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	if b := stalls2core(t, "uniform:0-1.5/5s", true, true); !reflect.DeepEqual(a, b) {
		t.Error("the same seed gave another run at GOMAXPROCS 1")
	}
}
