package calibrate

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
)

const (
	hiccupFile     = "testdata/storm-hiccups-3.7.3.json"
	hiccupBusyFile = "testdata/storm-hiccups-busy-3.7.3.json"
)

// TestMeasureStormHiccups measures where the calm seconds' hiccups come from
// (hiccups.go) and saves testdata/storm-hiccups-3.7.3.json (make measure
// WHAT=storm-hiccups, ~5 min). LEASESIM_MEASURE=storm-hiccups-smoke runs one
// short run, takes no lock and saves nothing; storm-hiccups-busy measures
// with one core busy (BusyHiccupCampaign) into
// testdata/storm-hiccups-busy-3.7.3.json.
func TestMeasureStormHiccups(t *testing.T) {
	what := os.Getenv("LEASESIM_MEASURE")
	switch what {
	case "storm-hiccups", "storm-hiccups-busy", "storm-hiccups-smoke", "storm-hiccups-rederive":
	default:
		t.Skip("a measurement: set LEASESIM_MEASURE=storm-hiccups to run it")
	}
	if what == "storm-hiccups-rederive" {
		// No cluster: recompute the saved files' derived figures from their
		// series.
		for _, f := range []string{hiccupFile, hiccupBusyFile} {
			var set HiccupSet
			loadMeasurement(t, f, &set)
			set.Rederive()
			saveMeasurement(t, f, set)
		}
		return
	}
	ctx := context.Background()
	clk := clock.New()
	if what == "storm-hiccups-smoke" {
		c := QuietHiccupCampaign
		c.Runs, c.Window = 1, 5*time.Second
		set, err := RunHiccupCampaign(ctx, clk, c, testWriter{t}, func(HiccupSet) error { return nil })
		if err != nil {
			t.Fatal(err)
		}
		r := set.Runs[0]
		for _, s := range r.Seconds {
			t.Logf("t %.1f rtt p99 %.1f ms; member sched %+v gc %.0f ms; agent sched %+v; late %+v; max/10ms %d",
				s.T, s.RTTP99Ms, s.D.MemberSched, s.MemberGCMs, s.D.AgentSched, s.D.Late, s.MaxPer10ms)
		}
		for _, c := range r.MemberCycles {
			t.Logf("member cycle %+v", c)
		}
		t.Logf("agent cycles: %d", len(r.AgentCycles))
		return
	}
	// 3 runs of ~15 s warm-up + 40 s window + cluster start and stop, and up
	// to 30 s each waiting for a quiet host.
	est := time.Duration(HiccupRuns) * 110 * time.Second
	if err := takeStormLock(est, what); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(stormLock) })
	// An interrupt (Ctrl-C, go test's timeout kill aside) must not leave the
	// lock behind to stall the other engineer's work.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)
	go func() {
		if _, ok := <-sig; ok {
			os.Remove(stormLock)
			os.Exit(1)
		}
	}()
	c, file := QuietHiccupCampaign, hiccupFile
	if what == "storm-hiccups-busy" {
		c, file = BusyHiccupCampaign, hiccupBusyFile
	}
	set, err := RunHiccupCampaign(ctx, clk, c, testWriter{t}, func(set HiccupSet) error {
		saveMeasurement(t, file, set)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("campaign done in %s; pooled %+v", set.Wall, set.Pooled)
}
