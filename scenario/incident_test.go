package scenario_test

import (
	"context"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/leasesim/leasesim/recorder"
	"github.com/leasesim/leasesim/scenario"
	"github.com/leasesim/leasesim/spec"
)

var update = flag.Bool("update", false, "rewrite testdata/ goldens")

func runBuiltin(t *testing.T, name string, mutate func(*spec.Spec)) recorder.Outcome {
	t.Helper()
	s, err := spec.Builtin(name)
	if err != nil {
		t.Fatal(err)
	}
	if mutate != nil {
		mutate(&s)
	}
	o, err := scenario.Run(context.Background(), s, nil)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func peakOf(o recorder.Outcome, name recorder.MetricName) float64 { return o.Peaks[name] }

// The built-in incident reproduces the report's chain end to end. Tolerances:
// rates are exact consequences of 20,000 clients x 2/s and 6 of 7 members
// forwarding, so they are checked to 1 %; the storm's sizes depend on the
// assumed capacity, so only their order of magnitude is checked.
func TestIncident2018Chain(t *testing.T) {
	t.Parallel()
	o := runBuiltin(t, "incident-2018", nil)
	s := o.Summary

	// 1. The client bug: renew intervals collapse to 500 ms after 16 responses
	// 3.5 s apart (TTL/3 rounded up to the 500 ms scan).
	if s.First500msS == nil || math.Abs(*s.First500msS-56.5) > 0.1 {
		t.Fatalf("collapse at %v s, want ~56.5 s", s.First500msS)
	}
	if s.IntervalMs.P50 != 500 {
		t.Errorf("renew interval p50 %v ms, want 500", s.IntervalMs.P50)
	}
	// 2. ~40,000 renewals/s reach the leader, ~6/7 of them forwarded.
	ren, fwd := peakOf(o, recorder.RenewalsAtLeader), peakOf(o, recorder.ForwardedRenewals)
	if ren < 39600 || ren > 42000 {
		t.Errorf("peak renewals at leader %.0f/s, want ~40,000", ren)
	}
	if r := fwd / ren; math.Abs(r-6.0/7) > 0.02 {
		t.Errorf("forwarded share %.3f, want ~6/7", r)
	}
	// 3. New peer connections and TLS handshakes per second; the leader's CPU
	// saturated; queue and memory grow.
	if p := peakOf(o, recorder.NewPeerConnections); p < 1000 {
		t.Errorf("peak new peer connections %.0f/s, want a storm (>= 1,000/s)", p)
	}
	if p := peakOf(o, recorder.TLSHandshakes); p < 500 {
		t.Errorf("peak TLS handshakes %.0f/s, want >= 500/s", p)
	}
	if p := peakOf(o, recorder.CPUUtilisation(0)); p < 0.99 {
		t.Errorf("leader CPU peak %.2f, want saturated", p)
	}
	if p := peakOf(o, recorder.LeaderQueueBytes); p < 100<<20 {
		t.Errorf("leader queue memory peak %.0f B, want > 100 MiB", p)
	}
	// 4. TIME-WAIT in the tens of thousands; CLOSE-WAIT on the leader where
	// followers gave up on it (cancelled forwards here; handshake timeouts in
	// TestHandshakeTimeoutLeavesCloseWait).
	if tw := peakOf(o, recorder.TimeWaitLeader) + peakOf(o, recorder.TimeWaitFollowers); tw < 10000 {
		t.Errorf("TIME-WAIT peak %.0f, want tens of thousands", tw)
	}
	if peakOf(o, recorder.CloseWaitLeader) == 0 {
		t.Errorf("no CLOSE-WAIT on the leader")
	}
	// 5. Leases expire and their keys are lost.
	if s.LeasesExpired == 0 || s.KeysLost != s.LeasesExpired {
		t.Errorf("expired %d, keys lost %d: want lost keys, one per lease", s.LeasesExpired, s.KeysLost)
	}
	golden(t, "incident-2018.json", o)
}

// The counterfactuals: the fixed client keeps the same cluster calm; without
// peer TLS the leader is still busy but loses no lease.
func TestIncident2018Counterfactuals(t *testing.T) {
	t.Parallel()
	fixed := runBuiltin(t, "incident-2018", func(s *spec.Spec) { s.Clients.Version = "v3.7.3" })
	if fixed.Summary.LeasesExpired != 0 || fixed.Summary.First500msS != nil {
		t.Errorf("fixed client: %d expired, collapse %v", fixed.Summary.LeasesExpired, fixed.Summary.First500msS)
	}
	if p := peakOf(fixed, recorder.CPUUtilisation(0)); p > 0.3 {
		t.Errorf("fixed client: leader CPU peak %.2f, want low", p)
	}
	noTLS := runBuiltin(t, "incident-2018", func(s *spec.Spec) { s.Cluster.TLS = "off" })
	if noTLS.Summary.LeasesExpired != 0 || peakOf(noTLS, recorder.TLSHandshakes) != 0 {
		t.Errorf("TLS off: %d expired, %v handshakes", noTLS.Summary.LeasesExpired, peakOf(noTLS, recorder.TLSHandshakes))
	}
	if p := peakOf(noTLS, recorder.CPUUtilisation(0)); p < 0.8 || p >= 0.99 {
		t.Errorf("TLS off: leader CPU peak %.2f, want still high (>= 80 %%) but not saturated", p)
	}
	h2 := runBuiltin(t, "incident-2018", func(s *spec.Spec) { s.Cluster.Transport = "http2" })
	if h2.Summary.LeasesExpired != 0 || peakOf(h2, recorder.NewPeerConnections) > 20 {
		t.Errorf("HTTP/2 peers: %d expired, %v new connections/s", h2.Summary.LeasesExpired, peakOf(h2, recorder.NewPeerConnections))
	}
}

// golden compares the headline figures of a run with testdata/NAME, so that a
// model change that moves them is a visible diff (rewrite with -update).
func golden(t *testing.T, name string, o recorder.Outcome) {
	t.Helper()
	type headline struct {
		Renewals, Dropped, Expired, KeysLost uint64
		First500ms, FirstExpiry              *float64
		IntervalMs                           any
		Peaks                                map[recorder.MetricName]float64
		Events                               uint64
	}
	h := headline{o.Summary.RenewalsTotal, o.Summary.Dropped, o.Summary.LeasesExpired, o.Summary.KeysLost,
		o.Summary.First500msS, o.Summary.FirstExpiryS, o.Summary.IntervalMs, o.Peaks, o.Events}
	got, _ := json.MarshalIndent(h, "", " ")
	path := filepath.Join("testdata", name)
	if *update {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(path, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (create it with -update)", err)
	}
	if string(want) != string(got)+"\n" {
		t.Errorf("%s differs from the run (rewrite with -update if the change is intended):\n%s", path, got)
	}
}

// A leader too slow to finish TLS handshakes within the follower's 10 s
// TLSHandshakeTimeout: the followers give up and close (TIME-WAIT on their
// side), the leader's sockets sit in CLOSE-WAIT until it gets to them, and the
// forwards fail and retry.
func TestHandshakeTimeoutLeavesCloseWait(t *testing.T) {
	s := spec.Spec{
		Name: "slow-handshakes", Duration: spec.Duration(60e9), Server: spec.ServerCluster,
		Clients: spec.ClientsSpec{Count: 60, TTL: spec.Duration(30e9), Version: "v3.7.3", Consumer: "drain", Placement: "followers"},
		Cluster: spec.ClusterSpec{Members: 3, Cores: 1},
		// 2 s of leader CPU per handshake on one core: handshakes queue up behind
		// each other (and their retries), so most cannot finish within 10 s.
		Costs: spec.CostsSpec{TLSServerFull: spec.Duration(2e9)},
	}
	o, err := scenario.Run(context.Background(), s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if peakOf(o, recorder.TLSHandshakeTimeouts) == 0 || peakOf(o, recorder.CloseWaitLeader) == 0 || peakOf(o, recorder.DialErrors) != 0 {
		t.Fatalf("timeouts %.0f, CLOSE-WAIT %.0f, dial errors %.0f", peakOf(o, recorder.TLSHandshakeTimeouts), peakOf(o, recorder.CloseWaitLeader), peakOf(o, recorder.DialErrors))
	}
	if o.Summary.LeasesExpired != 60 {
		t.Fatalf("%d of 60 leases expired; with no connection to the leader, all must", o.Summary.LeasesExpired)
	}
}

// A follower cut off from the leader for longer than ReqTimeout: its forwards
// hang and time out, its clients' streams break and reconnect to it, and
// their leases expire once the partition outlasts the TTL; the other members'
// clients are untouched.
func TestPartitionedFollowerLosesItsLeases(t *testing.T) {
	mk := func(d spec.Duration) spec.Spec {
		return spec.Spec{
			Name: "partition", Duration: spec.Duration(90e9), Server: spec.ServerCluster,
			Clients: spec.ClientsSpec{Count: 90, TTL: spec.Duration(5e9), Version: "v3.7.3", Consumer: "drain"},
			Cluster: spec.ClusterSpec{Members: 3, Cores: 2},
			Faults:  []spec.FaultSpec{{At: spec.Duration(20e9), Kind: "partition", Member: 2, Duration: d}},
		}
	}
	long, err := scenario.Run(context.Background(), mk(spec.Duration(30e9)), nil)
	if err != nil {
		t.Fatal(err)
	}
	// Round-robin: 30 clients on member 2.
	if long.Summary.LeasesExpired != 30 || peakOf(long, recorder.ClientStreamErrors) == 0 {
		t.Fatalf("30 s partition: %d expired, %v stream errors/s", long.Summary.LeasesExpired, peakOf(long, recorder.ClientStreamErrors))
	}
	short, err := scenario.Run(context.Background(), mk(spec.Duration(2e9)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if short.Summary.LeasesExpired != 0 {
		t.Fatalf("2 s partition: %d expired", short.Summary.LeasesExpired)
	}
	bad := mk(1)
	bad.Faults[0].Member = 0 // the leader
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "faults[0].member") {
		t.Fatalf("partitioning the leader: %v", err)
	}
}
