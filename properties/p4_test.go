package properties

import (
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/leasesim/leasesim/model"
	"github.com/leasesim/leasesim/spec"
)

// P4: with Promote, no lease expires across leader changes whose elections
// are shorter than the election timeout (1 s), for fixed clients on enough
// capacity. Budget: 500 cluster scenarios with 1-3 leader changes (2-7 members).
func TestP4LeaderChangeNoExpiry(t *testing.T) {
	gen := GenCluster(ClusterGen{MaxClients: 2000, Headroom: 4, LeaderChanges: 3})
	var changes, runs int
	var wall time.Duration
	withChecks(t, 500, func() {
		rapid.Check(t, func(rt *rapid.T) {
			s := gen.Draw(rt, "spec")
			r, err := RunCluster(s, nil, model.MutantNone)
			if err != nil {
				rt.Fatal(err)
			}
			runs++
			changes += len(s.Faults)
			wall += r.Wall
			if r.Expired != 0 {
				rt.Fatalf("P4 fails: %d leases expired (first at %vs) across %d leader change(s)\n%s", r.Expired, *r.FirstExpiry, len(s.Faults), specYAML(s))
			}
		})
	})
	t.Logf("%d runs, %d leader changes in all, simulation wall time %v", runs, changes, wall.Round(time.Millisecond))
}

// P4's check has teeth: the same cluster loses leases when the election takes
// 3 x TTL (the clients' own deadlines pass while no leader answers, so they
// stop renewing, and the leases expire after Promote), or when the leader's
// CPU stalls for 3 x TTL.
func TestP4Teeth(t *testing.T) {
	base := spec.Spec{
		Name: "teeth", Seed: 3, Duration: spec.Duration(2 * time.Minute), Server: spec.ServerCluster,
		Clients: spec.ClientsSpec{Count: 300, TTL: spec.Duration(5 * time.Second), Version: "v3.7.3", Consumer: "drain"},
		Cluster: spec.ClusterSpec{Members: 3, Cores: 2, TLS: "off"},
	}
	for _, c := range []struct {
		name  string
		fault spec.FaultSpec
		want  bool // leases expire
	}{
		{"election 900ms", spec.FaultSpec{At: spec.Duration(30 * time.Second), Kind: "leader-change", To: 1, Duration: spec.Duration(900 * time.Millisecond)}, false},
		{"election 15s", spec.FaultSpec{At: spec.Duration(30 * time.Second), Kind: "leader-change", To: 1, Duration: spec.Duration(15 * time.Second)}, true},
		{"leader stall 15s", spec.FaultSpec{At: spec.Duration(30 * time.Second), Kind: "leader-stall", Duration: spec.Duration(15 * time.Second)}, true},
	} {
		s := base
		s.Faults = []spec.FaultSpec{c.fault}
		r, err := RunCluster(s, nil, model.MutantNone)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d leases expired", c.name, r.Expired)
		if (r.Expired > 0) != c.want {
			t.Errorf("%s: %d leases expired, want expiries: %v", c.name, r.Expired, c.want)
		}
	}
}
