package main

import (
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/leasesim/leasesim/clientmodel"
	"github.com/leasesim/leasesim/export"
	"github.com/leasesim/leasesim/outfile"
	"github.com/leasesim/leasesim/recorder"
	"github.com/leasesim/leasesim/scenario"
	"github.com/leasesim/leasesim/spec"
	"github.com/leasesim/leasesim/sweep"
)

const runLong = `Simulates clients, each holding one lease kept alive with clientv3's KeepAlive,
and prints what happened: renewals per second, renew-interval percentiles,
dropped responses, lease expirations and keys lost — and, against a modelled
etcd cluster, leader CPU, forwarded renewals, peer connections by TCP state,
TLS handshakes and queue memory.

--scenario takes a built-in scenario (see 'leasesim scenarios') or a YAML file;
flags given on the command line override its fields (each flag's help names
the field in brackets). Without --scenario, the flags describe clients against
an idealised server (fixed round trip, no capacity limit), or a cluster with
--server cluster.

--what-if FLAG=VALUE reruns with one flag changed and prints the runs side by
side (repeatable). On a fast run, --what-if fast=false (or fidelity=exact) is
the same run in the exact mode (the base's --cohort does not apply there):
with --seeds, the two modes' spreads side by side.

--fail-on makes the verdict an exit status, for CI: lost-keys (a key was
deleted), expired (a lease expired), cpu>X (the leader's CPU peak second went
over X percent of its cores; quote it from the shell: 'cpu>90'); repeatable or
a comma list. It judges the base
run only — the run the flags describe; what-ifs are shown for comparison, not
judged. To gate on the fixed client, give its flag: --client-version v3.7.3.
A failed criterion exits 3 (after all output is written), naming it.

--seeds N runs the scenario (and each --what-if) with N seeds: the scenario's
seed S and the ones after it, S, S+1, ..., S+N-1, -j at a time (default: all
cores; the output is the same whatever -j). It prints, per run, how many seeds
storm, do not recover from a fault, expire leases and lose keys, and the spread
(min, p50 = the median seed, max, mean) of the headline figures. A storm: on a
cluster, the busiest second dialled more than 10 new peer connections or
finished more than 10 TLS handshakes (a reconnect storm); against the
idealised server, the renew interval fell to 500 ms. -w json gives every
seed's figures and the summary; -w csv one row per seed (--trace, --csv DIR
and --prom take one run: not with --seeds). With --seeds,
--fail-on fails (exit 3) if any seed of the base run fails a criterion, naming
the seeds. An interrupted --seeds run prints the seeds that finished, marks the
others, and exits 130.

Consumers (--consumer): drain | never | rate:N (reads N responses per second) |
  stop-after:K (reads K responses, then stops) | stall:FROM-TO (stops reading
  between FROM and TO after its KeepAlive, e.g. stall:10m-20m)

Exports: --csv DIR (metrics.csv per run; t_s = seconds from the run's start to
each bucket's start, units in the column names), --prom FILE (OpenMetrics text,
every sample timestamped --prom-start + t_s), --trace FILE (Chrome/Perfetto
trace-event JSON, open it in ui.perfetto.dev; gzipped if FILE ends in .gz;
--trace-clients N keeps the first N leases).`

const runExample = `  # The 2018 incident end to end: 7 members, 20,000 agents on v3.2.23, TTL 10 s
  leasesim run --scenario incident-2018

  # ... and what the fixed client, HTTP/2 peers or ECDSA certificates change
  leasesim run --scenario incident-2018 --what-if client-version=v3.7.3 --what-if transport=http2

  # CI: fail (exit 3) if the scenario loses a key or the leader passes 90 % CPU
  leasesim run --scenario incident-2018 --client-version v3.7.3 --fail-on 'lost-keys,cpu>90'

  # Two hours of the TTL-600 incident: the fast mode (cohorts of 5 clients in lockstep, ~35 s;
  # --cohort 40: ~4 s; its error against the exact mode is in the README), then the exact run (~3 min)
  leasesim run --scenario incident-2018-ttl600 --fast
  leasesim run --scenario incident-2018-ttl600

  # Does the fast mode hold on this scenario? Both modes over seeds 1-4, side by side
  leasesim run --scenario incident-2018 --start-spread 10s --duration 3m --fast --seeds 4 --what-if fast=false

  # The client alone: the collapse to 500 ms renewals after ~53 min at TTL 600 s
  leasesim run --clients 20000 --ttl 600s --client-version v3.2.23 --consumer never --duration 2h

  # Is the 2 s leader stall a storm for every seed, or some? 5 seeds (1..5), 2 at a time
  leasesim run --scenario metastable-trigger --seeds 5 -j 2

  # Lock sessions at TTL 2 s through a 1 s leader pause; agents that re-register when their key vanishes
  leasesim run --scenario lease-lock-ttl2 --regrant-max 3 --what-if ttl=3s

  # A fleet restart, abandoning leases vs revoking them on exit; 4 leases per agent process
  leasesim run --scenario lease-fleet-restart --what-if restart-graceful=true
  leasesim run --server cluster --clients 1000 --leases-per-client 4 --duration 1m

  # The storm load on calibrate's 2-core machine, with the storm set's measured costs: FIFO vs
  # processor sharing, and the follower reading the leader's answer before pooling the connection
  leasesim run --scenario host-stalls-2core --clients 1000 --ttl 10s --client-version v3.3.8 --consumer never \
      --placement followers --params storm-2core --gc --service-spread --seeds 3 \
      --what-if processor-sharing=true --what-if follower-answer-share=0.5

  # Your own scenario file, as JSON, with metrics as CSV and OpenMetrics, and a trace of 50 leases
  leasesim run --scenario my.yaml -w json --csv out/ --prom out/metrics.om --trace out/trace.json.gz --trace-clients 50`

// overrides and fieldOf: see spec.Overrides.
var overrides = spec.Overrides

func fieldOf(flagName string) string { return spec.FieldOf(flagName) }

// flagSpec is a scenario flag of 'run': its pflag type (for help and
// completion), default and help.
type flagSpec struct{ name, typ, def, help string }

var runFlagSpecs = []flagSpec{
	{"clients", "int", "1000", "number of clients, one lease each"},
	{"ttl", "duration", "10s", "lease TTL (whole seconds)"},
	{"client-version", "string", "v3.7.3", "clientv3 release, e.g. v3.2.23 (pre-fix) or v3.7.3; see 'leasesim client-versions'"},
	{"consumer", "string", "drain", "how the application reads the KeepAlive channel (see above)"},
	{"duration", "duration", "10m", "virtual time to simulate"},
	{"seed", "uint", "1", "root random seed"},
	{"rtt", "duration", "1ms", "client <-> server round-trip time"},
	{"connect-delay", "duration", "100us", "time from KeepAlive to its stream's first scan (> 0 on a real clock: the first keepalive goes out at once)"},
	{"scan-overrun", "duration", "0s", "how late each 500 ms keepalive scan fires after the previous one on a real machine (calibrate measures it; 0 = exact grid)"},
	{"start-spread", "duration", "0s", "clients call KeepAlive at uniform random times in [0, this) (1 ms grain); 0 = all at once"},
	{"placement", "string", "round-robin", "cluster: which members the clients use: round-robin | leader | followers | member:N"},
	{"client-kind", "string", "keepalive", "keepalive (grant a lease, keep it alive) | grant-only (grant it, attach keys, never renew: event and per-write leases; cluster) | event-writer (a kube-apiserver writing events with reused leases; cluster) | keepalive-once (a KeepAliveOnce loop; cluster)"},
	{"etcd-version", "string", "3.7.3", "cluster: etcd release whose lease behaviour the members follow, 3.2.0 to 3.7.x (before 3.2.2: no revoke rate limit, no Promote spreading)"},
	{"lease-revoke-rate", "int", "1000", "cluster what-if: expired leases the leader revokes per second (etcd: 1,000, not configurable)"},
	{"held-leases", "int", "0", "cluster: leases other applications hold (granted before the run, never expiring in it): every member's lessor walks them in Promote and Demote"},
	{"lease-max-objects", "int", "0", "cluster, --client-kind event-writer: keys per lease before kube-apiserver grants a new one (--lease-max-object-count; 0 = unbounded, as before kubernetes PR #98257)"},
	{"write-rate", "float", "0", "cluster, --client-kind event-writer: events each client (kube-apiserver) writes per second"},
	{"write-op", "string", "txn", "cluster, --client-kind event-writer: txn (kube-apiserver's writes) | put (a plain Put with the lease: walks its keys before etcd 3.4.27/3.5.10)"},
	{"fast-lease-keepalive", "bool", "true", "cluster (etcd 3.7+): the leader renews its own clients' leases without waiting for the applied index (feature gate, on by default)"},
	{"raft", "bool", "false", "cluster: simulate raft heartbeats and elections: a leader stalled past the election timeout loses leadership (default: leaders change only by scripted faults)"},
	{"raft-wait", "string", "preempt", "cluster, with --raft: how a busy member's raft loop waits for a core: preempt (at most Go's 10 ms slice) | backlog (its whole CPU backlog, the pessimistic bound) | measured (messages read after the backlog, sent within the slice: Go's measured behaviour)"},
	{"gc", "bool", "false", "cluster: model Go's garbage collector in each member's process (heap from queued requests and connections; cycles take CPU); measured parameters"},
	{"gogc", "int", "0", "cluster, with --gc: the members' GOGC, 1-10000 (0: the runtime's default, 100; etcd sets none): 400 collects about a quarter as often"},
	{"service-spread", "bool", "false", "cluster: vary each job's CPU cost (lognormal, mean 1, the spread a real member's renewals show; seeded)"},
	{"follower-answer-share", "float", "0", "cluster: the part (0-1) of a follower's CPU per forward spent reading the leader's answer, after which the connection is pooled again"},
	{"processor-sharing", "bool", "false", "cluster: share each member's cores among the requests in it (Go's scheduler interleaving them), not one FIFO queue"},
	{"background-cores", "string", "0", "cluster: CPU other processes take on the members' machine: N | on-off:N/ON/OFF | uniform:LO-HI/PERIOD (seeded)"},
	{"background-threads", "int", "0", "cluster: other processes' always-runnable threads (a busy loop is one): the members' process gets its per-thread share of the cores (Linux's scheduler), each thread at --all-busy-speed"},
	{"all-busy-speed", "float", "1", "cluster, with --background-threads: a thread's speed while every core is busy, over 0 and at most 1 (default: the parameter file's host.all_busy_speed, else 1)"},
	{"lease-checkpoint", "bool", "false", "cluster: checkpoint remaining TTLs every 5 min so a new leader keeps them (--experimental-enable-lease-checkpoint, etcd 3.4+)"},
	{"renew-at", "fraction", "1/3", "what-if: renew each lease at this fraction of its TTL after a response (every real client: 1/3; try 2/3)"},
	{"bucket", "duration", "1s", "metrics time-series bucket"},
	{"max-events", "int", "2000000000", "stop with an error after this many events (0: no limit)"},
	{"server", "string", "ideal", "ideal (fixed RTT, no capacity limit) | cluster (a modelled etcd cluster)"},
	{"members", "int", "3", "cluster: members"},
	{"cores", "float", "4", "cluster: CPU cores per member"},
	{"leader", "int", "0", "cluster: initial leader"},
	{"transport", "string", "http1", "cluster: peer transport for forwarded renewals: http1 | http2"},
	{"tls", "string", "rsa", "cluster: peer TLS: rsa | ecdsa | off"},
	{"tls-resumption", "bool", "false", "cluster: resume TLS sessions (etcd does not)"},
	{"platform-stalls", "string", "none", "cluster (with shared_cpu): the members' process stalls as measured on leasesim calibrate's storm set with gRPC health checks (spec/stalls.go): none | loopback-quiet (4.85 stalls a second) | loopback-busy (one core busy: 10.55 a second)"},
	{"prober-phase", "string", "random", "cluster: when each member's rafthttp prober ticks (every 4 s, all its peers at once; etcd 3.3.10+ dials each probe): random (members started at unrelated times; a seeded phase each) | together (members started at one instant) | skewed (started together in one process, as leasesim calibrate starts them: within a measured start skew)"},
	{"leader-queue-limit", "int", "0", "cluster: bound the leader's queue to this many requests and shed the rest (0 = unbounded, as etcd)"},
	{"max-idle-conns", "int", "1024", "cluster: idle peer connections kept per member pair (etcd: 1024)"},
	{"peer-rtt", "duration", "500us", "cluster: member <-> member round-trip time"},
	{"restart-fraction", "float", "0", "cluster: share of the client processes that restart (exit, then start again with a new lease); 0 = none"},
	{"restart-at", "duration", "0s", "cluster, with --restart-fraction: when the restarts begin"},
	{"restart-over", "duration", "0s", "cluster, with --restart-fraction: the restarts are spread uniformly over this window (seeded)"},
	{"restart-down", "duration", "0s", "cluster, with --restart-fraction: how long a restarting process is down"},
	{"restart-graceful", "bool", "false", "cluster, with --restart-fraction: the exiting process revokes its lease (concurrency.Session.Close) instead of abandoning it"},
	{"regrant-max", "int", "0", "cluster: agents grant a new lease and put their key again when their key vanishes, at most this many times each; 0 = never"},
	{"regrant-delay", "duration", "0s", "cluster, with --regrant-max: how long an agent waits after its key vanishes before it grants a new lease"},
	{"leases-per-client", "int", "1", "cluster, --client-kind keepalive: leases each client process keeps alive on its one lessor (one stream, one scan)"},
	{"period", "duration", "TTL/3", "cluster, --client-kind keepalive-once: the application's sleep between a KeepAliveOnce's answer and the next call"},
	{"fidelity", "string", "exact", "cluster: exact (every client simulated) | fast (one simulated client per cohort of --cohort clients assumed in lockstep: about cohort times fewer events; its error per metric against exact is in the README)"},
	{"fast", "bool", "false", "cluster: --fidelity fast"},
	{"cohort", "int", "0", "cluster, --fidelity fast: clients each simulated client stands for (0: clients/500, rounded)"},
	{"params", "string", "", "cluster: CPU cost parameters ('leasesim calibrate --fit'): a built-in NAME or YAML FILE; costs: in the scenario still override them"},
}

// specValue is a scenario flag's value: typed for help and completion, kept
// as given, and parsed by spec.ApplyFlag, whose errors name the flag and
// what it allows.
type specValue struct{ typ, val string }

func (v *specValue) String() string     { return v.val }
func (v *specValue) Set(s string) error { v.val = s; return nil }
func (v *specValue) Type() string       { return v.typ }

// scenarioFlags are the scenario flags of one command's flag set.
type scenarioFlags struct {
	fs   *pflag.FlagSet
	vals map[string]*specValue
}

func addScenarioFlags(fs *pflag.FlagSet) *scenarioFlags {
	sf := &scenarioFlags{fs: fs, vals: map[string]*specValue{}}
	for _, f := range runFlagSpecs {
		help := f.help
		if f.name == "params" {
			help = strings.Replace(help, "a built-in NAME", "a built-in NAME ("+strings.Join(spec.BuiltinParams(), ", ")+")", 1)
		}
		if field := fieldOf(f.name); field != "" {
			help += " [" + field + "]"
		}
		v := &specValue{typ: f.typ, val: f.def}
		sf.vals[f.name] = v
		fl := fs.VarPF(v, f.name, "", help)
		fl.DefValue = f.def
		if f.typ == "bool" {
			fl.NoOptDefVal = "true"
		}
	}
	return sf
}

// given returns the scenario flags set on the command line.
func (sf *scenarioFlags) given() map[string]string {
	set := map[string]string{}
	for name, v := range sf.vals {
		if sf.fs.Changed(name) {
			set[name] = v.val
		}
	}
	return set
}

// baseSpec is the scenario when no --scenario is given: the flags' defaults.
func baseSpec() spec.Spec {
	return spec.Spec{
		Name: "", Seed: 1, Duration: spec.Duration(10 * time.Minute), Server: spec.ServerIdeal,
		Clients: spec.ClientsSpec{Count: 1000, TTL: spec.Duration(10 * time.Second), Version: "v3.7.3", Consumer: "drain"},
	}
}

// specFor loads name (or the flags' defaults) and applies the flags in set,
// in spec.Overrides order, as 'leasesim run' does.
func specFor(name string, set map[string]string) (spec.Spec, error) {
	sc := baseSpec()
	if name != "" {
		var err error
		if sc, err = spec.Load(name); err != nil {
			return sc, usagef("--scenario: %v", err)
		}
	} else if set["server"] == spec.ServerCluster {
		sc.Server = spec.ServerCluster
		sc.Cluster = spec.ClusterSpec{Members: 3, Cores: 4}
	}
	for _, o := range overrides {
		v, ok := set[o.Flag]
		if !ok {
			continue
		}
		if err := applyFlag(&sc, o.Flag, v); err != nil {
			return sc, err
		}
	}
	if _, err := sc.Resolve(); err != nil {
		return sc, usagef("%s", flagHints(err.Error()))
	}
	return sc, nil
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

// whatIfSpecs parses every --what-if FLAG=VALUE against the base's flags.
func whatIfSpecs(name string, set map[string]string, whatIfs []string) ([]string, []spec.Spec, error) {
	var labels []string
	var specs []spec.Spec
	for _, w := range whatIfs {
		flagName, val, ok := strings.Cut(w, "=")
		flagName = strings.TrimLeft(flagName, "-")
		if !ok || flagName == "" || fieldOf(flagName) == "" {
			return nil, nil, usagef("--what-if: %q must be FLAG=VALUE naming a scenario flag (e.g. client-version=v3.7.3); flags: %s", w, overrideFlags())
		}
		s2 := map[string]string{flagName: val}
		for k, v := range set {
			if k != flagName {
				s2[k] = v
			}
		}
		if exactMode(flagName, val) {
			// The same run in the exact mode: the base's --fast, --fidelity
			// and cohort size (a flag or the scenario's) do not apply there.
			s2["fidelity"], s2["cohort"] = spec.FidelityExact, "0"
			if flagName != "fast" {
				delete(s2, "fast")
			}
		}
		sp, err := specFor(name, s2)
		if err != nil {
			return nil, nil, usagef("--what-if %s: %v", w, err)
		}
		labels = append(labels, flagName+"="+val)
		specs = append(specs, sp)
	}
	return labels, specs, nil
}

// exactMode reports whether the override flagName=val selects the exact
// mode (--fast false, --fidelity exact).
func exactMode(flagName, val string) bool {
	switch flagName {
	case "fast":
		b, err := strconv.ParseBool(val)
		return err == nil && !b
	case "fidelity":
		return val == spec.FidelityExact
	}
	return false
}

// runOpts are the run command's non-scenario flags.
type runOpts struct {
	sf           *scenarioFlags
	scenario     string
	out          writeOut
	trace        string
	traceClients int
	csvDir       string
	prom         string
	promStart    string
	whatIfs      []string
	failOn       []string
	force        bool
	seeds        seedsFlag
	jobs         int
	quiet        bool
}

func newRunCmd(stdout, stderr io.Writer) *cobra.Command {
	o := &runOpts{}
	cmd := &cobra.Command{
		Use:     "run [--scenario NAME|FILE] [flags]",
		Short:   "Simulate a scenario and print what happened",
		Long:    runLong,
		Example: runExample,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmdRun(cmd, o, stdout, stderr)
		},
	}
	fs := cmd.Flags()
	fs.SortFlags = false
	fs.StringVar(&o.scenario, "scenario", "", "built-in scenario name or YAML FILE (see 'leasesim scenarios')")
	o.sf = addScenarioFlags(fs)
	fs.StringArrayVar(&o.whatIfs, "what-if", nil, "FLAG=VALUE: also run with this flag changed, and compare (repeatable)")
	fs.BoolVar(&o.force, "force", false, "run even if the resource estimate says it will not fit in this machine's memory")
	fs.StringSliceVar(&o.failOn, "fail-on", nil, "exit 3 if the base run (with --seeds: any of its seeds) fails: lost-keys | expired | cpu>PERCENT (repeatable or comma list)")
	fs.Var(&o.seeds, "seeds", "run with N seeds (the scenario's seed S, S+1, ..., S+N-1) and report the spread; N from 1 to 100000")
	fs.IntVarP(&o.jobs, "jobs", "j", 0, "--seeds: runs side by side (default: GOMAXPROCS, all cores)")
	addWriteOut(fs, &o.out, "table", "table", "json", "csv")
	fs.StringVar(&o.csvDir, "csv", "", "write the metrics time series as CSV files into DIR")
	fs.StringVar(&o.prom, "prom", "", "write the metrics as OpenMetrics text with timestamps to FILE")
	fs.StringVar(&o.promStart, "prom-start", "1970-01-01T00:00:00Z", "--prom: the wall-clock time (RFC 3339) the run's t=0 is stamped with")
	fs.StringVar(&o.trace, "trace", "", "write the facts as Chrome/Perfetto trace-event JSON to FILE (gzipped if it ends in .gz)")
	fs.IntVar(&o.traceClients, "trace-clients", 0, "--trace: keep only the first N leases (0 = all)")
	fs.BoolVarP(&o.quiet, "quiet", "q", false, "no progress display on stderr (shown with --what-if or --seeds)")
	_ = cmd.RegisterFlagCompletionFunc("scenario", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return spec.BuiltinNames(), cobra.ShellCompDirectiveDefault
	})
	_ = cmd.RegisterFlagCompletionFunc("write-out", cobra.FixedCompletions([]string{"table", "json", "csv"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("fail-on", cobra.FixedCompletions([]string{"lost-keys", "expired", "cpu>"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// criterion is one --fail-on test of the base run.
type criterion struct {
	name string
	cpu  float64 // cpu>X: the fraction
}

func parseFailOn(vals []string) ([]criterion, error) {
	var cs []criterion
	for _, v := range vals {
		v = strings.TrimSpace(v)
		switch {
		case v == "lost-keys" || v == "expired":
			cs = append(cs, criterion{name: v})
		case strings.HasPrefix(v, "cpu>"):
			f, err := parseCPUTarget(strings.TrimPrefix(v, "cpu>"))
			if err != nil {
				return nil, usagef("--fail-on: %q: cpu>X needs X a percentage in (0, 100], e.g. cpu>90", v)
			}
			cs = append(cs, criterion{name: v, cpu: f})
		default:
			return nil, usagef("--fail-on: %q is not a criterion; allowed: lost-keys, expired, cpu>PERCENT", v)
		}
	}
	return cs, nil
}

// judge returns the failed criteria of a run, each saying why.
func judge(cs []criterion, o outcome) []string {
	var failed []string
	for _, c := range cs {
		switch {
		case c.name == "lost-keys" && o.KeysLost > 0:
			failed = append(failed, fmt.Sprintf("lost-keys: %s keys lost", count(o.KeysLost)))
		case c.name == "expired" && o.LeasesExpired > 0:
			failed = append(failed, fmt.Sprintf("expired: %s leases expired", count(o.LeasesExpired)))
		case c.cpu > 0:
			if p := o.res.Peaks[sweep.LeaderCPUMetric(o.spec)]; p > c.cpu {
				failed = append(failed, fmt.Sprintf("%s: leader CPU peaked at %.0f%%", c.name, 100*p))
			}
		}
	}
	return failed
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
	// Fidelity: exact, or fast with each simulated client standing for
	// Cohort clients (spec.FidelityFast); omitted when exact, so that exact
	// runs' JSON stays as it was.
	Fidelity string `json:"fidelity,omitempty"`
	Cohort   int    `json:"cohort,omitempty"`
	recorder.Summary
	Metrics []recorder.Metric `json:"metrics,omitempty"`
	spec    spec.Spec
	res     recorder.Outcome
}

func outcomeOf(label string, sp spec.Spec, res recorder.Outcome) outcome {
	out := outcome{Label: label, Scenario: sp.Name, Description: sp.Summary(), Server: serverOf(sp),
		Seed: sp.Seed, Events: res.Events, Cohorts: res.Cohorts, Summary: res.Summary, Metrics: res.Metrics,
		spec: sp, res: res}
	if r, err := sp.Resolve(); err == nil && r.Cluster != nil && r.Cluster.Fast {
		out.Fidelity, out.Cohort = spec.FidelityFast, r.Cluster.Cohort
	}
	return out
}

func cmdRun(cmd *cobra.Command, o *runOpts, stdout, stderr io.Writer) error {
	format, err := o.out.resolve(cmd.Flags())
	if err != nil {
		return err
	}
	crit, err := parseFailOn(o.failOn)
	if err != nil {
		return err
	}
	if o.traceClients < 0 {
		return usagef("--trace-clients: %d is not a number of leases", o.traceClients)
	}
	nSeeds := 0
	if cmd.Flags().Changed("seeds") {
		if nSeeds, err = parseSeeds(o.seeds.val); err != nil {
			return err
		}
	}
	if o.jobs < 0 {
		return usagef("-j/--jobs: %d is not a number of runs side by side; give 1 or more (0: all cores)", o.jobs)
	}
	promStart, err := time.Parse(time.RFC3339, o.promStart)
	if err != nil {
		return usagef("--prom-start: %q is not an RFC 3339 time (e.g. 2018-06-01T00:00:00Z)", o.promStart)
	}
	set := o.sf.given()
	base, err := specFor(o.scenario, set)
	if err != nil {
		return err
	}
	for _, c := range crit {
		if c.cpu > 0 && base.IsIdeal() {
			return usagef("--fail-on %s needs a cluster scenario (server: cluster): the idealised server has no CPU", c.name)
		}
	}
	// Every what-if is parsed before anything runs, so a bad one writes nothing.
	labels, specs, err := whatIfSpecs(o.scenario, set, o.whatIfs)
	if err != nil {
		return err
	}
	specs = append([]spec.Spec{base}, specs...)
	labels = append([]string{"base"}, labels...)
	if nSeeds > 0 {
		return cmdRunSeeds(cmd.Context(), o, nSeeds, format, crit, labels, specs, stdout, stderr)
	}

	if err := checkMemory(specs, len(specs), o.force, "--clients, --duration, fewer --what-if or --fast (cohorts: an approximation, see the README)"); err != nil {
		return err
	}
	out := &outputs{trace: o.trace, traceClients: o.traceClients, csvDir: o.csvDir, prom: o.prom, promStart: promStart}
	if err := out.prepare(stdout); err != nil {
		return err
	}
	defer out.cleanup()
	ctx := cmd.Context()

	// The runs are independent and each is single-threaded and deterministic:
	// run them side by side, and report them in order.
	var bar *progress
	if len(specs) > 1 && !o.quiet {
		bar = newProgress(stderr, len(specs), "run", "runs")
	}
	outs := make([]outcome, len(specs))
	errs := make([]error, len(specs))
	var wg sync.WaitGroup
	for i, sp := range specs {
		var tw io.Writer
		if i == 0 {
			tw = out.traceW
		}
		wg.Go(func() {
			res, err := scenario.Run(ctx, sp, tw)
			bar.add(1)
			if err != nil {
				errs[i] = fmt.Errorf("%s: %w", labels[i], err)
				return
			}
			outs[i] = outcomeOf(labels[i], sp, res)
		})
	}
	wg.Wait()
	bar.finish()
	if ctx.Err() != nil {
		return interrupted("no output written")
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if err := out.commit(outs); err != nil {
		return err
	}
	switch format {
	case "json":
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", " ")
		if len(outs) == 1 {
			err = enc.Encode(outs[0])
		} else {
			err = enc.Encode(map[string]any{"runs": outs})
		}
	case "csv":
		err = writeRunsCSV(stdout, outs)
	default:
		printHuman(stdout, outs)
	}
	if err != nil {
		return err
	}
	if failed := judge(crit, outs[0]); len(failed) > 0 {
		return verdictError{"--fail-on: the run failed: " + strings.Join(failed, "; ")}
	}
	return nil
}

// writeRunsCSV: one row per run (base, then what-ifs), the summary figures
// with their units in the column names.
func writeRunsCSV(w io.Writer, outs []outcome) error {
	cols := []string{"run", "scenario", "seed", "events", "renewals_total", "requests_total", "responses_dropped",
		"leases_expired", "keys_lost", "interval_p50_ms", "interval_p99_ms", "interval_max_ms",
		"first_drop_s", "first_500ms_interval_s", "first_expiry_s", "leader_cpu_peak_ratio"}
	tw := &strings.Builder{}
	tw.WriteString(strings.Join(cols, ",") + "\n")
	opt := func(p *float64) string {
		if p == nil {
			return ""
		}
		return export.Num(*p)
	}
	for _, o := range outs {
		cpu := ""
		if !o.spec.IsIdeal() {
			cpu = export.Num(o.res.Peaks[sweep.LeaderCPUMetric(o.spec)])
		}
		row := []string{csvQuote(o.Label), csvQuote(o.Scenario), fmt.Sprint(o.Seed), fmt.Sprint(o.Events),
			fmt.Sprint(o.RenewalsTotal), fmt.Sprint(o.RequestsTotal), fmt.Sprint(o.Dropped), fmt.Sprint(o.LeasesExpired),
			fmt.Sprint(o.KeysLost), export.Num(o.IntervalMs.P50), export.Num(o.IntervalMs.P99), export.Num(o.IntervalMs.Max),
			opt(o.FirstDropS), opt(o.First500msS), opt(o.FirstExpiryS), cpu}
		tw.WriteString(strings.Join(row, ",") + "\n")
	}
	_, err := io.WriteString(w, tw.String())
	return err
}

func csvQuote(s string) string {
	if strings.ContainsAny(s, ",\"\n") {
		return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
	}
	return s
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

// outputs writes --trace, --csv and --prom through one outfile.Set: into
// temporary files beside their targets, committed together only when every
// run succeeded (a device, a FIFO or "-" is streamed; nothing is clobbered).
type outputs struct {
	trace, csvDir, prom string
	traceClients        int
	promStart           time.Time
	files               *outfile.Set
	traceGz             *gzip.Writer
	traceW              io.Writer
}

func (o *outputs) prepare(stdout io.Writer) error {
	o.files = outfile.New(stdout)
	if o.trace != "" {
		f, err := o.files.Create(o.trace)
		if err != nil {
			return usagef("--trace: %v", err)
		}
		var w io.Writer = f
		if strings.HasSuffix(o.trace, ".gz") {
			// A zero gzip header (no name, no time): the same run gives the same bytes.
			o.traceGz = gzip.NewWriter(f)
			w = o.traceGz
		}
		o.traceW = recorder.NewTraceWriter(w, recorder.TraceOptions{MaxLeases: o.traceClients})
	}
	if o.csvDir != "" {
		if st, err := os.Stat(o.csvDir); err == nil && !st.IsDir() {
			return usagef("--csv: %s exists and is not a directory", o.csvDir)
		}
	}
	if o.prom != "" {
		if st, err := os.Stat(o.prom); err == nil && st.IsDir() {
			return usagef("--prom: %s is a directory", o.prom)
		}
		if _, err := os.Stat(filepath.Dir(o.prom)); err != nil {
			return usagef("--prom: cannot write in %s: %v", filepath.Dir(o.prom), err)
		}
	}
	return nil
}

// cleanup removes every temporary file (a no-op after commit).
func (o *outputs) cleanup() { o.files.Abort() }

func seriesOf(oc outcome) export.Series {
	return export.Series{Run: oc.Label, BucketSeconds: oc.BucketSeconds, RenewalsPerS: oc.RenewalsPerS, Metrics: oc.Metrics}
}

// write adds path to the set with write's output.
func (o *outputs) write(flagName, path string, write func(io.Writer) error) error {
	f, err := o.files.Create(path)
	if err != nil {
		return fmt.Errorf("--%s: %w", flagName, err)
	}
	if err := write(f); err != nil {
		return fmt.Errorf("--%s: %w", flagName, err)
	}
	return nil
}

func (o *outputs) commit(outs []outcome) error {
	if o.traceGz != nil {
		if err := o.traceGz.Close(); err != nil {
			return fmt.Errorf("--trace: %w", err)
		}
	}
	if o.prom != "" {
		var ss []export.Series
		for _, oc := range outs {
			ss = append(ss, seriesOf(oc))
		}
		if err := o.write("prom", o.prom, func(w io.Writer) error { return export.WriteOpenMetrics(w, ss, o.promStart) }); err != nil {
			return err
		}
	}
	if o.csvDir != "" {
		if err := os.MkdirAll(o.csvDir, 0o755); err != nil {
			return fmt.Errorf("--csv: %w", err)
		}
		for _, oc := range outs {
			name := "metrics.csv"
			if oc.Label != "base" {
				name = "metrics-" + safeName(oc.Label) + ".csv"
			}
			if err := o.write("csv", filepath.Join(o.csvDir, name), func(w io.Writer) error { return export.WriteCSV(w, seriesOf(oc)) }); err != nil {
				return err
			}
		}
	}
	return o.files.Commit()
}

func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
			return r
		}
		return '_'
	}, s)
}

func newScenariosCmd(stdout io.Writer) *cobra.Command {
	var show string
	var wo writeOut
	cmd := &cobra.Command{
		Use:   "scenarios [--show NAME]",
		Short: "List the built-in scenarios (--show NAME prints one)",
		Example: `  leasesim scenarios
  leasesim scenarios --show incident-2018 > my.yaml   # a starting point for your own
  leasesim scenarios -w json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			format, err := wo.resolve(cmd.Flags())
			if err != nil {
				return err
			}
			if show != "" {
				return cmdShow(show, stdout)
			}
			return cmdScenarios(stdout, format)
		},
	}
	cmd.Flags().StringVar(&show, "show", "", "print the built-in scenario NAME's whole YAML file")
	addWriteOut(cmd.Flags(), &wo, "table", "table", "json")
	return cmd
}

func cmdScenarios(w io.Writer, format string) error {
	if format == "json" {
		type entry struct {
			Name        string `json:"name"`
			Server      string `json:"server"`
			Description string `json:"description"`
		}
		var es []entry
		for _, s := range spec.Builtins() {
			es = append(es, entry{s.Name, s.Server, strings.Join(strings.Fields(s.Description), " ")})
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", " ")
		return enc.Encode(es)
	}
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

func newClientVersionsCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:     "client-versions",
		Aliases: []string{"versions"},
		Short:   "List the clientv3 versions leasesim models, and their keepalive rule",
		Long: `Lists the etcd client (clientv3) releases leasesim models and which keepalive
rule each implements. These are client library versions, for --client-version;
'leasesim version' prints leasesim's own version.`,
		Example: `  leasesim client-versions
  leasesim run --scenario incident-2018 --client-version v3.3.9`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprint(stdout, "Client versions leasesim models (pre-fix: nextKeepAlive advances only when the response fits in the channel):\n")
			fmt.Fprint(stdout, clientmodel.KnownVersions())
			return nil
		},
	}
}
