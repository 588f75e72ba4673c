package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/leasesim/leasesim/clientmodel"
	"github.com/leasesim/leasesim/recorder"
	"github.com/leasesim/leasesim/scenario"
	"github.com/leasesim/leasesim/spec"
)

var errHelp = errors.New("help shown")

const runUsage = `Usage: leasesim run [--scenario NAME|FILE] [flags]

Simulates clients, each holding one lease kept alive with clientv3's KeepAlive,
and prints what happened: renewals per second, renew-interval percentiles,
dropped responses, lease expirations and keys lost — and, against a modelled
etcd cluster, leader CPU, forwarded renewals, peer connections by TCP state,
TLS handshakes and queue memory.

--scenario takes a built-in scenario (see 'leasesim scenarios') or a YAML file;
flags given on the command line override its fields. Without --scenario, the
flags describe clients against an idealised server (fixed round trip, no
capacity limit), or a cluster with --server cluster.
--what-if FLAG=VALUE reruns with one flag changed and prints the runs side by
side (repeatable).

Examples:
  # The 2018 incident end to end: 7 members, 20,000 agents on v3.2.23, TTL 10 s
  leasesim run --scenario incident-2018

  # ... and what the fixed client, HTTP/2 peers or ECDSA certificates change
  leasesim run --scenario incident-2018 --what-if client-version=v3.7.3 --what-if transport=http2

  # The client alone: the collapse to 500 ms renewals after ~53 min at TTL 600 s
  leasesim run --clients 20000 --ttl 600s --client-version v3.2.23 --consumer never --duration 2h

  # Your own scenario file, as JSON, with metrics as CSV and a full event trace
  leasesim run --scenario my.yaml --json --csv out/ --trace out/trace.jsonl

Consumers (--consumer): drain | never | rate:N (reads N responses per second) |
  stop-after:K (reads K responses, then stops) | stall:FROM-TO (stops reading
  between FROM and TO after its KeepAlive, e.g. stall:10m-20m)

Flags (each overrides the scenario field named in brackets):
`

// overrides and fieldOf: see spec.Overrides.
var overrides = spec.Overrides

func fieldOf(flagName string) string { return spec.FieldOf(flagName) }

func cmdScenarios(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSERVER\tWHAT")
	for _, s := range spec.Builtins() {
		d := strings.Join(strings.Fields(s.Description), " ")
		if i := strings.Index(d, ". "); i > 0 {
			d = d[:i+1]
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Name, s.Server, d)
	}
	fmt.Fprintln(tw, "\nRun one with: leasesim run --scenario NAME   (see its whole file: leasesim scenarios --show NAME)")
	return tw.Flush()
}

func cmdShow(name string, w io.Writer) error {
	src, err := spec.BuiltinSource(name)
	if err != nil {
		return usagef("scenarios --show: %v", err)
	}
	_, err = w.Write(src)
	return err
}

func cmdVersions(w io.Writer) error {
	fmt.Fprint(w, "Client versions leasesim models (pre-fix: nextKeepAlive advances only when the response fits in the channel):\n")
	fmt.Fprint(w, clientmodel.KnownVersions())
	return nil
}

// runFlags is one parse of the run command's flags.
type runFlags struct {
	spec    spec.Spec
	jsonOut bool
	trace   string
	csvDir  string
	whatIfs []string
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// baseSpec is the scenario when no --scenario is given: the flags' defaults.
func baseSpec() spec.Spec {
	return spec.Spec{
		Name: "", Seed: 1, Duration: spec.Duration(10 * time.Minute), Server: spec.ServerIdeal,
		Clients: spec.ClientsSpec{Count: 1000, TTL: spec.Duration(10 * time.Second), Version: "v3.7.3", Consumer: "drain"},
	}
}

func parseRun(args []string, stderr io.Writer) (runFlags, error) {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var rf runFlags
	var name string
	str := map[string]*string{}
	for _, f := range []struct{ name, def, help string }{
		{"scenario", "", "built-in scenario name or YAML `FILE`"},
		{"clients", "1000", "number of clients, one lease each"},
		{"ttl", "10s", "lease TTL (whole seconds)"},
		{"client-version", "v3.7.3", "clientv3 release, e.g. v3.2.23 (pre-fix) or v3.7.3; see 'leasesim versions'"},
		{"consumer", "drain", "how the application reads the KeepAlive channel (see above)"},
		{"duration", "10m", "virtual time to simulate"},
		{"seed", "1", "root random seed"},
		{"rtt", "1ms", "client <-> server round-trip time"},
		{"connect-delay", "100us", "time from KeepAlive to its stream's first scan (> 0 on a real clock: the first keepalive goes out at once)"},
		{"scan-overrun", "0s", "how late each 500 ms keepalive scan fires after the previous one on a real machine (calibrate measures it; 0 = exact grid)"},
		{"start-spread", "0s", "clients call KeepAlive at uniform random times in [0, this) (1 ms grain); 0 = all at once"},
		{"placement", "round-robin", "cluster: which members the clients use: round-robin | leader | followers | member:N"},
		{"renew-at", "1/3", "what-if: renew each lease at this fraction of its TTL after a response (every real client: 1/3; try 2/3)"},
		{"bucket", "1s", "metrics time-series bucket"},
		{"max-events", "2000000000", "stop with an error after this many events (0: no limit)"},
		{"server", "ideal", "ideal (fixed RTT, no capacity limit) | cluster (a modelled etcd cluster)"},
		{"members", "3", "cluster: members"},
		{"cores", "4", "cluster: CPU cores per member"},
		{"leader", "0", "cluster: initial leader"},
		{"transport", "http1", "cluster: peer transport for forwarded renewals: http1 | http2"},
		{"tls", "rsa", "cluster: peer TLS: rsa | ecdsa | off"},
		{"tls-resumption", "false", "cluster: resume TLS sessions (etcd does not)"},
		{"leader-queue-limit", "0", "cluster: bound the leader's queue to this many requests and shed the rest (0 = unbounded, as etcd)"},
		{"max-idle-conns", "1024", "cluster: idle peer connections kept per member pair (etcd: 1024)"},
		{"peer-rtt", "500us", "cluster: member <-> member round-trip time"},
		{"params", "", "cluster: CPU cost parameters ('leasesim calibrate --fit'): built-in `NAME` (" +
			strings.Join(spec.BuiltinParams(), ", ") + ") or YAML FILE; costs: in the scenario still override them"},
	} {
		help := f.help
		if field := fieldOf(f.name); field != "" {
			help += " [" + field + "]"
		}
		str[f.name] = fs.String(f.name, f.def, help)
	}
	fs.BoolVar(&rf.jsonOut, "json", false, "print a JSON summary instead of text")
	fs.StringVar(&rf.trace, "trace", "", "write every event as a JSON line to `FILE`")
	fs.StringVar(&rf.csvDir, "csv", "", "write the metrics time series as CSV files into `DIR`")
	fs.Var((*multiFlag)(&rf.whatIfs), "what-if", "`FLAG=VALUE`: also run with this flag changed, and compare (repeatable)")

	trailer := fmt.Sprintf("\nBuilt-in scenarios: %s\n", strings.Join(spec.BuiltinNames(), ", "))
	if err := parseFlags(fs, "run", runUsage, trailer, args, stderr); err != nil {
		return rf, err
	}
	name = *str["scenario"]
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	sc := baseSpec()
	if name != "" {
		var err error
		if sc, err = spec.Load(name); err != nil {
			return rf, usagef("--scenario: %v", err)
		}
	} else if set["server"] && *str["server"] == spec.ServerCluster {
		sc.Server = spec.ServerCluster
		sc.Cluster = spec.ClusterSpec{Members: 3, Cores: 4}
	}
	// Every flag given on the command line overrides its field.
	for _, o := range overrides {
		if !set[o.Flag] {
			continue
		}
		if err := applyFlag(&sc, o.Flag, *str[o.Flag]); err != nil {
			return rf, err
		}
	}
	if _, err := sc.Resolve(); err != nil {
		return rf, usagef("%s", flagHints(err.Error()))
	}
	rf.spec = sc
	return rf, nil
}

// flagHints adds the flag that sets each field named in a scenario error.
func flagHints(msg string) string {
	for _, o := range overrides {
		msg = strings.ReplaceAll(msg, o.Field+":", fmt.Sprintf("%s (--%s):", o.Field, o.Flag))
	}
	return msg
}

// applyFlag sets the scenario field of flag name; a bad value is a usage error.
func applyFlag(s *spec.Spec, name, v string) error {
	if err := spec.ApplyFlag(s, name, v); err != nil {
		return usageError{err}
	}
	return nil
}

// outcome is one run's result with its description.
type outcome struct {
	Label       string `json:"label"`
	Scenario    string `json:"scenario"`
	Description string `json:"description"`
	Server      string `json:"server"`
	Seed        uint64 `json:"seed"`
	Events      uint64 `json:"events"`
	Cohorts     int    `json:"cohorts"`
	recorder.Summary
	Metrics []recorder.Metric `json:"metrics,omitempty"`
	spec    spec.Spec
	res     scenario.Outcome
}

func cmdRun(args []string, stdout, stderr io.Writer) error {
	base, err := parseRun(args, stderr)
	if err != nil {
		return err
	}
	// Every what-if is parsed before anything runs, so a bad one writes nothing.
	runs := []runFlags{base}
	labels := []string{"base"}
	for _, w := range base.whatIfs {
		name, val, ok := strings.Cut(w, "=")
		name = strings.TrimLeft(name, "-")
		if !ok || name == "" || fieldOf(name) == "" {
			return usagef("--what-if: %q must be FLAG=VALUE naming a scenario flag (e.g. client-version=v3.7.3); flags: %s", w, overrideFlags())
		}
		v, err := parseRun(append(append([]string{}, args...), "--"+name+"="+val), io.Discard)
		if err != nil {
			return usagef("--what-if %s: %v", w, err)
		}
		runs = append(runs, v)
		labels = append(labels, name+"="+val)
	}

	out := newOutputs(base)
	if err := out.prepare(); err != nil {
		return err
	}
	defer out.cleanup()

	// The runs are independent and each is single-threaded and deterministic:
	// run them side by side, and report them in order.
	outs := make([]outcome, len(runs))
	errs := make([]error, len(runs))
	var wg sync.WaitGroup
	for i, rf := range runs {
		var tw io.Writer
		if i == 0 {
			tw = out.traceW
		}
		wg.Go(func() {
			res, err := scenario.Run(context.Background(), rf.spec, tw)
			if err != nil {
				errs[i] = fmt.Errorf("%s: %w", labels[i], err)
				return
			}
			outs[i] = outcome{Label: labels[i], Scenario: rf.spec.Name, Description: rf.spec.Summary(), Server: serverOf(rf.spec),
				Seed: rf.spec.Seed, Events: res.Events, Cohorts: res.Cohorts, Summary: res.Summary, Metrics: res.Metrics,
				spec: rf.spec, res: res}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if err := out.commit(outs); err != nil {
		return err
	}
	if base.jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", " ")
		if len(outs) == 1 {
			return enc.Encode(outs[0])
		}
		return enc.Encode(map[string]any{"runs": outs})
	}
	printHuman(stdout, outs)
	return nil
}

func serverOf(s spec.Spec) string {
	if s.IsIdeal() {
		return spec.ServerIdeal
	}
	return spec.ServerCluster
}

func overrideFlags() string {
	var n []string
	for _, o := range overrides {
		n = append(n, o.Flag)
	}
	return strings.Join(n, ", ")
}

// outputs writes --trace and --csv atomically: into temporary files that are
// renamed into place only when every run succeeded.
type outputs struct {
	trace, csvDir string
	traceTmp      *os.File
	traceW        io.Writer
	tmpFiles      []string
}

func newOutputs(rf runFlags) *outputs { return &outputs{trace: rf.trace, csvDir: rf.csvDir} }

func (o *outputs) prepare() error {
	if o.trace != "" {
		dir := filepath.Dir(o.trace)
		f, err := os.CreateTemp(dir, ".leasesim-trace-*")
		if err != nil {
			return usagef("--trace: cannot write in %s: %v", dir, err)
		}
		f.Chmod(0o644) // CreateTemp makes 0600; outputs are for sharing
		o.traceTmp, o.traceW = f, f
		o.tmpFiles = append(o.tmpFiles, f.Name())
	}
	if o.csvDir != "" {
		if st, err := os.Stat(o.csvDir); err == nil && !st.IsDir() {
			return usagef("--csv: %s exists and is not a directory", o.csvDir)
		}
	}
	return nil
}

func (o *outputs) cleanup() {
	if o.traceTmp != nil {
		o.traceTmp.Close()
	}
	for _, f := range o.tmpFiles {
		os.Remove(f) // a no-op for files already renamed
	}
}

func (o *outputs) commit(outs []outcome) error {
	if o.traceTmp != nil {
		if err := o.traceTmp.Close(); err != nil {
			return fmt.Errorf("--trace: %w", err)
		}
		o.traceTmp = nil
		if err := os.Rename(o.tmpFiles[0], o.trace); err != nil {
			return fmt.Errorf("--trace: %w", err)
		}
	}
	if o.csvDir == "" {
		return nil
	}
	if err := os.MkdirAll(o.csvDir, 0o755); err != nil {
		return fmt.Errorf("--csv: %w", err)
	}
	for _, oc := range outs {
		name := "metrics.csv"
		if oc.Label != "base" {
			name = "metrics-" + safeName(oc.Label) + ".csv"
		}
		var b strings.Builder
		writeCSV(&b, oc)
		tmp, err := os.CreateTemp(o.csvDir, ".leasesim-csv-*")
		if err != nil {
			return fmt.Errorf("--csv: %w", err)
		}
		tmp.Chmod(0o644)
		o.tmpFiles = append(o.tmpFiles, tmp.Name())
		_, werr := tmp.WriteString(b.String())
		cerr := tmp.Close()
		if werr != nil || cerr != nil {
			return fmt.Errorf("--csv: %v %v", werr, cerr)
		}
		if err := os.Rename(tmp.Name(), filepath.Join(o.csvDir, name)); err != nil {
			return fmt.Errorf("--csv: %w", err)
		}
	}
	return nil
}

func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
			return r
		}
		return '_'
	}, s)
}

// writeCSV: one row per bucket: time_s, renewals_per_s, then every metric.
func writeCSV(b *strings.Builder, o outcome) {
	b.WriteString("time_s,renewals_per_s")
	for _, m := range o.Metrics {
		b.WriteString("," + string(m.Name))
	}
	b.WriteString("\n")
	for i, r := range o.RenewalsPerS {
		fmt.Fprintf(b, "%g,%g", float64(i)*o.BucketSeconds, r)
		for _, m := range o.Metrics {
			fmt.Fprintf(b, ",%g", m.Values[i])
		}
		b.WriteString("\n")
	}
}
