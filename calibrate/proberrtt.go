package calibrate

import (
	"math"
	"slices"
	"time"

	"github.com/leasesim/leasesim/netsim"
	"github.com/leasesim/leasesim/recorder"
)

// The prober-RTT profile: how a calm storm run's round trips look around
// rafthttp's prober bursts (every 4 s, one full-handshake connection per
// ordered member pair: TestStormProberSignature's slow second in four). It
// is computed alike from a real run (the agent's sends, the bursts read from
// /proc/net/snmp ActiveOpens every millisecond; TestMeasureProberRTT) and a
// simulated one (the model's sends, its prober phases), so the two can be
// laid side by side: whether a burst delays a few sends sharply or many
// moderately, for how long after it starts, and how much of the window's
// RTT tail it accounts for.

// Terms:
//   - burst: one prober tick of the whole cluster, from its first probe;
//   - span: ProberRTTLead before a burst's start to ProberRTTSpan after it;
//     a send in it is near the burst;
//   - away: sends not near any burst (the baseline), split by their second:
//     quiet (no new peer connection into the leader) or re-dialling (some,
//     but no storm);
//   - slow: a round trip over ProberRTTSlow.
const (
	ProberRTTLead = 20 * time.Millisecond
	ProberRTTSpan = 300 * time.Millisecond
	ProberRTTStep = 10 * time.Millisecond
	ProberRTTSlow = 5 * time.Millisecond
	// ProberBurstGap: probes (connection opens) less than this apart are
	// one burst.
	ProberBurstGap = 500 * time.Millisecond
)

// ProberRTTProfile is one run's profile (see the terms above).
type ProberRTTProfile struct {
	Bursts int `json:"bursts"`
	// Bins: the near sends by their offset from the burst's start, from
	// -ProberRTTLead in ProberRTTStep steps.
	Bins       []ProberRTTBin `json:"bins"`
	Away       ProberRTTBin   `json:"away"`
	AwayQuiet  ProberRTTBin   `json:"away_quiet"`
	AwayRedial ProberRTTBin   `json:"away_redial"`
	// PerBurst: each burst's near sends over ProberRTTSlow and its slowest.
	PerBurst []ProberBurstTail `json:"per_burst"`
	// WindowP99Ms: the calm sends' p99; TailNear: the share of the calm
	// sends over it that are near a burst.
	WindowP99Ms float64 `json:"window_p99_ms"`
	TailNear    float64 `json:"tail_near"`
}

// ProberRTTBin is a group of sends' round trips.
type ProberRTTBin struct {
	FromMs float64 `json:"from_ms"`
	Sends  int     `json:"sends"`
	Slow   int     `json:"slow"`
	P50Ms  float64 `json:"p50_ms"`
	P90Ms  float64 `json:"p90_ms"`
	P99Ms  float64 `json:"p99_ms"`
	MaxMs  float64 `json:"max_ms"`
	// QuantilesMs: at ProberRTTLevels (nearest rank).
	QuantilesMs []float64 `json:"quantiles_ms,omitempty"`
}

// ProberRTTLevels are the levels of ProberRTTBin.QuantilesMs: the upper
// half in detail (a distribution's tail, for a model to draw from).
var ProberRTTLevels = []float64{0.5, 0.75, 0.9, 0.95, 0.97, 0.98, 0.99, 0.995, 0.998, 0.999, 1}

// ProberBurstTail is one burst's near sends: how many were slow, the slowest.
type ProberBurstTail struct {
	Slow  int     `json:"slow"`
	MaxMs float64 `json:"max_ms"`
}

// ProfileProberRTT profiles sends (their times and round trips, ns on one
// clock; a round trip < 0 was never answered and is left out) against the
// bursts' start times on the same clock (ascending). newConns(t) is the new
// peer connections into the leader in the second of a send at t: a send
// counts if they are at most StormNewConnsPerS (a storm second's round trips
// are the storm's); -1 outside the window. skip, if not nil, leaves out the
// sends at the times it names (to profile against other events).
func ProfileProberRTT(sendAt, rtt []int64, bursts []int64, newConns func(int64) int, skip func(int64) bool) ProberRTTProfile {
	calm := func(t int64) bool {
		n := newConns(t)
		return n >= 0 && n <= StormNewConnsPerS && (skip == nil || !skip(t))
	}
	nBins := int((ProberRTTLead + ProberRTTSpan) / ProberRTTStep)
	binned := make([][]int64, nBins)
	per := make([]ProberBurstTail, len(bursts))
	var away, awayQuiet, awayRedial, all []int64
	near := make([]bool, len(sendAt))
	for i, t := range sendAt {
		if rtt[i] < 0 || !calm(t) {
			continue
		}
		all = append(all, rtt[i])
		k := burstAt(bursts, t)
		if k < 0 {
			away = append(away, rtt[i])
			if newConns(t) == 0 {
				awayQuiet = append(awayQuiet, rtt[i])
			} else {
				awayRedial = append(awayRedial, rtt[i])
			}
			continue
		}
		near[i] = true
		b := int((t - bursts[k] + int64(ProberRTTLead)) / int64(ProberRTTStep))
		binned[b] = append(binned[b], rtt[i])
		if rtt[i] > int64(ProberRTTSlow) {
			per[k].Slow++
		}
		per[k].MaxMs = max(per[k].MaxMs, float64(rtt[i])/1e6)
	}
	p := ProberRTTProfile{Bursts: len(bursts), PerBurst: per, Away: rttBin(0, away),
		AwayQuiet: rttBin(0, awayQuiet), AwayRedial: rttBin(0, awayRedial)}
	for b, xs := range binned {
		p.Bins = append(p.Bins, rttBin(float64(b)*float64(ProberRTTStep)/1e6-float64(ProberRTTLead)/1e6, xs))
	}
	p.WindowP99Ms = recorder.PercentilesOf(all).P99
	p99 := int64(p.WindowP99Ms * 1e6)
	var over, overNear int
	for i, t := range sendAt {
		if rtt[i] > p99 && calm(t) {
			over++
			if near[i] {
				overNear++
			}
		}
	}
	if over > 0 {
		p.TailNear = float64(overNear) / float64(over)
	}
	return p
}

// NearBurst reports whether t is near one of bursts (ascending): within
// ProberRTTLead before a start to ProberRTTSpan after it.
func NearBurst(bursts []int64, t int64) bool { return burstAt(bursts, t) >= 0 }

// burstAt is the index of the burst whose span holds t (the latest starting
// at or before t + ProberRTTLead), or -1.
func burstAt(bursts []int64, t int64) int {
	k, _ := slices.BinarySearch(bursts, t+int64(ProberRTTLead)+1)
	if k == 0 || t-bursts[k-1] >= int64(ProberRTTSpan) {
		return -1
	}
	return k - 1
}

// ProberGrid is the prober's bursts from phase on, every
// netsim.ProberInterval (a Go ticker keeps its grid), whose span meets
// [from, to]; phase is at or before from.
func ProberGrid(phase, from, to int64) []int64 {
	var starts []int64
	for at := phase; at-int64(ProberRTTLead) <= to; at += int64(netsim.ProberInterval) {
		if at+int64(ProberRTTSpan) > from {
			starts = append(starts, at)
		}
	}
	return starts
}

func rttBin(fromMs float64, xs []int64) ProberRTTBin {
	b := ProberRTTBin{FromMs: fromMs, Sends: len(xs)}
	if len(xs) == 0 {
		return b
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	// Nearest rank, as recorder.PercentilesOf.
	at := func(q float64) float64 {
		return float64(s[max(0, int(math.Ceil(q*float64(len(s))))-1)]) / 1e6
	}
	b.P50Ms, b.P90Ms, b.P99Ms, b.MaxMs = at(0.5), at(0.9), at(0.99), float64(s[len(s)-1])/1e6
	for _, q := range ProberRTTLevels {
		b.QuantilesMs = append(b.QuantilesMs, at(q))
	}
	for _, x := range s {
		if x > int64(ProberRTTSlow) {
			b.Slow++
		}
	}
	return b
}
