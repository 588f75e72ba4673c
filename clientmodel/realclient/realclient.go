// Package realclient is the real-library harness: it runs a scripted.Script
// against the real etcd client lessor (go.etcd.io/etcd/client/v3@v3.7.3) in virtual time, inside one
// testing/synctest bubble, talking gRPC over net.Pipe to an in-process fake
// etcd Lease server, and records when each keepalive request reached the
// server and when the application consumer read each response.
//
// See clientmodel/scripted/script.go for the semantics; the notes below only
// explain implementation choices. Run needs a *testing.T (synctest.Test), so
// this package is for tests only, though it is importable by any package's tests.
//
//   - The server learns which lease a stream belongs to from the connection it
//     arrived on (each client dials through its own tagged pipe), not from the
//     first request: a stream is "open" for the purpose of ResetsNs from the
//     moment the client opens it, which is up to 500 ms before its first
//     request (lease.go sendKeepAliveLoop only sends on its scan). Each
//     request's ID is still checked against the lease.
//   - Receive instants are recorded by a dedicated Recv goroutine per stream
//     that never blocks on the serial answering loop (unbounded queue), so a
//     busy server does not delay the recorded instants.
//   - Only events at t < DurationNs are recorded.
package realclient

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/leasesim/leasesim/clientmodel/scripted"
)

// Version is the client library version this harness drives (go.mod).
const Version = "v3.7.3"

// Run runs s against the real etcd client library in a fresh synctest
// bubble and returns what it did. It must be called from a test (not a
// benchmark): synctest.Test needs a *testing.T.
//
// Known tie (real-library behaviour, not a harness bug): with the zero-latency
// connection the keepalive stream opens at the KeepAlive instant, so the
// lessor's 500 ms scan grid (lease.go 586-619) and its 1 s deadlineLoop grid
// (562-583) coincide at every whole second after StartNs until the first
// stream reset shifts the scan grid. When deadlineLoop reaps a lease at such a
// tick (no answer within the deadline), whether the scan of the same instant
// still sends one last request depends on the scheduler. Scripts in which a
// lease is reaped by its deadline before any reset are therefore
// nondeterministic under Run; RunWith with a ConnectDelayNs avoids it.
func Run(t *testing.T, s scripted.Script) scripted.Result {
	t.Helper()
	return RunWith(t, s, Options{})
}

// Options are harness knobs beyond the spec; the zero value is the spec.
type Options struct {
	// ConnectDelayNs delays the client's dial (the first connection, made
	// lazily by the first KeepAlive) by this much virtual time, so the
	// keepalive stream opens ConnectDelayNs after KeepAlive. Because
	// nextKeepAlive is the KeepAlive instant (lease.go 297) the first scan then
	// sends at once, and the scan grid is offset from the deadlineLoop grid.
	ConnectDelayNs int64
}

// RunWith is Run with harness options.
func RunWith(t *testing.T, s scripted.Script, o Options) scripted.Result {
	t.Helper()
	var res scripted.Result
	synctest.Test(t, func(t *testing.T) {
		res = runBubble(t, s, o)
	})
	return res
}

// harness is the state of one run, shared by the fake server, the clients'
// dialers and the consumers. It lives inside the bubble.
type harness struct {
	t      *testing.T
	t0     time.Time
	dur    int64
	leases []*leaseState
}

// now is the virtual time since the bubble started, in ns.
// now is virtual time: inside a synctest bubble time.Now is the bubble's
// fake clock, which only moves when every goroutine in it is blocked.
func (h *harness) now() int64 { return time.Since(h.t0).Nanoseconds() }

// sleepUntil blocks until the absolute instant at (ns since t0) or until ctx
// is done; it reports whether the instant was reached.
func (h *harness) sleepUntil(ctx context.Context, at int64) bool {
	d := time.Duration(at - h.now())
	if d <= 0 {
		return ctx.Err() == nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// leaseState is one client process: its lease, then its regrants.
type leaseState struct {
	spec scripted.Lease

	mu     sync.Mutex
	grants []grantLog // per lease of the process (scripted.Lease.Grant)
	open   *srvStream // the keepalive stream currently open on the server, or nil

	stopAfterReads int // a stop-after consumer's reads over all channels (the process goroutine's)
}

// grantLog is what happened to one lease of a process.
type grantLog struct {
	nreq   int     // requests received so far, across streams (the server's i)
	reqs   []int64 // receive instants (< dur)
	reads  []int64 // consumer read instants (< dur)
	closed int64   // consumer saw the channel closed, or -1
}

// grant is the index of the process's lease whose ID is id, or -1.
func (ls *leaseState) grant(id int64) int {
	for k := range ls.spec.Grants() {
		if ls.spec.Grant(k).ID == id {
			return k
		}
	}
	return -1
}

func (ls *leaseState) recordRead(h *harness, k int) {
	now := h.now()
	if now >= h.dur {
		return
	}
	ls.mu.Lock()
	ls.grants[k].reads = append(ls.grants[k].reads, now)
	ls.mu.Unlock()
}

func (ls *leaseState) recordClosed(h *harness, k int) {
	now := h.now()
	if now >= h.dur {
		return
	}
	ls.mu.Lock()
	ls.grants[k].closed = now
	ls.mu.Unlock()
}

// srvStream is one server-side LeaseKeepAlive stream.
type srvStream struct {
	reset chan struct{} // closed by the scripted reset
	dead  bool          // reset happened; guarded by leaseState.mu
}

// ---- in-memory listener over net.Pipe ----

// leaseAddr tags the server end of a pipe with the index of the lease whose
// client dialed it; the handler finds it through peer.FromContext.
type leaseAddr int

func (a leaseAddr) Network() string { return "pipe" }
func (a leaseAddr) String() string  { return fmt.Sprintf("lease-%d", int(a)) }

type taggedConn struct {
	net.Conn
	addr leaseAddr
}

func (c taggedConn) RemoteAddr() net.Addr { return c.addr }

type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return leaseAddr(-1) }

// dialer returns the context dialer for the client of lease idx.
func (l *pipeListener) dialer(idx int, delay time.Duration) func(context.Context, string) (net.Conn, error) {
	return func(ctx context.Context, _ string) (net.Conn, error) {
		if delay > 0 {
			tm := time.NewTimer(delay)
			select {
			case <-tm.C:
			case <-ctx.Done():
				tm.Stop()
				return nil, ctx.Err()
			}
		}
		c, s := net.Pipe()
		select {
		case l.conns <- taggedConn{Conn: s, addr: leaseAddr(idx)}:
			return c, nil
		case <-l.done:
		case <-ctx.Done():
		}
		c.Close()
		s.Close()
		return nil, net.ErrClosed
	}
}

// ---- fake etcd Lease server ----

type fakeLeaseServer struct {
	pb.UnimplementedLeaseServer
	h *harness
}

type queued struct {
	req   *pb.LeaseKeepAliveRequest
	grant int // which lease of the process (scripted.Lease.Grant)
	i     int // index among all requests of that lease
}

// reqQueue is an unbounded FIFO between the Recv goroutine and the serial
// answering loop of one stream.
type reqQueue struct {
	mu     sync.Mutex
	items  []queued
	notify chan struct{} // cap 1
	done   chan struct{} // closed when Recv fails
}

func (q *reqQueue) push(it queued) {
	q.mu.Lock()
	q.items = append(q.items, it)
	q.mu.Unlock()
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

func (q *reqQueue) tryPop() (queued, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items) == 0 {
		return queued{}, false
	}
	it := q.items[0]
	q.items = q.items[1:]
	return it, true
}

var errScriptedReset = status.Error(codes.Unavailable, "leasesim: scripted reset")

// LeaseKeepAlive serves one keepalive stream like etcd's v3rpc lease.go: one
// request at a time (Recv, renew, Send), each answer after the scripted delay.
func (f *fakeLeaseServer) LeaseKeepAlive(stream pb.Lease_LeaseKeepAliveServer) error {
	h := f.h
	p, ok := peer.FromContext(stream.Context())
	if !ok {
		return status.Error(codes.Internal, "leasesim: no peer")
	}
	idx, ok := p.Addr.(leaseAddr)
	if !ok || int(idx) < 0 || int(idx) >= len(h.leases) {
		return status.Errorf(codes.Internal, "leasesim: unknown peer %v", p.Addr)
	}
	ls := h.leases[idx]

	st := &srvStream{reset: make(chan struct{})}
	ls.mu.Lock()
	ls.open = st
	ls.mu.Unlock()
	defer func() {
		ls.mu.Lock()
		if ls.open == st {
			ls.open = nil
		}
		ls.mu.Unlock()
	}()

	q := &reqQueue{notify: make(chan struct{}, 1), done: make(chan struct{})}
	go func() {
		defer close(q.done)
		for {
			req, err := stream.Recv()
			if err != nil {
				return
			}
			now := h.now()
			ls.mu.Lock()
			if st.dead {
				ls.mu.Unlock()
				return
			}
			k := ls.grant(req.ID)
			if k < 0 {
				ls.mu.Unlock()
				h.t.Errorf("lease %d: stream got keepalive for lease %d", ls.spec.ID, req.ID)
				continue
			}
			g := &ls.grants[k]
			i := g.nreq
			g.nreq++
			if now < h.dur {
				g.reqs = append(g.reqs, now)
			}
			ls.mu.Unlock()
			q.push(queued{req: req, grant: k, i: i})
		}
	}()

	if len(ls.spec.Others) > 0 {
		return h.answerEach(stream, ls, st, q)
	}
	for {
		it, ok, err := nextRequest(stream, st, q, nil, true)
		if !ok {
			return err
		}
		g := ls.spec.Grant(it.grant)
		tm := time.NewTimer(time.Duration(g.Delay(it.i)))
		select {
		case <-tm.C:
		case <-st.reset:
			tm.Stop()
			return errScriptedReset
		case <-stream.Context().Done(): // srv.Stop does not wait for handlers
			tm.Stop()
			return stream.Context().Err()
		}
		if err := stream.Send(&pb.LeaseKeepAliveResponse{ID: it.req.ID, TTL: g.TTL(it.i)}); err != nil {
			return err
		}
	}
}

// nextRequest waits for the stream's next request. ok false ends the
// handler with err: the scripted reset, the stream's end, an error a send
// reported on errc (nil: none can), or nil when the client went away
// (teardown; lastOnDone still serves a request queued by then).
func nextRequest(stream pb.Lease_LeaseKeepAliveServer, st *srvStream, q *reqQueue, errc <-chan error, lastOnDone bool) (it queued, ok bool, err error) {
	for {
		if it, ok = q.tryPop(); ok {
			return it, true, nil
		}
		select {
		case <-q.notify:
		case <-st.reset:
			return it, false, errScriptedReset
		case <-stream.Context().Done():
			return it, false, stream.Context().Err()
		case <-q.done:
			if lastOnDone {
				it, ok = q.tryPop()
				return it, ok, nil
			}
			return it, false, nil
		case err := <-errc:
			return it, false, err
		}
	}
}

// answerEach serves a process with Others: each request is answered after
// its own delay, whatever else is pending (scripted.Lease.Others), so the
// order in which the lessor's scan sent the leases due at one instant does
// not move any answer.
func (h *harness) answerEach(stream pb.Lease_LeaseKeepAliveServer, ls *leaseState, st *srvStream, q *reqQueue) error {
	var sendMu sync.Mutex // one Send at a time; finished: the handler has returned
	finished := false
	defer func() {
		sendMu.Lock()
		finished = true
		sendMu.Unlock()
	}()
	errc := make(chan error, 1)
	for {
		it, ok, err := nextRequest(stream, st, q, errc, false)
		if !ok {
			return err
		}
		g := ls.spec.Grant(it.grant)
		go func() {
			tm := time.NewTimer(time.Duration(g.Delay(it.i)))
			defer tm.Stop()
			select {
			case <-tm.C:
			case <-st.reset:
				return
			case <-stream.Context().Done():
				return
			}
			ls.mu.Lock()
			dead := st.dead
			ls.mu.Unlock()
			sendMu.Lock()
			defer sendMu.Unlock()
			if dead || finished {
				return
			}
			if err := stream.Send(&pb.LeaseKeepAliveResponse{ID: it.req.ID, TTL: g.TTL(it.i)}); err != nil {
				select {
				case errc <- err:
				default:
				}
			}
		}()
	}
}

// resetter aborts the lease's open stream at each scripted instant.
func (h *harness) resetter(ctx context.Context, ls *leaseState) {
	for _, at := range ls.spec.ResetsNs {
		if at >= h.dur || !h.sleepUntil(ctx, at) {
			return
		}
		ls.mu.Lock()
		if st := ls.open; st != nil {
			st.dead = true
			close(st.reset)
			ls.open = nil
		}
		ls.mu.Unlock()
	}
}

// ---- consumers ----

// consume reads the k-th lease's channel as the script's consumer does, and
// reports whether it saw the channel close (then the process may re-grant).
// stopAfterReads is a stop-after consumer's count of reads: the process's
// (over the channels of its regrants) or the channel's (one of Others).
func (h *harness) consume(ctx context.Context, ls *leaseState, k int, ch <-chan *clientv3.LeaseKeepAliveResponse, stopAfterReads *int) bool {
	c := ls.spec.Consumer
	drain := func() bool {
		for range ch {
			ls.recordRead(h, k)
		}
		ls.recordClosed(h, k)
		return true
	}
	switch c.Kind {
	case scripted.ConsumerDrain:
		return drain()
	case scripted.ConsumerNever:
		// Never touches the channel.
	case scripted.ConsumerRate:
		if c.PeriodNs <= 0 {
			h.t.Errorf("lease %d: rate consumer with period %d", ls.spec.ID, c.PeriodNs)
			return false
		}
		// The process's ticks, StartNs+PhaseNs+n*PeriodNs (n >= 1): a later
		// channel is read from the first tick after its KeepAlive.
		anchor, n := ls.spec.StartNs+c.PhaseNs, int64(1)
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
					ls.recordClosed(h, k)
					return true
				}
				ls.recordRead(h, k)
			default:
			}
		}
	case scripted.ConsumerPace:
		// The usual application loop: handle a response, then sleep.
		for range ch {
			ls.recordRead(h, k)
			if !h.sleepUntil(ctx, h.now()+c.PeriodNs) {
				return false
			}
		}
		ls.recordClosed(h, k)
		return true
	case scripted.ConsumerStopAfter:
		for ; *stopAfterReads < c.K; *stopAfterReads++ {
			if _, ok := <-ch; !ok {
				ls.recordClosed(h, k)
				return true
			}
			ls.recordRead(h, k)
		}
		// Stops reading forever.
	case scripted.ConsumerStall:
		for {
			now := h.now()
			if now >= c.FromNs {
				break
			}
			tm := time.NewTimer(time.Duration(c.FromNs - now))
			select {
			case _, ok := <-ch:
				tm.Stop()
				if !ok {
					ls.recordClosed(h, k)
					return true
				}
				ls.recordRead(h, k)
			case <-tm.C:
			}
		}
		if !h.sleepUntil(ctx, c.ToNs) {
			return false
		}
		return drain()
	default:
		h.t.Errorf("lease %d: unknown consumer kind %q", ls.spec.ID, c.Kind)
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

// ---- the run ----

func runBubble(t *testing.T, s scripted.Script, o Options) scripted.Result {
	h := &harness{t: t, t0: time.Now(), dur: s.DurationNs}
	for _, l := range s.Leases {
		ls := &leaseState{spec: l, grants: make([]grantLog, l.Grants())}
		for k := range ls.grants {
			ls.grants[k].closed = -1
		}
		h.leases = append(h.leases, ls)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	lis := newPipeListener()
	srv := grpc.NewServer()
	pb.RegisterLeaseServer(srv, &fakeLeaseServer{h: h})
	serveDone := make(chan struct{})
	go func() {
		defer close(serveDone)
		_ = srv.Serve(lis)
	}()

	clients := make([]*clientv3.Client, len(h.leases))
	for i := range h.leases {
		cli, err := clientv3.New(clientv3.Config{
			Endpoints:   []string{fmt.Sprintf("lease-%d:2379", i)},
			DialTimeout: 0, // NewLease: firstKeepAliveTimeout = 0+1s -> defaultTTL (lease.go:81, 203-205)
			DialOptions: []grpc.DialOption{
				grpc.WithContextDialer(lis.dialer(i, time.Duration(h.leases[i].spec.ConnectDelayNs+o.ConnectDelayNs))),
				grpc.WithTransportCredentials(insecure.NewCredentials()),
			},
			Logger: zap.NewNop(),
		})
		if err != nil {
			t.Fatalf("clientv3.New: %v", err)
		}
		clients[i] = cli
	}

	var wg sync.WaitGroup
	for i, ls := range h.leases {
		cli := clients[i]
		wg.Go(func() {
			if ls.spec.StartNs >= h.dur || !h.sleepUntil(ctx, ls.spec.StartNs) {
				return
			}
			for k := range ls.spec.Grants() {
				if k > 0 { // the agent re-grants once it has seen its channel close
					if !h.sleepUntil(ctx, h.now()+ls.spec.Regrants[k-1].AfterNs) || h.now() >= h.dur {
						return
					}
				}
				id := ls.spec.Grant(k).ID
				ch, err := cli.KeepAlive(h.keepAliveCtx(ctx, &wg, ls.spec.Grant(k).CancelAfterNs), clientv3.LeaseID(id))
				if err != nil {
					t.Errorf("lease %d: KeepAlive: %v", id, err)
					return
				}
				if !h.consume(ctx, ls, k, ch, &ls.stopAfterReads) {
					return
				}
				if len(ls.spec.Others) > 0 {
					break // the others are kept alive alongside, below
				}
			}
		})
		for k, o := range ls.spec.Others {
			wg.Go(func() {
				at := ls.spec.StartNs + o.AfterNs
				if at >= h.dur || !h.sleepUntil(ctx, at) {
					return
				}
				ch, err := cli.KeepAlive(h.keepAliveCtx(ctx, &wg, o.CancelAfterNs), clientv3.LeaseID(o.ID))
				if err != nil {
					t.Errorf("lease %d: KeepAlive: %v", o.ID, err)
					return
				}
				var reads int
				h.consume(ctx, ls, k+1, ch, &reads)
			})
		}
		if len(ls.spec.ResetsNs) > 0 {
			wg.Go(func() { h.resetter(ctx, ls) })
		}
	}

	// Run until DurationNs. Everything that happened before it has run to
	// completion by the time this sleep returns (virtual time only advances
	// when the bubble is idle); events at DurationNs itself are not recorded.
	time.Sleep(time.Duration(s.DurationNs - h.now()))
	synctest.Wait()

	res := scripted.Result{Script: s.Name, Version: Version}
	for _, ls := range h.leases {
		ls.mu.Lock()
		lr := ls.grants[0].result(ls.spec.ID)
		for k, g := range ls.spec.Regrants {
			lr.Regrants = append(lr.Regrants, ls.grants[k+1].result(g.ID))
		}
		for k, o := range ls.spec.Others {
			lr.Others = append(lr.Others, ls.grants[k+1].result(o.ID))
		}
		res.Leases = append(res.Leases, lr)
		ls.mu.Unlock()
	}

	// Teardown, in the spec's order.
	cancel()
	for _, cli := range clients {
		_ = cli.Close()
	}
	srv.Stop()
	_ = lis.Close()
	wg.Wait()
	<-serveDone
	return res
}

func (g *grantLog) result(id int64) scripted.LeaseResult {
	return scripted.LeaseResult{ID: id, Requests: scripted.Compress(g.reqs), Reads: scripted.Compress(g.reads), Closed: g.closed}
}
