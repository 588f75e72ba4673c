// Package fidelity measures how far a cluster run in the fast mode strays
// from the same run in the exact mode, over a fixed corpus of scenarios
// (issue 12, item 2; `make fast-corpus`).
//
// Terms:
//
//   - Exact mode: a cluster run with spec.Spec.Fidelity "" or "exact": every
//     client is simulated, each renewal its own request, forward and
//     connection.
//   - Fast mode: the same scenario with Fidelity "fast" (spec.FidelityFast):
//     one simulated client stands for a cohort of clients assumed to stay in
//     lockstep, and everything it causes (CPU work, connections, leases,
//     every count and rate) is weighted by the cohort size.
//   - Cohort: the number of clients one simulated client stands for in the
//     fast mode; 0 in a spec (as the corpus runs it) means chosen by
//     spec.AutoCohort: clients/500 rounded, but no larger than its bound on
//     a cohort's burst of work on a member (spec.FastLump).
//   - Headline metric: one of the figures a run is read for (Metrics, from
//     Headline): renewals/s, the renew interval's p50 and p99, the leader's
//     CPU (mean and peak), new peer connections/s, TIME-WAIT on the leader
//     (peak), leases expired, keys lost and the first expiry's instant.
//   - Verdict: a yes/no reading of a run: "storm" (any lease expired) and
//     "keys lost" (any key deleted with an expired lease). The fast mode
//     should give the exact mode's verdicts.
//   - Error: for every headline metric but the first expiry, the fast
//     run's value minus the exact run's, relative to the exact value
//     ((fast-exact)/max(|exact|, floor), signed), where floor is the metric's
//     noise floor (Floors): a metric the exact run has at 0 is measured
//     against that floor, so 0 against 0 is no error and 0 against x is
//     x/floor. For the first expiry: fast minus exact, in seconds; undefined
//     (nil) unless both runs had an expiry (the verdicts then say whether
//     they disagree). Compare computes it.
//   - Seed noise: the exact mode's errors against itself when only the seed
//     changes (Compare(exact, exact with the next seed)). The fast mode
//     draws its own start times (stratified, one per cohort), so a fast run
//     differs from the exact run of its seed as another seed does, and more
//     where the cohorts bias it. Where the fast mode's errors are no larger
//     than the seed noise, a single exact run says no more than the fast
//     one; where they are larger, the fast mode is biased there. A metric
//     that depends on a knife-edge (a metastable storm's size) has a large
//     noise; one that follows from the clients (renewals/s) a small one.
//
// Corpus is the scenarios; RunCorpus runs each in both modes and times them;
// Report writes the markdown report. TestFastCorpus (gated by
// LEASESIM_FAST_CORPUS=1) runs the whole corpus and writes
// bin/fast-corpus.md and bin/fast-corpus.json; TestFastModeSubset runs a few
// small scenarios in every `go test`.
package fidelity
