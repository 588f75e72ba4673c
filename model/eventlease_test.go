package model_test

import (
	"testing"
	"time"

	"github.com/leasesim/leasesim/model"
	"github.com/leasesim/leasesim/sim"
)

// One lease per event write (kubernetes #47532, MaxObjects 1) expires as
// fast as events are written: at 1,500 writes/s the leases expire at
// 1,500/s, and the runLoop hands at most leaseRevokeRate/2 = 500 of them to
// revocation a pass (lessor.go revokeExpiredLeases), so every pass after the
// first expiry revokes exactly 500, the backlog grows by 250 a pass, and the
// keys outlive their lease by the backlog's age: after k passes 500k of the
// 750k due are revoked, the last of them due at pass ceil(2k/3), so at the
// 20th the worst lag is 20 - 14 = 6 passes, 3 s. Unlimited (etcd 3.2.1), a
// pass revokes all 750 due.
func TestEventWritersRevokeLimit(t *testing.T) {
	const pass = sim.Time(model.RevokeInterval)
	run := func(limited bool) (perPass []int, backlog int, lag sim.Time) {
		w := model.NewEventWriters(model.EventWritersConfig{Writers: 1, Rate: 1500, MaxObjects: 1, TTL: time.Minute, RateLimited: limited})
		cpu := model.NewCPU(model.CPUConfig{Cores: 1, Bucket: time.Second, Duration: time.Hour})
		m := model.NewMember(model.MemberConfig{ID: 0, ReqTimeout: 7 * time.Second, ElectionTimeout: time.Second}, cpu, model.NewLessor(1, model.LessorConfig{}), 0)
		var revoked []model.Revoked
		end := sim.Time(model.LeaseReuse+time.Minute) + 20*pass
		for now := pass; now <= end; now += pass {
			revoked, _ = w.Step(now, []*model.Member{m}, revoked[:0])
			if len(revoked) > 0 {
				perPass = append(perPass, len(revoked))
				lag = max(lag, now-revoked[len(revoked)-1].Expiry)
			}
		}
		return perPass, w.Backlog(end), lag
	}
	perPass, backlog, lag := run(true)
	if len(perPass) != 20 {
		t.Fatalf("revocations in %d passes, want the 20 from the first expiry (120.5 s: the first pass's grants) on", len(perPass))
	}
	for i, n := range perPass {
		if n != 500 {
			t.Fatalf("limited: pass %d after the first expiry revoked %d, want 500 (leaseRevokeRate/2)", i, n)
		}
	}
	if backlog != 20*250 || lag != 6*pass {
		t.Errorf("limited: backlog %d, worst lag %v; want %d (250 a pass) and 3 s", backlog, time.Duration(lag), 20*250)
	}
	perPass, backlog, lag = run(false)
	for i, n := range perPass {
		if n != 750 {
			t.Fatalf("unlimited: pass %d revoked %d, want all 750 due", i, n)
		}
	}
	if backlog != 0 || lag != 0 {
		t.Errorf("unlimited: backlog %d, worst lag %v; want none", backlog, time.Duration(lag))
	}
}
