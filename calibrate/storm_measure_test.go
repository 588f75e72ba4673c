package calibrate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
)

const stormFile = "testdata/storm-3.7.3.json"

// stormLock tells others on the machine that a real measurement runs: they
// pause heavy work while it exists (storm onset is sensitive to background CPU).
const stormLock = "/tmp/leasesim-measuring"

// stormPlan is the campaign: levels (renewals/s offered) per condition, 3
// repeats each. The quiet condition adds 4,000/s if 3,000/s does not storm.
var stormPlan = []struct {
	name       string
	background bool
	levels     []int
}{
	{"quiet", false, []int{1000, 1500, 2000, 3000}},
	{"busy", true, []int{400, 800, 1200, 1600}},
}

const stormRepeats = 3

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
	// Runs: 24-27 of ~85 s each.
	est := time.Duration(len(stormPlan)*4*stormRepeats+stormRepeats) * 95 * time.Second
	if err := takeStormLock(est); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(stormLock) })
	start := time.Now()
	set := StormSet{Etcd: "3.7.3", Go: runtime.Version(), Date: start.UTC().Format("2006-01-02"), Machine: machine(), Cores: runtime.NumCPU(),
		Method: "3 members in this process (embed, 127.0.0.1, peer mTLS RSA); N = renewals/2 leases (TTL 10 s) on the followers only, " +
			"one raw LeaseKeepAlive stream each from an agent process, each renewed on every 500 ms scan whatever the answers (open loop, " +
			"the pre-fix v3.3.8 client once its channel is full), answers read; per-second samples over a 60 s window after a 10 s warm-up; " +
			"busy: a busy-loop process (GOMAXPROCS=1) for the run; each run waits up to 30 s for the host's other CPU to fall under 0.25 cores"}
	save := func() { saveMeasurement(t, stormFile, set) }
	for _, c := range stormPlan {
		cond := StormCondition{Name: c.name, Background: c.background}
		levels := c.levels
		for li := 0; li < len(levels); li++ {
			lv := StormLevel{RenewalsPerS: levels[li]}
			for rep := 1; rep <= stormRepeats; rep++ {
				cfg := StormConfig{RenewalsPerS: lv.RenewalsPerS, Background: c.background, Seed: uint64(rep),
					Name: fmt.Sprintf("storm-%s-%d-r%d", c.name, lv.RenewalsPerS, rep)}
				other, waited, err := waitForQuiet(ctx, clk, 30*time.Second, testWriter{t})
				if err != nil {
					t.Fatal(err)
				}
				r, err := MeasureStorm(ctx, clk, cfg, testWriter{t})
				if err != nil {
					t.Fatalf("%s: %v", cfg.Name, err)
				}
				r.HostOtherBeforeCores, r.WaitedS = other, waited.Round(time.Second).Seconds()
				lv.Runs = append(lv.Runs, r)
				if r.Derived.Stormed {
					lv.Stormed++
				}
				t.Logf("%s: stormed %v, episodes %v, peak %d new conns/s, ESTABLISHED peak %d, RTT p50/p99 %.0f/%.0f ms, server %.2f client %.2f bg %.2f other %.2f cores, lost %d, leader changes %d",
					cfg.Name, r.Derived.Stormed, r.Derived.EpisodeStart, r.Derived.PeakNewConns, r.Derived.PeakEstab, r.RTTP50Ms, r.RTTP99Ms,
					r.Derived.ServerCores, r.Derived.ClientCores, r.Derived.BackgroundCores, r.Derived.OtherCores, r.LeasesLost(), r.LeaderChanges)
				partial := cond
				partial.Levels = append(append([]StormLevel(nil), cond.Levels...), lv)
				set.Conditions = append(append([]StormCondition(nil), set.Conditions...), partial)
				save()
				set.Conditions = set.Conditions[:len(set.Conditions)-1]
			}
			cond.Levels = append(cond.Levels, lv)
			if c.name == "quiet" && li == len(levels)-1 && lv.RenewalsPerS == 3000 && 2*lv.Stormed < len(lv.Runs) {
				levels = append(levels, 4000)
			}
		}
		cond.OnsetPerS = StormOnset(cond.Levels)
		set.Conditions = append(set.Conditions, cond)
	}
	set.Wall = time.Since(start).Round(time.Second).String()
	set.Done = true
	save()
}

// takeStormLock creates the lock file with the expected end time; an
// existing lock (someone else measuring) is an error.
func takeStormLock(d time.Duration) error {
	f, err := os.OpenFile(stormLock, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if errors.Is(err, os.ErrExist) {
		b, _ := os.ReadFile(stormLock)
		return fmt.Errorf("%s exists (%q): another measurement runs; wait for it", stormLock, b)
	}
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = fmt.Fprintf(f, "leasesim storm measurement (make measure WHAT=storm), pid %d, expected to end by %s\n",
		os.Getpid(), time.Now().Add(d).UTC().Format(time.RFC3339))
	return err
}

// testWriter sends progress lines to t.Log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p[:len(p)-min(1, len(p))]))
	return len(p), nil
}
