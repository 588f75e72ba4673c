package export

import (
	"fmt"
	"io"
	"math"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"google.golang.org/protobuf/proto"

	"github.com/leasesim/leasesim/recorder"
)

// Prefix starts every exported metric name.
const Prefix = "leasesim_"

// OpenMetricsName is the exported name of a metric: e.g.
// leasesim_renewals_at_leader_per_second, leasesim_cpu_utilisation_ratio
// (with a member label), leasesim_leader_queue_bytes.
func OpenMetricsName(m recorder.Metric) (name, unit string, member int) {
	c := describe(m)
	name = Prefix + c.base
	switch c.unit {
	case "per_s":
		name += "_per_second"
	case "ratio":
		name += "_ratio"
		unit = "ratio"
	case "":
		if len(c.base) > 6 && c.base[len(c.base)-6:] == "_bytes" {
			unit = "bytes"
		}
	default:
		name += "_" + c.unit
	}
	return name, unit, c.member
}

// WriteOpenMetrics writes the runs' series as OpenMetrics text: one gauge
// family per metric, one series per run (label run) and member (label
// member), one sample per bucket, timestamped start + t_s. It ends with
// "# EOF". The encoding is prometheus/common's expfmt.
func WriteOpenMetrics(w io.Writer, runs []Series, start time.Time) error {
	var order []string
	fams := map[string]*dto.MetricFamily{}
	family := func(name, unit, help string) *dto.MetricFamily {
		if f, ok := fams[name]; ok {
			return f
		}
		f := &dto.MetricFamily{Name: proto.String(name), Help: proto.String(help), Type: dto.MetricType_GAUGE.Enum()}
		if unit != "" {
			f.Unit = proto.String(unit)
		}
		fams[name] = f
		order = append(order, name)
		return f
	}
	add := func(f *dto.MetricFamily, run string, member int, bucket float64, vals []float64) {
		for i, v := range vals {
			if math.IsNaN(v) {
				continue
			}
			labels := []*dto.LabelPair{{Name: proto.String("run"), Value: proto.String(run)}}
			if member >= 0 {
				labels = append(labels, &dto.LabelPair{Name: proto.String("member"), Value: proto.String(fmt.Sprint(member))})
			}
			ts := start.Add(time.Duration(float64(i) * bucket * float64(time.Second))).UnixMilli()
			f.Metric = append(f.Metric, &dto.Metric{Label: labels, Gauge: &dto.Gauge{Value: proto.Float64(v)}, TimestampMs: proto.Int64(ts)})
		}
	}
	for _, r := range runs {
		f := family(Prefix+"renewals_per_second", "", "Lease renewals the server applied, per second, per bucket.")
		add(f, r.Run, -1, r.BucketSeconds, r.RenewalsPerS)
		for _, m := range r.Metrics {
			name, unit, member := OpenMetricsName(m)
			help := "leasesim metric " + string(m.Name)
			if m.Kind == "per_s" {
				help += ", events per second over each bucket"
			} else {
				help += ", sampled at the end of each bucket"
			}
			add(family(name, unit, help), r.Run, member, r.BucketSeconds, m.Values)
		}
	}
	for _, name := range order {
		if _, err := expfmt.MetricFamilyToOpenMetrics(w, fams[name], expfmt.WithUnit()); err != nil {
			return err
		}
	}
	_, err := expfmt.FinalizeOpenMetrics(w)
	return err
}
