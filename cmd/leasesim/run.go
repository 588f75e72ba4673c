package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/leasesim/leasesim/clientmodel"
	"github.com/leasesim/leasesim/recorder"
	"github.com/leasesim/leasesim/scenario"
	"github.com/leasesim/leasesim/sim"
)

var errHelp = errors.New("help shown")

const runUsage = `Usage: leasesim run [flags]

Simulates N clients, each holding one lease kept alive with clientv3's KeepAlive,
against an idealised etcd server (fixed round-trip time, no capacity limit; a
lease not renewed within its TTL expires), and prints what happened: renewals per
second over time, per-lease renew-interval percentiles, dropped responses and
lease expirations.

A built-in scenario (--scenario, see 'leasesim scenarios') sets defaults; flags
given on the command line override them. --what-if FLAG=VALUE reruns the same
scenario with one flag changed and prints the runs side by side (repeatable).

Examples:
  # The 2018 incident's clients: 20,000 agents, TTL 600 s, v3.2.23, never reading
  leasesim run --scenario incident-2018-client

  # ... and what the fixed client and a consumer that reads would have done
  leasesim run --scenario incident-2018-client --what-if client-version=v3.7.3 --what-if consumer=drain

  # Machine-readable summary and a full event trace
  leasesim run --clients 500 --ttl 5s --duration 10m --json --trace /tmp/trace.jsonl

Consumers (--consumer): drain | never | rate:N (reads N responses per second) |
  stop-after:K (reads K responses, then stops) | stall:FROM-TO (stops reading
  between FROM and TO after its KeepAlive, e.g. stall:10m-20m)

Flags:
`

// preset is a built-in scenario: flag values applied unless given on the command line.
type preset struct {
	name, about string
	flags       map[string]string
}

var presets = []preset{
	{"incident-2018-client", "the 2018 incident's clients (20,000 agents, TTL 600 s, clientv3 v3.2.23, never reading the channel) for 2 h against an idealised server: the collapse to 500 ms renewals after ~53 min",
		map[string]string{"clients": "20000", "ttl": "600s", "client-version": "v3.2.23", "consumer": "never", "duration": "2h"}},
	{"incident-2018-client-ttl10", "the same agents with the incident's TTL of 10 s: the collapse after 16 x 3.5 s",
		map[string]string{"clients": "20000", "ttl": "10s", "client-version": "v3.2.23", "consumer": "never", "duration": "10m"}},
	{"calibration-500", "500 clients, TTL 5 s, clientv3 v3.7.3 draining the channel, started together (the calibration run on a real 3-member cluster)",
		map[string]string{"clients": "500", "ttl": "5s", "client-version": "v3.7.3", "consumer": "drain", "duration": "10m"}},
}

func findPreset(name string) (preset, bool) {
	for _, p := range presets {
		if p.name == name {
			return p, true
		}
	}
	return preset{}, false
}

func presetNames() string {
	var n []string
	for _, p := range presets {
		n = append(n, p.name)
	}
	return strings.Join(n, ", ")
}

func cmdScenarios(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tWHAT")
	for _, p := range presets {
		fmt.Fprintf(tw, "%s\t%s\n", p.name, p.about)
	}
	return tw.Flush()
}

func cmdVersions(w io.Writer) error {
	fmt.Fprint(w, "Client versions leasesim models (pre-fix: nextKeepAlive advances only when the response fits in the channel):\n")
	fmt.Fprint(w, clientmodel.KnownVersions())
	return nil
}

// runFlags is one parse of the run command's flags.
type runFlags struct {
	cfg      scenario.Ideal
	name     string
	consumer string
	jsonOut  bool
	trace    string
	whatIfs  []string
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// seconds-or-duration flag values: "600s", "10m", or a bare number of seconds.
func parseDur(name, v string) (time.Duration, error) {
	if n, err := strconv.ParseFloat(v, 64); err == nil {
		return time.Duration(n * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, usagef("--%s: %q is not a duration (e.g. 600s, 10m, 2h)", name, v)
	}
	return d, nil
}

func parseRun(args []string, stderr io.Writer) (runFlags, error) {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var (
		rf                                 runFlags
		clients                            int
		ttl, duration, rtt, spread, bucket string
		connect                            string
		version                            string
		seed, maxEvents                    uint64
	)
	fs.StringVar(&rf.name, "scenario", "", "built-in scenario to start from ("+presetNames()+")")
	fs.IntVar(&clients, "clients", 1000, "number of clients, one lease each")
	fs.StringVar(&ttl, "ttl", "10s", "lease TTL (whole seconds)")
	fs.StringVar(&version, "client-version", "v3.7.3", "clientv3 release, e.g. v3.2.23 (pre-fix) or v3.7.3; see 'leasesim versions'")
	fs.StringVar(&rf.consumer, "consumer", "drain", "how the application reads the KeepAlive channel (see above)")
	fs.StringVar(&duration, "duration", "10m", "virtual time to simulate")
	fs.Uint64Var(&seed, "seed", 1, "root random seed")
	fs.StringVar(&rtt, "rtt", "1ms", "client-server round-trip time")
	fs.StringVar(&connect, "connect-delay", "100us", "time from KeepAlive to its stream's first scan; > 0 on a real clock, so the first keepalive goes out at once (0 = synctest's frozen clock: first keepalive at +500ms)")
	fs.StringVar(&spread, "start-spread", "0s", "clients call KeepAlive at uniform random times in [0, this) (1 ms grain); 0 = all at once")
	fs.StringVar(&bucket, "bucket", "1s", "metrics time-series bucket")
	fs.Uint64Var(&maxEvents, "max-events", 2_000_000_000, "stop with an error after this many events (0 = no limit)")
	fs.BoolVar(&rf.jsonOut, "json", false, "print a JSON summary instead of text")
	fs.StringVar(&rf.trace, "trace", "", "write every event as a JSON line to `FILE`")
	fs.Var((*multiFlag)(&rf.whatIfs), "what-if", "`FLAG=VALUE`: also run with this flag changed, and compare (repeatable)")

	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stderr, runUsage)
			fs.SetOutput(stderr)
			fs.PrintDefaults()
			return rf, errHelp
		}
		return rf, usagef("run: %v (see 'leasesim help run')", err)
	}
	if fs.NArg() > 0 {
		return rf, usagef("run: unexpected argument %q (see 'leasesim help run')", fs.Arg(0))
	}
	if rf.name != "" {
		p, ok := findPreset(rf.name)
		if !ok {
			return rf, usagef("--scenario: %q is not a built-in scenario; built-in: %s", rf.name, presetNames())
		}
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		for _, name := range sortedKeys(p.flags) {
			if !set[name] {
				if err := fs.Set(name, p.flags[name]); err != nil {
					return rf, fmt.Errorf("built-in scenario %s: %s: %v", rf.name, name, err)
				}
			}
		}
	}

	var err error
	c := &rf.cfg
	c.Clients, c.Seed, c.MaxEvents = clients, seed, maxEvents
	if c.TTL, err = parseDur("ttl", ttl); err != nil {
		return rf, err
	}
	if c.Duration, err = parseDur("duration", duration); err != nil {
		return rf, err
	}
	if c.RTT, err = parseDur("rtt", rtt); err != nil {
		return rf, err
	}
	if c.ConnectDelay, err = parseDur("connect-delay", connect); err != nil {
		return rf, err
	}
	if c.StartSpread, err = parseDur("start-spread", spread); err != nil {
		return rf, err
	}
	if c.Bucket, err = parseDur("bucket", bucket); err != nil {
		return rf, err
	}
	if c.Bucket <= 0 {
		return rf, usagef("--bucket: %v must be > 0", c.Bucket)
	}
	if c.Version, err = clientmodel.ParseVersion(version); err != nil {
		return rf, usagef("--client-version: %v", err)
	}
	if c.Consumer, err = parseConsumer(rf.consumer); err != nil {
		return rf, err
	}
	if err := c.Validate(); err != nil {
		return rf, usagef("--%v", err)
	}
	return rf, nil
}

func sortedKeys(m map[string]string) []string {
	var k []string
	for key := range m {
		k = append(k, key)
	}
	for i := 1; i < len(k); i++ {
		for j := i; j > 0 && k[j] < k[j-1]; j-- {
			k[j], k[j-1] = k[j-1], k[j]
		}
	}
	return k
}

func parseConsumer(s string) (clientmodel.Consumer, error) {
	kindName, arg, hasArg := strings.Cut(s, ":")
	kind, err := clientmodel.ParseConsumerKind(kindName)
	if err != nil {
		return clientmodel.Consumer{}, usagef("--consumer: %q is unknown; allowed: drain, never, rate:N, stop-after:K, stall:FROM-TO", s)
	}
	c := clientmodel.Consumer{Kind: kind}
	bad := func(form string) (clientmodel.Consumer, error) {
		return c, usagef("--consumer: %q must be of the form %s", s, form)
	}
	switch kind {
	case clientmodel.Drain, clientmodel.Never:
		if hasArg {
			return bad(kindName)
		}
	case clientmodel.Rate:
		n, err := strconv.ParseFloat(arg, 64)
		if err != nil || n <= 0 || n > 1e6 {
			return bad("rate:N with 0 < N <= 1e6 reads per second")
		}
		c.Period = time.Duration(float64(time.Second) / n)
	case clientmodel.StopAfter:
		k, err := strconv.Atoi(arg)
		if err != nil || k < 0 {
			return bad("stop-after:K with K >= 0")
		}
		c.K = k
	case clientmodel.Stall:
		a, b, ok := strings.Cut(arg, "-")
		from, err1 := time.ParseDuration(a)
		to, err2 := time.ParseDuration(b)
		if !ok || err1 != nil || err2 != nil || from < 0 || to <= from {
			return bad("stall:FROM-TO with durations 0 <= FROM < TO, e.g. stall:10m-20m")
		}
		c.From, c.To = sim.Time(from), sim.Time(to)
	}
	return c, nil
}

// outcome is one run's result with its description.
type outcome struct {
	Label   string     `json:"label"`
	Config  configJSON `json:"scenario"`
	Events  uint64     `json:"events"`
	Cohorts int        `json:"cohorts"`
	recorder.Summary
	res     scenario.Result
	cfg     scenario.Ideal
	consume string
}

type configJSON struct {
	Name           string  `json:"name,omitempty"`
	Clients        int     `json:"clients"`
	TTLSeconds     float64 `json:"ttl_s"`
	ClientVersion  string  `json:"client_version"`
	Rule           string  `json:"client_rule"`
	Consumer       string  `json:"consumer"`
	DurationS      float64 `json:"duration_s"`
	RTTMs          float64 `json:"rtt_ms"`
	ConnectDelayMs float64 `json:"connect_delay_ms"`
	StartSpreadS   float64 `json:"start_spread_s"`
	Seed           uint64  `json:"seed"`
	Server         string  `json:"server"`
}

func describe(rf runFlags, label string) configJSON {
	c := rf.cfg
	return configJSON{
		Name: rf.name, Clients: c.Clients, TTLSeconds: c.TTL.Seconds(), ClientVersion: c.Version.Name,
		Rule: c.Version.Rule.String(), Consumer: rf.consumer, DurationS: c.Duration.Seconds(),
		RTTMs: float64(c.RTT) / 1e6, ConnectDelayMs: float64(c.ConnectDelay) / 1e6, StartSpreadS: c.StartSpread.Seconds(), Seed: c.Seed, Server: "ideal",
	}
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
		if !ok || name == "" || name == "what-if" || name == "trace" || name == "json" {
			return usagef("--what-if: %q must be FLAG=VALUE naming a scenario flag, e.g. client-version=v3.7.3", w)
		}
		v, err := parseRun(append(append([]string{}, args...), "--"+name+"="+val), io.Discard)
		if err != nil {
			return usagef("--what-if %s: %v", w, err)
		}
		runs = append(runs, v)
		labels = append(labels, name+"="+val)
	}

	var traceFile *os.File
	var traceW io.Writer
	if base.trace != "" {
		dir := filepath.Dir(base.trace)
		traceFile, err = os.CreateTemp(dir, ".leasesim-trace-*")
		if err != nil {
			return usagef("--trace: cannot write in %s: %v", dir, err)
		}
		defer os.Remove(traceFile.Name()) // a no-op after the rename
		traceW = traceFile
	}

	var outs []outcome
	for i, rf := range runs {
		var tw io.Writer
		if i == 0 {
			tw = traceW
		}
		res, err := rf.cfg.Run(tw)
		if err != nil {
			if traceFile != nil {
				traceFile.Close()
			}
			return fmt.Errorf("%s: %w", labels[i], err)
		}
		o := outcome{Label: labels[i], Config: describe(rf, labels[i]), res: res, cfg: rf.cfg, consume: rf.consumer}
		o.Events, o.Cohorts, o.Summary = res.Events, res.Cohorts, res.Summary
		outs = append(outs, o)
	}
	if traceFile != nil {
		if err := traceFile.Close(); err != nil {
			return fmt.Errorf("--trace: %w", err)
		}
		if err := os.Rename(traceFile.Name(), base.trace); err != nil {
			return fmt.Errorf("--trace: %w", err)
		}
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
