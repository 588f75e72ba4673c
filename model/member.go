package model

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/leasesim/leasesim/sim"
)

// MemberConfig is what a Member needs to know of its cluster.
type MemberConfig struct {
	ID    int   // this member's index
	Costs Costs // CPU per request
	// Cohort: each client stands for this many clients in lockstep (the fast
	// mode, spec.FidelityFast; 0 or 1: itself alone). A request of one is
	// a job of Cohort requests on the CPU (CPU.Force's n): Cohort times the
	// work and the bytes, served on up to Cohort cores at once, as that many
	// concurrent gRPC handlers would be.
	Cohort int
	// ReqTimeout bounds LeaseRenew's forwarding loop (see ReqTimeout).
	ReqTimeout time.Duration
	// LeaderQueue bounds the leader's CPU queue (0: unbounded, as etcd); it
	// follows the role: a member applies it to its CPU while it leads.
	LeaderQueue int
	// TTL is the clients' lease TTL, for the deposed-renew and
	// ack-after-revoke mutants (what a broken server answers).
	TTL    time.Duration
	Mutant Mutant
	// ElectionTimeout: a new leader's lessor extends every lease by it (Promote).
	ElectionTimeout time.Duration
	// ApplyWaitDirect: LeaseRenew for a client of the leader waits for the
	// applied index (EtcdVersion.RenewWaitsForApply, unless
	// FastLeaseKeepAlive). A forwarded renewal always waits.
	ApplyWaitDirect bool
	// RevokeChecksLeadership: the server confirms its leadership before it
	// revokes expired leases (EtcdVersion.RevokeChecksLeadership), so a
	// leader deposed while its raft loop is blocked revokes nothing.
	RevokeChecksLeadership bool
	// RenewReadsIndex: LeaseRenew for a client of the leader first confirms
	// the leadership with a ReadIndex round (EtcdVersion.RenewReadsIndex):
	// ReadIndexCost of the leader's CPU per round, and ReadIndexRTT (the
	// heartbeat to the followers and a quorum's answers) before it ends.
	RenewReadsIndex bool
	ReadIndexCost   time.Duration
	ReadIndexRTT    time.Duration
	// RevokeCommit: how long a LeaseRevoke proposal takes from the leader's
	// proposal to its apply (the append to a quorum: a peer round trip; the
	// WAL's fsync is not modelled).
	RevokeCommit time.Duration
}

// Costs are the member CPU a keepalive costs (see spec.Costs for their sources).
type Costs struct {
	DirectRenewal   time.Duration // on the leader, a keepalive from its own client
	FollowerRenewal time.Duration // on a follower, a keepalive it forwards
	LeaderForwarded time.Duration // on the leader, a forwarded keepalive
	// QueuedRequestBytes is the memory one request holds while it waits.
	QueuedRequestBytes int
}

// Member is one etcd member's keepalive path as a state machine: the v3rpc
// LeaseKeepAlive stream handler of every client connected to it, LeaseRenew
// on the leader (renew in the lessor) and on a follower (forward to the leader,
// retry every ForwardRetry, give up after ReqTimeout, wait while there is no
// leader), and its role in the cluster (which member it believes leads).
//
// Inputs go in with the current time (Step); outputs come back: responses and
// stream errors for clients, forwards for the peer transport, replies to
// forwards it served as the leader, wake-ups for itself, facts for the
// recorder. Its CPU (a *CPU, possibly shared by every member of one machine)
// and the leader's lessor are passed in at construction; it never schedules,
// reads a clock or draws a random number.
//
// The data path, after etcd v3.7.3 (server/v3):
//   - a client's keepalive stream is served one request at a time: Recv,
//     LeaseRenew, Send (etcdserver/api/v3rpc/lease.go leaseKeepAlive,
//     :111-160); requests that arrive meanwhile wait in the stream's receive
//     buffer, unbounded (gRPC recvBuffer);
//   - LeaseRenew on the leader renews in its lessor (v3_server.go:496-531);
//   - on a follower it forwards with leasehttp.RenewHTTP over the peer
//     transport, retrying every ForwardRetry until ReqTimeout
//     (v3_server.go:538-560); when that runs out LeaseRenew fails, the stream
//     handler returns the error and the client's stream breaks.
//
// Clients are named by their global index (which is also their lease's
// index in the lessor) and served from a slot of the member's own; the
// wiring says which slot (AddClient) and passes it with every input. A
// process keeping several leases on one stream (AddProcess) names each
// request's lease in its InRecv; the member's outputs about that request
// (its forward, renewal, answer) name the lease, its stream errors the owner.
type Member struct {
	cfg     MemberConfig
	cpu     *CPU
	lessor  *Lessor
	leader  int // the member this one believes leads; -1 during an election
	streams []stream
	// LeaseRenew deadlines of this member's forwards, in the order they
	// started (so in deadline order: ReqTimeout is the same for all). One
	// wake-up waits for the head; most entries are stale by then (answered).
	deadlines deadlineQueue
	dlArmed   bool
	waitLead  []int32 // slots whose LeaseRenew waits for a leader
	// applyStalledUntil: while the leader's apply loop stalls, the applied
	// index lags the committed one (a steady write load is assumed), so a
	// renewal that waits for it waits until then (at most ApplyTimeout).
	applyStalledUntil sim.Time
	applyLagMax       time.Duration // the longest lag stallApply has seen
	// The deposed leader's lessor (the fsync-stall fault, etcd #15247; see
	// fsyncStall). fsyncUntil: the raft loop is blocked in the WAL's
	// fdatasync until then. deposed: the lessor this member's runLoop keeps
	// running as primary after raft deposed it while blocked, a copy of the
	// lease table as of then (the new leader's renewals never reach it);
	// nil when none. pending: the revokes it proposed meanwhile, forwarded
	// to the new leader when the raft loop runs again.
	fsyncUntil sim.Time
	fsyncFrom  sim.Time // when the raft loop's current block began
	deposed    *Lessor
	pending    []Revoked
	// The revoke pipeline (see revokePass): the LeaseRevoke proposals in
	// flight, in the order of their apply times, and the instant of the one
	// wake-up armed for the first (0: none).
	revokes    []pendingRevoke
	revokeWake sim.Time
	revokeSeq  uint64
	// The linearizable read loop (see readIndex): the renewals waiting for
	// the ReadIndex round in flight (reading), and those that arrived since,
	// which the next round serves (nextRead).
	readInFlight bool
	readRound    uint32 // rounds started; a round's wake-up carries its number
	readStarted  sim.Time
	reading      []readWaiter
	nextRead     []readWaiter
	// fifos: the leases of the requests waiting on each several-lease
	// stream (stream.fifo), in arrival order (gRPC's receive buffer).
	fifos [][]int32
	// With a processor-shared CPU (CPU.Sharing): the inputs its jobs
	// deliver when done, by tag (parked, with free tags in freeTags), and
	// the one wake-up (InCPUTick) armed to collect them: its number and time.
	parked   []parkedWork
	freeTags []int32
	tick     uint32
	tickAt   sim.Time
	tickSet  bool
	tags     []int32 // Finished's buffer
	// revokeWaits: renewals of expired leases waiting in the lessor's Renew
	// for the revocation (see waitsForRevoke), in arrival order; entries whose
	// stream moved on are dropped when they are released.
	revokeWaits []revokeWaiter
}

// revokeWaiter is a Renew of an expired lease waiting for its revocation:
// a direct one names its stream (slot, attempt); a forwarded one the
// follower's request (from, slot, attempt) and the lease (client).
type revokeWaiter struct {
	work    Work
	from    int8
	slot    int32
	client  int32
	attempt uint32
}

// parkedWork is what a processor-shared CPU's job does when done: deliver
// in as an InCPUDone, or (host) report OutHostDone with tag hostTag.
type parkedWork struct {
	in      Input
	host    bool
	hostTag int32
}

// pendingRevoke is a LeaseRevoke proposal of n leases of entry i, applied
// at at (seq orders equal times by proposal).
type pendingRevoke struct {
	at   sim.Time
	seq  uint64
	i, n int32
}

// readWaiter is a LeaseRenew waiting in ensureLeadership.
type readWaiter struct {
	slot    int32
	attempt uint32
}

// stream is one client's keepalive stream on this member, and the LeaseRenew
// in progress for it. The server reads each request's lease ID off the
// stream and serves one request at a time (v3rpc/lease.go leaseKeepAlive,
// v3.7.3 :111-160: Recv, LeaseRenew(req.ID), Send): lease is the lease of the
// request in service. A stream of a process with one lease (AddClient) only
// ever carries that lease (lease == client); a stream of a process with
// several (AddProcess) keeps its waiting requests' leases in order, in
// m.fifos[fifo-1], so that each is renewed and answered as its own.
type stream struct {
	client  int32  // the stream's owner: its stream errors go to it
	lease   int32  // the lease (lessor entry) of the request in service
	fifo    int32  // 0: a one-lease stream; else 1 + its index in Member.fifos
	gen     uint32 // stream the member serves for this client; 0: none
	queue   int32  // requests waiting in the stream's receive buffer
	busy    bool   // LeaseRenew runs for the request at the head
	phase   Phase
	attempt uint32 // LeaseRenew attempt; inputs with another value are stale
}

type deadline struct {
	at      sim.Time
	slot    int32
	attempt uint32
}

// Phase is where a stream's LeaseRenew is.
type Phase uint8

const (
	PhaseIdle       Phase = iota // no request in progress
	PhaseCPU                     // a follower's CPU works on the request
	PhaseForwarding              // handed to the peer transport (waiting for a connection or at the leader)
	PhaseWaitLeader              // no leader: waits for an election to end
	PhaseRetrySleep              // sleeping ForwardRetry before forwarding again
	PhaseLeaderCPU               // the leader's CPU works on a direct renewal
	PhaseApplyWait               // the leader's LeaseRenew waits for the applied index
	PhaseReadIndex               // the leader's LeaseRenew waits for a ReadIndex round (ensureLeadership)
	PhaseRevokeWait              // the leader's Renew of an expired lease waits for its revocation
)

var phaseNames = [...]string{"idle", "cpu", "forwarding", "wait-leader", "retry-sleep", "leader-cpu", "apply-wait", "read-index", "revoke-wait"}

func (p Phase) String() string { return phaseNames[p] }

// InputKind names what happened to a Member.
type InputKind uint8

const (
	InStreamOpen     InputKind = iota // the client opened stream Gen (0: closed it, its process exited); the old stream's requests are dropped
	InRecv                            // a keepalive arrived on stream Gen (Client: its lease, on an AddProcess stream)
	InCPUDone                         // the CPU finished Work for the request of attempt Attempt
	InRetry                           // the ForwardRetry sleep of attempt Attempt ended
	InDeadlines                       // the head of the deadline queue is due
	InForwardResult                   // the transport's outcome of the forward of attempt Attempt: Err, or TTL
	InForwardRequest                  // (leader) a forwarded keepalive from member From arrived
	InLeaderLost                      // the leader stepped down: an election begins
	InElected                         // the election ended: member Leader leads
	InRevokeTick                      // the lessor's runLoop pass (RevokeInterval)
	InApplyStall                      // the leader's apply loop stalls until Until
	InApplied                         // the applied index caught up: the renewal of Work waits no more
	InApplyTimeout                    // ApplyTimeout ran out for the renewal of Work
	InFsyncStall                      // the member's raft loop blocks in the WAL's fdatasync until Until
	InFsyncDone                       // the fdatasync returned: the raft loop runs again
	InDeposedTick                     // a runLoop pass of the deposed leader's lessor (RevokeInterval)
	InReadIndexDone                   // the ReadIndex round in flight has its quorum (or ran out of time)
	InRevokeApplied                   // the first LeaseRevoke proposal in flight is due to apply
	InCPUTick                         // a processor-shared CPU may have finished jobs (Attempt: the tick's number; stale ones are ignored)
)

var inputNames = [...]string{"stream-open", "recv", "cpu-done", "retry", "deadlines", "forward-result",
	"forward-request", "leader-lost", "elected", "revoke-tick", "apply-stall", "applied", "apply-timeout",
	"fsync-stall", "fsync-done", "deposed-tick", "read-index-done", "revoke-applied", "cpu-tick"}

func (k InputKind) String() string { return inputNames[k] }

// Work names the CPU work a Member waits for.
type Work uint8

const (
	WorkFollower  Work = iota // a follower's share of a forwarded keepalive
	WorkDirect                // a leader's direct renewal
	WorkForwarded             // a leader's handling of a forwarded keepalive
	WorkPromote               // a new leader's lessor Promote (PromoteCost)
)

var workNames = [...]string{"follower", "direct", "forwarded", "promote"}

func (w Work) String() string { return workNames[w] }

// Input is one thing that happened to a Member. Slot names the client's
// stream on this member; a forwarded request at the leader names the client
// by Client and its member by From (and Slot is the slot there).
type Input struct {
	Kind    InputKind
	Work    Work // InCPUDone
	Err     bool // InForwardResult: the forward failed (retry)
	From    int8 // InForwardRequest: the follower; InElected: the new leader
	Slot    int32
	Client  int32
	Attempt uint32
	Gen     uint32   // InStreamOpen, InRecv
	TTL     int64    // InForwardResult
	Until   sim.Time // InApplyStall; InRevokeTick: the pass's proposals commit no earlier than RevokeCommit after this (0: now)
}

// OutputKind names what a Member asks for or reports.
type OutputKind uint8

const (
	OutRespond     OutputKind = iota // answer lease Client's request on stream Gen with TTL (after the client link's delay)
	OutStreamError                   // stream Gen of client Client (the stream's owner) failed (LeaseRenew returned an error)
	OutWake                          // deliver Wake to me at At
	OutForward                       // transport: send attempt Attempt of slot Slot's keepalive to member To
	OutCancel                        // transport: attempt Attempt of slot Slot was cancelled (ReqTimeout)
	OutAbandon                       // transport: slot Slot's stream is gone; its forward (if any) is not wanted
	OutReply                         // transport: the leader handled the forward of (From, Slot, Attempt): TTL, or an ErrStatus
	OutShed                          // transport: the leader's bounded queue refused the forward of (From, Slot, Attempt)
	OutFact                          // for the recorder: Fact about client Client (N leases, Keys keys)
	OutHostDone                      // the host work (HostWork) with tag Client is done on a processor-shared CPU
)

var outputNames = [...]string{"respond", "stream-error", "wake", "forward", "cancel", "abandon", "reply", "shed", "fact", "host-done"}

func (k OutputKind) String() string { return outputNames[k] }

// Fact is something the recorder counts.
type Fact uint8

const (
	FactReceived       Fact = iota // a keepalive arrived on one of this member's streams
	FactRenewed                    // the leader's lessor renewed client Client's lease
	FactForwarded                  // a forwarded keepalive reached the leader
	FactShed                       // a bounded leader queue refused a request
	FactStreamError                // a client's stream broke (LeaseRenew failed)
	FactExpired                    // the lessor revoked N leases from entry Client that had expired At, deleting Keys keys
	FactPromoted                   // a new leader's lessor Promoted N leases; its CPU is busy with it until At
	FactReadIndex                  // the leader started a ReadIndex round for N renewals (RenewReadsIndex)
	FactDeposedRenewed             // a deposed leader's stale lessor renewed client Client's lease and answered (etcd #15247)
)

var factNames = [...]string{"received", "renewed", "forwarded", "shed", "stream-error", "expired", "promoted", "read-index", "deposed-renewed"}

func (f Fact) String() string { return factNames[f] }

// Output is one thing a Member asks for or reports. It is kept small (the
// wiring routes several per keepalive): a wake-up's input travels in its
// own fields (WakeInput rebuilds it).
type Output struct {
	Kind OutputKind
	Fact Fact
	// ErrStatus: OutReply: an error status instead of a TTL: ErrNotPrimary
	// (no longer the leader) or 408 (the applied index did not catch up
	// within ApplyTimeout); RenewHTTP fails and the follower retries.
	ErrStatus bool
	// To: OutForward: the leader; OutReply, OutShed: the follower the
	// request came from; OutWake of a forwarded request's CPU work: that follower.
	To       int8
	WakeKind InputKind // OutWake: the input to deliver
	Work     Work      // OutWake of InCPUDone
	Slot     int32
	Client   int32
	Attempt  uint32
	Gen      uint32
	N, Keys  int32 // FactExpired
	TTL      int64
	At       sim.Time // OutWake: when; FactExpired: when the leases had expired; FactPromoted: when Promote's work ends
}

// wake is an OutWake that delivers in at at.
func wake(at sim.Time, in Input) Output {
	return Output{Kind: OutWake, At: at, WakeKind: in.Kind, Work: in.Work, To: in.From, Slot: in.Slot,
		Client: in.Client, Attempt: in.Attempt}
}

// WakeInput is the input an OutWake asks to have delivered at At.
func (o *Output) WakeInput() Input {
	return Input{Kind: o.WakeKind, Work: o.Work, From: o.To, Slot: o.Slot, Client: o.Client, Attempt: o.Attempt}
}

// NewMember returns member cfg.ID believing that leader leads, with no clients.
func NewMember(cfg MemberConfig, cpu *CPU, lessor *Lessor, leader int) *Member {
	if cpu == nil || lessor == nil || cfg.ReqTimeout <= 0 {
		panic(fmt.Sprintf("model: member %d needs a CPU, a lessor and a ReqTimeout > 0", cfg.ID))
	}
	m := &Member{cfg: cfg, cpu: cpu, lessor: lessor, leader: leader}
	if leader == cfg.ID {
		cpu.SetMaxJobs(cfg.LeaderQueue)
	}
	return m
}

// AddClient gives client (a global index, its lease's) a stream slot on this
// member and returns the slot.
func (m *Member) AddClient(client int) int32 {
	m.streams = append(m.streams, stream{client: int32(client), lease: int32(client)})
	return int32(len(m.streams) - 1)
}

// AddProcess gives a client process that keeps several leases alive on one
// stream a slot on this member and returns the slot: owner names the process
// (its stream errors' Client); each InRecv on the slot names its request's
// lease (its lessor entry) by Input.Client, and the request's renewal,
// forward, facts and answer (OutRespond's Client) name that lease.
func (m *Member) AddProcess(owner int) int32 {
	m.fifos = append(m.fifos, nil)
	m.streams = append(m.streams, stream{client: int32(owner), lease: int32(owner), fifo: int32(len(m.fifos))})
	return int32(len(m.streams) - 1)
}

// dropQueue empties a stream's receive buffer (a new stream, a broken one).
func (m *Member) dropQueue(s *stream) {
	s.queue = 0
	if s.fifo != 0 {
		m.fifos[s.fifo-1] = m.fifos[s.fifo-1][:0]
	}
}

// Leader is the member this one believes leads (-1: none).
func (m *Member) Leader() int { return m.leader }

// IsLeader reports whether this member believes it leads.
func (m *Member) IsLeader() bool { return m.leader == m.cfg.ID }

// CPU is the member's processor.
func (m *Member) CPU() *CPU { return m.cpu }

// Queued is the number of requests waiting in this member's stream receive
// buffers (each a cohort's: MemberConfig.Cohort).
func (m *Member) Queued() int {
	n := 0
	for i := range m.streams {
		n += int(m.streams[i].queue)
	}
	return n * m.cohort()
}

// HeldForRevoke is the number of renewals this member's lessor holds until
// their lease's revocation (or its demotion): each holds its request (and
// its handler goroutine, which a cancelled stream or request does not free:
// lessor.Renew takes no context). Each is a cohort's (MemberConfig.Cohort).
func (m *Member) HeldForRevoke() int { return len(m.revokeWaits) * m.cohort() }

// CheckInvariants checks the member's bookkeeping: no count of queued work,
// memory or buffered requests is negative.
func (m *Member) CheckInvariants() error {
	if m.cpu.Jobs() < 0 || m.cpu.Bytes() < 0 {
		return fmt.Errorf("member %d: CPU jobs %d, bytes %d", m.cfg.ID, m.cpu.Jobs(), m.cpu.Bytes())
	}
	for slot := range m.streams {
		s := &m.streams[slot]
		if s.queue < 0 {
			return fmt.Errorf("member %d slot %d: stream queue %d", m.cfg.ID, slot, s.queue)
		}
		if s.fifo != 0 && len(m.fifos[s.fifo-1]) != int(s.queue) {
			return fmt.Errorf("member %d slot %d: %d leases for %d queued requests", m.cfg.ID, slot, len(m.fifos[s.fifo-1]), s.queue)
		}
	}
	return nil
}

// Stream reports a slot's stream state, for invariant checks and transcripts.
func (m *Member) Stream(slot int32) (gen uint32, queue int, busy bool, phase Phase, attempt uint32) {
	s := &m.streams[slot]
	return s.gen, int(s.queue), s.busy, s.phase, s.attempt
}

// Step applies in at now and appends the member's outputs to out.
func (m *Member) Step(now sim.Time, in Input, out []Output) []Output {
	out = m.step(now, in, out)
	if m.cpu.share != nil {
		out = m.armTick(now, out)
	}
	return out
}

func (m *Member) step(now sim.Time, in Input, out []Output) []Output {
	switch in.Kind {
	case InStreamOpen:
		s := &m.streams[in.Slot]
		if s.phase == PhaseForwarding {
			out = append(out, Output{Kind: OutAbandon, Slot: in.Slot, Client: s.lease, Attempt: s.attempt})
		}
		// Keepalives sent on the old stream are never answered.
		m.dropQueue(s)
		s.gen, s.busy, s.phase = in.Gen, false, PhaseIdle
		s.attempt++
	case InRecv:
		s := &m.streams[in.Slot]
		if in.Gen != s.gen {
			return out // sent on a stream the member has since dropped
		}
		lease := s.client
		if s.fifo != 0 {
			lease = in.Client
			m.fifos[s.fifo-1] = append(m.fifos[s.fifo-1], lease)
		}
		out = append(out, Output{Kind: OutFact, Fact: FactReceived, Client: lease})
		s.queue++
		if !s.busy {
			out = m.startNext(now, in.Slot, out)
		}
	case InCPUTick:
		if in.Attempt == m.tick && m.tickSet {
			m.tickSet = false
			out = m.cpuTick(now, out)
		}
	case InCPUDone:
		if in.Work == WorkPromote {
			m.cpu.Done(1, 0)
			return out
		}
		m.cpu.Done(m.cohort(), int64(m.cfg.Costs.QueuedRequestBytes))
		out = m.renewWork(now, in, true, out)
	case InApplied:
		out = m.renewWork(now, in, false, out)
	case InApplyTimeout:
		out = m.applyTimeout(in, out)
	case InApplyStall:
		m.stallApply(now, in.Until)
	case InRetry:
		s := &m.streams[in.Slot]
		if in.Attempt == s.attempt && s.phase == PhaseRetrySleep {
			out = m.tryForward(now, in.Slot, out)
		}
	case InDeadlines:
		out = m.fireDeadlines(now, out)
	case InForwardResult:
		s := &m.streams[in.Slot]
		if in.Attempt != s.attempt || s.phase != PhaseForwarding {
			panic(fmt.Sprintf("model: member %d slot %d: forward result for attempt %d in phase %v attempt %d", m.cfg.ID, in.Slot, in.Attempt, s.phase, s.attempt))
		}
		if in.Err { // an error answer or a failed dial: sleep and retry
			s.phase = PhaseRetrySleep
			out = append(out, wake(now+sim.Time(ForwardRetry), Input{Kind: InRetry, Slot: in.Slot, Client: s.lease, Attempt: in.Attempt}))
			return out
		}
		out = m.answer(now, in.Slot, in.TTL, out)
	case InForwardRequest:
		out = append(out, Output{Kind: OutFact, Fact: FactForwarded, Client: in.Client})
		var ok bool
		out, ok = m.cpuJob(now, m.cfg.Costs.LeaderForwarded, true, Input{Kind: InCPUDone, Work: WorkForwarded,
			From: in.From, Slot: in.Slot, Client: in.Client, Attempt: in.Attempt}, out)
		if !ok {
			// Shed: an error status at once; RenewHTTP fails, the follower retries.
			out = append(out, Output{Kind: OutFact, Fact: FactShed, Client: in.Client},
				Output{Kind: OutShed, To: in.From, Slot: in.Slot, Client: in.Client, Attempt: in.Attempt})
			return out
		}
	case InLeaderLost:
		out = m.deposedWhileBlocked(now, out)
		m.leader = -1
		if m.deposed == nil {
			out = m.releaseDemoted(now, out) // updateLeadership demotes the lessor
		}
		out = m.readsFailed(out)
		// The revocations proposed in this term and not applied are lost
		// (the raft log is not modelled): the next leader finds them anew.
		m.revokes, m.revokeWake = m.revokes[:0], 0
	case InFsyncStall:
		if in.Until > m.fsyncUntil {
			if now >= m.fsyncUntil {
				m.fsyncFrom = now
			}
			m.fsyncUntil = in.Until
			out = append(out, wake(in.Until, Input{Kind: InFsyncDone}))
		}
	case InFsyncDone:
		if now >= m.fsyncUntil {
			out = m.raftLoopResumed(now, out)
		}
	case InDeposedTick:
		out = m.deposedTick(now, out)
	case InReadIndexDone:
		out = m.readIndexDone(now, in.Attempt, out)
	case InElected:
		out = m.elected(now, int(in.From), out)
	case InRevokeTick:
		out = m.revokePass(now, in.Until, out)
	case InRevokeApplied:
		if now == m.revokeWake {
			m.revokeWake = 0
			out = m.applyRevokes(now, out)
		}
	}
	return out
}

// renewWork goes on with a request whose CPU work is done: a follower
// forwards it, the leader renews it, first waiting for the applied index if
// the renewal waits for it and mayWait (not yet waited).
func (m *Member) renewWork(now sim.Time, in Input, mayWait bool, out []Output) []Output {
	switch in.Work {
	case WorkFollower:
		s := &m.streams[in.Slot]
		if in.Attempt != s.attempt {
			return out
		}
		out = m.armDeadline(now, in.Slot, out)
		return m.tryForward(now, in.Slot, out)
	case WorkDirect:
		s := &m.streams[in.Slot]
		if in.Attempt != s.attempt {
			return out
		}
		if !m.IsLeader() && m.cfg.Mutant == MutantDeposedRenew {
			return m.answer(now, in.Slot, int64(m.cfg.TTL/time.Second), out) // see WorkForwarded
		}
		if !m.IsLeader() && m.deposed == nil {
			// Deposed while the request waited: LeaseRenew forwards it now.
			out = m.armDeadline(now, in.Slot, out)
			return m.tryForward(now, in.Slot, out)
		}
		if in.Kind == InCPUDone && m.readsBeforeRenew(now) {
			s.phase = PhaseReadIndex
			return m.readIndex(now, readWaiter{slot: in.Slot, attempt: in.Attempt}, out)
		}
		if m.deposed != nil {
			return m.deposedRenew(now, in, out)
		}
		if mayWait && m.cfg.ApplyWaitDirect && now < m.applyStalledUntil {
			s.phase = PhaseApplyWait
			return m.waitApply(now, in, out)
		}
		if m.waitsForRevoke(now, s.lease) {
			m.hold(revokeWaiter{work: WorkDirect, slot: in.Slot, client: s.lease, attempt: in.Attempt})
			return out
		}
		ttl, out := m.renew(now, s.lease, out)
		return m.answer(now, in.Slot, ttl, out)
	default: // WorkForwarded: the leader's handler for a forwarded renewal has run
		if mayWait && m.IsLeader() && now < m.applyStalledUntil {
			return m.waitApply(now, in, out) // leasehttp waits for the applied index
		}
		if m.IsLeader() && m.waitsForRevoke(now, in.Client) {
			m.hold(revokeWaiter{work: WorkForwarded, from: in.From, slot: in.Slot, client: in.Client, attempt: in.Attempt})
			return out
		}
		reply := Output{Kind: OutReply, To: in.From, Slot: in.Slot, Client: in.Client, Attempt: in.Attempt}
		switch {
		case m.IsLeader():
			reply.TTL, out = m.renew(now, in.Client, out)
		case m.cfg.Mutant == MutantDeposedRenew:
			// The deposed leader's own lessor renews and answers; the new
			// leader's never hears of it.
			reply.TTL = int64(m.cfg.TTL / time.Second)
		default:
			reply.ErrStatus = true // ErrNotPrimary
		}
		return append(out, reply)
	}
}

// waitApply: the renewal of in waits for the applied index (ApplyWaitCommit):
// it goes on when the apply stall ends, or fails when ApplyTimeout runs out
// first (v3_server.go:459-469; leasehttp/http.go:84-88).
func (m *Member) waitApply(now sim.Time, in Input, out []Output) []Output {
	w := Input{Work: in.Work, From: in.From, Slot: in.Slot, Client: in.Client, Attempt: in.Attempt}
	if m.applyStalledUntil <= now+sim.Time(ApplyTimeout) {
		w.Kind = InApplied
		return append(out, wake(m.applyStalledUntil, w))
	}
	w.Kind = InApplyTimeout
	return append(out, wake(now+sim.Time(ApplyTimeout), w))
}

// applyTimeout: the applied index did not catch up in time. A client of the
// leader gets ErrTimeoutWaitAppliedIndex and its stream breaks; a forward is
// answered 408 and its follower retries.
func (m *Member) applyTimeout(in Input, out []Output) []Output {
	if in.Work == WorkForwarded {
		return append(out, Output{Kind: OutReply, To: in.From, Slot: in.Slot, Client: in.Client, Attempt: in.Attempt, ErrStatus: true})
	}
	if in.Attempt != m.streams[in.Slot].attempt {
		return out // the stream was reset meanwhile
	}
	return m.failStream(in.Slot, out)
}

// waitsForRevoke reports whether the leader's Renew of lease waits for its
// revocation: the lease has expired and is not revoked yet (Lessor.Expired;
// lessor.go:415-428 selects on its revokec and on demotec). The server holds
// the request meanwhile without CPU: a direct renewal blocks its stream (the
// client's later keepalives queue in the receive buffer), a forwarded one its
// peer connection (leasehttp's handler calls Renew with no deadline, v3.7.3
// lease/leasehttp/http.go:84-96; v3.2.23 :69-80), past the follower's
// ReqTimeout if the revoke backlog is long: the follower then closes the
// connection and the leader's socket sits in CLOSE-WAIT until the handler
// returns (netsim's cancel).
func (m *Member) waitsForRevoke(now sim.Time, lease int32) bool {
	return m.cfg.Mutant != MutantRenewExpiredAtOnce && m.lessor.Expired(now, int(lease))
}

// hold makes w wait for its lease's revocation (or the demotion); a direct
// renewal's stream waits with it (PhaseRevokeWait).
func (m *Member) hold(w revokeWaiter) {
	if w.work == WorkDirect {
		m.streams[w.slot].phase = PhaseRevokeWait
	}
	m.revokeWaits = append(m.revokeWaits, w)
}

// releaseRevoked answers the renewals whose lease's revocation has been
// applied: ErrLeaseNotFound, which the client sees as TTL 0 (v3rpc/lease.go
// turns it into a TTL-0 response; leasehttp answers 404, which RenewHTTP
// turns into ErrLeaseNotFound and the follower's LeaseRenew returns).
func (m *Member) releaseRevoked(now sim.Time, out []Output) []Output {
	if len(m.revokeWaits) == 0 {
		return out
	}
	kept := m.revokeWaits[:0]
	for _, w := range m.revokeWaits {
		if m.lessor.Alive(int(w.client)) {
			kept = append(kept, w) // still expired (or, deposed, Promoted by the new leader: it waits for the demotion)
			continue
		}
		out = m.endRevokeWait(now, w, false, out)
	}
	clear(m.revokeWaits[len(kept):])
	m.revokeWaits = kept
	return out
}

// releaseDemoted: the lessor was demoted (demotec closed): every renewal
// waiting for a revocation gets ErrNotPrimary. A direct one's LeaseRenew
// then forwards it to the leader (v3_server.go:496-531: it falls through to
// the forwarding loop); a forwarded one is answered with an error status and
// its follower retries.
func (m *Member) releaseDemoted(now sim.Time, out []Output) []Output {
	waits := m.revokeWaits
	m.revokeWaits = nil
	for _, w := range waits {
		out = m.endRevokeWait(now, w, true, out)
	}
	return out
}

// endRevokeWait answers one waiting renewal: not found (TTL 0, or a
// mutant's TTL), or ErrNotPrimary if demoted.
func (m *Member) endRevokeWait(now sim.Time, w revokeWaiter, demoted bool, out []Output) []Output {
	if w.work == WorkForwarded {
		reply := Output{Kind: OutReply, To: w.from, Slot: w.slot, Client: w.client, Attempt: w.attempt, ErrStatus: demoted}
		if !demoted {
			reply.TTL, out = m.renew(now, w.client, out)
		}
		return append(out, reply)
	}
	s := &m.streams[w.slot]
	if s.attempt != w.attempt || s.phase != PhaseRevokeWait {
		return out // the stream was reset meanwhile
	}
	if demoted {
		out = m.armDeadline(now, w.slot, out)
		return m.tryForward(now, w.slot, out)
	}
	ttl, out := m.renew(now, w.client, out)
	return m.answer(now, w.slot, ttl, out)
}

// renew is the leader lessor's Renew, or a mutant of it.
func (m *Member) renew(now sim.Time, client int32, out []Output) (int64, []Output) {
	ttl := m.lessor.Renew(now, int(client))
	if ttl == 0 && m.cfg.Mutant == MutantAckAfterRevoke && !m.lessor.Alive(int(client)) {
		ttl = int64(m.cfg.TTL / time.Second)
	}
	if ttl > 0 {
		out = append(out, Output{Kind: OutFact, Fact: FactRenewed, Client: client})
	}
	return ttl, out
}

// startNext takes the next request off a stream and starts LeaseRenew.
func (m *Member) startNext(now sim.Time, slot int32, out []Output) []Output {
	s := &m.streams[slot]
	if s.queue == 0 {
		s.busy, s.phase = false, PhaseIdle
		return out
	}
	s.queue--
	if s.fifo != 0 { // the request at the head names its lease
		f := m.fifos[s.fifo-1]
		s.lease = f[0]
		m.fifos[s.fifo-1] = f[:copy(f, f[1:])]
	}
	s.busy = true
	s.attempt++
	if m.IsLeader() || m.deposed != nil {
		return m.submitDirect(now, slot, out)
	}
	s.phase = PhaseCPU
	out, _ = m.cpuJob(now, m.cfg.Costs.FollowerRenewal, false, Input{Kind: InCPUDone, Work: WorkFollower, Slot: slot, Client: s.lease, Attempt: s.attempt}, out)
	return out
}

// submitDirect queues a renewal on the leader's own CPU.
func (m *Member) submitDirect(now sim.Time, slot int32, out []Output) []Output {
	s := &m.streams[slot]
	out, ok := m.cpuJob(now, m.cfg.Costs.DirectRenewal, true, Input{Kind: InCPUDone, Work: WorkDirect, Slot: slot, Client: s.lease, Attempt: s.attempt}, out)
	if !ok {
		out = append(out, Output{Kind: OutFact, Fact: FactShed, Client: s.lease})
		return m.failStream(slot, out) // the bounded queue refuses it: LeaseRenew fails
	}
	s.phase = PhaseLeaderCPU
	return out
}

// cpuJob queues a request's CPU work, after which in (an InCPUDone) is
// delivered: on a FIFO CPU a wake-up at the completion it knows at once; on
// a processor-shared one a job whose completion the CPU reports (cpuTick).
// bounded: the leader's bounded queue may shed it (ok=false).
func (m *Member) cpuJob(now sim.Time, work time.Duration, bounded bool, in Input, out []Output) (_ []Output, ok bool) {
	n := m.cohort() // work and bytes are each request's
	bytes := int64(m.cfg.Costs.QueuedRequestBytes)
	if m.cpu.share != nil {
		tag := m.park(parkedWork{in: in})
		if !m.cpu.Start(now, work, n, bytes, int8(m.cfg.ID), tag, bounded) {
			m.freeTags = append(m.freeTags, tag)
			return out, false
		}
		return out, true
	}
	var done sim.Time
	if bounded {
		if done, ok = m.cpu.Submit(now, work, n, bytes); !ok {
			return out, false
		}
	} else {
		done = m.cpu.Force(now, work, n, bytes)
	}
	return append(out, wake(done, in)), true
}

// cohort is how many clients each of m's clients stands for (MemberConfig.Cohort).
func (m *Member) cohort() int { return max(m.cfg.Cohort, 1) }

// HostWork charges n times work the host does for this member's process outside
// etcd's request handling (the kernel accepting a connection, the TLS
// library's handshake: netsim's OutCPU) to a processor-shared CPU, holding
// bytes until Done; when it is done the member reports OutHostDone with tag
// (NoTag: nobody waits). On a FIFO CPU the wiring calls CPU.Force instead.
func (m *Member) HostWork(now sim.Time, work time.Duration, n int, bytes int64, tag int32, out []Output) []Output {
	t := NoTag
	if tag != NoTag {
		t = m.park(parkedWork{host: true, hostTag: tag})
	}
	m.cpu.Start(now, work, n, bytes, int8(m.cfg.ID), t, false)
	return m.armTick(now, out)
}

// park keeps w until its job is done and returns its tag.
func (m *Member) park(w parkedWork) int32 {
	if n := len(m.freeTags); n > 0 {
		tag := m.freeTags[n-1]
		m.freeTags = m.freeTags[:n-1]
		m.parked[tag] = w
		return tag
	}
	m.parked = append(m.parked, w)
	return int32(len(m.parked) - 1)
}

// cpuTick delivers what the processor-shared CPU's jobs finished by now do.
func (m *Member) cpuTick(now sim.Time, out []Output) []Output {
	m.tags = m.cpu.Finished(now, int8(m.cfg.ID), m.tags[:0])
	for _, tag := range m.tags {
		w := m.parked[tag]
		m.freeTags = append(m.freeTags, tag)
		if w.host {
			out = append(out, Output{Kind: OutHostDone, Client: w.hostTag})
			continue
		}
		out = m.step(now, w.in, out)
	}
	return out
}

// armTick arms the wake-up that collects the processor-shared CPU's next
// completion, if it is not armed for that instant already.
func (m *Member) armTick(now sim.Time, out []Output) []Output {
	at, ok := m.cpu.NextDone(int8(m.cfg.ID))
	at = max(at, now)
	if !ok || (m.tickSet && at == m.tickAt) {
		return out
	}
	m.tick++
	m.tickAt, m.tickSet = at, true
	return append(out, wake(at, Input{Kind: InCPUTick, Attempt: m.tick}))
}

// answer sends LeaseRenew's result to the client and serves the next request.
func (m *Member) answer(now sim.Time, slot int32, ttl int64, out []Output) []Output {
	s := &m.streams[slot]
	s.attempt++
	out = append(out, Output{Kind: OutRespond, Client: s.lease, Slot: slot, Gen: s.gen, TTL: ttl})
	return m.startNext(now, slot, out)
}

// failStream: LeaseRenew returned an error, the stream handler returns it,
// and the client's stream breaks (v3rpc/lease.go: `return togRPCError(err)`).
func (m *Member) failStream(slot int32, out []Output) []Output {
	s := &m.streams[slot]
	gen := s.gen
	m.dropQueue(s)
	s.gen, s.busy, s.phase = 0, false, PhaseIdle
	s.attempt++
	out = append(out, Output{Kind: OutFact, Fact: FactStreamError, Client: s.client})
	return append(out, Output{Kind: OutStreamError, Client: s.client, Slot: slot, Gen: gen})
}

// tryForward is one pass of LeaseRenew's forwarding loop on a follower.
func (m *Member) tryForward(now sim.Time, slot int32, out []Output) []Output {
	s := &m.streams[slot]
	if m.leader < 0 {
		s.phase = PhaseWaitLeader
		m.waitLead = append(m.waitLead, slot)
		return out
	}
	if m.IsLeader() {
		return m.submitDirect(now, slot, out) // became the leader meanwhile: renew locally
	}
	s.phase = PhaseForwarding
	return append(out, Output{Kind: OutForward, To: int8(m.leader), Slot: slot, Client: s.lease, Attempt: s.attempt})
}

// armDeadline starts a LeaseRenew context: ReqTimeout from now.
func (m *Member) armDeadline(now sim.Time, slot int32, out []Output) []Output {
	at := now + sim.Time(m.cfg.ReqTimeout)
	m.deadlines.push(deadline{at: at, slot: slot, attempt: m.streams[slot].attempt})
	if !m.dlArmed {
		m.dlArmed = true
		out = append(out, wake(at, Input{Kind: InDeadlines}))
	}
	return out
}

// fireDeadlines fails every due LeaseRenew, then waits for the next deadline.
func (m *Member) fireDeadlines(now sim.Time, out []Output) []Output {
	i := 0
	for ; i < m.deadlines.len(); i++ {
		d := m.deadlines.at(i)
		if m.streams[d.slot].attempt != d.attempt {
			continue // answered or failed already
		}
		if d.at > now {
			break
		}
		out = m.deadlineExpired(d.slot, out)
	}
	m.deadlines.drop(i)
	if m.deadlines.len() == 0 {
		m.dlArmed = false
		return out
	}
	return append(out, wake(m.deadlines.at(0).at, Input{Kind: InDeadlines}))
}

// deadlineExpired: ReqTimeout ran out for a forwarding LeaseRenew.
func (m *Member) deadlineExpired(slot int32, out []Output) []Output {
	s := &m.streams[slot]
	switch s.phase {
	case PhaseForwarding:
		// The transport cancels the request: a waiter leaves the queue, a
		// request in flight closes its HTTP/1.1 connection.
		out = append(out, Output{Kind: OutCancel, Slot: slot, Client: s.lease, Attempt: s.attempt})
	case PhaseWaitLeader: // dropped from waitLead lazily
	case PhaseRetrySleep:
	default:
		return out // not forwarding
	}
	return m.failStream(slot, out)
}

// elected: the election ended and member leader leads. The new leader's
// lessor Promotes (extends every lease by the election timeout); LeaseRenew
// calls that waited for a leader go on.
func (m *Member) elected(now sim.Time, leader int, out []Output) []Output {
	m.leader = leader
	m.cpu.SetMaxJobs(0)
	if !m.IsLeader() && m.deposed == nil && len(m.revokeWaits) > 0 {
		out = m.releaseDemoted(now, out) // led without a leader-lost in between
	}
	if m.IsLeader() {
		m.cpu.SetMaxJobs(m.cfg.LeaderQueue)
		n := m.lessor.Promote(now, m.cfg.ElectionTimeout)
		// Promote runs in the apply loop, on the new term's first (empty)
		// entry (etcdserver/server.go:1957-1966), and holds the lessor's lock
		// while it walks (and sorts) every lease: it is CPU work that
		// renewals at the new leader queue behind, and an apply stall until
		// it ends (renewals that wait for the applied index wait for it).
		if cost := PromoteCost(n); cost > 0 {
			done := m.cpu.Force(now, cost, 1, 0)
			m.stallApply(now, done)
			out = append(out, Output{Kind: OutFact, Fact: FactPromoted, N: int32(min(n, math.MaxInt32)), At: done},
				wake(done, Input{Kind: InCPUDone, Work: WorkPromote}))
		}
	}
	q := m.waitLead
	m.waitLead = nil
	for _, slot := range q {
		if m.streams[slot].phase == PhaseWaitLeader {
			out = m.tryForward(now, slot, out)
		}
	}
	return out
}

// The deposed leader's lessor (etcd #12528, #15247). A leader whose raft
// loop is blocked writing the WAL (fdatasync; the fsync-stall fault) neither
// ticks (the ticker is read by that loop: etcdserver/raft.go:183-184 in
// v3.7.3) nor sends heartbeats, so its followers elect another leader. The
// server learns of it only from the next Ready, after the fdatasync returns:
// the SoftState change calls updateLeadership (raft.go:185-205), which
// demotes the lessor (lessor.Demote, server.go:769-775; lease/lessor.go:
// 534-550). Until then the lessor is primary: its runLoop, a goroutine of its
// own (lessor.go:620-636), keeps finding leases expired (lessor.go:640-663)
// by a lease table the renewals no longer reach (followers forward them to
// the new leader), and the server proposes a LeaseRevoke for each
// (revokeExpiredLeases). The blocked member's raft node (node.run, apart
// from the raft loop) steps those proposals and, a follower of the new term
// once the new leader's heartbeat reaches it, forwards them as MsgProp with
// the next Ready's messages (raft.go:324); the new leader commits them and
// every member applies the revocation: leases the cluster renewed are gone
// with their keys. Releases with the fix (EtcdVersion.RevokeChecksLeadership)
// call ensureLeadership first, which cannot succeed while the raft loop is
// blocked (no ticks, so isActive fails; the linearizable read times out) nor
// after (raft's leader is another): they revoke nothing.
//
// The model: when the raft deposes a member whose raft loop is blocked and
// which led (InLeaderLost), its lessor view is a copy of the lease table as
// of then (the shared Lessor is the leader's, and from then the new
// leader's); its runLoop passes (InDeposedTick, every RevokeInterval on the
// cluster's phase) revoke from the copy, rate limited as any runLoop pass,
// and, without the fix (or with MutantDeposedRevoke), are proposed; when the
// fdatasync returns (InFsyncDone) the lessor is demoted and every proposed
// revoke is applied to the cluster's lessor, reported as FactExpired at that
// instant (the new leader commits them within a round trip; the 16-revokes-
// in-flight limit and the LeaseRevoke timeouts are not modelled: every
// proposal is eventually committed, since the unfixed server keeps proposing
// after the demotion too). The member's own clients' LeaseRenew takes the
// leader's path meanwhile (deposedRenew): the stale lessor renews and
// acknowledges them, or on fixed releases the leadership check fails.

// deposedWhileBlocked: the raft deposes this member at now. If it led with
// its raft loop blocked, its lessor stays primary on a copy of the lease
// table and its runLoop goes on (first pass on the cluster's phase).
func (m *Member) deposedWhileBlocked(now sim.Time, out []Output) []Output {
	if !m.IsLeader() || now >= m.fsyncUntil || m.deposed != nil {
		return out
	}
	m.deposed = m.lessor.Clone()
	next := (now/sim.Time(RevokeInterval) + 1) * sim.Time(RevokeInterval)
	return append(out, wake(next, Input{Kind: InDeposedTick}))
}

// revokesWithoutLeadership reports whether this member proposes the revokes
// of a lessor raft has deposed: releases without the leadership check, or
// MutantDeposedRevoke.
func (m *Member) revokesWithoutLeadership() bool {
	return !m.cfg.RevokeChecksLeadership || m.cfg.Mutant == MutantDeposedRevoke
}

// deposedTick is one runLoop pass of the deposed lessor: the leases it finds
// expired are proposed for revocation, unless the server checks its
// leadership first (ensureLeadership fails: server.go:858-873 in v3.7.3).
func (m *Member) deposedTick(now sim.Time, out []Output) []Output {
	if m.deposed == nil {
		return out // demoted meanwhile
	}
	revs := m.deposed.RevokeExpired(now, nil)
	if m.revokesWithoutLeadership() {
		m.pending = append(m.pending, revs...)
	}
	return append(out, wake(now+sim.Time(RevokeInterval), Input{Kind: InDeposedTick}))
}

// raftLoopResumed: the fdatasync returned at now. The next Ready demotes the
// lessor (updateLeadership) and sends the revokes proposed meanwhile to the
// new leader, which commits them: each is applied to the cluster's lessor.
func (m *Member) raftLoopResumed(now sim.Time, out []Output) []Output {
	if m.deposed == nil {
		return out
	}
	m.deposed = nil
	for _, p := range m.pending {
		if r := m.lessor.Revoke(now, p.I, p.N); r.N > 0 {
			out = append(out, Output{Kind: OutFact, Fact: FactExpired, Client: int32(r.I), N: int32(r.N), Keys: int32(r.Keys), At: r.Expiry})
		}
	}
	m.pending = nil
	if !m.IsLeader() {
		out = m.releaseDemoted(now, out)
	}
	return out
}

// deposedRenew is LeaseRenew for a client of a member raft deposed while
// its raft loop was blocked (see deposedWhileBlocked): its server still
// believes it leads (isLeader reads the last soft state the raft loop
// delivered), so LeaseRenew takes the leader's path. Without the leadership
// check (before 3.5.13/3.4.31) the stale lessor, still primary, renews the
// lease and the client gets its TTL (v3.5.12 v3_server.go:298-310): an
// acknowledged renewal the cluster's lessor never sees, etcd #15247's second
// symptom ("the old leader ... accepts keepalives"). With the check, a
// member that has not ticked for 3 heartbeats reads first (ensureLeadership,
// readsBeforeRenew), and the read fails once the raft loop runs again and
// learns the new leader, or at ReqTimeout: ErrNotPrimary. (renewWork has
// taken that read, if any, before it calls this.)
func (m *Member) deposedRenew(now sim.Time, in Input, out []Output) []Output {
	s := &m.streams[in.Slot]
	if !m.cfg.RevokeChecksLeadership {
		if ttl := m.deposed.Renew(now, int(s.lease)); ttl > 0 {
			out = append(out, Output{Kind: OutFact, Fact: FactDeposedRenewed, Client: s.lease})
			return m.answer(now, in.Slot, ttl, out)
		}
		if m.cfg.Mutant == MutantRenewExpiredAtOnce {
			return m.answer(now, in.Slot, 0, out)
		}
		// Expired in the stale table: its revocation, proposed or not, is
		// applied only after the raft loop runs again, which demotes the
		// lessor first (raftLoopResumed): the renewal waits until then.
		m.hold(revokeWaiter{work: WorkDirect, slot: in.Slot, client: s.lease, attempt: in.Attempt})
		return out
	}
	// A fixed release within its first 3 heartbeats of the block (isActive
	// still true) renews in its lessor too; so close to the leadership
	// change, the model forwards it to the new leader instead.
	out = m.armDeadline(now, in.Slot, out)
	return m.tryForward(now, in.Slot, out)
}

// Deposed reports whether this member's lessor is primary though raft has
// deposed it (its raft loop blocked), and how many revokes it has proposed
// that are not yet applied.
func (m *Member) Deposed() (primary bool, proposed int) {
	for _, p := range m.pending {
		proposed += p.N
	}
	return m.deposed != nil, proposed
}

// The linearizable read loop (ensureLeadership in LeaseRenew, releases with
// EtcdVersion.RenewReadsIndex). linearizableReadNotify joins the current
// notifier and wakes linearizableReadLoop, which swaps in a new notifier and
// runs one ReadIndex for every read that joined the old one: a heartbeat
// with the read's context to each follower, answered by a quorum, then a
// wait for the applied index (v3.5.13 server/etcdserver/v3_server.go:
// 692-760 linearizableReadLoop, :855-886 linearizableReadNotify). So one
// round is in flight at a time and the renewals that arrive meanwhile share
// the next: under load the rounds batch. A round costs ReadIndexCost of the
// leader's CPU (readIndex charges it when the round starts) and ends
// ReadIndexRTT later, or when the raft loop runs again if it is blocked in
// fdatasync (no heartbeat leaves meanwhile). ensureLeadership gives up after
// ReqTimeout, and a leader change fails the reads in flight
// (leaderChangedNotifier, v3_server.go:789-793): LeaseRenew then returns
// ErrNotPrimary and the client's stream breaks (v3_server.go:307-309). The
// wait for the applied index after the read is the renewal's own
// (ApplyWaitDirect); the reads' is not modelled.

// The revoke pipeline. runLoop hands each pass's expired leases to the
// server (expiredC, lessor.go:652-660), whose revokeExpiredLeases proposes a
// LeaseRevoke for each, at most MaxPendingRevokes of one batch in flight
// (server.go:858-903); each is committed through raft and applied by every
// member's apply loop, which deletes the lease and its keys (lessor.go:
// 326-365). Until then the lease stays, expired: its keys outlive it by the
// pipeline's delay, which an apply stall or a blocked raft loop stretches.
// A lease not revoked ExpiredLeaseRetryInterval after it was found is found
// and proposed again (Lessor.FindExpired). The model: the k-th lease of a
// pass (from 0) is applied (k/MaxPendingRevokes + 1) x RevokeCommit after
// the pass, or when the apply loop (applyStalledUntil) and the raft loop
// (fsyncUntil) run again if later; a cohort entry goes with its last lease.
// Not modelled: the CPU of proposing and applying a revocation, and the
// ReadIndex that releases from 3.5.13 to 3.5.15 run before each batch.

// revokePass is one runLoop pass on the leader: the leases it finds expired
// are proposed and applied later (applyRevokes).
func (m *Member) revokePass(now, raftWait sim.Time, out []Output) []Output {
	k := 0
	from := max(now, raftWait)
	for _, r := range m.lessor.FindExpired(now, nil) {
		k += r.N
		at := from + sim.Time((k-1)/MaxPendingRevokes+1)*sim.Time(m.cfg.RevokeCommit)
		m.revokeSeq++
		p := pendingRevoke{at: at, seq: m.revokeSeq, i: int32(r.I), n: int32(r.N)}
		j, _ := slices.BinarySearchFunc(m.revokes, p, func(a, b pendingRevoke) int {
			if a.at != b.at {
				return cmp.Compare(a.at, b.at)
			}
			return cmp.Compare(a.seq, b.seq)
		})
		m.revokes = slices.Insert(m.revokes, j, p)
	}
	// A revocation another member applied to the shared lessor (a deposed
	// leader's, raftLoopResumed) releases its waiters here, at the latest.
	out = m.releaseRevoked(now, out)
	return m.applyRevokes(now, out) // those due now (RevokeCommit 0) at once
}

// applyRevokes applies the proposals due by now, unless the apply or the
// raft loop is stalled (they then wait for it).
func (m *Member) applyRevokes(now sim.Time, out []Output) []Output {
	if now < m.applyStalledUntil || now < m.fsyncUntil {
		return m.armRevokeWake(now, out)
	}
	n := 0
	for ; n < len(m.revokes) && m.revokes[n].at <= now; n++ {
		p := m.revokes[n]
		if r := m.lessor.ApplyRevoke(int(p.i), int(p.n)); r.N > 0 {
			out = append(out, Output{Kind: OutFact, Fact: FactExpired, Client: int32(r.I), N: int32(r.N), Keys: int32(r.Keys), At: r.Expiry})
		}
	}
	m.revokes = slices.Delete(m.revokes, 0, n)
	if n > 0 {
		out = m.releaseRevoked(now, out)
	}
	return m.armRevokeWake(now, out)
}

// armRevokeWake makes sure one wake-up is armed for the first proposal
// (no earlier than the end of an apply stall or a blocked raft loop).
func (m *Member) armRevokeWake(now sim.Time, out []Output) []Output {
	if len(m.revokes) == 0 {
		return out
	}
	at := max(m.revokes[0].at, m.applyStalledUntil, m.fsyncUntil, now)
	if m.revokeWake != 0 && m.revokeWake <= at {
		return out
	}
	m.revokeWake = at
	return append(out, wake(at, Input{Kind: InRevokeApplied}))
}

// stallApply: the applied index lags the committed one until until.
func (m *Member) stallApply(now, until sim.Time) {
	m.applyStalledUntil = max(m.applyStalledUntil, until)
	m.applyLagMax = max(m.applyLagMax, time.Duration(m.applyStalledUntil-now))
}

// ApplyLagMax is the longest the member's applied index has lagged its
// committed one (an apply stall, a Promote), as seen when the lag began.
func (m *Member) ApplyLagMax() time.Duration { return m.applyLagMax }

// readsBeforeRenew reports whether LeaseRenew at this leader confirms its
// leadership with a ReadIndex round now: on every renewal in the releases of
// etcd #18069 (RenewReadsIndex); in the releases that fixed it, which check
// leadership at all (RevokeChecksLeadership: 3.4.34+, 3.5.16+, 3.6+), only
// when the member is not active, i.e. has not ticked for 3 heartbeat
// intervals (isActive, v3.7.3 server.go:908-912): here, a raft loop blocked
// in fdatasync for that long (the fsync-stall fault; ticks are read by that
// loop).
func (m *Member) readsBeforeRenew(now sim.Time) bool {
	if m.cfg.RenewReadsIndex {
		return true
	}
	return m.cfg.RevokeChecksLeadership && now < m.fsyncUntil && now >= m.fsyncFrom+sim.Time(3*HeartbeatInterval)
}

// readIndex makes w wait for a ReadIndex round: the next one if a round is
// in flight, else one that starts now.
func (m *Member) readIndex(now sim.Time, w readWaiter, out []Output) []Output {
	if m.readInFlight {
		m.nextRead = append(m.nextRead, w)
		return out
	}
	m.reading = append(m.reading, w)
	return m.startRead(now, out)
}

// startRead starts a ReadIndex round for the renewals in m.reading.
func (m *Member) startRead(now sim.Time, out []Output) []Output {
	m.readInFlight, m.readStarted = true, now
	m.readRound++
	out = append(out, Output{Kind: OutFact, Fact: FactReadIndex, N: int32(len(m.reading))})
	end := m.cpu.Force(now, m.cfg.ReadIndexCost, 1, 0) + sim.Time(m.cfg.ReadIndexRTT)
	if end < m.fsyncUntil {
		end = m.fsyncUntil
	}
	if limit := now + sim.Time(m.cfg.ReqTimeout); end > limit {
		end = limit
	}
	return append(out, wake(end, Input{Kind: InReadIndexDone, Attempt: m.readRound}))
}

// readIndexDone ends the round in flight: a leader that still leads (and
// whose round got its quorum: not past ReqTimeout, not blocked) goes on
// with each renewal; otherwise they fail. The renewals that arrived meanwhile
// start the next round.
func (m *Member) readIndexDone(now sim.Time, round uint32, out []Output) []Output {
	m.cpu.Done(1, 0)
	if !m.readInFlight || round != m.readRound {
		return out // a round a leader change failed
	}
	ok := m.IsLeader() && now < m.readStarted+sim.Time(m.cfg.ReqTimeout) && now >= m.fsyncUntil
	done := m.reading
	m.reading, m.nextRead = m.nextRead, nil
	m.readInFlight = false
	for _, w := range done {
		s := &m.streams[w.slot]
		if s.attempt != w.attempt || s.phase != PhaseReadIndex {
			continue // the stream was reset meanwhile
		}
		if !ok {
			out = m.failStream(w.slot, out)
			continue
		}
		out = m.renewWork(now, Input{Kind: InReadIndexDone, Work: WorkDirect, Slot: w.slot, Client: s.lease, Attempt: w.attempt}, true, out)
	}
	if m.nextRead == nil {
		m.nextRead = done[:0] // reuse the buffer
	}
	if len(m.reading) > 0 {
		out = m.startRead(now, out)
	}
	return out
}

// ReadIndexBeat charges every member but the leader its part of a ReadIndex
// round the leader started at now (FactReadIndex): answering the heartbeat
// that carries the read's context, ReadIndexFollowerCost (measured).
func ReadIndexBeat(now sim.Time, members []*Member, leader int) {
	for f, m := range members {
		if f != leader {
			m.cpu.Charge(now, ReadIndexFollowerCost)
		}
	}
}

// readsFailed: the leader changed; every read waiting fails at once.
func (m *Member) readsFailed(out []Output) []Output {
	if !m.readInFlight {
		return out
	}
	for _, list := range [][]readWaiter{m.reading, m.nextRead} {
		for _, w := range list {
			if s := &m.streams[w.slot]; s.attempt == w.attempt && s.phase == PhaseReadIndex {
				out = m.failStream(w.slot, out)
			}
		}
	}
	m.reading, m.nextRead, m.readInFlight = m.reading[:0], m.nextRead[:0], false
	return out
}
