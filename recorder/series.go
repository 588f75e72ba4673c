package recorder

import (
	"time"

	"github.com/leasesim/leasesim/sim"
)

// Series is a set of named per-bucket metrics, in the order they were first
// named (so output order never depends on map iteration).
//
// A counter accumulates events per bucket (reported per second); a gauge holds
// the last value set in a bucket (a sample, e.g. at the bucket's end).
type Series struct {
	bucket time.Duration
	n      int
	names  []MetricName
	index  map[MetricName]int
	vals   [][]float64
	gauge  []bool
}

// NewSeries returns an empty set for a run of the given duration.
func NewSeries(bucket, duration time.Duration) *Series {
	return &Series{bucket: bucket, n: int((duration + bucket - 1) / bucket), index: map[MetricName]int{}}
}

func (s *Series) id(name MetricName, gauge bool) int {
	if i, ok := s.index[name]; ok {
		return i
	}
	s.index[name] = len(s.names)
	s.names = append(s.names, name)
	s.vals = append(s.vals, make([]float64, s.n))
	s.gauge = append(s.gauge, gauge)
	return len(s.names) - 1
}

// Counter returns a handle for the counter called name.
func (s *Series) Counter(name MetricName) int { return s.id(name, false) }

// Gauge returns a handle for the gauge called name.
func (s *Series) Gauge(name MetricName) int { return s.id(name, true) }

// Add adds v to counter h at now.
func (s *Series) Add(h int, now sim.Time, v float64) {
	if b := int(time.Duration(now) / s.bucket); b < s.n {
		s.vals[h][b] += v
	}
}

// Set sets gauge h's value for the bucket containing now.
func (s *Series) Set(h int, now sim.Time, v float64) {
	if b := int(time.Duration(now) / s.bucket); b < s.n {
		s.vals[h][b] = v
	}
}

// Max raises gauge h's value for the bucket containing now to v, if v is larger.
func (s *Series) Max(h int, now sim.Time, v float64) {
	if b := int(time.Duration(now) / s.bucket); b < s.n {
		s.vals[h][b] = max(s.vals[h][b], v)
	}
}

// Put sets a whole series at once (e.g. CPU utilisation computed elsewhere).
func (s *Series) Put(name MetricName, vals []float64) {
	h := s.Gauge(name)
	copy(s.vals[h], vals)
}

// Metric is one named series, per second for counters.
type Metric struct {
	Name   MetricName `json:"name"`
	Kind   string     `json:"kind"` // "per_s" or "gauge"
	Values []float64  `json:"values"`
}

// Metrics returns every series, counters converted to per-second rates.
func (s *Series) Metrics() []Metric {
	out := make([]Metric, len(s.names))
	for i, name := range s.names {
		m := Metric{Name: name, Kind: "gauge", Values: append([]float64(nil), s.vals[i]...)}
		if !s.gauge[i] {
			m.Kind = "per_s"
			for j := range m.Values {
				m.Values[j] /= s.bucket.Seconds()
			}
		}
		out[i] = m
	}
	return out
}

// Get returns the series called name (per second for counters), or nil.
func (s *Series) Get(name MetricName) []float64 {
	for _, m := range s.Metrics() {
		if m.Name == name {
			return m.Values
		}
	}
	return nil
}

// PeaksAndFinals are each metric's largest value and its last bucket's.
func PeaksAndFinals(ms []Metric) (peaks, finals map[MetricName]float64) {
	peaks, finals = map[MetricName]float64{}, map[MetricName]float64{}
	for _, m := range ms {
		for _, v := range m.Values {
			peaks[m.Name] = max(peaks[m.Name], v)
		}
		if len(m.Values) > 0 {
			finals[m.Name] = m.Values[len(m.Values)-1]
		}
	}
	return peaks, finals
}
