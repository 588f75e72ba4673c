package spec

import (
	"fmt"
	"math"
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
	// cohort size is the client count over it, rounded.
	FastCohorts = 500
	// MaxCohort bounds cohort: a cohort larger than this stands for more
	// clients than any member's pool or lessor budget resolves.
	MaxCohort = 100_000
)

// AutoCohort is the cohort size fidelity: fast uses for clients clients when
// cohort is not set: clients/FastCohorts rounded, at least 1.
func AutoCohort(clients int) int {
	return max(1, int(math.Round(float64(clients)/FastCohorts)))
}

// cohortOf is the cohort size s runs with: 1 in the exact mode.
func (s Spec) cohortOf() int {
	if s.Fidelity != FidelityFast {
		return 1
	}
	if s.Cohort > 0 {
		return s.Cohort
	}
	return AutoCohort(s.Clients.Count)
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
			v.add("cohort", "%d is set, but the fidelity is %s; a cohort size applies to the %s mode only (set fidelity to %s, or remove it)", s.Cohort, FidelityExact, FidelityFast, FidelityFast)
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
