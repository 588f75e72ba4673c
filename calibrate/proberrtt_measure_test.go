package calibrate

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/leasesim/leasesim/calibrate/procstat"
	"github.com/leasesim/leasesim/netsim"
)

// proberRTTFile holds TestMeasureProberRTT's result.
const proberRTTFile = "testdata/prober-rtt-3.7.3.json"

// ProberRTTSet is the prober-RTT measurement: the storm set's runs at its
// calm levels (no big storms: 1,000/s quiet, 400/s busy), each with every
// send's round trip profiled against the prober bursts (proberrtt.go).
type ProberRTTSet struct {
	MeasuredOn
	Wall string         `json:"wall"`
	Done bool           `json:"complete"`
	Runs []ProberRTTRun `json:"runs"`
}

// ProberRTTRun is one run: its storm-set record (the per-second series),
// the bursts of connection opens seen before its window (AtMs from the
// load's start; CPUMs not read), the prober grid's phase they give (GridMs,
// from the load's start; bursts every 4 s from it) and the profile of the
// window's calm sends against that grid.
type ProberRTTRun struct {
	Storm   StormRun         `json:"storm"`
	Bursts  []ProberBurst    `json:"bursts"`
	GridMs  float64          `json:"grid_ms"`
	Profile ProberRTTProfile `json:"profile"`
	// Sampler: the sends not near a prober burst profiled against the storm
	// run's own once-a-second samples, read in the members' process (a Prometheus
	// gather of etcd's metrics, /proc/net/tcp, /proc/stat, getrusage), and
	// how long each read took.
	Sampler      ProberRTTProfile `json:"sampler"`
	SampleReadMs []float64        `json:"sample_read_ms"`
	// Platform: the agent's health checks (StormLoad.PlatformPerS,
	// proberRTTPlatformPerS over each of its client connections: one a 100
	// leases, so a tenth as many checks as renewals) profiled as the sends
	// are.
	Platform ProberRTTProfile `json:"platform"`
	// PlatformChecks: the window's health checks; PlatformSlow: those over
	// proberRTTSlowCheck, each its send (ms from the load's start) and
	// round trip (ms), in send order.
	PlatformChecks int          `json:"platform_checks"`
	PlatformSlow   [][2]float64 `json:"platform_slow"`
}

// proberRTTSlowCheck: the health checks kept one by one.
const proberRTTSlowCheck = 2 * time.Millisecond

// proberRTTPlatformPerS: health checks a second over each of the agent's
// client connections.
const proberRTTPlatformPerS = 20

// proberRTTLevels: the storm set's levels without big storms, 3 runs each.
var proberRTTLevels = []struct {
	renewalsPerS int
	busy         bool
}{{1000, false}, {400, true}}

const proberRTTRuns = 3

// TestMeasureProberRTT runs the storm set's calm levels again with the
// host's TCP active opens read every millisecond (rafthttp's probes are the
// only opens of a calm run: the agent's connections are open before the
// window) and profiles every send's round trip against the bursts.
// make measure WHAT=prober-rtt, ~10 min on an otherwise idle host.
func TestMeasureProberRTT(t *testing.T) {
	measuring(t, "prober-rtt", "6 storm runs at the calm levels, ~10 min")
	needsRealCluster(t, "6 storm runs, ~10 min")
	holdStormLock(t, 12*time.Minute, "prober-rtt")
	ctx, clk := context.Background(), clock.New()
	start := clk.Now()
	set := ProberRTTSet{MeasuredOn: measuredOn(start, "the storm set's runs (MeasureStorm) at 1,000/s quiet and 400/s busy, 3 each, "+
		"60 s windows, each after waitForQuiet; this process (the members') also reads /proc/net/snmp Tcp ActiveOpens every 1 ms "+
		"(the whole host) from the cluster's start to the window's first sample; opens less than 500 ms apart are a burst, and a "+
		"burst of one open per ordered member pair within 80 ms is a prober burst; the window's prober bursts are their 4 s grid; "+
		"every send answered in the window's calm seconds (at most 10 new peer connections) is profiled against them "+
		"(calibrate.ProfileProberRTT); the agent also sends 20 gRPC health checks a second over each of its client connections (one a 100 leases), one at a time, "+
		"profiled alike")}
	for _, lv := range proberRTTLevels {
		for rep := 1; rep <= proberRTTRuns; rep++ {
			cond := map[bool]string{false: "quiet", true: "busy"}[lv.busy]
			cfg := StormConfig{RenewalsPerS: lv.renewalsPerS, Background: lv.busy, Seed: uint64(rep),
				Name: fmt.Sprintf("prober-rtt-%s-%d-r%d", cond, lv.renewalsPerS, rep)}
			other, waited, err := waitForQuiet(ctx, clk, 30*time.Second, testWriter{t})
			if err != nil {
				t.Fatal(err)
			}
			run, err := measureProberRTTRun(ctx, clk, cfg, t)
			if err != nil {
				t.Fatal(err)
			}
			run.Storm.HostOtherBeforeCores, run.Storm.WaitedS = other, waited.Round(time.Second).Seconds()
			p := run.Profile
			t.Logf("%s: %d prober bursts; window p99 %.1f ms, %.0f %% of the sends over it near a burst; away p99 %.1f ms (quiet seconds %.1f, re-dialling %.1f)",
				cfg.Name, p.Bursts, p.WindowP99Ms, 100*p.TailNear, p.Away.P99Ms, p.AwayQuiet.P99Ms, p.AwayRedial.P99Ms)
			q := run.Sampler
			slices.Sort(run.SampleReadMs)
			t.Logf("%s: away from the probers, against its own samples (reads %.1f-%.1f ms, median %.1f): %.0f %% of the sends over their p99 %.1f ms near one; neither: p99 %.1f ms (quiet seconds %.1f)",
				cfg.Name, run.SampleReadMs[0], run.SampleReadMs[len(run.SampleReadMs)-1], median(run.SampleReadMs), 100*q.TailNear, q.WindowP99Ms, q.Away.P99Ms, q.AwayQuiet.P99Ms)
			h := run.Platform
			t.Logf("%s: health checks: %d away from the probers, p50 %.2f p90 %.2f p99 %.2f max %.1f ms (quiet seconds p99 %.2f); window p99 %.2f ms",
				cfg.Name, h.Away.Sends, h.Away.P50Ms, h.Away.P90Ms, h.Away.P99Ms, h.Away.MaxMs, h.AwayQuiet.P99Ms, h.WindowP99Ms)
			for _, b := range h.Bins[:8] {
				t.Logf("  health %+5.0f ms: %4d checks, %3d slow, p50 %.1f p90 %.1f p99 %.1f max %.1f ms", b.FromMs, b.Sends, b.Slow, b.P50Ms, b.P90Ms, b.P99Ms, b.MaxMs)
			}
			for _, b := range q.Bins[:10] {
				t.Logf("  sampler %+5.0f ms: %4d sends, %3d slow, p50 %.1f p90 %.1f p99 %.1f max %.1f ms", b.FromMs, b.Sends, b.Slow, b.P50Ms, b.P90Ms, b.P99Ms, b.MaxMs)
			}
			for _, b := range p.Bins {
				t.Logf("  %+5.0f ms: %4d sends, %3d slow, p50 %.1f p90 %.1f p99 %.1f max %.1f ms", b.FromMs, b.Sends, b.Slow, b.P50Ms, b.P90Ms, b.P99Ms, b.MaxMs)
			}
			set.Runs = append(set.Runs, run)
			saveMeasurement(t, proberRTTFile, set)
		}
	}
	set.Wall, set.Done = clk.Since(start).Round(time.Second).String(), true
	saveMeasurement(t, proberRTTFile, set)
}

// measureProberRTTRun is one storm run with the active opens sampled
// until the window starts (so that the sampling adds nothing to the
// window's round trips): the prober ticks on a fixed 4 s grid from each
// member's start (a Go Ticker: github.com/xiang90/probing prober.go:51;
// TestProberPhaseReplay: every burst 4 s after the last within 50 ms), so
// the window's bursts are the grid of the bursts seen before it.
func measureProberRTTRun(ctx context.Context, clk clock.Clock, cfg StormConfig, t *testing.T) (ProberRTTRun, error) {
	var run ProberRTTRun
	type open struct {
		at int64 // Unix ns
		n  uint64
	}
	var (
		mu    sync.Mutex
		opens []open
	)
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() {
		fs := procstat.FS{}
		prev, err := fs.SNMP()
		if err != nil {
			done <- err
			return
		}
		for sctx.Err() == nil {
			time.Sleep(time.Millisecond)
			cur, err := fs.SNMP()
			if err != nil {
				done <- err
				return
			}
			if d := cur.ActiveOpens - prev.ActiveOpens; d > 0 {
				mu.Lock()
				opens = append(opens, open{time.Now().UnixNano(), d})
				mu.Unlock()
			}
			prev = cur
		}
		done <- nil
	}()
	var (
		res     *StormResult
		started time.Time
		bounds  []int64
	)
	r, err := measureStorm(ctx, clk, cfg, testWriter{t}, stormExtras{platformPerS: proberRTTPlatformPerS,
		sampled: func(_ time.Time, _ int, took time.Duration) {
			stop()
			mu.Lock()
			run.SampleReadMs = append(run.SampleReadMs, float64(took.Microseconds())/1e3)
			mu.Unlock()
		},
		window: func(x *StormResult, s time.Time, b []int64) {
			res, started, bounds = x, s, b
		}})
	stop()
	if serr := <-done; err == nil {
		err = serr
	}
	if err != nil {
		return run, err
	}
	run.Storm = r
	mu.Lock()
	defer mu.Unlock()
	// The opens grouped into bursts; a burst of one open per ordered member
	// pair within 80 ms is the prober's.
	var grid []int64
	for _, o := range opens {
		if n := len(run.Bursts); n > 0 {
			b := &run.Bursts[n-1]
			last := b.AtMs + b.WidthMs
			if at := float64(o.at-started.UnixNano()) / 1e6; at-last < float64(ProberBurstGap)/1e6 {
				b.WidthMs, b.Opens = at-b.AtMs, b.Opens+o.n
				continue
			}
		}
		run.Bursts = append(run.Bursts, ProberBurst{AtMs: float64(o.at-started.UnixNano()) / 1e6, Opens: o.n})
	}
	for _, b := range run.Bursts {
		if b.Opens == 6 && b.WidthMs <= 80 {
			grid = append(grid, started.UnixNano()+int64(b.AtMs*1e6))
		}
	}
	if len(grid) == 0 {
		return run, fmt.Errorf("%s: no prober burst before the window (bursts %+v)", cfg.Name, run.Bursts)
	}
	// The grid's phase: the median offset of the bursts seen from the last
	// of them, each moved by whole periods.
	period := int64(netsim.ProberInterval)
	last := grid[len(grid)-1]
	var offs []int64
	for _, g := range grid {
		d := (g - last) % period
		if d < -period/2 {
			d += period
		}
		offs = append(offs, d)
	}
	sort.Slice(offs, func(i, j int) bool { return offs[i] < offs[j] })
	phase := last + offs[len(offs)/2]
	starts := ProberGrid(phase, bounds[0], bounds[len(bounds)-1])
	run.GridMs = float64(phase-started.UnixNano()) / 1e6
	newConns := func(at int64) int {
		i := sort.Search(len(bounds), func(i int) bool { return bounds[i] >= at })
		if i > 0 && i < len(bounds) {
			return r.Seconds[i-1].NewPeerConns
		}
		return -1
	}
	run.Profile = ProfileProberRTT(res.SendAt, res.RTTNs, starts, newConns, nil)
	// The sends not near a prober burst against the window's own samples
	// (bounds[0] is its start, whose sample the window's sends follow too):
	// its Away is what neither explains.
	run.Sampler = ProfileProberRTT(res.SendAt, res.RTTNs, bounds, newConns, func(t int64) bool { return NearBurst(starts, t) })
	run.Platform = ProfileProberRTT(res.PlatformAt, res.PlatformRTT, starts, newConns, nil)
	for i, at := range res.PlatformAt {
		if at <= bounds[0] || at > bounds[len(bounds)-1] {
			continue
		}
		run.PlatformChecks++
		if d := res.PlatformRTT[i]; d < 0 || d > int64(proberRTTSlowCheck) {
			run.PlatformSlow = append(run.PlatformSlow, [2]float64{math.Round(float64(at-started.UnixNano())/1e3) / 1e3, math.Round(float64(d)/1e3) / 1e3})
		}
	}
	return run, nil
}
