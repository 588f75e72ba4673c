package scenario_test

import (
	"reflect"
	"runtime"
	"testing"
	"time"

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
	return stalls2coreWith(t, func(s *spec.Spec) {
		s.Host.BackgroundCores, s.Cluster.GC = background, gc
		s.Cluster.ServiceSpread = len(spread) > 0 && spread[0]
	})
}

// stalls2coreWith is that cluster, changed by change.
func stalls2coreWith(t *testing.T, change func(*spec.Spec)) recorder.Outcome {
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
	change(&s)
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

// With processor sharing the members' cores serve the same requests in
// another order: on the quiet machine nothing queues for long, so every
// renewal still happens and the CPU does the same work (the wiring charges
// every job, the handshakes' too, and delivers what follows each: a dial
// whose TLS work were lost would never connect, and its forwards never
// renew), only not at the same instants.
//
// With one core busy the order matters. The clients start over 2 s and the
// followers dial the leader as their first forwards come: on a FIFO the
// first handshake ends one handshake's work after it starts and its
// connection serves the forwards queued behind it; shared, the handshakes
// in progress all end together, late, every forward that arrives meanwhile
// dials one more, and the pool never warms up: a storm the FIFO does not
// have. (Go's scheduler runs a handshake's RSA signature, ~1 ms, as one
// burst, so this is the bound on the stormy side; see model/share.go.)
func TestProcessorSharingOnTheSharedMachine(t *testing.T) {
	fifo := stalls2core(t, "", false)
	ps := stalls2coreWith(t, func(s *spec.Spec) { s.Cluster.ProcessorSharing = true })
	if f, p := fifo.Summary.RenewalsTotal, ps.Summary.RenewalsTotal; f != p {
		t.Errorf("renewals: FIFO %d, shared %d; want the same", f, p)
	}
	if f, p := cpuSeconds(fifo), cpuSeconds(ps); p < f*0.999 || p > f*1.001 {
		t.Errorf("CPU work: FIFO %v, shared %v; want the same within 0.1 %%", f, p)
	}
	if f, p := fifo.Peaks[recorder.NewPeerConnections], ps.Peaks[recorder.NewPeerConnections]; f == 0 || p == 0 {
		t.Errorf("new peer connections/s at peak: FIFO %v, shared %v; want the first dials in both", f, p)
	}
	busy := func(sharing bool) recorder.Outcome {
		return stalls2coreWith(t, func(s *spec.Spec) {
			s.Host.BackgroundCores, s.Cluster.ProcessorSharing = "1", sharing
			s.Duration = spec.Duration(10 * time.Second)
		})
	}
	if f, p := busy(false).Peaks[recorder.NewPeerConnections], busy(true).Peaks[recorder.NewPeerConnections]; p < 10*f {
		t.Errorf("one core busy, first 10 s, new peer connections/s at peak: FIFO %v, shared %v; want a storm ten times the size", f, p)
	}
}

// A follower that reads the leader's answer on its CPU before pooling the
// connection (cluster.follower_answer_share) does the same work in all, in
// two parts: on the quiet machine every renewal happens and the CPU is the
// same. The connection is busy for longer, so the pool is not smaller.
func TestFollowerAnswerSplitsTheFollowersWork(t *testing.T) {
	whole := stalls2core(t, "", false)
	split := stalls2coreWith(t, func(s *spec.Spec) { s.Cluster.FollowerAnswerShare = 0.5 })
	if w, p := whole.Summary.RenewalsTotal, split.Summary.RenewalsTotal; w != p {
		t.Errorf("renewals: whole %d, split %d; want the same", w, p)
	}
	if w, p := cpuSeconds(whole), cpuSeconds(split); p < w*0.999 || p > w*1.001 {
		t.Errorf("CPU work: whole %v, split %v; want the same within 0.1 %%", w, p)
	}
	if w, p := whole.Peaks[recorder.PeerEstablished], split.Peaks[recorder.PeerEstablished]; p < w {
		t.Errorf("peak ESTABLISHED: whole %v, split %v; want at least as many", w, p)
	}
}
