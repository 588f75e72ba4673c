package scenario_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/leasesim/leasesim/recorder"
	"github.com/leasesim/leasesim/scenario"
	"github.com/leasesim/leasesim/spec"
)

// Raft in the loop (spec/builtin/leader-stall-election.yaml): with
// cluster.raft, a leader-stall longer than every randomized election timeout
// (3 s > 2 x 1 s) moves the leadership to a follower, which Promotes; a
// stall shorter than the election timeout (500 ms) does not. Without
// cluster.raft the 3 s stall moves nothing either, and the run has no raft
// series.
func TestRaftLeaderStallElection(t *testing.T) {
	base, err := spec.Builtin("leader-stall-election")
	if err != nil {
		t.Fatal(err)
	}
	run := func(raft bool, stall time.Duration) recorder.Outcome {
		t.Helper()
		s := base
		s.Cluster.Raft = raft
		s.Faults = []spec.FaultSpec{{At: spec.Duration(20 * time.Second), Kind: spec.FaultLeaderStall, Duration: spec.Duration(stall)}}
		o, err := scenario.Run(context.Background(), s, nil)
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	sum := func(xs []float64) (n float64) {
		for _, x := range xs {
			n += x
		}
		return n
	}

	long := run(true, 3*time.Second)
	changes := long.Metric(recorder.LeaderChanges)
	if n := sum(changes); n != 1 {
		t.Fatalf("raft, 3 s stall: %v leader changes, want 1: %v", n, changes)
	}
	// The followers' timers run out 1-2 s after the last heartbeat: the
	// election ends within the stall.
	for i, c := range changes {
		if c > 0 && (i < 21 || i > 22) {
			t.Errorf("raft, 3 s stall: leader change in bucket %d s, want 21-22 s (1-2 s into the stall)", i)
		}
	}
	leader := long.Metric(recorder.LeaderMember)
	if l := leader[len(leader)-1]; l != 1 && l != 2 {
		t.Errorf("raft, 3 s stall: member %v leads at the end, want a former follower (1 or 2)", l)
	}
	// The leader's CPU series follows the leadership.
	if l := int(leader[30]); long.Metric(recorder.LeaderCPUUtilisation)[30] != long.Metric(recorder.CPUUtilisation(l))[30] ||
		long.Metric(recorder.LeaderCPUUtilisation)[10] != long.Metric(recorder.CPUUtilisation(0))[10] {
		t.Errorf("leader_cpu_utilisation does not follow the leader")
	}
	if p := long.Peaks[recorder.PromoteTime]; p <= 0 {
		t.Errorf("raft, 3 s stall: no Promote recorded (promote_s peak %v)", p)
	}

	short := run(true, 500*time.Millisecond)
	if n := sum(short.Metric(recorder.LeaderChanges)); n != 0 {
		t.Errorf("raft, 500 ms stall: %v leader changes, want none", n)
	}
	if l := short.Finals[recorder.LeaderMember]; l != 0 {
		t.Errorf("raft, 500 ms stall: member %v leads at the end, want 0", l)
	}

	off := run(false, 3*time.Second)
	if off.Metric(recorder.LeaderChanges) != nil || off.Peaks[recorder.PromoteTime] != 0 {
		t.Errorf("without raft: leader changes %v, promote_s peak %v; want no series and no Promote",
			off.Metric(recorder.LeaderChanges), off.Peaks[recorder.PromoteTime])
	}
}

// Scripted leader changes keep working with cluster.raft: the scripted
// winner leads after the scripted election, and the raft, held meanwhile,
// starts no election of its own.
func TestRaftScriptedLeaderChange(t *testing.T) {
	s, err := spec.Builtin("leader-stall-election")
	if err != nil {
		t.Fatal(err)
	}
	s.Faults = []spec.FaultSpec{{At: spec.Duration(10 * time.Second), Kind: spec.FaultLeaderChange, To: 2, Duration: spec.Duration(3 * time.Second)}}
	o, err := scenario.Run(context.Background(), s, nil)
	if err != nil {
		t.Fatal(err)
	}
	changes, leader := o.Metric(recorder.LeaderChanges), o.Metric(recorder.LeaderMember)
	for i := range changes {
		want := 0.0
		if i == 13 {
			want = 1
		}
		if changes[i] != want {
			t.Fatalf("leader changes per second %v, want one at 13 s", changes)
		}
	}
	if leader[11] != -1 || leader[len(leader)-1] != 2 {
		t.Fatalf("leader per second %v: want none during the election, member 2 after", leader)
	}
}

// A storm (1,500 pre-fix clients that never read their channel, 5 members of
// a quarter core each, etcd 3.2.23: no PreVote) saturates the leader's CPU.
// With cluster.raft_wait preempt (the default) its raft loop still gets a
// core within Go's 10 ms slice and it keeps leading; with backlog (the
// pessimistic bound) its heartbeats wait behind the queue and elections
// follow.
func TestRaftStormRaftWait(t *testing.T) {
	s := spec.Spec{Name: "storm", Seed: 7, Duration: spec.Duration(2 * time.Minute), Server: spec.ServerCluster,
		Clients: spec.ClientsSpec{Count: 1500, TTL: spec.Duration(5 * time.Second), Version: "v3.2.23", Consumer: "never",
			StartSpread: spec.Duration(10 * time.Second)},
		Cluster: spec.ClusterSpec{Members: 5, Cores: 0.25, EtcdVersion: "3.2.23", Raft: true}}
	changes := func(wait string) (float64, float64) {
		t.Helper()
		s := s
		s.Cluster.RaftWait = wait
		o, err := scenario.Run(context.Background(), s, nil)
		if err != nil {
			t.Fatal(err)
		}
		n := 0.0
		for _, c := range o.Metric(recorder.LeaderChanges) {
			n += c
		}
		return n, o.Peaks[recorder.CPUUtilisation(0)]
	}
	if n, cpu := changes("preempt"); n != 0 || cpu < 0.95 {
		t.Errorf("raft_wait preempt: %v leader changes (want none), leader CPU peak %v (want saturated)", n, cpu)
	}
	n, cpu := changes("backlog")
	t.Logf("raft_wait backlog: %v leader changes, leader CPU peak %v", n, cpu)
	if n == 0 {
		t.Errorf("raft_wait backlog: no leader change under a saturated leader")
	}
}

// With cluster.raft a partitioned leader is modelled: its followers hear no
// heartbeat, elect one of themselves, and CheckQuorum deposes it. On etcd
// 3.7.3 (PreVote) the cut-off member's campaigns change no term and it
// rejoins quietly: one leader change. On 3.4.0 (no PreVote by default) it
// raises its term with every campaign while alone (10 s: several), and when
// the partition heals its answer to the new leader's heartbeat deposes that
// leader too: another election.
func TestRaftPartitionedLeader(t *testing.T) {
	base, err := spec.Builtin("leader-stall-election")
	if err != nil {
		t.Fatal(err)
	}
	base.Faults = []spec.FaultSpec{{At: spec.Duration(20 * time.Second), Kind: spec.FaultPartition, Member: 0, Duration: spec.Duration(10 * time.Second)}}
	for _, c := range []struct {
		etcd    string
		changes float64
	}{{"3.7.3", 1}, {"3.4.0", 2}} {
		s := base
		s.Cluster.EtcdVersion = c.etcd
		o, err := scenario.Run(context.Background(), s, nil)
		if err != nil {
			t.Fatal(err)
		}
		n := 0.0
		for _, x := range o.Metric(recorder.LeaderChanges) {
			n += x
		}
		leader := o.Metric(recorder.LeaderMember)
		if n != c.changes || leader[22] <= 0 {
			t.Errorf("etcd %s: %v leader changes (want %v), leader per second %v (want a former follower from 22 s)", c.etcd, n, c.changes, leader)
		}
	}
	base.Cluster.Raft = false
	if _, err := scenario.Run(context.Background(), base, nil); err == nil || !strings.Contains(err.Error(), "faults[0].member: 0 is the leader") {
		t.Errorf("without raft, partitioning the leader: %v; want the validator's refusal", err)
	}
}

// A one-member cluster with raft revokes its expired leases too: its
// LeaseRevoke proposals need no follower's acknowledgement (revokeRaftWait
// once indexed the followers' delays out of range there).
func TestRaftOneMemberRevokes(t *testing.T) {
	s := spec.Spec{Name: "one-member", Seed: 1, Duration: spec.Duration(30 * time.Second), Server: spec.ServerCluster,
		Clients: spec.ClientsSpec{Count: 50, TTL: spec.Duration(5 * time.Second), Version: "v3.7.3", Consumer: "drain"},
		Cluster: spec.ClusterSpec{Members: 1, Cores: 2, Raft: true},
		Faults:  []spec.FaultSpec{{At: spec.Duration(10 * time.Second), Kind: "leader-stall", Duration: spec.Duration(8 * time.Second)}}}
	o, err := scenario.Run(context.Background(), s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if o.Summary.LeasesExpired == 0 {
		t.Errorf("an 8 s stall with TTL 5 s expired no lease on a one-member raft cluster")
	}
}
