package scenario_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/leasesim/leasesim/recorder"
	"github.com/leasesim/leasesim/scenario"
	"github.com/leasesim/leasesim/spec"
)

// proberSeconds runs an idle-ish 3-member cluster for 20 s and returns the
// prober's connections in each 250 ms bucket (the series is a rate per
// second: four times the count).
func proberSeconds(t *testing.T, seed uint64, phase, etcd string) []float64 {
	t.Helper()
	s := spec.Spec{Name: "prober", Seed: seed, Duration: spec.Duration(20 * time.Second), Bucket: spec.Duration(250 * time.Millisecond), Server: spec.ServerCluster,
		Clients: spec.ClientsSpec{Count: 3, TTL: spec.Duration(10 * time.Second), Version: "v3.7.3", Consumer: "drain"},
		Cluster: spec.ClusterSpec{Members: 3, Cores: 2, ProberPhase: phase, EtcdVersion: etcd}}
	o, err := scenario.Run(context.Background(), s, nil)
	if err != nil {
		t.Fatal(err)
	}
	return o.Metric(recorder.ProberConnections)
}

// A member probes all its peers at once (netsim.Network.StartProber):
// together, the six probes of a 3-member cluster share one instant every
// 4 s, as measured on calibrate's cluster; at random phases each member's
// two probes share one, and the phases are the seed's; before etcd 3.3.10
// probes make no connection.
func TestProberPhases(t *testing.T) {
	burst := func(v []float64) (nonEmpty []string, total float64) {
		for i, x := range v {
			if x *= 0.25; x > 0 {
				nonEmpty = append(nonEmpty, fmt.Sprintf("%v:%v", time.Duration(i)*250*time.Millisecond, x))
			}
			total += x
		}
		return nonEmpty, total
	}
	got, total := burst(proberSeconds(t, 1, spec.ProberTogether, ""))
	if want := "[4s:6 8s:6 12s:6 16s:6]"; fmt.Sprint(got) != want || total != 24 {
		t.Errorf("together: probes %v, want %s", got, want)
	}
	r1, total := burst(proberSeconds(t, 1, "", ""))
	if want := "[1.25s:2 2.25s:2 2.5s:2 5.25s:2 6.25s:2 6.5s:2 9.25s:2 10.25s:2 10.5s:2 13.25s:2 14.25s:2 14.5s:2 17.25s:2 18.25s:2 18.5s:2]"; fmt.Sprint(r1) != want || total != 30 {
		t.Errorf("random phases, seed 1: probes %v (%v), want three members' bursts of 2, five each in 20 s", r1, total)
	}
	if again, _ := burst(proberSeconds(t, 1, spec.ProberRandom, "")); fmt.Sprint(again) != fmt.Sprint(r1) {
		t.Errorf("random phases are the seed's: %v, then %v", r1, again)
	}
	if r2, _ := burst(proberSeconds(t, 2, "", "")); fmt.Sprint(r2) == fmt.Sprint(r1) {
		t.Errorf("seeds 1 and 2 drew the same phases: %v", r1)
	}
	if old, total := burst(proberSeconds(t, 1, spec.ProberTogether, "3.2.23")); total != 0 {
		t.Errorf("etcd 3.2.23 probes over its kept-alive pipeline connection, yet %v prober connections: %v", total, old)
	}
}

// Members started together in one process (spec.ProberSkewed) probe one
// after another: the three members' bursts of two at 4 s, 4 s + S/2 and
// 4 s + S, S a measured start skew (spec.ProberStartSkews), the seed's.
func TestProberSkewed(t *testing.T) {
	skews := map[time.Duration]bool{}
	for seed := uint64(1); seed <= 12; seed++ {
		s := spec.Spec{Name: "prober", Seed: seed, Duration: spec.Duration(5 * time.Second), Bucket: spec.Duration(time.Millisecond), Server: spec.ServerCluster,
			Clients: spec.ClientsSpec{Count: 3, TTL: spec.Duration(10 * time.Second), Version: "v3.7.3", Consumer: "drain"},
			Cluster: spec.ClusterSpec{Members: 3, Cores: 2, ProberPhase: spec.ProberSkewed}}
		o, err := scenario.Run(context.Background(), s, nil)
		if err != nil {
			t.Fatal(err)
		}
		var at []time.Duration
		for i, x := range o.Metric(recorder.ProberConnections) {
			for range int(x / 1000) { // a rate per second over 1 ms buckets
				at = append(at, time.Duration(i)*time.Millisecond)
			}
		}
		if len(at) != 6 || at[0] != 4*time.Second || at[0] != at[1] || at[2] != at[3] || at[4] != at[5] {
			t.Fatalf("seed %d: probes at %v, want three members' bursts of two, the first at 4s", seed, at)
		}
		skew := at[4] - at[0]
		found := false
		for _, s := range spec.ProberStartSkews {
			found = found || skew == s.Truncate(time.Millisecond)
		}
		if mid := at[2] - at[0]; !found || mid < skew/2-time.Millisecond || mid > skew/2+time.Millisecond {
			t.Errorf("seed %d: members at +0, +%v, +%v; want +0, +S/2, +S with S one of %v", seed, mid, skew, spec.ProberStartSkews)
		}
		skews[skew] = true
	}
	if len(skews) < 3 {
		t.Errorf("12 seeds drew %d start skews of %d", len(skews), len(spec.ProberStartSkews))
	}
}
