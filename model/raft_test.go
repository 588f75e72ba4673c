package model

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/leasesim/leasesim/sim"
)

// fixedBacklog is a Scheduler whose queued work is set by the test.
type fixedBacklog struct{ d time.Duration }

func (f *fixedBacklog) Backlog(sim.Time) time.Duration { return f.d }

// raftHarness runs a Raft over a link of fixed one-way delay, with
// partitions, delivering its wake-ups and messages in time order (ties in
// the order they were asked for, as the kernel does).
type raftHarness struct {
	r       *Raft
	cpus    []*fixedBacklog
	now     sim.Time
	queue   []raftQueued
	seq     int
	oneWay  sim.Time
	cutOff  []sim.Time // per member: partitioned until then
	log     strings.Builder
	verbose bool // log every message, not only leadership
	// leader as the wiring sees it, and the leadership events.
	leader  int
	changes []string
	demotes int // OutRaftDemoted seen
	// onLeadership, if set, sees OutRaftLeaderLost and OutRaftElected after
	// they are logged (the transcripts feed them to Members).
	onLeadership func(o RaftOutput)
}

type raftQueued struct {
	at  sim.Time
	seq int
	in  RaftInput
}

func newRaftHarness(members, leader int, preVote bool, seed uint64) *raftHarness {
	h := &raftHarness{oneWay: sim.Time(250 * time.Microsecond), cutOff: make([]sim.Time, members), leader: leader}
	var cpus []Scheduler
	for range members {
		c := &fixedBacklog{}
		h.cpus = append(h.cpus, c)
		cpus = append(cpus, c)
	}
	cfg := RaftConfig{Members: members, Leader: leader, Tick: HeartbeatInterval, ElectionTicks: 10, PreVote: preVote}
	h.r = NewRaft(cfg, cpus, sim.NewRand(seed, "election"))
	h.route(h.r.Start(nil))
	return h
}

func (h *raftHarness) route(out []RaftOutput) {
	for _, o := range out {
		switch o.Kind {
		case OutRaftWake:
			h.push(o.At, o.In)
		case OutRaftSend:
			from, to := int(o.Msg.From), int(o.Msg.To)
			if h.verbose {
				fmt.Fprintf(&h.log, "%v send %v %d->%d term=%d%s\n", o.At, o.Msg.Kind, from, to, o.Msg.Term, map[bool]string{true: " reject"}[o.Msg.Reject])
			}
			if o.At < max(h.cutOff[from], h.cutOff[to]) {
				if h.verbose {
					fmt.Fprintf(&h.log, "%v   dropped (partition)\n", o.At)
				}
				continue // rafthttp drops a message to an unreachable peer
			}
			h.push(o.At+h.oneWay, RaftInput{Kind: InRaftRecv, Msg: o.Msg})
		case OutRaftLeaderLost:
			fmt.Fprintf(&h.log, "%v leader-lost member=%d\n", h.now, o.Member)
			h.changes = append(h.changes, fmt.Sprintf("%v lost %d", h.now, o.Member))
			h.leader = -1
		case OutRaftElected:
			fmt.Fprintf(&h.log, "%v elected member=%d term=%d\n", h.now, o.Member, o.Term)
			h.changes = append(h.changes, fmt.Sprintf("%v elected %d", h.now, o.Member))
			h.leader = int(o.Member)
		case OutRaftDemoted:
			role, term, lead, _, _ := h.r.Node(int(o.Member))
			fmt.Fprintf(&h.log, "%v m%d (%v term=%d lead=%d) Demotes its lessor until %v\n", h.now, o.Member, role, term, lead, o.At)
			h.demotes++
		}
		if h.onLeadership != nil && (o.Kind == OutRaftLeaderLost || o.Kind == OutRaftElected) {
			h.onLeadership(o)
		}
	}
}

func (h *raftHarness) push(at sim.Time, in RaftInput) {
	h.seq++
	h.queue = append(h.queue, raftQueued{at: at, seq: h.seq, in: in})
}

// run delivers everything due up to until; then now = until.
func (h *raftHarness) run(until sim.Time) {
	for {
		i := -1
		for j, q := range h.queue {
			if q.at <= until && (i < 0 || q.at < h.queue[i].at || (q.at == h.queue[i].at && q.seq < h.queue[i].seq)) {
				i = j
			}
		}
		if i < 0 {
			break
		}
		q := h.queue[i]
		h.queue = slices.Delete(h.queue, i, i+1)
		h.now = q.at
		if h.verbose {
			fmt.Fprintf(&h.log, "%v > %s\n", h.now, fmtRaftInput(q.in))
		}
		h.route(h.r.Step(h.now, q.in, nil))
	}
	h.now = until
}

func fmtRaftInput(in RaftInput) string {
	switch in.Kind {
	case InRaftRecv, InRaftHandle:
		m := in.Msg
		return fmt.Sprintf("%v %v %d->%d term=%d%s", in.Kind, m.Kind, m.From, m.To, m.Term, map[bool]string{true: " reject"}[m.Reject])
	case InRaftStall:
		return fmt.Sprintf("%v m=%d until=%v", in.Kind, in.Member, in.Until)
	default:
		return fmt.Sprintf("%v m=%d", in.Kind, in.Member)
	}
}

func (h *raftHarness) step(in RaftInput) { h.route(h.r.Step(h.now, in, nil)) }

func (h *raftHarness) stall(m int, d time.Duration) {
	h.step(RaftInput{Kind: InRaftStall, Member: int8(m), Until: h.now + sim.Time(d)})
}

func at(d time.Duration) sim.Time { return sim.Time(d) }

// A leader whose process stalls for longer than every randomized election
// timeout (2 x 1 s) loses leadership to a follower; one stalled for less than
// the election timeout less two ticks keeps it (a follower's timer counts its
// own ticks from the last heartbeat, which the leader sent up to a tick
// before the stall: a stall of 0.9 s can lose it). With and without PreVote,
// over seeds.
func TestRaftStalledLeader(t *testing.T) {
	for _, preVote := range []bool{false, true} {
		for seed := uint64(1); seed <= 20; seed++ {
			for _, c := range []struct {
				stall time.Duration
				loses bool
			}{{500 * time.Millisecond, false}, {790 * time.Millisecond, false}, {2100 * time.Millisecond, true}, {5 * time.Second, true}} {
				h := newRaftHarness(3, 0, preVote, seed)
				h.run(at(5 * time.Second))
				if len(h.changes) != 0 {
					t.Fatalf("prevote=%v seed %d: leadership changed before the stall: %v", preVote, seed, h.changes)
				}
				h.stall(0, c.stall)
				h.run(at(5*time.Second + c.stall + 3*time.Second))
				lost := len(h.changes) > 0
				if lost != c.loses {
					t.Fatalf("prevote=%v seed %d stall %v: leadership changes %v, want lost=%v\n%s", preVote, seed, c.stall, h.changes, c.loses, h.log.String())
				}
				if c.loses {
					if h.leader < 0 || h.leader == 0 {
						t.Fatalf("prevote=%v seed %d stall %v: leader %d after the stall, want a follower: %v", preVote, seed, c.stall, h.leader, h.changes)
					}
					// The old leader learns the new term and follows.
					if role, _, lead, _, _ := h.r.Node(0); role != RoleFollower || lead != h.leader {
						t.Fatalf("prevote=%v seed %d: old leader is %v following %d, want a follower of %d", preVote, seed, role, lead, h.leader)
					}
				}
			}
		}
	}
}

// On one machine (SharedMachine: cluster.shared_cpu) a stall is the
// machine's: every member's raft goroutine waits it out, so no follower's
// election timer runs out during it and the leader keeps its leadership
// through a stall that, on its own machine, costs it (TestRaftStalledLeader).
func TestRaftSharedMachineStall(t *testing.T) {
	for seed := uint64(1); seed <= 10; seed++ {
		h := newRaftHarness(3, 0, true, seed)
		h.r.cfg.SharedMachine = true
		h.run(at(5 * time.Second))
		h.stall(0, 5*time.Second)
		for m := range 3 {
			if got := h.r.nodes[m].stalledUntil; got != at(10*time.Second) {
				t.Fatalf("seed %d: m%d stalled until %v, want 10s (the machine's stall)", seed, m, got)
			}
		}
		h.run(at(13 * time.Second))
		if len(h.changes) != 0 {
			t.Fatalf("seed %d: leadership changed across a machine-wide stall: %v\n%s", seed, h.changes, h.log.String())
		}
	}
}

// A saturated CPU (a 30 s FIFO backlog on every member) delays the raft
// goroutine by at most Go's preemption slice: no heartbeat is late enough to
// lose the leader.
func TestRaftBusyCPUKeepsLeader(t *testing.T) {
	h := newRaftHarness(3, 0, true, 1)
	for _, c := range h.cpus {
		c.d = 30 * time.Second
	}
	h.run(at(60 * time.Second))
	if len(h.changes) != 0 {
		t.Fatalf("leadership changed under a busy CPU: %v", h.changes)
	}
	if d := h.r.SchedDelay(0, 0, false); d != sim.Time(PreemptSlice+HeartbeatCost) {
		t.Fatalf("SchedDelay with a 30 s backlog: %v, want %v", d, PreemptSlice+HeartbeatCost)
	}
}

// Without PreVote (etcd before 3.4) a follower cut off for longer than its
// election timeout campaigns alone and raises its term; when the partition
// heals its answer to the leader's heartbeat carries that term and the leader
// steps down (the disruption PreVote was added for). With PreVote its
// pre-votes change no term, and the leader keeps leading.
func TestRaftPartitionedFollowerPreVote(t *testing.T) {
	for _, preVote := range []bool{false, true} {
		h := newRaftHarness(3, 0, preVote, 3)
		h.run(at(2 * time.Second))
		h.cutOff[2] = at(7 * time.Second)
		h.run(at(12 * time.Second))
		disrupted := len(h.changes) > 0
		if disrupted == preVote {
			t.Fatalf("prevote=%v: leadership changes %v; want a disruption only without PreVote\n%s", preVote, h.changes, h.log.String())
		}
		if h.leader < 0 {
			t.Fatalf("prevote=%v: no leader at the end: %v", preVote, h.changes)
		}
	}
}

// A scripted leader change holds the raft's own elections and ends with the
// scripted winner leading every member at a new term.
func TestRaftScriptedChange(t *testing.T) {
	h := newRaftHarness(3, 0, true, 1)
	h.run(at(time.Second))
	h.step(RaftInput{Kind: InRaftScripted})
	h.run(at(6 * time.Second)) // a 5 s election: longer than any election timeout
	if len(h.changes) != 0 {
		t.Fatalf("the raft reported %v during a scripted election", h.changes)
	}
	h.step(RaftInput{Kind: InRaftForce, Member: 2})
	h.run(at(20 * time.Second))
	if len(h.changes) != 0 || h.r.Leader() != 2 {
		t.Fatalf("after the scripted election: changes %v, leader %d", h.changes, h.r.Leader())
	}
	for m := range 3 {
		if _, term, lead, _, _ := h.r.Node(m); term != 2 || lead != 2 {
			t.Fatalf("member %d: term %d lead %d, want term 2 lead 2", m, term, lead)
		}
	}
}

// Same seed, same transcript.
func TestRaftDeterministic(t *testing.T) {
	run := func() string {
		h := newRaftHarness(5, 1, true, 7)
		h.verbose = true
		h.run(at(time.Second))
		h.stall(1, 4*time.Second)
		h.run(at(8 * time.Second))
		return h.log.String()
	}
	if a, b := run(), run(); a != b {
		t.Fatal("two runs of one seed differ")
	}
}

// A deposed leader that steps down late (here: stalled, then cut off, so its
// CheckQuorum fails before it hears of the new term) does not take the new
// leader's leadership with it.
func TestRaftDeposedLeaderStepsDownLate(t *testing.T) {
	h := newRaftHarness(3, 0, true, 1)
	h.run(at(2 * time.Second))
	h.stall(0, 3*time.Second)
	h.cutOff[0] = at(9 * time.Second) // from 2 s: it never hears of term 2
	h.run(at(5 * time.Second))
	if h.leader <= 0 {
		t.Fatalf("no new leader after the stall: %v", h.changes)
	}
	newLeader := h.leader
	h.run(at(8 * time.Second))
	if role, _, _, _, _ := h.r.Node(0); role == RoleLeader {
		t.Fatal("the cut-off old leader did not step down (CheckQuorum)")
	}
	if h.leader != newLeader || len(h.changes) != 2 {
		t.Fatalf("leader %d after the old one stepped down, changes %v; want %d and one election", h.leader, h.changes, newLeader)
	}
}

// With RaftWait backlog (the pessimistic bound) the same saturated CPU delays
// the leader's heartbeats by its whole backlog, and the leadership moves.
func TestRaftBusyCPUWaitBacklogLosesLeader(t *testing.T) {
	h := newRaftHarness(3, 0, true, 1)
	h.r.cfg.Wait = WaitBacklog
	h.cpus[0].d = 30 * time.Second
	h.run(at(10 * time.Second))
	if len(h.changes) == 0 || h.leader == 0 {
		t.Fatalf("a leader 30 s behind on its CPU kept leading (changes %v)", h.changes)
	}
	if d := h.r.SchedDelay(0, 0, false); d != sim.Time(30*time.Second+HeartbeatCost) {
		t.Fatalf("SchedDelay with a 30 s backlog: %v", d)
	}
}

// Over random clusters, stalls and partitions: no two members lead in one
// term (election safety), the leader the wiring was told of is a raft leader
// (every step-down is reported), and once the faults are over the cluster
// settles on one leader that every member follows.
func TestRaftPropertyRandomFaults(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		members := rapid.IntRange(1, 7).Draw(rt, "members")
		preVote := rapid.Bool().Draw(rt, "prevote")
		h := newRaftHarness(members, rapid.IntRange(0, members-1).Draw(rt, "leader"), preVote, rapid.Uint64().Draw(rt, "seed"))
		leaderOf := map[uint64]int{}
		check := func(when string) {
			for m := range members {
				if role, term, _, _, _ := h.r.Node(m); role == RoleLeader {
					if l, ok := leaderOf[term]; ok && l != m {
						rt.Fatalf("%s: members %d and %d both led term %d", when, l, m, term)
					}
					leaderOf[term] = m
				}
			}
			if l := h.r.Leader(); l >= 0 {
				if role, _, _, _, _ := h.r.Node(l); role != RoleLeader {
					rt.Fatalf("%s: the wiring's leader %d is a %v", when, l, role)
				}
			}
			if h.r.Leader() != h.leader {
				rt.Fatalf("%s: Leader() %d, reported %d", when, h.r.Leader(), h.leader)
			}
		}
		end := sim.Time(0)
		for i, n := 0, rapid.IntRange(0, 6).Draw(rt, "faults"); i < n; i++ {
			h.run(h.now + sim.Time(rapid.Int64Range(0, int64(3*time.Second)).Draw(rt, "gap")))
			check("before a fault")
			m := rapid.IntRange(0, members-1).Draw(rt, "member")
			d := time.Duration(rapid.Int64Range(int64(time.Millisecond), int64(5*time.Second)).Draw(rt, "d"))
			if rapid.Bool().Draw(rt, "stall") {
				h.stall(m, d)
			} else {
				h.cutOff[m] = max(h.cutOff[m], h.now+sim.Time(d))
			}
			end = max(end, h.now+sim.Time(d))
		}
		for h.now < end+sim.Time(30*time.Second) {
			h.run(h.now + sim.Time(100*time.Millisecond))
			check("after the faults")
		}
		if h.leader < 0 {
			rt.Fatalf("no leader 30 s after the faults: %v", h.changes)
		}
		for m := range members {
			if _, _, lead, _, _ := h.r.Node(m); lead != h.leader {
				rt.Fatalf("member %d follows %d, not the leader %d: %v", m, lead, h.leader, h.changes)
			}
		}
	})
}

// With RaftWait measured the saturated leader keeps sending its heartbeats
// on time (a timer wakes its tick) but reads the followers' answers only
// after its backlog (the netpoller wakes the reader): CheckQuorum finds no
// quorum within an election timeout and the leadership moves, as with
// backlog, for the other reason.
func TestRaftBusyCPUWaitMeasuredLosesLeader(t *testing.T) {
	h := newRaftHarness(3, 0, true, 1)
	h.r.cfg.Wait = WaitMeasured
	h.cpus[0].d = 30 * time.Second
	h.run(at(10 * time.Second))
	if len(h.changes) == 0 || h.leader == 0 {
		t.Fatalf("a leader 30 s behind on its CPU kept leading (changes %v)", h.changes)
	}
	if d := h.r.SchedDelay(0, 0, false); d != sim.Time(PreemptSlice+HeartbeatCost) {
		t.Fatalf("SchedDelay of a send with a 30 s backlog: %v, want the slice", d)
	}
	if d := h.r.SchedDelay(0, 0, true); d != sim.Time(30*time.Second+HeartbeatCost) {
		t.Fatalf("SchedDelay of an arrival with a 30 s backlog: %v, want the backlog", d)
	}
}
