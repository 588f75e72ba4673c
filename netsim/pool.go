package netsim

import (
	"fmt"
	"time"

	"github.com/leasesim/leasesim/sim"
)

// Defaults of etcd's peer transport and of Linux.
const (
	// MaxIdleConnsPerHost of the peer round tripper
	// (go.etcd.io/etcd/client/pkg/v3 v3.7.3 transport/timeout_transport.go:39).
	MaxIdleConnsPerHost = 1024
	// TLSHandshakeTimeout of the peer transport (client/pkg/v3 transport/transport.go:50).
	TLSHandshakeTimeout = 10 * time.Second
	// ServerIdleClose: the leader closes a pooled connection that carried no
	// request for this long. etcd's peer listener re-arms a 5 s read deadline on
	// every read (rafthttp.ConnReadTimeout, server/v3 etcdserver/api/rafthttp/peer.go:40)
	// and its HTTP server sets no idle timeout, so a connection closes after
	// one deadline (~5 s) or two (~10 s), by a goroutine race in net/http's
	// background read (calibrate.TestPeerIdleCloseReplay: with a trivial
	// handler both happen). On a real 3-member 3.7.3 cluster, with etcd's own
	// leasehttp handler, it is two: reused after 9.5 s in 4 of 5 trials,
	// after 10.5 s in none (calibrate/testdata/peer-idle-close-cluster-3.7.3.json,
	// make measure WHAT=idle-close-cluster, replayed by
	// TestPeerIdleCloseClusterReplay). Until 2026-12-01 this was 9 s, from an
	// earlier check that was not saved.
	ServerIdleClose = 10 * time.Second
	// TimeWait is how long the side that closed first keeps the socket in
	// TIME-WAIT (Linux TCP_TIMEWAIT_LEN, include/net/tcp.h: 60 s).
	TimeWait = 60 * time.Second
	// EphemeralPorts: Linux's default ip_local_port_range 32768-60999.
	EphemeralPorts = 60999 - 32768 + 1
	// ConnReadTimeout: the read deadline etcd's peer listener re-arms on every
	// read (server/v3 etcdserver/api/rafthttp/peer.go:40): a forwarded
	// request whose handler ends more than this after it was read finds its
	// connection's background read timed out, and the server closes it.
	ConnReadTimeout = 5 * time.Second
	// ProberInterval: rafthttp's stream prober probes each peer every
	// ConnReadTimeout - 1 s = 4 s (server/v3 etcdserver/api/rafthttp/
	// probing_status.go:36) over a new connection: 1.50 new mTLS connections/s
	// in a 3-member cluster, each ended by a reset (measured by leasesim
	// calibrate from /proc/net/snmp).
	ProberInterval = 4 * time.Second
	// PeerHandshakeAllocBytes: what one end of an etcd peer TLS handshake
	// allocates (RSA-2048 mutual TLS, certificates re-read from disk on
	// every handshake as etcd's TLSInfo does): 183,029 B per handshake for
	// both ends together, measured on this project's 2-vCPU machine with Go
	// 1.26 (BenchmarkPeerTLSHandshake/etcd-peer/reload-cert -benchmem,
	// 2026-12-01; TestPeerHandshakeAlloc holds it within 15 %). A forwarded
	// renewal allocates 11,820 B through both members (spec.DefaultGC).
	PeerHandshakeAllocBytes = 183029 / 2
	// RaftConnsPerPeer: connections each follower keeps open to the leader's
	// peer port whatever the load: two raft stream readers (rafthttp/peer.go
	// startPeer: msgAppV2Reader and msgAppReader) and the pipeline prober's
	// kept-alive connection (rafthttp/transport.go:146; its round tripper keeps
	// idle connections, util.go:47-51). Measured on an idle 3-member 3.7.3
	// cluster: 4 ESTABLISHED into the leader's peer port, 6 from the first
	// probe (4 s) on.
	RaftConnsPerPeer = 3
)

// PoolConfig configures one client-side pool towards one host.
type PoolConfig struct {
	// MaxIdle is the idle-pool size (MaxIdleConnsPerHost). 0 means the default.
	MaxIdle int
	// Multiplexed models an HTTP/2 transport: one connection carries every
	// request, so after the first dial no request waits for a connection.
	Multiplexed bool
	// IdleClose is ServerIdleClose (0: default; < 0: never).
	IdleClose time.Duration
}

// idleGroup is a run of idle connections returned at the same instant.
type idleGroup struct {
	n        int
	lastUsed sim.Time
}

// Pool is Go's http.Transport idle-connection pool for one host, in counts.
//
// A request takes the most recently returned idle connection (the transport's
// idle list is used LIFO: net/http transport.go queueForIdleConn takes the
// newest). With none idle, it waits, and a dial starts for it; whichever comes
// first — that dial or a connection another request frees — serves the oldest
// waiter (transport.go queueForIdleConn/dialConnFor: a dial that loses the race
// puts its connection in the idle pool). A returned connection that finds no
// waiter goes idle unless MaxIdle are idle already, in which case it is closed
// (by this side: TIME-WAIT here). The host closes connections idle for longer
// than IdleClose (TIME-WAIT on the host).
type Pool struct {
	cfg     PoolConfig
	idle    []idleGroup // oldest first; LIFO use takes from the end
	nIdle   int
	waiters int // requests waiting for a connection, FIFO
	dialing int // dials in progress
	busy    int // connections carrying a request
	h2Up    bool
}

// NewPool returns an empty pool.
func NewPool(cfg PoolConfig) *Pool {
	if cfg.MaxIdle == 0 {
		cfg.MaxIdle = MaxIdleConnsPerHost
	}
	if cfg.IdleClose == 0 {
		cfg.IdleClose = ServerIdleClose
	}
	return &Pool{cfg: cfg}
}

// Acquire asks for connections for n requests at now. It returns how many got
// one at once (ready) and how many new dials to start; the rest wait and are
// served by Release or DialDone (oldest first).
func (p *Pool) Acquire(now sim.Time, n int) (ready, dials int) {
	if p.cfg.Multiplexed {
		if p.h2Up {
			p.busy += n
			return n, 0
		}
		p.waiters += n
		if p.dialing == 0 {
			p.dialing = 1
			return 0, 1
		}
		return 0, 0
	}
	for n > 0 && p.nIdle > 0 {
		g := &p.idle[len(p.idle)-1]
		take := min(n, g.n)
		g.n -= take
		p.nIdle -= take
		n -= take
		ready += take
		if g.n == 0 {
			p.idle = p.idle[:len(p.idle)-1]
		}
	}
	p.busy += ready
	p.waiters += n
	p.dialing += n
	return ready, n
}

// Release returns n connections whose requests completed at now. It reports
// how many went to waiting requests (handed) and how many were closed because
// the idle pool is full (closed, by this side).
func (p *Pool) Release(now sim.Time, n int) (handed, closed int) {
	if p.cfg.Multiplexed {
		p.busy -= n
		return 0, 0
	}
	p.busy -= n
	handed = min(n, p.waiters)
	p.waiters -= handed
	p.busy += handed
	closed = p.putIdle(now, n-handed)
	return handed, closed
}

// Discard removes n busy connections that were closed while carrying a
// request (a cancelled request closes its connection).
func (p *Pool) Discard(n int) {
	p.busy -= n
}

// DialDone reports that n dials finished at now, successfully or not. Good
// connections serve waiters first, then go idle (or are closed if the pool is
// full). A failed dial fails the oldest waiter, if any is still waiting.
// It returns how many waiters got a connection (handed), how many waiters
// failed, and how many new connections were closed at once.
func (p *Pool) DialDone(now sim.Time, n int, ok bool) (handed, failed, closed int) {
	p.dialing -= n
	if p.cfg.Multiplexed {
		if !ok {
			failed = p.waiters
			p.waiters = 0
			return 0, failed, 0
		}
		p.h2Up = true
		handed = p.waiters
		p.busy += handed
		p.waiters = 0
		return handed, 0, 0
	}
	if !ok {
		// Dials start in request order and freed connections serve the oldest
		// waiter, so the oldest dials in flight belong to requests already served
		// (dialing - waiters of them). A failure hits one of those first; only when
		// waiters outnumber the dials left does a waiter fail.
		failed = max(0, p.waiters-p.dialing)
		p.waiters -= failed
		return 0, failed, 0
	}
	handed = min(n, p.waiters)
	p.waiters -= handed
	p.busy += handed
	closed = p.putIdle(now, n-handed)
	return handed, 0, closed
}

// CancelWaiters removes n waiting requests (their context ended). Their dials
// go on and will put their connections in the pool.
func (p *Pool) CancelWaiters(n int) {
	if n > p.waiters {
		panic(fmt.Sprintf("netsim: cancel %d of %d waiters", n, p.waiters))
	}
	p.waiters -= n
}

func (p *Pool) putIdle(now sim.Time, n int) (closed int) {
	if n <= 0 {
		return 0
	}
	room := p.cfg.MaxIdle - p.nIdle
	keep := max(0, min(n, room))
	if keep > 0 {
		if k := len(p.idle); k > 0 && p.idle[k-1].lastUsed == now {
			p.idle[k-1].n += keep
		} else {
			p.idle = append(p.idle, idleGroup{n: keep, lastUsed: now})
		}
		p.nIdle += keep
	}
	return n - keep
}

// ExpireIdle closes, at now, the idle connections the host has closed for
// idleness; it returns how many. Call it at NextIdleExpiry.
func (p *Pool) ExpireIdle(now sim.Time) int {
	if p.cfg.IdleClose < 0 {
		return 0
	}
	closed := 0
	i := 0
	for ; i < len(p.idle) && p.idle[i].lastUsed+sim.Time(p.cfg.IdleClose) <= now; i++ {
		closed += p.idle[i].n
	}
	if i > 0 {
		p.idle = append(p.idle[:0], p.idle[i:]...)
		p.nIdle -= closed
	}
	return closed
}

// NextIdleExpiry is when the oldest idle connection will be closed by the
// host, or -1 if none is idle.
func (p *Pool) NextIdleExpiry() sim.Time {
	if len(p.idle) == 0 || p.cfg.IdleClose < 0 {
		return -1
	}
	return p.idle[0].lastUsed + sim.Time(p.cfg.IdleClose)
}

// Idle, Busy, Dialing and Waiting are the pool's counts.
func (p *Pool) Idle() int    { return p.nIdle }
func (p *Pool) Busy() int    { return p.busy }
func (p *Pool) Dialing() int { return p.dialing }
func (p *Pool) Waiting() int { return p.waiters }
