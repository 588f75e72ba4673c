package scenario

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/leasesim/leasesim/clientmodel"
	"github.com/leasesim/leasesim/model"
	"github.com/leasesim/leasesim/netsim"
	"github.com/leasesim/leasesim/onceclient"
	"github.com/leasesim/leasesim/recorder"
	"github.com/leasesim/leasesim/sim"
	"github.com/leasesim/leasesim/spec"
)

// Options are the run-time hooks of a cluster run that are not part of a
// scenario: what a test or 'leasesim check' adds to a spec.Cluster.
type Options struct {
	// History, if set, receives the lease-API operations of the run, for
	// linearizability checking (package properties).
	History func(recorder.Op)
	// Mutant deliberately breaks the server, to show that checkers catch it
	// (model.Mutant); model.MutantNone is etcd's behaviour.
	Mutant model.Mutant
	// Deferred: no client calls KeepAlive until Sim.ClientInput gives it InKeepAlive (stateful tests).
	Deferred bool
	// RecordRTT keeps every answered keepalive's send time and round trip
	// (recorder.Outcome.RTTs), for comparison with a real cluster's (leasesim
	// calibrate). Off by default: it costs memory per request.
	RecordRTT bool
}

// clusterClient is one client process and where it is served.
type clusterClient struct {
	client clientmodel.Client // inline: the hot loop walks clients, keep them near
	member int32
	slot   int32                  // its stream's slot on its member
	timers clientmodel.LazyTimers // its scan's and deadline tick's events, moved while idle
	exited bool                   // its process exited (clients.restart): what reaches it is lost
}

// Sim is a cluster simulation driven step by step: a stateful test's actions
// (add and cancel clients, stop and resume reading, change the leader,
// partition a member) interleave with Advance. RunCluster is StartCluster,
// Advance to the duration, Finish.
type Sim struct {
	cfg     spec.Cluster
	opts    Options
	k       *sim.Kernel[event]
	rec     *recorder.Recorder
	ser     *recorder.ClusterSeries
	clients []clusterClient
	members []*model.Member
	net     *netsim.Network
	lessor  *model.Lessor
	leader  int                 // -1 during an election
	ledger  *recorder.Ledger    // with opts.History or opts.RecordRTT
	raft    raftWiring          // with cfg.Raft: heartbeats and elections (raft.go)
	events  *model.EventWriters // with clients.kind event-writer: their writes and revokes, each runLoop pass
	once    []onceclient.Client // with clients.kind keepalive-once: client i's KeepAliveOnce loop
	multi   *multiLease         // with clients.leases_per_client > 1: the processes (multilease.go)

	proberPhases []sim.Time // with cfg.Prober: each member's first probe (proberPhases)
	// With cfg.PlatformStalls: the stalls, in time order, apart.
	stalls []stall

	eventRevoked []model.Revoked // the last pass's event lease revocations (reused)
	// With cluster.processor_sharing: the network's messages waiting for
	// their CPU work (model.Member.HostWork), by tag, and the free tags.
	hostThen []netsim.Input
	hostFree []int32

	clientOut   []clientmodel.Output
	clientRoute clusterClientRoute
	memberOut   sim.Outputs[model.Output]
	netOut      sim.Outputs[netsim.Output]
}

// RunCluster simulates the cluster scenario c, which spec.Spec.Resolve made
// (and so validated); trace, if not nil, receives the JSON-lines trace. The
// data path is model.Member's (after etcd v3.7.3: the v3rpc keepalive stream,
// LeaseRenew on the leader and forwarded from a follower) over
// netsim.Network's peer transport. Unlike the idealised server, the cluster
// treats requests one by one (queues, connection pools), so every client is
// simulated on its own.
func RunCluster(c spec.Cluster, opts Options, trace io.Writer) (recorder.Outcome, error) {
	return runCluster(context.Background(), c, opts, trace)
}

func runCluster(ctx context.Context, c spec.Cluster, opts Options, trace io.Writer) (recorder.Outcome, error) {
	m, err := StartCluster(c, opts, trace)
	if err != nil {
		return recorder.Outcome{}, err
	}
	if err := runTo(ctx, m.k, sim.Time(c.Duration), m.handle); err != nil {
		return recorder.Outcome{}, err
	}
	return m.Finish()
}

// StartCluster builds the simulation of c at time 0. With opts.Deferred set,
// no client calls KeepAlive until AddClient.
func StartCluster(c spec.Cluster, opts Options, trace io.Writer) (*Sim, error) {
	c.Assert()
	s := &Sim{cfg: c, opts: opts, leader: c.Leader}
	s.clientRoute.s = s
	s.k = sim.New[event]()
	s.k.SetTouch(s.touch)
	if c.MaxEvents > 0 {
		s.k.SetLimits(c.MaxEvents, 0)
	}
	procs := c.Processes()
	n := c.Leases() // lease entries: one per process unless clients.leases_per_client
	if opts.Deferred && c.ProcessPath() {
		return nil, fmt.Errorf("scenario: deferred clients hold one lease each, never re-granted (clients.leases_per_client %d, clients.regrant.max %d)", c.LeasesPerClient, c.Regrant.Max)
	}
	s.rec = recorder.New(c.Bucket, c.Duration, n, trace)
	s.ledger = recorder.NewLedger(n, opts.History, opts.RecordRTT)
	s.ser = recorder.NewClusterSeries(c.Bucket, c.Duration, c.Members)
	s.ser.SetCohort(max(c.Cohort, 1))
	s.members, s.lessor = c.Servers(opts.Mutant)
	s.events = c.EventWriters()
	s.ser.Track(recorder.Tracks{ReadIndex: c.Etcd.RenewReadsIndex(), RevokeStalls: s.events != nil, Leases: n > c.Clients || c.Once})
	if c.Once {
		s.once = onceclient.NewLoops(n, onceclient.Config{Period: c.Period, ConnectDelay: c.ConnectDelay})
	}
	s.net = netsim.NewNetwork(c.Network(), sim.NewRand(c.Seed, "peer-jitter"))

	// Clients: start times, members.
	if c.ProcessPath() { // its processes are not Clients (multilease.go)
		s.startProcesses(procs)
		procs = nil
	}
	s.clients = make([]clusterClient, len(procs))
	for i, p := range procs {
		var like *clientmodel.Client // clients of one configuration share it
		if i > 0 {
			like = &s.clients[i-1].client
		}
		s.clients[i] = clusterClient{client: *clientmodel.NewLike(c.Client(p.Start), like), member: int32(p.Member), slot: s.members[p.Member].AddClient(i)}
		s.net.AddSlot(p.Member)
		if !opts.Deferred && s.events == nil && p.Start >= 0 { // an event writer holds no lease of its own
			s.k.Schedule(p.Start, clientEvent(int32(i), clientmodel.Input{Kind: clientmodel.InKeepAlive}))
		}
		if p.Exit >= 0 {
			s.k.Schedule(p.Exit, event{to: toExit, index: int32(i)})
		}
	}
	s.k.Schedule(sim.Time(model.RevokeInterval), event{to: toRevoke})
	for i, f := range c.Faults {
		s.k.Schedule(sim.Time(f.At), event{to: toFault, index: int32(i)})
	}
	s.k.Schedule(sim.Time(c.Bucket)-1, event{to: toSample})
	s.startRaft()
	s.stalls = platformStalls(c.PlatformStalls, c.Seed, c.Duration)
	for i, st := range s.stalls {
		s.k.Schedule(st.from, event{to: toPlatformStall, index: int32(i)})
	}
	if c.Prober {
		s.proberPhases = proberPhases(c)
		for _, o := range s.net.StartProber(s.proberPhases, nil) {
			s.k.Schedule(o.At, netEvent(o.Msg))
		}
	}
	return s, nil
}

// proberPhases: when each member's prober first ticks. Members started
// together (spec.ProberTogether) all started at time 0, so their first probes
// come one ProberInterval later; members started together in one process
// (spec.ProberSkewed) start one after another over a start skew drawn from
// stream "prober-phase" among spec.ProberStartSkews, spread evenly over it
// in member order; otherwise a member started at an unrelated time, and its
// phase is a uniform draw over (0, ProberInterval] from stream
// "prober-phase".
func proberPhases(c spec.Cluster) []sim.Time {
	phases := make([]sim.Time, c.Members)
	r := sim.NewRand(c.Seed, "prober-phase")
	var skew sim.Time
	if c.ProberPhase == spec.ProberSkewed {
		skew = sim.Time(spec.ProberStartSkews[r.IntN(len(spec.ProberStartSkews))])
	}
	for i := range phases {
		phases[i] = sim.Time(netsim.ProberInterval)
		switch c.ProberPhase {
		case spec.ProberSkewed:
			phases[i] += skew * sim.Time(i) / sim.Time(max(c.Members-1, 1))
		case spec.ProberTogether:
		default: // spec.ProberRandom
			phases[i] -= sim.Time(r.Int64N(int64(netsim.ProberInterval)))
		}
	}
	return phases
}

// Now is the simulation's virtual time.
func (s *Sim) Now() time.Duration { return time.Duration(s.k.Now()) }

// Advance runs the simulation for d more virtual time (not past the duration).
func (s *Sim) Advance(d time.Duration) error {
	return runTo(context.Background(), s.k, min(s.k.Now()+sim.Time(d), sim.Time(s.cfg.Duration)), s.handle)
}

// ClientInput hands client i the input in now: KeepAlive (a Deferred
// scenario's client starts), Cancel, or a new Consumer (Drain or Never).
func (s *Sim) ClientInput(i int, in clientmodel.Input) {
	s.k.Schedule(s.k.Now(), clientEvent(int32(i), in))
}

// LeaderChange starts an election now that makes member to the leader after election.
func (s *Sim) LeaderChange(to int, election time.Duration) {
	s.leaderChange(s.k.Now(), to, election)
}

// Partition cuts member off from the others for d from now.
func (s *Sim) Partition(member int, d time.Duration) {
	now := s.k.Now()
	s.stepNet(now, netsim.Input{Kind: netsim.InPartition, From: int8(member), Until: now + sim.Time(d)})
}

// Leader is the current leader, or -1 during an election.
func (s *Sim) Leader() int { return s.leader }

// ProberTicks are the times member m's prober ticks (probes every peer)
// before until: from its phase, every netsim.ProberInterval; nil without
// cluster.prober.
func (s *Sim) ProberTicks(m int, until time.Duration) []time.Duration {
	if s.proberPhases == nil {
		return nil
	}
	var ticks []time.Duration
	for t := time.Duration(s.proberPhases[m]); t < until; t += netsim.ProberInterval {
		ticks = append(ticks, t)
	}
	return ticks
}

// GCMarks are the spans of every GC cycle of member m's process (with
// cluster.shared_cpu, the one process every member runs in), or nil
// without cluster.gc.
func (s *Sim) GCMarks(m int) []model.Span {
	if gc := s.members[m].CPU().GC(); gc != nil {
		return gc.Marks()
	}
	return nil
}

// GCMarkCores is the cores member m's process's GC cycles marked on, on
// average over the run: their marking work (core time) over their marks'
// wall time, pauses excluded; 0 without cluster.gc or a cycle.
func (s *Sim) GCMarkCores(m int) float64 {
	gc := s.members[m].CPU().GC()
	if gc == nil || gc.Cycles() == 0 {
		return 0
	}
	var wall sim.Time
	for _, sp := range gc.Marks() {
		wall += sp.To - sp.From
	}
	wall -= sim.Time(gc.Pauses())
	if wall <= 0 {
		return 0
	}
	return float64(gc.Work()) / float64(wall)
}

// Read reads client i's lease now as a checker client would and records the
// operation for the History: recorder.OpGet (its key), OpTimeToLive, or
// OpRevoke (the client revokes it). found: the key or the lease was there.
func (s *Sim) Read(i int, kind recorder.OpKind) (found bool, ttl int64) {
	switch kind {
	case recorder.OpGet:
		found = s.lessor.KeysPresent(i)
	case recorder.OpTimeToLive:
		ttl, found = s.lessor.TimeToLive(s.k.Now(), i)
	case recorder.OpRevoke:
		found = s.lessor.Revoke(s.k.Now(), i, int(s.cohort())).N > 0
	}
	s.ledger.Read(s.k.Now(), i, kind, found, ttl)
	return found, ttl
}

// InFlight is the number of client i's keepalives sent and not answered
// yet (with Options.History or RecordRTT; else 0).
func (s *Sim) InFlight(i int) int { return s.ledger.InFlight(i) }

// Active reports whether client i's keepalive still runs.
func (s *Sim) Active(i int) bool {
	if s.multi != nil { // i is a lease entry
		p, n := s.cfg.ProcessOf(int32(i))
		return int(n) <= s.multi.procs[p].Leases() && s.multi.procs[p].Lease(int(n)).Active()
	}
	return s.clients[i].client.Active()
}

// CheckInvariants checks the components' bookkeeping: no count of
// connections, sockets, queued work or buffered responses is negative or over
// its bound.
func (s *Sim) CheckInvariants() error {
	for _, mb := range s.members {
		if err := mb.CheckInvariants(); err != nil {
			return err
		}
	}
	if s.multi != nil {
		if err := s.processInvariants(); err != nil {
			return err
		}
		return s.net.CheckInvariants()
	}
	for i := range s.clients {
		if err := s.clients[i].client.CheckInvariants(); err != nil {
			return fmt.Errorf("client %d: %w", i, err)
		}
	}
	return s.net.CheckInvariants()
}

// Finish ends the run and reports it.
func (s *Sim) Finish() (recorder.Outcome, error) {
	if err := s.rec.Flush(); err != nil {
		return recorder.Outcome{}, fmt.Errorf("trace: %w", err)
	}
	res := recorder.Outcome{Summary: s.rec.Summary(uint64(s.cfg.KeysPerLease)), Events: s.k.Steps(), Cohorts: s.cfg.Clients}
	s.ser.Finish(s.members, s.ledger, &res)
	return res, nil
}

// clientOneWay is the client link's one-way delay.
func (s *Sim) clientOneWay() sim.Time { return sim.Time(s.cfg.ClientRTT / 2) }

// platformStall stops the members' one process for stall i
// (cluster.platform_stalls): its CPU, so every member's work waits behind
// it, and with cluster.raft every member's raft goroutine.
func (s *Sim) platformStall(now sim.Time, i int) {
	st := s.stalls[i]
	s.members[0].CPU().Stall(now, time.Duration(st.to-st.from))
	if s.cfg.Raft {
		for m := range s.members {
			s.stepRaft(now, model.RaftInput{Kind: model.InRaftStall, Member: int8(m), Until: st.to})
		}
	}
}

// stall is one platform stall, [from, to).
type stall struct{ from, to sim.Time }

// platformStalls draws the run's stalls from stream "platform-stalls":
// Poisson starts at p.PerS a second, lengths p.LengthAt a uniform draw;
// stalls that meet are one.
func platformStalls(p *spec.PlatformStalls, seed uint64, until time.Duration) []stall {
	if p == nil || p.PerS <= 0 {
		return nil
	}
	r := sim.NewRand(seed, "platform-stalls")
	var out []stall
	for t := sim.Time(0); ; {
		t += sim.Time(r.ExpFloat64() / p.PerS * float64(time.Second))
		if t >= sim.Time(until) {
			return out
		}
		end := t + sim.Time(p.LengthAt(r.Float64()))
		if n := len(out); n > 0 && t <= out[n-1].to {
			out[n-1].to = max(out[n-1].to, end)
			continue
		}
		out = append(out, stall{t, end})
	}
}

// record records one fact about client c's lease.
// record records one fact about client c's lease: one for each client of
// its cohort (spec.Cluster.Cohort).
func (s *Sim) record(now sim.Time, k recorder.Kind, c int32, reason string) {
	s.rec.Record(now, k, int(c), int64(c)+1, s.cohort(), reason)
}

// cohort is how many clients each simulated client stands for (1 in the exact mode).
func (s *Sim) cohort() uint64 { return uint64(max(s.cfg.Cohort, 1)) }

// touch reads what the handler of e reads first (sim.Kernel.SetTouch):
// a client's state, or a member's stream and lease, or a forward's.
func (s *Sim) touch(e *event) byte {
	switch e.to {
	case toClient:
		if uint(e.index) < uint(len(s.clients)) {
			cl := &s.clients[e.index]
			return byte(cl.member) + cl.client.Touch()
		}
	case toMember:
		if uint(e.index) < uint(len(s.members)) {
			return s.members[e.index].TouchStream(int32(e.msg.A), int32(e.msg.B))
		}
	case toNetwork:
		return s.net.Touch(e.msg.From, int32(e.msg.A))
	}
	return 0
}

func (s *Sim) handle(now sim.Time, e *event) {
	switch e.to {
	case toClient:
		s.clientInput(now, e.index, clientmodel.Unpack(&e.msg))
	case toMember:
		s.stepMember(now, int(e.index), model.Unpack(&e.msg))
	case toNetwork:
		s.stepNet(now, netsim.Unpack(&e.msg))
	case toRevoke:
		if s.leader >= 0 {
			s.stepMember(now, s.leader, model.Input{Kind: model.InRevokeTick, Until: s.revokeRaftWait(now)})
		}
		if s.events != nil && s.leader >= 0 { // writes wait for a leader
			revoked, stall := s.events.Step(now, s.members, s.eventRevoked[:0])
			s.ser.EventRevokes(now, revoked, stall)
			s.eventRevoked = revoked
		}
		s.k.Schedule(now+sim.Time(model.RevokeInterval), event{to: toRevoke})
	case toFault:
		s.fault(now, int(e.index))
	case toPlatformStall:
		s.platformStall(now, int(e.index))
	case toElected: // a scripted election's end; the raft follows its winner
		s.stepRaft(now, model.RaftInput{Kind: model.InRaftForce, Member: int8(e.index)})
		s.elected(now, int(e.index))
	case toSample:
		s.sample(now)
	case toExit:
		s.exit(now, e.index)
	case toProcess:
		s.processInput(now, e.index, clientmodel.Unpack(&e.msg))
	case toClientRevoke: // a graceful exit's LeaseRevoke, committed
		r := s.lessor.Revoke(now, int(e.index), int(s.cohort()))
		s.ser.ClientRevoked(now, r.N)
		s.ledger.Read(now, int(e.index), recorder.OpRevoke, r.N > 0, 0)
	case toRaft:
		s.stepRaft(now, model.UnpackRaft(&e.msg))
	}
}

// clientInput steps client c and routes its outputs.
func (s *Sim) clientInput(now sim.Time, c int32, in clientmodel.Input) {
	cl := &s.clients[c]
	if cl.exited {
		return
	}
	if in.Kind == clientmodel.InKeepAlive {
		// The agent grants its lease and calls KeepAlive (KeepAliveOnce) at once.
		s.lessor.Grant(now, int(c), int(s.cohort()), s.cfg.TTL)
		s.ledger.Grant(now, int(c), s.cfg.TTL)
		s.ser.Granted(now)
		if s.cfg.GrantOnly {
			return // its process never calls KeepAlive
		}
	}
	if in.Kind == clientmodel.InResponse {
		s.record(now, recorder.Response, c, "")
		s.ledger.Answered(now, int(c), in.TTL, int(cl.member) == s.leader)
	}
	cl.timers.CatchUp(&cl.client, s.k)
	if s.once != nil { // speaks clientmodel's inputs and outputs; its clientmodel.Client idles
		s.clientOut = s.once[c].StepKeepAlive(now, in, s.clientOut[:0])
	} else {
		s.clientOut = cl.client.Step(now, in, s.clientOut[:0])
	}
	s.clientRoute.c = c
	clientmodel.Route(now, s.clientOut, &s.clientRoute)
	cl.timers.Settle(&cl.client, s.k)
}

// clusterClientRoute takes one client's outputs (clientmodel.Route): its
// stream opens on its member, its requests travel the client link to it.
type clusterClientRoute struct {
	s *Sim
	c int32
}

func (r *clusterClientRoute) OpenStream(now sim.Time, gen uint32) {
	s, cl := r.s, &r.s.clients[r.c]
	s.ledger.StreamOpened(int(r.c))
	s.stepMember(now, int(cl.member), model.Input{Kind: model.InStreamOpen, Slot: cl.slot, Client: r.c, Gen: gen})
}

func (r *clusterClientRoute) Send(now sim.Time, gen uint32) {
	s, c, cl := r.s, r.c, &r.s.clients[r.c]
	s.record(now, recorder.Request, c, "")
	s.ledger.Sent(now, int(c))
	s.k.Schedule(now+s.clientOneWay(), memberEvent(cl.member, model.Input{Kind: model.InRecv, Slot: cl.slot, Client: c, Gen: gen}))
}

func (r *clusterClientRoute) Wake(at sim.Time, in clientmodel.Input) {
	if in.Timer < clientmodel.MovableTimers && r.s.cfg.Consumer.Kind != clientmodel.Never { // see clientmodel.LazyTimers
		r.s.clients[r.c].timers.Armed(in.Timer, r.s.k.ScheduleRef(at, clientEvent(r.c, in)), r.s.k)
		return
	}
	r.s.k.Schedule(at, clientEvent(r.c, in))
}

func (r *clusterClientRoute) Report(now sim.Time, o clientmodel.Output) {
	kind, reason := recorder.ClientFact(o)
	r.s.record(now, kind, r.c, reason)
}

// stepMember steps member m and routes its outputs.
func (s *Sim) stepMember(now sim.Time, m int, in model.Input) {
	out := s.members[m].Step(now, in, s.memberOut.Push())
	for i := range out {
		s.memberOutput(now, m, &out[i])
	}
	s.memberOut.Pop(out)
}

func (s *Sim) memberOutput(now sim.Time, m int, o *model.Output) {
	switch o.Kind {
	case model.OutRespond:
		if s.multi != nil {
			s.processAnswer(now, o)
			return
		}
		s.k.Schedule(now+s.clientOneWay(), clientEvent(o.Client, clientmodel.Input{Kind: clientmodel.InResponse, Gen: o.Gen, TTL: o.TTL}))
	case model.OutStreamError:
		if s.multi != nil {
			s.processAnswer(now, o)
			return
		}
		s.k.Schedule(now+s.clientOneWay(), clientEvent(o.Client, clientmodel.Input{Kind: clientmodel.InStreamError, Gen: o.Gen}))
	case model.OutWake:
		s.k.Schedule(o.At, memberEvent(int32(m), o.WakeInput()))
	case model.OutForward:
		s.stepNet(now, netsim.Input{Kind: netsim.InForward, From: int8(m), To: o.To, Slot: o.Slot, Client: o.Client, Attempt: o.Attempt})
	case model.OutCancel:
		s.stepNet(now, netsim.Input{Kind: netsim.InCancel, From: int8(m), Slot: o.Slot, Attempt: o.Attempt})
	case model.OutAbandon:
		s.stepNet(now, netsim.Input{Kind: netsim.InAbandon, From: int8(m), Slot: o.Slot})
	case model.OutReply:
		s.stepNet(now, netsim.Input{Kind: netsim.InReply, From: o.To, To: int8(m), Slot: o.Slot, Client: o.Client,
			Attempt: o.Attempt, TTL: o.TTL, ErrStatus: o.ErrStatus})
	case model.OutShed:
		s.stepNet(now, netsim.Input{Kind: netsim.InShed, From: o.To, To: int8(m), Slot: o.Slot, Client: o.Client, Attempt: o.Attempt})
	case model.OutFact:
		s.memberFact(now, m, o)
	case model.OutHostDone:
		msg := s.hostThen[o.Client]
		s.hostFree = append(s.hostFree, o.Client)
		s.stepNet(now, msg)
	}
}

func (s *Sim) memberFact(now sim.Time, m int, o *model.Output) {
	s.ser.MemberFact(now, m, o)
	switch o.Fact {
	case model.FactRenewed:
		s.record(now, recorder.Renewal, o.Client, "")
	case model.FactReadIndex:
		model.ReadIndexBeat(now, s.members, m)
	case model.FactExpired:
		s.ledger.Expired(now, int(o.Client))
		s.rec.Record(now, recorder.Expired, int(o.Client), int64(o.Client)+1, uint64(o.N), "")
		if s.cfg.Regrant.Max > 0 && !s.lessor.Alive(int(o.Client)) {
			// A fast run's cohort entry may be revoked in parts (a pass's
			// budget runs out inside it): its agents re-grant once it is gone.
			s.regrant(now, o.Client)
		}
	}
}

// stepNet steps the peer network and routes its outputs.
func (s *Sim) stepNet(now sim.Time, in netsim.Input) {
	out := s.net.Step(now, in, s.netOut.Push())
	for i := range out {
		s.netOutput(now, &out[i])
	}
	s.netOut.Pop(out)
}

func (s *Sim) netOutput(now sim.Time, o *netsim.Output) {
	switch o.Kind {
	case netsim.OutDeliver:
		s.k.Schedule(o.At, netEvent(o.Msg))
	case netsim.OutRequest:
		s.stepMember(now, int(o.To), model.Input{Kind: model.InForwardRequest, From: o.From, Slot: o.Slot, Client: o.Client, Attempt: o.Attempt})
	case netsim.OutResult:
		s.stepMember(now, int(o.From), model.Input{Kind: model.InForwardResult, Slot: o.Slot, Attempt: o.Attempt, Err: o.Err, TTL: o.TTL})
	case netsim.OutCPU:
		if s.cfg.ProcessorSharing {
			s.hostWork(now, o)
			return
		}
		cpu := s.members[o.Member].CPU()
		done := cpu.Force(o.At, o.Work, int(o.N), o.Bytes)
		if o.Handshake {
			cpu.Allocate(o.At, int64(o.N)*cpu.HandshakeExtra())
		}
		if o.HasThen {
			s.k.Schedule(done, netEvent(o.Msg))
		}
	case netsim.OutCPURelease:
		s.members[o.Member].CPU().Done(int(o.N), o.Bytes)
	case netsim.OutFact:
		s.ser.NetFact(now, o.Fact, o.N)
	}
}

// hostWork charges the network's CPU work o (at now) to its member's
// processor-shared CPU; the message to deliver after it waits in hostThen.
func (s *Sim) hostWork(now sim.Time, o *netsim.Output) {
	tag := model.NoTag
	if o.HasThen {
		if n := len(s.hostFree); n > 0 {
			tag = s.hostFree[n-1]
			s.hostFree = s.hostFree[:n-1]
			s.hostThen[tag] = o.Msg
		} else {
			tag = int32(len(s.hostThen))
			s.hostThen = append(s.hostThen, o.Msg)
		}
	}
	m := int(o.Member)
	out := s.members[m].HostWork(now, o.Work, int(o.N), o.Bytes, tag, s.memberOut.Push())
	if o.Handshake {
		cpu := s.members[m].CPU()
		cpu.Allocate(now, int64(o.N)*cpu.HandshakeExtra())
	}
	for i := range out {
		s.memberOutput(now, m, &out[i])
	}
	s.memberOut.Pop(out)
}

// ---- faults, elections, sampling ----

func (s *Sim) fault(now sim.Time, i int) {
	f := s.cfg.Faults[i]
	switch f.Kind {
	case spec.FaultLeaderStall:
		if s.leader >= 0 {
			s.members[s.leader].CPU().Stall(now, f.Duration)
			// The whole process stalls: its raft goroutine too.
			s.stepRaft(now, model.RaftInput{Kind: model.InRaftStall, Member: int8(s.leader), Until: now + sim.Time(f.Duration)})
		}
	case spec.FaultApplyStall:
		if s.leader >= 0 {
			s.stepMember(now, s.leader, model.Input{Kind: model.InApplyStall, Until: now + sim.Time(f.Duration)})
		}
	case spec.FaultFsyncStall: // the raft loop only: deposed by raft, its lessor lags (model.Member)
		if s.leader >= 0 {
			s.stepMember(now, s.leader, model.Input{Kind: model.InFsyncStall, Until: now + sim.Time(f.Duration)})
			s.stepRaft(now, model.RaftInput{Kind: model.InRaftStall, Member: int8(s.leader), Until: now + sim.Time(f.Duration)})
		}
	case spec.FaultPartition:
		s.stepNet(now, netsim.Input{Kind: netsim.InPartition, From: int8(f.Member), Until: now + sim.Time(f.Duration)})
	case spec.FaultLeaderChange:
		s.leaderChange(now, f.To, f.Duration)
	}
}

// exit: client c's process exits (spec.RestartSpec): its member's stream
// ends, what it had in flight is lost (gen 0: no stream), nothing reaches it
// any more; a graceful exit's LeaseRevoke reaches the member in a one-way and
// is committed a peer round trip later (as MemberConfig.RevokeCommit).
func (s *Sim) exit(now sim.Time, c int32) {
	cl := &s.clients[c]
	cl.exited = true
	s.stepMember(now, int(cl.member), model.Input{Kind: model.InStreamOpen, Slot: cl.slot, Client: c})
	if s.cfg.Restart.Graceful {
		s.k.Schedule(now+s.clientOneWay()+sim.Time(s.cfg.PeerRTT), event{to: toClientRevoke, index: c})
	}
}

// leaderChange: the leader steps down now; member to wins the election after
// election (a scripted fault; with cluster.raft the raft holds its own
// elections meanwhile).
func (s *Sim) leaderChange(now sim.Time, to int, election time.Duration) {
	s.stepRaft(now, model.RaftInput{Kind: model.InRaftScripted})
	s.leaderLost(now)
	s.k.Schedule(now+sim.Time(election), event{to: toElected, index: int32(to)})
}

// leaderLost: the leader is gone now (a scripted fault, or the raft's
// CheckQuorum or a won vote): an election begins.
func (s *Sim) leaderLost(now sim.Time) {
	s.leader = -1
	for m := range s.members {
		s.stepMember(now, m, model.Input{Kind: model.InLeaderLost})
	}
}

func (s *Sim) elected(now sim.Time, to int) {
	s.ser.Elected(now)
	s.leader = to
	for m := range s.members {
		s.stepMember(now, m, model.Input{Kind: model.InElected, From: int8(to)})
	}
}

func (s *Sim) sample(now sim.Time) {
	for _, mb := range s.members {
		mb.CPU().Sync(now) // a processor-shared CPU credits its utilisation as it runs
	}
	f := recorder.Footprint{LeaderID: s.leader, QueuedRequestBytes: s.cfg.Costs.QueuedRequestBytes, ConnBytes: s.cfg.Costs.PeerConnBytes,
		RevokesPending: s.lessor.Backlog() + s.lessor.Revoking() + s.events.Backlog(now), LeasesLive: s.lessor.Live()}
	t := s.net.Totals(now)
	leaderConns := s.ser.Sample(now, t, s.members, f)
	model.HoldHeap(s.members, s.leader, leaderConns, f.QueuedRequestBytes, f.ConnBytes) // for the GC model
	s.k.Schedule(now+sim.Time(s.cfg.Bucket), event{to: toSample})
}
