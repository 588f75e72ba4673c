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

// KeepAliveOnce clients (clients.kind keepalive-once, package onceclient):
// 3,000 loops, TTL 10 s, period TTL/3. A loop's calls are a period plus a
// call's round trip apart, and the leader renews the lease once a call
// (renewals at half that round trip after the send): the renew interval is
// P + RTT (+ the member's service time, well under 10 ms here), and the
// steady renewal rate 3,000 / that. A lease survives if and only if
// consecutive renewals are less than a TTL apart: P + RTT < TTL. With
// clients.rtt 6 s (9.33 s) every lease lives; with 7 s (10.33 s) every one
// expires, and each loop stops on ErrLeaseNotFound.
func TestKeepAliveOnce(t *testing.T) {
	const n = 3000
	run := func(rtt time.Duration) recorder.Outcome {
		t.Helper()
		return runBuiltin(t, "lease-fleet-restart", func(s *spec.Spec) {
			s.Clients.Restart, s.Clients.Kind, s.Clients.Count = spec.RestartSpec{}, spec.ClientKeepAliveOnce, n
			s.Clients.RTT = new(spec.Duration(rtt))
		})
	}
	o := run(time.Millisecond)
	p := float64(10*time.Second/3+time.Millisecond) / 1e6 // ms
	if iv := o.Summary.IntervalMs; iv.Min < p || iv.Max > p+10 {
		t.Errorf("renew interval %+v ms, want %.3f ms (period + round trip) to 10 ms more", iv, p)
	}
	rate := sum(o.Metric(recorder.RenewalsAtLeader)[20:]) / 40 // 20 s-60 s, past the start spread
	if lo, hi := n/((p+10)/1000), n/(p/1000); rate < lo || rate > hi {
		t.Errorf("%.1f renewals/s, want %.1f-%.1f (one a call)", rate, lo, hi)
	}
	if o.Summary.LeasesExpired != 0 || o.Summary.RequestsTotal < o.Summary.RenewalsTotal || o.Summary.RequestsTotal > o.Summary.RenewalsTotal+n {
		t.Errorf("%d expired, %d requests for %d renewals; want none expired and a renewal a request (at most one a loop unanswered at the end)",
			o.Summary.LeasesExpired, o.Summary.RequestsTotal, o.Summary.RenewalsTotal)
	}
	if o := run(6 * time.Second); o.Summary.LeasesExpired != 0 {
		t.Errorf("rtt 6s: %d leases expired, want none (renewals 9.33 s apart, TTL 10 s)", o.Summary.LeasesExpired)
	}
	slow := run(7 * time.Second)
	if slow.Summary.LeasesExpired != n || slow.Summary.ChannelsClosed["revoked"] != n {
		t.Errorf("rtt 7s: %d leases expired, %d loops stopped; want all %d (renewals 10.33 s apart, TTL 10 s)",
			slow.Summary.LeasesExpired, slow.Summary.ChannelsClosed["revoked"], n)
	}
}

// lease-keepalive-once (spec/builtin/lease-keepalive-once.yaml): 1,500
// KeepAliveOnce loops, TTL 5 s (period 1.667 s), a 3 s leader stall. A loop
// has one call in flight at most, so the leader's queue never holds more
// than 1,500 requests; a stall longer than the period finds every loop's
// call in it: exactly 1,500. KeepAlive clients resend on every 500 ms scan
// while due and unanswered, so their queue outgrows the clients. A loop's
// longest renew interval is its period plus the stall (a call that reached
// the stalled leader at once waits it out) plus the queue's drain, and under
// the TTL here: no lease expires.
func TestLeaseKeepAliveOnceStall(t *testing.T) {
	const n = 1500
	o := runBuiltin(t, "lease-keepalive-once", nil)
	if q := o.Peaks[recorder.LeaderQueueRequests]; q != n {
		t.Errorf("loops: leader queue peak %v, want %d (one call a loop, all waiting out the stall)", q, n)
	}
	p, stall := float64(5*time.Second/3)/1e6, 3000.0
	if iv := o.Summary.IntervalMs; o.Summary.LeasesExpired != 0 || iv.Max < p+stall || iv.Max >= 5000 {
		t.Errorf("loops: %d expired, longest renew interval %v ms; want none, and %.0f ms (period + stall) to under the TTL", o.Summary.LeasesExpired, iv.Max, p+stall)
	}
	ka := runBuiltin(t, "lease-keepalive-once", func(s *spec.Spec) { s.Clients.Kind = spec.ClientKeepAlive })
	if q := ka.Peaks[recorder.LeaderQueueRequests]; q <= n {
		t.Errorf("KeepAlive: leader queue peak %v, want more than one request a client (%d): resends on the 500 ms scans", q, n)
	}
}

// Processes that exit while their forwards wait for a peer connection (a
// restart wave during a leader stall, when forwards queue for connections):
// the member abandons each such forward and the transport drops its waiter,
// so the connection dialled for it goes idle (netsim/testdata/abandon.txt;
// before the fix the pool handed it to a waiter the transport no longer had).
func TestRestartDuringStall(t *testing.T) {
	o := runBuiltin(t, "lease-keepalive-once", func(s *spec.Spec) {
		s.Clients.Kind = spec.ClientKeepAlive
		s.Clients.Restart = spec.RestartSpec{At: spec.Duration(20 * time.Second), Over: spec.Duration(3 * time.Second), Fraction: 1, Down: spec.Duration(time.Second)}
	})
	if o.Peaks[recorder.ForwardsWaitingOnConn] == 0 || sum(o.Metric(recorder.LeaseGrants)) != 3000 {
		t.Errorf("%v forwards waiting at the peak, %v grants; want some waiting, 3,000 grants", o.Peaks[recorder.ForwardsWaitingOnConn], sum(o.Metric(recorder.LeaseGrants)))
	}
}

// The components' bookkeeping holds through a graceful restart wave during
// a stall: every second, no count of streams, queued work, connections or
// waiters is negative or over its bound (Sim.CheckInvariants).
func TestRestartInvariants(t *testing.T) {
	s, err := spec.Builtin("lease-keepalive-once")
	if err != nil {
		t.Fatal(err)
	}
	s.Clients.Kind = spec.ClientKeepAlive
	s.Clients.Restart = spec.RestartSpec{At: spec.Duration(19 * time.Second), Over: spec.Duration(5 * time.Second), Fraction: 0.7, Down: spec.Duration(500 * time.Millisecond), Graceful: true}
	o := runChecked(t, s)
	// Each of the 1,050 exiting processes (70 % of 1,500) revokes its lease,
	// unless the stall let it expire first: every old lease is gone.
	if rv := sum(o.Metric(recorder.ClientRevokes)); rv > 1050 || rv+float64(o.Summary.LeasesExpired) < 1050 {
		t.Errorf("%v leases revoked by their clients, %d expired; want at most 1,050 revoked and the rest of them expired", rv, o.Summary.LeasesExpired)
	}
}

// Agents that re-grant when their key vanishes (clients.regrant), on
// lease-lock-ttl2, whose 1 s leader pause costs seed 1 259 leases: each of
// those agents grants one new lease (the pause does not recur), so the run
// grants 1,500 + 259 leases, ends with all 1,500 agents holding a live one
// (the renewal rate of the whole fleet, 1,500/s on the 1 s grid that TTL/3
// = 667 ms rounds up to, against 1,241/s without re-granting), and no new
// lease is granted before the old one's key is gone plus the agent's delay.
// With Max 0 nobody re-grants.
func TestRegrantAgents(t *testing.T) {
	run := func(max int, delay time.Duration) recorder.Outcome {
		t.Helper()
		return runBuiltin(t, "lease-lock-ttl2", func(s *spec.Spec) {
			s.Clients.Regrant = spec.RegrantSpec{Max: max, Delay: spec.Duration(delay)}
		})
	}
	o := run(3, 5*time.Second)
	lost := o.Summary.LeasesExpired
	grants := o.Metric(recorder.LeaseGrants)
	if lost != 259 || sum(grants) != 1500+259 {
		t.Fatalf("%d leases expired, %v granted; want 259 and 1,500 + 259", lost, sum(grants))
	}
	first := *o.Summary.FirstExpiryS + 5 // the delay; the watch's one-way on top
	for b, g := range grants {           // 1 s buckets; the initial grants end at 5 s
		if at := float64(b); g > 0 && at > 5 && at+1 <= first {
			t.Fatalf("%v grants in the bucket at %v s, before the first key vanished (%v s) plus the 5 s delay", g, at, *o.Summary.FirstExpiryS)
		}
	}
	last := func(xs []float64) float64 { return xs[len(xs)-1] }
	if l, r := last(o.Metric(recorder.LeasesLive)), last(o.Summary.RenewalsPerS); l != 1500 || r != 1500 {
		t.Errorf("at the end %v leases live, %v renewals/s; want every agent's 1,500 and 1,500/s", l, r)
	}
	if n := run(0, 0); n.Summary.LeasesExpired != 259 || last(n.Summary.RenewalsPerS) >= 1500 {
		t.Errorf("no re-grants: %d expired, %v renewals/s at the end; want 259 and fewer than 1,500/s", n.Summary.LeasesExpired, last(n.Summary.RenewalsPerS))
	}
}
