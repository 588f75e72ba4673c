package model_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/leasesim/leasesim/model"
	"github.com/leasesim/leasesim/sim"
)

const ms = sim.Time(time.Millisecond)

func TestCPUQueuesFIFOAcrossCores(t *testing.T) {
	c := model.NewCPU(model.CPUConfig{Cores: 2, Bucket: time.Second, Duration: 10 * time.Second})
	// Idle: a job takes its own time on one core.
	if done, _ := c.Submit(0, time.Millisecond, 1, 0); done != ms {
		t.Fatalf("idle job done at %v", done)
	}
	// 4 jobs of 1 ms arriving together on 2 cores: the backlog drains at 2/ms.
	var last sim.Time
	for i := 0; i < 4; i++ {
		last, _ = c.Submit(0, time.Millisecond, 1, 100)
	}
	if last != 5*ms/2 { // (1 + 4) ms of work / 2 cores
		t.Fatalf("last of the burst done at %v, want 2.5ms", last)
	}
	if c.Jobs() != 5 || c.Bytes() != 400 {
		t.Fatalf("jobs %d bytes %d", c.Jobs(), c.Bytes())
	}
	// Utilisation: 5 ms of work in the first 1 s bucket on 2 cores.
	if u := c.Utilisation()[0]; u < 0.0024 || u > 0.0026 {
		t.Fatalf("utilisation %v, want 0.0025", u)
	}
}

func TestCPUBoundedQueueSheds(t *testing.T) {
	c := model.NewCPU(model.CPUConfig{Cores: 1, MaxJobs: 2, Bucket: time.Second, Duration: time.Second})
	for i := 0; i < 2; i++ {
		if _, ok := c.Submit(0, time.Millisecond, 1, 0); !ok {
			t.Fatal("shed below the bound")
		}
	}
	if _, ok := c.Submit(0, time.Millisecond, 1, 0); ok || c.Shed() != 1 {
		t.Fatal("not shed above the bound")
	}
	c.Force(0, time.Millisecond, 1, 0) // accepting a connection is not refused
	c.Done(1, 0)
	if _, ok := c.Submit(0, time.Millisecond, 1, 0); ok {
		t.Fatal("still 3 in the system: must shed")
	}
}

func TestCPUStallDelaysQueuedWork(t *testing.T) {
	c := model.NewCPU(model.CPUConfig{Cores: 1, Bucket: time.Second, Duration: time.Second})
	c.Stall(0, 2*time.Second)
	if done, _ := c.Submit(ms, time.Millisecond, 1, 0); done != sim.Time(2*time.Second)+ms {
		t.Fatalf("done at %v", done)
	}
}

// Renewals push the expiry out; an expired lease is revoked at the next pass,
// at most 500 per pass; renewing it afterwards answers TTL 0.
func TestLessorExpiryAndRevokeRate(t *testing.T) {
	l := model.NewLessor(3, model.LessorConfig{KeysPerLease: 1, RateLimited: true})
	ttl := 10 * time.Second
	l.Grant(0, 0, 1, ttl)
	l.Grant(0, 1, 1, ttl)
	l.Grant(0, 2, 1200, ttl) // a cohort of 1,200 identical leases
	if l.Live() != 1202 {
		t.Fatalf("%d leases live after the grants, want 1,202", l.Live())
	}
	if got := l.Renew(sim.Time(5*time.Second), 0); got != 10 {
		t.Fatalf("renew answered %d", got)
	}
	at := sim.Time(10 * time.Second)
	rev := l.RevokeExpired(at, nil)
	n := 0
	for _, r := range rev {
		n += r.N
		if r.I == 0 {
			t.Fatal("renewed lease revoked")
		}
	}
	if n != model.LeaseRevokeRate/2 || l.Live() != 1202-n {
		t.Fatalf("revoked %d in one pass, want %d; %d live", n, model.LeaseRevokeRate/2, l.Live())
	}
	if got := l.Renew(at, 1); got != 0 {
		t.Fatalf("renewing an expired lease answered %d, want 0", got)
	}
	total := n
	for pass := 1; pass <= 3; pass++ {
		for _, r := range l.RevokeExpired(at+sim.Time(pass)*500*ms, nil) {
			total += r.N
		}
	}
	if total != 1201 || l.Alive(1) || l.Alive(2) || !l.Alive(0) || l.Live() != 1 {
		t.Fatalf("revoked %d in all, %d live", total, l.Live())
	}
	if r := l.Revoke(at, 0, 1); r.N != 1 || l.Live() != 0 || l.KeysPresent(0) {
		t.Fatalf("client revoke of the last lease: %+v, %d live, keys present %v", r, l.Live(), l.KeysPresent(0))
	}
}

// Promote gives every lease a full TTL plus the election timeout, and with
// 1,000 or more leases spreads their expiries to at most 750/s.
func TestLessorPromote(t *testing.T) {
	l := model.NewLessor(2000, model.LessorConfig{KeysPerLease: 1, RateLimited: true})
	for i := 0; i < 2000; i++ {
		l.Grant(0, i, 1, 10*time.Second)
	}
	now := sim.Time(8 * time.Second)
	l.Promote(now, time.Second)
	perSecond := map[int64]int{}
	end := now + sim.Time(30*time.Second)
	for t0 := now; t0 < end; t0 += 500 * ms {
		for _, r := range l.RevokeExpired(t0, nil) {
			perSecond[int64(t0/sim.Time(time.Second))] += r.N
		}
	}
	first := int64(-1)
	total := 0
	for sec, n := range perSecond {
		total += n
		if first < 0 || sec < first {
			first = sec
		}
		if n > 1000 {
			t.Fatalf("%d revoked in second %d", n, sec)
		}
	}
	if total != 2000 || first < 19 {
		t.Fatalf("revoked %d, first in second %d (want none before 8 s + 1 s + 10 s)", total, first)
	}
	// Without the spread, two 500-lease passes would revoke 1,000 in second 19.
	if perSecond[first] > 750 {
		t.Fatalf("%d expired in the first second, want <= 3/4 of the revoke rate", perSecond[first])
	}
}

// Idle background work takes capacity and shows in the utilisation: on 1 core
// with 0.5 cores idle, a job takes twice its work, and a CPU serving nothing
// is 50 % utilised.
func TestCPUIdleTakesCapacity(t *testing.T) {
	c := model.NewCPU(model.CPUConfig{Cores: 1, Idle: 0.5, Bucket: time.Second, Duration: 3 * time.Second})
	if done, _ := c.Submit(0, 100*time.Millisecond, 1, 0); done != 200*ms {
		t.Fatalf("100 ms job done at %v, want 200ms", done)
	}
	// Queued behind it: another 200 ms.
	if done, _ := c.Submit(0, 100*time.Millisecond, 1, 0); done != 400*ms {
		t.Fatalf("second job done at %v, want 400ms", done)
	}
	u := c.Utilisation()
	// Bucket 0: 200 ms of work + 0.5 s of idle on 1 core; buckets 1, 2: idle only.
	if want := 0.7; u[0] < want-1e-9 || u[0] > want+1e-9 {
		t.Errorf("bucket 0 utilisation %v, want %v", u[0], want)
	}
	for i := 1; i < len(u); i++ {
		if u[i] != 0.5 {
			t.Errorf("idle bucket %d utilisation %v, want 0.5", i, u[i])
		}
	}
	// Saturated: the requests get the rest, never more than 100 % in all.
	d := model.NewCPU(model.CPUConfig{Cores: 2, Idle: 0.5, Bucket: time.Second, Duration: time.Second})
	for range 10 {
		d.Submit(0, time.Second, 1, 0)
	}
	if u := d.Utilisation()[0]; u < 1-1e-9 || u > 1+1e-9 {
		t.Errorf("saturated utilisation %v, want 1", u)
	}
}

// Before etcd 3.2.2 (#8096/#8097): Promote gives every lease its full TTL
// and nothing spreads or limits the revocations, so 2,000 leases renewed by
// one Promote are all revoked in the same runLoop pass.
func TestLessorBefore322RevokesAllAtOnce(t *testing.T) {
	v, err := model.ParseEtcdVersion("3.2.1")
	if err != nil {
		t.Fatal(err)
	}
	l := model.NewLessor(2000, model.LessorConfig{KeysPerLease: 1, RateLimited: v.RevokeRateLimited()})
	for i := 0; i < 2000; i++ {
		l.Grant(sim.Time(i)*ms, i, 1, 10*time.Second) // created over 2 s
	}
	now := sim.Time(8 * time.Second)
	l.Promote(now, time.Second)
	if got := l.RevokeExpired(now+sim.Time(11*time.Second)-1, nil); len(got) != 0 {
		t.Fatalf("%d revoked before the refreshed expiry", len(got))
	}
	n := 0
	for _, r := range l.RevokeExpired(now+sim.Time(11*time.Second), nil) {
		n += r.N
	}
	if n != 2000 {
		t.Fatalf("revoked %d in the first pass after the refreshed expiry, want all 2000", n)
	}
}

func TestParseEtcdVersion(t *testing.T) {
	for in, want := range map[string]string{"3.7.3": "3.7.3", "v3.2.1": "3.2.1", "3.5.17": "3.5.17"} {
		v, err := model.ParseEtcdVersion(in)
		if err != nil || v.String() != want {
			t.Errorf("%q: %v, %v", in, v, err)
		}
	}
	for _, in := range []string{"", "3.1.0", "3.8.0", "2.3.8", "3.7", "3.x.1", "3.7.-1"} {
		if _, err := model.ParseEtcdVersion(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
	old, _ := model.ParseEtcdVersion("3.2.1")
	fixed, _ := model.ParseEtcdVersion("3.2.2")
	if old.RevokeRateLimited() || !fixed.RevokeRateLimited() || !model.DefaultEtcdVersion.RevokeRateLimited() {
		t.Error("rate limit and Promote spreading are in 3.2.2 and later, not before")
	}
}

// Leases the revoke limit leaves for later passes are the backlog; each
// revocation names when its leases had expired. A raised leaseRevokeRate
// (a what-if) clears them in one pass.
func TestLessorBacklogAndRevokeRate(t *testing.T) {
	at := sim.Time(10 * time.Second)
	for _, c := range []struct {
		rate    int
		backlog []int // after each pass
	}{{0, []int{700, 200, 0}}, {4000, []int{0, 0, 0}}} {
		l := model.NewLessor(1, model.LessorConfig{KeysPerLease: 1, RateLimited: true, RevokeRate: c.rate})
		l.Grant(0, 0, 1200, 10*time.Second)
		var got []int
		for pass := 0; pass < 3; pass++ {
			now := at + sim.Time(pass)*500*ms
			for _, r := range l.RevokeExpired(now, nil) {
				if r.Expiry != at {
					t.Fatalf("rate %d: revoked leases expired at %v, want %v", c.rate, r.Expiry, at)
				}
			}
			got = append(got, l.Backlog())
		}
		if fmt.Sprint(got) != fmt.Sprint(c.backlog) {
			t.Errorf("rate %d: backlog after each pass %v, want %v", c.rate, got, c.backlog)
		}
	}
}

// Checkpointing (etcd 3.4+): every 5 minutes the leader records a lease's
// remaining TTL, and a new leader's Promote gives it that instead of a full
// TTL; without it, or after a renewal clears the checkpoint, Promote gives
// the full TTL again (etcd #9395, kubernetes #65497).
func TestLessorCheckpointSurvivesPromote(t *testing.T) {
	expiryAfterPromote := func(checkpointing, renew bool) sim.Time {
		l := model.NewLessor(1, model.LessorConfig{KeysPerLease: 1, RateLimited: true, Checkpointing: checkpointing})
		l.Grant(0, 0, 1, time.Hour)
		for now := sim.Time(0); now <= sim.Time(30*time.Minute); now += 500 * ms {
			if renew && now == sim.Time(20*time.Minute) {
				l.Renew(now, 0)
			}
			l.RevokeExpired(now, nil)
		}
		promote := sim.Time(30*time.Minute) + sim.Time(time.Second)
		l.Promote(promote, time.Second)
		// Find the expiry: the first pass that revokes the lease.
		for now := promote; now < promote+sim.Time(2*time.Hour); now += 500 * ms {
			if r := l.RevokeExpired(now, nil); len(r) > 0 {
				return r[0].Expiry
			}
		}
		return -1
	}
	// The checkpoint at 30 min recorded 30 min left: 30m1s + 1s + 30m.
	if got, want := expiryAfterPromote(true, false), sim.Time(time.Hour+2*time.Second); got != want {
		t.Errorf("checkpointed: expires at %v after the Promote, want %v", got, want)
	}
	if got, want := expiryAfterPromote(false, false), sim.Time(90*time.Minute+2*time.Second); got != want {
		t.Errorf("no checkpointing: expires at %v, want a full TTL after the Promote, %v", got, want)
	}
	// Renewed at 20 min: the renewal clears the checkpoint, and the one due
	// at 20 min sees the full TTL left (skipped, and not scheduled again), so
	// the Promote gives the full TTL.
	if got, want := expiryAfterPromote(true, true), sim.Time(90*time.Minute+2*time.Second); got != want {
		t.Errorf("renewed: expires at %v, want %v", got, want)
	}
}
