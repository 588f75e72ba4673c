// Package export writes a run's metric time series in standard formats:
// CSV (one row per bucket, time and units in the column names) and
// OpenMetrics text with timestamps (for promtool tsdb
// create-blocks-from openmetrics, or any Prometheus-compatible tool).
//
// Both stamp each bucket with its start: t_s = i x bucket seconds from the
// start of the run. Numbers are written with one rule everywhere: the
// shortest decimal that reads back as the same float64, never an exponent
// (strconv 'f', -1): 3538944 and 33.333333333333336, not 3.538944e+06.
package export

import (
	"strconv"
	"strings"

	"github.com/leasesim/leasesim/recorder"
)

// Series is one run's metrics as the exporters read them.
type Series struct {
	// Run labels the run ("base", or a what-if such as "client-version=v3.7.3").
	Run           string
	BucketSeconds float64
	// RenewalsPerS is the renewals applied per second, per bucket (every server).
	RenewalsPerS []float64
	// Metrics are the per-bucket series of a cluster run.
	Metrics []recorder.Metric
}

// Num formats v by the package's rule: shortest round-trip decimal, no exponent.
func Num(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// column is a metric's name for export: its base name, the member it
// belongs to (or -1), and its unit suffix.
type column struct {
	base   string
	member int
	unit   string // per_s, bytes, ratio, requests, sockets, connections, ...
}

// describe maps a recorder metric to its export name and unit. Counters are
// rates per second; gauges carry the unit their name says, or count things.
func describe(m recorder.Metric) column {
	name := string(m.Name)
	c := column{base: name, member: -1}
	if i := strings.LastIndex(name, ".m"); i > 0 {
		if n, err := strconv.Atoi(name[i+2:]); err == nil {
			c.base, c.member = name[:i], n
		}
	}
	switch {
	case m.Kind == "per_s":
		c.unit = "per_s"
	case strings.HasPrefix(c.base, "cpu_utilisation"):
		c.unit = "ratio"
	case strings.HasSuffix(c.base, "_bytes"), strings.HasSuffix(c.base, "_requests"):
		c.unit = "" // the name carries its unit already
	case strings.Contains(c.base, "wait_"), strings.HasPrefix(c.base, "peer_established"):
		c.unit = "sockets"
	case strings.HasSuffix(c.base, "_connections"):
		c.unit = ""
	case strings.HasPrefix(c.base, "forwards_"):
		c.unit = "requests"
	default:
		c.unit = "count"
	}
	return c
}

// csvName is e.g. renewals_at_leader_per_s, cpu_utilisation_m0_ratio,
// leader_queue_bytes, time_wait_leader_sockets.
func (c column) csvName() string {
	n := c.base
	if c.member >= 0 {
		n += "_m" + strconv.Itoa(c.member)
	}
	if c.unit != "" {
		n += "_" + c.unit
	}
	return n
}
