package properties

import (
	"fmt"
	"time"

	"pgregory.net/rapid"

	"github.com/leasesim/leasesim/model"
	"github.com/leasesim/leasesim/sim"
)

// P7 (the revoke limit): keys never outlive their lease by more than the
// revoke backlog allows. On the leader's lessor, every runLoop pass (each
// model.RevokeInterval) revokes at most rate/2 expired leases; it revokes
// fewer only when no expired lease is left; it takes them in expiry order;
// so a lease that expires at e, with B leases expired before it and not yet
// revoked, is revoked by the first pass at or after e plus floor(B/(rate/2))
// passes. A P7Case is a lessor workload: cohorts of leases granted at
// instants with TTLs, some renewed; CheckP7 replays it pass by pass.
type P7Case struct {
	Rate   int // leaseRevokeRate
	Grants []P7Grant
	Passes int // runLoop passes to run, from time 0
}

// P7Grant is n identical leases granted at At with a TTL, renewed at Renew (0: never).
type P7Grant struct {
	At, TTL, Renew time.Duration
	N              int
}

// GenP7 draws P7 cases: 1-20 cohorts of 1-3,000 leases, TTL 2-30 s, granted
// in the first 20 s (on whole 10 ms, so that expiries tie), a third renewed
// once, a revoke rate of 2-2,000/s, and passes enough to revoke them all.
func GenP7() *rapid.Generator[P7Case] {
	return rapid.Custom(func(t *rapid.T) P7Case {
		c := P7Case{Rate: rapid.IntRange(2, 2000).Draw(t, "rate")}
		total := 0
		for i := rapid.IntRange(1, 20).Draw(t, "cohorts"); i > 0; i-- {
			g := P7Grant{At: time.Duration(rapid.IntRange(0, 2000).Draw(t, "at_10ms")) * 10 * time.Millisecond,
				TTL: time.Duration(rapid.IntRange(2, 30).Draw(t, "ttl_s")) * time.Second,
				N:   rapid.IntRange(1, 3000).Draw(t, "n")}
			if rapid.IntRange(0, 2).Draw(t, "renewed") == 0 {
				g.Renew = g.At + time.Duration(rapid.IntRange(1, int(g.TTL/time.Millisecond)-1).Draw(t, "renew_ms"))*time.Millisecond
			}
			c.Grants = append(c.Grants, g)
			total += g.N
		}
		// 60 s for grants, renewals and TTLs, then enough passes for all.
		c.Passes = 120 + total/max(1, c.Rate/2) + 2
		return c
	})
}

// CheckP7 runs c on a lessor with mutant and returns the violations of P7.
func CheckP7(c P7Case, mutant model.Mutant) []string {
	l := model.NewLessor(len(c.Grants), model.LessorConfig{KeysPerLease: 1, RateLimited: true, RevokeRate: c.Rate, Mutant: mutant})
	per := c.Rate / 2
	type event struct {
		at    sim.Time
		i     int
		renew bool
	}
	var evs []event
	for i, g := range c.Grants {
		evs = append(evs, event{sim.Time(g.At), i, false})
		if g.Renew > 0 {
			evs = append(evs, event{sim.Time(g.Renew), i, true})
		}
	}
	expiry := make([]sim.Time, len(c.Grants)) // each cohort's current expiry
	left := make([]int, len(c.Grants))        // its leases not yet revoked
	var bad []string
	pass := sim.Time(model.RevokeInterval)
	for p := 1; p <= c.Passes && len(bad) == 0; p++ {
		now := sim.Time(p) * pass
		// Grants and renewals due before this pass, in time order.
		for {
			k := -1
			for j, e := range evs {
				if e.at < now && (k < 0 || e.at < evs[k].at || (e.at == evs[k].at && e.i < evs[k].i)) {
					k = j
				}
			}
			if k < 0 {
				break
			}
			e := evs[k]
			evs = append(evs[:k], evs[k+1:]...)
			g := c.Grants[e.i]
			if e.renew {
				if l.Renew(e.at, e.i) > 0 {
					expiry[e.i] = e.at + sim.Time(g.TTL)
				}
				continue
			}
			l.Grant(e.at, e.i, g.N, g.TTL)
			expiry[e.i], left[e.i] = e.at+sim.Time(g.TTL), g.N
		}
		// Due before the pass: expired and not revoked, in expiry order.
		due := 0
		for i := range c.Grants {
			if left[i] > 0 && expiry[i] <= now {
				due += left[i]
			}
		}
		revoked := 0
		var last sim.Time = -1
		for _, r := range l.RevokeExpired(now, nil) {
			revoked += r.N
			if r.Expiry != expiry[r.I] || r.Expiry > now {
				bad = append(bad, fmt.Sprintf("pass at %v revoked cohort %d as expired at %v; it expires at %v", now, r.I, r.Expiry, expiry[r.I]))
			}
			if r.Expiry < last {
				bad = append(bad, fmt.Sprintf("pass at %v revoked leases that expired at %v after ones that expired at %v (not in expiry order)", now, r.Expiry, last))
			}
			last = r.Expiry
			left[r.I] -= r.N
		}
		switch {
		case revoked > per:
			bad = append(bad, fmt.Sprintf("pass at %v revoked %d leases; the limit is %d (rate %d/s)", now, revoked, per, c.Rate))
		case revoked < min(per, due):
			bad = append(bad, fmt.Sprintf("pass at %v revoked %d leases while %d were due (limit %d): keys outlive their leases longer than the backlog allows", now, revoked, due, per))
		}
	}
	return bad
}
