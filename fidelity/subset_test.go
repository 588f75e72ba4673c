package fidelity

import (
	"context"
	"math"
	"testing"
)

// subsetBound is the largest |relative error| TestFastModeSubset allows
// per metric. The full corpus (docs/fast-mode-corpus.md, measured 2026-12-02 at
// commit cc639fa and again, with the seed noise, at f695ce7: the same
// figures; 65 scenarios) has median |errors| of 0-0.1 % on every
// metric but new conns/s (15.6 %, where a floor of 1/s meets a few dials,
// and the seed noise is 1.1 %);
// its large errors come from scenarios at a storm threshold (the cohorts'
// lumps, or seed-dependent collapses that the exact mode shows too: see the
// report). The three subset scenarios are away from that: on them it
// measured at most renewals/s 0.47 %, intervals 0, leader CPU mean 0.33 %
// and peak 0.03 %, new conns/s 2.94 %, TIME-WAIT 0.25 %, leases expired
// and keys lost 7.1 % (the partition's 620 leases; 4.5 % at commit
// 967091e), first expiry 0 s, every verdict agreeing. The bounds leave
// room for model changes that keep the weighting; a weight left out breaks
// them (tried at commit cc639fa): a member's CPU job of one request instead
// of the cohort's puts leader CPU mean off by -63 % to -73 %, a lease
// granted once per cohort puts leases expired off by -80 % to -88 %.
var subsetBound = [NumMetrics]float64{
	RenewalsPerS:  0.03,
	IntervalP50:   0.01,
	IntervalP99:   0.01,
	LeaderCPUMean: 0.05,
	LeaderCPUPeak: 0.05,
	NewConnsPerS:  0.15,
	TimeWaitPeak:  0.10,
	LeasesExpired: 0.15,
	KeysLost:      0.15,
}

// subsetFirstExpiry bounds |fast - exact| of the first expiry, in seconds.
const subsetFirstExpiry = 1.0

// TestFastModeSubset runs three small corpus scenarios (5,000-6,000
// clients, cohorts of 5-8; ~1.5 s in all) in both modes and checks the
// fast mode's errors against subsetBound: a leader stall that expires
// every lease (CPU and lease weights), a partition that expires some
// (a partial count near its threshold), and the buggy client's storm with
// a partition (connections and TIME-WAIT on HTTP/1.1 with TLS).
func TestFastModeSubset(t *testing.T) {
	for _, name := range []string{
		"fixed-ttl5-c5k-3m-leaderstall6s",
		"fixed-ttl5-c6k-3m-partition3s",
		"storm-ttl5-c5k-7m-4c-partition5s",
	} {
		t.Run(name, func(t *testing.T) {
			s := scenarioNamed(t, name)
			r, err := RunOne(context.Background(), s)
			if err != nil {
				t.Fatal(err)
			}
			if r.Cohort < 2 || r.FastEvents*3 > r.ExactEvents {
				t.Errorf("the fast run is not one: cohort %d, %d events against the exact run's %d", r.Cohort, r.FastEvents, r.ExactEvents)
			}
			if !r.Exact.Storm() {
				t.Errorf("the exact run did not storm: the scenario no longer tests the lease weights")
			}
			for k := range NumMetrics {
				if e := r.Errors.Rel[k]; math.Abs(e) > subsetBound[k] {
					t.Errorf("%s: exact %s, fast %s: error %s, allowed ±%s", k, value(k, r.Exact), value(k, r.Fast), pct(e), apct(subsetBound[k]))
				}
			}
			if d := r.Errors.FirstExpiryS; d == nil || math.Abs(*d) > subsetFirstExpiry {
				t.Errorf("first expiry: exact %s, fast %s; allowed ±%g s", instant(r.Exact.FirstExpiryS), instant(r.Fast.FirstExpiryS), subsetFirstExpiry)
			}
			if !r.Errors.StormAgrees || !r.Errors.KeysLostAgree {
				t.Errorf("verdicts: exact %s, fast %s", verdicts(r.Exact), verdicts(r.Fast))
			}
		})
	}
}
