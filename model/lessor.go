package model

import (
	"container/heap"
	"math"
	"slices"
	"time"

	"github.com/leasesim/leasesim/sim"
)

// Lessor is the leader's lease table: expiries, renewals, the rate-limited
// revocation of expired leases, and Promote on a leader change.
//
// Leases are a dense index chosen by the caller; each has Keys keys attached
// (the incident's agents attach one), deleted when it is revoked.
type Lessor struct {
	leases []lessorLease
	q      expiryQueue
	cps    expiryQueue // scheduled checkpoints (Checkpointing)
	cfg    LessorConfig
	// backlog: leases that were due at the last runLoop pass but left for a
	// later one (the revoke limit ran out).
	backlog  int
	live     int // leases granted and not yet revoked
	revoking int // leases handed out for revocation and not yet revoked (sum of the entries')
}

// LessorConfig is what differs between lessors (spec.Cluster.Lessor builds it
// from the etcd release: EtcdVersion).
type LessorConfig struct {
	KeysPerLease int
	// RateLimited: runLoop revokes at most RevokeRate/2 leases per pass,
	// and Promote spreads expiries (etcd 3.2.2 and later); otherwise every
	// expired lease is revoked on the next pass and Promote refreshes every
	// lease to its full TTL.
	RateLimited bool
	// RevokeRate is leaseRevokeRate, leases per second (0: etcd's
	// LeaseRevokeRate). No released etcd lets an operator set it
	// (lessor.go:205, an unexported field "configurable for tests"): another
	// value is a what-if, a patched server.
	RevokeRate int
	// Checkpointing: the leader checkpoints every lease whose remaining TTL
	// is over CheckpointInterval, every CheckpointInterval, through raft, and
	// a new leader's Promote gives a checkpointed lease its remaining TTL
	// instead of a full one (etcd 3.4+, --experimental-enable-lease-checkpoint;
	// the LeaseCheckpoint feature gate from 3.6; off by default).
	Checkpointing bool
	// PromoteSkipsCheckpoints: a new leader's Promote schedules no
	// checkpoints, but for the leases it spreads (etcd #13491, releases
	// before 3.4.20 and 3.5.2: EtcdVersion.PromoteSchedulesCheckpoints).
	PromoteSkipsCheckpoints bool
	// Mutant: MutantPromoteFullTTL breaks Promote and MutantRevokeHalfRate
	// runLoop (see Mutant); the other mutants are the Member's.
	Mutant Mutant
}

// revokeRate is the configured leaseRevokeRate.
func (c LessorConfig) revokeRate() int {
	if c.RevokeRate > 0 {
		return c.RevokeRate
	}
	return LeaseRevokeRate
}

type lessorLease struct {
	ttl    time.Duration
	expiry sim.Time
	n      int32 // identical leases in this entry (a lockstep cohort)
	// remaining: the last checkpointed remaining TTL, whole seconds (0:
	// none, or cleared by a renewal): Promote restores it (lease.go:76-89).
	remaining int32
	// revoking: leases of the entry a runLoop pass found expired and
	// handed to the server, whose LeaseRevoke has not been applied yet.
	revoking int32
	revoked  bool
	queued   bool
	// keysKept: revoked, but its keys were not deleted (MutantKeysOutliveLease).
	keysKept bool
}

// remainingTTL is getRemainingTTL (lease.go:76-81): the checkpointed
// remaining TTL, else the full TTL.
func (e *lessorLease) remainingTTL() time.Duration {
	if e.remaining > 0 {
		return time.Duration(e.remaining) * time.Second
	}
	return e.ttl
}

// promoteTTL is the TTL a Promote gives e (lease.go refresh, :84-89): its
// remainingTTL, or the full TTL for MutantPromoteFullTTL.
func (l *Lessor) promoteTTL(e *lessorLease) time.Duration {
	if l.cfg.Mutant == MutantPromoteFullTTL {
		return e.ttl
	}
	return e.remainingTTL()
}

// NewLessor returns a lessor for n lease entries, none granted.
func NewLessor(n int, cfg LessorConfig) *Lessor {
	l := &Lessor{leases: make([]lessorLease, n), cfg: cfg}
	for i := range l.leases {
		l.leases[i].revoked = true
	}
	return l
}

// Grant creates entry i (n identical leases) with ttl at now.
func (l *Lessor) Grant(now sim.Time, i, n int, ttl time.Duration) {
	if !l.leases[i].revoked {
		l.live -= int(l.leases[i].n)
	}
	l.live += n
	l.leases[i] = lessorLease{ttl: ttl, expiry: now + sim.Time(ttl), n: int32(n)}
	l.push(i)
	l.scheduleCheckpoint(now, i)
}

// scheduleCheckpoint is scheduleCheckpointIfNeeded (lessor.go:753-770): a
// lease with more than CheckpointInterval to live is checkpointed one
// interval from now.
func (l *Lessor) scheduleCheckpoint(now sim.Time, i int) {
	if l.cfg.Checkpointing && l.leases[i].remainingTTL() > CheckpointInterval {
		heap.Push(&l.cps, expiryItem{at: now + sim.Time(CheckpointInterval), i: i})
	}
}

// checkpoint is checkpointScheduledLeases (lessor.go:667-688, 772-806): each
// due checkpoint records the lease's remaining TTL, rounded up to whole
// seconds, unless the lease is gone, expired or has its full TTL left (a
// lease skipped so is not scheduled again until the next Promote); applying
// it schedules the next (Checkpoint, lessor.go:367-381). At most
// leaseCheckpointRate/2 batches of 1,000 per pass: no limit at this
// model's scale. Raft is not simulated: a checkpoint applies at once.
func (l *Lessor) checkpoint(now sim.Time) {
	for len(l.cps) > 0 && l.cps[0].at <= now {
		it := heap.Pop(&l.cps).(expiryItem)
		e := &l.leases[it.i]
		if e.revoked || now >= e.expiry {
			continue
		}
		remaining := (e.expiry - now + sim.Time(time.Second) - 1) / sim.Time(time.Second)
		if time.Duration(remaining)*time.Second >= e.ttl {
			continue
		}
		e.remaining = int32(remaining)
		l.scheduleCheckpoint(now, it.i)
	}
}

func (l *Lessor) push(i int) {
	if !l.leases[i].queued {
		l.leases[i].queued = true
		heap.Push(&l.q, expiryItem{at: l.leases[i].expiry, i: i})
	}
}

// Renew is lessor.Renew on the leader (lessor.go:396-460): it refreshes the
// expiry to now + TTL and returns the TTL in seconds, or 0 if the lease is gone
// or already expired. The real Renew of an expired lease does not answer at
// once: it waits for the lease's revocation (see Expired); the Member makes
// such a renewal wait before it calls Renew.
func (l *Lessor) Renew(now sim.Time, i int) int64 {
	e := &l.leases[i]
	if e.revoked || now >= e.expiry {
		return 0
	}
	// A renewal clears a checkpointed remaining TTL (through raft, at once
	// here), so the next Promote gives the full TTL (lessor.go:411-412, 433-440).
	e.remaining = 0
	e.expiry = now + sim.Time(e.ttl)
	return int64(e.ttl / time.Second)
}

// Expired reports whether entry i has expired and is not yet revoked: a
// renewal of it waits until its revocation is applied, or the lessor is
// demoted (the select on l.revokec and demotec, v3.7.3 lease/lessor.go:
// 415-428; the same in v3.2.0 :289-303, v3.2.23 :300-316 and v3.3.8
// :299-316): "to be accurate, renew request must wait for the deletion to
// complete".
func (l *Lessor) Expired(now sim.Time, i int) bool {
	e := &l.leases[i]
	return !e.revoked && now >= e.expiry
}

// Revoked is one revocation: entry I, N leases, their keys deleted, and the
// instant they had expired (the keys outlived the lease from then until the
// revocation).
type Revoked struct {
	I, N, Keys int
	Expiry     sim.Time
}

// RevokeExpired is one pass of runLoop whose revocations are applied at
// once (FindExpired, then ApplyRevoke for each): what a lessor whose
// proposals are not followed one by one needs (a deposed leader's, a
// property's).
func (l *Lessor) RevokeExpired(now sim.Time, out []Revoked) []Revoked {
	found := l.FindExpired(now, out)
	n := len(out)
	for _, r := range found[n:] {
		out = append(out, l.ApplyRevoke(r.I, r.N))
	}
	return out
}

// FindExpired is one pass of runLoop: it finds up to LeaseRevokeRate/2
// expired leases (lessor.go:640-660; findExpiredLeases, :728-750), or every
// expired lease if the lessor is not RateLimited, and returns them for the
// server to revoke: they stay in the lessor, expired, until their
// LeaseRevoke is applied (ApplyRevoke). Each is looked at again
// ExpiredLeaseRetryInterval later and, if still there, found again
// (expireExists, :700-725: etcd proposes its revocation once more). Then it
// applies the due checkpoints (lessor.go:627-628).
func (l *Lessor) FindExpired(now sim.Time, out []Revoked) []Revoked {
	defer l.checkpoint(now)
	budget := l.cfg.revokeRate() / 2
	if l.cfg.Mutant == MutantRevokeHalfRate {
		budget = max(1, budget/2)
	}
	if !l.cfg.RateLimited {
		budget = math.MaxInt
	}
	defer func() { l.backlog = l.due(now) }()
	for budget > 0 && l.q.Len() > 0 && l.q[0].at <= now {
		it := heap.Pop(&l.q).(expiryItem)
		e := &l.leases[it.i]
		e.queued = false
		if e.revoked {
			continue
		}
		if e.expiry > it.at {
			// Renewed since it was queued: back in the queue at its expiry,
			// as etcd's Renew moves it in the expiry heap at once
			// (RegisterOrUpdate, lessor.go:449-451), so leases are revoked
			// in expiry order (found by property P7).
			l.push(it.i)
			continue
		}
		if it.at > e.expiry {
			// Its retry: the revocations proposed ExpiredLeaseRetryInterval
			// ago are not applied yet; they are found (and proposed) again.
			l.revoking -= int(e.revoking)
			e.revoking = 0
		}
		take := min(budget, int(e.n-e.revoking))
		budget -= take
		out = append(out, Revoked{I: it.i, N: take, Keys: take * l.cfg.KeysPerLease, Expiry: e.expiry})
		e.revoking += int32(take)
		l.revoking += take
		if e.revoking < e.n {
			l.push(it.i) // the rest of the cohort waits for the next pass
		} else {
			e.queued = true
			heap.Push(&l.q, expiryItem{at: now + sim.Time(ExpiredLeaseRetryInterval), i: it.i})
		}
	}
	return out
}

// ApplyRevoke applies the LeaseRevoke of n expired leases of entry i that
// FindExpired handed out (the applier's lessor.Revoke, lessor.go:326-365:
// the lease and its keys go in one transaction). It returns what it
// revoked, with the instant the leases had expired; nothing if they are
// gone already (a proposal made twice: the second finds no lease).
func (l *Lessor) ApplyRevoke(i, n int) Revoked {
	e := &l.leases[i]
	if e.revoked || n <= 0 {
		return Revoked{I: i, Expiry: e.expiry}
	}
	take := min(n, int(e.n))
	e.n -= int32(take)
	done := min(e.revoking, int32(take))
	e.revoking -= done
	l.revoking -= int(done)
	l.live -= take
	if e.n == 0 {
		e.revoked = true
		e.keysKept = l.cfg.Mutant == MutantKeysOutliveLease
	}
	return Revoked{I: i, N: take, Keys: take * l.cfg.KeysPerLease, Expiry: e.expiry}
}

// Promote is lessor.Promote on a new leader (lessor.go:480-530): every lease's
// expiry becomes now + extend + TTL (its checkpointed remaining TTL, if it
// has one); if RateLimited, with LeaseRevokeRate or more leases, those that
// would expire within a second of one another are spread out so that no more
// than 3/4 of the revoke rate expire per second. The checkpoints the old
// leader had scheduled are dropped (Demote) and each lease's is scheduled
// anew (not before etcd 3.4.20/3.5.2: PromoteSkipsCheckpoints). It returns
// the number of leases.
func (l *Lessor) Promote(now sim.Time, extend time.Duration) int {
	var live []int
	total := 0
	l.cps = l.cps[:0]
	for i := range l.leases {
		if e := &l.leases[i]; !e.revoked {
			// The old leader's revocations not yet applied are lost with
			// its term: the new leader's lessor finds the leases anew.
			l.revoking -= int(e.revoking)
			e.revoking = 0
			e.expiry = now + sim.Time(extend+l.promoteTTL(e))
			live = append(live, i)
			total += int(e.n)
			// etcd #13491: before the fix (v3.5.1 lessor.go:445-449, no
			// scheduleCheckpointIfNeeded in this loop) a lease's schedule
			// ended with the first leader change: only Grant and an applied
			// Checkpoint on the leader schedule one, and the old leader's
			// Demote dropped them, so its remaining TTL stays that of its
			// last checkpoint before that change.
			if !l.cfg.PromoteSkipsCheckpoints {
				l.scheduleCheckpoint(now, i)
			}
		}
	}
	if l.cfg.RateLimited && total >= l.cfg.revokeRate() {
		slices.SortStableFunc(live, func(a, b int) int {
			return int(l.leases[a].expiry - l.leases[b].expiry)
		})
		base := l.leases[live[0]].expiry - now
		next := base + sim.Time(time.Second)
		expires := 0
		target := (3 * l.cfg.revokeRate()) / 4
		for _, i := range live {
			e := &l.leases[i]
			remaining := e.expiry - now
			if remaining > next {
				base, next, expires = remaining, remaining+sim.Time(time.Second), int(e.n)
				continue
			}
			expires += int(e.n)
			if expires <= target {
				continue
			}
			rateDelay := float64(time.Second)*(float64(expires)/float64(target)) - float64(remaining-base)
			next = base + sim.Time(rateDelay)
			e.expiry = now + sim.Time(rateDelay) + sim.Time(extend+l.promoteTTL(e))
			if l.cfg.PromoteSkipsCheckpoints {
				// The unfixed Promote scheduled a checkpoint here only, for
				// the leases it spreads (v3.5.1 lessor.go:487). (Fixed
				// releases schedule it twice, :491 and :530 at v3.7.3: the
				// duplicate records the same remaining TTL at the same
				// instant and is not modelled.)
				l.scheduleCheckpoint(now, i)
			}
		}
	}
	l.q = l.q[:0]
	for _, i := range live {
		l.leases[i].queued = false
		l.push(i)
	}
	return total
}

// Clone is a copy of the lessor's state now: what a leader's lessor holds
// when renewals stop reaching it (its view goes stale from then on).
func (l *Lessor) Clone() *Lessor {
	c := *l
	c.leases = slices.Clone(l.leases)
	c.q = slices.Clone(l.q)
	c.cps = slices.Clone(l.cps)
	return &c
}

// Revoke applies a LeaseRevoke of n leases of entry i at now (the applier's
// lessor.Revoke, lessor.go:326-365: the lease and its keys go whatever its
// expiry): it returns what it revoked, nothing if the entry is gone. Expiry
// is now: the keys did not outlive the lease.
func (l *Lessor) Revoke(now sim.Time, i, n int) Revoked {
	e := &l.leases[i]
	if e.revoked || n <= 0 {
		return Revoked{I: i}
	}
	take := min(n, int(e.n))
	e.n -= int32(take)
	l.live -= take
	if e.n == 0 {
		e.revoked = true // its queue entry is skipped when popped
	}
	return Revoked{I: i, N: take, Keys: take * l.cfg.KeysPerLease, Expiry: now}
}

// Backlog is the number of leases that were due at the last runLoop pass
// and not handed out by it: the revoke limit left them for later passes.
func (l *Lessor) Backlog() int { return l.backlog }

// Revoking is the number of expired leases handed out for revocation whose
// LeaseRevoke is not applied yet (the revoke pipeline, Member.revokePass).
func (l *Lessor) Revoking() int { return l.revoking }

// due counts the expired, unrevoked leases queued at or before now: a walk
// of the heap that descends only below items due by now, so it costs the
// backlog, not the lease count.
func (l *Lessor) due(now sim.Time) int {
	n := 0
	var walk func(i int)
	walk = func(i int) {
		if i >= len(l.q) || l.q[i].at > now {
			return // the heap's order: nothing below is due either
		}
		if e := &l.leases[l.q[i].i]; !e.revoked && e.expiry <= now {
			n += int(e.n - e.revoking)
		}
		walk(2*i + 1)
		walk(2*i + 2)
	}
	walk(0)
	return n
}

// KeysPresent reports whether entry i's keys are in the store: from its
// Grant (the agent puts its key with the lease) until its revocation
// deletes them (lessor.go Revoke, :326-365 in v3.7.3: the keys and the
// lease in one backend transaction).
func (l *Lessor) KeysPresent(i int) bool { return !l.leases[i].revoked || l.leases[i].keysKept }

// TimeToLive is LeaseTimeToLive on the leader (v3.7.3
// etcdserver/v3_server.go:636-651): entry i's remaining seconds as etcd
// reports them, int64(Remaining().Seconds()), which is 0 or less once the
// lease has expired and is waiting for its revocation; found is false once
// it is revoked.
func (l *Lessor) TimeToLive(now sim.Time, i int) (ttl int64, found bool) {
	e := &l.leases[i]
	if e.revoked {
		return 0, false
	}
	return int64(time.Duration(e.expiry - now).Seconds()), true
}

// Live is the number of leases granted and not yet revoked: the lease map
// every member's lessor holds (each applies the same grants and revokes).
func (l *Lessor) Live() int { return l.live }

// Alive reports whether entry i still has leases.
func (l *Lessor) Alive(i int) bool { return !l.leases[i].revoked }

type expiryItem struct {
	at sim.Time
	i  int
}

type expiryQueue []expiryItem

func (q expiryQueue) Len() int { return len(q) }
func (q expiryQueue) Less(a, b int) bool {
	if q[a].at != q[b].at {
		return q[a].at < q[b].at
	}
	return q[a].i < q[b].i
}
func (q expiryQueue) Swap(a, b int) { q[a], q[b] = q[b], q[a] }
func (q *expiryQueue) Push(x any)   { *q = append(*q, x.(expiryItem)) }
func (q *expiryQueue) Pop() any {
	old := *q
	it := old[len(old)-1]
	*q = old[:len(old)-1]
	return it
}
