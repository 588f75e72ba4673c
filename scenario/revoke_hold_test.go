package scenario_test

import (
	"testing"
	"time"

	"github.com/leasesim/leasesim/model"
	"github.com/leasesim/leasesim/recorder"
	"github.com/leasesim/leasesim/scenario"
	"github.com/leasesim/leasesim/spec"
)

// A renewal of an expired lease is held at the leader until the lease's
// revocation is applied (model.Member.waitsForRevoke; etcd's lessor.Renew,
// v3.7.3 lease/lessor.go:415-428). What that shows outside: 1,500 leases
// (TTL 5 s) of clients on the followers, and a 6 s apply stall on the
// leader from 20 s: their forwarded renewals wait for the applied index
// (leasehttp, 1 s, then 408 and a retry), the leases expire meanwhile, and
// the revocations wait for the stall too, then go at 50/s (the revoke rate
// cut, a what-if) for 30 s. The renewals let through when the stall ends
// find their lease expired and are held; the followers' 7 s ReqTimeout
// cancels them, closing their HTTP/1.1 connections: CLOSE-WAIT on the
// leader, and the held requests in its queue, until each revocation. The
// renew-expired-at-once mutant (the model before the hold) answers them at
// once: nothing held, no CLOSE-WAIT, once the stall is over.
func TestExpiredLeaseRenewalHeldUntilRevoked(t *testing.T) {
	s := spec.Spec{
		Name: "revoke-hold", Seed: 1, Duration: spec.Duration(90 * time.Second), Server: spec.ServerCluster,
		Clients: spec.ClientsSpec{Count: 1500, TTL: spec.Duration(5 * time.Second), Version: "v3.7.3", Consumer: "drain",
			StartSpread: spec.Duration(5 * time.Second), Placement: "followers"},
		Cluster: spec.ClusterSpec{Members: 3, Cores: 2, TLS: "ecdsa", LeaseRevokeRate: 50},
		Faults:  []spec.FaultSpec{{At: spec.Duration(20 * time.Second), Kind: "apply-stall", Duration: spec.Duration(6 * time.Second)}},
	}
	r, err := s.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	// closeWaitAfter is the most CLOSE-WAIT sockets on the leader from 30 s
	// on (the stall is over by then), and the most requests queued or held
	// there.
	closeWaitAfter := func(mutant model.Mutant) (closeWait, queued float64, expired uint64) {
		o, err := scenario.RunCluster(*r.Cluster, scenario.Options{Mutant: mutant}, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range o.Metrics {
			for i, v := range m.Values {
				if float64(i)*r.Cluster.Bucket.Seconds() < 30 {
					continue
				}
				switch m.Name {
				case recorder.CloseWaitLeader:
					closeWait = max(closeWait, v)
				case recorder.LeaderQueueRequests:
					queued = max(queued, v)
				}
			}
		}
		return closeWait, queued, o.Summary.LeasesExpired
	}
	cw, q, expired := closeWaitAfter(model.MutantNone)
	t.Logf("held: CLOSE-WAIT %v, queued/held %v, %d leases expired", cw, q, expired)
	if expired == 0 || cw < 100 || q < 100 {
		t.Errorf("honest server: %d leases expired, CLOSE-WAIT %v and %v requests held after 45 s; want expiries, and forwards held past the followers' ReqTimeout", expired, cw, q)
	}
	cwM, qM, expiredM := closeWaitAfter(model.MutantRenewExpiredAtOnce)
	t.Logf("answered at once: CLOSE-WAIT %v, queued %v, %d leases expired", cwM, qM, expiredM)
	if cwM != 0 || qM >= q {
		t.Errorf("renew-expired-at-once: CLOSE-WAIT %v and %v requests queued after 45 s; want none held", cwM, qM)
	}
}
