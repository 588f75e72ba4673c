package scenario_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/leasesim/leasesim/clientmodel"
	"github.com/leasesim/leasesim/recorder"
	"github.com/leasesim/leasesim/scenario"
	"github.com/leasesim/leasesim/spec"
)

func version(t testing.TB, s string) clientmodel.Version {
	v, err := clientmodel.ParseVersion(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func incident(t testing.TB, v string) spec.Ideal {
	return spec.Ideal{
		Clients: 20000, TTL: 600 * time.Second, Version: version(t, v),
		Consumer: clientmodel.Consumer{Kind: clientmodel.Never},
		Duration: 2 * time.Hour, RTT: time.Millisecond, ConnectDelay: 100 * time.Microsecond, Seed: 1,
	}
}

// The incident's TTL-600 variant: the pre-fix client collapses after 16 x ~200 s
// (the report: started 21:10:42, collapse 22:04:05, 53 min 23 s) and then renews
// every lease twice a second: ~40,000 renewals/s for 20,000 agents.
func TestIncidentPreFixCollapsesAfter53Minutes(t *testing.T) {
	res, err := scenario.RunIdeal(context.Background(), incident(t, "v3.2.23"), nil)
	if err != nil {
		t.Fatal(err)
	}
	s := res.Summary
	if s.First500msS == nil {
		t.Fatal("no collapse")
	}
	collapse := time.Duration(*s.First500msS * float64(time.Second))
	// 16 responses 200.5 s apart (TTL/3 rounded up to the 500 ms scan), the first
	// sent at once: the 17th response is dropped at 16 x 200.5 s = 53m28s.
	if collapse < 53*time.Minute || collapse > 54*time.Minute {
		t.Fatalf("collapse at %v, want about 53.5 min", collapse)
	}
	after := s.MeanRenewalsPerS(collapse+time.Minute, 2*time.Hour)
	if math.Abs(after-40000) > 1 {
		t.Fatalf("%.1f renewals/s after the collapse, want 40,000", after)
	}
	if s.LeasesExpired != 0 {
		t.Fatalf("%d leases expired against an idealised server", s.LeasesExpired)
	}
}

func TestIncidentFixedClientStaysAtTTLThird(t *testing.T) {
	res, err := scenario.RunIdeal(context.Background(), incident(t, "v3.7.3"), nil)
	if err != nil {
		t.Fatal(err)
	}
	s := res.Summary
	if s.First500msS != nil {
		t.Fatalf("fixed client collapsed at %vs", *s.First500msS)
	}
	// 20,000 leases every 200.5 s = 99.75/s.
	if mean := s.MeanRenewalsPerS(0, 2*time.Hour); math.Abs(mean-99.75) > 1 {
		t.Fatalf("%.2f renewals/s, want about 100", mean)
	}
	if s.IntervalMs.P50 != 200500 || s.IntervalMs.Max != 200500 {
		t.Fatalf("intervals %v, want 200.5 s", s.IntervalMs)
	}
}

// Cohorts are an optimisation, not a model change: 300 clients started in 300
// different milliseconds give exactly the totals of 300 separate simulations.
func TestCohortsWeighLikeSeparateClients(t *testing.T) {
	base := spec.Ideal{
		Clients: 1, TTL: 10 * time.Second, Version: version(t, "v3.2.23"),
		Consumer: clientmodel.Consumer{Kind: clientmodel.StopAfter, K: 3}, Duration: 5 * time.Minute,
		RTT: 2 * time.Millisecond, ConnectDelay: 100 * time.Microsecond,
	}
	one, err := scenario.RunIdeal(context.Background(), base, nil)
	if err != nil {
		t.Fatal(err)
	}
	many := base
	many.Clients = 300
	res, err := scenario.RunIdeal(context.Background(), many, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Cohorts != 1 || res.Summary.RenewalsTotal != 300*one.Summary.RenewalsTotal ||
		res.Summary.Dropped != 300*one.Summary.Dropped || res.Summary.IntervalMs.P50 != one.Summary.IntervalMs.P50 {
		t.Fatalf("one cohort of 300: %+v; one client: %+v", res.Summary, one.Summary)
	}
}

// A lease whose client stops renewing expires at the server after its TTL.
func TestServerExpiresLeasesThatAreNotRenewed(t *testing.T) {
	c := spec.Ideal{
		Clients: 10, TTL: 5 * time.Second, Version: version(t, "v3.7.3"),
		Consumer: clientmodel.Consumer{Kind: clientmodel.Drain}, Duration: time.Minute,
		RTT: 6 * time.Second, // every response comes after the 5 s first-keepalive deadline
	}
	res, err := scenario.RunIdeal(context.Background(), c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Summary.LeasesExpired != 10 || res.Summary.ChannelsClosed["deadline"] != 10 {
		t.Fatalf("expired %d, closed %v", res.Summary.LeasesExpired, res.Summary.ChannelsClosed)
	}
}

// The trace is trace-event JSON with an instant event per fact (recorder/trace.go),
// and is the same on every run.
func TestTraceIsDeterministic(t *testing.T) {
	c := spec.Ideal{
		Clients: 50, TTL: 3 * time.Second, Version: version(t, "v3.3.8"),
		Consumer: clientmodel.Consumer{Kind: clientmodel.Never}, Duration: 2 * time.Minute,
		RTT: time.Millisecond, StartSpread: 5 * time.Second, Seed: 7,
	}
	var a, b bytes.Buffer
	if _, err := scenario.RunIdeal(context.Background(), c, &a); err != nil {
		t.Fatal(err)
	}
	if _, err := scenario.RunIdeal(context.Background(), c, &b); err != nil {
		t.Fatal(err)
	}
	if a.Len() == 0 || !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatalf("traces differ or are empty (%d, %d bytes)", a.Len(), b.Len())
	}
	var doc struct {
		TraceEvents []struct{ Name, Ph string } `json:"traceEvents"`
	}
	if err := json.Unmarshal(a.Bytes(), &doc); err != nil {
		t.Fatalf("trace is not JSON: %v", err)
	}
	facts := 0
	for _, e := range doc.TraceEvents {
		if e.Ph == "i" && e.Name != "" {
			facts++
		}
	}
	if facts < 1000 {
		t.Fatalf("trace has %d facts", facts)
	}
}

// BenchmarkIncidentPerClient runs the incident's clients (TTL 600 s, pre-fix,
// never reading) with start times spread over 10 s, so that ~8,700 cohorts are
// simulated separately, for 2 h of virtual time.
func BenchmarkIncidentPerClient(b *testing.B) {
	c := incident(b, "v3.2.23")
	c.StartSpread = 10 * time.Second
	var events uint64
	for i := 0; i < b.N; i++ {
		res, err := scenario.RunIdeal(context.Background(), c, nil)
		if err != nil {
			b.Fatal(err)
		}
		events += res.Events
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}

// The renew-at what-if: fixed clients renewing at 2/3 of a 9 s TTL send every
// 6.5 s (6 s after the answer, rounded up to the 500 ms scan) instead of 3.5 s.
func TestRenewAtTwoThirds(t *testing.T) {
	for _, c := range []struct {
		renewAt string
		wantMs  float64
	}{{"", 3500}, {"1/3", 3500}, {"2/3", 6500}} {
		s := spec.Spec{Duration: spec.Duration(60e9), Server: spec.ServerIdeal,
			Clients: spec.ClientsSpec{Count: 10, TTL: spec.Duration(9e9), Version: "v3.7.3", Consumer: "drain", RenewAt: c.renewAt}}
		o, err := scenario.Run(context.Background(), s, nil)
		if err != nil {
			t.Fatal(err)
		}
		if o.Summary.IntervalMs.P50 != c.wantMs || o.Summary.LeasesExpired != 0 {
			t.Errorf("renew_at %q: interval %v ms, want %v; expired %d", c.renewAt, o.Summary.IntervalMs.P50, c.wantMs, o.Summary.LeasesExpired)
		}
	}
	bad := spec.Spec{Duration: spec.Duration(60e9), Server: spec.ServerIdeal,
		Clients: spec.ClientsSpec{Count: 1, TTL: spec.Duration(9e9), Version: "v3.7.3", Consumer: "drain", RenewAt: "3/2"}}
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "clients.renew_at") {
		t.Fatalf("renew_at 3/2: %v", err)
	}
}

// A cancelled context stops a run (sweeps stop on Ctrl-C).
func TestRunContextStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, name := range []string{"incident-2018", "incident-2018-client"} {
		s, err := spec.Builtin(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := scenario.Run(ctx, s, nil); !errors.Is(err, context.Canceled) {
			t.Errorf("%s: %v, want context.Canceled", name, err)
		}
	}
}

// The real send loop's scans drift (clients.scan_overrun): a TTL-30 s lease
// answered at once is due 10 s after its send, and with 0.6 ms per scan the
// 20th scan (10.012 s) already finds it due; on the exact grid it waits for
// the 21st (10.5 s). A slow answer (RTT 20 ms) misses the 20th scan either way.
func TestScanOverrunMovesTheRenewal(t *testing.T) {
	ms := func(n float64) *spec.Duration { return new(spec.Duration(n * float64(time.Millisecond))) }
	for _, c := range []struct {
		overrun time.Duration
		rtt     *spec.Duration // nil: the default, 1 ms
		want    float64        // interval p50, ms
	}{
		{0, ms(1), 10500},
		{600 * time.Microsecond, ms(1), 10012},
		{600 * time.Microsecond, ms(20), 10512.6},
		{600 * time.Microsecond, nil, 10012},
	} {
		s := spec.Spec{Name: "overrun", Seed: 1, Duration: spec.Duration(2 * time.Minute), Server: "ideal",
			Clients: spec.ClientsSpec{Count: 3, TTL: spec.Duration(30 * time.Second), Version: "v3.7.3", Consumer: "drain",
				ScanOverrun: spec.Duration(c.overrun), RTT: c.rtt}}
		out, err := scenario.Run(context.Background(), s, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := out.Summary.IntervalMs.P50; math.Abs(got-c.want) > 0.001 {
			t.Errorf("overrun %v, rtt %v: interval p50 %v ms, want %v", c.overrun, s.Clients.RTT, got, c.want)
		}
	}
}

// Idle peer connections expire between TTL-30 s renewal bursts and are
// re-dialed: the same dials either way, but only cluster.tls_close
// "time-wait" (or plaintext) leaves the closed ones in TIME-WAIT.
func TestTLSCloseDecidesTimeWait(t *testing.T) {
	run := func(tls, closeMode string) recorder.Outcome {
		s := spec.Spec{Name: "tls-close", Seed: 1, Duration: spec.Duration(2 * time.Minute), Server: "cluster",
			Clients: spec.ClientsSpec{Count: 300, TTL: spec.Duration(30 * time.Second), Version: "v3.7.3", Consumer: "drain", Placement: "followers"},
			Cluster: spec.ClusterSpec{Members: 3, Cores: 2, TLS: tls, TLSClose: closeMode}}
		out, err := scenario.Run(context.Background(), s, nil)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	tw, reset, plain := run("rsa", "time-wait"), run("rsa", "reset"), run("off", "reset")
	if tw.Peaks[recorder.NewPeerConnections] == 0 || tw.Peaks[recorder.NewPeerConnections] != reset.Peaks[recorder.NewPeerConnections] {
		t.Fatalf("re-dials: time-wait %v, reset %v; want the same, > 0", tw.Peaks[recorder.NewPeerConnections], reset.Peaks[recorder.NewPeerConnections])
	}
	if tw.Peaks[recorder.TimeWaitLeader] == 0 || plain.Peaks[recorder.TimeWaitLeader] == 0 {
		t.Errorf("TIME-WAIT at the leader: tls_close time-wait %v, plaintext %v; want > 0", tw.Peaks[recorder.TimeWaitLeader], plain.Peaks[recorder.TimeWaitLeader])
	}
	if reset.Peaks[recorder.TimeWaitLeader] != 0 || reset.Peaks[recorder.TimeWaitFollowers] != 0 {
		t.Errorf("TIME-WAIT with tls_close reset: leader %v, followers %v; want 0", reset.Peaks[recorder.TimeWaitLeader], reset.Peaks[recorder.TimeWaitFollowers])
	}
}
