// Command leasesim simulates etcd lease keepalive traffic deterministically and
// answers what-if questions about it. Run `leasesim help` for usage.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/leasesim/leasesim/calibrate"
)

// exitUsage is the exit status for bad flags or input.
const exitUsage = 2

const topUsage = `leasesim — a deterministic simulator of etcd lease keepalive traffic

Usage:
  leasesim run [flags]        simulate a scenario and print what happened
  leasesim scenarios          list the built-in scenarios (--show NAME prints one)
  leasesim versions           list the client versions leasesim models
  leasesim sweep [flags]      run a grid of scenarios in parallel, or --knee: the largest client count that holds
  leasesim merge FILES...     combine the outputs of sharded sweeps (--shard i/n)
  leasesim report [flags]     write a self-contained HTML capacity report
  leasesim check [flags]      check properties and linearizability over N seeded random scenarios
  leasesim calibrate [flags]  measure a real etcd cluster and print it beside leasesim's prediction
  leasesim help [command]     show help

Same scenario + same seed = byte-identical output, on any machine.

Examples:
  leasesim run --scenario incident-2018
  leasesim run --scenario incident-2018 --what-if client-version=v3.7.3 --what-if transport=http2
  leasesim run --clients 500 --ttl 5s --client-version v3.7.3 --consumer drain --duration 10m --json
  leasesim sweep --scenario incident-2018 --duration 3m --knee --grid client-version=v3.2.23,v3.7.3 --out knee.json
  leasesim report --scenario incident-2018 --sweep knee.json --what-if client-version=v3.7.3 --out report.html
`

func main() {
	// The calibration's client agent is this binary re-executed (calibrate
	// needs the clients in a process of their own to measure CPU apart).
	calibrate.MaybeRunAgent()
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// usageError marks errors caused by the user's input (exit status 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// parseFlags parses a subcommand's flags: --help prints usage, the flag
// defaults and trailer (if any) and returns errHelp; a bad flag or a stray
// argument is a usage error that names the command.
func parseFlags(fs *flag.FlagSet, cmd, usage, trailer string, args []string, stderr io.Writer) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stderr, usage)
			fs.SetOutput(stderr)
			fs.PrintDefaults()
			fmt.Fprint(stderr, trailer)
			return errHelp
		}
		return usagef("%s: %v (see 'leasesim help %s')", cmd, err, cmd)
	}
	if fs.NArg() > 0 {
		return usagef("%s: unexpected argument %q (see 'leasesim help %s')", cmd, fs.Arg(0), cmd)
	}
	return nil
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, topUsage)
		return exitUsage
	}
	var err error
	switch args[0] {
	case "run":
		err = cmdRun(args[1:], stdout, stderr)
	case "scenarios":
		if len(args) == 3 && (args[1] == "--show" || args[1] == "-show") {
			err = cmdShow(args[2], stdout)
		} else if len(args) > 1 {
			err = usagef("scenarios: usage: leasesim scenarios [--show NAME]")
		} else {
			err = cmdScenarios(stdout)
		}
	case "versions":
		err = cmdVersions(stdout)
	case "sweep":
		err = cmdSweep(args[1:], stdout, stderr)
	case "merge":
		err = cmdMerge(args[1:], stdout, stderr)
	case "report":
		err = cmdReport(args[1:], stdout, stderr)
	case "check":
		err = cmdCheck(args[1:], stdout, stderr)
	case "calibrate":
		err = cmdCalibrate(args[1:], stdout, stderr)
	case "help", "-h", "--help", "-help":
		if len(args) > 1 && args[1] == "run" {
			err = cmdRun([]string{"--help"}, stdout, stderr)
		} else if len(args) > 1 && args[1] == "sweep" {
			err = cmdSweep([]string{"--help"}, stdout, stderr)
		} else if len(args) > 1 && args[1] == "merge" {
			err = cmdMerge([]string{"--help"}, stdout, stderr)
		} else if len(args) > 1 && args[1] == "report" {
			err = cmdReport([]string{"--help"}, stdout, stderr)
		} else if len(args) > 1 && args[1] == "check" {
			err = cmdCheck([]string{"--help"}, stdout, stderr)
		} else if len(args) > 1 && args[1] == "calibrate" {
			err = cmdCalibrate([]string{"--help"}, stdout, stderr)
		} else {
			fmt.Fprint(stdout, topUsage)
		}
	default:
		err = usagef("unknown command %q; commands: run, scenarios, versions, sweep, merge, report, check, calibrate, help", args[0])
	}
	if err == nil {
		return 0
	}
	if errors.Is(err, errHelp) {
		return 0
	}
	if errors.Is(err, errFailed) {
		return 1 // the failures are printed already
	}
	fmt.Fprintf(stderr, "leasesim: %v\n", err)
	var ue usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	return 1
}
