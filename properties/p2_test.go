package properties

import (
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/leasesim/leasesim/model"
	"github.com/leasesim/leasesim/spec"
	"gopkg.in/yaml.v3"
)

// maxLeaderCPU is P2's precondition as checked after each run: the initial
// leader's busiest one-second bucket stays below it.
const maxLeaderCPU = 0.9

func specYAML(s spec.Spec) string {
	b, err := yaml.Marshal(s)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// P2: fixed clients, enough capacity: no lease ever expires, whatever the
// consumer does. Budget: 500 cluster scenarios of up to 2,000 clients and 4 min.
func TestP2NoExpiryWithCapacity(t *testing.T) {
	gen := GenCluster(ClusterGen{MaxClients: 2000, Headroom: 4})
	var wall time.Duration
	var runs, big int
	var clients, events uint64
	var peak float64
	withChecks(t, 500, func() {
		rapid.Check(t, func(rt *rapid.T) {
			s := gen.Draw(rt, "spec")
			r, err := RunCluster(s, nil, model.MutantNone)
			if err != nil {
				rt.Fatal(err)
			}
			wall += r.Wall
			runs++
			clients += uint64(s.Clients.Count)
			events += r.Events
			if s.Clients.Count >= 500 {
				big++
			}
			peak = max(peak, r.LeaderCPUPeak)
			if r.LeaderCPUPeak >= maxLeaderCPU {
				rt.Fatalf("precondition broken (generator): leader CPU peaks at %.2f\n%s", r.LeaderCPUPeak, specYAML(s))
			}
			if r.Expired != 0 {
				rt.Fatalf("P2 fails: %d leases expired (first at %vs), leader CPU peak %.2f mean %.2f\n%s",
					r.Expired, *r.FirstExpiry, r.LeaderCPUPeak, r.LeaderCPUMean, specYAML(s))
			}
		})
	})
	t.Logf("%d runs (%d with >= 500 clients, %d clients and %d events in all), simulation wall time %v; highest leader CPU bucket %.2f",
		runs, big, clients, events, wall.Round(time.Millisecond), peak)
}

// P2's check has teeth: the fixed client on a leader with a tenth of a core
// (the precondition broken) loses leases, and the same scenario with the
// cores CoresFor gives does not.
func TestP2Teeth(t *testing.T) {
	s := spec.Spec{
		Name: "teeth", Seed: 7, Duration: spec.Duration(2 * time.Minute), Server: spec.ServerCluster,
		Clients: spec.ClientsSpec{Count: 2000, TTL: spec.Duration(5 * time.Second), Version: "v3.7.3", Consumer: "never", StartSpread: spec.Duration(10 * time.Second)},
		Cluster: spec.ClusterSpec{Members: 3, TLS: "rsa"},
	}
	s.Cluster.Cores = CoresFor(s.Clients.Count, s.Clients.TTL.D(), s.Clients.StartSpread.D(), "rsa", 4)
	r, err := RunCluster(s, nil, model.MutantNone)
	if err != nil || r.Expired != 0 {
		t.Fatalf("fixed client, %v cores: %d leases expired, %v", s.Cluster.Cores, r.Expired, err)
	}
	t.Logf("fixed, %v cores: no lease expired, leader CPU peak %.2f", s.Cluster.Cores, r.LeaderCPUPeak)
	s.Cluster.Cores = 0.1
	if r, err = RunCluster(s, nil, model.MutantNone); err != nil {
		t.Fatal(err)
	}
	t.Logf("fixed, 0.1 cores: %d leases expired, leader CPU peak %.2f", r.Expired, r.LeaderCPUPeak)
	if r.Expired == 0 {
		t.Error("an overloaded leader loses no lease: P2's check could not fail")
	}
}
