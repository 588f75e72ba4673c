package properties

import (
	"fmt"
	"slices"
	"time"

	"pgregory.net/rapid"

	"github.com/leasesim/leasesim/model"
	"github.com/leasesim/leasesim/recorder"
	"github.com/leasesim/leasesim/spec"
)

// P6 (lease checkpointing, etcd 3.4+): a lease nobody renews, whose TTL is
// longer than model.CheckpointInterval, is revoked no earlier than its TTL
// after its grant, and no later than that plus P6Slack for each leader
// change during its life: a new leader restores the remaining TTL of the
// lease's last checkpoint, which is at most one interval old (plus 1 s of
// rounding up), after an election of at most the election timeout and
// Promote's extension by the election timeout; and plus one runLoop pass.
// Without checkpoints (model.MutantPromoteFullTTL, or checkpointing off)
// every leader change gives a full TTL again (kubernetes #65497), so a lease
// can outlive the bound by up to a TTL per change.
const P6Slack = model.CheckpointInterval + time.Second + 2*model.DefaultElectionTimeout

// GenP6 draws P6's scenarios: 1-50 grant-only leases (one key each) with a
// TTL of 301 s to 15 min, granted over up to a minute, on 3 members with
// lease checkpointing on; 1-4 leader changes at random instants within two
// TTLs, each election 1 ms to 1 s; 3 TTLs + 1 min of virtual time.
func GenP6() *rapid.Generator[spec.Spec] {
	return rapid.Custom(func(t *rapid.T) spec.Spec {
		ttl := rapid.Int64Range(301, 900).Draw(t, "ttl_s")
		s := spec.Spec{
			Name: "p6", Seed: rapid.Uint64Range(1, 1<<32).Draw(t, "seed"),
			Duration: spec.Duration((3*ttl + 60) * sec), Server: spec.ServerCluster,
			Clients: spec.ClientsSpec{Count: rapid.IntRange(1, 50).Draw(t, "leases"), TTL: spec.Duration(ttl * sec),
				Version: "v3.7.3", Consumer: "drain", Kind: spec.ClientGrantOnly,
				StartSpread: spec.Duration(rapid.Int64Range(0, 60).Draw(t, "spread_s") * sec)},
			Cluster: spec.ClusterSpec{Members: 3, Cores: 2, LeaseCheckpoint: true},
		}
		var at []int64
		for i := rapid.IntRange(1, 4).Draw(t, "changes"); i > 0; i-- {
			at = append(at, rapid.Int64Range(1, 2*ttl).Draw(t, "change_at_s"))
		}
		slices.Sort(at)
		leader := 0
		for i, a := range at {
			if i > 0 && a < at[i-1]+2 {
				a = at[i-1] + 2 // the previous election (at most 1 s) is over
				at[i] = a
			}
			leader = (leader + rapid.IntRange(1, 2).Draw(t, fmt.Sprintf("to_%d", i))) % 3 // another member
			s.Faults = append(s.Faults, spec.FaultSpec{At: spec.Duration(a * sec), Kind: spec.FaultLeaderChange, To: leader,
				Duration: spec.Duration(rapid.Int64Range(1, 1000).Draw(t, "election_ms")) * spec.Duration(time.Millisecond)})
		}
		return s
	})
}

// CheckP6 checks P6 on a run of s and its history (recorder.Op): every
// lease's revocation, or its absence by the end of the run.
func CheckP6(s spec.Spec, ops []recorder.Op) []string {
	var changes []time.Duration // when each election ends (Promote)
	for _, f := range s.Faults {
		if f.Kind == spec.FaultLeaderChange {
			changes = append(changes, (f.At + f.Duration).D())
		}
	}
	grant := map[int64]recorder.Op{}
	expired := map[int64]time.Duration{}
	for _, o := range ops {
		switch o.Kind {
		case recorder.OpGrant:
			grant[o.Lease] = o
		case recorder.OpExpire:
			expired[o.Lease] = time.Duration(o.Call)
		}
	}
	var bad []string
	for id := int64(1); id <= int64(len(grant)); id++ {
		g := grant[id]
		granted := time.Duration(g.Call)
		ttl := time.Duration(g.TTL) * time.Second
		at, ok := expired[id]
		end := s.Duration.D()
		if ok {
			end = at
		}
		n := 0
		for _, c := range changes {
			// A change at the grant's instant counts: its Promote may come after
			// the grant within that instant.
			if c >= granted && c <= end {
				n++
			}
		}
		latest := granted + ttl + time.Duration(n)*P6Slack + model.RevokeInterval
		switch {
		case ok && at < granted+ttl:
			bad = append(bad, fmt.Sprintf("lease %d (TTL %v, granted at %v) revoked at %v, before its TTL", id, ttl, granted, at))
		case ok && at > latest:
			bad = append(bad, fmt.Sprintf("lease %d (TTL %v, granted at %v) revoked at %v, after %v (%d leader change(s))", id, ttl, granted, at, latest, n))
		case !ok && latest < s.Duration.D():
			bad = append(bad, fmt.Sprintf("lease %d (TTL %v, granted at %v) still alive at the end, %v, past %v (%d leader change(s))", id, ttl, granted, s.Duration.D(), latest, n))
		}
	}
	return bad
}

// RunP6 runs s (a GenP6 scenario) with mutant and checks P6.
func RunP6(s spec.Spec, mutant model.Mutant) ([]string, error) {
	var ops []recorder.Op
	if _, err := RunCluster(s, func(o recorder.Op) { ops = append(ops, o) }, mutant); err != nil {
		return nil, err
	}
	return CheckP6(s, ops), nil
}
