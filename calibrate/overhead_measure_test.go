package calibrate

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/google/pprof/profile"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/leasesim/leasesim/calibrate/procstat"
	"github.com/leasesim/leasesim/calibrate/sampler"
)

// overheadFile holds what TestMeasureKeepaliveOverhead measured last.
const overheadFile = "testdata/keepalive-overhead-3.7.3.json"

// overheadPhase is one window of TestMeasureKeepaliveOverhead.
type overheadPhase struct {
	Kind    string  `json:"kind"` // idle | loaded | loaded-spread | connected
	Repeat  int     `json:"repeat"`
	WindowS float64 `json:"window_s"`
	// Server-side keepalives received and renewals by the leader, per second.
	KeepAlivesPerS float64 `json:"keepalives_per_s"`
	RenewalsPerS   float64 `json:"renewals_per_s"`
	// Process CPU (getrusage), cores, and its split by the CPU profile.
	Cores           float64            `json:"cores"`
	OtherCores      float64            `json:"other_cores"` // the host's CPU outside this process and the agent
	ByMemberCores   map[string]float64 `json:"by_member_cores"`
	GCCores         float64            `json:"gc_cores"`         // unlabelled GC workers
	SchedCores      float64            `json:"sched_cores"`      // unlabelled scheduler
	UnlabelledCores float64            `json:"unlabelled_cores"` // the rest: sampler, test, runtime
	Samples         int64              `json:"samples"`
	// runtime/metrics over the window.
	GCCycles      uint64  `json:"gc_cycles"`
	GCCPUCores    float64 `json:"gc_cpu_cores"` // /cpu/classes/gc/total
	AllocMBPerS   float64 `json:"alloc_mb_per_s"`
	Goroutines    uint64  `json:"goroutines"` // at the end
	SchedLatP50Us float64 `json:"sched_latency_p50_us"`
	// Top flat functions (share of the window's samples), for reading.
	TopFlat []string `json:"top_flat,omitempty"`
	// Episodes: the window's client sends (all clients, sorted) grouped into
	// runs whose consecutive sends are at most GapMs apart, per second, for
	// each gap in episodeGapsMs.
	EpisodesPerS []float64 `json:"episodes_per_s,omitempty"`
	SendsPerS    float64   `json:"sends_per_s,omitempty"`
}

// episodeGapsMs are the gaps at which a phase's sends are grouped.
var episodeGapsMs = []float64{0.1, 0.5, 1, 2, 5, 10, 50}

// episodesPerS counts, for each gap, the runs of sends in [a, b) whose
// consecutive members are at most gap apart, per second of the window.
func episodesPerS(sends [][]int64, a, b int64) (per []float64, n int) {
	var all []int64
	for _, s := range sends {
		for _, t := range s {
			if t >= a && t < b {
				all = append(all, t)
			}
		}
	}
	slices.Sort(all)
	secs := float64(b-a) / 1e9
	for _, g := range episodeGapsMs {
		k := 0
		for i, t := range all {
			if i == 0 || float64(t-all[i-1]) > g*1e6 {
				k++
			}
		}
		per = append(per, float64(k)/secs)
	}
	return per, len(all)
}

type overheadMeasurement struct {
	What    string          `json:"what"`
	Etcd    string          `json:"etcd"`
	Go      string          `json:"go"`
	Machine string          `json:"machine"`
	Cores   int             `json:"cores"`
	Date    string          `json:"date"`
	Method  string          `json:"method"`
	Phases  []overheadPhase `json:"phases"`
}

// TestMeasureKeepaliveOverhead measures the calibration cluster's CPU with no
// clients, with calibrate's default clients (30, TTL 5 s, spread, started
// together), the same clients started over 2 s, and 30 clients whose TTL
// (60 s) makes them renew once per 20.5 s (connected, nearly no renewals),
// in alternation, each window profiled (LEASESIM_MEASURE=overhead).
func TestMeasureKeepaliveOverhead(t *testing.T) {
	measuring(t, "overhead", "about eight minutes, a real cluster")
	needsRealCluster(t, "about eight minutes")
	window := envDuration(t, "LEASESIM_OVERHEAD_WINDOW", 20*time.Second)
	repeats := envInt(t, "LEASESIM_OVERHEAD_REPEATS", 3)
	kinds := []string{"idle", "loaded", "idle", "loaded-spread", "idle", "connected"}
	if s := os.Getenv("LEASESIM_OVERHEAD_KINDS"); s != "" {
		kinds = strings.Split(s, ",")
	}
	// A CPU profile splits each window by member; on this VM it sees only
	// about a fifth of the process's CPU (posix CPU timers fire on the
	// kernel's tick, which short wake-ups mostly miss), so it is off unless
	// asked for (LEASESIM_OVERHEAD_PROFILES: a directory for the raw profiles).
	profDir := os.Getenv("LEASESIM_OVERHEAD_PROFILES")
	profiling := profDir != ""
	const hz = 1000
	const clients = 30

	ctx := context.Background()
	clk := clock.New()
	dir := t.TempDir()
	c, err := startCluster(ctx, clk, dir, 3, "rsa")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	leader := c.Leader()

	// The same per-second sampling as Measure (etcd's metrics and /proc).
	fs := procstat.FS{Root: "/proc"}
	read := func(time.Time) (serverCounters, error) {
		if _, err := fs.Sockets(); err != nil {
			return serverCounters{}, err
		}
		if _, err := fs.SNMP(); err != nil {
			return serverCounters{}, err
		}
		return readServerCounters(prometheus.DefaultGatherer)
	}
	rtNames := []string{"/gc/cycles/total:gc-cycles", "/cpu/classes/gc/total:cpu-seconds", "/gc/heap/allocs:bytes",
		"/sched/goroutines:goroutines", "/sched/latencies:seconds"}
	rtRead := func() []metrics.Sample {
		s := make([]metrics.Sample, len(rtNames))
		for i, n := range rtNames {
			s[i].Name = n
		}
		metrics.Read(s)
		return s
	}

	m := overheadMeasurement{
		What: "etcd v3.7.3, 3 members in one process (embed, peer mTLS RSA), calibrate's sampling every second; windows: idle (no clients), " +
			"loaded (30 clientv3 clients in a child process, TTL 5 s, spread over the members, started together: calibrate's default), " +
			"loaded-spread (the same started over 2 s), connected (30 clients, TTL 60 s: one renewal each per 20.5 s)",
		Etcd: "3.7.3", Go: runtime.Version(), Machine: machine(), Cores: runtime.NumCPU(), Date: time.Now().UTC().Format("2006-01-02"),
		Method: fmt.Sprintf("process CPU by getrusage over each window, split by a %d Hz CPU profile (members by pprof label); runtime/metrics deltas; "+
			"a loaded window starts 3 s after its clients; after each loaded window the clients stop and the next idle window starts when their leases have expired", hz),
	}
	for r := range repeats {
		for _, kind := range kinds {
			var ag *agentProc
			if kind != "idle" {
				acfg := AgentConfig{TTL: 5 * time.Second, Consumer: "drain", Seed: uint64(r + 1), KeyPrefix: fmt.Sprintf("/ovh/%d/%d/", r, len(m.Phases)),
					LogFile: filepath.Join(dir, "clients.log")}
				placement := "spread"
				base, pl, ok := strings.Cut(kind, "@")
				if ok {
					placement = pl
				}
				switch base {
				case "loaded-spread":
					acfg.StartSpread = 2 * time.Second
				case "connected":
					acfg.TTL = 60 * time.Second
				}
				for i := range clients {
					acfg.Endpoints = append(acfg.Endpoints, c.Members[placeClient(placement, i, 3, leader)].ClientURL)
				}
				if ag, err = startAgent(ctx, acfg, nil); err != nil {
					t.Fatal(err)
				}
				time.Sleep(3 * time.Second)
			}
			// Other processes raise this one's CPU: wait (up to 20 s) for them to stop.
			if _, _, err := waitForQuiet(ctx, clk, 20*time.Second, io.Discard); err != nil {
				t.Fatal(err)
			}
			var prof bytes.Buffer
			if profiling {
				runtime.SetCPUProfileRate(hz)
				if err := pprof.StartCPUProfile(&prof); err != nil {
					t.Fatal(err)
				}
			}
			rt0 := rtRead()
			wctx, cancel := context.WithTimeout(ctx, window+500*time.Millisecond)
			ss, err := sampler.Run(wctx, clk, time.Second, func(at time.Time) (struct {
				cpu, host, agent time.Duration
				sc               serverCounters
			}, error) {
				var v struct {
					cpu, host, agent time.Duration
					sc               serverCounters
				}
				u, err := procstat.SelfRusage()
				if err != nil {
					return v, err
				}
				v.cpu = u.Total()
				h, err := fs.HostCPU()
				if err != nil {
					return v, err
				}
				v.host = h.Busy
				if ag != nil {
					a, err := fs.ProcessCPU(ag.Pid())
					if err != nil {
						return v, err
					}
					v.agent = a.Total()
				}
				v.sc, err = read(at)
				return v, err
			})
			cancel()
			rt1 := rtRead()
			if profiling {
				pprof.StopCPUProfile()
			}
			if err != nil {
				t.Fatal(err)
			}
			first, last := ss[0], ss[len(ss)-1]
			var res *AgentResult
			if ag != nil {
				if res, err = ag.stop(); err != nil {
					t.Fatal(err)
				}
			}
			secs := last.At.Sub(first.At).Seconds()
			ph := overheadPhase{Kind: kind, Repeat: r, WindowS: secs,
				KeepAlivesPerS: (last.V.sc.KeepAlivesReceived - first.V.sc.KeepAlivesReceived) / secs,
				RenewalsPerS:   (last.V.sc.LeaderRenewals - first.V.sc.LeaderRenewals) / secs,
				Cores:          (last.V.cpu - first.V.cpu).Seconds() / secs,
				OtherCores:     ((last.V.host - first.V.host) - (last.V.cpu - first.V.cpu) - (last.V.agent - first.V.agent)).Seconds() / secs,
				ByMemberCores:  map[string]float64{},
			}
			// runtime/metrics over the profiled stretch (slightly longer than the sampled one).
			ph.GCCycles = rt1[0].Value.Uint64() - rt0[0].Value.Uint64()
			ph.GCCPUCores = (rt1[1].Value.Float64() - rt0[1].Value.Float64()) / secs
			ph.AllocMBPerS = float64(rt1[2].Value.Uint64()-rt0[2].Value.Uint64()) / 1e6 / secs
			ph.Goroutines = rt1[3].Value.Uint64()
			h0, h1 := rt0[4].Value.Float64Histogram(), rt1[4].Value.Float64Histogram()
			var bins []HistBin
			for i := range h1.Counts {
				if d := h1.Counts[i] - h0.Counts[i]; d > 0 {
					bins = append(bins, HistBin{LeMs: h1.Buckets[i+1] * 1e3, N: d})
				}
			}
			ph.SchedLatP50Us = histQuantiles(bins).P50Ms * 1e3

			if res != nil {
				var n int
				ph.EpisodesPerS, n = episodesPerS(res.Sends, first.At.UnixNano(), last.At.UnixNano())
				ph.SendsPerS = float64(n) / secs
			}
			p := &profile.Profile{}
			if profiling {
				if p, err = profile.Parse(&prof); err != nil {
					t.Fatal(err)
				}
			}
			if profDir != "" {
				f, err := os.Create(filepath.Join(profDir, fmt.Sprintf("r%d-%s-%d.pb.gz", r, kind, len(m.Phases))))
				if err == nil {
					p.Write(f)
					f.Close()
				}
			}
			byMember, gc, sched, other, total := splitSamples(p)
			ph.Samples = total
			if total > 0 {
				share := func(n int64) float64 { return ph.Cores * float64(n) / float64(total) }
				for k, v := range byMember {
					name := k
					if k == c.Members[leader].Name {
						name = "leader"
					}
					ph.ByMemberCores[name] += share(v)
				}
				ph.GCCores, ph.SchedCores, ph.UnlabelledCores = share(gc), share(sched), share(other)
				ph.TopFlat = topFlat(p, 12)
			}
			t.Logf("r%d %-13s episodes/s at %v ms: %.1f", r, kind, episodeGapsMs, ph.EpisodesPerS)
			t.Logf("r%d %-13s %.1f s: other processes %.2f cores; %.1f ka/s, %.1f renewals/s, %.4f cores (by member %v, gc %.4f, sched %.4f, other %.4f), %d GC cycles (%.4f cores), %.2f MB/s alloc, %d goroutines, sched p50 %.0f µs",
				r, kind, secs, ph.OtherCores, ph.KeepAlivesPerS, ph.RenewalsPerS, ph.Cores, fmtCores(ph.ByMemberCores), ph.GCCores, ph.SchedCores, ph.UnlabelledCores,
				ph.GCCycles, ph.GCCPUCores, ph.AllocMBPerS, ph.Goroutines, ph.SchedLatP50Us)
			m.Phases = append(m.Phases, ph)
			if ag != nil {
				// Let the stopped clients' leases expire (TTL 5 s) before the next window.
				if kind == "connected" {
					time.Sleep(2 * time.Second)
				} else {
					time.Sleep(7 * time.Second)
				}
			}
			if l := c.Leader(); l != leader {
				t.Fatalf("the leader changed: m%d -> m%d", leader, l)
			}
		}
	}
	if os.Getenv("LEASESIM_OVERHEAD_SAVE") != "" {
		saveMeasurement(t, overheadFile, m)
	}
}

func fmtCores(m map[string]float64) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	var b strings.Builder
	for _, k := range ks {
		fmt.Fprintf(&b, "%s=%.4f ", k, m[k])
	}
	return strings.TrimSpace(b.String())
}

// topFlat lists the n functions with the most flat samples, as
// "share% function".
func topFlat(p *profile.Profile, n int) []string {
	flat := map[string]int64{}
	var total int64
	for _, s := range p.Sample {
		total += s.Value[0]
		if len(s.Location) > 0 && len(s.Location[0].Line) > 0 && s.Location[0].Line[0].Function != nil {
			flat[s.Location[0].Line[0].Function.Name] += s.Value[0]
		}
	}
	type kv struct {
		k string
		v int64
	}
	var kvs []kv
	for k, v := range flat {
		kvs = append(kvs, kv{k, v})
	}
	sort.Slice(kvs, func(i, j int) bool { return kvs[i].v > kvs[j].v || kvs[i].v == kvs[j].v && kvs[i].k < kvs[j].k })
	var out []string
	for i := 0; i < n && i < len(kvs); i++ {
		out = append(out, fmt.Sprintf("%.1f%% %s", 100*float64(kvs[i].v)/float64(total), kvs[i].k))
	}
	return out
}
