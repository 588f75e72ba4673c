package calibrate

import (
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/leasesim/leasesim/netsim"
	"github.com/leasesim/leasesim/spec"
)

// Fit is the CPU cost model fitted to measurements:
//
//	server cores = Idle + Direct x direct/s + Forwarded x forwarded/s + Handshake x new peer connections/s
//
// Idle is the mean of the runs' idle phases (no clients; the stream prober's
// handshakes included). Direct, Forwarded and Handshake are least squares
// over the loaded windows, so the runs must mix direct and forwarded renewals
// differently (placement leader vs followers), and some must dial peer
// connections (long TTLs: the pooled connections idle out between renewals)
// for Handshake to be fitted; otherwise it is left out (zero) and the TLS
// costs stay those of netsim/tlscost_bench_test.go.
type Fit struct {
	IdleCores float64       `json:"idle_cores"` // whole cluster
	Direct    time.Duration `json:"direct"`
	Forwarded time.Duration `json:"forwarded"` // follower + leader, in all
	// Handshake: a new peer connection: accept, and a full mutual-TLS
	// handshake on both ends (0: not fitted).
	Handshake time.Duration `json:"handshake"`
	// ScanOverrun: how late each client scan came after the previous one,
	// the median over the runs of (interval p50 - k x 500 ms) / k, k the
	// whole scans in the p50 (clientmodel.Config.ScanOverrun).
	ScanOverrun time.Duration `json:"scan_overrun"`
	// RMS of the residuals, in cores, and the worst relative residual.
	RMSCores     float64 `json:"rms_cores"`
	WorstRelErr  float64 `json:"worst_rel_err"`
	Observations int     `json:"observations"`
}

// minHandshakeRate: below this many new connections per second in every run,
// their cost is lost in the CPU noise and is not fitted.
const minHandshakeRate = 1.0

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
	withHS := false
	for _, m := range ms {
		withHS = withHS || m.NewLeaderPeerConnsPerS >= minHandshakeRate
	}
	cols := 2
	if withHS && len(ms) >= 3 {
		cols = 3
	}
	x := make([][]float64, len(ms))
	y := make([]float64, len(ms))
	for i, m := range ms {
		x[i] = []float64{m.DirectPerS, m.ForwardedPerS, m.NewLeaderPeerConnsPerS}[:cols]
		y[i] = m.ServerCores - f.IdleCores
	}
	beta, err := leastSquares(x, y)
	if err != nil {
		return Fit{}, errors.New("the runs do not separate direct from forwarded renewals: include runs with --placement leader and --placement followers")
	}
	for i, b := range beta {
		if b <= 0 {
			name := []string{"direct renewal", "forwarded renewal", "handshake"}[i]
			return Fit{}, fmt.Errorf("the fit gives a non-positive cost per %s (%.1f µs): the loads are too small against the CPU noise; use more clients", name, b*1e6)
		}
	}
	f.Direct = time.Duration(beta[0] * 1e9)
	f.Forwarded = time.Duration(beta[1] * 1e9)
	if cols == 3 {
		f.Handshake = time.Duration(beta[2] * 1e9)
	}
	var ss float64
	for i, m := range ms {
		pred := f.IdleCores
		for j, b := range beta {
			pred += b * x[i][j]
		}
		r := pred - m.ServerCores
		ss += r * r
		if m.ServerCores > 0 {
			f.WorstRelErr = max(f.WorstRelErr, math.Abs(r)/m.ServerCores)
		}
	}
	f.RMSCores = math.Sqrt(ss / float64(len(ms)))
	f.ScanOverrun = scanOverrun(ms)
	f.Observations = len(ms)
	return f, nil
}

// scanOverrun estimates clientmodel.Config.ScanOverrun from the runs'
// interval medians: a p50 of 2002.4 ms is 4 scans late by 0.6 ms each.
func scanOverrun(ms []Measurement) time.Duration {
	const scan = 500.0 // ms
	var per []float64
	for _, m := range ms {
		p := m.IntervalMs.P50
		if k := math.Floor(p / scan); k >= 1 && m.IntervalMs.Count > 0 {
			per = append(per, (p-k*scan)/k)
		}
	}
	if len(per) == 0 {
		return 0
	}
	slices.Sort(per)
	return time.Duration(per[len(per)/2] * 1e6).Round(time.Microsecond)
}

// leastSquares solves min |X b - y| through the normal equations (a handful
// of columns, well scaled: renewals and connections per second).
func leastSquares(x [][]float64, y []float64) ([]float64, error) {
	n := len(x[0])
	a := make([][]float64, n)
	for i := range a {
		a[i] = make([]float64, n+1)
		for k := range x {
			for j := range n {
				a[i][j] += x[k][i] * x[k][j]
			}
			a[i][n] += x[k][i] * y[k]
		}
	}
	// Gaussian elimination with partial pivoting.
	for c := range n {
		p := c
		for r := c + 1; r < n; r++ {
			if math.Abs(a[r][c]) > math.Abs(a[p][c]) {
				p = r
			}
		}
		a[c], a[p] = a[p], a[c]
		if math.Abs(a[c][c]) < 1e-9*(1+math.Abs(a[0][0])) {
			return nil, errors.New("singular")
		}
		for r := range n {
			if r == c {
				continue
			}
			k := a[r][c] / a[c][c]
			for j := c; j <= n; j++ {
				a[r][j] -= k * a[c][j]
			}
		}
	}
	b := make([]float64, n)
	for i := range n {
		b[i] = a[i][n] / a[i][i]
	}
	return b, nil
}

// Params turns a fit into a parameter file. The leader's share of a forwarded
// renewal is taken to equal a direct renewal (it decodes one request, renews,
// encodes one answer: server/v3 etcdserver/api/v3lease/leasehttp/http.go
// ServeHTTP, then lessor.Renew), the rest is the follower's; one process
// holds every member here, so the split cannot be measured per member.
func (f Fit) Params(ms []Measurement, members int, tls string) (spec.Params, error) {
	// The idle phase includes the stream prober's handshakes, which the model
	// charges on its own (netsim.ProberInterval): take them out of idle.
	d := spec.DefaultCosts(tls)
	pairs := float64(members * (members - 1))
	hs := f.Handshake
	if hs == 0 {
		hs = d.TCPAccept + d.TLSServerFull + d.TLSClientFull
	}
	prober := pairs / netsim.ProberInterval.Seconds() * hs.Seconds()
	idle := math.Round(max(f.IdleCores-prober, 0)/float64(members)*1e6) / 1e6
	follower := f.Forwarded - f.Direct
	var tlsS, tlsC time.Duration
	if f.Handshake > 0 {
		// Split the measured handshake between leader (server: accept + TLS)
		// and follower (client) in the benchmark's proportions.
		srv := d.TCPAccept + d.TLSServerFull
		share := float64(srv) / float64(srv+d.TLSClientFull)
		tlsS = time.Duration(float64(f.Handshake)*share) - d.TCPAccept
		tlsC = f.Handshake - tlsS - d.TCPAccept
	}
	if follower <= 0 {
		return spec.Params{}, fmt.Errorf("a forwarded renewal (%s) measured no dearer than a direct one (%s): cannot split it between follower and leader", f.Forwarded, f.Direct)
	}
	p := spec.Params{
		Kind:     spec.ParamsKind,
		Machine:  thisMachine(),
		Versions: spec.ParamsVersions{Etcd: ClientVersion, Client: ClientVersion, PeerTLS: tls},
		Notes: fmt.Sprintf("Fitted by leasesim calibrate from %d runs: server cores = idle + direct x d/s + forwarded x f/s + handshake x new peer conns/s; "+
			"direct %s, forwarded %s in all (leader share = direct), handshake %s (0: not fitted; split server/client as the TLS benchmark), "+
			"idle %.4f cores for %d members of which %.4f is the stream prober's handshakes (charged separately); RMS residual %.4f cores, worst %.1f%%.",
			f.Observations, f.Direct, f.Forwarded, f.Handshake, f.IdleCores, members, f.IdleCores-idle*float64(members), f.RMSCores, f.WorstRelErr*100),
		Costs: spec.CostsSpec{
			DirectRenewal:   spec.Duration(f.Direct),
			LeaderForwarded: spec.Duration(f.Direct),
			FollowerRenewal: spec.Duration(follower),
			IdleCores:       new(idle),
		},
	}
	p.Client.ScanOverrun = spec.Duration(f.ScanOverrun)
	for _, m := range ms {
		if m.Date != "" {
			p.Measured = m.Date
			break
		}
	}
	if f.Handshake > 0 && tlsS > 0 && tlsC > 0 {
		p.Costs.TLSServerFull, p.Costs.TLSClientFull = spec.Duration(tlsS), spec.Duration(tlsC)
	}
	for _, m := range ms {
		p.Fit = append(p.Fit, spec.ParamsRun{
			Name: m.Config.Name, Clients: m.Config.Clients, TTL: spec.Duration(m.Config.TTL),
			Placement: modelPlacement[m.Config.Placement], Members: m.Config.Members,
			Duration:   spec.Duration(time.Duration((m.WindowToS - m.WindowFromS) * 1e9).Round(time.Millisecond)),
			DirectPerS: round3(m.DirectPerS), ForwardedPerS: round3(m.ForwardedPerS), ServerCPUCores: round3(m.ServerCores),
			HandshakesPerS: round3(m.NewLeaderPeerConnsPerS),
		})
	}
	return p, nil
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// thisMachine describes where the measurement ran.
func thisMachine() spec.ParamsMachine {
	m := spec.ParamsMachine{Description: "measured by leasesim calibrate", Cores: float64(runtime.NumCPU()),
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
