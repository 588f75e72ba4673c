package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/leasesim/leasesim/report"
	"github.com/leasesim/leasesim/scenario"
	"github.com/leasesim/leasesim/sweep"
)

const reportUsage = `Usage: leasesim report --scenario NAME|FILE [--sweep FILE] [--what-if FLAG=VALUE ...] --out report.html

Runs the scenario (and each --what-if, side by side, in parallel) and writes one
self-contained HTML file — inline SVG charts, no script, nothing fetched — with
the verdict in one sentence, the scenario, the runs compared, and charts over
time: renewals/s at the leader, leader CPU, queue memory, handshakes/s, new
connections/s, keys lost, connections by state, renew-interval percentiles.
--sweep adds a 'leasesim sweep' output (CSV or JSON): capacity curves with the
knee marked, and, for a --knee search, the verdict says how many clients each
configuration carries and what gives out first.

Examples:
  # How many agents could the 2018 cluster have carried, buggy vs fixed client?
  leasesim sweep --scenario incident-2018 --duration 3m --knee \
      --grid client-version=v3.2.23,v3.7.3 --at 20000 --out knee.json
  leasesim report --scenario incident-2018 --sweep knee.json \
      --what-if client-version=v3.7.3 --what-if transport=http2 --what-if tls=ecdsa --out report.html

  # A quick look at a small cluster
  leasesim report --scenario calibration-500 --set duration=2m --out cal.html

Flags:
`

func cmdReport(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var sets, whatIfs multiFlag
	scen := fs.String("scenario", "", "built-in scenario name or YAML `FILE` (required)")
	fs.Var(&sets, "set", "`FLAG=VALUE`: override a scenario flag (repeatable)")
	duration := fs.String("duration", "", "override the run's virtual duration")
	fs.Var(&whatIfs, "what-if", "`FLAG=VALUE`: also run with this flag changed, side by side (repeatable)")
	sweepFile := fs.String("sweep", "", "a 'leasesim sweep' output `FILE` (CSV or JSON) to chart")
	out := fs.String("out", "", "write the HTML report to `FILE` (required)")
	cpuS := fs.String("cpu-target", "", "leader CPU peak (percent) a healthy run stays under (default: the sweep's, else 70)")
	if err := parseFlags(fs, "report", reportUsage, "", args, stderr); err != nil {
		return err
	}
	if *scen == "" {
		return usagef("report: --scenario is required (see 'leasesim report --help')")
	}
	if *out == "" {
		return usagef("report: --out FILE.html is required")
	}
	var cpu float64
	if *cpuS != "" {
		var err error
		if cpu, err = parseCPUTarget(*cpuS); err != nil {
			return err
		}
	}
	base, baseArgs, err := baseFromFlags("report", *scen, sets, *duration)
	if err != nil {
		return err
	}
	// Every what-if is parsed before anything runs, so a bad one writes nothing.
	runs := []report.Run{{Label: "base", Spec: base}}
	for _, w := range whatIfs {
		name, val, ok := strings.Cut(w, "=")
		name = strings.TrimLeft(name, "-")
		if !ok || name == "" || fieldOf(name) == "" {
			return usagef("--what-if: %q must be FLAG=VALUE naming a scenario flag (e.g. client-version=v3.7.3); flags: %s", w, overrideFlags())
		}
		rf, err := parseRun(append(append([]string{}, baseArgs...), "--"+name+"="+val), io.Discard)
		if err != nil {
			return usagef("--what-if %s: %v", w, err)
		}
		runs = append(runs, report.Run{Label: name + "=" + val, Spec: rf.spec})
	}
	var sw *sweep.Result
	if *sweepFile != "" {
		data, err := os.ReadFile(*sweepFile)
		if err != nil {
			return usagef("--sweep: %v", err)
		}
		r, err := sweep.Read(data)
		if err != nil {
			return usagef("--sweep %s: %v", *sweepFile, err)
		}
		sw = &r
	}
	file, err := createAtomic("out", *out)
	if err != nil {
		return err
	}
	defer file.abort()

	errs := make([]error, len(runs))
	var wg sync.WaitGroup
	for i := range runs {
		wg.Go(func() {
			o, err := scenario.Run(context.Background(), runs[i].Spec, nil)
			if err != nil {
				errs[i] = fmt.Errorf("%s: %w", runs[i].Label, err)
			}
			runs[i].Outcome = o
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	in := report.Input{Base: runs[0], WhatIfs: runs[1:], Sweep: sw, CPUTarget: cpu,
		Command: "leasesim report " + strings.Join(args, " ")}
	var b bytes.Buffer
	if err := report.Render(&b, in); err != nil {
		return err
	}
	if err := file.commit(b.Bytes()); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s\nwrote %s\n", report.Verdict(in), *out)
	return nil
}
