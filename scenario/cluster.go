package scenario

import (
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

// event kinds of the cluster wiring.
const (
	kClient        uint8 = iota // input to client c
	kStreamArrive               // a keepalive of client c (stream a) reaches its member
	kLeaderDirect               // leader CPU done with client c's direct renewal (attempt a)
	kFollowerReady              // follower CPU done with client c's request: forward it (attempt a)
	kFwdArrive                  // client c's forwarded renewal (attempt a) reaches the leader
	kLeaderFwd                  // leader CPU done with it
	kFwdResp                    // the leader's answer reaches the follower (in.TTL; in.Gen=1: error)
	kFwdDeadline                // the oldest LeaseRenew deadline of member c is due
	kFwdRetry                   // the 50 ms retry sleep ends
	kDialTCP                    // dial a's ClientHello reaches the leader
	kDialServer                 // the leader finished dial a's TLS server work
	kDialFlight                 // the server flight of dial a reaches the follower
	kDialClient                 // the follower finished dial a's TLS client work
	kDialTimeout                // dial a's TLSHandshakeTimeout
	kIdleExpire                 // member c's idle connections to the leader: check expiry
	kRevoke                     // the leader lessor's 500 ms pass
	kFault                      // fault a starts
	kElected                    // the election ends: member a leads
	kSample                     // end of a metrics bucket
	kProbe                      // a prober connection between members c and a
	kDialLost                   // dial a, sent into a partition, times out
)

type cev struct {
	kind uint8
	f    uint8 // flags (kFwdResp: fErr, fClosed)
	c    int32
	a    uint32
	x    int64 // kind-specific: a member, a TTL, an instant
	in   clientmodel.Input
}

const (
	fErr    uint8 = 1 << iota // the forward failed (shed, ErrNotPrimary): retry
	fClosed                   // the leader closed the connection after answering
	fLost                     // kFwdArrive: delayed by a partition
)

func flagIf(b bool, f uint8) uint8 {
	if b {
		return f
	}
	return 0
}

// phases of a client's in-flight request on its member.
const (
	phIdle      uint8 = iota
	phCPU             // in the member's CPU queue
	phWaitConn        // waiting for a peer connection
	phWaitLead        // waiting for a leader (election)
	phAtLeader        // sent to the leader, no answer yet
	phRetrySlp        // sleeping 50 ms before retrying
	phLeaderCPU       // direct renewal in the leader's CPU
)

type cclient struct {
	client  clientmodel.Client // inline: the hot loop walks clients, keep them near
	member  int32
	start   sim.Time
	gen     uint32 // stream the member serves for this client; 0: none
	queue   int32  // requests waiting in the stream's receive buffer
	busy    bool
	phase   uint8
	attempt uint32 // LeaseRenew attempt; events with another value are stale
	via     int32  // member the in-flight forward went to (the leader then)
	// answered: the leader has run the in-flight forward's handler (its answer
	// is on the wire), so a cancel no longer leaves its socket in CLOSE-WAIT.
	answered bool
	lost     bool       // the in-flight forward was delayed by a partition
	arrived  bool       // the in-flight forward reached the leader
	cwCount  int32      // cancelled forwards whose leader socket sits in CLOSE-WAIT
	sent     []sim.Time // History: send times of keepalives not yet answered, oldest first
}

type dial struct {
	from, to   int32
	done, dead bool // finished; timed out
	serverDone bool
}

type member struct {
	cpu      *model.CPU
	pairs    []*netsim.Pair // by target member
	waitQ    [][]waiter     // by target member: forwards waiting for a connection
	idleAt   []sim.Time     // pending idle-expiry check per target, or -1
	waitLead []int32        // clients waiting for a leader
	// LeaseRenew deadlines of this member's forwards, in the order they
	// started (so in deadline order: ReqTimeout is the same for all). One kernel
	// event waits for the head; most entries are stale by then (answered).
	dlq   []deadline
	dlArm bool
}

type deadline struct {
	at      sim.Time
	c       int32
	attempt uint32
}

type waiter struct {
	c       int32
	attempt uint32
}

type clusterSim struct {
	cfg     spec.Cluster
	opts    Options
	k       *sim.Kernel[cev]
	rec     *recorder.Recorder
	ser     *recorder.Series
	clients []cclient
	members []member
	dials   []dial
	rtts    struct{ Direct, Forwarded [][2]int64 } // with opts.RecordRTT
	sends   [][]int64                              // with opts.RecordRTT, per client
	leader  int                                    // -1 during an election
	lessor  *model.Lessor
	jitter  *sim.Rand
	out     []clientmodel.Output
	revoked []model.Revoked
	reqTO   time.Duration
	tls     bool
	handsh  int // handshakes completed per pair for resumption
	peaks   map[recorder.MetricName]float64
	cutOff  []sim.Time // per member: partitioned from the others until then

	// series handles
	hRenewLeader, hFwdLeader, hNewConn, hHandshake, hHSTimeout, hDialErr    int
	hStreamErr, hShed, hQueueLeader, hQueueBytes, hEstab, hTWLeader         int
	hTWFollower, hCloseWait, hIdle, hBusyConn, hWaitConn, hKeysLost, hProbe int
	hMemberReq                                                              []int
}

// RunCluster simulates the cluster scenario c, which spec.Spec.Resolve made
// (and so validated); trace, if not nil, receives the JSON-lines trace.
//
// The data path it wires, after etcd v3.7.3 (server/v3):
//   - each client's keepalive stream lives on its member; the member handles it
//     one request at a time: Recv, LeaseRenew, Send (etcdserver/api/v3rpc/lease.go
//     leaseKeepAlive, :111-160); requests that arrive meanwhile wait in the
//     stream's receive buffer, unbounded (gRPC recvBuffer);
//   - LeaseRenew on the leader renews in its lessor (v3_server.go:496-531);
//   - on a follower it forwards with leasehttp.RenewHTTP, an HTTP/1.1 POST to
//     the leader's /leases over the peer round tripper, retrying every 50 ms
//     until ReqTimeout (v3_server.go:538-560); when that runs out LeaseRenew
//     fails, the stream handler returns the error and the client's stream breaks;
//   - the leader's lessor expires leases and revokes at most 500 per 500 ms.
//
// Unlike the idealised server, the cluster treats requests one by one (queues,
// connection pools), so every client is simulated on its own.
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

// Sim is a cluster simulation driven step by step: a stateful test's actions
// (add and cancel clients, stop and resume reading, change the leader,
// partition a member) interleave with Advance. RunCluster is StartCluster, Advance to the
// duration, Finish.
type Sim struct{ s *clusterSim }

// StartCluster builds the simulation of c at time 0. With opts.Deferred set,
// no client calls KeepAlive until AddClient.
func StartCluster(c spec.Cluster, opts Options, trace io.Writer) (*Sim, error) {
	assertCluster(c)
	s := &clusterSim{cfg: c, opts: opts, leader: c.Leader, peaks: map[recorder.MetricName]float64{}}
	s.k = sim.New[cev]()
	if c.MaxEvents > 0 {
		s.k.SetLimits(c.MaxEvents, 0)
	}
	s.rec = recorder.New(c.Bucket, c.Duration, c.Clients, trace)
	s.ser = recorder.NewSeries(c.Bucket, c.Duration)
	s.jitter = sim.NewRand(c.Seed, "peer-jitter")
	s.lessor = model.NewLessor(c.Clients, c.KeysPerLease)
	s.reqTO = model.ReqTimeout(c.ElectionTimeout)
	s.tls = c.TLS != "off"
	s.setupSeries()

	s.members = make([]member, c.Members)
	s.cutOff = make([]sim.Time, c.Members)
	var shared *model.CPU
	if c.SharedCPU {
		shared = model.NewCPU(c.Cores, 0, c.Bucket, c.Duration)
		shared.Idle = c.Costs.IdleCores * float64(c.Members)
	}
	for m := range s.members {
		mb := &s.members[m]
		if shared != nil {
			mb.cpu = shared
		} else {
			mb.cpu = model.NewCPU(c.Cores, 0, c.Bucket, c.Duration)
			mb.cpu.Idle = c.Costs.IdleCores // background work: heartbeats, prober, runtime
		}
		mb.pairs = make([]*netsim.Pair, c.Members)
		mb.waitQ = make([][]waiter, c.Members)
		mb.idleAt = make([]sim.Time, c.Members)
		for t := range mb.pairs {
			mb.pairs[t] = &netsim.Pair{Pool: netsim.NewPool(netsim.PoolConfig{MaxIdle: c.MaxIdle, Multiplexed: c.HTTP2})}
			mb.idleAt[t] = -1
		}
	}
	// The bounded-queue what-if bounds the leader's queue; it follows the role.
	s.members[c.Leader].cpu.MaxJobs = c.LeaderQueue

	// Clients: start times, members.
	starts := startTimes(c.Seed, c.Clients, c.StartSpread)
	s.clients = make([]cclient, c.Clients)
	for i := range s.clients {
		cons := c.Consumer
		if cons.Kind == clientmodel.Stall {
			cons.From += starts[i]
			cons.To += starts[i]
		}
		s.clients[i] = cclient{
			client: *clientmodel.New(clientmodel.Config{Rule: c.Version.Rule, Consumer: cons, ConnectDelay: c.ConnectDelay, ScanOverrun: c.ScanOverrun,
				RenewNum: c.RenewNum, RenewDen: c.RenewDen}),
			member: int32(s.placement(i)),
			start:  starts[i],
		}
		if !opts.Deferred {
			s.k.Schedule(starts[i], cev{kind: kClient, c: int32(i), in: clientmodel.Input{Kind: clientmodel.InKeepAlive}})
		}
	}
	s.k.Schedule(sim.Time(model.RevokeInterval), cev{kind: kRevoke})
	for i, f := range c.Faults {
		s.k.Schedule(sim.Time(f.At), cev{kind: kFault, a: uint32(i)})
	}
	s.k.Schedule(sim.Time(c.Bucket)-1, cev{kind: kSample})
	if c.Prober && s.tls {
		// Each member probes each other member over a new connection every
		// netsim.ProberInterval; stagger the pairs over the interval.
		pairs := c.Members * (c.Members - 1)
		i := 0
		for a := 0; a < c.Members; a++ {
			for b := 0; b < c.Members; b++ {
				if a != b {
					s.k.Schedule(sim.Time(netsim.ProberInterval)*sim.Time(i+1)/sim.Time(pairs), cev{kind: kProbe, c: int32(a), a: uint32(b)})
					i++
				}
			}
		}
	}

	return &Sim{s}, nil
}

// Now is the simulation's virtual time.
func (m *Sim) Now() time.Duration { return time.Duration(m.s.k.Now()) }

// Advance runs the simulation for d more virtual time (not past the duration).
func (m *Sim) Advance(d time.Duration) error {
	s := m.s
	end := min(s.k.Now()+sim.Time(d), sim.Time(s.cfg.Duration))
	if err := s.k.RunUntil(end, s.handle); err != nil {
		return fmt.Errorf("after %d events at %v of virtual time: %w (raise limits.max_events)", s.k.Steps(), s.k.Now(), err)
	}
	return nil
}

// AddClient makes client i call KeepAlive now (Deferred scenarios).
func (m *Sim) AddClient(i int) {
	m.s.k.Schedule(m.s.k.Now(), cev{kind: kClient, c: int32(i), in: clientmodel.Input{Kind: clientmodel.InKeepAlive}})
}

// CancelClient cancels client i's KeepAlive context now: it stops renewing.
func (m *Sim) CancelClient(i int) {
	m.s.k.Schedule(m.s.k.Now(), cev{kind: kClient, c: int32(i), in: clientmodel.Input{Kind: clientmodel.InCancel}})
}

// SetReading makes client i's application read its channel (drain) or stop.
func (m *Sim) SetReading(i int, reading bool) {
	k := clientmodel.Never
	if reading {
		k = clientmodel.Drain
	}
	m.s.k.Schedule(m.s.k.Now(), cev{kind: kClient, c: int32(i), in: clientmodel.Input{Kind: clientmodel.InConsumer, Consumer: k}})
}

// LeaderChange starts an election now that makes member to the leader after election.
func (m *Sim) LeaderChange(to int, election time.Duration) {
	m.s.leaderChange(m.s.k.Now(), to, election)
}

// Partition cuts member off from the others for d from now.
func (m *Sim) Partition(member int, d time.Duration) { m.s.cutOff[member] = m.s.k.Now() + sim.Time(d) }

// Leader is the current leader, or -1 during an election.
func (m *Sim) Leader() int { return m.s.leader }

// LeaseAlive reports whether client i's lease still exists at the leader.
func (m *Sim) LeaseAlive(i int) bool { return m.s.lessor.Alive(i) }

// Active reports whether client i's keepalive still runs.
func (m *Sim) Active(i int) bool { return m.s.clients[i].client.Active() }

// CheckInvariants checks the wiring's bookkeeping: no count of connections,
// sockets, queued work or buffered responses is negative or over its bound.
func (m *Sim) CheckInvariants() error {
	s := m.s
	for a := range s.members {
		mb := &s.members[a]
		if mb.cpu.Jobs() < 0 || mb.cpu.Bytes() < 0 {
			return fmt.Errorf("member %d: CPU jobs %d, bytes %d", a, mb.cpu.Jobs(), mb.cpu.Bytes())
		}
		for b, p := range mb.pairs {
			pool := p.Pool
			if p.Established < 0 || p.CloseWait < 0 || p.Handshaking < 0 || pool.Idle() < 0 || pool.Busy() < 0 ||
				pool.Dialing() < 0 || pool.Waiting() < 0 || (!s.cfg.HTTP2 && pool.Waiting() > pool.Dialing()) {
				return fmt.Errorf("pair %d->%d: established %d close-wait %d handshaking %d idle %d busy %d dialing %d waiting %d",
					a, b, p.Established, p.CloseWait, p.Handshaking, pool.Idle(), pool.Busy(), pool.Dialing(), pool.Waiting())
			}
			if !s.cfg.HTTP2 && pool.Idle() > s.cfg.MaxIdle {
				return fmt.Errorf("pair %d->%d: %d idle connections, more than %d", a, b, pool.Idle(), s.cfg.MaxIdle)
			}
		}
	}
	for i := range s.clients {
		cl := &s.clients[i]
		if cl.queue < 0 || cl.client.Buffered() < 0 || cl.client.Buffered() > clientmodel.ChannelCapacity {
			return fmt.Errorf("client %d: stream queue %d, channel %d", i, cl.queue, cl.client.Buffered())
		}
	}
	return nil
}

// Finish ends the run and reports it.
func (m *Sim) Finish() (ClusterResult, error) {
	s := m.s
	if err := s.rec.Flush(); err != nil {
		return ClusterResult{}, fmt.Errorf("trace: %w", err)
	}
	for a := range s.members {
		s.ser.Put(recorder.CPUUtilisation(a), s.members[a].cpu.Utilisation())
	}
	res := ClusterResult{
		Summary: s.rec.Summary(uint64(s.cfg.KeysPerLease)),
		Metrics: s.ser.Metrics(),
		Events:  s.k.Steps(),
		Peaks:   map[recorder.MetricName]float64{},
		Finals:  map[recorder.MetricName]float64{},
	}
	res.RTTs, res.Sends = s.rtts, s.sends
	for _, mt := range res.Metrics {
		for _, v := range mt.Values {
			res.Peaks[mt.Name] = max(res.Peaks[mt.Name], v)
		}
		if len(mt.Values) > 0 {
			res.Finals[mt.Name] = mt.Values[len(mt.Values)-1]
		}
	}
	return res, nil
}

func (s *clusterSim) setupSeries() {
	x := s.ser
	s.hRenewLeader = x.Counter(recorder.RenewalsAtLeader)
	s.hFwdLeader = x.Counter(recorder.ForwardedRenewals)
	s.hNewConn = x.Counter(recorder.NewPeerConnections)
	s.hHandshake = x.Counter(recorder.TLSHandshakes)
	s.hHSTimeout = x.Counter(recorder.TLSHandshakeTimeouts)
	s.hDialErr = x.Counter(recorder.DialErrors)
	s.hStreamErr = x.Counter(recorder.ClientStreamErrors)
	s.hShed = x.Counter(recorder.ShedRequests)
	s.hKeysLost = x.Counter(recorder.KeysLost)
	s.hProbe = x.Counter(recorder.ProberConnections)
	s.hQueueLeader = x.Gauge(recorder.LeaderQueueRequests)
	s.hQueueBytes = x.Gauge(recorder.LeaderQueueBytes)
	s.hEstab = x.Gauge(recorder.PeerEstablished)
	s.hTWLeader = x.Gauge(recorder.TimeWaitLeader)
	s.hTWFollower = x.Gauge(recorder.TimeWaitFollowers)
	s.hCloseWait = x.Gauge(recorder.CloseWaitLeader)
	s.hIdle = x.Gauge(recorder.PeerIdleConnections)
	s.hBusyConn = x.Gauge(recorder.PeerBusyConnections)
	s.hWaitConn = x.Gauge(recorder.ForwardsWaitingOnConn)
	for m := 0; m < s.cfg.Members; m++ {
		s.hMemberReq = append(s.hMemberReq, x.Counter(recorder.KeepalivesReceived(m)))
	}
}

func (s *clusterSim) placement(i int) int {
	c := s.cfg
	switch {
	case c.Placement == "leader":
		return c.Leader
	case c.Placement == "followers":
		if c.Members == 1 {
			return 0
		}
		f := i % (c.Members - 1)
		if f >= c.Leader {
			f++
		}
		return f
	case len(c.Placement) > 7 && c.Placement[:7] == "member:":
		var m int
		fmt.Sscanf(c.Placement[7:], "%d", &m)
		return m
	}
	return i % c.Members
}

// oneWay is a one-way peer message delay.
func (s *clusterSim) oneWay() sim.Time {
	d := sim.Time(s.cfg.PeerRTT / 2)
	if s.cfg.PeerJitter > 0 {
		d += sim.Time(s.jitter.Int64N(int64(s.cfg.PeerJitter)))
	}
	return d
}

func (s *clusterSim) clientOneWay() sim.Time { return sim.Time(s.cfg.ClientRTT / 2) }

func (s *clusterSim) rec1(now sim.Time, k recorder.Kind, c int32, reason string) {
	s.rec.Record(now, k, int(c), int64(c)+1, 1, reason)
}

func (s *clusterSim) op(o recorder.Op) {
	if s.opts.History != nil {
		s.opts.History(o)
	}
}

// renew is the leader lessor's Renew, or a mutant of it.
func (s *clusterSim) renew(now sim.Time, c int32) int64 {
	ttl := s.lessor.Renew(now, int(c))
	if ttl == 0 && s.opts.Mutant == model.MutantAckAfterRevoke && !s.lessor.Alive(int(c)) {
		return int64(s.cfg.TTL / time.Second)
	}
	return ttl
}

func (s *clusterSim) handle(now sim.Time, e cev) {
	switch e.kind {
	case kClient:
		s.clientInput(now, e.c, e.in)
	case kStreamArrive:
		cl := &s.clients[e.c]
		if e.a != cl.gen {
			return // sent on a stream the member has since dropped
		}
		s.ser.Add(s.hMemberReq[cl.member], now, 1)
		cl.queue++
		if !cl.busy {
			s.startNext(now, e.c)
		}
	case kLeaderDirect:
		s.leaderDirectDone(now, e.c, e.a)
	case kFollowerReady:
		cl := &s.clients[e.c]
		s.members[cl.member].cpu.Done(1, int64(s.cfg.Costs.QueuedRequestBytes))
		if e.a != cl.attempt {
			return
		}
		s.armDeadline(now, e.c)
		s.tryForward(now, e.c)
	case kFwdArrive:
		if e.f&fLost != 0 && e.a != s.clients[e.c].attempt {
			return // the follower gave up during the partition; its FIN won the race
		}
		s.fwdArrive(now, e.c, e.a, int(e.x))
	case kLeaderFwd:
		s.leaderFwdDone(now, e.c, e.a, int(e.in.Gen), sim.Time(e.x))
	case kFwdResp:
		s.fwdResp(now, e.c, e.a, e.f, e.x)
	case kFwdDeadline:
		s.deadlines(now, int(e.c))
	case kFwdRetry:
		cl := &s.clients[e.c]
		if e.a == cl.attempt && cl.phase == phRetrySlp {
			s.tryForward(now, e.c)
		}
	case kDialTCP:
		s.dialTCP(now, e.a)
	case kDialServer:
		s.dialServerDone(now, e.a)
	case kDialFlight:
		d := &s.dials[e.a]
		if d.dead {
			return
		}
		cost := s.cfg.Costs.TLSClientFull
		if s.resumed() {
			cost = s.cfg.Costs.TLSClientResumed
		}
		done := s.members[d.from].cpu.Force(now, cost, 1, 0)
		s.k.Schedule(done, cev{kind: kDialClient, a: e.a})
	case kDialClient:
		d := &s.dials[e.a]
		if s.tls {
			s.members[d.from].cpu.Done(1, 0)
		}
		if d.dead {
			return
		}
		s.handsh++
		s.dialSucceeded(now, e.a)
	case kDialTimeout:
		s.dialTimeout(now, e.a)
	case kIdleExpire:
		s.idleExpire(now, int(e.c), int(e.a))
	case kRevoke:
		s.revoke(now)
	case kFault:
		s.fault(now, int(e.a))
	case kElected:
		s.elected(now, int(e.a))
	case kSample:
		s.sample(now)
	case kProbe:
		s.probe(now, int(e.c), int(e.a))
	case kDialLost:
		d := &s.dials[e.a]
		d.done = true
		s.ser.Add(s.hDialErr, now, 1)
		_, failed, _ := s.members[d.from].pairs[d.to].Pool.DialDone(now, 1, false)
		s.failWaiters(now, int(d.from), int(d.to), failed)
	}
}

// clientInput steps client c and routes its outputs.
func (s *clusterSim) clientInput(now sim.Time, c int32, in clientmodel.Input) {
	cl := &s.clients[c]
	if in.Kind == clientmodel.InKeepAlive {
		// The agent grants its lease and calls KeepAlive at once.
		s.lessor.Grant(now, int(c), 1, s.cfg.TTL)
		s.op(recorder.Op{Kind: recorder.OpGrant, Lease: int64(c) + 1, Call: int64(now), Return: int64(now), TTL: int64(s.cfg.TTL / time.Second)})
	}
	if in.Kind == clientmodel.InResponse {
		s.rec1(now, recorder.Response, c, "")
		if (s.opts.History != nil || s.opts.RecordRTT) && len(cl.sent) > 0 {
			if s.opts.History != nil {
				s.op(recorder.Op{Kind: recorder.OpKeepAlive, Lease: int64(c) + 1, Call: int64(cl.sent[0]), Return: int64(now), TTL: in.TTL})
			}
			if s.opts.RecordRTT {
				x := [2]int64{int64(cl.sent[0]), int64(now - cl.sent[0])}
				if int(cl.member) == s.leader {
					s.rtts.Direct = append(s.rtts.Direct, x)
				} else {
					s.rtts.Forwarded = append(s.rtts.Forwarded, x)
				}
			}
			cl.sent = cl.sent[1:]
		}
	}
	s.out = cl.client.Step(now, in, s.out[:0])
	for _, o := range s.out {
		switch o.Kind {
		case clientmodel.OutOpenStream:
			// The member's stream handler starts; the client's gen numbers it.
			// Keepalives sent on the old stream are never answered.
			cl.sent = cl.sent[:0]
			cl.gen = o.Gen
			cl.queue, cl.busy, cl.phase = 0, false, phIdle
			cl.attempt++
		case clientmodel.OutSend:
			s.rec1(now, recorder.Request, c, "")
			if s.opts.History != nil || s.opts.RecordRTT {
				cl.sent = append(cl.sent, now)
			}
			if s.opts.RecordRTT {
				if s.sends == nil {
					s.sends = make([][]int64, len(s.clients))
				}
				s.sends[c] = append(s.sends[c], int64(now))
			}
			s.k.Schedule(now+s.clientOneWay(), cev{kind: kStreamArrive, c: c, a: o.Gen})
		case clientmodel.OutTimer:
			s.k.Schedule(o.At, cev{kind: kClient, c: c, in: clientmodel.Input{Kind: clientmodel.InTimer, Timer: o.Timer, Gen: o.Gen}})
		case clientmodel.OutDelivered:
			s.rec1(now, recorder.Delivered, c, "")
		case clientmodel.OutDropped:
			s.rec1(now, recorder.Dropped, c, "")
		case clientmodel.OutRead:
			s.rec1(now, recorder.Read, c, "")
		case clientmodel.OutClosed:
			s.rec1(now, recorder.Closed, c, o.Reason.String())
		case clientmodel.OutCloseSeen:
			s.rec1(now, recorder.CloseSeen, c, "")
		}
	}
}

// startNext takes the next request off client c's stream and starts LeaseRenew.
func (s *clusterSim) startNext(now sim.Time, c int32) {
	cl := &s.clients[c]
	if cl.queue == 0 {
		cl.busy, cl.phase = false, phIdle
		return
	}
	cl.queue--
	cl.busy = true
	cl.attempt++
	m := &s.members[cl.member]
	bytes := int64(s.cfg.Costs.QueuedRequestBytes)
	if int(cl.member) == s.leader {
		done, ok := m.cpu.Submit(now, s.cfg.Costs.DirectRenewal, 1, bytes)
		if !ok {
			s.ser.Add(s.hShed, now, 1)
			s.failStream(now, c) // the bounded queue refuses it: LeaseRenew fails
			return
		}
		cl.phase = phLeaderCPU
		s.k.Schedule(done, cev{kind: kLeaderDirect, c: c, a: cl.attempt})
		return
	}
	done := m.cpu.Force(now, s.cfg.Costs.FollowerRenewal, 1, bytes)
	cl.phase = phCPU
	s.k.Schedule(done, cev{kind: kFollowerReady, c: c, a: cl.attempt})
}

func (s *clusterSim) leaderDirectDone(now sim.Time, c int32, attempt uint32) {
	cl := &s.clients[c]
	s.members[cl.member].cpu.Done(1, int64(s.cfg.Costs.QueuedRequestBytes))
	if attempt != cl.attempt {
		return
	}
	if int(cl.member) != s.leader && s.opts.Mutant == model.MutantDeposedRenew {
		s.answer(now, c, int64(s.cfg.TTL/time.Second)) // see leaderFwdDone
		return
	}
	if int(cl.member) != s.leader {
		// Deposed while the request waited: LeaseRenew forwards it now.
		s.armDeadline(now, c)
		s.tryForward(now, c)
		return
	}
	ttl := s.renew(now, c)
	if ttl > 0 {
		s.rec1(now, recorder.Renewal, c, "")
		s.ser.Add(s.hRenewLeader, now, 1)
	}
	s.answer(now, c, ttl)
}

// answer sends LeaseRenew's result to the client and serves the next request.
func (s *clusterSim) answer(now sim.Time, c int32, ttl int64) {
	cl := &s.clients[c]
	cl.attempt++
	s.k.Schedule(now+s.clientOneWay(), cev{kind: kClient, c: c, in: clientmodel.Input{Kind: clientmodel.InResponse, Gen: cl.gen, TTL: ttl}})
	s.startNext(now, c)
}

// failStream: LeaseRenew returned an error, the stream handler returns it,
// and the client's stream breaks (v3rpc/lease.go: `return togRPCError(err)`).
func (s *clusterSim) failStream(now sim.Time, c int32) {
	cl := &s.clients[c]
	gen := cl.gen
	cl.gen, cl.queue, cl.busy, cl.phase = 0, 0, false, phIdle
	cl.attempt++
	s.ser.Add(s.hStreamErr, now, 1)
	s.k.Schedule(now+s.clientOneWay(), cev{kind: kClient, c: c, in: clientmodel.Input{Kind: clientmodel.InStreamError, Gen: gen}})
}

// tryForward is one pass of LeaseRenew's forwarding loop on a follower.
func (s *clusterSim) tryForward(now sim.Time, c int32) {
	cl := &s.clients[c]
	m := &s.members[cl.member]
	if s.leader < 0 {
		cl.phase = phWaitLead
		m.waitLead = append(m.waitLead, c)
		return
	}
	if int(cl.member) == s.leader {
		// Became the leader meanwhile: renew locally.
		done, ok := m.cpu.Submit(now, s.cfg.Costs.DirectRenewal, 1, int64(s.cfg.Costs.QueuedRequestBytes))
		if !ok {
			s.ser.Add(s.hShed, now, 1)
			s.failStream(now, c)
			return
		}
		cl.phase = phLeaderCPU
		s.k.Schedule(done, cev{kind: kLeaderDirect, c: c, a: cl.attempt})
		return
	}
	to := s.leader
	pair := m.pairs[to]
	ready, dials := pair.Pool.Acquire(now, 1)
	if ready == 1 {
		s.send(now, c, to)
		return
	}
	cl.phase = phWaitConn
	cl.via = int32(to)
	m.waitQ[to] = append(m.waitQ[to], waiter{c: c, attempt: cl.attempt})
	for i := 0; i < dials; i++ {
		s.startDial(now, int(cl.member), to)
	}
}

// send puts client c's forward on a connection to member to.
func (s *clusterSim) send(now sim.Time, c int32, to int) {
	cl := &s.clients[c]
	cl.phase = phAtLeader
	cl.via = int32(to)
	cl.answered = false
	cl.arrived = false
	at := now
	if heal := s.healAt(int(cl.member), to); heal > now {
		// Partitioned: TCP retransmits, and the request arrives once the
		// partition heals (at a retransmission: leasesim takes the heal itself).
		at = heal
		cl.lost = true
	} else {
		cl.lost = false
	}
	s.k.Schedule(at+s.oneWay(), cev{kind: kFwdArrive, c: c, a: cl.attempt, x: int64(to), f: flagIf(cl.lost, fLost)})
}

// fwdArrive: a forwarded renewal reaches member to. If its follower has given
// up meanwhile, the request was on the wire before the FIN: the leader's
// handler still runs it (and renews the lease).
func (s *clusterSim) fwdArrive(now sim.Time, c int32, attempt uint32, to int) {
	if attempt == s.clients[c].attempt {
		s.clients[c].arrived = true
	}
	lm := &s.members[to]
	s.ser.Add(s.hFwdLeader, now, 1)
	done, ok := lm.cpu.Submit(now, s.cfg.Costs.LeaderForwarded, 1, int64(s.cfg.Costs.QueuedRequestBytes))
	if !ok {
		s.ser.Add(s.hShed, now, 1)
		// Shed: an error status at once; RenewHTTP fails, the follower retries.
		s.k.Schedule(now+s.oneWay(), cev{kind: kFwdResp, c: c, a: attempt, f: fErr})
		return
	}
	s.k.Schedule(done, cev{kind: kLeaderFwd, c: c, a: attempt, in: clientmodel.Input{Gen: uint32(to)}, x: int64(now)})
}

// leaderFwdDone: the leader's handler for a forwarded renewal has run.
//
// The leader's peer listener re-arms a model.ConnReadTimeout (5 s) read deadline on
// every read (rafthttp/peer.go:40; client/pkg/v3 transport/timeout_conn.go), and
// net/http's server keeps a background read going while a handler runs: a
// handler that finishes more than 5 s after its request was read finds that
// read timed out, and the server closes the connection after answering
// (leader-first close: TIME-WAIT on the leader, or with TLS a reset, see
// ClusterSpec.TLSClose). The follower's next forward
// then needs a new connection.
func (s *clusterSim) leaderFwdDone(now sim.Time, c int32, attempt uint32, at int, arrived sim.Time) {
	cl := &s.clients[c]
	s.members[at].cpu.Done(1, int64(s.cfg.Costs.QueuedRequestBytes))
	var flags uint8
	var ttl int64
	switch {
	case at == s.leader:
		ttl = s.renew(now, c)
		if ttl > 0 {
			s.rec1(now, recorder.Renewal, c, "")
			s.ser.Add(s.hRenewLeader, now, 1)
		}
	case s.opts.Mutant == model.MutantDeposedRenew:
		// The deposed leader's own lessor renews and answers; the new leader's
		// never hears of it.
		ttl = int64(s.cfg.TTL / time.Second)
	default:
		flags |= fErr // ErrNotPrimary: no longer the leader
	}
	pair := s.members[cl.member].pairs[at]
	if attempt != cl.attempt {
		// Its follower had closed the connection: the write fails, the leader
		// closes its side, ending the CLOSE-WAIT.
		if cl.cwCount > 0 {
			cl.cwCount--
			pair.CloseWait--
			pair.Established--
		}
		return
	}
	cl.answered = true
	if now-arrived > sim.Time(model.ConnReadTimeout) && !s.cfg.HTTP2 {
		flags |= fClosed
		s.timeWait(now, &pair.ServerTW, 1)
	}
	s.k.Schedule(now+s.oneWay(), cev{kind: kFwdResp, c: c, a: attempt, f: flags, x: ttl})
}

func (s *clusterSim) fwdResp(now sim.Time, c int32, attempt uint32, flags uint8, ttl int64) {
	cl := &s.clients[c]
	if attempt != cl.attempt || cl.phase != phAtLeader {
		return
	}
	if flags&fClosed != 0 {
		pair := s.members[cl.member].pairs[cl.via]
		pair.Pool.Discard(1)
		pair.Established--
	} else {
		s.releaseConn(now, int(cl.member), int(cl.via), 1)
	}
	if flags&fErr != 0 { // an error answer: sleep 50 ms and retry
		cl.phase = phRetrySlp
		s.k.Schedule(now+sim.Time(model.ForwardRetry), cev{kind: kFwdRetry, c: c, a: attempt})
		return
	}
	s.answer(now, c, ttl)
}

// releaseConn returns n connections from member from to member to's pool.
func (s *clusterSim) releaseConn(now sim.Time, from, to, n int) {
	pair := s.members[from].pairs[to]
	handed, closed := pair.Pool.Release(now, n)
	s.closeByClient(now, pair, closed)
	s.handTo(now, from, to, handed)
	s.armIdle(now, from, to)
}

// timeWait: n established connections were closed first by the side whose
// TIME-WAIT sockets tw counts. With TLS they end in a reset instead unless
// the scenario says otherwise (ClusterSpec.TLSClose).
func (s *clusterSim) timeWait(now sim.Time, tw *netsim.TimeWaits, n int) {
	if s.cfg.TLSCloseTimeWait {
		tw.Add(now, n)
	}
}

// closeByClient: the follower closes n connections first (TIME-WAIT there
// with ClusterSpec.TLSClose "time-wait" or without TLS).
func (s *clusterSim) closeByClient(now sim.Time, pair *netsim.Pair, n int) {
	if n > 0 {
		s.timeWait(now, &pair.ClientTW, n)
		pair.Established -= n
	}
}

// handTo gives n connections to the oldest live waiters of from -> to.
func (s *clusterSim) handTo(now sim.Time, from, to, n int) {
	for ; n > 0; n-- {
		s.send(now, s.nextWaiter(from, to), to)
	}
}

// failWaiters fails the n oldest live waiters (their dials failed): each
// LeaseRenew attempt sleeps 50 ms and retries.
func (s *clusterSim) failWaiters(now sim.Time, from, to, n int) {
	for ; n > 0; n-- {
		c := s.nextWaiter(from, to)
		cl := &s.clients[c]
		cl.phase = phRetrySlp
		s.k.Schedule(now+sim.Time(model.ForwardRetry), cev{kind: kFwdRetry, c: c, a: cl.attempt})
	}
}

// nextWaiter removes and returns the oldest forward of from -> to still
// waiting for a connection; cancelled ones (no longer counted by the pool) are
// dropped on the way.
func (s *clusterSim) nextWaiter(from, to int) int32 {
	q := s.members[from].waitQ[to]
	for len(q) > 0 {
		w := q[0]
		q = q[1:]
		cl := &s.clients[w.c]
		if w.attempt == cl.attempt && cl.phase == phWaitConn {
			s.members[from].waitQ[to] = q
			return w.c
		}
	}
	panic(fmt.Sprintf("scenario: pool %d->%d has a waiter the wiring does not", from, to))
}

// armDeadline starts client c's LeaseRenew context: ReqTimeout from now.
func (s *clusterSim) armDeadline(now sim.Time, c int32) {
	m := s.clients[c].member
	mb := &s.members[m]
	at := now + sim.Time(s.reqTO)
	mb.dlq = append(mb.dlq, deadline{at: at, c: c, attempt: s.clients[c].attempt})
	if !mb.dlArm {
		mb.dlArm = true
		s.k.Schedule(at, cev{kind: kFwdDeadline, c: m})
	}
}

// deadlines fires every due deadline of member m, then waits for the next.
func (s *clusterSim) deadlines(now sim.Time, m int) {
	mb := &s.members[m]
	i := 0
	for ; i < len(mb.dlq); i++ {
		d := mb.dlq[i]
		if s.clients[d.c].attempt != d.attempt {
			continue // answered or failed already
		}
		if d.at > now {
			break
		}
		s.fwdDeadline(now, d.c, d.attempt)
	}
	mb.dlq = mb.dlq[i:]
	if len(mb.dlq) > 0 && cap(mb.dlq) > 4096 && len(mb.dlq) < cap(mb.dlq)/4 {
		mb.dlq = append([]deadline(nil), mb.dlq...)
	}
	if len(mb.dlq) == 0 {
		mb.dlArm = false
		return
	}
	s.k.Schedule(mb.dlq[0].at, cev{kind: kFwdDeadline, c: int32(m)})
}

func (s *clusterSim) fwdDeadline(now sim.Time, c int32, attempt uint32) {
	cl := &s.clients[c]
	if attempt != cl.attempt {
		return
	}
	from, to := int(cl.member), int(cl.via)
	switch cl.phase {
	case phWaitConn:
		s.members[from].pairs[to].Pool.CancelWaiters(1)
	case phAtLeader:
		pair := s.members[from].pairs[to]
		pair.Pool.Discard(1)
		if s.cfg.HTTP2 {
			break // HTTP/2 resets the stream; the connection stays
		}
		// Cancelling an HTTP/1.1 request in flight closes its connection.
		s.timeWait(now, &pair.ClientTW, 1)
		if cl.arrived && !cl.answered {
			pair.CloseWait++ // the leader's side, until its handler finishes
			cl.cwCount++
		} else {
			// Answered (the leader, reading for the next request, sees the FIN),
			// or not yet there (the FIN follows the request down the wire).
			pair.Established--
		}
	case phWaitLead:
		// dropped from waitLead lazily
	case phRetrySlp:
	default:
		return // not forwarding
	}
	s.failStream(now, c)
}

// ---- dials ----

func (s *clusterSim) startDial(now sim.Time, from, to int) {
	pair := s.members[from].pairs[to]
	s.ser.Add(s.hNewConn, now, 1)
	if pair.PortsInUse(now) >= netsim.EphemeralPorts {
		s.ser.Add(s.hDialErr, now, 1)
		_, failed, _ := pair.Pool.DialDone(now, 1, false)
		s.failWaiters(now, from, to, failed)
		return
	}
	id := uint32(len(s.dials))
	s.dials = append(s.dials, dial{from: int32(from), to: int32(to)})
	rtt := sim.Time(s.cfg.PeerRTT)
	if heal := s.healAt(from, to); heal > now {
		limit := now + sim.Time(model.PeerDialTimeout(s.cfg.ElectionTimeout))
		if heal >= limit {
			// SYNs are lost: the dial fails when the peer dial timeout runs out.
			s.dials[id].dead = true
			s.k.Schedule(limit, cev{kind: kDialLost, a: id})
			return
		}
		now = heal // a retransmitted SYN gets through once the partition heals
	}
	if !s.tls {
		// TCP only: connected after a round trip; the leader accepts it.
		s.members[to].cpu.Force(now, s.cfg.Costs.TCPAccept, 1, 0)
		s.members[to].cpu.Done(1, 0)
		pair.Established++
		s.k.Schedule(now+rtt, cev{kind: kDialClient, a: id})
		return
	}
	// SYN, SYN-ACK, ACK: connected after a round trip; the ClientHello reaches
	// the leader half a round trip later. The handshake timer starts at connect.
	s.k.Schedule(now+rtt+rtt/2, cev{kind: kDialTCP, a: id})
	s.k.Schedule(now+rtt+sim.Time(netsim.TLSHandshakeTimeout), cev{kind: kDialTimeout, a: id})
}

func (s *clusterSim) resumed() bool { return s.cfg.TLSResumption && s.handsh > 0 }

func (s *clusterSim) dialTCP(now sim.Time, id uint32) {
	d := &s.dials[id]
	pair := s.members[d.from].pairs[d.to]
	pair.Established++
	pair.Handshaking++
	cost := s.cfg.Costs.TCPAccept + s.cfg.Costs.TLSServerFull
	if s.resumed() {
		cost = s.cfg.Costs.TCPAccept + s.cfg.Costs.TLSServerResumed
	}
	done := s.members[d.to].cpu.Force(now, cost, 1, int64(s.cfg.Costs.PeerConnBytes))
	s.k.Schedule(done, cev{kind: kDialServer, a: id})
}

func (s *clusterSim) dialServerDone(now sim.Time, id uint32) {
	d := &s.dials[id]
	s.members[d.to].cpu.Done(1, int64(s.cfg.Costs.PeerConnBytes))
	s.ser.Add(s.hHandshake, now, 1)
	d.serverDone = true
	if d.dead {
		// The follower gave up: the leader reads EOF and closes, ending CLOSE-WAIT.
		pair := s.members[d.from].pairs[d.to]
		pair.CloseWait--
		pair.Established--
		return
	}
	s.k.Schedule(now+s.oneWay(), cev{kind: kDialFlight, a: id})
}

func (s *clusterSim) dialSucceeded(now sim.Time, id uint32) {
	d := &s.dials[id]
	d.done = true
	from, to := int(d.from), int(d.to)
	pair := s.members[from].pairs[to]
	if s.tls {
		pair.Handshaking--
	}
	handed, _, closed := pair.Pool.DialDone(now, 1, true)
	s.closeByClient(now, pair, closed)
	s.handTo(now, from, to, handed)
	s.armIdle(now, from, to)
}

func (s *clusterSim) dialTimeout(now sim.Time, id uint32) {
	d := &s.dials[id]
	if d.done {
		return
	}
	d.dead, d.done = true, true
	from, to := int(d.from), int(d.to)
	pair := s.members[from].pairs[to]
	s.ser.Add(s.hHSTimeout, now, 1)
	pair.Handshaking--
	pair.ClientTW.Add(now, 1) // the follower closes first
	if !d.serverDone {
		pair.CloseWait++ // the leader has not got to it yet
	} else {
		pair.Established--
	}
	_, failed, _ := pair.Pool.DialDone(now, 1, false)
	s.failWaiters(now, from, to, failed)
}

func (s *clusterSim) armIdle(now sim.Time, from, to int) {
	mb := &s.members[from]
	at := mb.pairs[to].Pool.NextIdleExpiry()
	if at < 0 || (mb.idleAt[to] >= 0 && mb.idleAt[to] <= at) {
		return
	}
	mb.idleAt[to] = at
	s.k.Schedule(at, cev{kind: kIdleExpire, c: int32(from), a: uint32(to)})
}

func (s *clusterSim) idleExpire(now sim.Time, from, to int) {
	mb := &s.members[from]
	if mb.idleAt[to] != now {
		return
	}
	mb.idleAt[to] = -1
	pair := mb.pairs[to]
	if n := pair.Pool.ExpireIdle(now); n > 0 {
		s.timeWait(now, &pair.ServerTW, n) // the leader closes first
		pair.Established -= n
	}
	s.armIdle(now, from, to)
}

// probe: rafthttp's stream prober opens a new connection from a to b every
// netsim.ProberInterval (its round tripper keeps no idle connections:
// client/pkg transport/timeout_transport.go sets MaxIdleConnsPerHost -1 when
// read/write timeouts are set, rafthttp/util.go:59-60); a full handshake on
// both. The connection ends in a reset, not TIME-WAIT: measured on a real
// 3-member 3.7.3 cluster (leasesim calibrate), /proc/net/snmp counts 1.50
// active opens/s and 1.50 EstabResets/s (6 ordered pairs / 4 s) and
// /proc/net/tcp shows no TIME_WAIT on any peer port. (The prober decodes the
// health JSON without reading the body to its end, and a close with unread
// data sends RST.)
func (s *clusterSim) probe(now sim.Time, a, b int) {
	costS, costC := s.cfg.Costs.TLSServerFull, s.cfg.Costs.TLSClientFull
	s.members[b].cpu.Force(now, s.cfg.Costs.TCPAccept+costS, 1, 0)
	s.members[b].cpu.Done(1, 0)
	s.members[a].cpu.Force(now, costC, 1, 0)
	s.members[a].cpu.Done(1, 0)
	s.ser.Add(s.hProbe, now, 1)
	s.k.Schedule(now+sim.Time(netsim.ProberInterval), cev{kind: kProbe, c: int32(a), a: uint32(b)})
}

// healAt is when members a and b can reach each other again (in the past if
// they can now).
func (s *clusterSim) healAt(a, b int) sim.Time {
	return max(s.cutOff[a], s.cutOff[b])
}

// ---- the lessor, faults, sampling ----

func (s *clusterSim) revoke(now sim.Time) {
	if s.leader >= 0 {
		s.revoked = s.lessor.RevokeExpired(now, s.revoked[:0])
		for _, r := range s.revoked {
			s.op(recorder.Op{Kind: recorder.OpExpire, Lease: int64(r.I) + 1, Call: int64(now), Return: int64(now)})
			s.rec.Record(now, recorder.Expired, r.I, int64(r.I)+1, uint64(r.N), "")
			s.ser.Add(s.hKeysLost, now, float64(r.Keys))
		}
	}
	s.k.Schedule(now+sim.Time(model.RevokeInterval), cev{kind: kRevoke})
}

func (s *clusterSim) fault(now sim.Time, i int) {
	f := s.cfg.Faults[i]
	switch f.Kind {
	case "leader-stall":
		if s.leader >= 0 {
			s.members[s.leader].cpu.Stall(now, f.Duration)
		}
	case "partition":
		s.cutOff[f.Member] = now + sim.Time(f.Duration)
	case "leader-change":
		s.leaderChange(now, f.To, f.Duration)
	}
}

// leaderChange: the leader steps down now; member to wins the election after election.
func (s *clusterSim) leaderChange(now sim.Time, to int, election time.Duration) {
	s.leader = -1
	s.k.Schedule(now+sim.Time(election), cev{kind: kElected, a: uint32(to)})
}

func (s *clusterSim) elected(now sim.Time, to int) {
	for m := range s.members {
		s.members[m].cpu.MaxJobs = 0
	}
	s.leader = to
	s.members[s.leader].cpu.MaxJobs = s.cfg.LeaderQueue
	s.lessor.Promote(now, s.cfg.ElectionTimeout)
	for m := range s.members {
		mb := &s.members[m]
		q := mb.waitLead
		mb.waitLead = nil
		for _, c := range q {
			if s.clients[c].phase == phWaitLead {
				s.tryForward(now, c)
			}
		}
	}
}

func (s *clusterSim) sample(now sim.Time) {
	var estab, twL, twF, cw, idle, busy, waiting int
	for m := range s.members {
		for t, p := range s.members[m].pairs {
			if m == t {
				continue
			}
			estab += p.Established
			cw += p.CloseWait
			idle += p.Pool.Idle()
			busy += p.Pool.Busy()
			waiting += p.Pool.Waiting()
			twF += p.ClientTW.Count(now)
			twL += p.ServerTW.Count(now)
		}
	}
	if s.leader >= 0 {
		// rafthttp's own connections into the leader, open all the time.
		estab += netsim.RaftConnsPerPeer * (len(s.members) - 1)
		lc := s.members[s.leader].cpu
		queued := lc.Jobs()
		bytes := lc.Bytes()
		for i := range s.clients {
			if int(s.clients[i].member) == s.leader {
				queued += int(s.clients[i].queue)
				bytes += int64(s.clients[i].queue) * int64(s.cfg.Costs.QueuedRequestBytes)
			}
		}
		bytes += int64(estab) * int64(s.cfg.Costs.PeerConnBytes)
		s.ser.Set(s.hQueueLeader, now, float64(queued))
		s.ser.Set(s.hQueueBytes, now, float64(bytes))
	}
	s.ser.Set(s.hEstab, now, float64(estab))
	s.ser.Set(s.hTWLeader, now, float64(twL))
	s.ser.Set(s.hTWFollower, now, float64(twF))
	s.ser.Set(s.hCloseWait, now, float64(cw))
	s.ser.Set(s.hIdle, now, float64(idle))
	s.ser.Set(s.hBusyConn, now, float64(busy))
	s.ser.Set(s.hWaitConn, now, float64(waiting))
	s.k.Schedule(now+sim.Time(s.cfg.Bucket), cev{kind: kSample})
}
