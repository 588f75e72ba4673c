package calibrate

import (
	"context"
	"fmt"
	"math"
	"runtime"
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

	ServerCores        float64   `json:"server_cores"`
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
			Members: c.Members, Cores: float64(runtime.NumCPU()), SharedCPU: true, PeerRTT: new(spec.Duration(loopbackPeerRTT)), Leader: m.Leader, TLS: c.TLS, Transport: "http1",
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
	// One shared CPU: every member's series is the machine's.
	p.ServerCores = mean(recorder.CPUUtilisation(0)) * sc.Cluster.Cores
	// With no clients the cluster still runs its stream prober: a new mTLS
	// connection per ordered member pair every ProberInterval.
	pairs := float64(m.Config.Members * (m.Config.Members - 1))
	p.IdleServerCores = costs.IdleCores*float64(m.Config.Members) +
		pairs/netsim.ProberInterval.Seconds()*(costs.TCPAccept+costs.TLSServerFull+costs.TLSClientFull).Seconds()
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
	a, b := int64(m.WindowFromS*1e9), int64(m.WindowToS*1e9)
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
