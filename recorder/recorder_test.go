package recorder_test

import (
	"bytes"
	"encoding/json"
	"reflect"
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

// The trace is Chrome trace-event JSON: it parses, names each lease's track,
// has one instant event per fact at the exact virtual time in microseconds,
// and is byte-stable.
func TestTraceEvents(t *testing.T) {
	write := func(opts recorder.TraceOptions) []byte {
		var b bytes.Buffer
		r := recorder.New(time.Second, time.Second, 1, recorder.NewTraceWriter(&b, opts))
		r.Record(1500, recorder.Closed, 0, 7, 1, "deadline")
		r.Record(2000, recorder.Request, 0, 7, 3, "")
		r.Record(3_000_000, recorder.Renewal, 0, 9, 1, "")
		if err := r.Flush(); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	type event struct {
		Name string         `json:"name"`
		Ph   string         `json:"ph"`
		S    string         `json:"s"`
		Ts   float64        `json:"ts"`
		Pid  int            `json:"pid"`
		Tid  int64          `json:"tid"`
		Args map[string]any `json:"args"`
	}
	var doc struct {
		TraceEvents []event `json:"traceEvents"`
	}
	all := write(recorder.TraceOptions{})
	if err := json.Unmarshal(all, &doc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, all)
	}
	var facts []event
	tracks := map[int64]string{}
	for _, e := range doc.TraceEvents {
		switch e.Ph {
		case "M":
			if e.Name == "thread_name" {
				tracks[e.Tid] = e.Args["name"].(string)
			}
		case "i":
			facts = append(facts, e)
		default:
			t.Errorf("unexpected phase %q", e.Ph)
		}
	}
	if tracks[7] != "lease 7" || tracks[9] != "lease 9" || len(tracks) != 2 {
		t.Errorf("tracks %v", tracks)
	}
	want := []event{
		{Name: "closed", Ph: "i", S: "t", Ts: 1.5, Pid: 1, Tid: 7, Args: map[string]any{"reason": "deadline"}},
		{Name: "request", Ph: "i", S: "t", Ts: 2, Pid: 1, Tid: 7, Args: map[string]any{"n": 3.0}},
		{Name: "renewal", Ph: "i", S: "t", Ts: 3000, Pid: 1, Tid: 9},
	}
	if !reflect.DeepEqual(facts, want) {
		t.Errorf("events\n%+v\nwant\n%+v", facts, want)
	}
	if again := write(recorder.TraceOptions{}); !bytes.Equal(again, all) {
		t.Error("the same facts gave different bytes")
	}
	// Sampling: only the first lease to appear keeps its facts.
	one := write(recorder.TraceOptions{MaxLeases: 1})
	doc.TraceEvents = nil
	if err := json.Unmarshal(one, &doc); err != nil {
		t.Fatal(err)
	}
	for _, e := range doc.TraceEvents {
		if e.Tid == 9 {
			t.Errorf("--trace-clients 1 kept lease 9: %+v", e)
		}
	}
	if n := bytes.Count(one, []byte(`"ph":"i"`)); n != 2 {
		t.Errorf("sampled trace has %d facts, want 2", n)
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

// PercentilesOf and a run's renew intervals share one nearest-rank rule.
func TestPercentilesOf(t *testing.T) {
	ms := int64(time.Millisecond)
	var ns []int64
	for i := int64(100); i >= 1; i-- {
		ns = append(ns, i*ms)
	}
	p := recorder.PercentilesOf(ns)
	if p.Count != 100 || p.Min != 1 || p.P50 != 50 || p.P99 != 99 || p.Max != 100 {
		t.Fatalf("%+v", p)
	}
	if p := recorder.PercentilesOf([]int64{5 * ms}); p.P50 != 5 || p.P99 != 5 {
		t.Fatalf("one value: %+v", p)
	}
	if p := recorder.PercentilesOf(nil); p.Count != 0 {
		t.Fatalf("empty: %+v", p)
	}
	// The same sample through a recorder: one cohort of one lease renewing
	// at those intervals gives the same figures.
	r := recorder.New(time.Second, time.Hour, 1, nil)
	now := int64(0)
	r.Record(0, recorder.Request, 0, 1, 1, "")
	for _, d := range ns {
		now += d
		r.Record(sim.Time(now), recorder.Request, 0, 1, 1, "")
	}
	if got := r.Summary(1).IntervalMs; got != p {
		t.Fatalf("recorder %+v, PercentilesOf %+v", got, p)
	}
}
