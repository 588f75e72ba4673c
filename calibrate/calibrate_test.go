package calibrate

import (
	"math"
	"os"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	MaybeRunAgent()        // this test binary is also the client agent
	MaybeRunSpinner()      // and the storm runs' background load
	maybeRunCleanupChild() // and the interrupted calibration of TestInterruptCleansUp
	os.Exit(m.Run())
}

func TestRenewPeriod(t *testing.T) {
	for _, c := range []struct{ ttl, want time.Duration }{
		{2 * time.Second, time.Second},               // TTL/3 = 667 ms -> the 1 s scan
		{5 * time.Second, 2 * time.Second},           // 1.667 s -> 2 s (the reference's 2.0024 s p50)
		{30 * time.Second, 10500 * time.Millisecond}, // exactly 10 s: due just after the 10 s scan
		{60 * time.Second, 20500 * time.Millisecond},
	} {
		if got := RenewPeriod(c.ttl); got != c.want {
			t.Errorf("RenewPeriod(%s) = %s, want %s", c.ttl, got, c.want)
		}
	}
}

func TestDefaultsAlignTheWindowToRenewPeriods(t *testing.T) {
	c := Config{Clients: 1, TTL: 30 * time.Second, Window: 20 * time.Second}
	c.Defaults()
	if c.Window != 21*time.Second || c.Warmup != 15750*time.Millisecond {
		t.Fatalf("window %s warmup %s, want 21s and 15.75s", c.Window, c.Warmup)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestValidateNamesTheField(t *testing.T) {
	ok := Config{Clients: 10, TTL: 5 * time.Second, Window: 10 * time.Second}
	ok.Defaults()
	for _, c := range []struct {
		mut  func(*Config)
		want string
	}{
		{func(c *Config) { c.Clients = 0 }, "clients: 0, allowed 1 to 100000"},
		{func(c *Config) { c.TTL = 1500 * time.Millisecond }, "ttl: 1.5s"},
		{func(c *Config) { c.Consumer = "sometimes" }, `consumer: "sometimes", allowed [drain never]`},
		{func(c *Config) { c.Placement = "anywhere" }, `placement: "anywhere", allowed [spread leader followers]`},
		{func(c *Config) { c.TLS = "dsa" }, `tls: "dsa", allowed rsa, ecdsa`},
		{func(c *Config) { c.Members = 1; c.Placement = "followers" }, "followers needs at least 2 members"},
	} {
		cfg := ok
		c.mut(&cfg)
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want it to contain %q", err, c.want)
		}
	}
}

func TestPlaceClient(t *testing.T) {
	counts := map[int]int{}
	for i := range 100 {
		m := placeClient("followers", i, 3, 1)
		if m == 1 {
			t.Fatalf("client %d placed on the leader", i)
		}
		counts[m]++
	}
	if counts[0] != 50 || counts[2] != 50 {
		t.Fatalf("followers placement %v, want 50/50 on m0 and m2", counts)
	}
	for i := range 9 {
		if placeClient("leader", i, 3, 2) != 2 || placeClient("spread", i, 3, 2) != i%3 {
			t.Fatalf("placement of client %d", i)
		}
	}
}

func TestQuantilesNearestRank(t *testing.T) {
	var ns []int64
	for i := 100; i >= 1; i-- {
		ns = append(ns, int64(i)*int64(time.Millisecond))
	}
	q := quantiles(ns)
	if q.Count != 100 || q.Min != 1 || q.P50 != 50 || q.P99 != 99 || q.Max != 100 {
		t.Fatalf("quantiles %+v", q)
	}
	if quantiles(nil) != (Quantiles{}) {
		t.Fatal("empty sample should give zero quantiles")
	}
}

// A synthetic run: client 0 direct, client 1 forwarded, both every 2 s from
// the start, client 1 answered 1 ms later than client 0.
func TestSummariseWindow(t *testing.T) {
	start := time.Unix(1000, 0)
	ns := func(d time.Duration) int64 { return start.Add(d).UnixNano() }
	r := &AgentResult{Sends: make([][]int64, 2), RTTs: make([][][2]int64, 2), Closed: []int64{0, ns(9 * time.Second)}}
	for k := range 10 {
		at := time.Duration(k)*2*time.Second + 3*time.Millisecond
		r.Sends[0] = append(r.Sends[0], ns(at))
		r.Sends[1] = append(r.Sends[1], ns(at+time.Millisecond))
		r.RTTs[0] = append(r.RTTs[0], [2]int64{ns(at), int64(300 * time.Microsecond)})
		r.RTTs[1] = append(r.RTTs[1], [2]int64{ns(at + time.Millisecond), int64(time.Millisecond)})
	}
	var m Measurement
	// Window [3 s, 13 s): sends at 4, 6, 8, 10, 12 s for each client.
	m.summarise(r, []bool{true, false}, start, start.Add(3*time.Second), start.Add(13*time.Second))
	if m.KeepAlivesPerS != 1 || m.DirectPerS != 0.5 || m.ForwardedPerS != 0.5 {
		t.Fatalf("rates %v %v %v, want 1, 0.5, 0.5", m.KeepAlivesPerS, m.DirectPerS, m.ForwardedPerS)
	}
	if m.IntervalMs.Count != 10 || m.IntervalMs.P50 != 2000 {
		t.Fatalf("intervals %+v", m.IntervalMs)
	}
	if m.RTTDirectMs.P50 != 0.3 || m.RTTForwardedMs.P50 != 1 || m.RTTDirectMs.Count != 5 {
		t.Fatalf("RTTs %+v %+v", m.RTTDirectMs, m.RTTForwardedMs)
	}
	if m.ChannelsClosed != 1 {
		t.Fatalf("channels closed %d", m.ChannelsClosed)
	}
	want := []int{2, 0, 2, 0, 2, 0, 2, 0, 2, 0, 2, 0, 2}
	if len(m.SendsPerS) != len(want) {
		t.Fatalf("sends per second %v, want %v", m.SendsPerS, want)
	}
	for i := range want {
		if m.SendsPerS[i] != want[i] {
			t.Fatalf("sends per second %v, want %v", m.SendsPerS, want)
		}
	}
}

func TestFitRecoversKnownCosts(t *testing.T) {
	const idle, a, b = 0.03, 100e-6, 250e-6
	var ms []Measurement
	for i, mix := range [][2]float64{{250, 0}, {0, 250}, {83, 167}, {25, 0}, {0, 25}} {
		noise := 0.001 * float64(i%2*2-1) // ±1 ms of CPU per second
		ms = append(ms, Measurement{IdleServerCores: idle + noise/10, DirectPerS: mix[0], ForwardedPerS: mix[1],
			ServerCores: idle + a*mix[0] + b*mix[1] + noise})
	}
	f, err := FitCosts(ms)
	if err != nil {
		t.Fatal(err)
	}
	if d := math.Abs(f.Direct.Seconds()-a) / a; d > 0.05 {
		t.Errorf("direct %s, want ~100µs", f.Direct)
	}
	if d := math.Abs(f.Forwarded.Seconds()-b) / b; d > 0.05 {
		t.Errorf("forwarded %s, want ~250µs", f.Forwarded)
	}
	if f.RMSCores > 0.002 || f.RMSCores == 0 {
		t.Errorf("RMS %v", f.RMSCores)
	}
}

func TestFitRefusesRunsThatDoNotSeparate(t *testing.T) {
	same := Measurement{DirectPerS: 83, ForwardedPerS: 167, ServerCores: 0.05}
	double := Measurement{DirectPerS: 166, ForwardedPerS: 334, ServerCores: 0.1}
	if _, err := FitCosts([]Measurement{same, double}); err == nil || !strings.Contains(err.Error(), "--placement leader") {
		t.Fatalf("got %v, want a refusal naming the placements", err)
	}
	if _, err := FitCosts([]Measurement{same}); err == nil {
		t.Fatal("one run cannot be fitted")
	}
}

func TestCompareRelativeErrors(t *testing.T) {
	m := Measurement{KeepAlivesPerS: 200, LeasesRevoked: 0, KeysLost: 3}
	p := Prediction{KeepAlivesPerS: 210, LeasesExpired: 0, KeysLost: 0}
	c := Compare(m, p, "")
	r, _ := c.Row("keepalives/s (clients)")
	if r.RelErr == nil || math.Abs(*r.RelErr-0.05) > 1e-12 {
		t.Fatalf("rel err %v, want +5%%", r.RelErr)
	}
	r, _ = c.Row("leases expired")
	if r.RelErr == nil || *r.RelErr != 0 {
		t.Fatalf("0 vs 0 should be a 0 error, got %v", r.RelErr)
	}
	r, _ = c.Row("keys lost")
	if r.RelErr == nil || *r.RelErr != -1 {
		t.Fatalf("3 vs 0 keys lost: %v", r.RelErr)
	}
	r, _ = c.Row("client CPU (agent process)")
	if r.Predicted != nil || r.RelErr != nil {
		t.Fatal("the model does not predict the clients' CPU; the row must say so")
	}
}
