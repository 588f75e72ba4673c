package model

import (
	"fmt"
	"strings"
	"time"

	"github.com/leasesim/leasesim/sim"
)

// Raft is the heartbeat and election part of a cluster's raft, as one state
// machine holding every member's raft node: ticks, heartbeats and their
// responses, CheckQuorum, (pre-)votes. It does not replicate a log (every
// member's log is taken as up to date, so any member can win a vote); what it
// decides is who leads and when leadership is lost, so that elections emerge
// from load (a leader whose process stalls past the election timeout) instead
// of being only scripted faults.
//
// The rules, after go.etcd.io/raft v3.7.0 (the library etcd v3.7.3 runs;
// raft.go) with etcd's settings (etcdserver/bootstrap.go:543-549: HeartbeatTick
// 1, CheckQuorum true, PreVote from the --pre-vote flag):
//   - every member ticks every heartbeat interval (etcdserver/raft.go:183-184,
//     a time.Ticker; a tick the raft goroutine misses while its process is
//     stalled is dropped but one, as a Ticker's one-slot channel does);
//   - the leader broadcasts MsgHeartbeat on every tick (tickHeartbeat,
//     raft.go:862-885, HeartbeatTick 1), and every ElectionTicks ticks checks
//     that a quorum (itself included) was active since the last check, or
//     steps down (MsgCheckQuorum, raft.go:1281-1294);
//   - a follower that gets a heartbeat from the leader resets its election
//     timer and answers MsgHeartbeatResp (raft.go:1735-1738); the leader marks
//     the sender active;
//   - a follower whose timer reaches its randomized election timeout, drawn
//     in [ElectionTicks, 2 x ElectionTicks) (raft.go:2053-2054), campaigns
//     (tickElection, raft.go:850-858): with PreVote a pre-vote round at
//     term+1 that changes no one's term first, then the vote at term+1;
//   - a member grants a (pre-)vote unless it heard from a leader less than an
//     election timeout ago (CheckQuorum's leader lease, raft.go:1103-1112), or
//     it already voted for another in that term; a candidate with a quorum of
//     grants leads, one that sees a quorum of rejections goes back to
//     follower; a message with a higher term makes a leader or candidate a
//     follower (raft.go:1113-1131), and one with a lower term is ignored,
//     but for a heartbeat, answered with the higher term so that a deposed
//     leader steps down, and a pre-vote, rejected (raft.go:1133-1185).
//
// CPU. The heartbeat's CPU is tiny (HeartbeatCost, measured) and is already in the
// member's idle CPU (spec.Costs.IdleCores, measured on an idle cluster), so
// Raft charges nothing to the member's CPU queue. What load does to it is
// delay: SchedDelay says how long the raft goroutine waits for a core, and a
// stall of the whole process (InRaftStall: the leader-stall fault, a
// stop-the-world pause) holds every goroutine, the raft loop's too, until it
// ends.
//
// Randomness is handed in: the caller's named stream (the wiring's
// sim.NewRand(seed, "election")) draws the tickers' phases and every
// randomized election timeout, in step order. Time is an input; the
// outputs ask for wake-ups (OutRaftWake), for messages to be carried over the
// peer link (OutRaftSend: the wiring adds the link's delay and drops it in a
// partition) and report leadership (OutRaftLeaderLost, OutRaftElected), which
// the wiring feeds into the members' election path (InLeaderLost,
// InElected).
type Raft struct {
	cfg   RaftConfig
	nodes []raftNode
	// leader: the member the cluster follows as the wiring sees it (the last
	// OutRaftElected), -1 after OutRaftLeaderLost.
	leader int
	// scripted: a scripted leader change is under way (InRaftScripted until
	// InRaftForce): the nodes neither campaign nor report.
	scripted bool
	cpu      []Scheduler
	rand     *sim.Rand
}

// Scheduler is what Raft needs of a member's CPU to say how long its raft
// goroutine waits for a core: the work queued ahead.
type Scheduler interface {
	Backlog(now sim.Time) time.Duration
}

// RaftConfig configures a Raft.
type RaftConfig struct {
	Members int
	Leader  int // the initial leader, at term 1
	// Tick is etcd's --heartbeat-interval (100 ms by default); ElectionTicks
	// the election timeout in ticks (--election-timeout / --heartbeat-interval,
	// 10 by default; etcdserver/raft.go ElectionTicks).
	Tick          time.Duration
	ElectionTicks int
	PreVote       bool
	// Wait: how a busy member's CPU delays its raft goroutine (SchedDelay).
	Wait RaftWait
	// Leases, if set, is the lease map every member's lessor holds: each
	// change of a member's soft state that leaves it not leading makes its
	// raft goroutine Demote that lessor (DemoteCost of Leases.Live()) before
	// it sends that step's messages. Nil: Demote costs nothing.
	Leases LeaseMap
	// SharedMachine: every member runs on one machine (cluster.shared_cpu),
	// so a stall (InRaftStall) is the machine's and holds every member's
	// raft goroutine, not only the stalled member's.
	SharedMachine bool
}

// LeaseMap is what Raft needs of the lessor: how many leases Demote walks.
type LeaseMap interface{ Live() int }

// RaftWait is how long a busy member's raft goroutine waits for a core, of
// the work queued on its CPU (see SchedDelay).
type RaftWait uint8

const (
	// WaitPreempt: at most Go's preemption slice (the default): the raft
	// goroutine is woken into its P's runnext slot.
	WaitPreempt RaftWait = iota
	// WaitBacklog: the whole backlog, as if it queued behind every request
	// (a bound from the other side: a goroutine the netpoller wakes joins the
	// tail of a run queue that, under a deep backlog, holds the requests'
	// goroutines).
	WaitBacklog
	// WaitMeasured: each wake-up as Go's scheduler was measured to treat it
	// (calibrate/testdata/sched-delay-go.json, TestSchedulingDelayReplay): a
	// message's arrival, which the netpoller wakes, waits for the backlog
	// (about 10 ms per runnable goroutine: 651 ms at 64); the tick and the
	// sends, woken by a timer or a channel, wait at most the preemption slice
	// (30 ms at p99 whatever is runnable).
	WaitMeasured
)

var raftWaitNames = [...]string{"preempt", "backlog", "measured"}

func (w RaftWait) String() string { return raftWaitNames[w] }

// ParseRaftWait parses a RaftWait by its name.
func ParseRaftWait(s string) (RaftWait, error) {
	for i, n := range raftWaitNames {
		if s == n {
			return RaftWait(i), nil
		}
	}
	return 0, fmt.Errorf("%q is not allowed; allowed: %s", s, strings.Join(raftWaitNames[:], ", "))
}

// RaftConfigFor is the raft of a cluster of members on etcd release v.
func RaftConfigFor(v EtcdVersion, members, leader int, electionTimeout time.Duration, wait RaftWait) RaftConfig {
	return RaftConfig{Members: members, Leader: leader, Tick: HeartbeatInterval, Wait: wait,
		ElectionTicks: int(electionTimeout / HeartbeatInterval), PreVote: v.PreVote()}
}

// RaftRole is a raft node's state (raft.go StateType).
type RaftRole uint8

const (
	RoleFollower RaftRole = iota
	RolePreCandidate
	RoleCandidate
	RoleLeader
)

var roleNames = [...]string{"follower", "pre-candidate", "candidate", "leader"}

func (r RaftRole) String() string { return roleNames[r] }

// raftNode is one member's raft state.
type raftNode struct {
	role RaftRole
	term uint64
	lead int // -1: none known
	vote int // voted for in term (-1: none)
	// electionElapsed and the randomized timeout, in ticks (raft.go).
	electionElapsed, randomizedTimeout int
	active                             []bool // leader: heard from since the last CheckQuorum
	grants, rejects                    int    // (pre-)candidate: votes counted in this round
	// stalledUntil: the process does nothing until then; tickPending: a tick
	// arrived meanwhile and runs when it ends.
	stalledUntil sim.Time
	tickPending  bool
}

// RaftMsgKind is a raft message type (raftpb.MessageType).
type RaftMsgKind uint8

const (
	MsgHeartbeat RaftMsgKind = iota
	MsgHeartbeatResp
	MsgPreVote
	MsgPreVoteResp
	MsgVote
	MsgVoteResp
)

var msgNames = [...]string{"heartbeat", "heartbeat-resp", "pre-vote", "pre-vote-resp", "vote", "vote-resp"}

func (k RaftMsgKind) String() string { return msgNames[k] }

// RaftMsg is a message between two members' raft nodes.
type RaftMsg struct {
	Kind     RaftMsgKind
	Reject   bool // a response: not granted
	From, To int8
	Term     uint64
}

// RaftInputKind names what happened to the Raft.
type RaftInputKind uint8

const (
	InRaftTick     RaftInputKind = iota // member Member's ticker fired
	InRaftRun                           // member Member's raft goroutine runs a tick it could not run while stalled
	InRaftRecv                          // Msg reached member Msg.To (the wiring has delayed it over the link)
	InRaftHandle                        // member Msg.To's raft goroutine steps Msg (after its scheduling delay)
	InRaftStall                         // member Member's process does nothing until Until
	InRaftScripted                      // a scripted leader change begins: no campaigns until InRaftForce
	InRaftForce                         // the scripted leader change ends: member Member leads
)

var raftInputNames = [...]string{"tick", "run", "recv", "handle", "stall", "scripted", "force"}

func (k RaftInputKind) String() string { return raftInputNames[k] }

// RaftInput is one thing that happened to the Raft.
type RaftInput struct {
	Kind   RaftInputKind
	Member int8
	Msg    RaftMsg
	Until  sim.Time
}

// RaftOutputKind names what the Raft asks for or reports.
type RaftOutputKind uint8

const (
	OutRaftWake       RaftOutputKind = iota // deliver In at At
	OutRaftSend                             // carry Msg from Msg.From to Msg.To, leaving at At (deliver as InRaftRecv, or drop it in a partition)
	OutRaftLeaderLost                       // the leader Member is gone (it stepped down, or another member won a later term): an election begins
	OutRaftElected                          // member Member won the election of term Term
	OutRaftDemoted                          // member Member's raft goroutine Demotes its lessor until At (a fact)
)

var raftOutputNames = [...]string{"wake", "send", "leader-lost", "elected", "demoted"}

func (k RaftOutputKind) String() string { return raftOutputNames[k] }

// RaftOutput is one thing the Raft asks for or reports.
type RaftOutput struct {
	Kind   RaftOutputKind
	At     sim.Time
	In     RaftInput // OutRaftWake
	Msg    RaftMsg   // OutRaftSend
	Member int8      // OutRaftElected: the winner; OutRaftLeaderLost: the old leader; OutRaftDemoted
	Term   uint64
	Cost   time.Duration // OutRaftDemoted: the time Demote takes (it ends at At)
}

// NewRaft returns the cluster's raft at time 0: cfg.Leader leads at term 1
// and every follower has just heard from it. cpus[m] is member m's CPU (for
// SchedDelay); the same one for members sharing a machine. rand draws the
// tickers' phases and the randomized election timeouts.
func NewRaft(cfg RaftConfig, cpus []Scheduler, rand *sim.Rand) *Raft {
	if cfg.Members < 1 || cfg.Members > maxRaftMembers || len(cpus) != cfg.Members || cfg.Leader < 0 || cfg.Leader >= cfg.Members || cfg.Tick <= 0 || cfg.ElectionTicks < 1 {
		panic(fmt.Sprintf("model: raft needs members >= 1 with a CPU each, a leader among them, a tick > 0 and election ticks >= 1: %+v", cfg))
	}
	r := &Raft{cfg: cfg, nodes: make([]raftNode, cfg.Members), leader: cfg.Leader, cpu: cpus, rand: rand}
	for m := range r.nodes {
		r.nodes[m] = raftNode{term: 1, lead: cfg.Leader, vote: cfg.Leader}
	}
	r.nodes[cfg.Leader].role = RoleLeader
	r.nodes[cfg.Leader].active = make([]bool, cfg.Members)
	return r
}

// Start arms every member's ticker at time 0. Each member's ticker started
// with its process, so their phases differ: member m's first tick comes at a
// uniform draw from [0, Tick). It also draws each node's first randomized
// election timeout.
func (r *Raft) Start(out []RaftOutput) []RaftOutput {
	for m := range r.nodes {
		r.nodes[m].randomizedTimeout = r.randomizedTimeout()
		phase := sim.Time(r.rand.Int64N(int64(r.cfg.Tick)))
		out = append(out, RaftOutput{Kind: OutRaftWake, At: phase, In: RaftInput{Kind: InRaftTick, Member: int8(m)}})
	}
	return out
}

// randomizedTimeout draws an election timeout in [ElectionTicks,
// 2 x ElectionTicks) ticks (resetRandomizedElectionTimeout, raft.go:2053-2054).
func (r *Raft) randomizedTimeout() int {
	return r.cfg.ElectionTicks + r.rand.IntN(r.cfg.ElectionTicks)
}

// Leader is the member that leads as the wiring was told (-1: none).
func (r *Raft) Leader() int { return r.leader }

// Node reports member m's raft state, for transcripts and tests.
func (r *Raft) Node(m int) (role RaftRole, term uint64, lead int, elapsed, timeout int) {
	n := &r.nodes[m]
	return n.role, n.term, n.lead, n.electionElapsed, n.randomizedTimeout
}

func (r *Raft) quorum() int { return r.cfg.Members/2 + 1 }

// Step applies in at now and appends the Raft's outputs to out.
func (r *Raft) Step(now sim.Time, in RaftInput, out []RaftOutput) []RaftOutput {
	if r.cfg.Leases == nil {
		return r.step(now, in, out)
	}
	var before [maxRaftMembers]softState
	for m := range r.nodes {
		before[m] = r.nodes[m].softState()
	}
	from := len(out)
	out = r.step(now, in, out)
	for m := range r.nodes {
		if st := r.nodes[m].softState(); st != before[m] && st.role != RoleLeader {
			out = r.demote(now, m, out, from)
		}
	}
	return out
}

// softState is raft's SoftState (raft/node.go): who leads, as this member
// knows, and its role. etcd's raft loop acts on every change of it.
type softState struct {
	lead int
	role RaftRole
}

func (n *raftNode) softState() softState { return softState{n.lead, n.role} }

// maxRaftMembers bounds a cluster's size (etcd's limit is far lower).
const maxRaftMembers = 64

// demote: member m's soft state changed and it does not lead, so its raft
// goroutine, on the Ready that carries the change, calls updateLeadership,
// which Demotes the lessor before that Ready's messages go out
// (etcdserver/raft.go:186-206 -> server.go:769-773, v3.7.3; raft.go:186-196
// -> server.go:713-717 in v3.3.9): Demote walks every lease under the
// lessor's lock (lease/lessor.go:534-550; :396-409 in v3.3.9). The goroutine
// does nothing else meanwhile (a stall of it), and the messages this step
// produced on m leave after it.
func (r *Raft) demote(now sim.Time, m int, out []RaftOutput, from int) []RaftOutput {
	cost := DemoteCost(r.cfg.Leases.Live())
	if cost <= 0 {
		return out
	}
	n := &r.nodes[m]
	n.stalledUntil = max(n.stalledUntil, now) + sim.Time(cost) // after a stall of the whole process, if one is under way
	for i := from; i < len(out); i++ {
		if o := &out[i]; o.Kind == OutRaftSend && int(o.Msg.From) == m {
			o.At = max(o.At, n.stalledUntil)
		}
	}
	return append(out, RaftOutput{Kind: OutRaftDemoted, Member: int8(m), At: n.stalledUntil, Cost: cost})
}

func (r *Raft) step(now sim.Time, in RaftInput, out []RaftOutput) []RaftOutput {
	switch in.Kind {
	case InRaftTick:
		m := int(in.Member)
		// The ticker keeps its phase whatever the raft goroutine does.
		out = append(out, RaftOutput{Kind: OutRaftWake, At: now + sim.Time(r.cfg.Tick), In: RaftInput{Kind: InRaftTick, Member: in.Member}})
		n := &r.nodes[m]
		if now < n.stalledUntil {
			if !n.tickPending { // the Ticker's channel holds one tick; the rest are dropped
				n.tickPending = true
				out = append(out, RaftOutput{Kind: OutRaftWake, At: n.stalledUntil, In: RaftInput{Kind: InRaftRun, Member: in.Member}})
			}
			return out
		}
		return r.tick(now, m, out)
	case InRaftRun:
		n := &r.nodes[in.Member]
		if now < n.stalledUntil { // stalled again meanwhile
			return append(out, RaftOutput{Kind: OutRaftWake, At: n.stalledUntil, In: in})
		}
		n.tickPending = false
		return r.tick(now, int(in.Member), out)
	case InRaftRecv:
		// rafthttp's stream reader hands the message to the raft goroutine
		// once it gets a core (SchedDelay), or once its process's stall ends.
		at := now + r.SchedDelay(now, int(in.Msg.To), true)
		return append(out, RaftOutput{Kind: OutRaftWake, At: at, In: RaftInput{Kind: InRaftHandle, Msg: in.Msg}})
	case InRaftHandle:
		if now < r.nodes[in.Msg.To].stalledUntil {
			return append(out, RaftOutput{Kind: OutRaftWake, At: r.nodes[in.Msg.To].stalledUntil, In: in})
		}
		return r.handle(now, in.Msg, out)
	case InRaftStall:
		for m := range r.nodes {
			if m == int(in.Member) || r.cfg.SharedMachine {
				r.nodes[m].stalledUntil = max(r.nodes[m].stalledUntil, in.Until)
			}
		}
	case InRaftScripted:
		// Every member stops following the old leader (which stops leading);
		// none campaigns until the scripted winner is forced in.
		r.scripted = true
		r.leader = -1
		for m := range r.nodes {
			r.becomeFollower(m, r.nodes[m].term, -1)
		}
	case InRaftForce:
		// The scripted election's winner leads at a new term; every member
		// follows it from now (as if its votes and first heartbeat had
		// arrived).
		r.scripted = false
		term := uint64(0)
		for m := range r.nodes {
			term = max(term, r.nodes[m].term)
		}
		term++
		for m := range r.nodes {
			r.becomeFollower(m, term, int(in.Member))
			r.nodes[m].vote = int(in.Member)
		}
		r.becomeLeader(int(in.Member))
		r.leader = int(in.Member)
	}
	return out
}

// SchedDelay is how long member m's raft goroutine waits before it runs, at
// now: to the end of a stall of the whole process, then for a core.
//
// The member's CPU (cpu.go) is one FIFO queue (or processor-shared:
// share.go; its Backlog is then the work in it over the cores left), but
// etcd's raft goroutine is not behind the gRPC requests in it: Go's scheduler shares the cores among
// the runnable goroutines. A goroutine woken by a timer or a channel send
// (the raft loop's ticker; the stream reader handing it a message; the raft
// loop handing rafthttp's writer a message) goes to its P's runnext slot and
// runs as soon as the goroutine on that P blocks or is preempted
// (runtime/proc.go: goready -> ready(gp, traceskip, true) -> runqput(pp, gp,
// next), :481-485, :1120-1137), and sysmon preempts a goroutine that has
// run for forcePreemptNS, 10 ms (proc.go:6628). So it waits for the work
// queued ahead of it, but at most PreemptSlice (WaitPreempt, the default);
// then it does its own work, HeartbeatCost.
//
// That is optimistic for a message's arrival: rafthttp's stream reader is
// woken by the netpoller, which puts it at the tail of a P's run queue
// (runtime/proc.go injectglist:4045-4110, runqputbatch; the global queue
// when the local one is full), behind the goroutines already runnable there.
// WaitBacklog takes the other bound: the raft goroutine waits for the whole
// backlog, as a request would. The truth is between the two; the choice is
// the scenario's (cluster.raft_wait).
//
// WaitMeasured takes each bound where it was measured to hold: the backlog
// for a message's arrival (arrival true: the netpoller wakes the reader),
// the slice for the rest.
func (r *Raft) SchedDelay(now sim.Time, m int, arrival bool) sim.Time {
	stall := time.Duration(max(0, r.nodes[m].stalledUntil-now))
	queued := max(0, r.cpu[m].Backlog(now)-stall) // a CPU stall counts in its backlog too
	if r.cfg.Wait == WaitPreempt || (r.cfg.Wait == WaitMeasured && !arrival) {
		queued = min(queued, PreemptSlice)
	}
	return sim.Time(stall + queued + HeartbeatCost)
}

// PreemptSlice: Go's scheduler preempts a goroutine that has run this long
// (forcePreemptNS, runtime/proc.go:6628, Go 1.26), so a goroutine in a P's
// runnext slot waits at most about this long for its core.
const PreemptSlice = 10 * time.Millisecond

// tick is raft's tick on member m: tickHeartbeat on the leader, tickElection
// on the others.
func (r *Raft) tick(now sim.Time, m int, out []RaftOutput) []RaftOutput {
	n := &r.nodes[m]
	n.electionElapsed++
	if n.role != RoleLeader {
		if !r.scripted && n.electionElapsed >= n.randomizedTimeout {
			n.electionElapsed = 0
			return r.campaign(now, m, r.cfg.PreVote, out)
		}
		return out
	}
	if n.electionElapsed >= r.cfg.ElectionTicks {
		n.electionElapsed = 0
		// CheckQuorum (raft.go:1281-1294): step down unless a quorum was
		// recently active; then mark every peer inactive for the next check.
		active := 1
		for p, a := range n.active {
			if p != m && a {
				active++
			}
			n.active[p] = false
		}
		if active < r.quorum() {
			r.becomeFollower(m, n.term, -1)
			return r.lost(m, out)
		}
	}
	// HeartbeatTick 1: a heartbeat to every follower on every tick, sent
	// when the raft goroutine gets a core.
	at := now + r.SchedDelay(now, m, false)
	for p := range r.nodes {
		if p != m {
			out = append(out, RaftOutput{Kind: OutRaftSend, At: at, Msg: RaftMsg{Kind: MsgHeartbeat, From: int8(m), To: int8(p), Term: n.term}})
		}
	}
	return out
}

// campaign starts a vote round on member m (raft.go hup/campaign): a
// pre-vote (pre) asks at term+1 without taking it (every election timeout
// starts one when PreVote is on); a vote takes term+1 and votes for itself.
func (r *Raft) campaign(now sim.Time, m int, pre bool, out []RaftOutput) []RaftOutput {
	n := &r.nodes[m]
	n.lead = -1
	kind := MsgVote
	if pre {
		// becomePreCandidate (raft.go:917-931): no new term, no new vote,
		// and its randomized election timeout stays.
		n.role = RolePreCandidate
		kind = MsgPreVote
	} else {
		// becomeCandidate (raft.go:902-915): reset to term+1, which draws a
		// new randomized timeout, then its own vote.
		n.role = RoleCandidate
		n.term++
		n.vote = m
		n.electionElapsed, n.randomizedTimeout = 0, r.randomizedTimeout()
	}
	n.grants, n.rejects = 1, 0
	if n.grants >= r.quorum() { // a one-member cluster
		return r.win(now, m, kind, out)
	}
	at := now + r.SchedDelay(now, m, false)
	for p := range r.nodes {
		if p != m {
			out = append(out, RaftOutput{Kind: OutRaftSend, At: at, Msg: RaftMsg{Kind: kind, From: int8(m), To: int8(p), Term: n.term + uint64(boolInt(kind == MsgPreVote))}})
		}
	}
	return out
}

// handle steps message msg on its receiver (raft.go Step, :1090-1300).
func (r *Raft) handle(now sim.Time, msg RaftMsg, out []RaftOutput) []RaftOutput {
	m, from := int(msg.To), int(msg.From)
	n := &r.nodes[m]
	reply := func(kind RaftMsgKind, term uint64, reject bool) {
		out = append(out, RaftOutput{Kind: OutRaftSend, At: now + r.SchedDelay(now, m, false),
			Msg: RaftMsg{Kind: kind, From: int8(m), To: int8(from), Term: term, Reject: reject}})
	}
	request := msg.Kind == MsgPreVote || msg.Kind == MsgVote
	// The term first (raft.go:1096-1185).
	switch {
	case msg.Term > n.term:
		// CheckQuorum's lease (raft.go:1103-1112): a member that heard from a
		// leader less than an election timeout ago ignores a (pre-)vote.
		if request && n.lead >= 0 && n.electionElapsed < r.cfg.ElectionTicks {
			return out
		}
		// A pre-vote, or a granted pre-vote answer, leaves the term alone;
		// anything else at a later term makes this member a follower of it.
		if msg.Kind != MsgPreVote && !(msg.Kind == MsgPreVoteResp && !msg.Reject) {
			lead := -1
			if msg.Kind == MsgHeartbeat {
				lead = from
			}
			r.becomeFollower(m, msg.Term, lead)
			out = r.lost(m, out) // if it was the leader
		}
	case msg.Term < n.term:
		switch msg.Kind {
		case MsgHeartbeat:
			// A deposed leader's heartbeat: with CheckQuorum raft answers
			// with its later term (an empty MsgAppResp), and that leader
			// steps down (raft.go:1133-1156).
			reply(MsgHeartbeatResp, n.term, true)
		case MsgPreVote:
			reply(MsgPreVoteResp, n.term, true)
		}
		return out // anything else from an older term is ignored
	}

	switch msg.Kind {
	case MsgPreVote, MsgVote:
		resp := MsgPreVoteResp
		if msg.Kind == MsgVote {
			resp = MsgVoteResp
		}
		// Logs are taken as equal; canVote (raft.go:1212-1218): a repeat of
		// its vote, or no vote and no leader in this term, or a pre-vote for
		// a later term. A pre-vote changes no state.
		grant := n.vote == from || (n.vote == -1 && n.lead == -1) || (msg.Kind == MsgPreVote && msg.Term > n.term)
		if grant && msg.Kind == MsgVote {
			n.vote = from
			n.electionElapsed = 0
		}
		reply(resp, msg.Term, !grant)
	case MsgPreVoteResp, MsgVoteResp:
		// An answer to this member's current round: a pre-vote round asks at
		// term+1, a vote at its term.
		round := n.role == RolePreCandidate && msg.Kind == MsgPreVoteResp && msg.Term == n.term+1 ||
			n.role == RoleCandidate && msg.Kind == MsgVoteResp && msg.Term == n.term
		if !round {
			return out // a late answer to an old round
		}
		if msg.Reject {
			n.rejects++
		} else {
			n.grants++
		}
		switch {
		case n.grants >= r.quorum():
			return r.win(now, m, msg.Kind, out)
		case n.rejects >= r.quorum():
			r.becomeFollower(m, n.term, -1)
		}
	case MsgHeartbeat:
		if n.role != RoleFollower { // a candidate learns of this term's leader
			r.becomeFollower(m, msg.Term, from)
		}
		n.lead, n.electionElapsed = from, 0
		reply(MsgHeartbeatResp, n.term, false)
	case MsgHeartbeatResp:
		if n.role == RoleLeader {
			n.active[from] = true
		}
	}
	return out
}

// win: member m has a quorum of (pre-)votes. A pre-candidate goes on to the
// real vote; a candidate leads and sends its first heartbeats at once
// (becomeLeader appends an empty entry and broadcasts it, raft.go:933-971).
func (r *Raft) win(now sim.Time, m int, kind RaftMsgKind, out []RaftOutput) []RaftOutput {
	if r.scripted { // a scripted leader change overrides it
		r.becomeFollower(m, r.nodes[m].term, -1)
		return out
	}
	if kind == MsgPreVote || kind == MsgPreVoteResp {
		return r.campaign(now, m, false, out)
	}
	r.becomeLeader(m)
	n := &r.nodes[m]
	if r.leader != m {
		out = r.lost(r.leader, out)
	}
	r.leader = m
	out = append(out, RaftOutput{Kind: OutRaftElected, Member: int8(m), Term: n.term})
	at := now + r.SchedDelay(now, m, false)
	for p := range r.nodes {
		if p != m {
			out = append(out, RaftOutput{Kind: OutRaftSend, At: at, Msg: RaftMsg{Kind: MsgHeartbeat, From: int8(m), To: int8(p), Term: n.term}})
		}
	}
	return out
}

// lost reports that the leader the wiring knows is gone (once per
// leadership): it stepped down (CheckQuorum, or it saw a higher term), or
// another member won a later term. (Followers that grant a vote at a later
// term stop following the old leader a round trip earlier; the model takes
// the cluster's leader as lost at the win.)
func (r *Raft) lost(old int, out []RaftOutput) []RaftOutput {
	if old < 0 || r.leader != old || r.scripted {
		return out // a deposed leader stepping down late: the cluster has moved on
	}
	r.leader = -1
	return append(out, RaftOutput{Kind: OutRaftLeaderLost, Member: int8(old)})
}

func (r *Raft) becomeFollower(m int, term uint64, lead int) {
	n := &r.nodes[m]
	if term > n.term {
		n.vote = -1
	}
	n.role, n.term, n.lead = RoleFollower, term, lead
	n.electionElapsed = 0
	n.randomizedTimeout = r.randomizedTimeout()
	n.active = nil
}

func (r *Raft) becomeLeader(m int) {
	n := &r.nodes[m]
	n.role, n.lead, n.electionElapsed = RoleLeader, m, 0
	n.active = make([]bool, r.cfg.Members)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
