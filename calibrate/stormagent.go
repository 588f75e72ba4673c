package calibrate

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/benbjohnson/clock"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// The storm load is the agent's second mode (AgentConfig.Storm): open-loop
// keepalives, what a pre-fix v3.3.8 client does once its KeepAlive channel is
// full. That client stops moving a lease's next-renewal time forward
// (coreos/etcd v3.3.8 clientv3/lease.go:511-518, recvKeepAlive:
// nextKeepAlive is set only when the response goes into a channel with
// room), so its sendKeepAliveLoop, which scans every 500 ms (lease.go:546-576,
// `time.After(500 * time.Millisecond)` at :568), finds every lease due on
// every scan and sends it, whatever came back. A TTL <= 0 answer ends the
// lease's keepalives (lease.go:504-508); the agent does the same. The agent does
// the same without the library: one raw LeaseKeepAlive stream per lease (a
// v3.3.8 agent holds one lease, so one lessor and one stream), a send every
// scan, and a reader per stream so that the responses never stall the
// stream's flow control (the v3.3.8 lessor also reads them: it only drops
// them on the full channel).
//
// Why one stream per lease: etcd's server handles a stream's requests one at
// a time (server/v3 etcdserver/api/v3rpc/lease.go leaseKeepAlive: Recv,
// LeaseRenew, which on a follower waits for the leader's answer, Send), so
// the number of streams is the number of forwards a follower has in flight
// at once, and that is what makes it dial new peer connections. Many leases
// on a few streams would never storm.

// StormLoad configures the agent's storm mode.
type StormLoad struct {
	// Scan: the period of sends (500 ms, v3.3.8's scan).
	Scan time.Duration `json:"scan"`
	// StreamsPerConn: lease streams multiplexed on one gRPC connection (HTTP/2
	// streams); each endpoint gets ceil(leases/StreamsPerConn) connections.
	StreamsPerConn int `json:"streams_per_conn"`
	// Ramp: lease i starts sending at a uniform random offset in [0, Ramp)
	// (which also sets its scan phase), so the load grows over Ramp as
	// independent agents' clients fall into the every-scan mode one by one,
	// rather than all leases' first forwards meeting an empty peer pool at
	// once.
	Ramp time.Duration `json:"ramp"`
	// Hiccups: also record each send's lateness against its scan grid and
	// the agent's own runtime every 100 ms (StormResult.LateNs, Runtime; the
	// storm-hiccups measurement, hiccups.go).
	Hiccups bool `json:"hiccups,omitempty"`
	// PlatformPerS: also send gRPC health checks (grpc.health.v1 Check,
	// which etcd answers from its health server without touching the lease
	// path: server/v3 etcdserver/api/v3rpc/grpc.go:86-88) over each of the
	// leases' client connections this often, one at a time a connection,
	// and time them (StormResult.Platform*): the round trip of
	// the two processes, their schedulers and collectors and the loopback
	// under the storm's load, without the forward.
	PlatformPerS int `json:"platform_per_s,omitempty"`
}

// StormResult is what the storm agent saw, in wall-clock Unix ns.
type StormResult struct {
	// SendAt: every keepalive request, when the scan issued it (before Send:
	// a Send that blocks counts in the round trip). RTTNs[i] answers SendAt[i]
	// (matched per lease, first in first out: etcd answers a stream's
	// requests in order), -1 if never answered.
	SendAt []int64 `json:"send_at"`
	RTTNs  []int64 `json:"rtt_ns"`
	// StreamErrors: when a lease's stream failed (Recv or Send returned an
	// error other than the run's end); the lease opens a new stream after one
	// scan, as the v3.3.8 lessor does after its retry wait.
	StreamErrors []int64 `json:"stream_errors"`
	// NotFound: when the server first answered a lease with TTL <= 0 (the
	// lease is gone); the agent stops renewing it, as the lessor does.
	NotFound []int64 `json:"not_found"`
	// LostAtEnd: leases whose TimeToLive at the end says expired (TTL -1) or
	// fails, asked before the streams stop.
	LostAtEnd int `json:"lost_at_end"`
	// With StormLoad.Hiccups only. LateNs[i]: how late SendAt[i] is against
	// its lease's grid (the scan goroutine's Ticker start + k x Scan, the
	// latest grid point not after the send), -1 for a send off the grid (the
	// one right after a reopened stream). Runtime: the agent process's
	// runtime every 100 ms (rtmetrics.go).
	LateNs  []int64   `json:"late_ns,omitempty"`
	Runtime []RTDelta `json:"runtime,omitempty"`
	// With StormLoad.PlatformPerS only: every health check, when it was
	// sent and its round trip (-1 if it failed).
	PlatformAt  []int64 `json:"platform_at,omitempty"`
	PlatformRTT []int64 `json:"platform_rtt_ns,omitempty"`
	Leases      int     `json:"leases"`
	Stopped     int64   `json:"stopped"`
}

// stormLog collects the storm agent's events.
type stormLog struct {
	mu       sync.Mutex
	sendAt   []int64
	late     []int64
	rtt      []int64
	errs     []int64
	notFound []int64
}

func (l *stormLog) send(t, late int64) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sendAt = append(l.sendAt, t)
	l.late = append(l.late, late)
	l.rtt = append(l.rtt, -1)
	return len(l.sendAt) - 1
}

func (l *stormLog) answer(i int, t int64) {
	l.mu.Lock()
	l.rtt[i] = t - l.sendAt[i]
	l.mu.Unlock()
}

func (l *stormLog) event(dst *[]int64, t int64) {
	l.mu.Lock()
	*dst = append(*dst, t)
	l.mu.Unlock()
}

// stormLease is one lease's stream state.
type stormLease struct {
	id      int64
	cli     *clientv3.Client
	mu      sync.Mutex
	stream  pb.Lease_LeaseKeepAliveClient // nil while reopening
	pending []int                         // indexes into stormLog, oldest first
	gone    bool                          // answered TTL <= 0
}

// runStormAgent is runAgent's storm mode, after the config is read: grant
// the leases, report the start, send every scan until "stop" arrives on
// lines, then ask TimeToLive of every lease and report.
func runStormAgent(clk clock.Clock, cfg AgentConfig, lg *zap.Logger, enc *json.Encoder, lines <-chan struct{}) int {
	fail := func(err error) int {
		enc.Encode(agentMsg{Error: err.Error()})
		return 1
	}
	st := *cfg.Storm
	if st.Scan <= 0 || st.StreamsPerConn <= 0 {
		return fail(fmt.Errorf("agent: storm: scan %s and streams_per_conn %d must be positive", st.Scan, st.StreamsPerConn))
	}
	n := len(cfg.Endpoints)
	// Connections: per endpoint, one per StreamsPerConn leases.
	perEP := map[string][]int{}
	var order []string
	for i, ep := range cfg.Endpoints {
		if _, ok := perEP[ep]; !ok {
			order = append(order, ep)
		}
		perEP[ep] = append(perEP[ep], i)
	}
	leases := make([]*stormLease, n)
	var clients []*clientv3.Client
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	for _, ep := range order {
		var c *clientv3.Client
		for k, i := range perEP[ep] {
			if k%st.StreamsPerConn == 0 {
				var err error
				c, err = clientv3.New(clientv3.Config{Endpoints: []string{ep}, DialTimeout: 5 * time.Second, Logger: lg})
				if err != nil {
					return fail(fmt.Errorf("agent: storm: client for %s: %w", ep, err))
				}
				clients = append(clients, c)
			}
			leases[i] = &stormLease{cli: c}
		}
	}
	ttlSec := int64(cfg.TTL / time.Second)
	// Grant concurrently: thousands of serial raft round trips would take
	// longer than the run.
	if err := forEach(n, 32, func(i int) error {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		g, err := leases[i].cli.Grant(ctx, ttlSec)
		if err != nil {
			return fmt.Errorf("agent: storm: grant %d: %w", i, err)
		}
		leases[i].id = int64(g.ID)
		return nil
	}); err != nil {
		return fail(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	open := func(l *stormLease) error {
		s, err := pb.NewLeaseClient(l.cli.ActiveConnection()).LeaseKeepAlive(ctx)
		if err != nil {
			return err
		}
		l.mu.Lock()
		l.stream, l.pending = s, l.pending[:0]
		l.mu.Unlock()
		return nil
	}
	for i, l := range leases {
		if err := open(l); err != nil {
			return fail(fmt.Errorf("agent: storm: stream %d: %w", i, err))
		}
	}
	log := &stormLog{}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x73746f726d))
	var rts *rtSampler
	if st.Hiccups {
		rts = startRTSampler(clk, 100*time.Millisecond)
	}
	t0 := clk.Now()
	if err := enc.Encode(agentMsg{Started: t0.UnixNano()}); err != nil {
		return 1
	}
	var wg sync.WaitGroup
	var platMu sync.Mutex
	var platAt, platRTT []int64
	if st.PlatformPerS > 0 {
		seen := map[*clientv3.Client]bool{}
		for _, l := range leases {
			if seen[l.cli] {
				continue
			}
			seen[l.cli] = true
			hc := healthpb.NewHealthClient(l.cli.ActiveConnection())
			wg.Add(1)
			go func() {
				defer wg.Done()
				tick := clk.Ticker(time.Second / time.Duration(st.PlatformPerS))
				defer tick.Stop()
				for {
					select {
					case <-tick.C:
					case <-ctx.Done():
						return
					}
					at := clk.Now()
					_, err := hc.Check(ctx, &healthpb.HealthCheckRequest{})
					d := clk.Since(at).Nanoseconds()
					if err != nil {
						if ctx.Err() != nil {
							return
						}
						d = -1
					}
					platMu.Lock()
					platAt, platRTT = append(platAt, at.UnixNano()), append(platRTT, d)
					platMu.Unlock()
				}
			}()
		}
	}
	for _, l := range leases {
		// Each agent process scans on its own phase: independent processes
		// started at different times.
		phase := time.Duration(rng.Int64N(int64(max(st.Scan, st.Ramp))))
		// broken: the reader reopened the stream; the scans then send at once,
		// as v3.3.8's lessor starts a new sendKeepAliveLoop on the new stream
		// (clientv3/lease.go:467-484, resetRecv), which sends before its
		// first wait.
		broken := make(chan struct{}, 1)
		wg.Add(2)
		go func() { // the reader
			defer wg.Done()
			for ctx.Err() == nil {
				l.mu.Lock()
				s := l.stream
				l.mu.Unlock()
				if s == nil {
					// Reopen after one scan, as v3.3.8's recvKeepAliveLoop does
					// after its retryConnWait, 500 ms (clientv3/lease.go:86, 458).
					select {
					case <-clk.After(st.Scan):
					case <-ctx.Done():
						return
					}
					if err := open(l); err != nil {
						if ctx.Err() == nil {
							log.event(&log.errs, clk.Now().UnixNano())
						}
						continue
					}
					select {
					case broken <- struct{}{}:
					default:
					}
					continue
				}
				resp, err := s.Recv()
				now := clk.Now().UnixNano()
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					log.event(&log.errs, now)
					lg.Warn("storm stream", zap.Int64("lease", l.id), zap.Error(err))
					l.mu.Lock()
					l.stream = nil
					l.mu.Unlock()
					continue
				}
				l.mu.Lock()
				if len(l.pending) > 0 {
					log.answer(l.pending[0], now)
					l.pending = l.pending[1:]
				}
				first := resp.TTL <= 0 && !l.gone
				if resp.TTL <= 0 {
					l.gone = true
				}
				l.mu.Unlock()
				if first {
					log.event(&log.notFound, now)
				}
			}
		}()
		go func() { // the scans
			defer wg.Done()
			select {
			case <-clk.After(phase):
			case <-ctx.Done():
				return
			}
			// The grid: the Ticker fires at or after grid + k x Scan (k >= 1;
			// the first send, k = 0, is at once); grid is read before the
			// Ticker starts so that no tick precedes its grid point. offGrid:
			// this send follows a reopened stream, not a tick.
			grid, offGrid := clk.Now().UnixNano(), false
			tick := clk.Ticker(st.Scan)
			defer tick.Stop()
			for {
				l.mu.Lock()
				s, gone := l.stream, l.gone
				if s != nil && !gone {
					now := clk.Now().UnixNano()
					late := int64(-1)
					if !offGrid {
						late = (now - grid) % int64(st.Scan)
					}
					l.pending = append(l.pending, log.send(now, late))
				}
				l.mu.Unlock()
				if s != nil && !gone {
					// A failed Send is not counted: the stream's Recv fails too, and
					// that is the one stream error. No lock is held here, so a Send
					// that blocks on flow control does not stop the reader.
					s.Send(&pb.LeaseKeepAliveRequest{ID: l.id})
				}
				select {
				case <-tick.C:
					offGrid = false
				case <-broken:
					offGrid = true
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	<-lines // "stop" or EOF
	stopped := clk.Now().UnixNano()
	// Lost leases, asked while the streams still run.
	var lostMu sync.Mutex
	lost := 0
	forEach(n, 32, func(i int) error {
		tctx, tcancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer tcancel()
		r, err := leases[i].cli.TimeToLive(tctx, clientv3.LeaseID(leases[i].id))
		if err != nil || r.TTL <= 0 {
			lostMu.Lock()
			lost++
			lostMu.Unlock()
		}
		return nil
	})
	cancel()
	for _, c := range clients {
		c.Close()
	}
	clients = nil
	wg.Wait()
	log.mu.Lock()
	res := &StormResult{SendAt: log.sendAt, RTTNs: log.rtt, StreamErrors: log.errs, NotFound: log.notFound,
		LostAtEnd: lost, Leases: n, Stopped: stopped}
	if st.Hiccups {
		res.LateNs = log.late
	}
	res.PlatformAt, res.PlatformRTT = platAt, platRTT
	log.mu.Unlock()
	if rts != nil {
		res.Runtime = rts.stop()
	}
	if err := enc.Encode(agentMsg{Storm: res}); err != nil {
		return 1
	}
	return 0
}

// forEach runs f(0..n-1) on up to par goroutines and returns the first error.
func forEach(n, par int, f func(int) error) error {
	var (
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
	)
	next := make(chan int)
	for range min(par, max(n, 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := f(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return first
}
