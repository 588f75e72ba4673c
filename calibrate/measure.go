package calibrate

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/prometheus/client_golang/prometheus"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/leasesim/leasesim/calibrate/procstat"
	"github.com/leasesim/leasesim/calibrate/sampler"
	"github.com/leasesim/leasesim/recorder"
)

// Config is one calibration run: a client population against a real cluster.
type Config struct {
	Name        string        `json:"name"`
	Clients     int           `json:"clients"`
	TTL         time.Duration `json:"ttl"`
	Consumer    string        `json:"consumer"`  // drain | never
	Placement   string        `json:"placement"` // spread | leader | followers
	StartSpread time.Duration `json:"start_spread"`
	// Warmup: time after the clients start before the measured window
	// (default 1.5 renew periods: the window then starts half a period after a
	// renewal burst of clients started together, see RenewPeriod).
	Warmup time.Duration `json:"warmup"`
	// Window: the measured stretch, rounded up to whole renew periods so that
	// clients renewing in lockstep put the same number of bursts in it
	// whatever its phase.
	Window time.Duration `json:"window"`
	// Idle: the cluster runs this long with no clients first, to measure its
	// baseline CPU (default 20 s: its first seconds after the election are
	// not steady, 0.016-0.032 cores over the first 3 s, 0.039-0.063 over
	// the next 3, 0.028-0.047 over 20 s: testdata/idle-baseline-2026-12-01.json).
	Idle    time.Duration `json:"idle"`
	Sample  time.Duration `json:"sample"`  // sampling period (default 1 s)
	Members int           `json:"members"` // default 3
	TLS     string        `json:"tls"`     // peer mTLS key: rsa (default) | ecdsa
	Seed    uint64        `json:"seed"`
}

// DefaultIdle is the idle baseline's length (Config.Idle).
const DefaultIdle = 20 * time.Second

// Placements and consumers the harness runs.
var (
	Placements = []string{"spread", "leader", "followers"}
	Consumers  = []string{"drain", "never"}
)

// Defaults fills zero fields.
func (c *Config) Defaults() {
	if c.Consumer == "" {
		c.Consumer = "drain"
	}
	if c.Placement == "" {
		c.Placement = "spread"
	}
	p := RenewPeriod(c.TTL)
	if c.Warmup == 0 {
		c.Warmup = p + p/2
	}
	if p > 0 && c.Window%p != 0 {
		c.Window += p - c.Window%p
	}
	if c.Idle == 0 {
		c.Idle = DefaultIdle
	}
	if c.Sample == 0 {
		c.Sample = time.Second
	}
	if c.Members == 0 {
		c.Members = 3
	}
	if c.TLS == "" {
		c.TLS = "rsa"
	}
	if c.Name == "" {
		c.Name = fmt.Sprintf("%d-clients-ttl%s-%s", c.Clients, c.TTL, c.Placement)
	}
}

// Validate names the first bad field and its allowed values.
func (c Config) Validate() error {
	switch {
	case c.Clients < 1 || c.Clients > 100000:
		return fmt.Errorf("clients: %d, allowed 1 to 100000", c.Clients)
	case c.TTL < 2*time.Second || c.TTL%time.Second != 0:
		return fmt.Errorf("ttl: %s, allowed whole seconds from 2s (etcd's minimum TTL)", c.TTL)
	case !slices.Contains(Consumers, c.Consumer):
		return fmt.Errorf("consumer: %q, allowed %v", c.Consumer, Consumers)
	case !slices.Contains(Placements, c.Placement):
		return fmt.Errorf("placement: %q, allowed %v", c.Placement, Placements)
	case c.Members < 1 || c.Members > 7:
		return fmt.Errorf("members: %d, allowed 1 to 7", c.Members)
	case c.Placement == "followers" && c.Members < 2:
		return fmt.Errorf("placement: followers needs at least 2 members")
	case c.TLS != "rsa" && c.TLS != "ecdsa":
		return fmt.Errorf("tls: %q, allowed rsa, ecdsa", c.TLS)
	case c.Window < c.Sample || c.Window < time.Second:
		return fmt.Errorf("window: %s, allowed at least 1s and one sample period (%s)", c.Window, c.Sample)
	case c.StartSpread < 0 || c.Warmup < 0 || c.Idle < 0 || c.Sample <= 0:
		return fmt.Errorf("start_spread, warmup, idle and sample must not be negative")
	}
	return nil
}

// RenewPeriod is how often clientv3 renews a lease of this TTL when its
// server answers at once: the next keepalive is due TTL/3 after the response
// (client/v3 lease.go:542) and goes out at the first 500 ms scan after that
// (lease.go:586-611, sendKeepAliveLoop; the scan waits retryConnWait, 500 ms, lease.go:86, 610), i.e. the scan after TTL/3 past the
// send. TTL 5 s renews every 2 s, 30 s every 10.5 s, 60 s every 20.5 s.
func RenewPeriod(ttl time.Duration) time.Duration {
	const scan = 500 * time.Millisecond
	if ttl <= 0 {
		return 0
	}
	return (ttl/3/scan + 1) * scan
}

// Measurement is what a real cluster did over the measured window.
type Measurement struct {
	Config Config `json:"config"`
	Leader int    `json:"leader"` // member index of the leader
	Date   string `json:"date"`   // UTC day of the measurement, YYYY-MM-DD
	// WindowS: the measured stretch as sampled, from the clients' start.
	WindowFromS float64 `json:"window_from_s"`
	WindowToS   float64 `json:"window_to_s"`

	IdleServerCores float64 `json:"idle_server_cores"` // cluster CPU with no clients, in cores
	ServerCores     float64 `json:"server_cores"`      // cluster CPU over the window, in cores
	ClientCores     float64 `json:"client_cores"`      // the agent process's CPU
	// The host's CPU outside this process and the agent (/proc/stat), over
	// the idle phase and the window: other processes on a shared machine.
	// They may raise this process's own CPU too (the first 3 s idle read
	// 0.029-0.037 cores in 3 runs with 1.5-2 cores of other work, 0.016-0.032
	// in 5 quiet ones; README, calibration), so a window with more than
	// QuietOtherCores of them is suspect.
	IdleOtherCores float64 `json:"idle_other_cores,omitempty"`
	OtherCores     float64 `json:"other_cores,omitempty"`
	// WaitedForQuietS: how long the run waited for the host's other CPU to
	// fall under QuietOtherCores before starting (at most 30 s).
	WaitedForQuietS float64 `json:"waited_for_quiet_s,omitempty"`

	// Client-side keepalive sends per second, all and split by whether the
	// client's member was the leader.
	KeepAlivesPerS float64 `json:"keepalives_per_s"`
	DirectPerS     float64 `json:"direct_per_s"`
	ForwardedPerS  float64 `json:"forwarded_per_s"`
	// Server-side: keepalives received by any member, renewals by the leader.
	ServerKeepAlivesPerS float64 `json:"server_keepalives_per_s"`
	LeaderRenewalsPerS   float64 `json:"leader_renewals_per_s"`
	// StartedWithin: the spread of the clients' first keepalives. "Together"
	// is never exact: the agent calls KeepAlive from one goroutine per client,
	// and the first request waits for its stream. The prediction starts its
	// clients over the same spread.
	StartedWithinMs float64 `json:"started_within_ms"`
	// SendsPerS: client sends in each whole second from the clients' start.
	SendsPerS []int `json:"sends_per_s"`
	// BurstsPerS: runs of client sends at most wakeGap apart in the window,
	// per second (the prediction charges each a wake-up, wakeCores).
	BurstsPerS float64 `json:"bursts_per_s"`

	IntervalMs     Quantiles `json:"interval_ms"`
	RTTDirectMs    Quantiles `json:"rtt_direct_ms"`
	RTTForwardedMs Quantiles `json:"rtt_forwarded_ms"`

	PeerConns

	LeasesRevoked  int `json:"leases_revoked"`  // over the whole run
	KeysLost       int `json:"keys_lost"`       // keys missing at the end
	ChannelsClosed int `json:"channels_closed"` // clients whose KeepAlive channel closed
}

// PeerConns are the peer connections into the leader's peer port (the
// leader's side) and out to it (the followers' side), by TCP state, mean over
// the samples; the new ones; and the host's TCP opens.
type PeerConns struct {
	LeaderPeerEstablished  float64 `json:"leader_peer_established"`
	LeaderPeerTimeWait     float64 `json:"leader_peer_time_wait"`
	LeaderPeerCloseWait    float64 `json:"leader_peer_close_wait"`
	FollowerPeerTimeWait   float64 `json:"follower_peer_time_wait"`
	NewLeaderPeerConnsPerS float64 `json:"new_leader_peer_conns_per_s"`
	// TCPActiveOpensPerS: the host's outgoing connections (/proc/net/snmp),
	// everything on the machine included.
	TCPActiveOpensPerS float64 `json:"tcp_active_opens_per_s"`
}

// Quantiles of a sample, in milliseconds.
type Quantiles struct {
	Count int     `json:"count"`
	Min   float64 `json:"min"`
	P50   float64 `json:"p50"`
	P99   float64 `json:"p99"`
	Max   float64 `json:"max"`
}

// quantiles are recorder.PercentilesOf's (nearest rank, the rule of a run's
// renew intervals), so measured and predicted figures are comparable.
func quantiles(ns []int64) Quantiles {
	p := recorder.PercentilesOf(ns)
	return Quantiles{Count: int(p.Count), Min: p.Min, P50: p.P50, P99: p.P99, Max: p.Max}
}

// probe is one sample of the host and the cluster.
type probe struct {
	serverCPU, clientCPU time.Duration
	hostBusy             time.Duration
	counters             serverCounters
	inbound, outbound    map[procstat.TCPState]int
	newConns             int
	activeOpens          uint64
}

// Measure runs cfg against a real cluster and returns what it measured.
// progress receives one line per phase. Everything it starts (members, the
// agent process, the temporary directory) is gone when it returns, whatever
// the outcome, unless keepDir is set (then the directory, with the members'
// logs, is left and its path reported on progress).
func Measure(ctx context.Context, clk clock.Clock, cfg Config, keepDir bool, progress io.Writer) (m Measurement, err error) {
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return m, err
	}
	m.Config = cfg
	m.Date = clk.Now().UTC().Format("2006-01-02")
	say := func(format string, a ...any) { fmt.Fprintf(progress, format+"\n", a...) }
	dir, err := os.MkdirTemp("", "leasesim-calibrate-")
	if err != nil {
		return m, err
	}
	defer func() {
		if keepDir {
			say("kept %s", dir)
			return
		}
		os.RemoveAll(dir)
	}()
	say("%s: starting a %d-member etcd cluster (peer mTLS %s) in %s", cfg.Name, cfg.Members, cfg.TLS, dir)
	cl, err := startCluster(ctx, clk, dir, cfg.Members, cfg.TLS)
	if err != nil {
		return m, err
	}
	defer cl.Close()
	m.Leader = cl.Leader()
	leader := cl.Members[m.Leader]

	// The idle baseline runs the same sampling as the loaded window: reading
	// etcd's metrics and /proc costs CPU in this process too.
	fs := procstat.FS{Root: "/proc"}
	track := procstat.NewConnTracker(procstat.EitherEnd(leader.PeerPort))
	in, out := procstat.InboundTo(leader.PeerPort), procstat.OutboundTo(leader.PeerPort)
	agentPid := 0
	read := func(time.Time) (probe, error) {
		var p probe
		s, err := procstat.SelfRusage()
		if err != nil {
			return p, err
		}
		p.serverCPU = s.Total()
		h, err := fs.HostCPU()
		if err != nil {
			return p, err
		}
		p.hostBusy = h.Busy
		if agentPid != 0 {
			c, err := fs.ProcessCPU(agentPid)
			if err != nil {
				return p, err
			}
			p.clientCPU = c.Total()
		}
		if p.counters, err = readServerCounters(prometheus.DefaultGatherer); err != nil {
			return p, err
		}
		socks, err := fs.Sockets()
		if err != nil {
			return p, err
		}
		p.inbound, p.outbound = procstat.CountByState(socks, in), procstat.CountByState(socks, out)
		p.newConns = track.Observe(socks)
		snmp, err := fs.SNMP()
		if err != nil {
			return p, err
		}
		p.activeOpens = snmp.ActiveOpens
		return p, nil
	}
	// Other processes' CPU changes this one's (caches, the scheduler):
	// start when the host is quiet, or after 30 s, and record it.
	_, waited, err := waitForQuiet(ctx, clk, 30*time.Second, progress)
	if err != nil {
		return m, err
	}
	m.WaitedForQuietS = math.Round(waited.Seconds()*10) / 10
	if cfg.Idle > 0 {
		ictx, icancel := clk.WithTimeout(ctx, cfg.Idle+cfg.Sample/2)
		idle, err := sampler.Run(ictx, clk, min(cfg.Sample, cfg.Idle), read)
		icancel()
		if err == nil {
			err = ctx.Err()
		}
		if err != nil {
			return m, err
		}
		if len(idle) >= 2 {
			if m.IdleServerCores, err = counterRate(idle, func(p probe) float64 { return p.serverCPU.Seconds() }); err != nil {
				return m, err
			}
			m.IdleOtherCores = otherCores(idle)
		}
	}

	acfg := AgentConfig{TTL: cfg.TTL, Consumer: cfg.Consumer, StartSpread: cfg.StartSpread, Seed: cfg.Seed,
		KeyPrefix: "/leasesim/", LogFile: filepath.Join(dir, "clients.log")}
	direct := make([]bool, cfg.Clients)
	for i := range cfg.Clients {
		mi := placeClient(cfg.Placement, i, len(cl.Members), m.Leader)
		acfg.Endpoints = append(acfg.Endpoints, cl.Members[mi].ClientURL)
		direct[i] = mi == m.Leader
	}
	base, err := readServerCounters(prometheus.DefaultGatherer)
	if err != nil {
		return m, err
	}
	say("%s: leader m%d; starting %d clients (TTL %s, consumer %s, placement %s)", cfg.Name, m.Leader, cfg.Clients, cfg.TTL, cfg.Consumer, cfg.Placement)
	ag, err := startAgent(ctx, acfg, func(pid int) { say("%s: clients run in process %d", cfg.Name, pid) })
	if err != nil {
		return m, err
	}
	agentPid = ag.Pid()
	say("%s: clients started; warming up for %s", cfg.Name, cfg.Warmup)
	stopped := false
	defer func() {
		if !stopped {
			ag.kill()
		}
	}()
	if err := sleep(ctx, clk, clk.Until(ag.started.Add(cfg.Warmup))); err != nil {
		return m, err
	}
	say("%s: measuring for %s", cfg.Name, cfg.Window)
	wctx, cancel := clk.WithTimeout(ctx, cfg.Window+cfg.Sample/2)
	samples, err := sampler.Run(wctx, clk, cfg.Sample, read)
	cancel()
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return m, err
	}
	if len(samples) < 2 {
		return m, fmt.Errorf("only %d samples in the window: the sampling period (%s) is too long for it (%s)", len(samples), cfg.Sample, cfg.Window)
	}
	if l := cl.Leader(); l != m.Leader {
		// The direct/forwarded split and the leader's sockets assume one leader.
		return m, fmt.Errorf("the leader changed during the run (m%d, then m%d); its figures would mix two leaders: run it again", m.Leader, l)
	}
	first, last := samples[0], samples[len(samples)-1]
	secs := last.At.Sub(first.At).Seconds()
	for _, r := range []struct {
		dst *float64
		f   func(probe) float64
	}{
		{&m.ServerCores, func(p probe) float64 { return p.serverCPU.Seconds() }},
		{&m.ClientCores, func(p probe) float64 { return p.clientCPU.Seconds() }},
		{&m.ServerKeepAlivesPerS, func(p probe) float64 { return p.counters.KeepAlivesReceived }},
		{&m.LeaderRenewalsPerS, func(p probe) float64 { return p.counters.LeaderRenewals }},
		{&m.TCPActiveOpensPerS, func(p probe) float64 { return float64(p.activeOpens) }},
	} {
		if *r.dst, err = counterRate(samples, r.f); err != nil {
			return m, err
		}
	}
	m.OtherCores = otherCores(samples)
	var newConns int
	for _, s := range samples[1:] {
		newConns += s.V.newConns
		m.LeaderPeerEstablished += float64(s.V.inbound[procstat.TCPEstablished])
		m.LeaderPeerTimeWait += float64(s.V.inbound[procstat.TCPTimeWait])
		m.LeaderPeerCloseWait += float64(s.V.inbound[procstat.TCPCloseWait])
		m.FollowerPeerTimeWait += float64(s.V.outbound[procstat.TCPTimeWait])
	}
	n := float64(len(samples) - 1)
	m.LeaderPeerEstablished /= n
	m.LeaderPeerTimeWait /= n
	m.LeaderPeerCloseWait /= n
	m.FollowerPeerTimeWait /= n
	m.NewLeaderPeerConnsPerS = float64(newConns) / secs

	// Keys still there, read from the leader before the clients stop.
	kc, err := clientv3.New(clientv3.Config{Endpoints: []string{leader.ClientURL}, DialTimeout: 5 * time.Second, Logger: nopLogger()})
	if err != nil {
		return m, err
	}
	gctx, gcancel := context.WithTimeout(ctx, 10*time.Second)
	resp, err := kc.Get(gctx, acfg.KeyPrefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
	gcancel()
	kc.Close()
	if err != nil {
		return m, fmt.Errorf("counting the clients' keys: %w", err)
	}
	m.KeysLost = cfg.Clients - int(resp.Count)
	m.LeasesRevoked = int(last.V.counters.LeasesRevoked - base.LeasesRevoked)

	res, err := ag.stop()
	stopped = true
	if err != nil {
		return m, err
	}
	m.summarise(res, direct, ag.started, first.At, last.At)
	say("%s: done", cfg.Name)
	return m, nil
}

// counterRate is the per-second increase of one cumulative counter of the
// probes over the whole sampled stretch (sampler.Rate).
func counterRate(samples []sampler.Sample[probe], f func(probe) float64) (float64, error) {
	series := make([]sampler.Sample[float64], len(samples))
	for i, s := range samples {
		series[i] = sampler.Sample[float64]{At: s.At, V: f(s.V)}
	}
	return sampler.Rate(series, samples[0].At, samples[len(samples)-1].At)
}

// otherCores is the host's CPU outside this process and the agent over the
// samples, in cores. The host's counters tick every 10 ms (USER_HZ) while
// getrusage is exact, so between two close samples the difference can dip
// below zero: it is taken over the whole stretch only, and floored at 0.
func otherCores(samples []sampler.Sample[probe]) float64 {
	first, last := samples[0], samples[len(samples)-1]
	secs := last.At.Sub(first.At).Seconds()
	if secs <= 0 {
		return 0
	}
	d := (last.V.hostBusy - first.V.hostBusy) - (last.V.serverCPU - first.V.serverCPU) - (last.V.clientCPU - first.V.clientCPU)
	return max(0, round3(d.Seconds()/secs))
}

// placeClient is the member client i talks to.
func placeClient(placement string, i, members, leader int) int {
	switch placement {
	case "leader":
		return leader
	case "followers":
		f := i % (members - 1)
		if f >= leader {
			f++
		}
		return f
	}
	return i % members
}

// summarise derives the client-side figures of the window [from, to].
func (m *Measurement) summarise(r *AgentResult, direct []bool, started, from, to time.Time) {
	a, b := from.UnixNano(), to.UnixNano()
	m.WindowFromS, m.WindowToS = from.Sub(started).Seconds(), to.Sub(started).Seconds()
	secs := to.Sub(from).Seconds()
	var intervals, rttD, rttF []int64
	var nd, nf int
	for i, sends := range r.Sends {
		for k, t := range sends {
			if t < a || t >= b {
				continue
			}
			if direct[i] {
				nd++
			} else {
				nf++
			}
			if k > 0 {
				intervals = append(intervals, t-sends[k-1])
			}
		}
		for _, x := range r.RTTs[i] {
			if x[0] < a || x[0] >= b {
				continue
			}
			if direct[i] {
				rttD = append(rttD, x[1])
			} else {
				rttF = append(rttF, x[1])
			}
		}
		if r.Closed[i] != 0 {
			m.ChannelsClosed++
		}
	}
	m.KeepAlivesPerS = float64(nd+nf) / secs
	bd, bf := bursts(r.Sends, func(i int) bool { return !direct[i] }, a, b)
	m.BurstsPerS = float64(bd+bf) / secs
	m.DirectPerS, m.ForwardedPerS = float64(nd)/secs, float64(nf)/secs
	m.IntervalMs, m.RTTDirectMs, m.RTTForwardedMs = quantiles(intervals), quantiles(rttD), quantiles(rttF)
	first, last := int64(math.MaxInt64), int64(math.MinInt64)
	for _, sends := range r.Sends {
		if len(sends) > 0 {
			first, last = min(first, sends[0]), max(last, sends[0])
		}
	}
	if last >= first {
		m.StartedWithinMs = float64(last-first) / 1e6
	}
	s0 := started.UnixNano()
	for _, sends := range r.Sends {
		for _, t := range sends {
			if t < s0 || t >= b {
				continue
			}
			sec := int((t - s0) / int64(time.Second))
			for len(m.SendsPerS) <= sec {
				m.SendsPerS = append(m.SendsPerS, 0)
			}
			m.SendsPerS[sec]++
		}
	}
}

// sleep waits d on clk, or until ctx ends.
func sleep(ctx context.Context, clk clock.Clock, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := clk.Timer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
