package export_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/textparse"

	"github.com/leasesim/leasesim/export"
	"github.com/leasesim/leasesim/recorder"
)

func sample() []export.Series {
	return []export.Series{
		{Run: "base", BucketSeconds: 0.5, RenewalsPerS: []float64{3538944, 33.333333333333336, 0},
			Metrics: []recorder.Metric{
				{Name: recorder.RenewalsAtLeader, Kind: "per_s", Values: []float64{10, 20, 30}},
				{Name: recorder.CPUUtilisation(2), Kind: "gauge", Values: []float64{0.25, 0.5, 1}},
				{Name: recorder.LeaderQueueBytes, Kind: "gauge", Values: []float64{1 << 20, 0, 5}},
				{Name: recorder.TimeWaitLeader, Kind: "gauge", Values: []float64{0, 7, 9}},
			}},
		{Run: "client-version=v3.7.3", BucketSeconds: 0.5, RenewalsPerS: []float64{1, 2, 3}},
	}
}

// The CSV: t_s in seconds from the run's start, units in every column name,
// and one number format (no exponents).
func TestCSV(t *testing.T) {
	var b bytes.Buffer
	if err := export.WriteCSV(&b, sample()[0]); err != nil {
		t.Fatal(err)
	}
	want := "t_s,renewals_per_s,renewals_at_leader_per_s,cpu_utilisation_m2_ratio,leader_queue_bytes,time_wait_leader_sockets\n" +
		"0,3538944,10,0.25,1048576,0\n" +
		"0.5,33.333333333333336,20,0.5,0,7\n" +
		"1,0,30,1,5,9\n"
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
}

// The OpenMetrics export parses with Prometheus' own OpenMetrics parser
// (the one promtool's create-blocks-from openmetrics uses), and every sample
// has the value and timestamp it should.
func TestOpenMetricsParses(t *testing.T) {
	start := time.Date(2018, 6, 1, 12, 0, 0, 0, time.UTC)
	var b bytes.Buffer
	if err := export.WriteOpenMetrics(&b, sample(), start); err != nil {
		t.Fatal(err)
	}
	text := b.String()
	if !strings.HasSuffix(text, "# EOF\n") {
		t.Fatalf("no # EOF:\n%s", text)
	}
	p := textparse.NewOpenMetricsParser(b.Bytes(), labels.NewSymbolTable())
	type key struct {
		series string
		ts     int64
	}
	got := map[key]float64{}
	types, units := map[string]string{}, map[string]string{}
	for {
		e, err := p.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("parse: %v\n%s", err, text)
		}
		switch e {
		case textparse.EntryType:
			name, typ := p.Type()
			types[string(name)] = string(typ)
		case textparse.EntryUnit:
			name, u := p.Unit()
			units[string(name)] = string(u)
		case textparse.EntrySeries:
			_, ts, v := p.Series()
			if ts == nil {
				t.Fatal("a sample without a timestamp")
			}
			var ls labels.Labels
			p.Labels(&ls)
			got[key{ls.String(), *ts}] = v
		}
	}
	ms := func(s float64) int64 { return start.Add(time.Duration(s * float64(time.Second))).UnixMilli() }
	for k, want := range map[key]float64{
		{`{__name__="leasesim_renewals_per_second", run="base"}`, ms(0)}:                  3538944,
		{`{__name__="leasesim_renewals_per_second", run="base"}`, ms(0.5)}:                33.333333333333336,
		{`{__name__="leasesim_renewals_per_second", run="client-version=v3.7.3"}`, ms(1)}: 3,
		{`{__name__="leasesim_renewals_at_leader_per_second", run="base"}`, ms(1)}:        30,
		{`{__name__="leasesim_cpu_utilisation_ratio", member="2", run="base"}`, ms(0.5)}:  0.5,
		{`{__name__="leasesim_leader_queue_bytes", run="base"}`, ms(0)}:                   1048576,
		{`{__name__="leasesim_time_wait_leader_sockets", run="base"}`, ms(1)}:             9,
	} {
		if v, ok := got[k]; !ok || v != want {
			t.Errorf("%v: got %v (present %v), want %v", k, v, ok, want)
		}
	}
	if len(got) != 3*6 {
		t.Errorf("%d samples, want 18", len(got))
	}
	if types["leasesim_cpu_utilisation_ratio"] != "gauge" || units["leasesim_cpu_utilisation_ratio"] != "ratio" || units["leasesim_leader_queue_bytes"] != "bytes" {
		t.Errorf("types %v units %v", types, units)
	}
}
