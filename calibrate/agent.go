package calibrate

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"github.com/benbjohnson/clock"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"google.golang.org/grpc"
)

// The agent is the client side of a calibration run. It runs in a child
// process (the leasesim binary, or a test binary, re-executed with AgentEnv
// set) so that the server's CPU, read from the parent's /proc entry, does not
// include the clients'.

// AgentEnv, set to "1" in a process's environment, makes MaybeRunAgent run the
// calibration agent instead of the program.
const AgentEnv = "LEASESIM_CALIBRATE_AGENT"

// AgentConfig is what the parent sends the agent on its standard input.
type AgentConfig struct {
	// Endpoints holds one client URL per client: client i talks only to
	// Endpoints[i], as an agent pinned to its local member does.
	Endpoints   []string      `json:"endpoints"`
	TTL         time.Duration `json:"ttl"`
	Consumer    string        `json:"consumer"` // drain | never
	StartSpread time.Duration `json:"start_spread"`
	Seed        uint64        `json:"seed"`
	KeyPrefix   string        `json:"key_prefix"`
	LogFile     string        `json:"log_file"`
	// Storm, if set, runs the open-loop storm load (stormagent.go) instead of
	// clientv3's lessor: Endpoints then holds one entry per lease, and
	// Consumer, StartSpread and KeyPrefix are not used.
	Storm *StormLoad `json:"storm,omitempty"`
	// GOGC: the agent process's GOGC (0: the runtime's default), set when
	// it reads its config, before any client starts.
	GOGC int `json:"gogc,omitempty"`
}

// agentMsg is one line the agent writes on its standard output.
type agentMsg struct {
	// Started: every lease is granted with its key attached and KeepAlive
	// calls begin at this wall-clock time (Unix ns).
	Started int64        `json:"started,omitempty"`
	Result  *AgentResult `json:"result,omitempty"`
	Storm   *StormResult `json:"storm,omitempty"`
	Error   string       `json:"error,omitempty"`
}

// AgentResult is what the clients observed, per client, in wall-clock Unix ns.
type AgentResult struct {
	// Sends: when each LeaseKeepAliveRequest left the client (SendMsg returned).
	Sends [][]int64 `json:"sends"`
	// RTTs: for each response, the send it answers and its receive time minus
	// that send (FIFO per stream: etcd answers a stream's requests in order).
	RTTs [][][2]int64 `json:"rtts"`
	// Closed: when the KeepAlive channel closed (the client gave up: the lease
	// expired or was not found), 0 if it stayed open. Only observable for
	// consumers that read the channel.
	Closed  []int64 `json:"closed"`
	Stopped int64   `json:"stopped"`
}

// MaybeRunAgent runs the agent and exits if AgentEnv is set; otherwise it
// returns at once. Programs that may be re-executed as the agent (the leasesim
// command, test binaries of this package) call it first thing in main/TestMain.
func MaybeRunAgent() {
	if os.Getenv(AgentEnv) != "1" {
		return
	}
	os.Exit(runAgent(clock.New(), os.Stdin, os.Stdout))
}

// clientRec records one client's keepalive stream.
type clientRec struct {
	clk     clock.Clock
	mu      sync.Mutex
	sends   []int64
	pending []int64 // sends not yet answered on the current stream
	rtts    [][2]int64
	closed  int64
}

func (r *clientRec) sent(t int64) {
	r.mu.Lock()
	r.sends = append(r.sends, t)
	r.pending = append(r.pending, t)
	r.mu.Unlock()
}

func (r *clientRec) received(t int64) {
	r.mu.Lock()
	if len(r.pending) > 0 {
		r.rtts = append(r.rtts, [2]int64{r.pending[0], t - r.pending[0]})
		r.pending = r.pending[1:]
	}
	r.mu.Unlock()
}

func (r *clientRec) newStream() {
	r.mu.Lock()
	r.pending = r.pending[:0]
	r.mu.Unlock()
}

// keepAliveMethod is the gRPC method clientv3's lessor streams keepalives on.
const keepAliveMethod = "/etcdserverpb.Lease/LeaseKeepAlive"

// interceptor times the keepalive stream's messages on the client.
func (r *clientRec) interceptor(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	s, err := streamer(ctx, desc, cc, method, opts...)
	if err != nil || method != keepAliveMethod {
		return s, err
	}
	r.newStream()
	return &recStream{ClientStream: s, rec: r}, nil
}

type recStream struct {
	grpc.ClientStream
	rec *clientRec
}

func (s *recStream) SendMsg(m any) error {
	err := s.ClientStream.SendMsg(m)
	if err == nil {
		s.rec.sent(s.rec.clk.Now().UnixNano())
	}
	return err
}

func (s *recStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if err == nil {
		s.rec.received(s.rec.clk.Now().UnixNano())
	}
	return err
}

// runAgent reads an AgentConfig from in, starts the clients, reports when
// they started, and runs until in says "stop" or closes; then it writes the
// result and returns the exit status.
func runAgent(clk clock.Clock, in io.Reader, out io.Writer) int {
	enc := json.NewEncoder(out)
	fail := func(err error) int {
		enc.Encode(agentMsg{Error: err.Error()})
		return 1
	}
	br := bufio.NewReader(in)
	line, err := br.ReadBytes('\n')
	if err != nil {
		return fail(fmt.Errorf("agent: reading config: %w", err))
	}
	var cfg AgentConfig
	if err := json.Unmarshal(line, &cfg); err != nil {
		return fail(fmt.Errorf("agent: config: %w", err))
	}
	if cfg.GOGC > 0 {
		debug.SetGCPercent(cfg.GOGC)
	}
	lg, closeLog, err := fileLogger(cfg.LogFile)
	if err != nil {
		return fail(err)
	}
	defer closeLog()
	if cfg.Storm != nil {
		stop := make(chan struct{})
		go func() {
			for {
				l, err := br.ReadString('\n')
				if err != nil || l == "stop\n" {
					close(stop)
					return
				}
			}
		}()
		return runStormAgent(clk, cfg, lg, enc, stop)
	}

	n := len(cfg.Endpoints)
	recs := make([]*clientRec, n)
	clients := make([]*clientv3.Client, n)
	ids := make([]clientv3.LeaseID, n)
	defer func() {
		for _, c := range clients {
			if c != nil {
				c.Close()
			}
		}
	}()
	// Set up every client, lease and key before any KeepAlive: "started
	// together" then means within the loop below, not across n Grant round trips.
	ttlSec := int64(cfg.TTL / time.Second)
	for i := range n {
		recs[i] = &clientRec{clk: clk}
		c, err := clientv3.New(clientv3.Config{
			Endpoints:   []string{cfg.Endpoints[i]},
			DialTimeout: 5 * time.Second,
			Logger:      lg,
			DialOptions: []grpc.DialOption{grpc.WithStreamInterceptor(recs[i].interceptor)},
		})
		if err != nil {
			return fail(fmt.Errorf("agent: client %d: %w", i, err))
		}
		clients[i] = c
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		g, err := c.Grant(ctx, ttlSec)
		if err == nil {
			ids[i] = g.ID
			_, err = c.Put(ctx, fmt.Sprintf("%s%05d", cfg.KeyPrefix, i), "alive", clientv3.WithLease(g.ID))
		}
		cancel()
		if err != nil {
			return fail(fmt.Errorf("agent: client %d: grant/put: %w", i, err))
		}
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x6c65617365))
	offsets := make([]time.Duration, n)
	if cfg.StartSpread > 0 {
		for i := range offsets {
			offsets[i] = time.Duration(rng.Int64N(int64(cfg.StartSpread)))
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	t0 := clk.Now()
	if err := enc.Encode(agentMsg{Started: t0.UnixNano()}); err != nil {
		return 1
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if d := offsets[i]; d > 0 {
				select {
				case <-clk.After(d):
				case <-ctx.Done():
					return
				}
			}
			ch, err := clients[i].KeepAlive(ctx, ids[i])
			if err != nil {
				lg.Warn("keepalive", zap.Int("client", i), zap.Error(err))
				return
			}
			if cfg.Consumer == "never" {
				return // the 2018 agents: nobody reads ch
			}
			for range ch {
			}
			if ctx.Err() == nil {
				recs[i].mu.Lock()
				recs[i].closed = clk.Now().UnixNano()
				recs[i].mu.Unlock()
			}
		}()
	}
	// Run until told to stop (or the parent goes away: EOF).
	for {
		l, err := br.ReadString('\n')
		if err != nil || l == "stop\n" {
			break
		}
	}
	stopped := clk.Now().UnixNano()
	cancel()
	res := &AgentResult{Stopped: stopped, Sends: make([][]int64, n), RTTs: make([][][2]int64, n), Closed: make([]int64, n)}
	for i, r := range recs {
		r.mu.Lock()
		res.Sends[i], res.RTTs[i], res.Closed[i] = r.sends, r.rtts, r.closed
		r.mu.Unlock()
	}
	if err := enc.Encode(agentMsg{Result: res}); err != nil {
		return 1
	}
	return 0
}

// fileLogger logs warnings to path: a never-read channel makes clientv3 log
// one line per dropped response (lease.go: "lease keepalive response queue is
// full; dropping response send"), far too many for a terminal.
func fileLogger(path string) (*zap.Logger, func(), error) {
	if path == "" {
		return zap.NewNop(), func() {}, nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("agent: log file: %w", err)
	}
	core := zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(f), zap.WarnLevel)
	return zap.New(core), func() { f.Close() }, nil
}

func nopLogger() *zap.Logger { return zap.NewNop() }
