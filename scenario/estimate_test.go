package scenario_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/leasesim/leasesim/scenario"
	"github.com/leasesim/leasesim/spec"
)

// The estimate bounds what a run costs: keepalives at least what the run sent,
// events and memory within a factor of 3 of what it used.
func TestEstimateBoundsARun(t *testing.T) {
	for _, version := range []string{"v3.7.3", "v3.2.23"} {
		s := spec.Spec{Name: "estimate", Seed: 1, Duration: spec.Duration(2 * time.Minute), Server: spec.ServerCluster,
			Clients: spec.ClientsSpec{Count: 20000, TTL: spec.Duration(10 * time.Second), Version: version, Consumer: "never",
				StartSpread: spec.Duration(10 * time.Second)},
			Cluster: spec.ClusterSpec{Members: 3, Cores: 64}}
		r, err := s.Resolve()
		if err != nil {
			t.Fatal(err)
		}
		e := r.Estimate()
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		o, err := scenario.Run(context.Background(), s, nil)
		if err != nil {
			t.Fatal(err)
		}
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		used := after.TotalAlloc - before.TotalAlloc // allocated in all: at least the peak
		if o.Summary.RenewalsTotal > e.Renewals {
			t.Errorf("%s: %d keepalives, estimate %d", version, o.Summary.RenewalsTotal, e.Renewals)
		}
		if o.Events > 3*e.Events || 3*o.Events < e.Events {
			t.Errorf("%s: %d events, estimate %d", version, o.Events, e.Events)
		}
		if e.Bytes < used/3 {
			t.Errorf("%s: allocated %d bytes, estimate %d", version, used, e.Bytes)
		}
		t.Logf("%s: %d keepalives, %d events, %d bytes allocated; estimate %v", version, o.Summary.RenewalsTotal, o.Events, used, e)
	}
}
