package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/leasesim/leasesim/spec"
	"github.com/leasesim/leasesim/sweep"
)

const sweepUsage = `Usage: leasesim sweep --scenario NAME|FILE --grid FLAG=V1,V2,... [flags]

Runs the scenario at every point of a grid of flag values (the flags of
'leasesim run', e.g. clients, ttl, client-version, members, cores, transport,
tls), each a deterministic run with the scenario's seed, in parallel over -j
workers, and writes one row per point: the varied values, renewals/s (last 10 %
of the run), leader CPU peak, leases expired, keys lost, peak new connections/s,
peak handshakes/s, peak queue memory, peak TIME-WAIT, peak dial errors/s, and a
verdict: ok when no lease expired and the leader CPU peak stayed under
--cpu-target.

--knee instead searches, for every configuration of the grid (which must not
vary clients), the largest client count that is ok, by bisection; it reports
the headroom at --at clients and the first resource to saturate (leader CPU on
renewals or on TLS handshakes, queue memory, ephemeral ports, handshake
timeouts, revoke rate ...). Keep probes short with --duration.

--shard i/n runs the points whose index is i modulo n (0 <= i < n), so n
machines can share a sweep; 'leasesim merge' combines their outputs.
Ctrl-C stops: the finished rows are written, marked incomplete.

Examples:
  leasesim sweep --scenario incident-2018 --duration 3m \
      --grid clients=5000,10000,20000,40000 --grid client-version=v3.2.23,v3.7.3 --out sweep.csv
  leasesim sweep --scenario incident-2018 --duration 3m --knee \
      --grid client-version=v3.2.23,v3.7.3 --at 20000 --out knee.json
  leasesim sweep --scenario incident-2018 --grid clients=5000,10000 --shard 0/2 --json --out part0.json

Flags:
`

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
	if err != nil || f <= 0 || f > 100 {
		return 0, usagef("--cpu-target: %q is not a percentage in (0, 100] (e.g. 70)", v)
	}
	if f > 1 || strings.HasSuffix(v, "%") {
		f /= 100
	}
	return f, nil
}

// baseFromFlags loads --scenario and applies every --set FLAG=VALUE (and
// --duration) to it, as 'leasesim run' would.
func baseFromFlags(cmd, name string, sets []string, duration string) (spec.Spec, []string, error) {
	var args []string
	if name != "" {
		args = append(args, "--scenario", name)
	}
	for _, s := range sets {
		k, v, ok := strings.Cut(s, "=")
		k = strings.TrimLeft(k, "-")
		if !ok || fieldOf(k) == "" {
			return spec.Spec{}, nil, usagef("--set: %q must be FLAG=VALUE naming a scenario flag; flags: %s", s, overrideFlags())
		}
		args = append(args, "--"+k+"="+v)
	}
	if duration != "" {
		args = append(args, "--duration="+duration)
	}
	rf, err := parseRun(args, io.Discard)
	if err != nil {
		return spec.Spec{}, nil, usagef("%s: %v", cmd, strings.TrimPrefix(err.Error(), "run: "))
	}
	return rf.spec, args, nil
}

// atomicFile is an output written to a temporary file in its directory and
// renamed into place on commit, so a failed or refused command writes nothing.
type atomicFile struct {
	path, flag string
	tmp        *os.File
}

func createAtomic(flagName, path string) (*atomicFile, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return nil, usagef("--%s: %s is a directory", flagName, path)
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".leasesim-"+flagName+"-*")
	if err != nil {
		return nil, usagef("--%s: cannot write in %s: %v", flagName, filepath.Dir(path), err)
	}
	f.Chmod(0o644) // CreateTemp makes 0600; outputs are for sharing
	return &atomicFile{path: path, flag: flagName, tmp: f}, nil
}

func (a *atomicFile) commit(data []byte) error {
	if _, err := a.tmp.Write(data); err != nil {
		return fmt.Errorf("--%s: %w", a.flag, err)
	}
	if err := a.tmp.Close(); err != nil {
		return fmt.Errorf("--%s: %w", a.flag, err)
	}
	if err := os.Rename(a.tmp.Name(), a.path); err != nil {
		return fmt.Errorf("--%s: %w", a.flag, err)
	}
	return nil
}

func (a *atomicFile) abort() {
	if a != nil {
		a.tmp.Close()
		os.Remove(a.tmp.Name()) // a no-op after commit
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
	if format == "json" {
		err = r.WriteJSON(&b)
	} else {
		err = r.WriteCSV(&b)
	}
	return b.Bytes(), err
}

// progress prints one updating line on stderr.
type progress struct {
	w     io.Writer
	start time.Time
	mu    sync.Mutex
	wrote bool
}

func (p *progress) update(format string, a ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "\r%s  %s elapsed   ", fmt.Sprintf(format, a...), time.Since(p.start).Round(time.Second))
	p.wrote = true
}

func (p *progress) done() {
	if p.wrote {
		fmt.Fprintln(p.w)
	}
}

func cmdSweep(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sweep", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var grids, sets multiFlag
	scen := fs.String("scenario", "", "built-in scenario name or YAML `FILE` (required)")
	fs.Var(&grids, "grid", "`FLAG=V1,V2,...`: vary a scenario flag over these values (repeatable; axes multiply)")
	fs.Var(&sets, "set", "`FLAG=VALUE`: override a scenario flag for every run (repeatable)")
	duration := fs.String("duration", "", "override every run's virtual duration (e.g. 3m: short knee probes)")
	shardS := fs.String("shard", "", "`i/n`: run only the grid points whose index is i modulo n")
	out := fs.String("out", "", "write the results to `FILE` (.csv or .json); default stdout")
	jsonOut := fs.Bool("json", false, "JSON instead of CSV")
	knee := fs.Bool("knee", false, "search the largest ok client count for each configuration of the grid")
	cpuS := fs.String("cpu-target", "70", "leader CPU peak (percent of its cores) a run must stay under to be ok")
	at := fs.Int("at", 0, "knee: report the headroom at this many clients (default: the scenario's count)")
	kneeMax := fs.Int("knee-max", 1_000_000, "knee: largest client count to try")
	tol := fs.Float64("knee-tolerance", 0.02, "knee: relative precision of the result")
	workers := fs.Int("j", 0, "parallel runs (default: GOMAXPROCS, all cores)")
	quiet := fs.Bool("quiet", false, "no progress line on stderr")
	trailer := fmt.Sprintf("\nScenario flags for --grid and --set: %s\n", overrideFlags())
	if err := parseFlags(fs, "sweep", sweepUsage, trailer, args, stderr); err != nil {
		return err
	}
	if *scen == "" {
		return usagef("sweep: --scenario is required (see 'leasesim sweep --help')")
	}
	cpu, err := parseCPUTarget(*cpuS)
	if err != nil {
		return err
	}
	var shard sweep.Shard
	if *shardS != "" {
		if shard, err = sweep.ParseShard(*shardS); err != nil {
			return usagef("--shard: %v", err)
		}
	}
	if *workers < 0 {
		return usagef("-j: %d is not a number of workers", *workers)
	}
	if *at < 0 || *kneeMax < 1 || *tol <= 0 || *tol >= 1 {
		return usagef("--at, --knee-max, --knee-tolerance: need --at >= 0, --knee-max >= 1, 0 < --knee-tolerance < 1")
	}
	if !*knee && (*at != 0 || *kneeMax != 1_000_000 || *tol != 0.02) {
		return usagef("--at, --knee-max and --knee-tolerance need --knee")
	}
	format, err := outFormat(*out, *jsonOut)
	if err != nil {
		return err
	}
	base, _, err := baseFromFlags("sweep", *scen, sets, *duration)
	if err != nil {
		return err
	}
	var grid sweep.Grid
	for _, g := range grids {
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
	if *knee {
		for _, a := range grid {
			if a.Flag == "clients" {
				return usagef("--grid clients=...: --knee searches the client count itself; vary other flags")
			}
		}
		if base.IsIdeal() {
			return usagef("--knee needs a cluster scenario (server: cluster): the idealised server has no leader CPU")
		}
		n := *at
		if n == 0 {
			n = base.Clients.Count
		}
		if n > *kneeMax {
			return usagef("--at %d is above --knee-max %d", n, *kneeMax)
		}
	}
	var file *atomicFile
	if *out != "" {
		if file, err = createAtomic("out", *out); err != nil {
			return err
		}
		defer file.abort()
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	pr := &progress{w: stderr, start: time.Now()}
	if *quiet {
		pr.w = io.Discard
	}
	cfg := sweep.Config{Base: base, Grid: grid, Apply: cliApply, Shard: shard, Workers: *workers, CPUTarget: cpu}
	var res sweep.Result
	var runErr error
	if *knee {
		n := len(cfg.Indexes())
		cfg.Progress = func(probes, _ int) { pr.update("knee: %d configurations, %d runs so far", n, probes) }
		res, runErr = sweep.Knees(ctx, sweep.KneeConfig{Config: cfg, At: *at, Max: *kneeMax, Tolerance: *tol})
	} else {
		cfg.Progress = func(done, total int) {
			pr.update("sweep: %d/%d points (%.0f%%)", done, total, 100*float64(done)/float64(total))
		}
		res, runErr = sweep.Run(ctx, cfg)
	}
	pr.done()
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
		if *out != "" {
			where = *out
		}
		return fmt.Errorf("%w; the finished rows are in %s, marked incomplete", runErr, where)
	}
	return nil
}

const mergeUsage = `Usage: leasesim merge FILE... [--out FILE.csv|FILE.json] [--json] [--allow-partial]

Combines the outputs of 'leasesim sweep --shard i/n' (or any outputs of the same
sweep) into one, ordered by grid index: the same rows, byte for byte, as the
unsharded sweep. The parts must come from the same scenario, seed, CPU target
and grid; a point in several parts must have the same result. A merge of JSON
parts that lacks grid points is an error naming them, unless --allow-partial.
Knee results merge from JSON only.

Examples:
  leasesim merge part-*.json --out sweep.json
  leasesim merge part-0.csv part-1.csv --out sweep.csv
`

func cmdMerge(args []string, stdout, stderr io.Writer) error {
	var files []string
	var out string
	var jsonOut, partial bool
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || a == "-" {
			files = append(files, a)
			continue
		}
		switch name {
		case "h", "help":
			fmt.Fprint(stderr, mergeUsage)
			return errHelp
		case "out":
			if !hasVal {
				if i+1 >= len(args) {
					return usagef("merge: --out needs a FILE")
				}
				i++
				val = args[i]
			}
			out = val
		case "json", "allow-partial":
			b := true
			if hasVal {
				var err error
				if b, err = strconv.ParseBool(val); err != nil {
					return usagef("merge: --%s: %q is not true or false", name, val)
				}
			}
			if name == "json" {
				jsonOut = b
			} else {
				partial = b
			}
		default:
			return usagef("merge: unknown flag %s (see 'leasesim merge --help')", a)
		}
	}
	if len(files) == 0 {
		return usagef("merge: no input files (see 'leasesim merge --help')")
	}
	format, err := outFormat(out, jsonOut)
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
