package netsim

import (
	"fmt"
	"time"

	"github.com/leasesim/leasesim/sim"
)

// NetworkConfig configures the peer network of a cluster.
type NetworkConfig struct {
	Members int
	// PeerRTT is a member-to-member round trip; each one-way message takes
	// PeerRTT/2 plus a uniform draw from [0, PeerJitter).
	PeerRTT, PeerJitter time.Duration
	MaxIdle             int  // MaxIdleConnsPerHost (0: the default)
	HTTP2               bool // one multiplexed connection per pair instead of the HTTP/1.1 pool
	TLS                 bool // peer mutual TLS (handshakes cost CPU and can time out)
	TLSResumption       bool // handshakes after the first are resumed
	// TLSCloseTimeWait: closing an established connection leaves the closer
	// in TIME-WAIT (plaintext, or a 2018-era TLS stack); otherwise the close
	// ends in a reset and leaves nothing (measured with etcd 3.7.3 and Go 1.26).
	TLSCloseTimeWait bool
	// DialTimeout is the peer round tripper's dial timeout (1 s + the
	// election timeout: see model.PeerDialTimeout).
	DialTimeout time.Duration
	Costs       Costs
	// Cohort: each forward stands for this many forwards of clients in
	// lockstep (the fast mode, spec.FidelityFast; 0 or 1: itself alone).
	// Connections stay real: a cohort's forward takes Cohort connections from
	// the pool (HTTP/1.1), those that are idle at once and the rest from
	// one dial of as many connections (one set of events, its work done that
	// many times: Output.N), and goes on the wire when it has them all. Its
	// follower's reading of the answer is Cohort answers' work. rafthttp's
	// prober is the members' own: never weighted.
	Cohort int
}

// Costs are the member CPU the transport's connections cost.
type Costs struct {
	TLSServerFull, TLSClientFull       time.Duration
	TLSServerResumed, TLSClientResumed time.Duration
	TCPAccept                          time.Duration
	PeerConnBytes                      int // memory a connection holds on the leader while it is set up
	// FollowerAnswer: the follower's CPU to read the leader's answer to a
	// forward; the connection is pooled again (or closed) only after it
	// (net/http: readLoop, then the caller's read to EOF, tryPutIdleConn).
	// 0: the answer is read as it arrives.
	FollowerAnswer time.Duration
	// ProberConnection: the CPU one prober connection costs both ends in
	// all; what it costs beyond the accept and both handshakes (the probe's
	// HTTP request and answer, the connection's set-up and reset) is
	// charged half on each end. 0: the accept and handshakes alone.
	ProberConnection time.Duration
}

// ProbeWork is what one prober connection costs its server and its client
// end: the accept and handshakes, and what ProberConnection puts beyond
// them, half on each end.
func (c Costs) ProbeWork() (server, client time.Duration) {
	server, client = c.TCPAccept+c.TLSServerFull, c.TLSClientFull
	if extra := c.ProberConnection - server - client; extra > 0 {
		server += extra / 2
		client += extra - extra/2
	}
	return server, client
}

// Network is the peer side of a cluster as a state machine: for every
// ordered member pair (a follower's transport towards a peer's listener) the
// HTTP/1.1 idle pool or the HTTP/2 connection, dials through TCP and TLS with
// their timeouts, idle closes, TIME-WAIT and CLOSE-WAIT sockets, ephemeral
// ports and the requests waiting for a connection; the links between members
// with their delay, jitter and partitions; and rafthttp's stream prober.
//
// It carries LeaseRenew's forwards: a member hands it a forward (InForward)
// and gets back the result (OutResult); the leader's member gets the request
// (OutRequest) and hands back its reply (InReply). Connection work costs CPU
// on a member (OutCPU, OutCPURelease): the wiring charges that member's CPU.
// Time comes in with every input; the one random stream (link jitter) is
// handed in at construction; its counters are written only here.
//
// Forwards are named by the follower member and the client's stream slot
// there (one LeaseRenew at a time per stream) and the LeaseRenew attempt.
type Network struct {
	cfg        NetworkConfig
	jitter     *sim.Rand
	pairs      [][]pair // [from][to]
	dials      []dial
	handshakes int        // completed, for resumption
	cutOff     []sim.Time // per member: partitioned from the others until then
	forwards   [][]forward
}

// pair is the TCP picture of one member's peer connections to another (the
// client side, a follower, towards the server side, a peer's listener).
type pair struct {
	pool *Pool
	// clientTW and serverTW: TIME-WAIT on each side.
	clientTW, serverTW TimeWaits
	// closeWait: server-side sockets whose client closed (a handshake timeout,
	// a cancelled request) while the server had not yet got to them.
	closeWait int
	// handshaking: connections between TCP connect and the end of TLS.
	handshaking int
	// established: TCP connections ESTABLISHED on both sides (handshaking,
	// idle or busy); a connection the client closed is not (its server side
	// counts in closeWait until the server closes too).
	established int
	waiters     []waiter // forwards waiting for a connection, oldest first (some stale)
	idleAt      sim.Time // the pending idle-expiry check, or -1
}

type waiter struct {
	slot    int32
	attempt uint32
}

// forward is a stream slot's LeaseRenew forward as the transport sees it.
type forward struct {
	client  int32
	attempt uint32
	to      int8
	live    bool // the follower still wants it (not answered, cancelled or abandoned)
	onWire  bool // sent on a connection (else waiting for one)
	lost    bool // sent into a partition: it arrives once it heals
	arrived bool // reached the peer
	// answered: the peer's handler has run (its answer is on the wire), so a
	// cancel no longer leaves the peer's socket in CLOSE-WAIT.
	answered   bool
	arrivedAt  sim.Time
	closeWaits int32 // peer sockets of cancelled forwards in CLOSE-WAIT (a cohort's: Cohort each)
	// need and held: a forward waiting for connections (not onWire) still
	// needs need of them and holds held (busy in the pool) meanwhile; with
	// no cohort need is 1 and held 0.
	need, held int32
	// finAttempt: a forward cancelled before it arrived (0: none); when it
	// arrives, the peer reads the request and then the FIN, and its socket
	// sits in CLOSE-WAIT until the handler has run.
	finAttempt uint32
}

// dial is n connections dialled together (a cohort's: NetworkConfig.Cohort;
// else one): one set of events, each step's work done n times.
type dial struct {
	from, to   int8
	done, dead bool // finished; timed out
	serverDone bool
	n          int32
}

// portsInUse is the client side's ephemeral ports taken towards the server:
// connections up or being set up, and its own TIME-WAITs.
func (p *pair) portsInUse(now sim.Time) int {
	return p.established + p.pool.Dialing() - p.handshaking + p.clientTW.Count(now)
}

// InputKind names what happened to the Network.
type InputKind uint8

const (
	InForward        InputKind = iota // member From forwards slot Slot's attempt Attempt (client Client) to member To
	InCancel                          // member From cancelled slot Slot's forward (ReqTimeout)
	InAbandon                         // member From dropped slot Slot's stream: its forward is not wanted
	InArrive                          // the forward of (From, Slot, Attempt) reaches member To (Lost: it waited for a partition to heal)
	InReply                           // member To handled the forward of (From, Slot, Attempt): TTL, or an ErrStatus
	InShed                            // member To refused the forward of (From, Slot, Attempt)
	InResponse                        // the answer to (From, Slot, Attempt) reaches member From (Err, Closed, TTL)
	InDialTCP                         // dial Dial's ClientHello reaches the server
	InDialServerDone                  // the server's CPU finished dial Dial's TLS work
	InDialFlight                      // the server's TLS flight of dial Dial reaches the client
	InDialClientDone                  // the client's CPU finished dial Dial's TLS work (or: TCP connected)
	InDialTimeout                     // dial Dial's TLSHandshakeTimeout
	InDialLost                        // dial Dial, sent into a partition, ran out of DialTimeout
	InIdleExpire                      // pair From -> To: check the idle connections' expiry
	InProbe                           // rafthttp's prober: From probes To over a new connection
	InPartition                       // member From is cut off from every other member until Until
)

var inputNames = [...]string{"forward", "cancel", "abandon", "arrive", "reply", "shed", "response",
	"dial-tcp", "dial-server-done", "dial-flight", "dial-client-done", "dial-timeout", "dial-lost",
	"idle-expire", "probe", "partition"}

func (k InputKind) String() string { return inputNames[k] }

// Input is one thing that happened to the Network.
type Input struct {
	Kind      InputKind
	Lost      bool // InArrive
	Err       bool // InResponse: an error status (the follower retries)
	Closed    bool // InResponse: the server closed the connection after answering
	Read      bool // InResponse: the follower's CPU has read it (Costs.FollowerAnswer)
	ErrStatus bool // InReply: an error status (the follower retries), not a TTL
	From, To  int8
	Slot      int32
	Client    int32
	Attempt   uint32
	Dial      uint32
	TTL       int64    // InReply, InResponse
	Until     sim.Time // InPartition
}

// OutputKind names what the Network asks for or reports.
type OutputKind uint8

const (
	OutDeliver    OutputKind = iota // deliver Msg to me at At
	OutRequest                      // the forward (From, Slot, Client, Attempt) reached member To: hand it to that member now
	OutResult                       // the forward of (From, Slot, Attempt) ended: Err (retry), else TTL; tell member From now
	OutCPU                          // charge Work x N on member Member's CPU at At, holding Bytes x N; then deliver Msg (if HasThen) when done
	OutCPURelease                   // release N requests and Bytes x N of memory on member Member's CPU
	OutFact                         // for the recorder
)

var outputNames = [...]string{"deliver", "request", "result", "cpu", "cpu-release", "fact"}

func (k OutputKind) String() string { return outputNames[k] }

// Fact is something the recorder counts.
type Fact uint8

const (
	FactNewConn          Fact = iota // a dial started
	FactDialError                    // a dial failed (no ephemeral port, or lost in a partition)
	FactHandshake                    // the server finished a TLS handshake
	FactHandshakeTimeout             // a dial ran out of TLSHandshakeTimeout
	FactProbe                        // a prober connection
)

var factNames = [...]string{"new-conn", "dial-error", "handshake", "handshake-timeout", "probe"}

func (f Fact) String() string { return factNames[f] }

// Output is one thing the Network asks for or reports.
type Output struct {
	Kind     OutputKind
	Fact     Fact
	Err      bool // OutResult
	HasThen  bool // OutCPU
	From, To int8
	Member   int8 // OutCPU, OutCPURelease
	Slot     int32
	Client   int32
	Attempt  uint32
	TTL      int64
	Bytes    int64
	Work     time.Duration // OutCPU
	At       sim.Time      // OutDeliver, OutCPU
	// N: OutCPU, OutCPURelease: how many connections' or answers' work this
	// is, each Work and Bytes (NetworkConfig.Cohort; the prober's: 1);
	// OutFact: how many times the fact happened (0 counts as 1).
	N int32
	// Handshake: OutCPU is one end's part of a TLS handshake, which
	// allocates more than a request (its certificates, keys and buffers).
	Handshake bool
	// Msg: OutDeliver: the message to deliver at At; OutCPU with HasThen:
	// the message to deliver when the work is done.
	Msg Input
}

// cohort is how many forwards each of the network's stands for
// (NetworkConfig.Cohort).
func (n *Network) cohort() int32 { return int32(max(n.cfg.Cohort, 1)) }

// NewNetwork returns the network of cfg.Members members with every pool
// empty; jitter draws the links' jitter.
func NewNetwork(cfg NetworkConfig, jitter *sim.Rand) *Network {
	if cfg.Members < 1 || cfg.Members > 127 || cfg.DialTimeout <= 0 {
		panic(fmt.Sprintf("netsim: %d members (1-127) and a dial timeout > 0 (%v) required", cfg.Members, cfg.DialTimeout))
	}
	n := &Network{cfg: cfg, jitter: jitter, cutOff: make([]sim.Time, cfg.Members), forwards: make([][]forward, cfg.Members)}
	n.pairs = make([][]pair, cfg.Members)
	for a := range n.pairs {
		n.pairs[a] = make([]pair, cfg.Members)
		for b := range n.pairs[a] {
			n.pairs[a][b] = pair{pool: NewPool(PoolConfig{MaxIdle: cfg.MaxIdle, Multiplexed: cfg.HTTP2}), idleAt: -1}
		}
	}
	return n
}

// AddSlot gives member a new stream slot (the next index) for forwards.
func (n *Network) AddSlot(member int) {
	n.forwards[member] = append(n.forwards[member], forward{})
}

// Step applies in at now and appends the network's outputs to out.
func (n *Network) Step(now sim.Time, in Input, out []Output) []Output {
	switch in.Kind {
	case InForward:
		return n.startForward(now, in, out)
	case InCancel:
		return n.cancel(now, in, out)
	case InAbandon:
		f := &n.forwards[in.From][in.Slot]
		if f.live && !f.onWire {
			// Still waiting for a connection: it leaves the queue, as a
			// cancelled one does (cancel); else the pool would hand a
			// connection to a waiter the transport no longer has.
			f.live = false
			return n.leaveQueue(now, int(in.From), f, out)
		}
		f.live = false
	case InArrive:
		f := &n.forwards[in.From][in.Slot]
		current := f.live && f.attempt == in.Attempt
		if in.Lost && !current {
			return out // the follower gave up during the partition; its FIN won the race
		}
		if current {
			f.arrived, f.arrivedAt = true, now
		} else if f.finAttempt != 0 && f.finAttempt == in.Attempt {
			f.finAttempt = 0
			f.closeWaits += n.cohort()
			n.pairs[in.From][in.To].closeWait += int(n.cohort())
		}
		// The request was on the wire before any FIN: the peer's handler runs it.
		out = append(out, Output{Kind: OutRequest, From: in.From, To: in.To, Slot: in.Slot, Client: in.Client, Attempt: in.Attempt})
	case InReply:
		return n.reply(now, in, out)
	case InShed:
		// An error status at once; RenewHTTP fails, the follower retries.
		if f := &n.forwards[in.From][in.Slot]; f.live && f.attempt == in.Attempt {
			f.answered = true // the server is done with it: a cancel now leaves no CLOSE-WAIT
		}
		return n.deliver(out, now+n.oneWay(), Input{Kind: InResponse, From: in.From, To: in.To, Slot: in.Slot, Attempt: in.Attempt, Err: true})
	case InResponse:
		return n.response(now, in, out)
	case InDialTCP:
		d := &n.dials[in.Dial]
		p := &n.pairs[d.from][d.to]
		p.established += int(d.n)
		p.handshaking += int(d.n)
		cost := n.cfg.Costs.TCPAccept + n.cfg.Costs.TLSServerFull
		if n.resumed() {
			cost = n.cfg.Costs.TCPAccept + n.cfg.Costs.TLSServerResumed
		}
		return append(out, Output{N: d.n, Kind: OutCPU, Member: d.to, At: now, Work: cost, Bytes: int64(n.cfg.Costs.PeerConnBytes),
			HasThen: true, Msg: Input{Kind: InDialServerDone, Dial: in.Dial}, Handshake: n.cfg.TLS})
	case InDialServerDone:
		return n.dialServerDone(now, in.Dial, out)
	case InDialFlight:
		d := &n.dials[in.Dial]
		if d.dead {
			return out
		}
		cost := n.cfg.Costs.TLSClientFull
		if n.resumed() {
			cost = n.cfg.Costs.TLSClientResumed
		}
		return append(out, Output{N: d.n, Kind: OutCPU, Member: d.from, At: now, Work: cost, HasThen: true, Msg: Input{Kind: InDialClientDone, Dial: in.Dial}, Handshake: n.cfg.TLS})
	case InDialClientDone:
		d := &n.dials[in.Dial]
		if n.cfg.TLS {
			out = append(out, Output{N: d.n, Kind: OutCPURelease, Member: d.from})
		}
		if d.dead {
			return out
		}
		n.handshakes++
		return n.dialSucceeded(now, in.Dial, out)
	case InDialTimeout:
		return n.dialTimeout(now, in.Dial, out)
	case InDialLost:
		d := &n.dials[in.Dial]
		d.done = true
		out = append(out, Output{Kind: OutFact, Fact: FactDialError, N: d.n})
		_, failed, _ := n.pairs[d.from][d.to].pool.DialDone(now, int(d.n), false)
		return n.failWaiters(now, int(d.from), int(d.to), failed, out)
	case InIdleExpire:
		return n.idleExpire(now, int(in.From), int(in.To), out)
	case InProbe:
		return n.probe(now, in.From, in.To, out)
	case InPartition:
		n.cutOff[in.From] = in.Until
	}
	return out
}

func (n *Network) deliver(out []Output, at sim.Time, in Input) []Output {
	return append(out, Output{Kind: OutDeliver, At: at, Msg: in})
}

// oneWay is a one-way peer message delay.
func (n *Network) oneWay() sim.Time {
	d := sim.Time(n.cfg.PeerRTT / 2)
	if n.cfg.PeerJitter > 0 {
		d += sim.Time(n.jitter.Int64N(int64(n.cfg.PeerJitter)))
	}
	return d
}

// healAt is when members a and b can reach each other again (in the past if
// they can now).
func (n *Network) healAt(a, b int) sim.Time { return max(n.cutOff[a], n.cutOff[b]) }

func (n *Network) resumed() bool { return n.cfg.TLSResumption && n.handshakes > 0 }

// startForward: LeaseRenew on member From asks for a connection to To.
func (n *Network) startForward(now sim.Time, in Input, out []Output) []Output {
	from, to := int(in.From), int(in.To)
	f := &n.forwards[from][in.Slot]
	f.client, f.attempt, f.live, f.onWire = in.Client, in.Attempt, true, false
	p := &n.pairs[from][to]
	w := int(n.cohort())
	ready, dials := p.pool.Acquire(now, w)
	if ready == w {
		return n.send(now, from, in.Slot, to, out)
	}
	f.to, f.need, f.held = in.To, int32(w-ready), int32(ready)
	p.waiters = append(p.waiters, waiter{slot: in.Slot, attempt: in.Attempt})
	if dials > 0 {
		out = n.startDial(now, from, to, dials, out)
	}
	return out
}

// send puts slot's forward on a connection from -> to.
func (n *Network) send(now sim.Time, from int, slot int32, to int, out []Output) []Output {
	f := &n.forwards[from][slot]
	f.onWire, f.to, f.answered, f.arrived = true, int8(to), false, false
	f.need, f.held = 0, 0
	at := now
	if heal := n.healAt(from, to); heal > now {
		// Partitioned: TCP retransmits, and the request arrives once the
		// partition heals (at a retransmission: leasesim takes the heal itself).
		at = heal
		f.lost = true
	} else {
		f.lost = false
	}
	return n.deliver(out, at+n.oneWay(), Input{Kind: InArrive, From: int8(from), To: int8(to), Slot: slot, Client: f.client, Attempt: f.attempt, Lost: f.lost})
}

// reply: the peer's handler for a forwarded renewal has run.
//
// The leader's peer listener re-arms a ConnReadTimeout (5 s) read deadline on
// every read (rafthttp/peer.go:40; client/pkg/v3 transport/timeout_conn.go), and
// net/http's server keeps a background read going while a handler runs: a
// handler that finishes more than 5 s after its request was read finds that
// read timed out, and the server closes the connection after answering
// (server-first close: TIME-WAIT on the server, or with TLS a reset). The
// follower's next forward then needs a new connection.
func (n *Network) reply(now sim.Time, in Input, out []Output) []Output {
	f := &n.forwards[in.From][in.Slot]
	p := &n.pairs[in.From][in.To]
	if !f.live || f.attempt != in.Attempt {
		// Its follower had closed the connection: the write fails, the server
		// closes its side, ending the CLOSE-WAIT.
		if f.closeWaits > 0 {
			f.closeWaits -= n.cohort()
			p.closeWait -= int(n.cohort())
		}
		return out
	}
	f.answered = true
	resp := Input{Kind: InResponse, From: in.From, To: in.To, Slot: in.Slot, Attempt: in.Attempt, TTL: in.TTL, Err: in.ErrStatus}
	if now-f.arrivedAt > sim.Time(ConnReadTimeout) && !n.cfg.HTTP2 {
		resp.Closed = true
		n.timeWait(now, &p.serverTW, int(n.cohort()))
	}
	return n.deliver(out, now+n.oneWay(), resp)
}

// response: the answer reaches the follower.
func (n *Network) response(now sim.Time, in Input, out []Output) []Output {
	f := &n.forwards[in.From][in.Slot]
	if in.Read {
		out = append(out, Output{N: n.cohort(), Kind: OutCPURelease, Member: in.From})
	}
	if !f.live || !f.onWire || f.attempt != in.Attempt {
		return out
	}
	if n.cfg.Costs.FollowerAnswer > 0 && !in.Read {
		// The follower reads the answer when its CPU gets to it.
		read := in
		read.Read = true
		return append(out, Output{N: n.cohort(), Kind: OutCPU, Member: in.From, At: now, Work: n.cfg.Costs.FollowerAnswer, HasThen: true, Msg: read})
	}
	from, to := int(in.From), int(f.to)
	if w := int(n.cohort()); in.Closed {
		p := &n.pairs[from][to]
		p.pool.Discard(w)
		p.established -= w
	} else {
		out = n.release(now, from, to, w, out)
	}
	f.live = false
	return append(out, Output{Kind: OutResult, From: in.From, Slot: in.Slot, Attempt: in.Attempt, Err: in.Err, TTL: in.TTL})
}

// cancel: the follower's LeaseRenew ran out of time.
func (n *Network) cancel(now sim.Time, in Input, out []Output) []Output {
	f := &n.forwards[in.From][in.Slot]
	if !f.live || f.attempt != in.Attempt {
		panic(fmt.Sprintf("netsim: cancel of a forward not in progress (member %d slot %d attempt %d)", in.From, in.Slot, in.Attempt))
	}
	f.live = false
	p := &n.pairs[in.From][f.to]
	if !f.onWire {
		return n.leaveQueue(now, int(in.From), f, out)
	}
	w := int(n.cohort())
	p.pool.Discard(w)
	if n.cfg.HTTP2 {
		return out // HTTP/2 resets the stream; the connection stays
	}
	// Cancelling an HTTP/1.1 request in flight closes its connection.
	n.timeWait(now, &p.clientTW, w)
	// The connection is no longer ESTABLISHED on either side.
	p.established -= w
	switch {
	case f.arrived && !f.answered:
		p.closeWait += w // the server's side, until its handler finishes
		f.closeWaits += int32(w)
	case !f.arrived && !f.lost:
		// Not yet there: the FIN follows the request down the wire; the
		// server's side goes to CLOSE-WAIT when both arrive.
		f.finAttempt = f.attempt
	}
	// Answered: the server, reading for the next request, sees the FIN and
	// closes at once.
	return out
}

// leaveQueue: forward f of member from, waiting for connections, is no longer
// wanted (cancelled, abandoned): it leaves the pool's queue, and the
// connections it held meanwhile (a cohort's) go back to the pool.
func (n *Network) leaveQueue(now sim.Time, from int, f *forward, out []Output) []Output {
	to := int(f.to)
	n.pairs[from][to].pool.CancelWaiters(int(f.need))
	held := int(f.held)
	f.need, f.held = 0, 0
	if held == 0 {
		return out
	}
	return n.release(now, from, to, held, out)
}

// release returns k connections from -> to to the pool.
func (n *Network) release(now sim.Time, from, to, k int, out []Output) []Output {
	p := &n.pairs[from][to]
	handed, closed := p.pool.Release(now, k)
	n.closeByClient(now, p, closed)
	out = n.handTo(now, from, to, handed, out)
	return n.armIdle(from, to, out)
}

// timeWait: k established connections were closed first by the side whose
// TIME-WAIT sockets tw counts. With TLS they end in a reset instead unless
// the configuration says otherwise (NetworkConfig.TLSCloseTimeWait).
func (n *Network) timeWait(now sim.Time, tw *TimeWaits, k int) {
	if n.cfg.TLSCloseTimeWait {
		tw.Add(now, k)
	}
}

// closeByClient: the follower closes k connections first.
func (n *Network) closeByClient(now sim.Time, p *pair, k int) {
	if k > 0 {
		n.timeWait(now, &p.clientTW, k)
		p.established -= k
	}
}

// handTo gives k connections to the oldest live waiters of from -> to: a
// waiter that has all it needs goes on the wire.
func (n *Network) handTo(now sim.Time, from, to, k int, out []Output) []Output {
	for k > 0 {
		slot := n.headWaiter(from, to)
		f := &n.forwards[from][slot]
		take := min(int32(k), f.need)
		f.need -= take
		f.held += take
		k -= int(take)
		if f.need == 0 {
			n.popWaiter(from, to)
			out = n.send(now, from, slot, to, out)
		}
	}
	return out
}

// failWaiters fails the oldest live waiters for k connections that will not
// come (their dials failed): each LeaseRenew attempt sleeps ForwardRetry and
// retries. A cohort's forward fails whole: the rest of its need leaves the
// queue and what it held goes back to the pool.
func (n *Network) failWaiters(now sim.Time, from, to, k int, out []Output) []Output {
	held := 0 // given back once the failed are out of the queue
	for k > 0 {
		slot := n.headWaiter(from, to)
		n.popWaiter(from, to)
		f := &n.forwards[from][slot]
		f.live = false
		take := min(int32(k), f.need)
		k -= int(take)
		n.pairs[from][to].pool.CancelWaiters(int(f.need - take))
		held += int(f.held)
		f.need, f.held = 0, 0
		out = append(out, Output{Kind: OutResult, From: int8(from), Slot: slot, Attempt: f.attempt, Err: true})
	}
	if held > 0 {
		out = n.release(now, from, to, held, out)
	}
	return out
}

// headWaiter returns the oldest forward of from -> to still waiting for a
// connection; cancelled ones (no longer counted by the pool) are dropped on
// the way.
func (n *Network) headWaiter(from, to int) int32 {
	p := &n.pairs[from][to]
	for len(p.waiters) > 0 {
		w := p.waiters[0]
		f := &n.forwards[from][w.slot]
		if f.live && !f.onWire && f.attempt == w.attempt {
			return w.slot
		}
		p.waiters = p.waiters[1:]
	}
	panic(fmt.Sprintf("netsim: pool %d->%d has a waiter the transport does not", from, to))
}

// popWaiter removes the head waiter of from -> to (headWaiter's).
func (n *Network) popWaiter(from, to int) { n.pairs[from][to].waiters = n.pairs[from][to].waiters[1:] }

// startDial dials k connections from -> to at once (k > 1: a cohort's).
func (n *Network) startDial(now sim.Time, from, to, k int, out []Output) []Output {
	p := &n.pairs[from][to]
	out = append(out, Output{Kind: OutFact, Fact: FactNewConn, N: int32(k)})
	if p.portsInUse(now) >= EphemeralPorts {
		out = append(out, Output{Kind: OutFact, Fact: FactDialError, N: int32(k)})
		_, failed, _ := p.pool.DialDone(now, k, false)
		return n.failWaiters(now, from, to, failed, out)
	}
	id := uint32(len(n.dials))
	n.dials = append(n.dials, dial{from: int8(from), to: int8(to), n: int32(k)})
	rtt := sim.Time(n.cfg.PeerRTT)
	if heal := n.healAt(from, to); heal > now {
		limit := now + sim.Time(n.cfg.DialTimeout)
		if heal >= limit {
			// SYNs are lost: the dial fails when the peer dial timeout runs out.
			n.dials[id].dead = true
			return n.deliver(out, limit, Input{Kind: InDialLost, Dial: id})
		}
		now = heal // a retransmitted SYN gets through once the partition heals
	}
	if !n.cfg.TLS {
		// TCP only: connected after a round trip; the server accepts it.
		out = append(out, Output{N: int32(k), Kind: OutCPU, Member: int8(to), At: now, Work: n.cfg.Costs.TCPAccept},
			Output{N: int32(k), Kind: OutCPURelease, Member: int8(to)})
		p.established += k
		return n.deliver(out, now+rtt, Input{Kind: InDialClientDone, Dial: id})
	}
	// SYN, SYN-ACK, ACK: connected after a round trip; the ClientHello reaches
	// the server half a round trip later. The handshake timer starts at connect.
	out = n.deliver(out, now+rtt+rtt/2, Input{Kind: InDialTCP, Dial: id})
	return n.deliver(out, now+rtt+sim.Time(TLSHandshakeTimeout), Input{Kind: InDialTimeout, Dial: id})
}

func (n *Network) dialServerDone(now sim.Time, id uint32, out []Output) []Output {
	d := &n.dials[id]
	out = append(out, Output{N: d.n, Kind: OutCPURelease, Member: d.to, Bytes: int64(n.cfg.Costs.PeerConnBytes)},
		Output{Kind: OutFact, Fact: FactHandshake, N: d.n})
	d.serverDone = true
	if d.dead {
		// The client gave up: the server reads EOF and closes, ending CLOSE-WAIT.
		n.pairs[d.from][d.to].closeWait -= int(d.n)
		return out
	}
	return n.deliver(out, now+n.oneWay(), Input{Kind: InDialFlight, Dial: id})
}

func (n *Network) dialSucceeded(now sim.Time, id uint32, out []Output) []Output {
	d := &n.dials[id]
	d.done = true
	from, to := int(d.from), int(d.to)
	p := &n.pairs[from][to]
	if n.cfg.TLS {
		p.handshaking -= int(d.n)
	}
	handed, _, closed := p.pool.DialDone(now, int(d.n), true)
	n.closeByClient(now, p, closed)
	out = n.handTo(now, from, to, handed, out)
	return n.armIdle(from, to, out)
}

func (n *Network) dialTimeout(now sim.Time, id uint32, out []Output) []Output {
	d := &n.dials[id]
	if d.done {
		return out
	}
	d.dead, d.done = true, true
	from, to := int(d.from), int(d.to)
	p := &n.pairs[from][to]
	k := int(d.n)
	out = append(out, Output{Kind: OutFact, Fact: FactHandshakeTimeout, N: d.n})
	p.handshaking -= k
	p.clientTW.Add(now, k) // the client closes first, before TLS completed: always TIME-WAIT
	p.established -= k
	if !d.serverDone {
		p.closeWait += k // the server has not got to it yet
	}
	_, failed, _ := p.pool.DialDone(now, k, false)
	return n.failWaiters(now, from, to, failed, out)
}

func (n *Network) armIdle(from, to int, out []Output) []Output {
	p := &n.pairs[from][to]
	at := p.pool.NextIdleExpiry()
	if at < 0 || (p.idleAt >= 0 && p.idleAt <= at) {
		return out
	}
	p.idleAt = at
	return n.deliver(out, at, Input{Kind: InIdleExpire, From: int8(from), To: int8(to)})
}

func (n *Network) idleExpire(now sim.Time, from, to int, out []Output) []Output {
	p := &n.pairs[from][to]
	if p.idleAt != now {
		return out
	}
	p.idleAt = -1
	if k := p.pool.ExpireIdle(now); k > 0 {
		n.timeWait(now, &p.serverTW, k) // the server closes first
		p.established -= k
	}
	return n.armIdle(from, to, out)
}

// probe: rafthttp's stream prober opens a new connection from a to b every
// ProberInterval (its round tripper keeps no idle connections:
// client/pkg transport/timeout_transport.go sets MaxIdleConnsPerHost -1 when
// read/write timeouts are set, rafthttp/util.go:59-60); a full handshake on
// both. The connection ends in a reset, not TIME-WAIT: measured on a real
// 3-member 3.7.3 cluster (leasesim calibrate), /proc/net/snmp counts 1.50
// active opens/s and 1.50 EstabResets/s (6 ordered pairs / 4 s) and
// /proc/net/tcp shows no TIME_WAIT on any peer port. (The prober decodes the
// health JSON without reading the body to its end, and a close with unread
// data sends RST.)
func (n *Network) probe(now sim.Time, a, b int8, out []Output) []Output {
	server, client := n.cfg.Costs.ProbeWork()
	out = append(out,
		Output{N: 1, Kind: OutCPU, Member: b, At: now, Work: server, Handshake: n.cfg.TLS}, Output{N: 1, Kind: OutCPURelease, Member: b},
		Output{N: 1, Kind: OutCPU, Member: a, At: now, Work: client, Handshake: n.cfg.TLS}, Output{N: 1, Kind: OutCPURelease, Member: a},
		Output{Kind: OutFact, Fact: FactProbe})
	return n.deliver(out, now+sim.Time(ProberInterval), Input{Kind: InProbe, From: a, To: b})
}

// StartProber arms rafthttp's prober (see probe): member a probes every
// other member at phases[a] and every ProberInterval after it. A member
// probes all its peers at once: it adds each peer to its prober in one loop
// when it starts (server/v3 etcdserver/server.go:430-435,
// rafthttp/transport.go:314-315), and each peer gets its own ticker from then
// (github.com/xiang90/probing prober.go:51); measured on a real 3-member
// cluster started together, all six probes of each 4 s fall within 3-73 ms
// (the members' start skew; five starts, calibrate/testdata/
// prober-phase-3.7.3.json).
func (n *Network) StartProber(phases []sim.Time, out []Output) []Output {
	for a := 0; a < n.cfg.Members; a++ {
		for b := 0; b < n.cfg.Members; b++ {
			if a != b {
				out = append(out, Output{Kind: OutDeliver, At: phases[a], Msg: Input{Kind: InProbe, From: int8(a), To: int8(b)}})
			}
		}
	}
	return out
}

// Totals are the network's connection counts over every pair, as `ss` on
// the members would count them.
type Totals struct {
	Established, CloseWait, Idle, Busy, Waiting int
	TimeWaitClient, TimeWaitServer              int
}

// Totals counts at now (connections are real ones, and the pool's waiters
// are connections wanted: a cohort's forward wants Cohort).
func (n *Network) Totals(now sim.Time) Totals {
	var t Totals
	for a := range n.pairs {
		for b := range n.pairs[a] {
			if a == b {
				continue
			}
			p := &n.pairs[a][b]
			t.Established += p.established
			t.CloseWait += p.closeWait
			t.Idle += p.pool.Idle()
			t.Busy += p.pool.Busy()
			t.Waiting += p.pool.Waiting()
			t.TimeWaitClient += p.clientTW.Count(now)
			t.TimeWaitServer += p.serverTW.Count(now)
		}
	}
	return t
}

// CheckInvariants checks the bookkeeping: no count of connections, sockets or
// waiters is negative or over its bound.
func (n *Network) CheckInvariants() error {
	for a := range n.pairs {
		for b := range n.pairs[a] {
			p := &n.pairs[a][b]
			pool := p.pool
			if p.established < 0 || p.closeWait < 0 || p.handshaking < 0 || pool.Idle() < 0 || pool.Busy() < 0 ||
				pool.Dialing() < 0 || pool.Waiting() < 0 || (!n.cfg.HTTP2 && pool.Waiting() > pool.Dialing()) {
				return fmt.Errorf("pair %d->%d: established %d close-wait %d handshaking %d idle %d busy %d dialing %d waiting %d",
					a, b, p.established, p.closeWait, p.handshaking, pool.Idle(), pool.Busy(), pool.Dialing(), pool.Waiting())
			}
			if !n.cfg.HTTP2 && pool.Idle() > pool.cfg.MaxIdle {
				return fmt.Errorf("pair %d->%d: %d idle connections, more than %d", a, b, pool.Idle(), pool.cfg.MaxIdle)
			}
		}
	}
	// The forwards waiting for connections need what the pools count as
	// waiting, and hold no more than they count as busy.
	for a := range n.forwards {
		need, held := make([]int, len(n.pairs)), make([]int, len(n.pairs))
		for i := range n.forwards[a] {
			if f := &n.forwards[a][i]; f.live && !f.onWire {
				need[f.to] += int(f.need)
				held[f.to] += int(f.held)
			}
		}
		for b := range n.pairs[a] {
			if pool := n.pairs[a][b].pool; a != b && (need[b] != pool.Waiting() || held[b] > pool.Busy()) {
				return fmt.Errorf("pair %d->%d: waiting forwards need %d connections and hold %d; the pool has %d waiting, %d busy",
					a, b, need[b], held[b], pool.Waiting(), pool.Busy())
			}
		}
	}
	return nil
}

// RaftArrival is when a raft message (a heartbeat, a vote, their answers)
// sent from member from to member to at now arrives, over the link's delay
// and jitter (jitter: the caller's stream, so that raft traffic does not
// shift the forwards' draws), or ok=false if a partition separates them.
// Raft messages travel on rafthttp's long-lived stream connections, not the
// forwarding pool (rafthttp/peer.go:337-349 pick: the streamMsg writer), so
// they cost no dial; across a partition the stream is down and the message
// is dropped (peer.go:236-262: a full or inactive writer drops it and
// reports the peer unreachable; raft sends the next heartbeat a tick later).
func (n *Network) RaftArrival(now sim.Time, from, to int, jitter *sim.Rand) (at sim.Time, ok bool) {
	if n.healAt(from, to) > now {
		return 0, false
	}
	d := sim.Time(n.cfg.PeerRTT / 2)
	if n.cfg.PeerJitter > 0 {
		d += sim.Time(jitter.Int64N(int64(n.cfg.PeerJitter)))
	}
	return now + d, true
}
