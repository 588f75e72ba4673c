package calibrate

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"
)

// StormFigures are one level's figures over its runs (measured repeats or
// simulated seeds): medians of the runs' figures, the storm count, and the
// most any run lost.
type StormFigures struct {
	Runs    int `json:"runs"`
	Stormed int `json:"stormed"`
	// Big: runs with a second of more than BigStormNewConnsPerS new peer
	// connections (from each run's peak).
	Big int `json:"big"`
	// RecurrenceS: the median over the runs with two or more episodes; 0 if none.
	RecurrenceS float64 `json:"recurrence_s"`
	Episodes    string  `json:"episodes"` // each run's episode starts, s from the load's start
	RTTP50Ms    float64 `json:"rtt_p50_ms"`
	RTTP99Ms    float64 `json:"rtt_p99_ms"`
	ServerCores float64 `json:"server_cores"`
	ClientCores float64 `json:"client_cores"`
	NewConnsS   float64 `json:"new_conns_per_s"`
	Established float64 `json:"established"`
	PeakConns   float64 `json:"peak_new_conns_per_s"`
	PeakEstab   float64 `json:"peak_established"`
	Answered    float64 `json:"answered_per_s"`
	Background  float64 `json:"background_cores"`
	Other       float64 `json:"other_cores"`
	// The most in one run, and how many runs had any.
	LeasesLost int `json:"leases_lost"`
	// LeaderChanges: the agreed leader changed between two samples of the
	// window (sim: elections, cluster.raft only, off here). SeenLeaderless:
	// etcd_server_leader_changes_seen_total over the run, all members: a
	// member adds one whenever it (re)learns a leader, so a follower that
	// lost its leader for a moment and heard from the same one again counts
	// too: a follower whose election timeout fires becomes a pre-candidate
	// with no leader (go.etcd.io/raft/v3 v3.7.0 raft.go:928) and counts when
	// it hears from the leader again (server/v3 etcdserver/raft.go:187-189).
	// Not simulated.
	LeaderChanges  int `json:"leader_changes"`
	SeenLeaderless int `json:"leader_changes_seen"`
	StreamErrors   int `json:"stream_errors"`
	LostRuns       int `json:"runs_losing_leases"`
	LeaderRuns     int `json:"runs_changing_leader"`
	ErrorRuns      int `json:"runs_with_stream_errors"`
}

// stormRow is what figuresOf needs of one run, measured or simulated.
type stormRow struct {
	d                                 StormDerived
	rttP50, rttP99                    float64
	lost, leaderChanges, seen, errors int
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func figuresOf(rows []stormRow) StormFigures {
	f := StormFigures{Runs: len(rows)}
	var rec, p50, p99, srv, cli, nc, est, pnc, pest, ans, bg, oth []float64
	var eps []string
	for _, r := range rows {
		if r.d.Stormed {
			f.Stormed++
		}
		if r.d.PeakNewConns > BigStormNewConnsPerS {
			f.Big++
		}
		if r.d.RecurrenceS > 0 {
			rec = append(rec, r.d.RecurrenceS)
		}
		var e []string
		for _, s := range r.d.EpisodeStart {
			e = append(e, fmt.Sprintf("%.0f", s))
		}
		eps = append(eps, "["+strings.Join(e, " ")+"]")
		p50, p99 = append(p50, r.rttP50), append(p99, r.rttP99)
		srv, cli = append(srv, r.d.ServerCores), append(cli, r.d.ClientCores)
		nc, est = append(nc, r.d.NewConnsPerS), append(est, r.d.Established)
		pnc, pest = append(pnc, float64(r.d.PeakNewConns)), append(pest, float64(r.d.PeakEstab))
		ans = append(ans, r.d.AnsweredPerS)
		bg, oth = append(bg, r.d.BackgroundCores), append(oth, r.d.OtherCores)
		f.LeasesLost, f.LeaderChanges, f.StreamErrors = max(f.LeasesLost, r.lost), max(f.LeaderChanges, r.leaderChanges), max(f.StreamErrors, r.errors)
		f.SeenLeaderless = max(f.SeenLeaderless, r.seen)
		if r.lost > 0 {
			f.LostRuns++
		}
		if r.leaderChanges > 0 {
			f.LeaderRuns++
		}
		if r.errors > 0 {
			f.ErrorRuns++
		}
	}
	f.RecurrenceS, f.Episodes = median(rec), strings.Join(eps, " ")
	f.RTTP50Ms, f.RTTP99Ms = median(p50), median(p99)
	f.ServerCores, f.ClientCores = median(srv), median(cli)
	f.NewConnsS, f.Established = median(nc), median(est)
	f.PeakConns, f.PeakEstab = median(pnc), median(pest)
	f.Answered = median(ans)
	f.Background, f.Other = median(bg), median(oth)
	return f
}

// BigStormNewConnsPerS: a second with more new peer connections than this
// is a big storm. The storm rule's 10 (the model's) flags the real cluster's
// lowest levels too, where a burst re-dials 11-20 connections and RTTs stay
// in milliseconds; above 100 the storms are the (hundreds to
// thousands of connections, RTT p99 in seconds), so the tables show both.
const BigStormNewConnsPerS = 100

// StormPoint is one condition and level, measured and simulated.
type StormPoint struct {
	Cond     string       `json:"condition"`
	Busy     bool         `json:"busy"`
	Level    int          `json:"renewals_per_s"`
	Measured StormFigures `json:"measured"`
	Model    StormFigures `json:"leasesim"`
}

// StormOnsetOf is StormOnset over points: the lowest level of cond where at
// least half of the runs storm (measured, or with model the simulated), 0 if
// none.
func StormOnsetOf(pts []StormPoint, cond string, model bool) int {
	return onsetOf(pts, cond, model, func(f StormFigures) int { return f.Stormed })
}

// BigStormOnsetOf is StormOnsetOf for big storms.
func BigStormOnsetOf(pts []StormPoint, cond string, model bool) int {
	return onsetOf(pts, cond, model, func(f StormFigures) int { return f.Big })
}

// onsetOf is the lowest level of cond where at least half of the runs count
// (measured, or with model simulated), 0 if none.
func onsetOf(pts []StormPoint, cond string, model bool, count func(StormFigures) int) int {
	for _, p := range pts {
		f := p.Measured
		if model {
			f = p.Model
		}
		if p.Cond == cond && f.Runs > 0 && 2*count(f) >= f.Runs {
			return p.Level
		}
	}
	return 0
}

// StormSeeds is how many seeds (1..StormSeeds) ReplayStorm simulates per level.
const StormSeeds = 3

// ReplayStorm simulates every level of a saved storm campaign (StormSpec,
// seeds 1-3, the parameter file params) and returns measured beside
// simulated. The model's window is read as the measurement's (SimulateStorm).
func ReplayStorm(ctx context.Context, set StormSet, model StormModel) ([]StormPoint, error) {
	if len(set.Conditions) == 0 || len(set.Conditions[0].Levels) == 0 || len(set.Conditions[0].Levels[0].Runs) == 0 {
		return nil, fmt.Errorf("storm campaign: no runs")
	}
	cfg := set.Conditions[0].Levels[0].Runs[0].Config
	type job struct {
		pi   int
		seed uint64
	}
	var pts []StormPoint
	var jobs []job
	for _, c := range set.Conditions {
		for _, l := range c.Levels {
			p := StormPoint{Cond: c.Name, Busy: c.Background, Level: l.RenewalsPerS}
			var rows []stormRow
			for _, r := range l.Runs {
				rows = append(rows, stormRow{d: r.Derived, rttP50: r.RTTP50Ms, rttP99: r.RTTP99Ms, lost: r.LeasesLost(),
					leaderChanges: r.Derived.LeaderChanges, seen: r.LeaderChanges, errors: r.StreamErrorsRun})
			}
			p.Measured = figuresOf(rows)
			pts = append(pts, p)
			for seed := uint64(1); seed <= uint64(model.seeds()); seed++ {
				jobs = append(jobs, job{len(pts) - 1, seed})
			}
		}
	}
	// Seed order within a level is kept, so the episodes print the same
	// way every time; two simulations at a time.
	rows := make([][]stormRow, len(pts))
	for i := range rows {
		rows[i] = make([]stormRow, model.seeds())
	}
	var (
		mu       sync.Mutex
		wg       sync.WaitGroup
		firstErr error
	)
	sem := make(chan struct{}, 2)
	for _, j := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			p := pts[j.pi]
			// Grounded: the agent's and the busy loop's measured CPU (medians)
			// stand for the other processes on the machine; with BusyThread
			// the loop is a thread (StormModel.Spec), the agent's CPU cores;
			// with BusyOneCore the loop has the core the members do not.
			bg := p.Measured.ClientCores + p.Measured.Background
			if (model.BusyThread || model.BusyOneCore) && p.Busy {
				bg = p.Measured.ClientCores
			}
			m, err := SimulateStorm(ctx, p.Level, p.Busy, j.seed, model, bg, cfg.Ramp, cfg.Warmup-cfg.Ramp, int(cfg.Window/time.Second))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				return
			}
			rows[j.pi][j.seed-1] = stormRow{d: m.Derived, rttP50: m.RTTP50Ms, rttP99: m.RTTP99Ms, lost: m.LeasesExpired,
				leaderChanges: m.Derived.LeaderChanges, errors: m.Derived.StreamErrors}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	for i := range pts {
		pts[i].Model = figuresOf(rows[i])
	}
	return pts, nil
}

// WriteStormTable prints measured beside simulated, one row per condition,
// level and source.
func WriteStormTable(w io.Writer, set StormSet, pts []StormPoint, model StormModel) error {
	var b strings.Builder
	how := "StormSpec"
	if model.Grounded {
		how = "the grounded model: measured costs and other CPU, loopback, GC, spread, the follower reading its answer"
	}
	if model.Grounded && model.PlatformStalls {
		how += ", the platform's stalls"
	}
	switch {
	case model.BusyOneCore:
		how += ", at the busy levels the members on one core and the busy loop on the other"
	case model.BusyThread:
		how += ", the busy loop a thread sharing the cores per thread"
	}
	if model.RaftWait != "" {
		how += ", raft in the loop (raft_wait " + model.RaftWait + ")"
	}
	fmt.Fprintf(&b, "storm: real etcd %s on %s (%d cores), %s, beside leasesim (%s, params %q, seeds 1-%d)\n", set.Etcd, set.Machine, set.Cores, set.Date, how, model.Params, model.seeds())
	fmt.Fprintf(&b, "%-5s %6s %-4s %5s %5s %7s %8s %8s %6s %6s %7s %7s %6s %6s %5s %4s %4s %5s %5s %5s  %s\n",
		"cond", "ren/s", "src", "storm", "big", "recur_s", "RTTp50ms", "RTTp99ms", "srvCPU", "cliCPU", "conns/s", "pk_conn", "ESTAB", "pk_EST", "lost", "ldr", "seen", "errs", "bgCPU", "other", "episodes (s from load start)")
	row := func(p StormPoint, src string, f StormFigures) {
		fmt.Fprintf(&b, "%-5s %6d %-4s %5s %5s %7.0f %8.1f %8.1f %6.2f %6.2f %7.1f %7.0f %6.0f %6.0f %5d %4d %4d %5d %5.2f %5.2f  %s\n",
			p.Cond, p.Level, src, fmt.Sprintf("%d/%d", f.Stormed, f.Runs), fmt.Sprintf("%d/%d", f.Big, f.Runs), f.RecurrenceS, f.RTTP50Ms, f.RTTP99Ms, f.ServerCores, f.ClientCores,
			f.NewConnsS, f.PeakConns, f.Established, f.PeakEstab, f.LeasesLost, f.LeaderChanges, f.SeenLeaderless, f.StreamErrors, f.Background, f.Other, f.Episodes)
	}
	for _, p := range pts {
		row(p, "real", p.Measured)
		row(p, "sim", p.Model)
	}
	for _, c := range set.Conditions {
		fmt.Fprintf(&b, "onset %s: real %s, leasesim %s; big storms: real %s, leasesim %s\n", c.Name,
			onsetText(StormOnsetOf(pts, c.Name, false)), onsetText(StormOnsetOf(pts, c.Name, true)),
			onsetText(BigStormOnsetOf(pts, c.Name, false)), onsetText(BigStormOnsetOf(pts, c.Name, true)))
	}
	b.WriteString("Medians over the runs (real: repeats; sim: seeds). storm: runs with a second of more than 10 new peer connections into the\n" +
		"leader in the 60 s window; big: more than 100; onset: the lowest level where at least half the runs do; recur_s: median\n" +
		"time between storm episodes' starts; the most in one run: lost (real: over the\n" +
		"run, revoked, answered TTL 0 or expired by TimeToLive at the end; sim: expired), ldr (the agreed leader changed, window),\n" +
		"seen (etcd_server_leader_changes_seen_total, all members, run: also a follower re-finding the same leader), errs (stream errors).\n" +
		"srvCPU, cliCPU, bgCPU, other: cores (other: the host's CPU outside etcd, the agent and the busy loop, /proc/stat).\n" +
		"leasesim does not model the client's CPU nor other processes beyond host.background_cores; its bgCPU is the configured load.\n")
	if model.BusyThread {
		b.WriteString("At the busy levels leasesim's bgCPU is the agent's alone: the busy loop is host.background_threads 1 (its share is the scheduler's).\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func onsetText(n int) string {
	if n == 0 {
		return "none of the levels"
	}
	return fmt.Sprintf("%d/s", n)
}
