package recorder_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/leasesim/leasesim/recorder"
	"github.com/leasesim/leasesim/sim"
)

const s1 = sim.Time(time.Second)

// Intervals are weighted by the number of leases a fact concerns, and the
// percentiles are nearest-rank.
func TestIntervalPercentilesWeighByLeases(t *testing.T) {
	r := recorder.New(time.Second, 10*time.Second, 2, nil)
	// Cohort 0 (98 leases): requests at 0, 1 s, 2 s -> two 1 s intervals each.
	for i := sim.Time(0); i < 3; i++ {
		r.Record(i*s1, recorder.Request, 0, 1, 98, "")
	}
	// Cohort 1 (1 lease): requests at 0, 3 s, 3.5 s -> 3 s and 500 ms.
	r.Record(0, recorder.Request, 1, 99, 1, "")
	r.Record(3*s1, recorder.Request, 1, 99, 1, "")
	r.Record(3*s1+s1/2, recorder.Request, 1, 99, 1, "")
	s := r.Summary(1)
	p := s.IntervalMs
	if p.Count != 198 || p.P50 != 1000 || p.P99 != 1000 || p.Max != 3000 || p.Min != 500 {
		t.Fatalf("%+v", p)
	}
	if s.First500msS == nil || *s.First500msS != 3.5 {
		t.Fatalf("first 500 ms interval at %v", s.First500msS)
	}
	if s.RequestsTotal != 297 {
		t.Fatalf("requests %d", s.RequestsTotal)
	}
}

func TestRatesAndWindows(t *testing.T) {
	r := recorder.New(time.Second, 4*time.Second, 1, nil)
	r.Record(0, recorder.Renewal, 0, 1, 10, "")
	r.Record(s1/2, recorder.Renewal, 0, 1, 10, "")
	r.Record(3*s1, recorder.Renewal, 0, 1, 4, "")
	r.Record(3*s1, recorder.Expired, 0, 1, 2, "")
	s := r.Summary(3)
	if got := s.RenewalsPerS; len(got) != 4 || got[0] != 20 || got[3] != 4 {
		t.Fatalf("%v", got)
	}
	if s.KeysLost != 6 || s.LeasesExpired != 2 {
		t.Fatalf("keys lost %d", s.KeysLost)
	}
	w := s.Windows(2)
	if len(w) != 2 || w[0].RenewalsPerS != 10 || w[0].PeakRenewalsInS != 20 || w[1].Expired != 2 {
		t.Fatalf("%+v", w)
	}
	if m := s.MeanRenewalsPerS(0, 4*time.Second); m != 6 {
		t.Fatalf("mean %v", m)
	}
}

func TestTraceLines(t *testing.T) {
	var b bytes.Buffer
	r := recorder.New(time.Second, time.Second, 1, &b)
	r.Record(1500, recorder.Closed, 0, 7, 1, "deadline")
	r.Record(2000, recorder.Request, 0, 7, 3, "")
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	want := `{"t_ns":1500,"t":"1.5µs","lease":7,"kind":"closed","reason":"deadline"}
{"t_ns":2000,"t":"2µs","lease":7,"n":3,"kind":"request"}
`
	if b.String() != want {
		t.Fatalf("got\n%s", b.String())
	}
}

func TestSeriesCountersAndGauges(t *testing.T) {
	s := recorder.NewSeries(500*time.Millisecond, 2*time.Second)
	c := s.Counter("new")
	g := s.Gauge("estab")
	s.Add(c, 0, 3)
	s.Add(c, s1/4, 1)
	s.Set(g, 0, 5)
	s.Set(g, s1/4, 7)
	ms := s.Metrics()
	if len(ms) != 2 || ms[0].Name != "new" || ms[0].Kind != "per_s" || ms[0].Values[0] != 8 || ms[1].Values[0] != 7 {
		t.Fatalf("%+v", ms)
	}
	if !strings.Contains(ms[1].Kind, "gauge") {
		t.Fatal(ms[1].Kind)
	}
}
