package calibrate

import (
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/leasesim/leasesim/scenario"
)

// Fit is the CPU cost model fitted to measurements:
//
//	server cores = Idle + Direct x direct renewals/s + Forwarded x forwarded renewals/s
//
// Idle is the mean of the runs' idle phases (no clients). Direct and Forwarded
// are least squares over the loaded windows, so the runs must mix direct and
// forwarded renewals differently (placement leader vs followers).
// Handshakes are not fitted: at calibration loads the peer pools absorb every
// forward and there are too few handshakes (the prober's) to separate their
// cost; the TLS costs stay those measured by netsim/tlscost_bench_test.go.
type Fit struct {
	IdleCores float64       `json:"idle_cores"` // whole cluster
	Direct    time.Duration `json:"direct"`
	Forwarded time.Duration `json:"forwarded"` // follower + leader, in all
	// RMS of the residuals, in cores, and the worst relative residual.
	RMSCores     float64 `json:"rms_cores"`
	WorstRelErr  float64 `json:"worst_rel_err"`
	Observations int     `json:"observations"`
}

// FitCosts fits the cost model to ms.
func FitCosts(ms []Measurement) (Fit, error) {
	if len(ms) < 2 {
		return Fit{}, errors.New("fitting needs at least two runs with different direct/forwarded mixes (e.g. --set full, or one --placement leader and one --placement followers)")
	}
	var f Fit
	for _, m := range ms {
		f.IdleCores += m.IdleServerCores
	}
	f.IdleCores /= float64(len(ms))
	// Normal equations of y = a d + b g, y = cores above idle, d and g in
	// renewals/s.
	var sdd, sdg, sgg, sdy, sgy float64
	for _, m := range ms {
		d, g, y := m.DirectPerS, m.ForwardedPerS, m.ServerCores-f.IdleCores
		sdd += d * d
		sdg += d * g
		sgg += g * g
		sdy += d * y
		sgy += g * y
	}
	det := sdd*sgg - sdg*sdg
	if det <= 1e-9*sdd*sgg || sdd == 0 || sgg == 0 {
		return Fit{}, errors.New("the runs do not separate direct from forwarded renewals: include runs with --placement leader and --placement followers")
	}
	a := (sdy*sgg - sgy*sdg) / det
	b := (sgy*sdd - sdy*sdg) / det
	if a <= 0 || b <= 0 {
		return Fit{}, fmt.Errorf("the fit gives non-positive costs (direct %.1f µs, forwarded %.1f µs): the loads are too small against the CPU noise; use more clients", a*1e6, b*1e6)
	}
	f.Direct = time.Duration(a * 1e9)
	f.Forwarded = time.Duration(b * 1e9)
	var ss float64
	for _, m := range ms {
		pred := f.IdleCores + a*m.DirectPerS + b*m.ForwardedPerS
		r := pred - m.ServerCores
		ss += r * r
		if m.ServerCores > 0 {
			f.WorstRelErr = max(f.WorstRelErr, math.Abs(r)/m.ServerCores)
		}
	}
	f.RMSCores = math.Sqrt(ss / float64(len(ms)))
	f.Observations = len(ms)
	return f, nil
}

// Params turns a fit into a parameter file. The leader's share of a forwarded
// renewal is taken to equal a direct renewal (it decodes one request, renews,
// encodes one answer: server/v3 etcdserver/api/v3lease/leasehttp/http.go
// ServeHTTP, then lessor.Renew), the rest is the follower's; one process
// holds every member here, so the split cannot be measured per member.
func (f Fit) Params(ms []Measurement, members int, tls string) (scenario.Params, error) {
	follower := f.Forwarded - f.Direct
	if follower <= 0 {
		return scenario.Params{}, fmt.Errorf("a forwarded renewal (%s) measured no dearer than a direct one (%s): cannot split it between follower and leader", f.Forwarded, f.Direct)
	}
	p := scenario.Params{
		Kind:     scenario.ParamsKind,
		Machine:  thisMachine(),
		Versions: scenario.ParamsVersions{Etcd: ClientVersion, Client: ClientVersion, PeerTLS: tls},
		Notes: fmt.Sprintf("Fitted by leasesim calibrate from %d runs: server cores = idle + direct x d/s + forwarded x f/s; "+
			"direct %s, forwarded %s in all (leader share = direct), idle %.4f cores for %d members; RMS residual %.4f cores, worst %.1f%%.",
			f.Observations, f.Direct, f.Forwarded, f.IdleCores, members, f.RMSCores, f.WorstRelErr*100),
		Costs: scenario.CostsSpec{
			DirectRenewal:   scenario.Duration(f.Direct),
			LeaderForwarded: scenario.Duration(f.Direct),
			FollowerRenewal: scenario.Duration(follower),
			IdleCores:       new(f.IdleCores / float64(members)),
		},
	}
	for _, m := range ms {
		p.Fit = append(p.Fit, scenario.ParamsRun{
			Name: m.Config.Name, Clients: m.Config.Clients, TTL: scenario.Duration(m.Config.TTL),
			Placement: modelPlacement[m.Config.Placement], Members: m.Config.Members,
			Duration:   scenario.Duration(time.Duration((m.WindowToS - m.WindowFromS) * 1e9).Round(time.Millisecond)),
			DirectPerS: round3(m.DirectPerS), ForwardedPerS: round3(m.ForwardedPerS), ServerCPUCores: round3(m.ServerCores),
			HandshakesPerS: round3(m.NewLeaderPeerConnsPerS),
		})
	}
	return p, nil
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// thisMachine describes where the measurement ran.
func thisMachine() scenario.ParamsMachine {
	m := scenario.ParamsMachine{Description: "measured by leasesim calibrate", Cores: float64(runtime.NumCPU()),
		Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}
