package spec

import (
	"fmt"
	"math"
	"time"
)

// Fidelity modes (Spec.Fidelity).
//
// Exact steps every client through the cluster: every renewal is its own
// request on its member's CPU, its own forward, its own connection.
//
// Fast steps one client per cohort: a simulated client stands for Cohort
// clients that are assumed to do the same thing at the same instants (same
// member, same phase, same state) and never to split. Everything such a
// client causes counts Cohort times: its request is a job of Cohort requests
// on the CPU (Cohort times the work, spread over up to Cohort cores), its
// forward takes Cohort connections from its member's pool (those idle, and
// one dial of the rest: netsim.NetworkConfig.Cohort), its lease is Cohort
// leases (the lessor's revoke budget per pass, counted in leases, may split
// a cohort's entry across passes), and every count and rate it
// reports is multiplied by Cohort. What does not scale with the client
// count is not weighted: the members, their raft, rafthttp's prober, the
// idle and background CPU, GC pauses, faults. Intervals and round trips
// are the simulated clients' own (a cohort's members share them).
//
// What that assumes, and where it is wrong: real clients of one cohort are
// spread over their phases, so their requests reach a queue one after
// another where the fast mode's arrive together: the member's CPU serves a
// cohort as one job (each of its requests waits for the whole job, and what
// queues behind it waits for all of it at once), a forward waits until its
// member's pool has every connection it needs, and the connections it
// lacks are dialled, and handshaken, together. The arrivals are burstier
// than the real ones, the more so the larger the cohort. The errors this
// makes, per headline metric, are measured against the exact mode over a
// corpus of scenarios (package fidelity, `make fast-corpus`); the README
// states them.
const (
	FidelityExact = "exact"
	FidelityFast  = "fast"

	// FastCohorts is how many simulated clients AutoCohort aims at: the
	// cohort size is the client count over it, rounded (if FastLump allows).
	FastCohorts = 500
	// MaxCohort bounds cohort: a cohort larger than this stands for more
	// clients than any member's pool or lessor budget resolves.
	MaxCohort = 100_000
)

// FastLump bounds AutoCohort: the longest a cohort's burst may hold its
// member's cores (Cohort requests, or Cohort handshakes, each of the
// costliest kind, over the member's cores). An empirical bound, chosen from
// the measured error, not from a mechanism (README, "The fast mode"): at
// 2 ms the fast knee of incident-2018's buggy client is within 3 % of the
// exact one (cohorts of 5) and a million fixed clients on 64 cores keep
// every exact verdict and rate (cohorts of 133); bursts of 7.5 ms (500 on
// 64 cores) churn connections the exact run never opens, of 30 ms (2,000)
// collapse a cluster the exact run keeps at 43 % CPU.
const FastLump = 2 * time.Millisecond

// AutoCohort is the cohort size fidelity: fast uses when cohort is not set:
// the client count over FastCohorts, rounded, but no more than FastLump
// allows on a member of cores cores whose costliest per-client work is
// perClient; at least 1.
func AutoCohort(clients int, cores float64, perClient time.Duration) int {
	w := math.Round(float64(clients) / FastCohorts)
	if perClient > 0 {
		w = min(w, math.Floor(float64(FastLump)*cores/float64(perClient)))
	}
	return max(1, int(w))
}

// costliestPerClient is the most CPU one client's request can bring on a
// member of the cluster c describes, with its costs: a renewal on the leader
// or a follower, or, with HTTP/1.1 peers, a new connection's accept and
// handshake (each forward of a cohort may need its own; HTTP/2 dials once).
func costliestPerClient(c ClusterSpec, costs Costs) time.Duration {
	per := max(costs.DirectRenewal, costs.LeaderForwarded, costs.FollowerRenewal)
	if c.Transport != "http2" {
		conn := costs.TCPAccept
		if c.TLS != "off" {
			conn += costs.TLSServerFull
		}
		per = max(per, conn)
	}
	return per
}

// cohortWith is the cohort size s runs with, its costs resolved: 1 in the
// exact mode.
func (s Spec) cohortWith(costs Costs) int {
	if s.Fidelity != FidelityFast {
		return 1
	}
	if s.Cohort > 0 {
		return s.Cohort
	}
	return AutoCohort(s.Clients.Count, s.Cluster.Cores, costliestPerClient(s.Cluster, costs))
}

// CohortClients is how many clients a fast run simulates for clients clients
// in cohorts of cohort: clients/cohort rounded, at least 1. The run stands
// for CohortClients*cohort clients (within cohort/2 of clients).
func CohortClients(clients, cohort int) int {
	return max(1, int(math.Round(float64(clients)/float64(cohort))))
}

// fidelity checks the fidelity and cohort fields.
func (v *validator) fidelity(s Spec, cluster bool) {
	switch s.Fidelity {
	case "", FidelityExact:
		if s.Cohort != 0 {
			v.add("cohort", "%d is set, but the fidelity is %s; a cohort size is allowed only in the %s mode (set fidelity to %s, or remove it)", s.Cohort, FidelityExact, FidelityFast, FidelityFast)
		}
		return
	case FidelityFast:
	default:
		v.add("fidelity", "%q is not allowed; allowed: %s, %s", s.Fidelity, FidelityExact, FidelityFast)
		return
	}
	if !cluster {
		v.add("fidelity", "%s needs the cluster server; the ideal server already simulates lockstep clients as exact cohorts (allowed with it: %s)", FidelityFast, FidelityExact)
	}
	if s.Clients.Kind == ClientEventWriter {
		// The writers' workload (model.EventWriters) charges each write on
		// its own; it has no cohorts.
		v.add("fidelity", "%s does not take clients.kind %s, whose writers have no cohorts (allowed with it: %s)", FidelityFast, ClientEventWriter, FidelityExact)
	}
	if s.Cohort < 0 || s.Cohort > MaxCohort {
		v.add("cohort", "%d is out of range; allowed 0 (chosen from the client count) to %s", s.Cohort, Thousands(MaxCohort))
	} else if s.Cohort > s.Clients.Count && s.Clients.Count >= 1 {
		v.add("cohort", "%d is more than the %s clients; allowed 0 (chosen) to the client count", s.Cohort, Thousands(s.Clients.Count))
	}
}

// FidelityString names the fidelity of a run: "exact", or "fast (cohorts
// of 40: 500 simulated clients for 20,000)".
func (c *Cluster) FidelityString() string {
	if !c.Fast {
		return FidelityExact
	}
	return fmt.Sprintf("%s (cohorts of %s: %s simulated clients for %s)", FidelityFast,
		Thousands(c.Cohort), Thousands(c.Clients), Thousands(c.Clients*c.Cohort))
}
