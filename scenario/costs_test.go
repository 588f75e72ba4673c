package scenario_test

import (
	"context"
	"testing"
	"time"

	"github.com/leasesim/leasesim/recorder"
	"github.com/leasesim/leasesim/scenario"
	"github.com/leasesim/leasesim/spec"
)

// clusterSpec is a small valid cluster spec.
func clusterSpec() spec.Spec {
	return spec.Spec{
		Name: "p", Duration: spec.Duration(10 * time.Second), Server: spec.ServerCluster,
		Clients: spec.ClientsSpec{Count: 10, TTL: spec.Duration(5 * time.Second), Version: "v3.7.3", Consumer: "drain"},
		Cluster: spec.ClusterSpec{Members: 3, Cores: 2},
	}
}

// Idle CPU shows in every member's utilisation and takes its capacity: with
// no requests at all on the followers (clients on the leader, no TLS, no
// prober), a follower's utilisation is IdleCores / Cores in every bucket, and
// the leader's is that plus its renewals' work.
func TestIdleCoresInUtilisation(t *testing.T) {
	off := false
	s := clusterSpec()
	s.Clients.Placement = "leader"
	s.Cluster.Cores, s.Cluster.TLS, s.Cluster.Prober = 1, "off", &off
	s.Costs.IdleCores = new(0.5)
	o, err := scenario.Run(context.Background(), s, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, u := range o.Metric(recorder.CPUUtilisation(1)) {
		if u != 0.5 {
			t.Fatalf("follower utilisation in bucket %d: %v, want 0.5", i, u)
		}
	}
	s.Costs.IdleCores = new(0.0)
	quiet, err := scenario.Run(context.Background(), s, nil)
	if err != nil {
		t.Fatal(err)
	}
	busy, idle := quiet.Metric(recorder.CPUUtilisation(0)), o.Metric(recorder.CPUUtilisation(0))
	for i := range busy {
		if d := idle[i] - busy[i]; d < 0.5-1e-9 || d > 0.5+1e-9 {
			t.Fatalf("leader utilisation in bucket %d: %v with idle 0.5, %v without", i, idle[i], busy[i])
		}
	}
}
