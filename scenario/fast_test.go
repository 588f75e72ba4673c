package scenario_test

import (
	"math"
	"testing"
	"time"

	"github.com/leasesim/leasesim/recorder"
	"github.com/leasesim/leasesim/scenario"
	"github.com/leasesim/leasesim/spec"
)

func mean(xs []float64) float64 { return sum(xs) / float64(len(xs)) }

// The fast mode (spec.FidelityFast) on a calm cluster: 3,000 fixed clients
// (v3.7.3, TTL 10 s) round-robin over 3 members. A calm run's totals follow
// from the clients, not from the queues (each client renews every TTL/3
// whatever its member does), so the fast mode must give the exact mode's
// renewals, forwards and leader CPU to within the start phases' rounding,
// with about Cohort times fewer events. Each weight is needed: without the
// members' (a request is a job of Cohort) the leader CPU is 1/Cohort of the
// exact one; without the recorder's, every count is.
func TestFastModeCalm(t *testing.T) {
	base := func(s *spec.Spec) {
		s.Duration = spec.Duration(90 * time.Second)
		s.Clients.Count = 3000
		s.Clients.StartSpread = spec.Duration(10 * time.Second)
		s.Cluster.Members, s.Cluster.Cores = 3, 2
	}
	exact := runBuiltin(t, "calibration-500", base)
	fast := runBuiltin(t, "calibration-500", func(s *spec.Spec) { base(s); s.Fidelity, s.Cohort = spec.FidelityFast, 10 })
	within := func(what string, got, want, tol float64) {
		t.Helper()
		if math.Abs(got-want) > tol*math.Abs(want) {
			t.Errorf("%s: fast %.4g, exact %.4g: off by more than %.0f %%", what, got, want, 100*tol)
		}
	}
	// After the starts: each client renews every ~3.3 s.
	steady := func(o recorder.Outcome, name recorder.MetricName) float64 { return mean(o.Metric(name)[30:]) }
	within("renewals", float64(fast.Summary.RenewalsTotal), float64(exact.Summary.RenewalsTotal), 0.01)
	within("requests", float64(fast.Summary.RequestsTotal), float64(exact.Summary.RequestsTotal), 0.01)
	within("forwarded/s", steady(fast, recorder.ForwardedRenewals), steady(exact, recorder.ForwardedRenewals), 0.01)
	within("leader renewals/s", steady(fast, recorder.RenewalsAtLeader), steady(exact, recorder.RenewalsAtLeader), 0.01)
	within("leader CPU", steady(fast, recorder.CPUUtilisation(0)), steady(exact, recorder.CPUUtilisation(0)), 0.05)
	within("follower CPU", steady(fast, recorder.CPUUtilisation(1)), steady(exact, recorder.CPUUtilisation(1)), 0.05)
	if fast.Summary.LeasesExpired != 0 || exact.Summary.LeasesExpired != 0 {
		t.Errorf("leases expired: fast %d, exact %d; want none", fast.Summary.LeasesExpired, exact.Summary.LeasesExpired)
	}
	if fast.Cohorts != 300 || fast.Events*5 > exact.Events {
		t.Errorf("fast: %d simulated clients, %d events (exact %d); want 300 and at most a fifth", fast.Cohorts, fast.Events, exact.Events)
	}
}

// A fleet restart in the fast mode (TestLeaseFleetRestart's figures, which
// follow from the mechanism): every abandoned lease expires, and the
// leader's revoke budget (counted in leases) is kept although a cohort's
// 10 leases are one lessor entry: a pass's budget splits an entry where it
// runs out.
func TestFastModeFleetRestart(t *testing.T) {
	const n = 10_000
	for _, cohort := range []int{7, 40} { // 7 does not divide a pass's 500
		o := runBuiltin(t, "lease-fleet-restart", func(s *spec.Spec) { s.Fidelity, s.Cohort = spec.FidelityFast, cohort })
		want := uint64(spec.CohortClients(n, cohort) * cohort) // the clients the run stands for
		if o.Summary.LeasesExpired != want || o.Summary.KeysLost != want {
			t.Errorf("cohort %d: %d leases expired, %d keys lost; want the %d abandoned ones", cohort, o.Summary.LeasesExpired, o.Summary.KeysLost, want)
		}
		for b, k := range o.Metric(recorder.KeysLost) {
			if k > 1000 {
				t.Errorf("cohort %d: %v keys deleted in second %d, over LeaseRevokeRate", cohort, k, b)
			}
		}
		if g := sum(o.Metric(recorder.LeaseGrants)); g != float64(2*want) {
			t.Errorf("cohort %d: %v grants, want %d", cohort, g, 2*want)
		}
	}
}

// The fast mode's cohorts through storms and faults keep the books: every
// second, no count of streams, queued work, connections or waiters is
// negative or over its bound, and the forwards waiting for connections need
// what the pools count as waiting (Sim.CheckInvariants). The runs go
// through what splits a cohort's connections: dials of many, handshake
// timeouts, a partition's dial errors, cancelled waiters holding some.
func TestFastModeInvariants(t *testing.T) {
	cases := map[string]func(*spec.Spec){
		"storm": func(s *spec.Spec) { s.Clients.Count = 20_000 },
		"storm-http2": func(s *spec.Spec) {
			s.Clients.Count, s.Cluster.Transport, s.Cluster.Cores = 20_000, "http2", 2
		},
		"partition-and-stall": func(s *spec.Spec) {
			s.Clients.Count = 8000
			s.Faults = []spec.FaultSpec{
				{At: spec.Duration(70 * time.Second), Kind: spec.FaultPartition, Member: 2, Duration: spec.Duration(5 * time.Second)},
				{At: spec.Duration(80 * time.Second), Kind: spec.FaultLeaderStall, Duration: spec.Duration(3 * time.Second)},
			}
		},
	}
	for name, edit := range cases {
		t.Run(name, func(t *testing.T) {
			s, err := spec.Builtin("incident-2018")
			if err != nil {
				t.Fatal(err)
			}
			s.Duration = spec.Duration(150 * time.Second)
			s.Fidelity, s.Cohort = spec.FidelityFast, 20
			edit(&s)
			o := runChecked(t, s)
			t.Logf("%s: %d keys lost, %v new connections, %v handshake timeouts, %v dial errors", name, o.Summary.KeysLost,
				sum(o.Metric(recorder.NewPeerConnections)), sum(o.Metric(recorder.TLSHandshakeTimeouts)), sum(o.Metric(recorder.DialErrors)))
		})
	}
}

// runChecked runs s a second at a time, checking the books after each
// (Sim.CheckInvariants), and returns its outcome.
func runChecked(t *testing.T, s spec.Spec) recorder.Outcome {
	t.Helper()
	r, err := s.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	m, err := scenario.StartCluster(*r.Cluster, scenario.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for m.Now() < r.Cluster.Duration {
		if err := m.Advance(time.Second); err != nil {
			t.Fatal(err)
		}
		if err := m.CheckInvariants(); err != nil {
			t.Fatalf("at %v: %v", m.Now(), err)
		}
	}
	o, err := m.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// Re-granting agents in the fast mode: a 5 s stall expires every lease of
// lease-lock-ttl2 (TTL 2 s), more than a revoke pass's 500, so a pass
// splits a cohort's entry (cohorts of 7: 500 = 71 x 7 + 3). An agent
// re-grants once its key is gone: a cohort once, when the last of its
// leases is revoked, not at each part (a second re-grant, scheduled before
// the first is done, would take a lease entry past its process's). Every
// first lease expires and is re-granted once; the new ones live on.
func TestFastModeRegrantOncePerCohort(t *testing.T) {
	s, err := spec.Builtin("lease-lock-ttl2")
	if err != nil {
		t.Fatal(err)
	}
	s.Faults[0].Duration = spec.Duration(5 * time.Second)
	s.Clients.Regrant.Max, s.Clients.Regrant.Delay = 1, spec.Duration(2*time.Second) // longer than a pass: a split cohort's second part comes before its re-grant
	s.Fidelity, s.Cohort = spec.FidelityFast, 7
	o := runChecked(t, s)
	fleet := float64(spec.CohortClients(s.Clients.Count, 7) * 7)
	grants := sum(o.Metric(recorder.LeaseGrants))
	if float64(o.Summary.LeasesExpired) != fleet || grants != 2*fleet {
		t.Errorf("%v grants for %v agents, %d leases expired; want every first lease expired and re-granted once (%v grants)", grants, fleet, o.Summary.LeasesExpired, 2*fleet)
	}
}
