package calibrate

import (
	"cmp"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/leasesim/leasesim/netsim"
	"github.com/leasesim/leasesim/spec"
)

// platformStallAfter: seconds after a storm second that still count as the
// storm's (its queue drains for seconds after its last storm second; as
// TestStormGOGCIntervention counts).
const platformStallAfter = 5

// platformEpisodes reads one prober-RTT run's platform stalls: its slow
// health checks (ProberRTTRun.PlatformSlow) in the window's calm time (not
// in or within platformStallAfter seconds after a storm second, and not
// near a prober burst, whose delays the model draws itself), merged into
// episodes where one check's flight (send to answer) meets the next's. An
// episode's length: from its first send to its last answer, less the
// checks' median round trip (what a check takes outside a stall). calmS: the
// calm time the episodes were read in, in seconds. weights: how many stalls
// each episode stands for. The checks sample the stalls: one of length D is
// seen only if a check is in flight during it, which with R checks a second
// over all connections (each taking about the median m outside a stall)
// happens with probability min(1, (D + m) R), so a seen episode stands for
// 1 / that many (Horvitz and Thompson's estimator): short stalls are missed
// more often than long ones.
func platformEpisodes(run ProberRTTRun) (lengthsMs, weights []float64, calmS float64) {
	secs := run.Storm.Seconds
	calm := make([]bool, len(secs))
	last := -1000
	for i, s := range secs {
		if s.NewPeerConns > StormNewConnsPerS {
			last = i
		}
		calm[i] = i-last > platformStallAfter
	}
	// The window's second i spans (T_i - DurS_i, T_i] from the load's start.
	secondOf := func(atMs float64) int {
		for i, s := range secs {
			if atMs/1e3 > s.T-s.DurS && atMs/1e3 <= s.T {
				return i
			}
		}
		return -1
	}
	// The prober grid in ns from the load's start.
	ns := func(ms float64) int64 { return int64(math.Round(ms * 1e6)) }
	grid := ProberGrid(ns(run.GridMs), ns(1e3*(secs[0].T-secs[0].DurS)), ns(1e3*secs[len(secs)-1].T))
	nearProber := func(atMs float64) bool { return NearBurst(grid, ns(atMs)) }
	nearShare := float64(ProberRTTLead+ProberRTTSpan) / float64(netsim.ProberInterval)
	for i, s := range secs {
		if calm[i] {
			calmS += s.DurS * (1 - nearShare)
		}
	}
	base := run.Platform.Away.P50Ms
	perMs := float64(run.PlatformChecks) / (secs[len(secs)-1].T - secs[0].T + secs[0].DurS) / 1e3
	var start, end float64
	open := false
	flush := func() {
		if open {
			d := max(0, end-start-base)
			lengthsMs, weights = append(lengthsMs, d), append(weights, 1/min(1, (d+base)*perMs))
		}
		open = false
	}
	for _, c := range run.PlatformSlow {
		at, rtt := c[0], c[1]
		if i := secondOf(at); i < 0 || !calm[i] || nearProber(at) || rtt < 0 {
			continue
		}
		if open && at <= end {
			end = max(end, at+rtt)
			continue
		}
		flush()
		start, end, open = at, at+rtt, true
	}
	flush()
	return lengthsMs, weights, calmS
}

// platformStallsOf pools the episodes of a condition's runs without a big
// storm (at most BigStormNewConnsPerS new connections in every second) into
// a stall process: the stalls they stand for over the pooled calm time, and
// those stalls' lengths at spec.PlatformStallLevels (weighted nearest rank;
// the first level is the shortest seen).
func platformStallsOf(runs []ProberRTTRun, busy bool) (p spec.PlatformStalls, nRuns int) {
	type episode struct{ ms, weight float64 }
	var eps []episode
	var calmS, total float64
	for _, r := range runs {
		if r.Storm.Config.Background != busy || r.Storm.Derived.PeakNewConns > BigStormNewConnsPerS {
			continue
		}
		l, w, s := platformEpisodes(r)
		for i := range l {
			eps = append(eps, episode{l[i], w[i]})
			total += w[i]
		}
		calmS += s
		nRuns++
	}
	if calmS == 0 || len(eps) == 0 {
		return p, nRuns
	}
	slices.SortStableFunc(eps, func(a, b episode) int { return cmp.Compare(a.ms, b.ms) })
	p.PerS = math.Round(total/calmS*100) / 100
	for _, q := range spec.PlatformStallLevels {
		i, cum := 0, eps[0].weight
		for i < len(eps)-1 && cum < q*total {
			i++
			cum += eps[i].weight
		}
		p.Lengths = append(p.Lengths, time.Duration(math.Round(eps[i].ms*1e3))*time.Microsecond)
	}
	return p, nRuns
}

// TestPlatformStallTables derives spec.PlatformStallTables from the saved
// prober-RTT measurement and holds the model's copies to it.
func TestPlatformStallTables(t *testing.T) {
	var set ProberRTTSet
	loadMeasurement(t, proberRTTFile, &set)
	for _, c := range []struct {
		name string
		busy bool
	}{{spec.PlatformStallsQuiet, false}, {spec.PlatformStallsBusy, true}} {
		got, n := platformStallsOf(set.Runs, c.busy)
		t.Logf("%s: %d runs: %.2f stalls/s, lengths %v", c.name, n, got.PerS, got.Lengths)
		if n < 2 {
			t.Errorf("%s: %d runs without a big storm in %s; want at least 2", c.name, n, proberRTTFile)
		}
		want := spec.PlatformStallTables[c.name]
		if got.PerS != want.PerS || !slices.Equal(got.Lengths, want.Lengths) {
			t.Errorf("spec.PlatformStallTables[%q] = %+v; the measurement gives %+v", c.name, want, got)
		}
	}
}
