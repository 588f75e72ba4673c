package main

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/leasesim/leasesim/outfile"
	"github.com/leasesim/leasesim/spec"
	"github.com/leasesim/leasesim/sweep"
)

const sweepLong = `Runs the scenario at every point of a grid of flag values (the flags of
'leasesim run', e.g. clients, ttl, client-version, members, cores, transport,
tls), each a deterministic run with the scenario's seed, in parallel over -j
workers, and writes one row per point: the varied values, renewals/s (last 10 %
of the run), leader CPU peak, leases expired, keys lost, peak new connections/s,
peak handshakes/s, peak queue memory, peak TIME-WAIT, peak dial errors/s, and a
verdict: ok when no lease expired and the leader CPU peak stayed under
--cpu-target.

--knee instead searches, for every configuration of the grid (which must not
vary clients), the client counts the cluster carries. Each probed count runs
with --seeds seeds (the scenario's seed S and the ones after it, S+1, ...,
as 'leasesim run --seeds'),
for the horizon where the fleet's behaviour shows: until every lease has
settled (a pre-fix client that never reads: its last start plus 16 renewal
intervals, when its 16-slot channel is full and it renews every 500 ms; a
fixed client: the last start plus one TTL), plus --knee-margin (default 2 x
TTL, at least 30 s). A count is pass (every seed ok), fail (every seed
failed) or metastable. The search bisects on "any seed fails", then probes 4
counts above and below the boundary (2, 4, 8, 16 x --knee-tolerance away) and,
if the outcome is not a step, midpoints inside the band. It reports the knee
(the largest count below the lowest failing one with every seed ok), the
headroom at --at clients, the first resource to saturate (leader CPU on
renewals or on TLS handshakes, queue memory, ephemeral ports, handshake
timeouts, revoke rate ...), the lowest count with a failing seed, the highest
with an ok seed, the metastable band between them when they overlap, and every
probed count's fail fraction. The output does not depend on -j. Its progress
total is an estimate (the search is adaptive).

--shard i/n runs the points whose index is i modulo n (0 <= i < n), so n
machines can share a sweep; 'leasesim merge' combines their outputs.
Ctrl-C stops: the finished rows are written, marked incomplete.`

const sweepExample = `  leasesim sweep --scenario incident-2018 --duration 3m \
      --grid clients=5000,10000,20000,40000 --grid client-version=v3.2.23,v3.7.3 --out sweep.csv
  leasesim sweep --scenario incident-2018 --knee \
      --grid client-version=v3.2.23,v3.7.3 --at 20000 --out knee.json
  leasesim sweep --scenario incident-2018-ttl600 --knee --seeds 5 --knee-margin 5m --out knee600.json
  leasesim sweep --scenario incident-2018 --knee --grid client-version=v3.2.23,v3.7.3 --set fidelity=fast   # a quick screen (~40 s): its knees err ~20 % low, confirm them exact
  leasesim sweep --scenario incident-2018 --grid clients=5000,10000 --shard 0/2 -w json --out part0.json
  leasesim sweep --scenario calibration-500 --duration 1m --grid clients=100,300,600 -w table`

// cliApply is the ApplyFunc for sweeps and knee searches: the run command's flags.
func cliApply(s *spec.Spec, name, v string) error {
	if fieldOf(name) == "" {
		return usagef("--%s is not a scenario flag; flags: %s", name, overrideFlags())
	}
	return applyFlag(s, name, v)
}

// parseCPUTarget reads 70, 70% or 0.7.
func parseCPUTarget(v string) (float64, error) {
	f, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), "%"), 64)
	if err != nil || !(f > 0 && f <= 100) { // !(...): NaN is refused too
		return 0, usagef("--cpu-target: %q is not a percentage in (0, 100] (e.g. 70)", v)
	}
	if f > 1 || strings.HasSuffix(v, "%") {
		f /= 100
	}
	return f, nil
}

// baseFromFlags loads --scenario and applies every --set FLAG=VALUE (and
// --duration) to it, as 'leasesim run' would; it returns the flags applied,
// for what-ifs.
func baseFromFlags(cmd, name string, sets []string, duration string) (spec.Spec, map[string]string, error) {
	set := map[string]string{}
	for _, s := range sets {
		k, v, ok := strings.Cut(s, "=")
		k = strings.TrimLeft(k, "-")
		if !ok || fieldOf(k) == "" {
			return spec.Spec{}, nil, usagef("--set: %q must be FLAG=VALUE naming a scenario flag; flags: %s", s, overrideFlags())
		}
		set[k] = v
	}
	if duration != "" {
		set["duration"] = duration
	}
	sc, err := specFor(name, set)
	if err != nil {
		return spec.Spec{}, nil, usagef("%s: %v", cmd, err)
	}
	return sc, set, nil
}

// atomicFile is one output written through an outfile.Set: to a temporary
// file beside its target, renamed into place on commit (a device, a FIFO or
// a symlink's target is written as such), so a failed, refused or
// interrupted command writes nothing.
type atomicFile struct {
	flag  string
	files *outfile.Set
	f     *outfile.File
}

func createAtomic(flagName, path string) (*atomicFile, error) {
	files := outfile.New(os.Stdout)
	f, err := files.Create(path)
	if err != nil {
		return nil, usagef("--%s: %v", flagName, err)
	}
	return &atomicFile{flag: flagName, files: files, f: f}, nil
}

func (a *atomicFile) commit(data []byte) error {
	if _, err := a.f.Write(data); err != nil {
		a.files.Abort()
		return fmt.Errorf("--%s: %w", a.flag, err)
	}
	if err := a.files.Commit(); err != nil {
		return fmt.Errorf("--%s: %w", a.flag, err)
	}
	return nil
}

func (a *atomicFile) abort() {
	if a != nil {
		a.files.Abort() // a no-op after commit
	}
}

// outFormat is "json" or "csv" from --out's extension and --json.
func outFormat(out string, jsonFlag bool) (string, error) {
	switch ext := strings.ToLower(filepath.Ext(out)); {
	case out == "":
		if jsonFlag {
			return "json", nil
		}
		return "csv", nil
	case ext == ".json":
		return "json", nil
	case ext == ".csv":
		if jsonFlag {
			return "", usagef("--json with --out %s: the file's extension says CSV", out)
		}
		return "csv", nil
	default:
		if jsonFlag {
			return "json", nil
		}
		return "", usagef("--out: %q must end in .csv or .json (or give --json)", out)
	}
}

func encodeResult(r sweep.Result, format string) ([]byte, error) {
	var b bytes.Buffer
	var err error
	switch format {
	case "json":
		err = r.WriteJSON(&b)
	case "table":
		err = r.WriteCSV(&b)
		if err == nil {
			return csvTable(b.Bytes())
		}
	default:
		err = r.WriteCSV(&b)
	}
	return b.Bytes(), err
}

// parseMargin reads --knee-margin: "auto" (0: sweep.DefaultMargin) or a
// positive Go duration.
func parseMargin(v string) (time.Duration, error) {
	if v == "auto" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 || d > spec.MaxDuration {
		return 0, usagef("--knee-margin: %q is not auto or a duration in (0, %v] (e.g. 30s, 20m)", v, spec.MaxDuration)
	}
	return d, nil
}

// sweepOpts are the sweep command's flags.
type sweepOpts struct {
	scenario, duration, shard, out, cpu string
	grids, sets                         []string
	wo                                  writeOut
	margin                              string
	knee, quiet, force                  bool
	at, kneeMax, workers, seeds         int
	tol                                 float64
}

func newSweepCmd(stdout, stderr io.Writer) *cobra.Command {
	o := &sweepOpts{}
	cmd := &cobra.Command{
		Use:     "sweep --scenario NAME|FILE --grid FLAG=V1,V2,... [flags]",
		Short:   "Run a grid of scenarios in parallel, or --knee: the largest client count that holds",
		Long:    sweepLong,
		Example: sweepExample,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmdSweep(cmd, o, stdout, stderr)
		},
	}
	fs := cmd.Flags()
	fs.SortFlags = false
	fs.StringVar(&o.scenario, "scenario", "", "built-in scenario name or YAML FILE (required)")
	fs.StringArrayVar(&o.grids, "grid", nil, "FLAG=V1,V2,...: vary a scenario flag over these values (repeatable; axes multiply)")
	fs.StringArrayVar(&o.sets, "set", nil, "FLAG=VALUE: override a scenario flag for every run (repeatable)")
	fs.StringVar(&o.duration, "duration", "", "override every run's virtual duration (not with --knee: see --knee-margin)")
	fs.StringVar(&o.shard, "shard", "", "i/n: run only the grid points whose index is i modulo n")
	fs.StringVar(&o.out, "out", "", "write the results to FILE (.csv or .json); default stdout")
	addWriteOut(fs, &o.wo, "csv", "csv", "json", "table")
	fs.BoolVar(&o.knee, "knee", false, "search the largest ok client count for each configuration of the grid")
	fs.StringVar(&o.cpu, "cpu-target", "70", "leader CPU peak (percent of its cores) a run must stay under to be ok")
	fs.IntVar(&o.at, "at", 0, "knee: report the headroom at this many clients (default: the scenario's count)")
	fs.IntVar(&o.kneeMax, "knee-max", 1_000_000, "knee: largest client count to try")
	fs.Float64Var(&o.tol, "knee-tolerance", 0.02, "knee: relative precision of the result")
	fs.IntVar(&o.seeds, "seeds", sweep.DefaultSeeds, fmt.Sprintf("knee: seeds per probed client count (1 to %d)", sweep.MaxSeeds))
	fs.StringVar(&o.margin, "knee-margin", "auto", "knee: how long each probe runs past the time every lease has settled (auto: 2 x TTL, at least 30s)")
	fs.IntVarP(&o.workers, "jobs", "j", 0, "parallel runs (default: GOMAXPROCS, all cores)")
	fs.BoolVarP(&o.quiet, "quiet", "q", false, "no progress display on stderr")
	fs.BoolVar(&o.force, "force", false, "run even if the resource estimate says the parallel runs will not fit in this machine's memory")
	return cmd
}

// resultFormat is the sweep's output format from -w/--json and --out's extension.
func resultFormat(fs *pflag.FlagSet, wo *writeOut, out string) (string, error) {
	f, err := wo.resolve(fs)
	if err != nil {
		return "", err
	}
	explicit := fs.Changed("write-out") || wo.json
	if f == "table" {
		if out != "" {
			return "", usagef("-w table prints to the terminal; --out takes .csv or .json")
		}
		return "table", nil
	}
	if explicit && f == "csv" && strings.EqualFold(filepath.Ext(out), ".json") {
		return "", usagef("-w csv with --out %s: the file's extension says JSON", out)
	}
	return outFormat(out, explicit && f == "json")
}

func cmdSweep(cmd *cobra.Command, o *sweepOpts, stdout, stderr io.Writer) error {
	if o.scenario == "" {
		return usagef("sweep: --scenario is required (see 'leasesim sweep --help')")
	}
	cpu, err := parseCPUTarget(o.cpu)
	if err != nil {
		return err
	}
	var shard sweep.Shard
	if o.shard != "" {
		if shard, err = sweep.ParseShard(o.shard); err != nil {
			return usagef("--shard: %v", err)
		}
	}
	if o.workers < 0 {
		return usagef("-j: %d is not a number of workers", o.workers)
	}
	if o.at < 0 || o.kneeMax < 1 || o.tol <= 0 || o.tol >= 1 {
		return usagef("--at, --knee-max, --knee-tolerance: need --at >= 0, --knee-max >= 1, 0 < --knee-tolerance < 1")
	}
	if o.seeds < 1 || o.seeds > sweep.MaxSeeds {
		return usagef("--seeds: %d is not a number of seeds; allowed 1 to %d", o.seeds, sweep.MaxSeeds)
	}
	margin, err := parseMargin(o.margin)
	if err != nil {
		return err
	}
	if !o.knee && (o.at != 0 || o.kneeMax != 1_000_000 || o.tol != 0.02 || o.seeds != sweep.DefaultSeeds || margin != 0) {
		return usagef("--at, --knee-max, --knee-tolerance, --seeds and --knee-margin need --knee")
	}
	if o.knee && o.duration != "" {
		return usagef("--duration with --knee: a knee probe runs until every lease has settled, plus --knee-margin; lengthen it with --knee-margin")
	}
	format, err := resultFormat(cmd.Flags(), &o.wo, o.out)
	if err != nil {
		return err
	}
	base, _, err := baseFromFlags("sweep", o.scenario, o.sets, o.duration)
	if err != nil {
		return err
	}
	var grid sweep.Grid
	for _, g := range o.grids {
		a, err := sweep.ParseAxis(g)
		if err != nil {
			return usagef("--grid: %v", err)
		}
		if fieldOf(a.Flag) == "" {
			return usagef("--grid: %s is not a scenario flag; flags: %s", a.Flag, overrideFlags())
		}
		grid = append(grid, a)
	}
	if err := grid.Validate(base, cliApply); err != nil {
		if _, ok := errors.AsType[usageError](err); ok {
			return fmt.Errorf("--grid: %w", err)
		}
		return usagef("%s", flagHints(err.Error()))
	}
	if o.knee {
		for _, a := range grid {
			if a.Flag == "clients" {
				return usagef("--grid clients=...: --knee searches the client count itself; vary other flags")
			}
		}
		if base.IsIdeal() {
			return usagef("--knee needs a cluster scenario (server: cluster): the idealised server has no leader CPU")
		}
		if _, ok := sweep.SeedsFor(base.Seed, o.seeds); !ok {
			return usagef("--seeds %d: the seeds from %d on pass 2^64-1; give a smaller --seed", o.seeds, base.Seed)
		}
		n := o.at
		if n == 0 {
			n = base.Clients.Count
		}
		if n > o.kneeMax {
			return usagef("--at %d is above --knee-max %d", n, o.kneeMax)
		}
	}
	var file *atomicFile
	if o.out != "" {
		if file, err = createAtomic("out", o.out); err != nil {
			return err
		}
		defer file.abort()
	}

	ctx := cmd.Context()
	cfg := sweep.Config{Base: base, Grid: grid, Apply: cliApply, Shard: shard, Workers: o.workers, CPUTarget: cpu}
	var points []spec.Spec
	for _, i := range cfg.Indexes() {
		if sp, err := cfg.Spec(i); err == nil {
			if o.knee {
				h, err := sweep.Horizon(sp, margin)
				if err != nil {
					return usagef("--knee: %v", err)
				}
				sp.Duration = spec.Duration(h)
			}
			points = append(points, sp)
		}
	}
	workers := o.workers
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	parallel, hint := min(workers, len(points)), "-j 1, fewer clients, a shorter --duration or --set fidelity=fast (cohorts: an approximation, see the README)"
	if o.knee {
		parallel, hint = workers, "-j 1, a lower --at, a shorter --knee-margin or --set fidelity=fast (cohorts: an approximation, see the README)" // seeds and configurations side by side
	}
	if err := checkMemory(points, parallel, o.force, hint); err != nil {
		return err
	}
	var res sweep.Result
	var runErr error
	var bar *progress
	if o.knee {
		kc := sweep.KneeConfig{Config: cfg, At: o.at, Max: o.kneeMax, Tolerance: o.tol, Seeds: o.seeds, Margin: margin}
		if !o.quiet {
			bar = newProgress(stderr, kc.EstimatedProbes(), fmt.Sprintf("knee (%d configurations)", len(cfg.Indexes())), "probes")
			kc.Progress = func(done, total int) { bar.setTotal(total); bar.add(1) }
		}
		res, runErr = sweep.Knees(ctx, kc)
	} else {
		if !o.quiet {
			bar = newProgress(stderr, len(cfg.Indexes()), "sweep", "points")
			cfg.Progress = func(done, total int) { bar.add(1) }
		}
		res, runErr = sweep.Run(ctx, cfg)
	}
	bar.finish()
	if runErr != nil && !errors.Is(runErr, sweep.ErrInterrupted) {
		return runErr
	}
	data, err := encodeResult(res, format)
	if err != nil {
		return err
	}
	if file != nil {
		if err := file.commit(data); err != nil {
			return err
		}
	} else if _, err := stdout.Write(data); err != nil {
		return err
	}
	if runErr != nil {
		where := "stdout"
		if o.out != "" {
			where = o.out
		}
		return interrupted(fmt.Sprintf("%v; the finished rows are in %s, marked incomplete", runErr, where))
	}
	if n := res.Failed(); n > 0 {
		return fmt.Errorf("%d grid point(s) could not run: their rows say verdict %q and why", n, sweep.VerdictError)
	}
	return nil
}

func newMergeCmd(stdout, stderr io.Writer) *cobra.Command {
	var out string
	var wo writeOut
	var partial bool
	cmd := &cobra.Command{
		Use:   "merge FILE... [--out FILE.csv|FILE.json] [-w csv|json] [--allow-partial]",
		Short: "Combine the outputs of sharded sweeps (--shard i/n)",
		Long: `Combines the outputs of 'leasesim sweep --shard i/n' (or any outputs of the same
sweep) into one, ordered by grid index: the same rows, byte for byte, as the
unsharded sweep. The parts must come from the same scenario, seed, CPU target
and grid; a point in several parts must have the same result. A merge of JSON
parts that lacks grid points is an error naming them, unless --allow-partial.
Knee results merge from JSON only.`,
		Example: `  leasesim merge part-*.json --out sweep.json
  leasesim merge part-0.csv part-1.csv --out sweep.csv`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmdMerge(cmd, args, out, &wo, partial, stdout, stderr)
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "write the merged result to FILE (.csv or .json); default stdout")
	addWriteOut(cmd.Flags(), &wo, "csv", "csv", "json")
	cmd.Flags().BoolVar(&partial, "allow-partial", false, "merge JSON parts even if grid points are missing")
	return cmd
}

func cmdMerge(cmd *cobra.Command, files []string, out string, wo *writeOut, partial bool, stdout, stderr io.Writer) error {
	if len(files) == 0 {
		return usagef("merge: no input files (see 'leasesim merge --help')")
	}
	format, err := resultFormat(cmd.Flags(), wo, out)
	if err != nil {
		return err
	}
	var parts []sweep.Result
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return usagef("merge: %v", err)
		}
		r, err := sweep.Read(data)
		if err != nil {
			return usagef("merge: %s: %v", f, err)
		}
		parts = append(parts, r)
	}
	m, err := sweep.Merge(parts...)
	if err != nil {
		return usagef("merge: %v", err)
	}
	if miss := m.Missing(); len(miss) > 0 && !partial {
		return usagef("merge: %d of %d grid points are missing (indexes %s); give every shard's output, or --allow-partial", len(miss), m.GridSize, intList(miss, 20))
	}
	if m.GridSize == 0 {
		fmt.Fprintln(stderr, "leasesim merge: CSV parts do not record the grid's size: completeness not checked (merge the JSON outputs to check it)")
	}
	data, err := encodeResult(m, format)
	if err != nil {
		return err
	}
	if out == "" {
		_, err = stdout.Write(data)
		return err
	}
	f, err := createAtomic("out", out)
	if err != nil {
		return err
	}
	defer f.abort()
	return f.commit(data)
}

// csvTable lays CSV out as aligned columns for a terminal; its comment
// lines (errors of points, the trailer) follow the table as they are.
func csvTable(data []byte) ([]byte, error) {
	var body, comments bytes.Buffer
	for _, line := range strings.SplitAfter(string(data), "\n") {
		if strings.HasPrefix(line, "#") {
			comments.WriteString(line)
		} else {
			body.WriteString(line)
		}
	}
	recs, err := csv.NewReader(&body).ReadAll()
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, r := range recs {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	err = tw.Flush()
	b.Write(comments.Bytes())
	return b.Bytes(), err
}

func intList(v []int, maxN int) string {
	var s []string
	for i, x := range v {
		if i == maxN {
			s = append(s, "...")
			break
		}
		s = append(s, strconv.Itoa(x))
	}
	return strings.Join(s, ", ")
}
