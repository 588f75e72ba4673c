package properties

import (
	"fmt"
	"time"

	"pgregory.net/rapid"

	"github.com/leasesim/leasesim/model"
	"github.com/leasesim/leasesim/recorder"
	"github.com/leasesim/leasesim/spec"
)

// P8 (etcd #15247/#12528): no revoke is ever issued by a deposed leader. A
// leader deposed while its raft loop is blocked in fdatasync keeps its
// lessor primary until the loop runs again (model.Member's deposed lessor);
// its table misses every renewal the new leader takes, so the leases it
// finds expired are alive, and a revoke it issues would delete a lease the
// cluster had just renewed. In the history (recorder.Op) that shows as: a
// lease revoked (OpExpire at t) sooner than its TTL after a keepalive the
// cluster acknowledged (an OpKeepAlive with TTL > 0 sent at c, t < c + TTL;
// the renewal happened at c or later, so an honest lessor's expiry is
// c + TTL or later, and a new leader's Promote only extends it). On the
// releases with the fix (EtcdVersion.RevokeChecksLeadership: 3.4.31+,
// 3.5.13+, 3.6+) P8 holds; on earlier ones it fails (that is the bug:
// spec/builtin/lease-deposed-leader.yaml), and so it does with
// model.MutantDeposedRevoke, which skips the leadership check.
//
// GenP8 draws P8's scenarios: 1-100 clients (v3.7.3, draining), TTL 2-30 s,
// started over up to 10 s, placed round-robin, on the followers or on the
// leader; 3 or 5 members with raft simulated, on a fixed release; one
// fsync-stall of the leader at 5-40 s lasting 100 ms to 40 s; the run lasts
// until two TTLs and 10 s after the stall.
func GenP8() *rapid.Generator[spec.Spec] {
	return rapid.Custom(func(t *rapid.T) spec.Spec {
		ttl := rapid.Int64Range(2, 30).Draw(t, "ttl_s")
		at := rapid.Int64Range(5_000, 40_000).Draw(t, "stall_at_ms")
		d := rapid.Int64Range(100, 40_000).Draw(t, "stall_ms")
		ms := int64(time.Millisecond)
		s := spec.Spec{
			Name: "p8", Seed: rapid.Uint64Range(1, 1<<32).Draw(t, "seed"),
			Duration: spec.Duration((at+d)*ms + (2*ttl+10)*sec), Server: spec.ServerCluster,
			Clients: spec.ClientsSpec{Count: rapid.IntRange(1, 100).Draw(t, "clients"), TTL: spec.Duration(ttl * sec),
				Version: "v3.7.3", Consumer: "drain",
				StartSpread: spec.Duration(rapid.Int64Range(0, 10).Draw(t, "spread_s") * sec),
				Placement:   rapid.SampledFrom([]string{"round-robin", "followers", "leader"}).Draw(t, "placement")},
			Cluster: spec.ClusterSpec{Members: rapid.SampledFrom([]int{3, 5}).Draw(t, "members"), Cores: 4, Raft: true,
				EtcdVersion: rapid.SampledFrom([]string{"3.4.31", "3.5.13", "3.5.21", "3.6.0", "3.7.3"}).Draw(t, "etcd")},
			Faults: []spec.FaultSpec{{At: spec.Duration(at * ms), Kind: spec.FaultFsyncStall, Duration: spec.Duration(d * ms)}},
		}
		return s
	})
}

// CheckP8 checks P8 on a history: each lease revoked sooner than its TTL
// after a keepalive the cluster acknowledged (one violation per revocation).
// The acknowledgement may come after the revocation (the renewal happened
// before it: a renewal after it finds no lease and answers TTL 0), so every
// keepalive sent before the revocation counts.
func CheckP8(ops []recorder.Op) []string {
	ttl := map[int64]int64{}
	acks := map[int64][]int64{} // per lease, the send times of its acknowledged keepalives
	for _, o := range ops {
		switch o.Kind {
		case recorder.OpGrant:
			ttl[o.Lease] = o.TTL
		case recorder.OpKeepAlive:
			if o.TTL > 0 {
				acks[o.Lease] = append(acks[o.Lease], o.Call)
			}
		}
	}
	var bad []string
	for _, o := range ops {
		if o.Kind != recorder.OpExpire {
			continue
		}
		c, ok := int64(0), false
		for _, a := range acks[o.Lease] {
			if a < o.Call && (!ok || a > c) {
				c, ok = a, true
			}
		}
		if alive := c + ttl[o.Lease]*int64(time.Second); ok && o.Call < alive {
			bad = append(bad, fmt.Sprintf("lease %d (TTL %ds) revoked at %v, %v before its TTL ran out after the keepalive sent at %v that the cluster acknowledged: a revoke from a lessor that missed that renewal (a deposed leader's)",
				o.Lease, ttl[o.Lease], time.Duration(o.Call), time.Duration(alive-o.Call), time.Duration(c)))
		}
	}
	return bad
}

// RunP8 runs s (a GenP8 scenario) with mutant and checks P8.
func RunP8(s spec.Spec, mutant model.Mutant) ([]string, error) {
	var ops []recorder.Op
	if _, err := RunCluster(s, func(o recorder.Op) { ops = append(ops, o) }, mutant); err != nil {
		return nil, err
	}
	return CheckP8(ops), nil
}
