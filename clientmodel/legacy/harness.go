package main

import (
	"context"
	"errors"
	"net"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/coreos/etcd/clientv3"
	pb "github.com/coreos/etcd/etcdserver/etcdserverpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// EtcdModule is the module whose version the harness reports.
const EtcdModule = "github.com/coreos/etcd"

// EtcdVersion returns the version of github.com/coreos/etcd linked into this
// binary, without "+incompatible" (e.g. "v3.3.8"), from the build info.
func EtcdVersion() (string, error) {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "", errors.New("legacy: no build info")
	}
	for _, d := range bi.Deps {
		if d.Path != EtcdModule {
			continue
		}
		v := d.Version
		if d.Replace != nil && d.Replace.Version != "" {
			v = d.Replace.Version
		}
		return strings.TrimSuffix(v, "+incompatible"), nil
	}
	return "", errors.New("legacy: " + EtcdModule + " not in build info")
}

// errReset is what a stream handler returns at a scripted reset.
var errReset = status.Error(codes.Unavailable, "leasesim: scripted reset")

// RunScript executes s against the linked etcd client inside one synctest bubble and
// returns what the client did. version is copied into Result.Version.
func RunScript(t *testing.T, s Script, version string) Result {
	t.Helper()
	var res Result
	synctest.Test(t, func(t *testing.T) {
		res = run(t, s, version)
	})
	return res
}

// harness is the state of one scenario; everything in it lives in the bubble.
type harness struct {
	t0 time.Time

	mu     sync.Mutex // guards everything below and the srvLease/srvStream fields
	byAddr map[string]*srvLease
}

// srvLease is the fake server's and the recorder's state for one client
// process: its lease, then its regrants.
type srvLease struct {
	spec   Lease
	grants []grantLog // per lease of the process (Lease.Grant)
	open   map[*srvStream]struct{}

	stopAfterReads int // a stop-after consumer's reads over all channels (the process goroutine's)
}

// grantLog is what happened to one lease of a process.
type grantLog struct {
	requests []int64 // receive instants
	reads    []int64 // consumer read instants
	closed   int64   // consumer saw the channel closed, or -1
}

// grant is the index of the process's lease whose ID is id, or -1.
func (l *srvLease) grant(id int64) int {
	for k := range l.spec.Grants() {
		if l.spec.Grant(k).ID == id {
			return k
		}
	}
	return -1
}

// pendingReq is a request received and not yet picked up: the process's
// grant-th lease's i-th request.
type pendingReq struct{ grant, i int }

// srvStream is one open LeaseKeepAlive stream on the server.
type srvStream struct {
	reset    chan struct{} // closed at a scripted reset
	wasReset bool
	pending  []pendingReq  // received, not yet picked up
	notify   chan struct{} // cap 1: pending grew
}

// now is virtual time: the harness runs inside a testing/synctest bubble, whose
// time.Now is a fake clock that only moves when every goroutine in the bubble
// is blocked. No wall clock reaches a result.
func (h *harness) now() int64 { return time.Since(h.t0).Nanoseconds() }

// sleepUntil sleeps until ns after t0; false if ctx ended first.
func (h *harness) sleepUntil(ctx context.Context, ns int64) bool {
	d := h.t0.Add(time.Duration(ns)).Sub(time.Now())
	if d > 0 {
		tm := time.NewTimer(d)
		defer tm.Stop()
		select {
		case <-tm.C:
		case <-ctx.Done():
			return false
		}
	}
	return ctx.Err() == nil
}

func leaseAddr(id int64) string { return "lease-" + strconv.FormatInt(id, 10) }

// LeaseKeepAlive is the scripted keepalive handler: one goroutine receives
// into a queue, this one answers strictly one request at a time.
func (h *harness) LeaseKeepAlive(stream pb.Lease_LeaseKeepAliveServer) error {
	ctx := stream.Context()
	p, ok := peer.FromContext(ctx)
	if !ok {
		return status.Error(codes.Internal, "leasesim: no peer")
	}
	h.mu.Lock()
	l := h.byAddr[p.Addr.String()]
	if l == nil {
		h.mu.Unlock()
		return status.Error(codes.Internal, "leasesim: unknown peer "+p.Addr.String())
	}
	st := &srvStream{reset: make(chan struct{}), notify: make(chan struct{}, 1)}
	l.open[st] = struct{}{}
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(l.open, st)
		h.mu.Unlock()
	}()

	recvDone := make(chan struct{})
	go func() {
		defer close(recvDone)
		for {
			req, err := stream.Recv()
			if err != nil {
				return
			}
			now := h.now()
			h.mu.Lock()
			if st.wasReset {
				h.mu.Unlock()
				return
			}
			k := l.grant(req.ID)
			if k < 0 {
				h.mu.Unlock()
				continue // not a lease of this process: never answered
			}
			i := len(l.grants[k].requests)
			l.grants[k].requests = append(l.grants[k].requests, now)
			st.pending = append(st.pending, pendingReq{grant: k, i: i})
			h.mu.Unlock()
			select {
			case st.notify <- struct{}{}:
			default:
			}
		}
	}()

	if len(l.spec.Others) > 0 {
		return h.answerEach(stream, l, st, recvDone)
	}
	for {
		var q pendingReq
		for got := false; !got; {
			h.mu.Lock()
			if len(st.pending) > 0 {
				q, got = st.pending[0], true
				st.pending = st.pending[1:]
			}
			h.mu.Unlock()
			if got {
				break
			}
			select {
			case <-st.notify:
			case <-st.reset:
				return errReset
			case <-recvDone:
				return nil
			}
		}
		g := l.spec.Grant(q.grant)
		tm := time.NewTimer(time.Duration(g.Delay(q.i)))
		select {
		case <-tm.C:
		case <-st.reset:
			tm.Stop()
			return errReset
		case <-ctx.Done():
			tm.Stop()
			return ctx.Err()
		}
		if err := stream.Send(&pb.LeaseKeepAliveResponse{ID: g.ID, TTL: g.TTL(q.i)}); err != nil {
			return err
		}
	}
}

// answerEach serves a process with Others: each request is answered after
// its own delay, whatever else is pending, so the order in which the lessor's
// scan sent the leases due at one instant (a map walk) moves no answer.
func (h *harness) answerEach(stream pb.Lease_LeaseKeepAliveServer, l *srvLease, st *srvStream, recvDone <-chan struct{}) error {
	ctx := stream.Context()
	var sendMu sync.Mutex // one Send at a time; finished: the handler has returned
	finished := false
	defer func() {
		sendMu.Lock()
		finished = true
		sendMu.Unlock()
	}()
	for {
		h.mu.Lock()
		pending := st.pending
		st.pending = nil
		h.mu.Unlock()
		for _, q := range pending {
			g := l.spec.Grant(q.grant)
			go func() {
				tm := time.NewTimer(time.Duration(g.Delay(q.i)))
				defer tm.Stop()
				select {
				case <-tm.C:
				case <-st.reset:
					return
				case <-ctx.Done():
					return
				}
				h.mu.Lock()
				dead := st.wasReset
				h.mu.Unlock()
				sendMu.Lock()
				defer sendMu.Unlock()
				if !dead && !finished {
					_ = stream.Send(&pb.LeaseKeepAliveResponse{ID: g.ID, TTL: g.TTL(q.i)})
				}
			}()
		}
		select {
		case <-st.notify:
		case <-st.reset:
			return errReset
		case <-recvDone:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (h *harness) LeaseGrant(context.Context, *pb.LeaseGrantRequest) (*pb.LeaseGrantResponse, error) {
	return nil, status.Error(codes.Unimplemented, "leasesim: LeaseGrant")
}

func (h *harness) LeaseRevoke(context.Context, *pb.LeaseRevokeRequest) (*pb.LeaseRevokeResponse, error) {
	return nil, status.Error(codes.Unimplemented, "leasesim: LeaseRevoke")
}

func (h *harness) LeaseTimeToLive(context.Context, *pb.LeaseTimeToLiveRequest) (*pb.LeaseTimeToLiveResponse, error) {
	return nil, status.Error(codes.Unimplemented, "leasesim: LeaseTimeToLive")
}

func (h *harness) LeaseLeases(context.Context, *pb.LeaseLeasesRequest) (*pb.LeaseLeasesResponse, error) {
	return nil, status.Error(codes.Unimplemented, "leasesim: LeaseLeases")
}

// resetLoop aborts the lease's open streams at each scripted instant.
func (h *harness) resetLoop(ctx context.Context, l *srvLease) {
	for _, r := range l.spec.ResetsNs {
		if !h.sleepUntil(ctx, r) {
			return
		}
		h.mu.Lock()
		for st := range l.open {
			if !st.wasReset {
				st.wasReset = true
				close(st.reset)
			}
		}
		h.mu.Unlock()
	}
}

func (h *harness) read(l *srvLease, k int) {
	now := h.now()
	h.mu.Lock()
	l.grants[k].reads = append(l.grants[k].reads, now)
	h.mu.Unlock()
}

func (h *harness) close(l *srvLease, k int) {
	now := h.now()
	h.mu.Lock()
	if l.grants[k].closed < 0 {
		l.grants[k].closed = now
	}
	h.mu.Unlock()
}

// consume runs the process's consumer on ch, the channel of its k-th lease,
// and reports whether it saw the channel close (then the process may
// re-grant). A rate consumer keeps the process's tick grid, a stop-after one
// counts its reads over all channels (scripted's package doc).
// stopAfterReads is a stop-after consumer's count: the process's (over its
// regrants' channels) or the channel's (one of Others).
func (h *harness) consume(ctx context.Context, l *srvLease, k int, ch <-chan *clientv3.LeaseKeepAliveResponse, stopAfterReads *int) bool {
	c := l.spec.Consumer
	drain := func() bool {
		for range ch {
			h.read(l, k)
		}
		h.close(l, k)
		return true
	}
	switch c.Kind {
	case ConsumerDrain:
		return drain()
	case ConsumerNever:
	case ConsumerRate:
		anchor, n := l.spec.StartNs+c.PhaseNs, int64(1)
		if now := h.now(); now >= anchor {
			n = (now-anchor)/c.PeriodNs + 1
		}
		for ; ; n++ {
			if !h.sleepUntil(ctx, anchor+n*c.PeriodNs) {
				return false
			}
			select {
			case _, ok := <-ch:
				if !ok {
					h.close(l, k)
					return true
				}
				h.read(l, k)
			default:
			}
		}
	case ConsumerPace:
		// The usual application loop: handle a response, then sleep.
		for range ch {
			h.read(l, k)
			if !h.sleepUntil(ctx, time.Since(h.t0).Nanoseconds()+c.PeriodNs) {
				return false
			}
		}
		h.close(l, k)
		return true
	case ConsumerStopAfter:
		for ; *stopAfterReads < c.K; *stopAfterReads++ {
			if _, ok := <-ch; !ok {
				h.close(l, k)
				return true
			}
			h.read(l, k)
		}
	case ConsumerStall:
		for {
			d := h.t0.Add(time.Duration(c.FromNs)).Sub(time.Now())
			if d <= 0 {
				break
			}
			tm := time.NewTimer(d)
			select {
			case _, ok := <-ch:
				tm.Stop()
				if !ok {
					h.close(l, k)
					return true
				}
				h.read(l, k)
			case <-tm.C:
			}
		}
		if !h.sleepUntil(ctx, c.ToNs) {
			return false
		}
		return drain()
	default:
		panic("legacy: unknown consumer kind " + strconv.Quote(c.Kind))
	}
	return false
}

// keepAliveCtx is the context a KeepAlive call gets: one the application
// cancels cancelAfterNs later (scripted.Lease.CancelAfterNs), if > 0.
func (h *harness) keepAliveCtx(ctx context.Context, wg *sync.WaitGroup, cancelAfterNs int64) context.Context {
	if cancelAfterNs <= 0 {
		return context.Background()
	}
	kctx, cancel := context.WithCancel(context.Background())
	at := h.now() + cancelAfterNs
	wg.Go(func() {
		defer cancel()
		h.sleepUntil(ctx, at)
	})
	return kctx
}

// pipeListener is an in-memory net.Listener: Accept hands out the server ends
// of net.Pipe()s made by dial.
type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

type pipeAddr string

func (a pipeAddr) Network() string { return "pipe" }
func (a pipeAddr) String() string  { return string(a) }

// leaseConn tags the server end of a client's pipe with its lease, so the
// handler knows which lease a stream belongs to before any request arrives.
type leaseConn struct {
	net.Conn
	addr pipeAddr
}

func (c leaseConn) RemoteAddr() net.Addr { return c.addr }

var errListenerClosed = errors.New("leasesim: listener closed")

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, errListenerClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr("leasesim") }

func (l *pipeListener) dial(id int64) (net.Conn, error) {
	c, s := net.Pipe()
	select {
	case l.conns <- leaseConn{Conn: s, addr: pipeAddr(leaseAddr(id))}:
		return c, nil
	case <-l.done:
		c.Close()
		s.Close()
		return nil, errListenerClosed
	}
}

func run(t *testing.T, s Script, version string) Result {
	h := &harness{t0: time.Now(), byAddr: map[string]*srvLease{}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	leases := make([]*srvLease, len(s.Leases))
	for i, spec := range s.Leases {
		l := &srvLease{spec: spec, grants: make([]grantLog, spec.Grants()), open: map[*srvStream]struct{}{}}
		for k := range l.grants {
			l.grants[k].closed = -1
		}
		leases[i] = l
		if _, dup := h.byAddr[leaseAddr(spec.ID)]; dup {
			t.Fatalf("script %s: duplicate lease ID %d", s.Name, spec.ID)
		}
		h.byAddr[leaseAddr(spec.ID)] = l
	}

	lis := newPipeListener()
	srv := grpc.NewServer()
	pb.RegisterLeaseServer(srv, h)
	var wg sync.WaitGroup
	wg.Go(func() { srv.Serve(lis) })

	// Each lease's client is made when it calls KeepAlive: grpc v1.7.5 dials
	// as soon as the client is made (not lazily at the first RPC, as modern
	// gRPC does), and the connection must come up ConnectDelayNs after
	// KeepAlive. Its dialer waits that long (virtual time) before handing out
	// the pipe, and the lessor's stream waits for the connection.
	var clients []*clientv3.Client // guarded by h.mu
	for _, l := range leases {
		wg.Go(func() { h.resetLoop(ctx, l) })
		wg.Go(func() {
			if !h.sleepUntil(ctx, l.spec.StartNs) {
				return
			}
			id := l.spec.ID
			delay := time.Duration(l.spec.ConnectDelayNs)
			cli, err := clientv3.New(clientv3.Config{
				Endpoints:   []string{"http://" + leaseAddr(id) + ":2379"},
				DialTimeout: 0, // firstKeepAliveTimeout = defaultTTL (5 s)
				DialOptions: []grpc.DialOption{
					grpc.WithDialer(func(string, time.Duration) (net.Conn, error) {
						if delay > 0 {
							tm := time.NewTimer(delay)
							defer tm.Stop()
							select {
							case <-tm.C:
							case <-ctx.Done():
								return nil, ctx.Err()
							}
						}
						return lis.dial(id)
					}),
				},
			})
			if err != nil {
				t.Errorf("script %s lease %d: clientv3.New: %v", s.Name, id, err)
				return
			}
			h.mu.Lock()
			clients = append(clients, cli)
			h.mu.Unlock()
			for k, o := range l.spec.Others {
				wg.Go(func() {
					if !h.sleepUntil(ctx, l.spec.StartNs+o.AfterNs) || h.now() >= s.DurationNs {
						return
					}
					ch, err := cli.KeepAlive(h.keepAliveCtx(ctx, &wg, o.CancelAfterNs), clientv3.LeaseID(o.ID))
					if err != nil {
						t.Errorf("script %s lease %d: KeepAlive: %v", s.Name, o.ID, err)
						return
					}
					var reads int
					h.consume(ctx, l, k+1, ch, &reads)
				})
			}
			for k := range l.spec.Grants() {
				if k > 0 { // the agent re-grants once it has seen its channel close
					if !h.sleepUntil(ctx, h.now()+l.spec.Regrants[k-1].AfterNs) || h.now() >= s.DurationNs {
						return
					}
				}
				gid := l.spec.Grant(k).ID
				ch, err := cli.KeepAlive(h.keepAliveCtx(ctx, &wg, l.spec.Grant(k).CancelAfterNs), clientv3.LeaseID(gid))
				if err != nil {
					t.Errorf("script %s lease %d: KeepAlive: %v", s.Name, gid, err)
					return
				}
				if !h.consume(ctx, l, k, ch, &l.stopAfterReads) {
					return
				}
				if len(l.spec.Others) > 0 {
					break // the others are kept alive alongside, below
				}
			}
		})
	}

	time.Sleep(h.t0.Add(time.Duration(s.DurationNs)).Sub(time.Now()))
	synctest.Wait()

	res := Result{Script: s.Name, Version: version, Leases: make([]LeaseResult, len(leases))}
	h.mu.Lock()
	for i, l := range leases {
		res.Leases[i] = l.grants[0].result(l.spec.ID, s.DurationNs)
		for k, g := range l.spec.Regrants {
			res.Leases[i].Regrants = append(res.Leases[i].Regrants, l.grants[k+1].result(g.ID, s.DurationNs))
		}
		for k, o := range l.spec.Others {
			res.Leases[i].Others = append(res.Leases[i].Others, l.grants[k+1].result(o.ID, s.DurationNs))
		}
	}
	h.mu.Unlock()

	cancel()
	h.mu.Lock()
	made := clients
	h.mu.Unlock()
	for _, cli := range made {
		cli.Close()
	}
	srv.Stop()
	lis.Close()
	wg.Wait()
	return res
}

// before returns the sorted instants < end.
func before(ts []int64, end int64) []int64 {
	var out []int64
	for _, x := range ts {
		if x < end {
			out = append(out, x)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// result is what the recorder saw of one lease before end.
func (g *grantLog) result(id, end int64) LeaseResult {
	r := LeaseResult{ID: id, Requests: Compress(before(g.requests, end)), Reads: Compress(before(g.reads, end)), Closed: g.closed}
	if g.closed >= end {
		r.Closed = -1
	}
	return r
}
