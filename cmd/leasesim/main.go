// Command leasesim simulates etcd lease keepalive traffic deterministically and
// answers what-if questions about it. Run `leasesim --help` for usage.
//
// The command line is built with spf13/cobra and pflag, as etcdctl's is:
// --long flags, help on stdout, shell completion, -w/--write-out.
//
// 'run --seeds N' reports distributions over seeds; its terms (a variant's
// seeds S..S+N-1, a storm, a fault not recovered, a figure's spread) are
// defined at the top of seeds.go.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/leasesim/leasesim/calibrate"
)

// Exit statuses. They are listed in the root command's help.
const (
	exitError   = 1 // the command failed (or 'check' found failures)
	exitUsage   = 2 // bad flags or input: the error names the flag or field
	exitVerdict = 3 // the run completed but its verdict failed a --fail-on criterion
	// exitInterrupted: SIGINT or SIGTERM stopped the command; what was complete
	// is kept (and marked incomplete), temporary files are removed.
	exitInterrupted = 130
)

const exitCodesHelp = `Exit status:
  0  success (also for --help)
  1  the command failed, or 'leasesim check' found failures
  2  bad flags or input; the message names the flag or scenario field
  3  'leasesim run --fail-on ...': the run completed but failed a criterion
  130  interrupted (SIGINT, SIGTERM): temporary files removed; a sweep keeps
       its finished rows, marked incomplete
`

func main() {
	// The calibration's client agent is this binary re-executed (calibrate
	// needs the clients in a process of their own to measure CPU apart).
	calibrate.MaybeRunAgent()
	calibrate.MaybeRunSpinner() // and the storm set's background load
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// usageError marks errors caused by the user's input (exit status 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// errFailed: the failures are printed already (exit 1).
var errFailed = errors.New("checks failed")

// verdictError: a --fail-on criterion failed (exit 3).
type verdictError struct{ msg string }

func (e verdictError) Error() string { return e.msg }

// newRoot builds the command tree for the command line args; a fresh tree
// per invocation keeps tests independent (cobra commands hold their parsed
// flags).
func newRoot(args []string, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "leasesim",
		Short: "A deterministic simulator of etcd lease keepalive traffic",
		Long: `leasesim — a deterministic simulator of etcd lease keepalive traffic.

Same scenario + same seed = byte-identical output, on any machine.`,
		Example: `  leasesim run --scenario incident-2018
  leasesim run --scenario incident-2018 --what-if client-version=v3.7.3 --what-if transport=http2
  leasesim run --clients 500 --ttl 5s --client-version v3.7.3 --consumer drain --duration 10m -w json
  leasesim run --scenario incident-2018 --fail-on 'lost-keys,cpu>90'   # exit 3 if it loses keys
  leasesim sweep --scenario incident-2018 --knee --grid client-version=v3.2.23,v3.7.3 --out knee.json
  leasesim report --scenario incident-2018 --sweep knee.json --what-if client-version=v3.7.3 --out report.html
  source <(leasesim completion bash)`,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usagef("%s: %v (see 'leasesim %s --help')", c.Name(), err, strings.TrimPrefix(c.CommandPath(), "leasesim "))
	})
	root.SetUsageTemplate(root.UsageTemplate() + "\n" + exitCodesHelp)
	root.AddCommand(
		newRunCmd(stdout, stderr),
		newScenariosCmd(stdout),
		newClientVersionsCmd(stdout),
		newSweepCmd(stdout, stderr),
		newMergeCmd(stdout, stderr),
		newReportCmd(args, stdout, stderr),
		newCheckCmd(stdout, stderr),
		newCalibrateCmd(stdout, stderr),
		newVersionCmd(stdout),
	)
	// cobra's own commands, with examples like every other.
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		switch c.Name() {
		case "help":
			c.Example = "  leasesim help run\n  leasesim help sweep"
		case "completion":
			c.Example = `  source <(leasesim completion bash)                      # this shell
  leasesim completion bash > /etc/bash_completion.d/leasesim
  leasesim completion zsh > "${fpath[1]}/_leasesim"
  leasesim completion fish > ~/.config/fish/completions/leasesim.fish`
			for _, sh := range c.Commands() {
				sh.Example = "  source <(leasesim completion " + sh.Name() + ")"
				if sh.Name() == "fish" {
					sh.Example = "  leasesim completion fish | source"
				} else if sh.Name() == "powershell" {
					sh.Example = "  leasesim completion powershell | Out-String | Invoke-Expression"
				}
			}
		}
	}
	return root
}

// noArgs is cobra.NoArgs as a usage error that names the command.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("%s: unexpected argument %q (see 'leasesim %s --help')", cmd.Name(), args[0], cmd.Name())
	}
	return nil
}

func run(args []string, stdout, stderr io.Writer) int {
	// One signal path for every command: SIGINT and SIGTERM cancel the
	// command's context; each command stops, removes its temporary files and
	// keeps (and marks) what is complete.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRoot(args, stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	if _, ok := errors.AsType[interruptedError](err); ok || (ctx.Err() != nil && errors.Is(err, context.Canceled)) {
		fmt.Fprintf(stderr, "leasesim: %v\n", err)
		return exitInterrupted
	}
	if errors.Is(err, errFailed) {
		return exitError // the failures are printed already
	}
	if v, ok := errors.AsType[verdictError](err); ok {
		fmt.Fprintf(stderr, "leasesim: %s\n", v.msg)
		return exitVerdict
	}
	fmt.Fprintf(stderr, "leasesim: %v\n", err)
	if _, ok := errors.AsType[usageError](err); ok || isCobraUsage(err) {
		return exitUsage
	}
	return exitError
}

// isCobraUsage recognises the errors cobra itself raises for a bad command
// line (an unknown command; a flag error goes through SetFlagErrorFunc).
func isCobraUsage(err error) bool {
	s := err.Error()
	return strings.HasPrefix(s, "unknown command") || strings.HasPrefix(s, "unknown flag") ||
		strings.HasPrefix(s, "unknown shorthand flag") || strings.Contains(s, "invalid argument")
}

// writeOut is the -w/--write-out flag, with --json kept as its alias.
type writeOut struct {
	format  string
	allowed []string
	json    bool
}

func addWriteOut(fs *pflag.FlagSet, w *writeOut, def string, allowed ...string) {
	w.allowed = allowed
	fs.StringVarP(&w.format, "write-out", "w", def, "output format: "+strings.Join(allowed, " | "))
	fs.BoolVar(&w.json, "json", false, "alias of -w json")
}

// resolve returns the chosen format, or a usage error.
func (w *writeOut) resolve(fs *pflag.FlagSet) (string, error) {
	if w.json {
		if fs.Changed("write-out") && w.format != "json" {
			return "", usagef("--json and -w %s disagree; give one of them", w.format)
		}
		w.format = "json"
	}
	for _, a := range w.allowed {
		if w.format == a {
			return a, nil
		}
	}
	return "", usagef("-w/--write-out: %q is not allowed; allowed: %s", w.format, strings.Join(w.allowed, ", "))
}
