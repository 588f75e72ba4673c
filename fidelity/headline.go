package fidelity

import (
	"math"

	"github.com/leasesim/leasesim/recorder"
	"github.com/leasesim/leasesim/spec"
	"github.com/leasesim/leasesim/sweep"
)

// Metrics are a cluster run's headline metrics.
type Metrics struct {
	// RenewalsPerS: leases renewed per second, the mean over the run
	// (recorder.Summary.RenewalsPerS).
	RenewalsPerS float64 `json:"renewals_per_s"`
	// IntervalP50Ms, IntervalP99Ms: the renew interval's percentiles, in ms
	// (recorder.Summary.IntervalMs).
	IntervalP50Ms float64 `json:"interval_p50_ms"`
	IntervalP99Ms float64 `json:"interval_p99_ms"`
	// LeaderCPUMean, LeaderCPUPeak: the leader's CPU utilisation (0-1 of its
	// cores), the mean over the run's buckets and the busiest bucket's: the
	// initial leader's series, or with cluster.raft whichever member led
	// (sweep.LeaderCPUMetric).
	LeaderCPUMean float64 `json:"leader_cpu_mean"`
	LeaderCPUPeak float64 `json:"leader_cpu_peak"`
	// NewConnsPerS: new peer connections per second (dials started by the
	// peer transport), the mean over the run.
	NewConnsPerS float64 `json:"new_conns_per_s"`
	// TimeWaitPeak: TIME-WAIT sockets on the leader's side, the largest
	// bucket-end sample.
	TimeWaitPeak float64 `json:"time_wait_leader_peak"`
	// LeasesExpired, KeysLost: leases the leader expired and the keys
	// deleted with them.
	LeasesExpired uint64 `json:"leases_expired"`
	KeysLost      uint64 `json:"keys_lost"`
	// FirstExpiryS: when the first lease expired, in seconds of virtual
	// time; nil if none did.
	FirstExpiryS *float64 `json:"first_expiry_s"`
}

// Storm is the storm verdict: any lease expired.
func (m Metrics) Storm() bool { return m.LeasesExpired > 0 }

// LostKeys is the keys-lost verdict: any key was deleted with its lease.
func (m Metrics) LostKeys() bool { return m.KeysLost > 0 }

// Headline reads the headline metrics of o, a cluster run of s. It needs s
// for the leader's CPU: which series is the leader's depends on the initial
// leader and on cluster.raft (sweep.LeaderCPUMetric), which o does not say.
func Headline(s spec.Spec, o recorder.Outcome) Metrics {
	sum := o.Summary
	m := Metrics{
		RenewalsPerS:  mean(sum.RenewalsPerS),
		IntervalP50Ms: sum.IntervalMs.P50,
		IntervalP99Ms: sum.IntervalMs.P99,
		NewConnsPerS:  mean(o.Metric(recorder.NewPeerConnections)),
		TimeWaitPeak:  o.Peaks[recorder.TimeWaitLeader],
		LeasesExpired: sum.LeasesExpired,
		KeysLost:      sum.KeysLost,
	}
	cpu := sweep.LeaderCPUMetric(s)
	m.LeaderCPUMean, m.LeaderCPUPeak = mean(o.Metric(cpu)), o.Peaks[cpu]
	if sum.FirstExpiryS != nil {
		v := *sum.FirstExpiryS
		m.FirstExpiryS = &v
	}
	return m
}

func mean(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// Metric names a headline metric whose error is relative (every one but
// the first expiry, whose error is in seconds: Errors.FirstExpiryS).
type Metric int

// The relative headline metrics, in report order.
const (
	RenewalsPerS Metric = iota
	IntervalP50
	IntervalP99
	LeaderCPUMean
	LeaderCPUPeak
	NewConnsPerS
	TimeWaitPeak
	LeasesExpired
	KeysLost
	NumMetrics // how many
)

// metricInfo: each metric's name in reports and JSON, its noise floor and
// how to read it from Metrics.
var metricInfo = [NumMetrics]struct {
	name  string
	floor float64
	get   func(Metrics) float64
}{
	RenewalsPerS:  {"renewals/s", 1, func(m Metrics) float64 { return m.RenewalsPerS }},
	IntervalP50:   {"interval p50", 1, func(m Metrics) float64 { return m.IntervalP50Ms }},
	IntervalP99:   {"interval p99", 1, func(m Metrics) float64 { return m.IntervalP99Ms }},
	LeaderCPUMean: {"leader CPU mean", 0.01, func(m Metrics) float64 { return m.LeaderCPUMean }},
	LeaderCPUPeak: {"leader CPU peak", 0.01, func(m Metrics) float64 { return m.LeaderCPUPeak }},
	NewConnsPerS:  {"new conns/s", 1, func(m Metrics) float64 { return m.NewConnsPerS }},
	TimeWaitPeak:  {"TIME-WAIT peak", 10, func(m Metrics) float64 { return m.TimeWaitPeak }},
	LeasesExpired: {"leases expired", 1, func(m Metrics) float64 { return float64(m.LeasesExpired) }},
	KeysLost:      {"keys lost", 1, func(m Metrics) float64 { return float64(m.KeysLost) }},
}

// String is the metric's name in reports ("renewals/s").
func (k Metric) String() string { return metricInfo[k].name }

// Floor is the metric's noise floor, the smallest denominator of its
// relative error: 1 renewal/s, 1 ms of interval, 1 % of the leader's cores
// (0.01), 1 new connection/s, 10 TIME-WAIT sockets, 1 lease, 1 key. A
// difference below the floor is an error below 1 (100 %) even where the
// exact run has 0.
func (k Metric) Floor() float64 { return metricInfo[k].floor }

// Of is the metric's value in m.
func (k Metric) Of(m Metrics) float64 { return metricInfo[k].get(m) }

// Errors are the fast mode's errors against the exact mode on one scenario.
type Errors struct {
	// Rel: per metric, (fast-exact)/max(|exact|, floor): signed, 0.1 is
	// 10 % too high.
	Rel [NumMetrics]float64 `json:"rel"`
	// FirstExpiryS: the fast run's first expiry minus the exact run's, in
	// seconds; nil unless both runs had one.
	FirstExpiryS *float64 `json:"first_expiry_s"`
	// StormAgrees, KeysLostAgree: the two runs give the same verdict.
	StormAgrees   bool `json:"storm_agrees"`
	KeysLostAgree bool `json:"keys_lost_agree"`
}

// Compare is the fast run's errors against the exact run's (package doc:
// Error). Zero denominators: an exact value below the metric's floor
// (Metric.Floor) is measured against the floor, so both at 0 is no error
// and exact 0, fast x is x/floor. The first-expiry error is defined only
// when both runs had an expiry; one without is a verdict disagreement.
func Compare(exact, fast Metrics) Errors {
	var e Errors
	for k := range NumMetrics {
		x, f := k.Of(exact), k.Of(fast)
		e.Rel[k] = (f - x) / math.Max(math.Abs(x), k.Floor())
	}
	if exact.FirstExpiryS != nil && fast.FirstExpiryS != nil {
		d := *fast.FirstExpiryS - *exact.FirstExpiryS
		e.FirstExpiryS = &d
	}
	e.StormAgrees = exact.Storm() == fast.Storm()
	e.KeysLostAgree = exact.LostKeys() == fast.LostKeys()
	return e
}
