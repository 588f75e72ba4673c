package calibrate

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"runtime"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/leasesim/leasesim/calibrate/procstat"
	"github.com/leasesim/leasesim/netsim"
	"github.com/leasesim/leasesim/spec"
)

// proberPhaseFile holds TestMeasureProberPhase's result.
const proberPhaseFile = "testdata/prober-phase-3.7.3.json"

// ProberPhase is when rafthttp's stream prober opens its connections in a
// real cluster started as calibrate starts it (every member's StartEtcd at
// once, in one process), over Runs cluster starts: the host's TCP active
// opens (/proc/net/snmp ActiveOpens, read every millisecond on an otherwise
// idle host, whole namespace) grouped into bursts (opens less than
// BurstGapMs apart), and what each burst cost the members' process.
type ProberPhase struct {
	Etcd    string `json:"etcd"`
	Go      string `json:"go"`
	Date    string `json:"date"`
	Members int    `json:"members"`
	Method  string `json:"method"`
	// BurstGapMs: opens closer than this belong to one burst;
	// BurstWindowMs: the window a burst's CPU is read over.
	BurstGapMs    float64          `json:"burst_gap_ms"`
	BurstWindowMs float64          `json:"burst_window_ms"`
	Runs          []ProberPhaseRun `json:"runs"`
}

// ProberPhaseRun is one cluster start. BaseCPUMs: the process's CPU
// (getrusage: the three members and the sampling loop) per BurstWindowMs
// outside the bursts, median; HostOther: the host's CPU outside this process
// over the run, in cores; Bursts after the cluster agreed on a leader.
type ProberPhaseRun struct {
	BaseCPUMs float64       `json:"base_cpu_ms"`
	HostOther float64       `json:"host_other_cores"`
	Bursts    []ProberBurst `json:"bursts"`
}

// ProberBurst is one group of connection opens: AtMs from the cluster's
// readiness to its first open, WidthMs from its first to its last open,
// Opens counted; CPUMs: the process's CPU from 5 ms before its first open
// over BurstWindowMs, less BaseCPUMs (what the burst cost).
type ProberBurst struct {
	AtMs    float64 `json:"at_ms"`
	WidthMs float64 `json:"width_ms"`
	Opens   uint64  `json:"opens"`
	CPUMs   float64 `json:"cpu_ms"`
}

// proberRuns: cluster starts in TestMeasureProberPhase; proberSampled: how
// long each is sampled from the leader's election (five probe bursts).
const (
	proberRuns    = 5
	proberSampled = 21 * time.Second
	proberGap     = ProberBurstGap
	proberWindow  = 100 * time.Millisecond
)

// TestMeasureProberPhase measures how rafthttp's stream probes of a real
// 3-member etcd v3.7.3 cluster line up in time and what a burst of them
// costs. Each member adds every peer to its prober in one loop at start
// (server/v3 etcdserver/server.go:430-435, rafthttp/transport.go:314-315),
// and each target gets its own 4 s ticker from then (github.com/xiang90/
// probing prober.go:51), so a member probes all its peers at once; how far
// apart the members' phases are depends on how they were started. Five
// cluster starts, idle, ~2.5 min: run with LEASESIM_MEASURE=prober-phase.
func TestMeasureProberPhase(t *testing.T) {
	measuring(t, "prober-phase", "five real clusters, idle, ~2.5 min")
	needsRealCluster(t, "five real clusters, ~2.5 min")
	res := ProberPhase{Etcd: "3.7.3", Go: runtime.Version(), Date: time.Now().UTC().Format(time.DateOnly), Members: 3,
		Method: "calibrate's cluster (startCluster: 3 members, peer mTLS RSA, StartEtcd of all members at once in one process), " +
			"5 starts, each idle for 21 s from the leader's election after waiting for a quiet host; /proc/net/snmp Tcp ActiveOpens " +
			"read every 1 ms (the whole host: run it idle); opens grouped into bursts less than 500 ms apart; this process's CPU " +
			"(getrusage) read at each sample: a burst's CPU is the process's CPU over 100 ms from 5 ms before its first open, less " +
			"the median over the 100 ms windows 1-3 s after the bursts",
		BurstGapMs: float64(proberGap) / 1e6, BurstWindowMs: float64(proberWindow) / 1e6}
	for i := range proberRuns {
		r := measureProberRun(t)
		for _, b := range r.Bursts {
			t.Logf("run %d: burst at %8.1f ms: %d opens over %.1f ms, %.1f ms of CPU", i+1, b.AtMs, b.Opens, b.WidthMs, b.CPUMs)
		}
		t.Logf("run %d: baseline %.2f ms of CPU per %v; the host's other CPU %.2f cores", i+1, r.BaseCPUMs, proberWindow, r.HostOther)
		res.Runs = append(res.Runs, r)
	}
	data, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(proberPhaseFile, append(data, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

// measureProberRun starts a cluster on a quiet host and samples it.
func measureProberRun(t *testing.T) ProberPhaseRun {
	t.Helper()
	ctx := context.Background()
	// Other processes' CPU widens the bursts and the CPU they cost: wait
	// for a quiet host (storm.go QuietOtherCores), or give up.
	if other, waited, err := waitForQuiet(ctx, clock.New(), 10*time.Minute, t.Output()); err != nil {
		t.Fatal(err)
	} else if other >= QuietOtherCores {
		t.Fatalf("the host stayed busy for %v (%.2f cores of other processes): measure on a quiet host", waited, other)
	}
	c, err := startCluster(ctx, clock.New(), t.TempDir(), 3, "rsa")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ready := time.Now()
	fs := procstat.FS{}
	prev, err := fs.SNMP()
	if err != nil {
		t.Fatal(err)
	}
	type open struct {
		at time.Duration
		n  uint64
	}
	type cpuAt struct{ at, cpu time.Duration }
	var opens []open
	var cpu []cpuAt
	// cpuNow reads the host's CPU and this process's.
	cpuNow := func() (procstat.HostCPU, procstat.CPUTimes) {
		h, err := fs.HostCPU()
		if err != nil {
			t.Fatal(err)
		}
		self, err := procstat.SelfRusage()
		if err != nil {
			t.Fatal(err)
		}
		return h, self
	}
	host0, self0 := cpuNow()
	for time.Since(ready) < proberSampled {
		time.Sleep(time.Millisecond)
		cur, err := fs.SNMP()
		if err != nil {
			t.Fatal(err)
		}
		ru, err := procstat.SelfRusage()
		if err != nil {
			t.Fatal(err)
		}
		at := time.Since(ready)
		cpu = append(cpu, cpuAt{at, ru.Total()})
		if d := cur.ActiveOpens - prev.ActiveOpens; d > 0 {
			opens = append(opens, open{at, d})
		}
		prev = cur
	}
	host1, self1 := cpuNow()
	// cpuOver is the process's CPU in [from, from+proberWindow), -1 outside
	// the samples.
	cpuOver := func(from time.Duration) time.Duration {
		i := sort.Search(len(cpu), func(i int) bool { return cpu[i].at >= from })
		j := sort.Search(len(cpu), func(i int) bool { return cpu[i].at >= from+proberWindow })
		if i == 0 || j >= len(cpu) {
			return -1
		}
		return cpu[j].cpu - cpu[i-1].cpu
	}
	var r ProberPhaseRun
	for i, o := range opens {
		ms := float64(o.at) / 1e6
		if i == 0 || o.at-opens[i-1].at >= proberGap {
			r.Bursts = append(r.Bursts, ProberBurst{AtMs: ms})
		}
		b := &r.Bursts[len(r.Bursts)-1]
		b.WidthMs = ms - b.AtMs
		b.Opens += o.n
	}
	// The baseline: windows that start 1-3 s after a burst (none in them).
	var base []float64
	for _, b := range r.Bursts {
		for k := 1000.0; k < 3000; k += float64(proberWindow) / 1e6 {
			if c := cpuOver(time.Duration((b.AtMs + k) * 1e6)); c >= 0 {
				base = append(base, float64(c)/1e6)
			}
		}
	}
	r.BaseCPUMs = median(base)
	// /proc/stat's aggregate line sums every CPU: its busy and idle time
	// together are the wall time times the CPUs.
	wall := float64(host1.Busy+host1.Idle-host0.Busy-host0.Idle) / float64(runtime.NumCPU())
	r.HostOther = (float64(host1.Busy-host0.Busy) - float64(self1.Total()-self0.Total())) / wall
	for i := range r.Bursts {
		b := &r.Bursts[i]
		if c := cpuOver(time.Duration((b.AtMs - 5) * 1e6)); c >= 0 {
			b.CPUMs = float64(c)/1e6 - r.BaseCPUMs
		}
	}
	return r
}

// TestProberPhaseReplay holds what scenario's cluster.prober_phase: together
// assumes to the saved measurement: in every run, after the first burst
// (which also opens the pipeline probers' kept-alive connections), every
// burst is one probe per ordered member pair within 80 ms (2 % of the
// period; the members' start skew, 3-73 ms in the saved runs, which the
// model's one instant leaves out), one netsim.ProberInterval after the last.
func TestProberPhaseReplay(t *testing.T) {
	var m ProberPhase
	loadMeasurement(t, proberPhaseFile, &m)
	if m.Members != 3 || len(m.Runs) < 3 {
		t.Fatalf("%s: %d members, %d runs", proberPhaseFile, m.Members, len(m.Runs))
	}
	pairs := uint64(m.Members * (m.Members - 1))
	period := float64(netsim.ProberInterval) / 1e6
	for r, run := range m.Runs {
		if len(run.Bursts) < 4 || run.HostOther >= QuietOtherCores {
			t.Errorf("run %d: %d bursts, %.2f cores of other processes", r+1, len(run.Bursts), run.HostOther)
			continue
		}
		for i, b := range run.Bursts[1:] {
			gap := b.AtMs - run.Bursts[i].AtMs
			if b.Opens != pairs || b.WidthMs > 80 || gap < period-50 || gap > period+50 {
				t.Errorf("run %d burst %d at %.1f ms: %d opens over %.1f ms, %.1f ms after the last; want %d within 80 ms, %.0f ms after",
					r+1, i+1, b.AtMs, b.Opens, b.WidthMs, gap, pairs, period)
			}
		}
	}
}

// TestProberBurstParams derives from the prober-phase measurement the two
// figures the grounded storm model takes from it, and holds the model's
// copies to them:
//   - spec.ProberStartSkews ("skewed" prober phases): per cluster start,
//     the median width of its bursts of six opens (the first burst of a
//     start, twelve opens, is the streams' first dials as well);
//   - storm-2core's costs.prober_connection: the median CPU of a burst of
//     six over six, and its idle_cores: the default file's less what the
//     prober's connections cost beyond their accept and handshakes (the
//     fitted idle CPU held it while the model charged those alone).
func TestProberBurstParams(t *testing.T) {
	var m ProberPhase
	loadMeasurement(t, proberPhaseFile, &m)
	pairs := uint64(m.Members * (m.Members - 1))
	var skews []time.Duration
	var burstCPU []float64
	for _, run := range m.Runs {
		var widths []float64
		for _, b := range run.Bursts {
			if b.Opens == pairs {
				widths = append(widths, b.WidthMs)
				burstCPU = append(burstCPU, b.CPUMs)
			}
		}
		slices.Sort(widths)
		skews = append(skews, time.Duration(math.Round(median(widths)*1e3))*time.Microsecond)
	}
	if !slices.Equal(skews, spec.ProberStartSkews) {
		t.Errorf("start skews measured %v, spec.ProberStartSkews %v", skews, spec.ProberStartSkews)
	}
	slices.Sort(burstCPU)
	perProbe := time.Duration(median(burstCPU) / float64(pairs) * float64(time.Millisecond))
	p, err := spec.LoadParams("storm-2core")
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Costs.ProberConnection.D(); got.Round(time.Microsecond) != perProbe.Round(time.Microsecond) {
		t.Errorf("a prober connection costs %v (median of %d bursts over %d), storm-2core says %v", perProbe, len(burstCPU), pairs, got)
	}
	def, err := spec.LoadParams("default")
	if err != nil {
		t.Fatal(err)
	}
	costs := spec.DefaultCosts("rsa")
	charged := costs.TCPAccept + p.Costs.TLSServerFull.D() + p.Costs.TLSClientFull.D()
	rest := (perProbe - charged).Seconds() * float64(pairs) / netsim.ProberInterval.Seconds() / float64(m.Members)
	want := *def.Costs.IdleCores - rest
	if got := *p.Costs.IdleCores; math.Abs(got-want) > 1e-5 {
		t.Errorf("storm-2core idle_cores %g; the default file's %g less the prober's rest %.6f is %.6f", got, *def.Costs.IdleCores, rest, want)
	}
	t.Logf("start skews %v; a prober connection %v (the model charged %v of it before); idle_cores %.6f", skews, perProbe, charged, want)
}
