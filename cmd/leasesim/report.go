package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/leasesim/leasesim/report"
	"github.com/leasesim/leasesim/scenario"
	"github.com/leasesim/leasesim/sweep"
)

const reportLong = `Runs the scenario (and each --what-if, side by side, in parallel) and writes one
self-contained HTML file — inline SVG charts, no script, nothing fetched — with
the verdict in one sentence, the scenario, the runs compared, and charts over
time: renewals/s at the leader, leader CPU, queue memory, handshakes/s, new
connections/s, keys lost, connections by state, renew-interval percentiles.
--sweep adds a 'leasesim sweep' output (CSV or JSON): capacity curves with the
knee marked, and, for a --knee search, the probes as points with the
metastable band shaded, and the verdict says how many clients each
configuration carries, what gives out first, and where seeds disagree. The footer records leasesim's
version and commit, the date (--date, default today) and the exact command.`

const reportExample = `  # How many agents could the 2018 cluster have carried, buggy vs fixed client?
  leasesim sweep --scenario incident-2018 --knee \
      --grid client-version=v3.2.23,v3.7.3 --at 20000 --out knee.json
  leasesim report --scenario incident-2018 --sweep knee.json \
      --what-if client-version=v3.7.3 --what-if transport=http2 --what-if tls=ecdsa --out report.html

  # A quick look at a small cluster
  leasesim report --scenario calibration-500 --set duration=2m --out cal.html

  # Reproducible to the byte: fix the footer's date
  leasesim report --scenario calibration-500 --date 2026-01-01 --out cal.html`

type reportOpts struct {
	scenario, duration, sweepFile, out, cpu, date string
	sets, whatIfs                                 []string
	quiet                                         bool
}

// newReportCmd: argv is the whole command line, for the report's footer.
func newReportCmd(argv []string, stdout, stderr io.Writer) *cobra.Command {
	o := &reportOpts{}
	cmd := &cobra.Command{
		Use:     "report --scenario NAME|FILE [--sweep FILE] [--what-if FLAG=VALUE ...] --out report.html",
		Short:   "Write a self-contained HTML capacity report",
		Long:    reportLong,
		Example: reportExample,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmdReport(o, argv, stdout, stderr)
		},
	}
	fs := cmd.Flags()
	fs.SortFlags = false
	fs.StringVar(&o.scenario, "scenario", "", "built-in scenario name or YAML FILE (required)")
	fs.StringArrayVar(&o.sets, "set", nil, "FLAG=VALUE: override a scenario flag (repeatable)")
	fs.StringVar(&o.duration, "duration", "", "override the run's virtual duration")
	fs.StringArrayVar(&o.whatIfs, "what-if", nil, "FLAG=VALUE: also run with this flag changed, side by side (repeatable)")
	fs.StringVar(&o.sweepFile, "sweep", "", "a 'leasesim sweep' output FILE (CSV or JSON) to chart")
	fs.StringVar(&o.out, "out", "", "write the HTML report to FILE (required)")
	fs.StringVar(&o.cpu, "cpu-target", "", "leader CPU peak (percent) a healthy run stays under (default: the sweep's, else 70)")
	fs.StringVar(&o.date, "date", "", "the date shown in the footer, YYYY-MM-DD (default: today, UTC)")
	fs.BoolVarP(&o.quiet, "quiet", "q", false, "no progress display on stderr")
	return cmd
}

func cmdReport(o *reportOpts, argv []string, stdout, stderr io.Writer) error {
	if o.scenario == "" {
		return usagef("report: --scenario is required (see 'leasesim report --help')")
	}
	if o.out == "" {
		return usagef("report: --out FILE.html is required")
	}
	date := time.Now().UTC().Format(time.DateOnly)
	if o.date != "" {
		d, err := time.Parse(time.DateOnly, o.date)
		if err != nil {
			return usagef("--date: %q is not a date YYYY-MM-DD", o.date)
		}
		date = d.Format(time.DateOnly)
	}
	cpuS, sets, duration, whatIfs, sweepFile, out := o.cpu, o.sets, o.duration, o.whatIfs, o.sweepFile, o.out
	scen := &o.scenario
	var cpu float64
	if cpuS != "" {
		var err error
		if cpu, err = parseCPUTarget(cpuS); err != nil {
			return err
		}
	}
	base, baseSet, err := baseFromFlags("report", *scen, sets, duration)
	if err != nil {
		return err
	}
	// Every what-if is parsed before anything runs, so a bad one writes nothing.
	labels, specs, err := whatIfSpecs(*scen, baseSet, whatIfs)
	if err != nil {
		return err
	}
	runs := []report.Run{{Label: "base", Spec: base}}
	for i, sp := range specs {
		runs = append(runs, report.Run{Label: labels[i], Spec: sp})
	}
	var sw *sweep.Result
	if sweepFile != "" {
		data, err := os.ReadFile(sweepFile)
		if err != nil {
			return usagef("--sweep: %v", err)
		}
		r, err := sweep.Read(data)
		if err != nil {
			return usagef("--sweep %s: %v", sweepFile, err)
		}
		// A verdict needs every point: an interrupted or partial sweep would
		// state one for configurations never probed.
		if !r.Complete {
			why := "it lacks grid points"
			if r.Interrupted {
				why = "its run was interrupted"
			} else if miss := r.Missing(); len(miss) > 0 {
				why = fmt.Sprintf("it lacks grid points %s", intList(miss, 20))
			}
			return usagef("--sweep %s is incomplete (%s): run the sweep to completion, or merge every shard", sweepFile, why)
		}
		if n := r.Failed(); n > 0 {
			return usagef("--sweep %s has %d grid point(s) that could not run (verdict %q): fix them and run it again", sweepFile, n, sweep.VerdictError)
		}
		sw = &r
	}
	file, err := createAtomic("out", out)
	if err != nil {
		return err
	}
	defer file.abort()

	var bar *progress
	if !o.quiet {
		bar = newProgress(stderr, len(runs), "report", "runs")
	}
	errs := make([]error, len(runs))
	var wg sync.WaitGroup
	for i := range runs {
		wg.Go(func() {
			o, err := scenario.Run(context.Background(), runs[i].Spec, nil)
			bar.add(1)
			if err != nil {
				errs[i] = fmt.Errorf("%s: %w", runs[i].Label, err)
			}
			runs[i].Outcome = o
		})
	}
	wg.Wait()
	bar.finish()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	bi := readBuildInfo()
	in := report.Input{Base: runs[0], WhatIfs: runs[1:], Sweep: sw, CPUTarget: cpu,
		Command: commandLine(argv), Version: bi.Version, Commit: bi.commitShort(), Date: date}
	var b bytes.Buffer
	if err := report.Render(&b, in); err != nil {
		return err
	}
	if err := file.commit(b.Bytes()); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s\nwrote %s\n", report.Verdict(in), out)
	return nil
}

// commandLine is argv as a shell would take it back: "leasesim report ...",
// with arguments quoted where they need it.
func commandLine(argv []string) string {
	parts := []string{"leasesim"}
	for _, a := range argv {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$`*?[]{}()<>|&;#~!") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}
