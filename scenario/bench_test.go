package scenario_test

import (
	"bufio"
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/leasesim/leasesim/scenario"
	"github.com/leasesim/leasesim/spec"
)

// benchRun runs s b.N times and reports what a capacity plan costs: events/s,
// ns per keepalive, events per keepalive, wall time per run and the process's
// peak RSS (Linux; 0 elsewhere). `make bench` runs these.
func benchRun(b *testing.B, s spec.Spec) {
	var events, renewals uint64
	for i := 0; i < b.N; i++ {
		o, err := scenario.Run(context.Background(), s, nil)
		if err != nil {
			b.Fatal(err)
		}
		events += o.Events
		renewals += o.Summary.RenewalsTotal
	}
	wall := b.Elapsed()
	b.ReportMetric(float64(events)/wall.Seconds(), "events/s")
	b.ReportMetric(float64(wall.Nanoseconds())/float64(renewals), "ns/keepalive")
	b.ReportMetric(float64(events)/float64(renewals), "events/keepalive")
	b.ReportMetric(wall.Seconds()/float64(b.N), "s/run")
	b.ReportMetric(float64(peakRSS())/(1<<20), "peak-RSS-MiB")
}

// peakRSS is the process's high-water resident set (VmHWM), in bytes.
func peakRSS() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// The 2018 incident's fleet for 2 h of virtual time: 20,000 pre-fix clients,
// TTL 600 s, 7 members (the collapse ~53 min in).
// Each benchmark runs the exact mode and the fast mode (spec.FidelityFast,
// the cohort chosen from the client count); the fast mode's error against
// the exact one is measured by package fidelity, not here.
func BenchmarkIncident2018TTL600(b *testing.B) {
	s, err := spec.Builtin("incident-2018-ttl600")
	if err != nil {
		b.Fatal(err)
	}
	benchModes(b, s)
}

// benchModes runs s in the fast and the exact mode, as sub-benchmarks: the
// fast one first, as the peak RSS reported is the process's high-water mark.
func benchModes(b *testing.B, s spec.Spec) {
	for _, f := range []string{spec.FidelityFast, spec.FidelityExact} {
		b.Run(f, func(b *testing.B) {
			s.Fidelity = f
			benchRun(b, s)
		})
	}
}

// A million fixed clients (v3.7.3, TTL 10 s, reading their channel, started
// over 60 s) on 5 members with cores enough to carry them, for 10 minutes:
// ~300,000 keepalives/s, 4/5 of them forwarded.
func BenchmarkMillionFixedClients(b *testing.B) {
	s := spec.Spec{Name: "million", Seed: 1, Duration: spec.Duration(10 * time.Minute), Server: spec.ServerCluster,
		Clients: spec.ClientsSpec{Count: 1_000_000, TTL: spec.Duration(10 * time.Second), Version: "v3.7.3", Consumer: "drain",
			StartSpread: spec.Duration(time.Minute)},
		Cluster: spec.ClusterSpec{Members: 5, Cores: 64}}
	benchModes(b, s)
}
