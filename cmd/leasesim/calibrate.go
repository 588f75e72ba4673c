package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/leasesim/leasesim/calibrate"
	"github.com/leasesim/leasesim/spec"
	"github.com/leasesim/leasesim/sweep"
)

const calibrateLong = `Starts a real 3-member etcd cluster (go.etcd.io/etcd/server/v3 embed, on
127.0.0.1 only, peer mutual TLS with certificates made for the run), runs real
go.etcd.io/etcd/client/v3 clients against it in a child process, measures
renewals, renew intervals, RTTs, server CPU (/proc), peer connections to the
leader by TCP state and lease expirations, then simulates the same scenario
and prints measured beside predicted, with relative errors.

With --fit FILE it also fits the model's CPU costs (idle, per direct and per
forwarded renewal) to the runs and writes them as a parameter file that
scenarios load with 'params: FILE' or --params FILE; the predictions then use
the fitted values. Fitting needs runs that mix direct and forwarded renewals
differently (--set full has leader-only, followers-only and spread runs).

Everything it starts (members, the client process, temporary directories) is
removed when it ends, also on error and Ctrl-C; --keep leaves the directory
with the members' and clients' logs.

Exposure: the members' client ports are plain gRPC on 127.0.0.1 (the peer
links, which are what is measured, use mutual TLS). While a calibration runs,
any user of this machine can connect to them and read or write the test
cluster's keys; it holds nothing but the calibration's own leases and keys,
and it is gone when the command ends. Run it on a machine you trust.

--set storm is the issue's storm experiment (calibrate/storm.go): leases on
the followers only, TTL 10 s, each renewed on every 500 ms scan whatever the
answers (the pre-fix v3.3.8 client once its channel is full), at 1,000-3,000
renewals/s on a quiet host (4,000 if 3,000 does not storm) and 400-1,600/s
with one core busy (a busy-loop process), 3 runs each, 60 s windows; a run
"storms" if a second has more than 10 new peer connections into the leader.
It prints per level the share of runs that storm, the onset, the storms'
recurrence, RTT, CPU, peer connections, lost leases and leader changes beside
leasesim's (the same scenario, seeds 1-3, --params; with --grounded, the
model as the storm set grounds it: its measured costs, storm-2core unless
--params is given, the measured agent and busy-loop CPU as other processes'
cores, loopback round trips, GC, service-time spread and the follower
reading its answer before pooling the connection, the probers' measured
bursts, the members' process stalling as the storm set's health checks
measured it (cluster.platform_stalls), seeds 1-12; --busy-one-core gives the members one core at the busy
levels and the busy loop the other, in place of the loop as a thread sharing
both; --raft-wait puts raft in the loop, so that storms can move the
leadership). With --from FILE it
replays a saved campaign (-w json output, or calibrate/testdata/storm-3.7.3.json)
without measuring. Each run first waits up to 30 s for the host's other CPU
to fall under 0.25 cores; the other CPU is recorded per second.`

const calibrateExample = `  leasesim calibrate                                   # the CI-sized set: 30 clients, TTL 5s
  leasesim calibrate --set storm --from calibrate/testdata/storm-3.7.3.json   # the saved storm measurement beside leasesim
  leasesim calibrate --set storm --from calibrate/testdata/storm-3.7.3.json --grounded   # ... beside the grounded model
  leasesim calibrate --set storm --from calibrate/testdata/storm-3.7.3.json --grounded --busy-one-core   # ... the busy machine as the members' one core
  leasesim calibrate --set storm --from calibrate/testdata/storm-3.7.3.json --grounded --raft-wait backlog   # ... with raft in the loop
  leasesim calibrate --set storm --from calibrate/testdata/storm-3.7.3.json --grounded --seeds 20   # ... the onsets over 20 seeds
  leasesim calibrate --set storm -w json > storm.json  # re-measure it (~40 min; keep the machine otherwise idle)
  leasesim calibrate --clients 500 --ttl 5s --window 30s --placement followers
  leasesim calibrate --set full --fit spec/params/default.yaml
  leasesim calibrate --set reference -w json > ref.json
  leasesim calibrate --from ref.json --params reference-2core   # same data, other parameters`

func newCalibrateCmd(stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "calibrate [flags]",
		Short:   "Measure a real etcd cluster and print it beside leasesim's prediction",
		Long:    calibrateLong,
		Example: calibrateExample,
		Args:    noArgs,
	}
	fs := cmd.Flags()
	set := fs.String("set", "", "run a named set of runs: "+strings.Join(calibrate.SetNames(), ", ")+" (without it: one run from the flags below, whose defaults are the ci run)")
	clients := fs.Int("clients", 30, "clients, one lease and one key each")
	ttl := fs.Duration("ttl", 5*time.Second, "lease TTL (whole seconds, >= 2s)")
	consumer := fs.String("consumer", "drain", "what each client does with its KeepAlive channel: drain | never")
	placement := fs.String("placement", "spread", "which members the clients talk to: spread (round-robin) | leader | followers")
	spread := fs.Duration("start-spread", 0, "start the clients uniformly over this long (0: together)")
	warmup := fs.Duration("warmup", 0, "time after the clients start before measuring (default 1.5 renew periods)")
	window := fs.Duration("window", 20*time.Second, "measured window (rounded up to whole renew periods)")
	idle := fs.Duration("idle", calibrate.DefaultIdle, "idle-cluster CPU baseline before the clients start (the loaded CPU's prediction stands on it)")
	tls := fs.String("tls", "rsa", "peer mTLS key type: rsa | ecdsa")
	seed := fs.Uint64("seed", 1, "seed of the start spread and of the simulation")
	params := fs.String("params", "default", "model parameters for the predictions: a built-in parameter file (default, measured on this project's machines by make calibrate; reference-2core, the issue's reference VM) or a file")
	fit := fs.String("fit", "", "fit CPU costs to the runs and write a parameter file to FILE")
	var wo writeOut
	addWriteOut(fs, &wo, "table", "table", "json")
	keep := fs.Bool("keep", false, "keep the temporary directory (member and client logs)")
	from := fs.String("from", "", "measure nothing: read the measurements of an earlier -w json output FILE and only fit and predict (to try model changes or parameters on the same data)")
	quiet := fs.BoolP("quiet", "q", false, "no progress display on stderr")
	grounded := fs.Bool("grounded", false, "with --set storm: simulate the grounded storm model (see above), not the plain scenario")
	raftWait := fs.String("raft-wait", "", "with --set storm: raft in the loop (cluster.raft) with this raft_wait: preempt, backlog or measured (default: no raft, the leader fixed)")
	busyOneCore := fs.Bool("busy-one-core", false, "with --set storm --grounded: at the busy levels the members' process has one core and the busy loop the other (as the members at GOMAXPROCS 1), instead of the loop as a thread sharing both")
	simSeeds := fs.Int("seeds", 0, "with --set storm: simulate seeds 1..N per level (default 3; 12 with --grounded); onsets are read from the share of seeds that storm, so more seeds steady a knife edge")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		format, err := wo.resolve(fs)
		if err != nil {
			return err
		}
		asJSON := format == "json"
		return cmdCalibrate(cmd.Context(), fs, stdout, stderr, set, clients, ttl, consumer, placement, spread, warmup, window, idle, tls, seed, params, fit, &asJSON, keep, from, quiet, *grounded, *raftWait, *simSeeds, *busyOneCore)
	}
	return cmd
}

func cmdCalibrate(ctx context.Context, fs *pflag.FlagSet, stdout, stderr io.Writer, set *string, clients *int, ttl *time.Duration, consumer, placement *string,
	spread, warmup, window, idle *time.Duration, tls *string, seed *uint64, params, fit *string, asJSON, keep *bool, from *string, quiet *bool, grounded bool, raftWait string, simSeeds int, busyOneCore bool) error {
	explicit := map[string]bool{}
	fs.Visit(func(f *pflag.Flag) { explicit[f.Name] = true })
	if *set == calibrate.StormSetName {
		for name := range explicit {
			switch name {
			case "set", "from", "params", "json", "write-out", "quiet", "grounded", "raft-wait", "seeds", "busy-one-core":
			default:
				return usagef("calibrate: --%s cannot be combined with --set storm (the campaign fixes its runs; --from, --params, --grounded, --busy-one-core, --raft-wait, --seeds and -w json apply)", name)
			}
		}
		switch raftWait {
		case "", "preempt", "backlog", "measured":
		default:
			return usagef("calibrate: --raft-wait %q is not allowed; allowed: preempt, backlog, measured", raftWait)
		}
		model := calibrate.StormModel{Params: *params}
		if grounded {
			model = calibrate.GroundedStormModel
			if explicit["params"] {
				model.Params = *params
			}
		}
		model.RaftWait = raftWait
		if busyOneCore && !grounded {
			return usagef("calibrate: --busy-one-core applies to the grounded model only (add --grounded)")
		}
		model.BusyOneCore = busyOneCore
		if explicit["seeds"] {
			if simSeeds < 1 || simSeeds > sweep.MaxSeeds {
				return usagef("calibrate: --seeds %d is not allowed; allowed: 1 to %d", simSeeds, sweep.MaxSeeds)
			}
			model.Seeds = simSeeds
		}
		return cmdCalibrateStorm(ctx, stdout, stderr, *from, model, *asJSON, *quiet)
	}
	if grounded || raftWait != "" || explicit["seeds"] || busyOneCore {
		return usagef("calibrate: --grounded, --busy-one-core, --raft-wait and --seeds apply to --set storm only")
	}
	var runs []calibrate.Config
	var ms []calibrate.Measurement
	if *from != "" {
		if *set != "" || len(explicit) > 0 && !onlyPredictionFlags(explicit) {
			return usagef("calibrate: --from takes only --params, --fit and --json (the runs come from the file)")
		}
		var err error
		if ms, err = readMeasurements(*from); err != nil {
			return usagef("calibrate: --from: %v", err)
		}
		for _, m := range ms {
			runs = append(runs, m.Config)
		}
	} else if *set != "" {
		mk, ok := calibrate.Sets[*set]
		if !ok {
			return usagef("calibrate: --set %q: allowed %s", *set, strings.Join(calibrate.SetNames(), ", "))
		}
		for _, name := range []string{"clients", "ttl", "consumer", "placement", "start-spread", "warmup", "window"} {
			if explicit[name] {
				return usagef("calibrate: --%s cannot be combined with --set (a set fixes its runs)", name)
			}
		}
		runs = mk()
	} else {
		runs = []calibrate.Config{{Clients: *clients, TTL: *ttl, Consumer: *consumer, Placement: *placement,
			StartSpread: *spread, Warmup: *warmup, Window: *window}}
	}
	for i := range runs {
		runs[i].Idle, runs[i].TLS, runs[i].Seed = *idle, *tls, *seed
		runs[i].Defaults()
		if err := runs[i].Validate(); err != nil {
			return usagef("calibrate: %v", err)
		}
	}
	if *fit != "" && len(runs) < 2 {
		return usagef("calibrate: --fit needs several runs that mix direct and forwarded renewals; use --set full")
	}
	var out *atomicFile
	if *fit != "" {
		var err error
		if out, err = createAtomic("fit", *fit); err != nil {
			return err
		}
		defer out.abort()
	}
	if *params != "" {
		if _, err := spec.LoadParams(*params); err != nil {
			return usagef("calibrate: --params: %v", err)
		}
	}

	clk := clock.New()
	var bar *progress
	if *from == "" && !*quiet {
		bar = newProgress(stderr, len(runs), "calibrate", "runs")
	}
	for _, r := range runs {
		if *from != "" {
			break
		}
		m, err := calibrate.Measure(ctx, clk, r, *keep, stderr)
		bar.add(1)
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("calibrate: interrupted during %s; the cluster, the client process and the temporary directory are cleaned up", r.Name)
			}
			return fmt.Errorf("calibrate: %s: %w", r.Name, err)
		}
		ms = append(ms, m)
	}
	bar.finish()
	use := *params
	var fitted *calibrate.Fit
	if *fit != "" {
		f, err := calibrate.FitCosts(ms)
		if err != nil {
			return fmt.Errorf("calibrate: --fit: %w", err)
		}
		fitted = &f
		p, err := f.Params(ms, runs[0].Members, runs[0].TLS)
		if err != nil {
			return fmt.Errorf("calibrate: --fit: %w", err)
		}
		b, err := p.Marshal()
		if err != nil {
			return err
		}
		if err := out.commit(b); err != nil {
			return err
		}
		use = *fit
	}
	var cs []calibrate.Comparison
	for _, m := range ms {
		p, err := calibrate.Predict(ctx, m, use)
		if err != nil {
			return err
		}
		cs = append(cs, calibrate.Compare(m, p, use))
	}
	if *asJSON {
		b, err := json.MarshalIndent(struct {
			Runs []calibrate.Comparison `json:"runs"`
			Fit  *calibrate.Fit         `json:"fit,omitempty"`
		}{cs, fitted}, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n", b)
		return err
	}
	if len(cs) > 1 {
		if err := calibrate.WriteSummary(stdout, cs); err != nil {
			return err
		}
		fmt.Fprintln(stdout)
	}
	for i, c := range cs {
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		if err := c.WriteTable(stdout); err != nil {
			return err
		}
	}
	if fitted != nil {
		fmt.Fprintf(stdout, "\nfit (%d runs): idle %.4f cores, %s per direct renewal, %s per forwarded renewal, %s per new peer connection; "+
			"client scans %s late each; RMS residual %.4f cores; written to %s\n",
			fitted.Observations, fitted.IdleCores, fitted.Direct, fitted.Forwarded, fitted.Handshake, fitted.ScanOverrun, fitted.RMSCores, *fit)
	}
	return nil
}

// cmdCalibrateStorm runs (or, with from, reads) the storm campaign and
// prints it beside leasesim's; as JSON, the campaign itself (which --from
// reads back).
func cmdCalibrateStorm(ctx context.Context, stdout, stderr io.Writer, from string, model calibrate.StormModel, asJSON, quiet bool) error {
	if model.Params != "" {
		if _, err := spec.LoadParams(model.Params); err != nil {
			return usagef("calibrate: --params: %v", err)
		}
	}
	var set calibrate.StormSet
	if from != "" {
		b, err := os.ReadFile(from)
		if err != nil {
			return usagef("calibrate: --from: %v", err)
		}
		if err := json.Unmarshal(b, &set); err != nil || len(set.Conditions) == 0 {
			return usagef("calibrate: --from %s: not a storm campaign (want the output of leasesim calibrate --set storm -w json, or calibrate/testdata/storm-3.7.3.json)", from)
		}
	} else {
		progress := stderr
		if quiet {
			progress = io.Discard
		}
		var err error
		set, err = calibrate.RunStormCampaign(ctx, clock.New(), progress, func(calibrate.StormSet) error { return nil })
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("calibrate: storm campaign interrupted; the clusters, the client and background processes and the temporary directories are cleaned up")
			}
			return fmt.Errorf("calibrate: storm campaign: %w", err)
		}
	}
	if asJSON {
		b, err := json.MarshalIndent(set, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n", b)
		return err
	}
	pts, err := calibrate.ReplayStorm(ctx, set, model)
	if err != nil {
		return fmt.Errorf("calibrate: %w", err)
	}
	return calibrate.WriteStormTable(stdout, set, pts, model)
}

// onlyPredictionFlags reports whether the flags given are ones --from allows.
func onlyPredictionFlags(set map[string]bool) bool {
	for name := range set {
		switch name {
		case "from", "params", "fit", "json", "write-out", "quiet":
		default:
			return false
		}
	}
	return true
}

// readMeasurements reads the measured side of an earlier --json output.
func readMeasurements(path string) ([]calibrate.Measurement, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Runs []struct {
			Measured *calibrate.Measurement `json:"measured"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w (want the output of leasesim calibrate --json)", path, err)
	}
	var ms []calibrate.Measurement
	for i, r := range doc.Runs {
		if r.Measured == nil || r.Measured.Config.Clients == 0 {
			return nil, fmt.Errorf("%s: runs[%d] has no measurement (want the output of leasesim calibrate --json)", path, i)
		}
		ms = append(ms, *r.Measured)
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("%s: no runs (want the output of leasesim calibrate --json)", path)
	}
	return ms, nil
}
