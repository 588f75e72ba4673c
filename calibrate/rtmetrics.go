package calibrate

import (
	"context"
	"math"
	"runtime/metrics"
	"sync"
	"time"

	"github.com/benbjohnson/clock"
)

// The Go runtime's own view of a process, read with runtime/metrics
// (https://pkg.go.dev/runtime/metrics; the descriptions are in the Go
// tree's src/runtime/metrics/description.go). Used by the storm-hiccups
// measurement (hiccups.go) in the test process (the three members) and in
// the storm agent. Terms:
//
//   - scheduler latency: /sched/latencies:seconds, "distribution of the time
//     goroutines have spent in the scheduler in a runnable state before
//     actually running" — a goroutine made ready (a timer fired, a packet
//     arrived) waiting for a processor.
//   - GC pause: /sched/pauses/total/gc:seconds, one stop-the-world pause
//     (a GC cycle has two: sweep termination and mark termination); the
//     same as the deprecated /gc/pauses:seconds.
//   - mark CPU: /cpu/classes/gc/mark/{assist,dedicated,idle}:cpu-seconds.
//     Assist is CPU that allocating goroutines were made to spend marking
//     (it delays them directly); dedicated (including fractional) and idle
//     are the GC's own workers. The runtime adds the current cycle's mark
//     time to these when they are read during the mark phase
//     (runtime/mstats.go cpuStats.accumulate, gcMarkPhase), so a rise
//     between two reads means the mark phase ran in between.
//   - GC cycle end: /gc/cycles/total:gc-cycles counts completed cycles.

// rtNames are the metrics read, in rtRead's order.
var rtNames = []string{
	"/sched/latencies:seconds",
	"/sched/pauses/total/gc:seconds",
	"/gc/cycles/total:gc-cycles",
	"/cpu/classes/gc/mark/assist:cpu-seconds",
	"/cpu/classes/gc/mark/dedicated:cpu-seconds",
	"/cpu/classes/gc/mark/idle:cpu-seconds",
	"/gc/heap/goal:bytes",
	"/gc/heap/live:bytes",
	"/memory/classes/heap/objects:bytes",
}

// HistBin is one non-empty bin of a sparse histogram: N observations at or
// under LeMs (and above the previous bin's bound), in milliseconds.
type HistBin struct {
	LeMs float64 `json:"le_ms"`
	N    uint64  `json:"n"`
}

// RTDelta is what changed in one process's runtime between two reads (At:
// the second read, Unix ns).
type RTDelta struct {
	At int64 `json:"at"`
	// Sched: scheduler latencies observed in the interval; Pauses: GC
	// stop-the-world pauses (see the terms above).
	Sched  []HistBin `json:"sched,omitempty"`
	Pauses []HistBin `json:"pauses,omitempty"`
	Cycles uint64    `json:"cycles,omitempty"` // GC cycles completed
	// Mark CPU in the interval, ms.
	AssistMs    float64 `json:"assist_ms,omitempty"`
	DedicatedMs float64 `json:"dedicated_ms,omitempty"`
	IdleMarkMs  float64 `json:"idle_mark_ms,omitempty"`
	// At the second read, MB: the heap goal, the live heap marked by the
	// last completed cycle, and the heap's object bytes (live and not yet
	// swept dead: the heap's size as the GC paces it).
	GoalMB    float64 `json:"goal_mb"`
	LiveMB    float64 `json:"live_mb"`
	ObjectsMB float64 `json:"objects_mb"`
}

// Marking reports whether the GC's mark phase ran during the interval.
func (d RTDelta) Marking() bool { return d.AssistMs+d.DedicatedMs+d.IdleMarkMs > 0 }

// rtReader reads rtNames and returns the change since its previous read.
type rtReader struct {
	s    []metrics.Sample
	prev []metrics.Sample
}

func newRTReader() *rtReader {
	r := &rtReader{s: make([]metrics.Sample, len(rtNames)), prev: make([]metrics.Sample, len(rtNames))}
	for i, n := range rtNames {
		r.s[i].Name, r.prev[i].Name = n, n
	}
	metrics.Read(r.prev)
	return r
}

func (r *rtReader) read(at time.Time) RTDelta {
	metrics.Read(r.s)
	d := RTDelta{At: at.UnixNano()}
	d.Sched = histDelta(r.prev[0], r.s[0])
	d.Pauses = histDelta(r.prev[1], r.s[1])
	d.Cycles = uint64Of(r.s[2]) - uint64Of(r.prev[2])
	ms := func(i int) float64 { return round3((float64Of(r.s[i]) - float64Of(r.prev[i])) * 1000) }
	d.AssistMs, d.DedicatedMs, d.IdleMarkMs = ms(3), ms(4), ms(5)
	mb := func(i int) float64 { return round3(float64(uint64Of(r.s[i])) / (1 << 20)) }
	d.GoalMB, d.LiveMB, d.ObjectsMB = mb(6), mb(7), mb(8)
	// Swap: this read is the next one's previous. metrics.Read may reuse a
	// sample's histogram storage, so the two sets stay distinct.
	r.prev, r.s = r.s, r.prev
	return d
}

func uint64Of(s metrics.Sample) uint64 {
	if s.Value.Kind() == metrics.KindUint64 {
		return s.Value.Uint64()
	}
	return 0
}

func float64Of(s metrics.Sample) float64 {
	if s.Value.Kind() == metrics.KindFloat64 {
		return s.Value.Float64()
	}
	return 0
}

// histDelta is b minus a as sparse bins, bounds in ms. A bin's bound is its
// upper edge; the last bin's upper edge is +Inf, so it is given its lower
// edge (an underestimate, said so where the figures are used).
func histDelta(a, b metrics.Sample) []HistBin {
	if b.Value.Kind() != metrics.KindFloat64Histogram {
		return nil
	}
	hb := b.Value.Float64Histogram()
	var ac []uint64
	if a.Value.Kind() == metrics.KindFloat64Histogram {
		ac = a.Value.Float64Histogram().Counts
	}
	var out []HistBin
	for i, c := range hb.Counts {
		if i < len(ac) {
			c -= ac[i]
		}
		if c == 0 {
			continue
		}
		le := hb.Buckets[i+1]
		if math.IsInf(le, 1) {
			le = hb.Buckets[i]
		}
		out = append(out, HistBin{LeMs: round4(le * 1000), N: c})
	}
	return out
}

// mergeHist adds sparse histograms (bins matched by bound).
func mergeHist(hs ...[]HistBin) []HistBin {
	m := map[float64]uint64{}
	for _, h := range hs {
		for _, b := range h {
			m[b.LeMs] += b.N
		}
	}
	out := make([]HistBin, 0, len(m))
	for le, n := range m {
		out = append(out, HistBin{LeMs: le, N: n})
	}
	sortHist(out)
	return out
}

func sortHist(h []HistBin) {
	for i := 1; i < len(h); i++ {
		for j := i; j > 0 && h[j].LeMs < h[j-1].LeMs; j-- {
			h[j], h[j-1] = h[j-1], h[j]
		}
	}
}

// HistQ is a sparse histogram's count and quantiles (each the upper bound
// of the bin it falls in, ms).
type HistQ struct {
	N     uint64  `json:"n"`
	P50Ms float64 `json:"p50_ms"`
	P99Ms float64 `json:"p99_ms"`
	MaxMs float64 `json:"max_ms"`
}

// histQuantiles of a sorted sparse histogram.
func histQuantiles(h []HistBin) HistQ {
	var q HistQ
	for _, b := range h {
		q.N += b.N
	}
	if q.N == 0 {
		return q
	}
	at := func(p float64) float64 {
		rank := uint64(math.Ceil(p * float64(q.N)))
		var c uint64
		for _, b := range h {
			c += b.N
			if c >= rank {
				return b.LeMs
			}
		}
		return h[len(h)-1].LeMs
	}
	q.P50Ms, q.P99Ms, q.MaxMs = round4(at(0.5)), round4(at(0.99)), round4(h[len(h)-1].LeMs)
	return q
}

func round4(v float64) float64 { return math.Round(v*1e4) / 1e4 }

// rtSampler reads the runtime every period until stopped.
type rtSampler struct {
	mu     sync.Mutex
	deltas []RTDelta
	cancel context.CancelFunc
	done   chan struct{}
}

func startRTSampler(clk clock.Clock, period time.Duration) *rtSampler {
	ctx, cancel := context.WithCancel(context.Background())
	s := &rtSampler{cancel: cancel, done: make(chan struct{})}
	r := newRTReader()
	go func() {
		defer close(s.done)
		tick := clk.Ticker(period)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				d := r.read(clk.Now())
				s.mu.Lock()
				s.deltas = append(s.deltas, d)
				s.mu.Unlock()
			case <-ctx.Done():
				return
			}
		}
	}()
	return s
}

// stop ends the sampling and returns the deltas.
func (s *rtSampler) stop() []RTDelta {
	s.cancel()
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deltas
}
