package scenario_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/leasesim/leasesim/recorder"
	"github.com/leasesim/leasesim/scenario"
	"github.com/leasesim/leasesim/spec"
)

// multiLease runs 1,000 client processes (v3.7.3, drain, TTL 10 s) on 3
// members with leases leases each, and the stall given (none if 0), and
// returns the outcome and the History's answered keepalives by lease entry.
func multiLease(t *testing.T, leases int, stall time.Duration) (recorder.Outcome, [][]recorder.Op, spec.Cluster) {
	t.Helper()
	faults := ""
	if stall > 0 {
		faults = fmt.Sprintf("faults:\n  - {at: 20s, kind: leader-stall, duration: %v}\n", stall)
	}
	s, err := spec.LoadBytes([]byte(fmt.Sprintf(`name: multilease
duration: 1m
server: cluster
clients: {count: 1000, ttl: 10s, version: v3.7.3, consumer: drain, start_spread: 3s, leases_per_client: %d}
cluster: {members: 3, cores: 4}
%s`, leases, faults)), "multilease.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	byLease := make([][]recorder.Op, 1000*leases)
	history := func(op recorder.Op) {
		if op.Kind == recorder.OpKeepAlive {
			byLease[op.Lease-1] = append(byLease[op.Lease-1], op)
		}
	}
	o, err := scenario.RunCluster(*r.Cluster, scenario.Options{History: history}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return o, byLease, *r.Cluster
}

// Several leases per client process (clients.leases_per_client 4): each
// process keeps its 4 leases alive through one lessor (one stream, one
// 500 ms scan, one deadline loop: clientmodel.Process), so
//   - every lease is renewed as a process's one lease is: 4x the renewals of
//     the 1-lease run, none expires;
//   - a process's 4 leases are sent at the same scan instants (one scan
//     finds them all due: granted and KeepAlive'd together, answered within
//     milliseconds, their next keepalive falls on the same 500 ms tick);
//   - the member serves a stream one request at a time (v3rpc/lease.go
//     leaseKeepAlive, v3.7.3 :111-160: Recv, LeaseRenew(req.ID), Send), each
//     as its own lease's: requests sent together are answered in lease order,
//     and on a follower each waits for the forward of the one before it, a
//     peer round trip at least: answers one after another. With a 2 s leader
//     stall the requests of that window are all answered after it, still one
//     after another.
func TestSeveralLeasesPerProcess(t *testing.T) {
	const procs, n = 1000, 4
	one, _, _ := multiLease(t, 1, 0)
	four, byLease, c := multiLease(t, n, 0)
	if four.Summary.RenewalsTotal != n*one.Summary.RenewalsTotal || four.Summary.RenewalsTotal == 0 {
		t.Errorf("%d renewals with %d leases a process, %d with one; want %d times as many", four.Summary.RenewalsTotal, n, one.Summary.RenewalsTotal, n)
	}
	if four.Summary.LeasesExpired != 0 || one.Summary.LeasesExpired != 0 {
		t.Errorf("%d (4 a process) and %d (1) leases expired, want none", four.Summary.LeasesExpired, one.Summary.LeasesExpired)
	}
	peer := time.Duration(c.PeerRTT)
	together := 0
	for p := range procs {
		first := byLease[c.LeaseEntry(p, 1)]
		if len(first) < 10 {
			t.Fatalf("process %d lease 1: %d keepalives answered, want one every ~3.5 s", p, len(first))
		}
		same := true
		for l := uint32(1); l <= n; l++ {
			ops := byLease[c.LeaseEntry(p, l)]
			for _, op := range ops { // the process's one scan: a 500 ms grid from its stream's opening (its first send)
				if d := op.Call - first[0].Call; d%int64(500*time.Millisecond) != 0 {
					t.Fatalf("process %d lease %d sent at %v, off its scan grid (first send %v)", p, l, time.Duration(op.Call), time.Duration(first[0].Call))
				}
			}
			same = same && slices.EqualFunc(ops, first, func(a, b recorder.Op) bool { return a.Call == b.Call })
		}
		if same {
			together++
		}
		serial(t, p, byLease, c, n, c.MemberOf(p) != c.Leader, peer, 0, time.Hour)
	}
	// A lease answered a few ms after the one before it (the serial service)
	// can miss the scan that sends the others, when that scan is due just
	// after the first answer + TTL/3: rare with answers in ms.
	t.Logf("%d of %d processes sent their %d leases at the same scans throughout", together, procs, n)
	if together < procs*95/100 {
		t.Errorf("%d of %d processes sent their %d leases at the same scans throughout; want 95 %% at least", together, procs, n)
	}

	stalled, byLease, c := multiLease(t, n, 2*time.Second)
	if stalled.Summary.LeasesExpired != 0 {
		t.Errorf("2 s leader stall: %d leases expired, want none", stalled.Summary.LeasesExpired)
	}
	waited := 0
	for p := range procs {
		waited += serial(t, p, byLease, c, n, c.MemberOf(p) != c.Leader, peer, 20*time.Second, 22*time.Second)
	}
	t.Logf("2 s leader stall: %d sends answered after it, one after another", waited)
	if waited == 0 {
		t.Error("2 s leader stall: no process's requests waited for the stall's end")
	}
}

// serial checks that process p's requests sent at one instant in [from, to)
// were answered in lease order, one after another (a peer round trip apart
// at least if forwarded), and returns how many such instants were answered
// after to (waited for a stall ending then).
func serial(t *testing.T, p int, byLease [][]recorder.Op, c spec.Cluster, n uint32, forwarded bool, peer, from, to time.Duration) (waited int) {
	t.Helper()
	for _, op := range byLease[c.LeaseEntry(p, 1)] {
		if op.Call < int64(from) || op.Call >= int64(to) {
			continue
		}
		prev, l := op, uint32(1)
		for next := uint32(2); next <= n; next++ {
			ops := byLease[c.LeaseEntry(p, next)]
			k := slices.IndexFunc(ops, func(o recorder.Op) bool { return o.Call == op.Call })
			if k < 0 {
				continue // sent at another scan (see TestSeveralLeasesPerProcess)
			}
			gap := time.Duration(ops[k].Return - prev.Return)
			if gap <= 0 || (forwarded && gap < peer) {
				t.Fatalf("process %d: sent at %v, lease %d answered at %v, lease %d at %v; want one after another (forwarded: %v, a peer round trip %v apart at least)",
					p, time.Duration(op.Call), l, time.Duration(prev.Return), next, time.Duration(ops[k].Return), forwarded, peer)
			}
			prev, l = ops[k], next
		}
		if op.Return >= int64(to) {
			waited++
		}
	}
	return waited
}
