package calibrate

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/leasesim/leasesim/calibrate/procstat"
	"github.com/leasesim/leasesim/calibrate/sampler"
)

// The storm measurement (issue 11, item 4): the issue's own experiment on a
// real cluster. Clients on the followers only renew every lease on every
// 500 ms scan, open loop (stormagent.go), so a follower forwards as many
// renewals at once as it has streams; when its pooled peer connections to
// the leader are all busy it dials new ones, each a full mutual-TLS handshake
// on the same 2 cores, and the handshakes delay the forwards that made them
// necessary. Terms:
//
//   - renewals/s offered: 2 x leases (one send per lease per 500 ms scan).
//   - storm second: a second with more than StormNewConnsPerS new peer
//     connections into the leader (the model's definition: `leasesim run`'s
//     reconnect storm, cmd/leasesim human.go stormPerS).
//   - big storm: a second with more than BigStormNewConnsPerS (100) new
//     peer connections. The storm set's real storms dial 1,100-2,000 in
//     their worst second; a pool refilling after its idle connections close
//     dials 10-50, which the storm second counts too. Onsets are compared on
//     big storms (BigStormOnsetOf).
//   - stormed: a run with at least one storm second in its window.
//   - episode: storm seconds no more than EpisodeGapS apart form one
//     episode; its start is its first storm second.
//   - recurrence: the median time between successive episodes' starts (0
//     with fewer than two episodes).
//   - onset: for one condition, the lowest level at which at least half of
//     the runs storm.
//   - background load: a busy loop in another process (this binary
//     re-executed with GOMAXPROCS=1), one core of other work.

// StormNewConnsPerS is the storm threshold: more new peer connections than
// this in one second.
const StormNewConnsPerS = 10

// EpisodeGapS: storm seconds at most this far apart belong to one episode.
// The real storms of the issue recur every 20-40 s; 5 s keeps one burst of
// re-dials (which can pause for a second or two while handshakes finish) as
// one episode.
const EpisodeGapS = 5

// StormConfig is one storm run.
type StormConfig struct {
	Name         string        `json:"name"`
	RenewalsPerS int           `json:"renewals_per_s"` // offered: 2 x leases
	TTL          time.Duration `json:"ttl"`
	// Background: one core of other work (a busy-loop process) for the run.
	Background bool `json:"background"`
	// BackgroundNice: the busy loop's nice value (0: as any process; 19:
	// it yields its core to the members at once, SpinNiceEnv).
	BackgroundNice int `json:"background_nice,omitempty"`
	// AgentGOGC: the agent process's GOGC (AgentConfig.GOGC; 0: the default).
	AgentGOGC int           `json:"agent_gogc,omitempty"`
	Warmup    time.Duration `json:"warmup"` // load start to window start
	Window    time.Duration `json:"window"`
	Idle      time.Duration `json:"idle"` // idle-cluster baseline
	Scan      time.Duration `json:"scan"` // 500 ms
	Ramp      time.Duration `json:"ramp"` // the leases start over this long (StormLoad.Ramp)
	Seed      uint64        `json:"seed"`
	// StreamsPerConn: lease streams per gRPC connection (see StormLoad).
	StreamsPerConn int `json:"streams_per_conn"`
}

// Leases is the number of leases the run renews: each is renewed once a
// scan, so RenewalsPerS x Scan (1,000 leases for 2,000/s at 500 ms).
func (c StormConfig) Leases() int {
	return int(int64(c.RenewalsPerS) * int64(c.Scan) / int64(time.Second))
}

// Defaults fills zero fields.
func (c *StormConfig) Defaults() {
	if c.TTL == 0 {
		c.TTL = 10 * time.Second
	}
	if c.Scan == 0 {
		c.Scan = 500 * time.Millisecond
	}
	if c.Ramp == 0 {
		c.Ramp = 5 * time.Second
	}
	// The window starts 10 s after the ramp ends: a start-up burst's extra
	// peer connections idle out in 10 s (the measured idle close,
	// testdata/peer-idle-close-cluster-3.7.3.json).
	if c.Warmup == 0 {
		c.Warmup = c.Ramp + 10*time.Second
	}
	if c.Window == 0 {
		c.Window = 60 * time.Second
	}
	if c.Idle == 0 {
		c.Idle = 2 * time.Second
	}
	if c.StreamsPerConn == 0 {
		c.StreamsPerConn = 100
	}
	if c.Name == "" {
		cond := "quiet"
		if c.Background {
			cond = "busy"
		}
		c.Name = fmt.Sprintf("storm-%s-%d", cond, c.RenewalsPerS)
	}
}

// Validate names the first bad field.
func (c StormConfig) Validate() error {
	switch {
	case c.RenewalsPerS < 2 || c.RenewalsPerS > 20000:
		return fmt.Errorf("renewals_per_s: %d, allowed 2 to 20000", c.RenewalsPerS)
	case c.TTL < 2*time.Second || c.TTL%time.Second != 0:
		return fmt.Errorf("ttl: %s, allowed whole seconds from 2s", c.TTL)
	case c.Scan <= 0 || c.Warmup < 0 || c.Idle < 0 || c.Ramp < 0 || c.Window < 2*time.Second:
		return fmt.Errorf("scan must be positive, warmup, ramp and idle not negative, window at least 2s")
	case c.StreamsPerConn < 1:
		return fmt.Errorf("streams_per_conn: %d, allowed from 1", c.StreamsPerConn)
	}
	return nil
}

// StormSecond is one sampling interval of a storm run's window, measured or
// simulated. T is the interval's end in seconds from the load's start.
type StormSecond struct {
	T    float64 `json:"t"`
	DurS float64 `json:"dur_s"`
	// Client side (the agent's sends and answers; simulated: the model's).
	SendsPerS    float64 `json:"sends_per_s"`
	AnsweredPerS float64 `json:"answered_per_s"`
	// RTT of the sends made in this interval that were answered; Unanswered:
	// the ones never answered.
	RTTP50Ms   float64 `json:"rtt_p50_ms"`
	RTTP99Ms   float64 `json:"rtt_p99_ms"`
	Unanswered int     `json:"unanswered"`
	// Server side: the leader's renewals (etcd's counter).
	LeaderRenewalsPerS float64 `json:"leader_renewals_per_s"`
	// Peer connections into the leader's peer port: new ones in the interval
	// (/proc/net/tcp, procstat.ConnTracker) and ESTABLISHED at its end.
	NewPeerConns    int `json:"new_peer_conns"`
	PeerEstablished int `json:"peer_established"`
	// CPU in cores: the members (this process), the agent, the background
	// busy loop, and the rest of the host (/proc/stat minus those three).
	ServerCores     float64 `json:"server_cores"`
	ClientCores     float64 `json:"client_cores"`
	BackgroundCores float64 `json:"background_cores"`
	OtherCores      float64 `json:"other_cores"`
	StreamErrors    int     `json:"stream_errors"`
	// LeaderChanges: changes of the agreed leader seen by the sampler;
	// LeaderChangesSeen: etcd's counter, summed over the members.
	LeaderChanges     int     `json:"leader_changes"`
	LeaderChangesSeen float64 `json:"leader_changes_seen"`
	LeasesRevoked     float64 `json:"leases_revoked"`
}

// StormDerived are the figures derived from a run's per-second series alone
// (DeriveStorm), so that they recompute from a saved file.
type StormDerived struct {
	Stormed      bool      `json:"stormed"`
	StormSeconds int       `json:"storm_seconds"`
	EpisodeStart []float64 `json:"episode_starts_s"` // from the load's start
	RecurrenceS  float64   `json:"recurrence_s"`     // median gap between episode starts; 0 if < 2
	PeakNewConns int       `json:"peak_new_conns_per_s"`
	PeakEstab    int       `json:"peak_established"`
	PeakRTTP99Ms float64   `json:"peak_rtt_p99_ms"` // worst second's p99
	// Means over the window.
	AnsweredPerS       float64 `json:"answered_per_s"`
	LeaderRenewalsPerS float64 `json:"leader_renewals_per_s"`
	NewConnsPerS       float64 `json:"new_conns_per_s"`
	Established        float64 `json:"established"`
	ServerCores        float64 `json:"server_cores"`
	PeakServerCores    float64 `json:"peak_server_cores"`
	ClientCores        float64 `json:"client_cores"`
	BackgroundCores    float64 `json:"background_cores"`
	OtherCores         float64 `json:"other_cores"`
	StreamErrors       int     `json:"stream_errors"`
	Unanswered         int     `json:"unanswered"`
	LeaderChanges      int     `json:"leader_changes"`
}

// DeriveStorm derives a run's figures from its per-second series (measured
// or simulated alike: the storm verdict is the same function for both).
func DeriveStorm(secs []StormSecond) StormDerived {
	var d StormDerived
	if len(secs) == 0 {
		return d
	}
	var dur float64
	last := math.Inf(-1)
	for _, s := range secs {
		dur += s.DurS
		if s.NewPeerConns > StormNewConnsPerS {
			d.StormSeconds++
			if s.T-last > EpisodeGapS {
				d.EpisodeStart = append(d.EpisodeStart, s.T-s.DurS)
			}
			last = s.T
		}
		d.PeakNewConns = max(d.PeakNewConns, s.NewPeerConns)
		d.PeakEstab = max(d.PeakEstab, s.PeerEstablished)
		d.PeakRTTP99Ms = max(d.PeakRTTP99Ms, s.RTTP99Ms)
		d.PeakServerCores = max(d.PeakServerCores, s.ServerCores)
		d.AnsweredPerS += s.AnsweredPerS * s.DurS
		d.LeaderRenewalsPerS += s.LeaderRenewalsPerS * s.DurS
		d.NewConnsPerS += float64(s.NewPeerConns)
		d.Established += float64(s.PeerEstablished) * s.DurS
		d.ServerCores += s.ServerCores * s.DurS
		d.ClientCores += s.ClientCores * s.DurS
		d.BackgroundCores += s.BackgroundCores * s.DurS
		d.OtherCores += s.OtherCores * s.DurS
		d.StreamErrors += s.StreamErrors
		d.Unanswered += s.Unanswered
		d.LeaderChanges += s.LeaderChanges
	}
	d.Stormed = d.StormSeconds > 0
	if n := len(d.EpisodeStart); n >= 2 {
		gaps := make([]float64, n-1)
		for i := range gaps {
			gaps[i] = d.EpisodeStart[i+1] - d.EpisodeStart[i]
		}
		sort.Float64s(gaps)
		d.RecurrenceS = gaps[(len(gaps)-1)/2] // the lower median: an observed gap
	}
	for _, p := range []*float64{&d.AnsweredPerS, &d.LeaderRenewalsPerS, &d.NewConnsPerS, &d.Established,
		&d.ServerCores, &d.ClientCores, &d.BackgroundCores, &d.OtherCores} {
		*p = round3(*p / dur)
	}
	return d
}

// StormRun is one measured storm run.
type StormRun struct {
	Config StormConfig `json:"config"`
	Leases int         `json:"leases"`
	// Leader: the member index leading when the load started (its followers
	// get the leases); LeaderAtEnd when it stopped (-1: no agreed leader).
	// New peer connections and ESTABLISHED are counted on the peer port of
	// the member leading at each sample (the last agreed one during an
	// election).
	Leader          int     `json:"leader"`
	LeaderAtEnd     int     `json:"leader_at_end"`
	IdleServerCores float64 `json:"idle_server_cores"`
	// Over the whole window, from every send in it (the per-second
	// quantiles cannot be merged).
	RTTP50Ms float64 `json:"rtt_p50_ms"`
	RTTP99Ms float64 `json:"rtt_p99_ms"`
	// Over the whole run (load start to stop).
	StreamErrorsRun int `json:"stream_errors_run"`
	NotFound        int `json:"leases_not_found"` // answered TTL <= 0
	LostAtEnd       int `json:"leases_lost_at_end"`
	LeasesRevoked   int `json:"leases_revoked_run"`
	LeaderChanges   int `json:"leader_changes_run"`
	// HostOtherBeforeCores: the host's CPU outside this process just before
	// the run (over 2 s, /proc/stat), after waiting WaitedS for it to fall
	// under QuietOtherCores (others share the machine; see waitForQuiet; the
	// campaign waits at most 30 s, then runs and records the noise).
	HostOtherBeforeCores float64 `json:"host_other_before_cores"`
	WaitedS              float64 `json:"waited_for_quiet_s"`
	// Seconds: the window, one entry per sampling interval.
	Seconds []StormSecond `json:"seconds"`
	Derived StormDerived  `json:"derived"`
}

// LeasesLost is the run's lost leases: revoked by the server or expired by
// the end, whichever says more.
func (r StormRun) LeasesLost() int { return max(r.LostAtEnd, r.LeasesRevoked, r.NotFound) }

// SpinEnv, set to "1", makes MaybeRunSpinner spin on one core forever: the
// background load of a storm run.
const SpinEnv = "LEASESIM_CALIBRATE_SPIN"

// SpinNiceEnv: the busy loop's nice value (unset: 0). At 19 Linux's
// scheduler weighs its thread 15 against a nice-0 thread's 1,024
// (kernel/sched/core.c, sched_prio_to_weight), so it yields its core to
// any runnable thread of the members almost at once, yet still runs
// whenever the core would idle.
const SpinNiceEnv = "LEASESIM_CALIBRATE_SPIN_NICE"

var spinSink uint64

// MaybeRunSpinner busy-loops (never returns) if SpinEnv is set; otherwise it
// returns at once. Test binaries and the leasesim command call it first.
func MaybeRunSpinner() {
	if os.Getenv(SpinEnv) != "1" {
		return
	}
	runtime.GOMAXPROCS(1)
	if v := os.Getenv(SpinNiceEnv); v != "" {
		// Nice is per thread on Linux: the loop's own thread, locked to it.
		runtime.LockOSThread()
		if err := setNice(v); err != nil {
			fmt.Fprintf(os.Stderr, "leasesim busy loop: %v\n", err)
			os.Exit(2)
		}
	}
	for {
		spinSink++
	}
}

// startSpinner starts the background busy loop: this executable re-executed
// with SpinEnv and GOMAXPROCS=1 (and the loop's thread at nice, when not 0),
// killed with us (PR_SET_PDEATHSIG) if we die. The caller kills it with
// stopSpinner.
func startSpinner(ctx context.Context, nice int) (*exec.Cmd, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding this executable to run the background load: %w", err)
	}
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(os.Environ(), SpinEnv+"=1", "GOMAXPROCS=1")
	if nice != 0 {
		cmd.Env = append(cmd.Env, fmt.Sprintf("%s=%d", SpinNiceEnv, nice))
	}
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the background load: %w", err)
	}
	return cmd, nil
}

func stopSpinner(cmd *exec.Cmd) {
	if cmd != nil && cmd.Process != nil {
		cmd.Process.Kill()
		cmd.Wait()
	}
}

// stormProbe is one sample.
type stormProbe struct {
	server, client, spin time.Duration
	host                 procstat.HostCPU
	counters             serverCounters
	established          int
	newConns             int
	leader               int
}

// MeasureStorm runs one storm run against a new 3-member cluster. Everything
// it starts (members, the agent, the background load, the temporary
// directory) is gone when it returns, whatever the outcome.
func MeasureStorm(ctx context.Context, clk clock.Clock, cfg StormConfig, progress io.Writer) (r StormRun, err error) {
	return measureStorm(ctx, clk, cfg, progress, stormExtras{})
}

// stormExtras lets the storm-hiccups measurement (hiccups.go) look further
// into a storm run without changing what the run does or records.
type stormExtras struct {
	// agentHiccups: the agent also records send lateness and its runtime
	// (StormLoad.Hiccups).
	agentHiccups bool
	// platformPerS: the agent also times health checks (StormLoad.PlatformPerS).
	platformPerS int
	// window, if set, gets the agent's result, the load's start and the
	// window's sample times (Unix ns; interval i is (bounds[i-1], bounds[i]],
	// StormRun.Seconds[i-1]).
	window func(res *StormResult, started time.Time, bounds []int64)
	// sampled, if set, sees each of the window's samples as it is taken:
	// its time, the new peer connections into the leader since the last and
	// how long the sample took to read (the sampler runs in the members'
	// process: its reads are work there).
	sampled func(at time.Time, newConns int, took time.Duration)
}

func measureStorm(ctx context.Context, clk clock.Clock, cfg StormConfig, progress io.Writer, ex stormExtras) (r StormRun, err error) {
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return r, err
	}
	r.Config, r.Leases = cfg, cfg.Leases()
	say := func(format string, a ...any) { fmt.Fprintf(progress, format+"\n", a...) }
	dir, err := os.MkdirTemp("", "leasesim-storm-")
	if err != nil {
		return r, err
	}
	defer func() {
		if os.Getenv("LEASESIM_STORM_KEEP") == "1" {
			say("kept %s", dir)
			return
		}
		os.RemoveAll(dir)
	}()
	cl, err := startCluster(ctx, clk, dir, 3, "rsa")
	if err != nil {
		return r, err
	}
	defer cl.Close()
	r.Leader = cl.Leader()

	// Peer connections are counted into whichever member leads at the
	// sample (an election can move it; a storm can cause one), so every
	// member's port is tracked.
	fs := procstat.FS{}
	var tracks []*procstat.ConnTracker
	var ins []func(procstat.Socket) bool
	for _, m := range cl.Members {
		tracks = append(tracks, procstat.NewConnTracker(procstat.EitherEnd(m.PeerPort)))
		ins = append(ins, procstat.InboundTo(m.PeerPort))
	}
	lastLeader := r.Leader
	agentPid, spinPid := 0, 0
	read := func(time.Time) (stormProbe, error) {
		var p stormProbe
		s, err := procstat.SelfRusage()
		if err != nil {
			return p, err
		}
		p.server = s.Total()
		for _, x := range []struct {
			pid int
			dst *time.Duration
		}{{agentPid, &p.client}, {spinPid, &p.spin}} {
			if x.pid != 0 {
				c, err := fs.ProcessCPU(x.pid)
				if err != nil {
					return p, err
				}
				*x.dst = c.Total()
			}
		}
		if p.host, err = fs.HostCPU(); err != nil {
			return p, err
		}
		if p.counters, err = readServerCounters(prometheus.DefaultGatherer); err != nil {
			return p, err
		}
		socks, err := fs.Sockets()
		if err != nil {
			return p, err
		}
		p.leader = cl.Leader()
		if p.leader >= 0 {
			lastLeader = p.leader
		}
		for i, tr := range tracks {
			n := tr.Observe(socks)
			if i == lastLeader {
				p.newConns = n
				p.established = procstat.CountByState(socks, ins[i])[procstat.TCPEstablished]
			}
		}
		return p, nil
	}
	if cfg.Idle > 0 {
		ictx, icancel := clk.WithTimeout(ctx, cfg.Idle+time.Second/2)
		idle, err := sampler.Run(ictx, clk, time.Second, read)
		icancel()
		if err == nil {
			err = ctx.Err()
		}
		if err != nil {
			return r, err
		}
		if len(idle) >= 2 {
			a, b := idle[0], idle[len(idle)-1]
			r.IdleServerCores = round3((b.V.server - a.V.server).Seconds() / b.At.Sub(a.At).Seconds())
		}
	}
	if cfg.Background {
		spin, err := startSpinner(ctx, cfg.BackgroundNice)
		if err != nil {
			return r, err
		}
		defer stopSpinner(spin)
		spinPid = spin.Process.Pid
		say("%s: background load: a busy loop in process %d (nice %d)", cfg.Name, spinPid, cfg.BackgroundNice)
	}
	acfg := AgentConfig{TTL: cfg.TTL, Seed: cfg.Seed, LogFile: filepath.Join(dir, "clients.log"), GOGC: cfg.AgentGOGC,
		Storm: &StormLoad{Scan: cfg.Scan, StreamsPerConn: cfg.StreamsPerConn, Ramp: cfg.Ramp, Hiccups: ex.agentHiccups, PlatformPerS: ex.platformPerS}}
	for i := range r.Leases {
		acfg.Endpoints = append(acfg.Endpoints, cl.Members[placeClient("followers", i, 3, r.Leader)].ClientURL)
	}
	base, err := readServerCounters(prometheus.DefaultGatherer)
	if err != nil {
		return r, err
	}
	say("%s: leader m%d; %d leases on the followers, each renewed every %s (%d renewals/s offered)", cfg.Name, r.Leader, r.Leases, cfg.Scan, cfg.RenewalsPerS)
	ag, err := startAgent(ctx, acfg, func(pid int) { agentPid = pid })
	if err != nil {
		return r, err
	}
	stopped := false
	defer func() {
		if !stopped {
			ag.kill()
		}
	}()
	if err := sleep(ctx, clk, clk.Until(ag.started.Add(cfg.Warmup))); err != nil {
		return r, err
	}
	say("%s: measuring for %s (leader m%d)", cfg.Name, cfg.Window, cl.Leader())
	wctx, cancel := clk.WithTimeout(ctx, cfg.Window+time.Second/2)
	readWindow := read
	if ex.sampled != nil {
		readWindow = func(at time.Time) (stormProbe, error) {
			p, err := read(at)
			if err == nil {
				ex.sampled(at, p.newConns, clk.Since(at))
			}
			return p, err
		}
	}
	samples, err := sampler.Run(wctx, clk, time.Second, readWindow)
	cancel()
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return r, err
	}
	if len(samples) < 2 {
		return r, fmt.Errorf("only %d samples in the window", len(samples))
	}
	r.LeaderAtEnd = cl.Leader()
	res, err := ag.stopStorm()
	stopped = true
	if err != nil {
		return r, err
	}
	end, err := readServerCounters(prometheus.DefaultGatherer)
	if err != nil {
		return r, err
	}
	r.LeasesRevoked = int(end.LeasesRevoked - base.LeasesRevoked)
	r.LeaderChanges = int(end.LeaderChangesSeen - base.LeaderChangesSeen)
	r.StreamErrorsRun, r.NotFound, r.LostAtEnd = len(res.StreamErrors), len(res.NotFound), res.LostAtEnd
	r.Seconds, r.RTTP50Ms, r.RTTP99Ms = stormSeconds(samples, res, ag.started, r.Leader)
	r.Derived = DeriveStorm(r.Seconds)
	if ex.window != nil {
		bounds := make([]int64, len(samples))
		for i, s := range samples {
			bounds[i] = s.At.UnixNano()
		}
		ex.window(res, ag.started, bounds)
	}
	say("%s: done (leader m%d): stormed %v (%d storm seconds, peak %d new conns/s), %.0f answered/s, RTT p99 %.0f ms, %d leases lost",
		cfg.Name, r.LeaderAtEnd, r.Derived.Stormed, r.Derived.StormSeconds, r.Derived.PeakNewConns, r.Derived.AnsweredPerS, r.RTTP99Ms, r.LeasesLost())
	return r, nil
}

// stormSeconds bins the samples and the agent's events into the window's
// intervals and returns them with the whole window's RTT quantiles.
func stormSeconds(samples []sampler.Sample[stormProbe], res *StormResult, started time.Time, leader int) ([]StormSecond, float64, float64) {
	bounds := make([]int64, len(samples))
	for i, s := range samples {
		bounds[i] = s.At.UnixNano()
	}
	// bin is the interval i (1-based: (bounds[i-1], bounds[i]]) holding t, or
	// 0 if t is outside the window.
	bin := func(t int64) int {
		i, _ := slices.BinarySearch(bounds, t)
		if i >= len(bounds) {
			return 0
		}
		return i
	}
	k := len(samples)
	sends, answers := make([]int, k), make([]int, k)
	unanswered, errs := make([]int, k), make([]int, k)
	rtts := make([][]int64, k)
	var all []int64
	for j, t := range res.SendAt {
		if i := bin(t); i > 0 {
			sends[i]++
			if rtt := res.RTTNs[j]; rtt >= 0 {
				rtts[i] = append(rtts[i], rtt)
				all = append(all, rtt)
			} else {
				unanswered[i]++
			}
		}
		if rtt := res.RTTNs[j]; rtt >= 0 {
			if i := bin(t + rtt); i > 0 {
				answers[i]++
			}
		}
	}
	for _, t := range res.StreamErrors {
		if i := bin(t); i > 0 {
			errs[i]++
		}
	}
	out := make([]StormSecond, 0, k-1)
	for i := 1; i < k; i++ {
		a, b := samples[i-1], samples[i]
		dt := b.At.Sub(a.At).Seconds()
		cores := func(f func(stormProbe) time.Duration) float64 { return round3((f(b.V) - f(a.V)).Seconds() / dt) }
		q := quantiles(rtts[i])
		s := StormSecond{
			T: round3(b.At.Sub(started).Seconds()), DurS: round3(dt),
			SendsPerS: round3(float64(sends[i]) / dt), AnsweredPerS: round3(float64(answers[i]) / dt),
			RTTP50Ms: q.P50, RTTP99Ms: q.P99, Unanswered: unanswered[i],
			LeaderRenewalsPerS: round3((b.V.counters.LeaderRenewals - a.V.counters.LeaderRenewals) / dt),
			NewPeerConns:       b.V.newConns, PeerEstablished: b.V.established,
			ServerCores:       cores(func(p stormProbe) time.Duration { return p.server }),
			ClientCores:       cores(func(p stormProbe) time.Duration { return p.client }),
			BackgroundCores:   cores(func(p stormProbe) time.Duration { return p.spin }),
			StreamErrors:      errs[i],
			LeaderChangesSeen: b.V.counters.LeaderChangesSeen - a.V.counters.LeaderChangesSeen,
			LeasesRevoked:     b.V.counters.LeasesRevoked - a.V.counters.LeasesRevoked,
		}
		host := cores(func(p stormProbe) time.Duration { return p.host.Busy })
		s.OtherCores = round3(max(0, host-s.ServerCores-s.ClientCores-s.BackgroundCores))
		// A new agreed leader; an interval with none (-1, an election under
		// way) is not a change by itself.
		if l := b.V.leader; l >= 0 && l != leader {
			s.LeaderChanges, leader = 1, l
		}
		out = append(out, s)
	}
	q := quantiles(all)
	return out, q.P50, q.P99
}

// StormSet is the storm measurement as saved (testdata/storm-3.7.3.json).
type StormSet struct {
	Etcd    string `json:"etcd"`
	Go      string `json:"go"`
	Date    string `json:"date"`     // UTC day the campaign started
	Machine string `json:"machine"`  // /proc/cpuinfo model name
	Cores   int    `json:"cores"`    // runtime.NumCPU
	Method  string `json:"method"`   // what was run, in words
	Wall    string `json:"wall"`     // the campaign's wall time
	Cut     string `json:"cut"`      // levels left out to keep the campaign short, and why
	Done    bool   `json:"complete"` // false while the campaign is still running
	// Conditions: "quiet" (nothing else running on purpose) and "busy" (one
	// core of other work: a busy-loop process).
	Conditions []StormCondition `json:"conditions"`
}

// StormCondition is one host condition's levels.
type StormCondition struct {
	Name       string       `json:"name"`
	Background bool         `json:"background"`
	Levels     []StormLevel `json:"levels"`
	// OnsetPerS: StormOnset of Levels; 0 if no level storms.
	OnsetPerS int `json:"onset_per_s"`
}

// StormLevel is one offered load's repeats.
type StormLevel struct {
	RenewalsPerS int        `json:"renewals_per_s"`
	Runs         []StormRun `json:"runs"`
	Stormed      int        `json:"stormed"` // runs that stormed
}

// StormOnset is the lowest level at which at least half of the runs storm
// (levels in increasing order), 0 if none.
func StormOnset(levels []StormLevel) int {
	for _, l := range levels {
		if len(l.Runs) > 0 && 2*l.Stormed >= len(l.Runs) {
			return l.RenewalsPerS
		}
	}
	return 0
}

// QuietOtherCores: a run starts only once the host's CPU outside this
// process has stayed under this for 2 s (or after maxWait): storm onset
// moves with background CPU, so a run that starts under someone else's
// build measures the build.
const QuietOtherCores = 0.25

// waitForQuiet waits (up to maxWait) until the host's CPU outside this
// process, over 2 s, is under QuietOtherCores, and returns the last reading
// and the time waited.
func waitForQuiet(ctx context.Context, clk clock.Clock, maxWait time.Duration, progress io.Writer) (other float64, waited time.Duration, err error) {
	fs := procstat.FS{}
	t0 := clk.Now()
	for {
		h0, err := fs.HostCPU()
		if err != nil {
			return 0, 0, err
		}
		s0, err := procstat.SelfRusage()
		if err != nil {
			return 0, 0, err
		}
		a := clk.Now()
		if err := sleep(ctx, clk, 2*time.Second); err != nil {
			return 0, 0, err
		}
		h1, _ := fs.HostCPU()
		s1, _ := procstat.SelfRusage()
		dt := clk.Since(a).Seconds()
		other = round3(max(0, ((h1.Busy-h0.Busy)-(s1.Total()-s0.Total())).Seconds()/dt))
		waited = clk.Since(t0)
		if other < QuietOtherCores || waited >= maxWait {
			return other, waited, nil
		}
		fmt.Fprintf(progress, "waiting for the host to quieten: %.2f cores in use by other processes\n", other)
	}
}

// StormPlan is the campaign: levels (renewals/s offered) per condition,
// StormRepeats runs each. The quiet condition adds 4,000/s if 3,000/s does
// not storm in at least half of its runs. Quiet: the real cluster
// stormed from 2,000/s; busy: from 600-1,200/s with about one core of other
// work, so the levels bracket both.
var StormPlan = []struct {
	Name       string
	Background bool
	Levels     []int
}{
	{"quiet", false, []int{1000, 1500, 2000, 3000}},
	{"busy", true, []int{400, 800, 1200, 1600}},
}

// StormRepeats: runs per level.
const StormRepeats = 3

// RunStormCampaign runs StormPlan, one MeasureStorm after another (each
// after waitForQuiet, at most 30 s), and calls save with the campaign so far
// after every run (Done false until the last), so that an interrupted
// campaign keeps its runs.
func RunStormCampaign(ctx context.Context, clk clock.Clock, progress io.Writer, save func(StormSet) error) (StormSet, error) {
	start := clk.Now()
	set := StormSet{Etcd: "3.7.3", Go: runtime.Version(), Date: start.UTC().Format("2006-01-02"), Machine: thisMachine().CPU, Cores: runtime.NumCPU(),
		Method: "3 members in one process (embed, 127.0.0.1, peer mTLS RSA); N = renewals/2 leases (TTL 10 s) on the followers only, " +
			"one raw LeaseKeepAlive stream each from an agent process, each renewed on every 500 ms scan whatever the answers (open loop, " +
			"the pre-fix v3.3.8 client once its channel is full), answers read; the leases start over a 5 s ramp; per-second samples over " +
			"a 60 s window from 15 s; busy: a busy-loop process (GOMAXPROCS=1) for the run; each run first waits up to 30 s for the host's " +
			"other CPU to fall under 0.25 cores"}
	for _, c := range StormPlan {
		cond := StormCondition{Name: c.Name, Background: c.Background}
		levels := slices.Clone(c.Levels)
		for li := 0; li < len(levels); li++ {
			lv := StormLevel{RenewalsPerS: levels[li]}
			for rep := 1; rep <= StormRepeats; rep++ {
				cfg := StormConfig{RenewalsPerS: lv.RenewalsPerS, Background: c.Background, Seed: uint64(rep),
					Name: fmt.Sprintf("storm-%s-%d-r%d", c.Name, lv.RenewalsPerS, rep)}
				other, waited, err := waitForQuiet(ctx, clk, 30*time.Second, progress)
				if err != nil {
					return set, err
				}
				r, err := MeasureStorm(ctx, clk, cfg, progress)
				if err != nil {
					return set, fmt.Errorf("%s: %w", cfg.Name, err)
				}
				r.HostOtherBeforeCores, r.WaitedS = other, waited.Round(time.Second).Seconds()
				lv.Runs = append(lv.Runs, r)
				if r.Derived.Stormed {
					lv.Stormed++
				}
				fmt.Fprintf(progress, "%s: stormed %v, episodes %v, peak %d new conns/s, ESTABLISHED peak %d, RTT p50/p99 %.0f/%.0f ms, "+
					"server %.2f client %.2f background %.2f other %.2f cores (before: %.2f), lost %d, leader changes seen %d\n",
					cfg.Name, r.Derived.Stormed, r.Derived.EpisodeStart, r.Derived.PeakNewConns, r.Derived.PeakEstab, r.RTTP50Ms, r.RTTP99Ms,
					r.Derived.ServerCores, r.Derived.ClientCores, r.Derived.BackgroundCores, r.Derived.OtherCores, other, r.LeasesLost(), r.LeaderChanges)
				partial := set
				pc := cond
				pc.Levels = append(slices.Clone(cond.Levels), lv)
				partial.Conditions = append(slices.Clone(set.Conditions), pc)
				if err := save(partial); err != nil {
					return set, err
				}
			}
			cond.Levels = append(cond.Levels, lv)
			if c.Name == "quiet" && li == len(levels)-1 && lv.RenewalsPerS == 3000 && 2*lv.Stormed < len(lv.Runs) {
				levels = append(levels, 4000)
			}
		}
		cond.OnsetPerS = StormOnset(cond.Levels)
		set.Conditions = append(set.Conditions, cond)
	}
	set.Wall = clk.Since(start).Round(time.Second).String()
	set.Done = true
	return set, save(set)
}
