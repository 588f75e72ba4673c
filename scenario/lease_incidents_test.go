package scenario_test

import (
	"testing"
	"time"

	"github.com/leasesim/leasesim/clientmodel"
	"github.com/leasesim/leasesim/model"
	"github.com/leasesim/leasesim/recorder"
	"github.com/leasesim/leasesim/spec"
)

// etcd #8096/#8097 (spec/builtin/lease-promote-expiry.yaml). The figure, from
// #8097's description: 1,000 leases with one TTL and different creation
// times, renewed together by a leader election, "are expired all at the same
// time". Here 2,000 such leases, on etcd 3.2.1: every one is revoked within
// the same second (tolerance: none — the lessor revokes all expired leases
// in one pass). The fix (etcd 3.2.2+, PRs #8099/#8149): Promote spreads the
// expiries to 3/4 of leaseRevokeRate, 750/s, and no second revokes more than
// leaseRevokeRate, 1,000; every lease still expires.
func TestLeasePromoteExpiry8097(t *testing.T) {
	run := func(etcd string) recorder.Outcome {
		t.Helper()
		o := runBuiltin(t, "lease-promote-expiry", func(s *spec.Spec) { s.Cluster.EtcdVersion = etcd })
		if o.Summary.LeasesExpired != 2000 || o.Summary.KeysLost != 2000 {
			t.Fatalf("etcd %s: %d leases expired, %d keys lost; want all 2,000", etcd, o.Summary.LeasesExpired, o.Summary.KeysLost)
		}
		// Promote at 26 s: expiry 26 s + 1 s (election timeout) + TTL 30 s.
		if f := o.Summary.FirstExpiryS; f == nil || *f < 57 || *f > 58 {
			t.Fatalf("etcd %s: first expiry at %v s, want 57-58 s (after the Promote, not a TTL after the grants)", etcd, f)
		}
		return o
	}
	if peak := run("3.2.1").Peaks[recorder.KeysLost]; peak != 2000 {
		t.Errorf("etcd 3.2.1: peak %v leases revoked in one second, want all 2,000", peak)
	}
	fixed := run("3.7.3")
	if peak := fixed.Peaks[recorder.KeysLost]; peak > 1000 || peak < 700 {
		t.Errorf("etcd 3.7.3: peak %v leases revoked in one second, want about 750 (Promote's spreading) and at most 1,000", peak)
	}
}

// etcd #9360/#12105 (spec/builtin/lease-revoke-backlog.yaml). The figure,
// from #12105: 900,000 leases with TTL 20 s, revoked at leaseRevokeRate =
// 1,000/s, show "the lease expired -600s". Here they expire between 20 s and
// 40 s and are revoked at exactly 1,000/s (two passes of 500 a second), so
// the last keys outlive their lease by 900 s - 20 s = 880 s: the test asks
// for a worst lag of 600-900 s (600 s is what the reporter saw at one
// moment, a lower bound), a backlog above 800,000, and every lease revoked
// by the end. The what-if (leaseRevokeRate 50,000/s, a patched server)
// keeps every lag under a second.
func TestLeaseRevokeBacklog9360(t *testing.T) {
	run := func(rate int) recorder.Outcome {
		t.Helper()
		o := runBuiltin(t, "lease-revoke-backlog", func(s *spec.Spec) { s.Cluster.LeaseRevokeRate = rate })
		if o.Summary.LeasesExpired != 900_000 {
			t.Fatalf("rate %d: %d leases revoked, want all 900,000", rate, o.Summary.LeasesExpired)
		}
		return o
	}
	o := run(0)
	if lag := o.Peaks[recorder.RevokeLagMax]; lag < 600 || lag > 900 {
		t.Errorf("keys outlived their lease by up to %.0f s, want 600-900 s", lag)
	}
	if rate := o.Peaks[recorder.KeysLost]; rate != 1000 {
		t.Errorf("peak %v revocations/s, want leaseRevokeRate, 1,000", rate)
	}
	if backlog := o.Peaks[recorder.RevokesPending]; backlog < 800_000 {
		t.Errorf("backlog peaked at %v, want > 800,000", backlog)
	}
	if lag := run(50_000).Peaks[recorder.RevokeLagMax]; lag >= 1 {
		t.Errorf("with 50,000 revocations/s keys outlived their lease by %.1f s, want < 1 s", lag)
	}
}

// kubernetes #65497 / etcd #9888 (spec/builtin/lease-ttl-reset.yaml). The
// figure: event leases (TTL 1 h, never renewed) "will be renewed
// indefinitely" when leader elections come more often than the TTL. Here
// the leader changes every 30 minutes for 3 hours: no lease expires. With
// checkpointing (PR #9924) every lease expires, an hour after its grant plus
// at most one checkpoint interval (5 min) and the election timeout (1 s) per
// leader change before it — two changes, and grants over the first minute:
// between 3,600 s and 3,600 + 2 x 301 + 60 s.
func TestLeaseTTLResetOnLeaderChange9888(t *testing.T) {
	o := runBuiltin(t, "lease-ttl-reset", nil)
	if o.Summary.LeasesExpired != 0 {
		t.Errorf("without checkpointing %d leases expired in 3 h, want none (each Promote gives a full hour)", o.Summary.LeasesExpired)
	}
	o = runBuiltin(t, "lease-ttl-reset", func(s *spec.Spec) { s.Cluster.LeaseCheckpoint = true })
	if o.Summary.LeasesExpired != 1000 {
		t.Fatalf("with checkpointing %d leases expired, want all 1,000", o.Summary.LeasesExpired)
	}
	deleted := o.Metric(recorder.KeysLost)
	first, last := -1, -1
	for i, v := range deleted {
		if v > 0 {
			last = i
			if first < 0 {
				first = i
			}
		}
	}
	if first < 3600 || last > 3600+2*301+60 {
		t.Errorf("with checkpointing leases expired from %d s to %d s, want within 3,600-4,262 s", first, last)
	}
}

// etcd #13491/#13508 (spec/builtin/lease-ttl-reset.yaml with checkpointing
// on). The figure, PR #13491's description: "checkpoints are scheduled only
// until the first leader change. After any subsequent leader change TTL is
// set to the value from before the first leader change." Here: grants over
// the first minute, each lease checkpointed every 5 min, the last time
// before the first leader change (30 min) 25 min after its grant, with
// about 2,100 s left. That change's Promote gives every lease those 2,100 s:
// all 1,000 would expire within one second, so Promote spreads them (etcd
// 3.2.2+: at most 3/4 of leaseRevokeRate, 750, a second) and delays the
// other 250; the unfixed Promote schedules a checkpoint for those 250 only
// (v3.5.1 server/lease/lessor.go:487, v3.4.19 lease/lessor.go:488). On
// 3.5.1 and 3.4.19 the 750 are never checkpointed again, and each later
// change, every 30 min, gives them 2,100 s again: none expires in the 3 h
// (the last change, at 150 min, pushes them to 185 min); the 250 expire as
// on a fixed release. On 3.5.2, 3.4.20 and 3.6.0 (PR #13508 and its
// backports) all 1,000 expire, within the window of
// TestLeaseTTLResetOnLeaderChange9888 (3,600 s to 3,600 + 2 x 301 + 60 s).
// Tolerance: none on the counts (the 750 is Promote's rate, the run is
// deterministic).
func TestLeaseCheckpointAfterLeaderChange13491(t *testing.T) {
	for _, c := range []struct {
		etcd string
		want uint64
	}{{"3.5.1", 250}, {"3.4.19", 250}, {"3.5.2", 1000}, {"3.4.20", 1000}, {"3.6.0", 1000}} {
		o := runBuiltin(t, "lease-ttl-reset", func(s *spec.Spec) {
			s.Cluster.LeaseCheckpoint = true
			s.Cluster.EtcdVersion = c.etcd
		})
		if o.Summary.LeasesExpired != c.want {
			t.Errorf("etcd %s with checkpointing: %d leases expired in 3 h, want %d", c.etcd, o.Summary.LeasesExpired, c.want)
			continue
		}
		first, last := -1, -1
		for i, v := range o.Metric(recorder.KeysLost) {
			if v > 0 {
				last = i
				if first < 0 {
					first = i
				}
			}
		}
		if first < 3600 || last > 3600+2*301+60 {
			t.Errorf("etcd %s with checkpointing: leases expired from %d s to %d s, want within 3,600-4,262 s", c.etcd, first, last)
		}
	}
}

// etcd #13675 (spec/builtin/lease-apply-stall.yaml). The figure: with a slow
// apply "leases expire cluster-wide". Here the leader's apply loop stalls
// for 8 s, longer than the 5 s TTL, on etcd 3.5.17: every lease expires. On
// etcd 3.7.3 (FastLeaseKeepAlive on) the leader's own clients (every third,
// round-robin) renew without waiting and keep their leases; the forwarded
// renewals still wait in leasehttp and the other 1,000 leases expire.
// Without the stall (or with one shorter than ApplyTimeout) none expires.
// The revocations wait for the apply loop as well (the revoke pipeline):
// the expired leases' keys stay until the stall ends.
func TestLeaseApplyStall13675(t *testing.T) {
	for _, c := range []struct {
		etcd  string
		stall time.Duration
		want  uint64
	}{{"3.5.17", 8 * time.Second, 1500}, {"3.7.3", 8 * time.Second, 1000}, {"3.5.17", 900 * time.Millisecond, 0}} {
		o := runBuiltin(t, "lease-apply-stall", func(s *spec.Spec) {
			s.Cluster.EtcdVersion = c.etcd
			s.Faults = []spec.FaultSpec{{At: spec.Duration(30 * time.Second), Kind: spec.FaultApplyStall, Duration: spec.Duration(c.stall)}}
		})
		if o.Summary.LeasesExpired != c.want {
			t.Errorf("etcd %s, apply stall %v: %d leases expired, want %d", c.etcd, c.stall, o.Summary.LeasesExpired, c.want)
		}
		// The revocations are applied by the stalled apply loop too: the
		// keys of leases that expired during the stall outlive them until it
		// ends (38 s), more than a runLoop pass; never longer than the stall.
		if lag := o.Peaks[recorder.RevokeLagMax]; c.want > 0 && (lag < 1 || lag > c.stall.Seconds()) {
			t.Errorf("etcd %s, apply stall %v: keys outlived their lease by up to %.3f s, want 1 s to the stall's %v", c.etcd, c.stall, lag, c.stall)
		}
	}
}

// etcd #15247/#12528 (spec/builtin/lease-deposed-leader.yaml). The figure,
// #15247's title: "All leases are revoked when the etcd leader is stuck in
// handling raft Ready due to slow fdatasync". Here the leader's raft loop
// blocks for 20 s on etcd 3.5.12: its followers elect another leader within
// ~2 s and renew there, while the old lessor, still primary, finds every
// lease expired by its stale table and proposes the revocations; they are
// committed when the fdatasync returns, at 50 s: all 1,000 leases are
// revoked (tolerance: none, the "all"), within that second (the
// first at 50 s, none a TTL after the stall began, as an honest expiry
// would be). The same on 3.4.30. With the fix (PR #16822: 3.6.0; backports
// 3.5.13 and 3.4.31) ensureLeadership fails and none is revoked; a stall
// shorter than the election timeout keeps the leadership and costs nothing.
func TestLeaseDeposedLeader15247(t *testing.T) {
	for _, c := range []struct {
		etcd  string
		stall time.Duration
		want  uint64
	}{{"3.5.12", 20 * time.Second, 1000}, {"3.4.30", 20 * time.Second, 1000},
		{"3.5.13", 20 * time.Second, 0}, {"3.4.31", 20 * time.Second, 0}, {"3.6.0", 20 * time.Second, 0}, {"3.7.3", 20 * time.Second, 0},
		{"3.5.12", 500 * time.Millisecond, 0}} {
		o := runBuiltin(t, "lease-deposed-leader", func(s *spec.Spec) {
			s.Cluster.EtcdVersion = c.etcd
			s.Faults = []spec.FaultSpec{{At: spec.Duration(30 * time.Second), Kind: spec.FaultFsyncStall, Duration: spec.Duration(c.stall)}}
		})
		if o.Summary.LeasesExpired != c.want || o.Summary.KeysLost != c.want {
			t.Errorf("etcd %s, fsync stall %v: %d leases revoked, %d keys lost; want %d", c.etcd, c.stall, o.Summary.LeasesExpired, o.Summary.KeysLost, c.want)
			continue
		}
		if c.want == 0 {
			continue
		}
		if f := o.Summary.FirstExpiryS; f == nil || *f < 50 || *f > 50.5 {
			t.Errorf("etcd %s: first revocation at %v s, want at the fdatasync's return, 50 s", c.etcd, f)
		}
		if peak := o.Peaks[recorder.KeysLost]; peak != float64(c.want) {
			t.Errorf("etcd %s: peak %v keys deleted in one second, want all %d at once", c.etcd, peak, c.want)
		}
	}
}

// #15247's second symptom: the blocked leader "accepts keepalives". With a
// third of the clients on it (round-robin), etcd 3.5.12's server still
// believes it leads while raft has deposed it, and its stale lessor renews
// and acknowledges their leases (deposed_renewals) though the cluster never
// sees those renewals: every lease is still revoked when the fdatasync
// returns. On 3.5.13 its LeaseRenew first reads (ensureLeadership, the
// member being inactive), the read fails, and the clients get ErrNotPrimary
// instead of a false acknowledgement. (Their leases then expire too: the
// model pins a client to its member, where clientv3 would try another
// endpoint.)
func TestLeaseDeposedLeaderAcceptsKeepalives15247(t *testing.T) {
	run := func(etcd string) (acked, errs float64, expired uint64) {
		t.Helper()
		o := runBuiltin(t, "lease-deposed-leader", func(s *spec.Spec) {
			s.Cluster.EtcdVersion = etcd
			s.Clients.Placement = spec.DefaultPlacement // round-robin
		})
		for _, v := range o.Metric(recorder.DeposedRenewals) {
			acked += v
		}
		for _, v := range o.Metric(recorder.ClientStreamErrors) {
			errs += v
		}
		return acked, errs, o.Summary.LeasesExpired
	}
	if acked, _, expired := run("3.5.12"); acked == 0 || expired != 1000 {
		t.Errorf("etcd 3.5.12: %v renewals acknowledged by the deposed leader, %d leases revoked; want some, and all 1,000", acked, expired)
	}
	if acked, errs, _ := run("3.5.13"); acked != 0 || errs == 0 {
		t.Errorf("etcd 3.5.13: %v renewals acknowledged by the deposed leader, %v stream errors; want none, and ErrNotPrimary errors", acked, errs)
	}
}

// etcd #9496 (spec/builtin/lease-demote-election.yaml). The figure, from
// #9496: with millions of leases "if a leader election occurred, it would
// endlessly time out and fail to elect a leader". Here 10,000,000 leases,
// etcd 3.7.3, a 5 s leader stall at 20 s: on seeds 1-3 the cluster has no
// leader at the end of at least 80 of the 95 one-second buckets after the
// stall (tolerance: the elections that do succeed are lost again within a
// few seconds, as the transcript model/testdata/raft/demote.txt shows), and
// every client's KeepAlive gives up at its own deadline (TTL 10 s without an
// answer). No lease expires: without a leader no lessor counts down. The
// what-if (100,000 leases) elects a leader at once: no leaderless bucket
// ends, no lease expires, no KeepAlive gives up.
func TestLeaseDemoteElection9496(t *testing.T) {
	run := func(held int, seed uint64) (leaderless int, o recorder.Outcome) {
		t.Helper()
		o = runBuiltin(t, "lease-demote-election", func(s *spec.Spec) { s.Cluster.HeldLeases, s.Seed = held, seed })
		for _, l := range o.Metric(recorder.LeaderMember) {
			if l < 0 {
				leaderless++
			}
		}
		return leaderless, o
	}
	for seed := uint64(1); seed <= 3; seed++ {
		leaderless, o := run(10_000_000, seed)
		if leaderless < 80 {
			t.Errorf("10M leases, seed %d: %d leaderless seconds, want >= 80 of the 95 after the stall", seed, leaderless)
		}
		if o.Summary.LeasesExpired != 0 || o.Summary.ChannelsClosed[clientmodel.ClosedDeadline.String()] != 300 {
			t.Errorf("10M leases, seed %d: %d leases expired, keepalives closed %v; want 0 expired (no leader counts down) and all 300 closed at their deadline",
				seed, o.Summary.LeasesExpired, o.Summary.ChannelsClosed)
		}
		fixed, fo := run(100_000, seed)
		if fixed != 0 || fo.Summary.LeasesExpired != 0 || len(fo.Summary.ChannelsClosed) != 0 {
			t.Errorf("100k leases, seed %d: %d leaderless seconds, %d leases expired, keepalives closed %v; want none",
				seed, fixed, fo.Summary.LeasesExpired, fo.Summary.ChannelsClosed)
		}
	}
}

// kubernetes #96836 / PR #98257, etcd #15993 (spec/builtin/lease-event-keys.yaml).
// The figures: "lease_revoke operation in etcd is atomic, this blocks all
// other operations for long period of time", about an hour after a cluster's
// start (#96836); with --lease-max-object-count=1000 "It reduced CPU usage
// of events etcd from ~10-15 cores to 1-2 cores" (PR #98257, gce-5000Nodes).
// The event rate of that test is not published: 1,000 events/s is an
// assumption, not inferred from the CPU figure, because in the model the cap
// leaves kube-apiserver's CPU unchanged at any rate (below). Costs: measured on etcd v3.7.3
// (calibrate/testdata/event-lease-3.7.3.json, replayed by
// calibrate.TestEventLeaseCostsReplay).
//
// Reproduced: the first revocation comes when the first lease (granted at
// the first pass, 0.5 s) expires, TTL 1 h + 60 s later, in the bucket of
// 3,660 s; it deletes the lease's 60,000 keys in one apply, and the stall
// is model.RevokeCost(60,000) (0.31 s) plus that pass's queued writes (a
// few ms): within 5 %. With the cap a revocation deletes 1,000 keys: a
// stall of 4.4 ms plus the writes, under 10 ms, 30 times shorter at least.
//
// Reproduced too: the CPU drop, from the first revocation on. Before it
// (minutes 30-55) the member's CPU is the same with and without the cap
// (within 1 %): E x (EventPutBase + the compare's copy of a 512-entry read
// buffer). kube-apiserver's Txn writes never walk the lease's keys; what
// the cap changes is etcd 3.4's read buffer (model/eventlease.go,
// ReadTxnCopy): the first revocation (3,660 s) writes its lease's keys in
// one writeback, the key bucket's read buffer grows to hold them (66,429
// entries for 60,000 keys, 1,152 for 1,000) and keeps that length, and
// every later write's Txn copies it whole for its compare. From 3,661 s to
// the end (3,720 s) the member's CPU must be exactly the model's sum (the
// writes at E x (EventPutBase + ReadTxnCopy(cap)) plus the revocations),
// within 2 %, and the unbounded run's between 5 and 15 times the capped
// run's: the figure's range ("~10-15 cores to 1-2 cores", PR #98257: from
// 10/2 to 15/1). Its absolute cores are not the figure's: the rate is
// assumed. On 3.5.9 a write Txn reads through the shared buffer (PR
// #12896) and the CPU is the same with and without the cap again.
//
// A plain Put walks the lease's keys on a pre-fix release (etcd #15993):
// then, on 3.4.13, the walk costs cores without the cap and almost nothing
// with it, and 3.4.27 (PR #16020) skips it; a Put reads nothing, so it
// never copies the buffer.
func TestLeaseEventKeys96836(t *testing.T) {
	type result struct{ cores, after, stall float64 }
	run := func(maxObjects int, op, etcd string) result {
		t.Helper()
		o := runBuiltin(t, "lease-event-keys", func(s *spec.Spec) {
			s.Clients.LeaseMaxObjects, s.Clients.WriteOp = maxObjects, op
			if etcd != "" {
				s.Cluster.EtcdVersion = etcd
			}
		})
		cpu, stalls := o.Metric(recorder.CPUUtilisation(0)), o.Metric(recorder.RevokeStallMax)
		var r result
		for _, u := range cpu[30*60 : 55*60] { // minutes 30-55: steady writes, no revocation yet
			r.cores += u * 16 / (25 * 60)
		}
		for _, u := range cpu[3661:3720] { // after the first revocation (3,660 s) to the end
			r.after += u * 16 / 59
		}
		first := -1
		for i, v := range stalls {
			if v > 0 && first < 0 {
				first = i
			}
			r.stall = max(r.stall, v)
		}
		if first != 3660 {
			t.Errorf("cap %d, %s, etcd %s: first revocation in the bucket of %d s, want 3,660 s (TTL 1 h + 60 s reuse after the first write)", maxObjects, op, etcd, first)
		}
		t.Logf("cap %d, %s, etcd %s: %.3f cores, %.3f after the first revocation, longest revoke stall %.4f s", maxObjects, op, etcd, r.cores, r.after, r.stall)
		return r
	}
	unbounded, capped := run(0, "", ""), run(1000, "", "")
	if want := model.RevokeCost(60_000).Seconds(); unbounded.stall < want || unbounded.stall > want*1.05 {
		t.Errorf("unbounded: longest revoke stall %.3f s, want RevokeCost(60,000) = %.3f s and at most 5 %% more", unbounded.stall, want)
	}
	if capped.stall > 0.010 || unbounded.stall < 30*capped.stall {
		t.Errorf("cap 1,000: longest revoke stall %.4f s, want under 10 ms and 30 times shorter than unbounded (%.3f s)", capped.stall, unbounded.stall)
	}
	if d := unbounded.cores - capped.cores; d > 0.01*capped.cores || d < -0.01*capped.cores {
		t.Errorf("Txn writes: %.3f cores unbounded, %.3f with the cap; want the same within 1 %% (no walk)", unbounded.cores, capped.cores)
	}
	// After the first revocation: the writes' cores, each with its compare's
	// copy of the buffer the largest revocation left, plus the revocations
	// (capped, one a second of 1,000 keys; unbounded, none: the second lease
	// expires at 3,720.5 s).
	// The member's other work (its lessor's and raft's, ~0.01 cores) is the
	// rest of its CPU before any revocation, when the buffer holds one batch
	// interval's writes (100 ms, 100 events: 512 entries).
	writes := func(bufKeys int) float64 {
		return 1000 * (model.EventPutBase + model.ReadTxnCopy(model.ReadBufferCap(bufKeys))).Seconds()
	}
	want := func(r result, bufKeys int, revokes float64, keys int) float64 {
		return r.cores - writes(100) + writes(bufKeys) + revokes*model.RevokeCost(keys).Seconds()
	}
	for _, c := range []struct {
		name string
		r    result
		want float64
	}{{"unbounded", unbounded, want(unbounded, 60_000, 0, 0)}, {"cap 1,000", capped, want(capped, 1_000, 1, 1_000)}} {
		if c.r.after < c.want*0.98 || c.r.after > c.want*1.02 {
			t.Errorf("%s, after the first revocation: %.3f cores, want the model's %.3f within 2 %%", c.name, c.r.after, c.want)
		}
	}
	if ratio := unbounded.after / capped.after; ratio < 5 || ratio > 15 {
		t.Errorf("after the first revocation: %.2f cores unbounded, %.2f capped (x%.1f); want x5 to x15 (PR #98257: ~10-15 cores -> 1-2)", unbounded.after, capped.after, ratio)
	}
	shared, sharedCapped := run(0, "", "3.5.9"), run(1000, "", "3.5.9")
	if d := shared.after - sharedCapped.after; d > 0.05*sharedCapped.after || d < -0.05*sharedCapped.after {
		t.Errorf("Txn writes on 3.5.9, after the first revocation: %.3f cores unbounded, %.3f capped; want the same within 5 %% (no copy: PR #12896)", shared.after, sharedCapped.after)
	}
	walk, walkCapped, fixed := run(0, spec.WritePut, ""), run(1000, spec.WritePut, ""), run(0, spec.WritePut, "3.4.27")
	if walk.cores < 10*walkCapped.cores || walkCapped.cores > 1.5*capped.cores {
		t.Errorf("Puts on 3.4.13: %.2f cores unbounded, %.2f with the cap; want the walk to cost 10 times the capped CPU, and the capped CPU near the Txn writes' (%.2f)",
			walk.cores, walkCapped.cores, capped.cores)
	}
	if d := fixed.cores - shared.cores; d > 0.01*shared.cores || d < -0.01*shared.cores {
		t.Errorf("Puts on 3.4.27: %.3f cores, want 3.5.9's Txn writes' %.3f (PR #16020 skips the walk; neither copies the read buffer)", fixed.cores, shared.cores)
	}
}

// etcd #18069 (spec/builtin/lease-renew-readindex.yaml). The figure, from
// the report: at 1,500 renewals/s "the CPU usage of the leader node
// increased by 20%" on etcd 3.5.13 (arm64, placement of the clients not
// stated), and removing the ensureLeadership call brought it back. Here
// 1,500 renewals/s round-robin over 3 members (a third at the leader, each
// with a ReadIndex round of its own at this rate): the leader's mean CPU
// from 15 s on must be 10-35 % above etcd 3.5.16's (the report's 20 %, on
// another machine, with whatever else that leader served; the cost per
// round is measured on this one, model.ReadIndexLeaderCost). The renewals'
// rate is the same in both (the read delays each leader renewal by a peer
// round trip, not its schedule), and no lease expires.
func TestLeaseRenewReadIndex18069(t *testing.T) {
	leaderCPU := func(etcd string) (float64, recorder.Outcome) {
		t.Helper()
		o := runBuiltin(t, "lease-renew-readindex", func(s *spec.Spec) { s.Cluster.EtcdVersion = etcd })
		if o.Summary.LeasesExpired != 0 {
			t.Fatalf("etcd %s: %d leases expired, want none", etcd, o.Summary.LeasesExpired)
		}
		cpu := o.Metric(recorder.CPUUtilisation(0))
		from := int(15 / o.Summary.BucketSeconds)
		if len(cpu) <= from {
			t.Fatalf("etcd %s: %d CPU buckets", etcd, len(cpu))
		}
		sum := 0.0
		for _, v := range cpu[from:] {
			sum += v
		}
		return sum / float64(len(cpu)-from), o
	}
	slow, slowRun := leaderCPU("3.5.13")
	fast, fastRun := leaderCPU("3.5.16")
	rise := slow/fast - 1
	t.Logf("leader CPU %.4f on 3.5.13 vs %.4f on 3.5.16: +%.1f %%", slow, fast, 100*rise)
	if rise < 0.10 || rise > 0.35 {
		t.Errorf("leader CPU %.4f on 3.5.13 vs %.4f on 3.5.16: +%.0f %%, want +10-35 %% (the report: +20 %%)", slow, fast, 100*rise)
	}
	// Each round also costs every follower its answer to the heartbeat.
	if f13, f16 := peakOf(slowRun, recorder.CPUUtilisation(1)), peakOf(fastRun, recorder.CPUUtilisation(1)); f13 <= f16 {
		t.Errorf("follower CPU peak %.4f on 3.5.13, %.4f on 3.5.16; want more on 3.5.13", f13, f16)
	}
	rounds := slowRun.Metric(recorder.ReadIndexRounds)
	if rounds == nil || fastRun.Metric(recorder.ReadIndexRounds) != nil {
		t.Fatalf("read_index_rounds recorded on 3.5.13: %v, on 3.5.16: %v; want only on 3.5.13", rounds != nil, fastRun.Metric(recorder.ReadIndexRounds) != nil)
	}
	a, b := slowRun.Summary.RenewalsTotal, fastRun.Summary.RenewalsTotal
	if a < b*99/100 || a > b*101/100 {
		t.Errorf("renewals: %d on 3.5.13, %d on 3.5.16; want the same within 1 %%", a, b)
	}
	if r := float64(b) / 60; r < 1300 || r > 1600 {
		t.Errorf("%.0f renewals/s over the run, want about 1,500 (the report's rate)", r)
	}
}

// Short lock leases (spec/builtin/lease-lock-ttl2.yaml): a concurrency.Session
// at etcd's minimum TTL, 2 s, loses its lease to a 1 s leader pause that
// causes no election. The mechanism, asserted: a renewal that reaches the
// leader more than a TTL after the lease's last one finds it expired, so
// every lease that expires is one whose keepalive got the TTL 0 answer
// (the channel closed as revoked: lease.go:534-539), none gave up at its
// deadline first; the first expiry comes after the pause (the paused
// leader's lessor counts nothing down meanwhile); and no second is without
// a leader. The controls:
// TTL 3 s (answers late by the pause and the reconnect storm still arrive
// within the TTL), a 500 ms pause, and HTTP/2 peers (no reconnect storm
// after the pause) lose nothing. Seed 1 loses 259 of 1,500; over seeds 1-5,
// 3 of 5 lose 155-266 and 2 lose none (the pause lands at another point of
// the sessions' renewal cycles): this test pins seed 1.
func TestLeaseLockTTL2(t *testing.T) {
	run := func(mutate func(*spec.Spec)) recorder.Outcome {
		t.Helper()
		return runBuiltin(t, "lease-lock-ttl2", mutate)
	}
	o := run(nil)
	lost := o.Summary.LeasesExpired
	if lost == 0 || lost != o.Summary.ChannelsClosed[clientmodel.ClosedRevoked.String()] || len(o.Summary.ChannelsClosed) != 1 {
		t.Fatalf("TTL 2 s: %d leases expired, keepalives closed %v; want some, each closed by the TTL 0 answer to its late renewal", lost, o.Summary.ChannelsClosed)
	}
	if f := o.Summary.FirstExpiryS; f == nil || *f < 21 {
		t.Errorf("TTL 2 s: first expiry at %v s, want after the pause ends at 21 s", f)
	}
	for _, l := range o.Metric(recorder.LeaderMember) {
		if l < 0 {
			t.Fatalf("a second without a leader: the 1 s pause is shorter than every election timeout")
		}
	}
	for name, mutate := range map[string]func(*spec.Spec){
		"TTL 3 s":        func(s *spec.Spec) { s.Clients.TTL = spec.Duration(3 * time.Second) },
		"a 500 ms pause": func(s *spec.Spec) { s.Faults[0].Duration = spec.Duration(500 * time.Millisecond) },
		"HTTP/2 peers":   func(s *spec.Spec) { s.Cluster.Transport = "http2" },
	} {
		if c := run(mutate); c.Summary.LeasesExpired != 0 || len(c.Summary.ChannelsClosed) != 0 {
			t.Errorf("%s: %d leases expired, keepalives closed %v; want none", name, c.Summary.LeasesExpired, c.Summary.ChannelsClosed)
		}
	}
}
