package calibrate

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"time"

	"github.com/leasesim/leasesim/netsim"
	"github.com/leasesim/leasesim/recorder"
	"github.com/leasesim/leasesim/scenario"
	"github.com/leasesim/leasesim/spec"
)

// ClientVersion is the clientv3 the agent links (go.mod pins it); the model
// simulates the same version's lessor.
const ClientVersion = "v3.7.3"

// Prediction is leasesim's answer for a measured run, in the Measurement's terms.
type Prediction struct {
	Spec spec.Spec `json:"-"`

	// ServerCores: BaseCores + LoadCores.
	ServerCores float64 `json:"server_cores"`
	// BaseCores: the idle cluster the loaded figure stands on: the
	// measurement's idle baseline if it has one, else IdleServerCores.
	BaseCores float64 `json:"base_cores"`
	// LoadCores: what the clients add: the simulated members' CPU less the
	// model's idle cluster (IdleServerCores), plus WakeCores.
	LoadCores float64 `json:"load_cores"`
	// WakeCores: the CPU of waking the idle process for each burst of
	// renewals (wakeCores), which the simulator does not charge.
	WakeCores          float64   `json:"wake_cores"`
	BurstsPerS         float64   `json:"bursts_per_s"`
	IdleServerCores    float64   `json:"idle_server_cores"`
	KeepAlivesPerS     float64   `json:"keepalives_per_s"`
	DirectPerS         float64   `json:"direct_per_s"`
	ForwardedPerS      float64   `json:"forwarded_per_s"`
	LeaderRenewalsPerS float64   `json:"leader_renewals_per_s"`
	SendsPerS          []int     `json:"sends_per_s"`
	IntervalMs         Quantiles `json:"interval_ms"`
	RTTDirectMs        Quantiles `json:"rtt_direct_ms"`
	RTTForwardedMs     Quantiles `json:"rtt_forwarded_ms"`
	PeerConns
	LeasesExpired int `json:"leases_expired"`
	KeysLost      int `json:"keys_lost"`
}

// Loopback round trips for the prediction: the fastest keepalive round trips
// the 18 runs of `make calibrate` measured (calibrate/testdata): 54 µs direct
// (client <-> leader, gRPC on 127.0.0.1, the renewal included) and 143 µs
// forwarded (plus the follower -> leader HTTP round trip).
const (
	loopbackClientRTT = 50 * time.Microsecond
	loopbackPeerRTT   = 90 * time.Microsecond
)

// modelPlacement maps the harness's placement to the scenario's.
var modelPlacement = map[string]string{"spread": "round-robin", "leader": "leader", "followers": "followers"}

// SpecFor is the scenario that simulates a measured run: the same clients,
// TTL, consumer, placement, members, leader and peer TLS, and the start
// spread the clients really had (at least the one asked for).
// The members share the machine's cores (cluster.shared_cpu), as the
// in-process members do: when new peer connections' handshakes pile up, the
// leader and both followers queue for the same cores.
func SpecFor(m Measurement, params string) spec.Spec {
	c := m.Config
	dur := time.Duration(math.Ceil(m.WindowToS)+1) * time.Second
	return spec.Spec{
		Name:     "calibrate-" + c.Name,
		Seed:     c.Seed + 1,
		Duration: spec.Duration(dur),
		Bucket:   spec.Duration(time.Second),
		Server:   "cluster",
		Params:   params,
		Clients: spec.ClientsSpec{
			Count: c.Clients, TTL: spec.Duration(c.TTL), Version: ClientVersion, Consumer: c.Consumer,
			StartSpread: spec.Duration(startSpread(c.StartSpread, m.StartedWithinMs)), Placement: modelPlacement[c.Placement],
			RTT: new(spec.Duration(loopbackClientRTT)),
		},
		Cluster: spec.ClusterSpec{
			Members: c.Members, Cores: float64(runtime.NumCPU()), SharedCPU: true, ProberPhase: spec.ProberTogether, PeerRTT: new(spec.Duration(loopbackPeerRTT)), Leader: m.Leader, TLS: c.TLS, Transport: "http1",
		},
	}
}

// Predict simulates m's scenario with the cost parameters params (a built-in
// parameter-file name or a path; "" for the defaults) and reads the same
// window the measurement did.
func Predict(ctx context.Context, m Measurement, params string) (Prediction, error) {
	return PredictSpec(ctx, m, SpecFor(m, params))
}

// PredictSpec is Predict for sc, m's scenario (SpecFor) changed: another
// model of the same run (processor sharing, GC, service-time spread).
func PredictSpec(ctx context.Context, m Measurement, sc spec.Spec) (Prediction, error) {
	r, err := sc.Resolve()
	if err != nil {
		return Prediction{}, fmt.Errorf("simulating %s: %w", sc.Name, err)
	}
	sim, err := scenario.StartCluster(*r.Cluster, scenario.Options{RecordRTT: true}, nil)
	if err != nil {
		return Prediction{}, fmt.Errorf("simulating %s: %w", sc.Name, err)
	}
	for sim.Now() < r.Cluster.Duration {
		if err := ctx.Err(); err != nil {
			return Prediction{}, err
		}
		if err := sim.Advance(time.Second); err != nil {
			return Prediction{}, fmt.Errorf("simulating %s: %w", sc.Name, err)
		}
	}
	res, err := sim.Finish()
	if err != nil {
		return Prediction{}, fmt.Errorf("simulating %s: %w", sc.Name, err)
	}
	out := recorder.Outcome{Summary: res.Summary, Metrics: res.Metrics}
	costs := r.Cluster.Costs
	p := Prediction{Spec: sc}
	from, to := int(math.Round(m.WindowFromS)), int(math.Round(m.WindowToS))
	secs := float64(to - from)
	sum := func(name recorder.MetricName) float64 {
		var s float64
		v := out.Metric(name)
		for i := from; i < to && i < len(v); i++ {
			s += v[i]
		}
		return s
	}
	mean := func(name recorder.MetricName) float64 { return sum(name) / secs }
	var total, leaderReq float64
	for mi := range m.Config.Members {
		n := sum(recorder.KeepalivesReceived(mi))
		total += n
		if mi == m.Leader {
			leaderReq = n
		}
	}
	// With no clients the cluster still runs its stream prober: a new mTLS
	// connection per ordered member pair every ProberInterval.
	pairs := float64(m.Config.Members * (m.Config.Members - 1))
	probeServer, probeClient := r.Cluster.Network().Costs.ProbeWork()
	p.IdleServerCores = costs.IdleCores*float64(m.Config.Members) +
		pairs/netsim.ProberInterval.Seconds()*(probeServer+probeClient).Seconds()
	// One shared CPU: every member's series is the machine's. What the load
	// adds is the simulated CPU less the model's idle cluster, plus the
	// wake-ups the simulator does not charge (wakeCores).
	a, b := int64(m.WindowFromS*1e9), int64(m.WindowToS*1e9)
	bd, bf := bursts(res.Sends, func(i int) bool { return r.Cluster.MemberOf(i) != r.Cluster.Leader }, a, b)
	p.BurstsPerS = float64(bd+bf) / (float64(b-a) / 1e9)
	p.WakeCores = wakeCores(bd, bf, float64(b-a)/1e9)
	p.LoadCores = mean(recorder.CPUUtilisation(0))*sc.Cluster.Cores - p.IdleServerCores + p.WakeCores
	// The idle cluster's CPU is the machine's, and it moves: the parameter
	// file's 0.0219 cores (3 s right after the election, 2026-11-25, kernel
	// build 6.18.44-fc-v657) against 0.028-0.047 over 20 s on 2026-12-01
	// (build v1045). So the loaded figure stands on the run's own idle
	// baseline when it has one (the default 20 s), and the comparison
	// tests what the load adds.
	p.BaseCores = p.IdleServerCores
	if m.IdleServerCores > 0 {
		p.BaseCores = m.IdleServerCores
	}
	p.ServerCores = p.BaseCores + p.LoadCores
	p.KeepAlivesPerS = total / secs
	p.DirectPerS = leaderReq / secs
	p.ForwardedPerS = (total - leaderReq) / secs
	p.LeaderRenewalsPerS = mean(recorder.RenewalsAtLeader)
	p.LeaderPeerEstablished = mean(recorder.PeerEstablished)
	p.LeaderPeerTimeWait = mean(recorder.TimeWaitLeader)
	p.LeaderPeerCloseWait = mean(recorder.CloseWaitLeader)
	p.FollowerPeerTimeWait = mean(recorder.TimeWaitFollowers)
	// Dials for forwarding all go to the leader. The stream prober's
	// connections end in a reset within milliseconds, so /proc/net/tcp samples
	// never see them: they count only among the host's TCP opens.
	p.NewLeaderPeerConnsPerS = mean(recorder.NewPeerConnections)
	p.TCPActiveOpensPerS = mean(recorder.NewPeerConnections) + mean(recorder.ProberConnections)
	for mi := range m.Config.Members {
		v := out.Metric(recorder.KeepalivesReceived(mi))
		for i := 0; i < to && i < len(v); i++ {
			for len(p.SendsPerS) <= i {
				p.SendsPerS = append(p.SendsPerS, 0)
			}
			p.SendsPerS[i] += int(v[i])
		}
	}
	// Round trips of the keepalives sent in the window, as the agent's.
	inWindow := func(xs [][2]int64) []int64 {
		var v []int64
		for _, x := range xs {
			if x[0] >= a && x[0] < b {
				v = append(v, x[1])
			}
		}
		return v
	}
	p.RTTDirectMs, p.RTTForwardedMs = quantiles(inWindow(res.RTTs.Direct)), quantiles(inWindow(res.RTTs.Forwarded))
	// Renew intervals ending in the window, as the agent's are.
	var intervals []int64
	for _, sends := range res.Sends {
		for k := 1; k < len(sends); k++ {
			if sends[k] >= a && sends[k] < b {
				intervals = append(intervals, sends[k]-sends[k-1])
			}
		}
	}
	p.IntervalMs = quantiles(intervals)
	p.LeasesExpired = int(out.Summary.LeasesExpired)
	p.KeysLost = int(out.Summary.KeysLost)
	return p, nil
}

// startSpread is the spread the model starts its clients over: the larger of
// the one asked for and the one measured, in whole milliseconds (the model's
// start resolution), 0 only if both are 0.
func startSpread(asked time.Duration, measuredMs float64) time.Duration {
	d := max(asked, time.Duration(measuredMs*1e6))
	if d <= 0 {
		return 0
	}
	return max(d.Round(spec.StartResolution), spec.StartResolution)
}

// The CPU of waking an idle process. A renewal that reaches an idle etcd
// process costs far more CPU than one inside a burst: on the calibration
// cluster (this VM, 3 members in one process, 30 clients, 15 renewals/s,
// TTL 5 s), clients started over 2 s, whose renewals arrive one at a time,
// cost 1.3 ms (all on the leader) and 1.4 ms (all forwarded) of CPU per
// renewal over the idle cluster; started together, -0.1 and 0.4 ms (medians)
// (testdata/keepalive-overhead-3.7.3.json, TestMeasureKeepaliveOverhead;
// TestWakeCostReplay derives wakeDirect and wakeForwarded from it: per
// isolated renewal, less the fitted per-renewal cost). The simulator charges
// the fitted per-renewal costs only (fitted on runs of 50 and 500 clients in
// lockstep), so the prediction adds, per burst in the window, wakeDirect if
// every send in it went to the leader and wakeForwarded if any went to a
// follower. A burst is a run of client sends at most wakeGap apart. What the
// CPU is, a CPU profile cannot say here (it sees a fifth of this process's
// CPU: posix CPU timers fire on the kernel's tick, which short wake-ups
// mostly miss); the likely cost is Go's scheduler leaving and re-entering
// idle once per hop of a renewal's path (runtime/proc.go: wakep starts a
// spinning thread, findRunnable, stopm parks it again on a futex), which a
// burst pays once for all its renewals.
const (
	wakeGap       = time.Millisecond
	wakeDirect    = 1270 * time.Microsecond
	wakeForwarded = 1450 * time.Microsecond
)

// bursts counts the runs of client sends in [a, b) at most wakeGap apart:
// those with a forwarded renewal (forwarded(i): client i's member is a
// follower) and those with direct ones only.
func bursts(sends [][]int64, forwarded func(i int) bool, a, b int64) (direct, fwd int) {
	type send struct {
		t   int64
		fwd bool
	}
	var all []send
	for i, ss := range sends {
		f := forwarded(i)
		for _, t := range ss {
			if t >= a && t < b {
				all = append(all, send{t, f})
			}
		}
	}
	slices.SortFunc(all, func(x, y send) int { return cmp.Compare(x.t, y.t) })
	in := false
	count := func() {
		if in {
			fwd++
		} else {
			direct++
		}
	}
	for i, s := range all {
		if i > 0 && s.t-all[i-1].t > int64(wakeGap) {
			count()
			in = false
		}
		in = in || s.fwd
	}
	if len(all) > 0 {
		count()
	}
	return direct, fwd
}

// wakeCores is the wake-up CPU, in cores, of direct and forwarded bursts
// over secs seconds.
func wakeCores(direct, fwd int, secs float64) float64 {
	if secs <= 0 {
		return 0
	}
	return (float64(direct)*wakeDirect.Seconds() + float64(fwd)*wakeForwarded.Seconds()) / secs
}
