package calibrate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
)

const stormFile = "testdata/storm-3.7.3.json"

// stormLock tells others on the machine that a real measurement runs: they
// pause heavy work while it exists (storm onset is sensitive to background CPU).
const stormLock = "/tmp/leasesim-measuring"

// TestMeasureStorm runs the storm campaign on a real 3-member etcd 3.7.3
// cluster and saves it to testdata/storm-3.7.3.json (make measure
// WHAT=storm, ~35 min). LEASESIM_MEASURE=storm-smoke runs one short run at
// 2,000/s and saves nothing.
func TestMeasureStorm(t *testing.T) {
	what := os.Getenv("LEASESIM_MEASURE")
	if what != "storm" && what != "storm-smoke" {
		t.Skip("a measurement: set LEASESIM_MEASURE=storm to run it")
	}
	ctx := context.Background()
	clk := clock.New()
	if what == "storm-smoke" {
		r, err := MeasureStorm(ctx, clk, StormConfig{RenewalsPerS: 2000, Window: 10 * time.Second, Warmup: 5 * time.Second,
			Background: os.Getenv("LEASESIM_STORM_BUSY") == "1", Seed: 1}, testWriter{t})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range r.Seconds {
			t.Logf("%+v", s)
		}
		t.Logf("derived %+v", r.Derived)
		t.Logf("rtt p50 %.1f p99 %.1f ms; errors %d, not found %d, lost at end %d, revoked %d, leader changes %d",
			r.RTTP50Ms, r.RTTP99Ms, r.StreamErrorsRun, r.NotFound, r.LostAtEnd, r.LeasesRevoked, r.LeaderChanges)
		return
	}
	// 24-27 runs of ~90 s each, plus up to 30 s each waiting for a quiet host.
	est := time.Duration(len(StormPlan)*4*StormRepeats+StormRepeats) * 120 * time.Second
	if err := takeStormLock(est, "storm"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(stormLock) })
	set, err := RunStormCampaign(ctx, clk, testWriter{t}, func(set StormSet) error {
		saveMeasurement(t, stormFile, set)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("campaign done in %s", set.Wall)
}

// takeStormLock creates the lock file with the expected end time; an
// existing lock (someone else measuring) is an error.
func takeStormLock(d time.Duration, what string) error {
	f, err := os.OpenFile(stormLock, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if errors.Is(err, os.ErrExist) {
		b, _ := os.ReadFile(stormLock)
		return fmt.Errorf("%s exists (%q): another measurement runs; wait for it", stormLock, b)
	}
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = fmt.Fprintf(f, "leasesim storm measurement (make measure WHAT=%s), pid %d, expected to end by %s\n",
		what, os.Getpid(), time.Now().Add(d).UTC().Format(time.RFC3339))
	return err
}

// holdStormLock takes the measurement lock for the test (takeStormLock)
// and gives it back when the test ends or is interrupted: an interrupt
// (Ctrl-C, go test's timeout kill aside) must not leave the lock behind to
// stall the other engineer's work.
func holdStormLock(t *testing.T, d time.Duration, what string) {
	t.Helper()
	if err := takeStormLock(d, what); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(stormLock) })
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	t.Cleanup(func() { signal.Stop(sig); close(sig) })
	go func() {
		if _, ok := <-sig; ok {
			os.Remove(stormLock)
			os.Exit(1)
		}
	}()
}

// testWriter sends progress lines to t.Log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p[:len(p)-min(1, len(p))]))
	return len(p), nil
}
