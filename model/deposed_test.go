package model_test

import (
	"testing"
	"time"

	"github.com/leasesim/leasesim/model"
	"github.com/leasesim/leasesim/sim"
)

// deposedRun drives member 0 of a 3-member cluster through etcd #15247 by
// hand: 10 leases (TTL 10 s) granted at 0, renewed by the leader at 5 s; at
// 6 s its raft loop blocks in fdatasync until stallEnd; raft deposes it at
// 7 s (member 1 elected, whose Promote renews every lease in the shared
// table) and the new leader renews every lease at 12, 18 and 24 s. It steps
// member 0's wake-ups in time order and returns the revocations it reports
// and when.
func deposedRun(t *testing.T, checks bool, mutant model.Mutant, stallEnd sim.Time) (revoked int, at []sim.Time, l *model.Lessor) {
	t.Helper()
	const sec = sim.Time(time.Second)
	l = model.NewLessor(10, model.LessorConfig{KeysPerLease: 1, RateLimited: true})
	cpu := model.NewCPU(model.CPUConfig{Cores: 1, Bucket: time.Second, Duration: time.Minute})
	m := model.NewMember(model.MemberConfig{ID: 0, ReqTimeout: 7 * time.Second, ElectionTimeout: time.Second,
		RevokeChecksLeadership: checks, Mutant: mutant}, cpu, l, 0)
	for i := range 10 {
		l.Grant(0, i, 1, 10*time.Second)
	}
	for i := range 10 {
		l.Renew(5*sec, i)
	}
	var wakes []model.Output
	step := func(now sim.Time, in model.Input) {
		for _, o := range m.Step(now, in, nil) {
			switch {
			case o.Kind == model.OutWake:
				wakes = append(wakes, o)
			case o.Kind == model.OutFact && o.Fact == model.FactExpired:
				revoked += int(o.N)
				at = append(at, now)
			}
		}
	}
	step(6*sec, model.Input{Kind: model.InFsyncStall, Until: stallEnd})
	step(7*sec, model.Input{Kind: model.InLeaderLost})
	step(7*sec, model.Input{Kind: model.InElected, From: 1})
	l.Promote(7*sec, time.Second) // member 1's lessor
	renewals := []sim.Time{12 * sec, 18 * sec, 24 * sec}
	for len(wakes) > 0 {
		k := 0
		for j := range wakes {
			if wakes[j].At < wakes[k].At {
				k = j
			}
		}
		w := wakes[k]
		wakes = append(wakes[:k], wakes[k+1:]...)
		for len(renewals) > 0 && renewals[0] <= w.At {
			for i := range 10 {
				l.Renew(renewals[0], i)
			}
			renewals = renewals[1:]
		}
		if w.At > sim.Time(time.Minute) {
			t.Fatalf("member 0 still wakes at %v", w.At)
		}
		step(w.At, w.WakeInput())
	}
	return revoked, at, l
}

// A deposed leader's lessor (etcd #15247): without the leadership check its
// stale table (expiries 15 s) revokes every lease, applied to the cluster's
// lessor when the fdatasync returns at 30 s, though the new leader renewed
// them at 24 s (alive to 34 s); with the check (3.4.31+, 3.5.13+, 3.6+) none; the mutant
// that skips the check revokes them again; a stall that ends before the
// stale expiries revokes nothing; and once the loop runs the lessor is
// demoted: its runLoop stops waking.
func TestDeposedLeaderLessor(t *testing.T) {
	const sec = sim.Time(time.Second)
	n, at, l := deposedRun(t, false, model.MutantNone, 30*sec)
	if n != 10 || len(at) != 10 || at[0] != 30*sec || at[9] != 30*sec {
		t.Fatalf("unfixed: %d revoked at %v, want all 10 at 30s", n, at)
	}
	for i := range 10 {
		if l.Alive(i) {
			t.Fatalf("lease %d alive after the deposed leader's revokes were applied", i)
		}
	}
	if n, _, _ := deposedRun(t, true, model.MutantNone, 30*sec); n != 0 {
		t.Errorf("fixed: %d revoked, want none", n)
	}
	if n, _, _ := deposedRun(t, true, model.MutantDeposedRevoke, 30*sec); n != 10 {
		t.Errorf("deposed-revoke mutant: %d revoked, want all 10", n)
	}
	if n, _, _ := deposedRun(t, false, model.MutantNone, 14*sec); n != 0 {
		t.Errorf("unfixed, stall over before the stale expiries: %d revoked, want none", n)
	}
}
