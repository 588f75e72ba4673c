package scenario

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/leasesim/leasesim/clientmodel"
	"github.com/leasesim/leasesim/model"
	"github.com/leasesim/leasesim/netsim"
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
	// Deferred: no client calls KeepAlive until Sim.AddClient (stateful tests).
	Deferred bool
	// RecordRTT keeps every answered keepalive's send time and round trip
	// (ClusterResult.RTTs), for comparison with a real cluster's (leasesim
	// calibrate). Off by default: it costs memory per request.
	RecordRTT bool
}

// ClusterResult is what a cluster run produced.
type ClusterResult struct {
	Summary recorder.Summary
	Metrics []recorder.Metric
	Events  uint64
	// Peak and final values of the headline gauges, for reports and tests.
	Peaks  map[recorder.MetricName]float64
	Finals map[recorder.MetricName]float64
	// RTTs (with Options.RecordRTT): per answered keepalive, its send time
	// and its round trip as the client saw them, in ns, split by whether the
	// client's member was the leader when the answer came.
	RTTs struct{ Direct, Forwarded [][2]int64 }
	// Sends (with Options.RecordRTT): every keepalive each client sent, in ns.
	Sends [][]int64
}

// clusterClient is one client process and where it is served.
type clusterClient struct {
	client clientmodel.Client // inline: the hot loop walks clients, keep them near
	member int32
	slot   int32 // its stream's slot on its member
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
	ser     *recorder.Series
	clients []clusterClient
	members []*model.Member
	net     *netsim.Network
	lessor  *model.Lessor
	leader  int              // -1 during an election
	ledger  *recorder.Ledger // with opts.History or opts.RecordRTT

	// Output buffers, one per depth of the (depth-first) routing of outputs.
	clientOut             []clientmodel.Output
	clientRoute           clusterClientRoute
	memberOut             [][]model.Output
	netOut                [][]netsim.Output
	memberDepth, netDepth int

	series seriesHandles
}

// seriesHandles are the recorder series the wiring writes.
type seriesHandles struct {
	renewals, forwarded, newConns, handshakes, handshakeTimeouts, dialErrors   int
	streamErrors, shed, queueRequests, queueBytes, established, timeWaitLeader int
	timeWaitFollowers, closeWait, idle, busy, waiting, keysLost, probes        int
	revokesPending, revokeLag, promote                                         int
	received                                                                   []int
}

// RunCluster simulates the cluster scenario c, which spec.Spec.Resolve made
// (and so validated); trace, if not nil, receives the JSON-lines trace. The
// data path is model.Member's (after etcd v3.7.3: the v3rpc keepalive stream,
// LeaseRenew on the leader and forwarded from a follower) over
// netsim.Network's peer transport. Unlike the idealised server, the cluster
// treats requests one by one (queues, connection pools), so every client is
// simulated on its own.
func RunCluster(c spec.Cluster, opts Options, trace io.Writer) (ClusterResult, error) {
	m, err := StartCluster(c, opts, trace)
	if err != nil {
		return ClusterResult{}, err
	}
	if err := m.Advance(c.Duration); err != nil {
		return ClusterResult{}, err
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
	if c.MaxEvents > 0 {
		s.k.SetLimits(c.MaxEvents, 0)
	}
	s.rec = recorder.New(c.Bucket, c.Duration, c.Clients, trace)
	s.ledger = recorder.NewLedger(c.Clients, opts.History, opts.RecordRTT)
	s.ser = recorder.NewSeries(c.Bucket, c.Duration)
	s.setupSeries()
	lessor := c.Lessor()
	lessor.Mutant = opts.Mutant
	s.lessor = model.NewLessor(c.Clients, lessor)

	var shared *model.CPU
	if c.SharedCPU {
		shared = model.NewCPU(c.CPU(-1))
	}
	for m := 0; m < c.Members; m++ {
		cpu := shared
		if cpu == nil {
			cpu = model.NewCPU(c.CPU(m))
		}
		s.members = append(s.members, model.NewMember(c.Member(m, opts.Mutant), cpu, s.lessor, c.Leader))
	}
	s.net = netsim.NewNetwork(c.Network(), sim.NewRand(c.Seed, "peer-jitter"))

	// Clients: start times, members.
	starts := spec.StartTimes(c.Seed, c.Clients, c.StartSpread)
	s.clients = make([]clusterClient, c.Clients)
	for i := range s.clients {
		m := c.MemberOf(i)
		s.clients[i] = clusterClient{client: *clientmodel.New(c.Client(starts[i])), member: int32(m), slot: s.members[m].AddClient(i)}
		s.net.AddSlot(m)
		if !opts.Deferred {
			s.k.Schedule(starts[i], clientEvent(int32(i), clientmodel.Input{Kind: clientmodel.InKeepAlive}))
		}
	}
	s.k.Schedule(sim.Time(model.RevokeInterval), event{to: toRevoke})
	for i, f := range c.Faults {
		s.k.Schedule(sim.Time(f.At), event{to: toFault, index: int32(i)})
	}
	s.k.Schedule(sim.Time(c.Bucket)-1, event{to: toSample})
	if c.Prober && c.TLS != "off" {
		for _, o := range s.net.StartProber(nil) {
			s.k.Schedule(o.At, netEvent(o.Msg))
		}
	}
	return s, nil
}

// Now is the simulation's virtual time.
func (s *Sim) Now() time.Duration { return time.Duration(s.k.Now()) }

// Advance runs the simulation for d more virtual time (not past the duration).
func (s *Sim) Advance(d time.Duration) error {
	return runInSeconds(context.Background(), s.k, min(s.k.Now()+sim.Time(d), sim.Time(s.cfg.Duration)), s.handle)
}

// AddClient makes client i call KeepAlive now (Deferred scenarios).
func (s *Sim) AddClient(i int) { s.clientNow(i, clientmodel.Input{Kind: clientmodel.InKeepAlive}) }

// CancelClient cancels client i's KeepAlive context now: it stops renewing.
func (s *Sim) CancelClient(i int) { s.clientNow(i, clientmodel.Input{Kind: clientmodel.InCancel}) }

// SetReading makes client i's application read its channel (drain) or stop.
func (s *Sim) SetReading(i int, reading bool) {
	k := clientmodel.Never
	if reading {
		k = clientmodel.Drain
	}
	s.clientNow(i, clientmodel.Input{Kind: clientmodel.InConsumer, Consumer: k})
}

func (s *Sim) clientNow(i int, in clientmodel.Input) {
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

// LeaseAlive reports whether client i's lease still exists at the leader.
func (s *Sim) LeaseAlive(i int) bool { return s.lessor.Alive(i) }

// Active reports whether client i's keepalive still runs.
func (s *Sim) Active(i int) bool { return s.clients[i].client.Active() }

// CheckInvariants checks the components' bookkeeping: no count of
// connections, sockets, queued work or buffered responses is negative or over
// its bound.
func (s *Sim) CheckInvariants() error {
	for _, mb := range s.members {
		if err := mb.CheckInvariants(); err != nil {
			return err
		}
	}
	if err := s.net.CheckInvariants(); err != nil {
		return err
	}
	for i := range s.clients {
		if n := s.clients[i].client.Buffered(); n < 0 || n > clientmodel.ChannelCapacity {
			return fmt.Errorf("client %d: %d responses in its channel", i, n)
		}
	}
	return nil
}

// Finish ends the run and reports it.
func (s *Sim) Finish() (ClusterResult, error) {
	if err := s.rec.Flush(); err != nil {
		return ClusterResult{}, fmt.Errorf("trace: %w", err)
	}
	for a, mb := range s.members {
		s.ser.Put(recorder.CPUUtilisation(a), mb.CPU().Utilisation())
	}
	res := ClusterResult{Summary: s.rec.Summary(uint64(s.cfg.KeysPerLease)), Metrics: s.ser.Metrics(), Events: s.k.Steps()}
	if s.ledger != nil {
		res.RTTs, res.Sends = s.ledger.RTTs, s.ledger.Sends
	}
	res.Peaks, res.Finals = recorder.PeaksAndFinals(res.Metrics)
	return res, nil
}

func (s *Sim) setupSeries() {
	x, h := s.ser, &s.series
	h.renewals = x.Counter(recorder.RenewalsAtLeader)
	h.forwarded = x.Counter(recorder.ForwardedRenewals)
	h.newConns = x.Counter(recorder.NewPeerConnections)
	h.handshakes = x.Counter(recorder.TLSHandshakes)
	h.handshakeTimeouts = x.Counter(recorder.TLSHandshakeTimeouts)
	h.dialErrors = x.Counter(recorder.DialErrors)
	h.streamErrors = x.Counter(recorder.ClientStreamErrors)
	h.shed = x.Counter(recorder.ShedRequests)
	h.keysLost = x.Counter(recorder.KeysLost)
	h.probes = x.Counter(recorder.ProberConnections)
	h.queueRequests = x.Gauge(recorder.LeaderQueueRequests)
	h.queueBytes = x.Gauge(recorder.LeaderQueueBytes)
	h.established = x.Gauge(recorder.PeerEstablished)
	h.timeWaitLeader = x.Gauge(recorder.TimeWaitLeader)
	h.timeWaitFollowers = x.Gauge(recorder.TimeWaitFollowers)
	h.closeWait = x.Gauge(recorder.CloseWaitLeader)
	h.idle = x.Gauge(recorder.PeerIdleConnections)
	h.busy = x.Gauge(recorder.PeerBusyConnections)
	h.waiting = x.Gauge(recorder.ForwardsWaitingOnConn)
	h.revokesPending = x.Gauge(recorder.RevokesPending)
	h.revokeLag = x.Gauge(recorder.RevokeLagMax)
	h.promote = x.Gauge(recorder.PromoteTime)
	for m := 0; m < s.cfg.Members; m++ {
		h.received = append(h.received, x.Counter(recorder.KeepalivesReceived(m)))
	}
}

// clientOneWay is the client link's one-way delay.
func (s *Sim) clientOneWay() sim.Time { return sim.Time(s.cfg.ClientRTT / 2) }

// record records one fact about client c's lease.
func (s *Sim) record(now sim.Time, k recorder.Kind, c int32, reason string) {
	s.rec.Record(now, k, int(c), int64(c)+1, 1, reason)
}

func (s *Sim) handle(now sim.Time, e *event) {
	switch e.to {
	case toClient:
		s.clientInput(now, e.index, e.clientInput())
	case toMember:
		s.stepMember(now, int(e.index), e.memberInput())
	case toNetwork:
		s.stepNet(now, e.netInput())
	case toRevoke:
		if s.leader >= 0 {
			s.stepMember(now, s.leader, model.Input{Kind: model.InRevokeTick})
		}
		s.k.Schedule(now+sim.Time(model.RevokeInterval), event{to: toRevoke})
	case toFault:
		s.fault(now, int(e.index))
	case toElected:
		s.elected(now, int(e.index))
	case toSample:
		s.sample(now)
	}
}

// clientInput steps client c and routes its outputs.
func (s *Sim) clientInput(now sim.Time, c int32, in clientmodel.Input) {
	cl := &s.clients[c]
	if in.Kind == clientmodel.InKeepAlive {
		// The agent grants its lease and calls KeepAlive at once.
		s.lessor.Grant(now, int(c), 1, s.cfg.TTL)
		s.ledger.Grant(now, int(c), s.cfg.TTL)
		if s.cfg.GrantOnly {
			return // its process never calls KeepAlive
		}
	}
	if in.Kind == clientmodel.InResponse {
		s.record(now, recorder.Response, c, "")
		s.ledger.Answered(now, int(c), in.TTL, int(cl.member) == s.leader)
	}
	s.clientOut = cl.client.Step(now, in, s.clientOut[:0])
	s.clientRoute.c = c
	clientmodel.Route(now, s.clientOut, &s.clientRoute)
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
	r.s.k.Schedule(at, clientEvent(r.c, in))
}

func (r *clusterClientRoute) Report(now sim.Time, o clientmodel.Output) {
	kind, reason := recorder.ClientFact(o)
	r.s.record(now, kind, r.c, reason)
}

// stepMember steps member m and routes its outputs, depth first: an output
// that is another component's input is applied before the next output, as a
// function call would.
func (s *Sim) stepMember(now sim.Time, m int, in model.Input) {
	d := s.memberDepth
	if d == len(s.memberOut) {
		s.memberOut = append(s.memberOut, nil)
	}
	s.memberDepth++
	out := s.members[m].Step(now, in, s.memberOut[d][:0])
	s.memberOut[d] = out
	for i := range out {
		s.memberOutput(now, m, &out[i])
	}
	s.memberDepth--
}

func (s *Sim) memberOutput(now sim.Time, m int, o *model.Output) {
	switch o.Kind {
	case model.OutRespond:
		s.k.Schedule(now+s.clientOneWay(), clientEvent(o.Client, clientmodel.Input{Kind: clientmodel.InResponse, Gen: o.Gen, TTL: o.TTL}))
	case model.OutStreamError:
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
	}
}

func (s *Sim) memberFact(now sim.Time, m int, o *model.Output) {
	h := &s.series
	switch o.Fact {
	case model.FactReceived:
		s.ser.Add(h.received[m], now, 1)
	case model.FactRenewed:
		s.record(now, recorder.Renewal, o.Client, "")
		s.ser.Add(h.renewals, now, 1)
	case model.FactForwarded:
		s.ser.Add(h.forwarded, now, 1)
	case model.FactShed:
		s.ser.Add(h.shed, now, 1)
	case model.FactStreamError:
		s.ser.Add(h.streamErrors, now, 1)
	case model.FactExpired:
		s.ledger.Expired(now, int(o.Client))
		s.rec.Record(now, recorder.Expired, int(o.Client), int64(o.Client)+1, uint64(o.N), "")
		s.ser.Add(h.keysLost, now, float64(o.Keys))
		s.ser.Max(h.revokeLag, now, time.Duration(now-o.At).Seconds())
	case model.FactPromoted:
		s.ser.Max(h.promote, now, time.Duration(o.At-now).Seconds())
	}
}

// stepNet steps the peer network and routes its outputs, depth first.
func (s *Sim) stepNet(now sim.Time, in netsim.Input) {
	d := s.netDepth
	if d == len(s.netOut) {
		s.netOut = append(s.netOut, nil)
	}
	s.netDepth++
	out := s.net.Step(now, in, s.netOut[d][:0])
	s.netOut[d] = out
	for i := range out {
		s.netOutput(now, &out[i])
	}
	s.netDepth--
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
		done := s.members[o.Member].CPU().Force(o.At, o.Work, 1, o.Bytes)
		if o.HasThen {
			s.k.Schedule(done, netEvent(o.Msg))
		}
	case netsim.OutCPURelease:
		s.members[o.Member].CPU().Done(1, o.Bytes)
	case netsim.OutFact:
		h := &s.series
		handle := [...]int{netsim.FactNewConn: h.newConns, netsim.FactDialError: h.dialErrors, netsim.FactHandshake: h.handshakes,
			netsim.FactHandshakeTimeout: h.handshakeTimeouts, netsim.FactProbe: h.probes}[o.Fact]
		s.ser.Add(handle, now, 1)
	}
}

// ---- faults, elections, sampling ----

func (s *Sim) fault(now sim.Time, i int) {
	f := s.cfg.Faults[i]
	switch f.Kind {
	case spec.FaultLeaderStall:
		if s.leader >= 0 {
			s.members[s.leader].CPU().Stall(now, f.Duration)
		}
	case spec.FaultApplyStall:
		if s.leader >= 0 {
			s.stepMember(now, s.leader, model.Input{Kind: model.InApplyStall, Until: now + sim.Time(f.Duration)})
		}
	case spec.FaultPartition:
		s.stepNet(now, netsim.Input{Kind: netsim.InPartition, From: int8(f.Member), Until: now + sim.Time(f.Duration)})
	case spec.FaultLeaderChange:
		s.leaderChange(now, f.To, f.Duration)
	}
}

// leaderChange: the leader steps down now; member to wins the election after
// election. (Raft is not simulated: elections are scripted faults.)
func (s *Sim) leaderChange(now sim.Time, to int, election time.Duration) {
	s.leader = -1
	for m := range s.members {
		s.stepMember(now, m, model.Input{Kind: model.InLeaderLost})
	}
	s.k.Schedule(now+sim.Time(election), event{to: toElected, index: int32(to)})
}

func (s *Sim) elected(now sim.Time, to int) {
	s.leader = to
	for m := range s.members {
		s.stepMember(now, m, model.Input{Kind: model.InElected, From: int8(to)})
	}
}

func (s *Sim) sample(now sim.Time) {
	h := &s.series
	t := s.net.Totals(now)
	estab := t.Established
	if s.leader >= 0 {
		// rafthttp's own connections into the leader, open all the time.
		estab += netsim.RaftConnsPerPeer * (len(s.members) - 1)
		lm := s.members[s.leader]
		streamQueue := lm.Queued()
		queued := lm.CPU().Jobs() + streamQueue
		bytes := lm.CPU().Bytes() + int64(streamQueue)*int64(s.cfg.Costs.QueuedRequestBytes)
		bytes += int64(estab) * int64(s.cfg.Costs.PeerConnBytes)
		s.ser.Set(h.queueRequests, now, float64(queued))
		s.ser.Set(h.queueBytes, now, float64(bytes))
	}
	// The heap the GC model marks beside the CPUs' jobs: each member's
	// stream queues, and the leader's peer connections.
	for _, mb := range s.members {
		mb.CPU().HoldOutside(0)
	}
	for m, mb := range s.members {
		held := int64(mb.Queued()) * int64(s.cfg.Costs.QueuedRequestBytes)
		if m == s.leader {
			held += int64(estab) * int64(s.cfg.Costs.PeerConnBytes)
		}
		mb.CPU().HoldOutside(mb.CPU().Outside() + held)
	}
	s.ser.Set(h.established, now, float64(estab))
	s.ser.Set(h.timeWaitLeader, now, float64(t.TimeWaitServer))
	s.ser.Set(h.timeWaitFollowers, now, float64(t.TimeWaitClient))
	s.ser.Set(h.closeWait, now, float64(t.CloseWait))
	s.ser.Set(h.idle, now, float64(t.Idle))
	s.ser.Set(h.busy, now, float64(t.Busy))
	s.ser.Set(h.waiting, now, float64(t.Waiting))
	s.ser.Set(h.revokesPending, now, float64(s.lessor.Backlog()))
	s.k.Schedule(now+sim.Time(s.cfg.Bucket), event{to: toSample})
}
