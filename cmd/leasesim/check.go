package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/anishathalye/porcupine"

	"github.com/leasesim/leasesim/clientmodel"
	"github.com/leasesim/leasesim/clientmodel/scripted"
	"github.com/leasesim/leasesim/model"
	"github.com/leasesim/leasesim/properties"
)

const checkLong = `Runs N seeded random scenarios through leasesim's properties (package
properties) and prints, for each failure, its seed and a one-line command that
replays it exactly:

  P1   a fixed client renews every lease every (TTL/3, TTL/3 + 500 ms + RTT]
       while its stream is healthy, and within 500 ms of a reset (client model
       against a scripted server);
  P2   with enough capacity no lease expires, whatever the consumer does
       (cluster model);
  LIN  the cluster's lease-API history (Grant, KeepAlive, Expire, and a
       checker's Get and TimeToLive) is linearizable (porcupine);
  P6   with lease checkpointing, a lease nobody renews is revoked no earlier
       than its TTL and no later than its TTL + ~5 min per leader change
       (cluster model, grant-only leases, leader churn);
  P7   keys never outlive their lease by more than the revoke backlog allows:
       each runLoop pass revokes min(due, rate/2) leases, in expiry order
       (the leader's lessor);
  P8   no revoke is ever issued by a deposed leader: no lease is revoked
       sooner than its TTL after a keepalive the cluster acknowledged
       (cluster model with raft, a leader's fdatasync blocked, fixed etcd
       releases).

Seed i runs the i-th draw of each generator, so a seed is a complete recipe.
Any failure exits 1.`

const checkExample = `  leasesim check -n 200
  leasesim check --seed 17 -n 1 --html /tmp/lin      # replay one seed, keep porcupine's HTML
  leasesim check -n 50 --mutant ack-after-revoke       # a broken server: LIN must fail
  leasesim check -n 50 --only LIN --mutant renew-expired-at-once  # "not found" before the revocation: LIN must fail
  leasesim check -n 50 --client-version v3.2.23        # the buggy client: P1 must fail
  leasesim check -n 50 --only P6 --mutant promote-full-ttl  # leader changes reset TTLs: P6 must fail
  leasesim check -n 50 --only P8 --mutant deposed-revoke    # a deposed leader revokes: P8 must fail`

type checkOpts struct {
	n, seed                     int
	version, mutant, html, only string
	quiet                       bool
}

func newCheckCmd(stdout, stderr io.Writer) *cobra.Command {
	o := &checkOpts{}
	cmd := &cobra.Command{
		Use:     "check [flags]",
		Short:   "Check properties and linearizability over N seeded random scenarios",
		Long:    checkLong,
		Example: checkExample,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmdCheck(o, stdout, stderr)
		},
	}
	fs := cmd.Flags()
	fs.IntVarP(&o.n, "n", "n", 100, "number of seeds to check")
	fs.IntVar(&o.seed, "seed", 0, "first seed")
	fs.StringVar(&o.version, "client-version", "v3.7.3", "client version for P1 (a pre-fix one makes P1 fail)")
	fs.StringVar(&o.mutant, "mutant", "", "break the cluster's server on purpose: "+model.MutantForms)
	fs.StringVar(&o.html, "html", "", "write porcupine's visualisation of each LIN failure into DIR")
	fs.StringVar(&o.only, "only", "P1,P2,LIN,P6,P7,P8", "comma-separated properties to check")
	fs.BoolVarP(&o.quiet, "quiet", "q", false, "no progress display on stderr")
	return cmd
}

func cmdCheck(o *checkOpts, stdout, stderr io.Writer) error {
	n, seed, version, mutant, htmlDir, only := &o.n, &o.seed, &o.version, &o.mutant, &o.html, &o.only
	if *n < 1 || *n > 1_000_000 {
		return usagef("check: -n %d is out of range; allowed 1 to 1,000,000", *n)
	}
	if *seed < 0 {
		return usagef("check: --seed %d must be >= 0", *seed)
	}
	v, err := clientmodel.ParseVersion(*version)
	if err != nil {
		return usagef("--client-version: %v", err)
	}
	mut, err := model.ParseMutant(*mutant)
	if err != nil {
		return usagef("--mutant: %v", err)
	}
	want := map[string]bool{}
	for _, p := range strings.Split(*only, ",") {
		p = strings.TrimSpace(strings.ToUpper(p))
		if p != "P1" && p != "P2" && p != "LIN" && p != "P6" && p != "P7" && p != "P8" {
			return usagef("--only: %q is not a property; allowed: P1, P2, LIN, P6, P7, P8", p)
		}
		want[p] = true
	}

	p1 := properties.GenP1()
	// P2 needs enough capacity; LIN is most searching where leases expire
	// (scarce CPU, long elections and stalls), so each has its generator.
	capacity := properties.GenCluster(properties.ClusterGen{MaxClients: 300, Headroom: 4, LeaderChanges: 1})
	stress := properties.GenLin()
	churn := properties.GenP6()
	backlog := properties.GenP7()
	deposed := properties.GenP8()
	replay := func(s int) string {
		cmd := fmt.Sprintf("leasesim check --seed %d -n 1 --client-version %s --only %s", s, v.Name, *only)
		if *mutant != "" {
			cmd += " --mutant " + *mutant
		}
		return cmd
	}
	failures := 0
	report := func(s int, prop, msg string) {
		failures++
		fmt.Fprintf(stdout, "FAIL seed %d %s: %s\n  replay: %s\n", s, prop, msg, replay(s))
	}
	var bar *progress
	if !o.quiet {
		bar = newProgress(stderr, *n, "check", "seeds")
	}
	for i := 0; i < *n; i++ {
		s := *seed + i
		if want["P1"] {
			script := p1.Example(s)
			script.Name = fmt.Sprintf("seed-%d", s)
			res, err := scripted.Replay(script, v)
			if err != nil {
				return err
			}
			if viol := properties.CheckP1(script, res); len(viol) > 0 {
				report(s, "P1", fmt.Sprintf("%s (%d violation(s))", viol[0], len(viol)))
			}
		}
		if want["P2"] {
			run, err := properties.RunCluster(capacity.Example(s), nil, mut)
			if err != nil {
				return err
			}
			if run.Expired > 0 {
				report(s, "P2", fmt.Sprintf("%d lease(s) expired, the first at %.3fs (leader CPU peak %.0f%%)", run.Expired, *run.FirstExpiry, 100*run.LeaderCPUPeak))
			}
		}
		if want["LIN"] {
			h := &properties.History{}
			if _, err := properties.RunCluster(stress.Example(s), h.Record, mut); err != nil {
				return err
			}
			{
				model := properties.LeaseModel()
				res, info := porcupine.CheckOperationsVerbose(model, h.Ops, 2*time.Minute)
				if res != porcupine.Ok {
					msg := fmt.Sprintf("history of %d operations is %s", len(h.Ops), res)
					if bad := properties.IllegalLeases(h.Ops); len(bad) > 0 {
						msg += fmt.Sprintf("; lease %d: %s", bad[0], strings.Join(properties.DescribeLease(h.Ops, bad[0], 3), "; "))
					}
					if *htmlDir != "" {
						if err := os.MkdirAll(*htmlDir, 0o755); err != nil {
							return fmt.Errorf("--html: %w", err)
						}
						path := filepath.Join(*htmlDir, fmt.Sprintf("lin-seed%d.html", s))
						if err := porcupine.VisualizePath(model, info, path); err != nil {
							return fmt.Errorf("--html: %w", err)
						}
						msg += "\n  visualisation: " + path
					}
					report(s, "LIN", msg)
				}
			}
		}
		if want["P6"] {
			bad, err := properties.RunP6(churn.Example(s), mut)
			if err != nil {
				return err
			}
			if len(bad) > 0 {
				report(s, "P6", fmt.Sprintf("%s (%d lease(s))", bad[0], len(bad)))
			}
		}
		if want["P7"] {
			if bad := properties.CheckP7(backlog.Example(s), mut); len(bad) > 0 {
				report(s, "P7", bad[0])
			}
		}
		if want["P8"] {
			bad, err := properties.RunP8(deposed.Example(s), mut)
			if err != nil {
				return err
			}
			if len(bad) > 0 {
				report(s, "P8", fmt.Sprintf("%s (%d revocation(s))", bad[0], len(bad)))
			}
		}
		bar.add(1)
	}
	bar.finish()
	fmt.Fprintf(stdout, "%d seeds (%d-%d) checked: %d failure(s)\n", *n, *seed, *seed+*n-1, failures)
	if failures > 0 {
		return errFailed
	}
	return nil
}
