// Package recorder turns the facts a simulation reports into what users read:
// per-bucket time series, renew-interval percentiles, first occurrences, and the
// trace (Chrome/Perfetto trace-event JSON, trace.go). It never reaches into components; the wiring calls Record.
//
// A fact concerns n identical leases at once: the wiring may simulate a cohort of
// clients that are in lockstep (same start, same behaviour) as one, and reports
// the lease IDs first .. first+n-1. Counts and percentiles weight each fact by n,
// so results are the same as simulating every lease on its own.
package recorder

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/leasesim/leasesim/sim"
)

// Kind is the kind of a fact.
type Kind uint8

const (
	Request   Kind = iota // a client sent a keepalive request
	Renewal               // the server applied a renewal
	Response              // a keepalive response reached the client
	Delivered             // ... and went into the channel
	Dropped               // ... and was dropped: channel full
	Read                  // the application took a response off the channel
	Closed                // the lessor closed the keepalive channel (reason)
	CloseSeen             // the application saw its channel closed
	Expired               // the server expired the lease (keys attached are deleted)
	numKinds
)

var kindNames = [numKinds]string{"request", "renewal", "response", "delivered", "dropped", "read", "closed", "close-seen", "expired"}

func (k Kind) String() string { return kindNames[k] }

// Recorder accumulates facts. Not safe for concurrent use; a simulation is
// single-threaded.
type Recorder struct {
	bucket    time.Duration
	series    [numKinds][]uint64
	totals    [numKinds]uint64
	first     [numKinds]sim.Time
	reasons   map[string]uint64
	intervals map[int64]uint64 // renew interval (ns) -> leases
	// The last interval seen and its pending count: consecutive intervals are
	// mostly equal (every 500 ms, or every TTL/3 rounded), so they are counted
	// here and folded into the map when a different one comes.
	runD     int64
	runN     uint64
	lastReq  []sim.Time // per cohort, -1 before the first request
	first500 sim.Time   // first renew interval <= 500 ms
	trace    *tracer
}

// New returns a recorder for a run of the given duration with the given number
// of cohorts; trace, if not nil, receives the trace: one trace event per fact
// (a *TraceWriter there carries TraceOptions).
func New(bucket, duration time.Duration, cohorts int, trace io.Writer) *Recorder {
	n := int((duration + bucket - 1) / bucket)
	r := &Recorder{
		bucket:    bucket,
		reasons:   map[string]uint64{},
		intervals: map[int64]uint64{},
		lastReq:   make([]sim.Time, cohorts),
		first500:  -1,
	}
	for k := range r.series {
		r.series[k] = make([]uint64, n)
		r.first[k] = -1
	}
	for i := range r.lastReq {
		r.lastReq[i] = -1
	}
	if trace != nil {
		r.trace = newTracer(trace)
	}
	return r
}

// ScanInterval is the client's scan period; an interval at or below it means the
// lease is being renewed on every scan.
const ScanInterval = 500 * time.Millisecond

// Record notes that fact k happened at now to the n leases first..first+n-1 of
// cohort c. reason qualifies Closed.
func (r *Recorder) Record(now sim.Time, k Kind, c int, first int64, n uint64, reason string) {
	b := int(time.Duration(now) / r.bucket)
	if b < len(r.series[k]) {
		r.series[k][b] += n
	}
	r.totals[k] += n
	if r.first[k] < 0 {
		r.first[k] = now
	}
	switch k {
	case Request:
		if last := r.lastReq[c]; last >= 0 {
			d := int64(now - last)
			if d != r.runD {
				if r.runN > 0 {
					r.intervals[r.runD] += r.runN
				}
				r.runD, r.runN = d, 0
			}
			r.runN += n
			if r.first500 < 0 && time.Duration(d) <= ScanInterval {
				r.first500 = now
			}
		}
		r.lastReq[c] = now
	case Closed:
		r.reasons[reason] += n
	}
	if r.trace != nil {
		r.trace.record(int64(now), k, first, n, reason)
	}
}

// Flush ends the trace (closing its JSON document: call it once, at the end
// of the run), writes it out and reports the first write error.
func (r *Recorder) Flush() error {
	if r.trace == nil {
		return nil
	}
	return r.trace.close()
}

// Percentiles of the renew interval, in milliseconds.
type Percentiles struct {
	Count uint64  `json:"count"`
	Min   float64 `json:"min"`
	P50   float64 `json:"p50"`
	P99   float64 `json:"p99"`
	Max   float64 `json:"max"`
}

// Summary is the recorder's result, in the units its names say.
type Summary struct {
	BucketSeconds  float64           `json:"bucket_s"`
	RenewalsTotal  uint64            `json:"renewals_total"`
	RequestsTotal  uint64            `json:"requests_total"`
	RenewalsPerS   []float64         `json:"renewals_per_s"`
	IntervalMs     Percentiles       `json:"interval_ms"`
	ResponsesTotal uint64            `json:"responses_total"`
	Delivered      uint64            `json:"responses_delivered"`
	Dropped        uint64            `json:"responses_dropped"`
	Reads          uint64            `json:"responses_read"`
	ChannelsClosed map[string]uint64 `json:"channels_closed"`
	LeasesExpired  uint64            `json:"leases_expired"`
	KeysLost       uint64            `json:"keys_lost"`
	FirstDropS     *float64          `json:"first_drop_s"`
	First500msS    *float64          `json:"first_500ms_interval_s"`
	FirstExpiryS   *float64          `json:"first_expiry_s"`
	// RevokeLagMs: how long revoked leases' keys outlived them, one value
	// per lease (cluster runs; nil when nothing was revoked).
	RevokeLagMs *Percentiles `json:"revoke_lag_ms,omitempty"`
	// ApplyLagMaxS: the longest any member's applied index lagged its
	// committed one (an apply stall, a Promote), in seconds (cluster runs;
	// nil when it never did).
	ApplyLagMaxS    *float64 `json:"apply_lag_max_s,omitempty"`
	expiredPerS     []uint64
	requestsPerS    []uint64
	bucketDur       time.Duration
	intervalsSorted [][2]int64
}

func secondsOrNil(t sim.Time) *float64 {
	if t < 0 {
		return nil
	}
	s := time.Duration(t).Seconds()
	return &s
}

// Summary computes the summary; keysPerLease converts expirations to keys lost.
func (r *Recorder) Summary(keysPerLease uint64) Summary {
	s := Summary{
		BucketSeconds:  r.bucket.Seconds(),
		RenewalsTotal:  r.totals[Renewal],
		RequestsTotal:  r.totals[Request],
		ResponsesTotal: r.totals[Response],
		Delivered:      r.totals[Delivered],
		Dropped:        r.totals[Dropped],
		Reads:          r.totals[Read],
		ChannelsClosed: map[string]uint64{},
		LeasesExpired:  r.totals[Expired],
		KeysLost:       r.totals[Expired] * keysPerLease,
		FirstDropS:     secondsOrNil(r.first[Dropped]),
		First500msS:    secondsOrNil(r.first500),
		FirstExpiryS:   secondsOrNil(r.first[Expired]),
		expiredPerS:    r.series[Expired],
		requestsPerS:   r.series[Request],
		bucketDur:      r.bucket,
	}
	for k, v := range r.reasons {
		s.ChannelsClosed[k] = v
	}
	s.RenewalsPerS = make([]float64, len(r.series[Renewal]))
	for i, v := range r.series[Renewal] {
		s.RenewalsPerS[i] = float64(v) / r.bucket.Seconds()
	}
	if r.runN > 0 {
		r.intervals[r.runD] += r.runN
		r.runN = 0
	}
	keys := make([]int64, 0, len(r.intervals))
	for k := range r.intervals {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		s.intervalsSorted = append(s.intervalsSorted, [2]int64{k, int64(r.intervals[k])})
	}
	s.IntervalMs = percentiles(s.intervalsSorted)
	return s
}

// PercentilesOf is the percentiles of a sample of durations in nanoseconds,
// by the same nearest-rank rule as a run's renew intervals (calibrate uses it
// for measured intervals and RTTs, so measured and predicted figures are
// comparable): the one percentile implementation of leasesim.
func PercentilesOf(ns []int64) Percentiles {
	s := slices.Clone(ns)
	slices.Sort(s)
	var runs [][2]int64
	for _, v := range s {
		if n := len(runs); n > 0 && runs[n-1][0] == v {
			runs[n-1][1]++
			continue
		}
		runs = append(runs, [2]int64{v, 1})
	}
	return percentiles(runs)
}

// WeightedPercentiles is the percentiles of a weighted sample, (value ns,
// weight) pairs in any order, by the rule of PercentilesOf.
func WeightedPercentiles(pairs [][2]int64) Percentiles {
	s := slices.Clone(pairs)
	slices.SortFunc(s, func(a, b [2]int64) int { return cmp.Compare(a[0], b[0]) })
	return percentiles(s)
}

// percentiles of a weighted sample: (value ns, weight) pairs sorted by value.
// Nearest rank: the smallest value with at least q of the weight at or below it.
func percentiles(sorted [][2]int64) Percentiles {
	var p Percentiles
	for _, kv := range sorted {
		p.Count += uint64(kv[1])
	}
	if p.Count == 0 {
		return p
	}
	ms := func(ns int64) float64 { return float64(ns) / 1e6 }
	rank := func(q float64) float64 {
		// nearest rank: the smallest value with at least q of the weight at or below it
		need := uint64(q*float64(p.Count) + 0.999999)
		if need < 1 {
			need = 1
		}
		var cum uint64
		for _, kv := range sorted {
			cum += uint64(kv[1])
			if cum >= need {
				return ms(kv[0])
			}
		}
		return ms(sorted[len(sorted)-1][0])
	}
	p.Min = ms(sorted[0][0])
	p.Max = ms(sorted[len(sorted)-1][0])
	p.P50 = rank(0.50)
	p.P99 = rank(0.99)
	return p
}

// Window is a stretch of the run with mean rates, for human-readable output.
type Window struct {
	From, To        time.Duration
	RenewalsPerS    float64
	PeakRenewalsInS float64 // the busiest bucket, per second
	Expired         uint64
}

// Windows splits the run into about n windows of whole buckets.
func (s Summary) Windows(n int) []Window {
	buckets := len(s.RenewalsPerS)
	if buckets == 0 || n <= 0 {
		return nil
	}
	per := (buckets + n - 1) / n
	var out []Window
	for from := 0; from < buckets; from += per {
		to := min(from+per, buckets)
		w := Window{From: time.Duration(from) * s.bucketDur, To: time.Duration(to) * s.bucketDur}
		var sum float64
		for i := from; i < to; i++ {
			sum += s.RenewalsPerS[i]
			w.PeakRenewalsInS = max(w.PeakRenewalsInS, s.RenewalsPerS[i])
			w.Expired += s.expiredPerS[i]
		}
		w.RenewalsPerS = sum / float64(to-from)
		out = append(out, w)
	}
	return out
}

// MeanRenewalsPerS is the mean renewal rate over [from, to).
func (s Summary) MeanRenewalsPerS(from, to time.Duration) float64 {
	a, b := int(from/s.bucketDur), int(to/s.bucketDur)
	b = min(b, len(s.RenewalsPerS))
	if b <= a {
		return 0
	}
	var sum float64
	for i := a; i < b; i++ {
		sum += s.RenewalsPerS[i]
	}
	return sum / float64(b-a)
}

// String is a compact description of a percentile set.
func (p Percentiles) String() string {
	if p.Count == 0 {
		return "no intervals"
	}
	f := func(ms float64) string { return time.Duration(ms * 1e6).String() }
	return fmt.Sprintf("p50 %s  p99 %s  min %s  max %s  (%d intervals)", f(p.P50), f(p.P99), f(p.Min), f(p.Max), p.Count)
}
