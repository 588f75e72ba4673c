package scenario_test

import (
	"testing"
	"time"

	"github.com/leasesim/leasesim/model"
	"github.com/leasesim/leasesim/recorder"
	"github.com/leasesim/leasesim/spec"
)

func sum(xs []float64) (n float64) {
	for _, x := range xs {
		n += x
	}
	return n
}

// A fleet restart (spec/builtin/lease-fleet-restart.yaml): 10,000 agents,
// TTL 10 s, all restarted within [20 s, 21 s), down 2 s. The figures follow
// from the mechanism, not from a run:
//   - each abandoned lease was last renewed at most one renew interval
//     before its exit (TTL/3 on the 500 ms scan grid: 3.5 s), so it expires
//     in [20 s + 10 s - 3.5 s, 21 s + 10 s] = [26.5 s, 31 s]: all 10,000,
//     and only they (the new leases are kept alive);
//   - the leader revokes at most LeaseRevokeRate a second (two runLoop
//     passes of 500), so no bucket deletes more than 1,000 keys, and the
//     last of 10,000 leases found expired from 26.5 s on is revoked no
//     sooner than 26.5 s + 10 s - 0.5 s (a pass): its keys outlived it by at
//     least 36 s - 31 s = 5 s, and by at most 10 s + a pass;
//   - the 10,000 new leases are granted in [22 s, 23 s), and until the first
//     abandoned one expires both are live: 20,000.
//
// Graceful exits (Session.Close) revoke every old lease: none expires and
// the live leases never exceed 10,000. A roll over 30 s expires ~330 a
// second, under a pass's 500: every key goes within a pass (RevokeInterval)
// and the LeaseRevoke's commit (cluster.peer_rtt) of its lease's expiry.
func TestLeaseFleetRestart(t *testing.T) {
	const n, rate = 10_000, model.LeaseRevokeRate
	o := runBuiltin(t, "lease-fleet-restart", nil)
	if o.Summary.LeasesExpired != n || o.Summary.KeysLost != n {
		t.Errorf("abrupt: %d leases expired, %d keys lost; want the %d abandoned ones", o.Summary.LeasesExpired, o.Summary.KeysLost, n)
	}
	if f := o.Summary.FirstExpiryS; f == nil || *f < 26.5 || *f > 31 {
		t.Errorf("abrupt: first expiry at %v s, want within [26.5 s, 31 s]", f)
	}
	keys := o.Metric(recorder.KeysLost)
	for b, k := range keys {
		if k > rate {
			t.Errorf("abrupt: %v keys deleted in second %d, over LeaseRevokeRate %d", k, b, rate)
		}
	}
	if lag := o.Summary.RevokeLagMs; lag == nil || lag.Max < 5000 || lag.Max > 10_500 {
		t.Errorf("abrupt: keys outlived their lease by at most %+v ms, want 5,000-10,500 ms (the revoke limit's backlog)", lag)
	}
	grants := o.Metric(recorder.LeaseGrants)
	if sum(grants) != 2*n || grants[22] != n {
		t.Errorf("abrupt: %v grants, %v of them in [22 s, 23 s); want %d and %d", sum(grants), grants[22], 2*n, n)
	}
	if p := o.Peaks[recorder.LeasesLive]; p != 2*n {
		t.Errorf("abrupt: at most %v leases live, want %d (old and new)", p, 2*n)
	}

	g := runBuiltin(t, "lease-fleet-restart", func(s *spec.Spec) { s.Clients.Restart.Graceful = true })
	if g.Summary.LeasesExpired != 0 || sum(g.Metric(recorder.ClientRevokes)) != n || g.Peaks[recorder.LeasesLive] != n {
		t.Errorf("graceful: %d expired, %v revoked by their clients, peak %v live; want 0, %d, %d",
			g.Summary.LeasesExpired, sum(g.Metric(recorder.ClientRevokes)), g.Peaks[recorder.LeasesLive], n, n)
	}

	slow := runBuiltin(t, "lease-fleet-restart", func(s *spec.Spec) { s.Clients.Restart.Over = spec.Duration(30 * time.Second) })
	bound := float64(model.RevokeInterval+time.Duration(spec.DefaultPeerRTT)) / 1e6
	if lag := slow.Summary.RevokeLagMs; lag == nil || lag.Max > bound {
		t.Errorf("roll over 30s: keys outlived their lease by up to %+v ms, want at most %v ms (a pass and a commit)", lag, bound)
	}
}
