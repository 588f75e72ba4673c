package calibrate

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
)

// onsetTraceCampaigns: the onset-trace measurements, by their make measure
// WHAT: the busy machine's storm run at 800/s with the members' process at
// GOMAXPROCS 1 (its storms start on one whole core: storm-hiccups-busy-
// procs1) and as it is (storm-hiccups-busy), and the quiet host's at
// 1,500/s, 3 runs of 40 s each.
var onsetTraceCampaigns = map[string]struct {
	c    HiccupCampaign
	file string
}{
	"storm-onset-trace-busy-procs1": {busyWith(func(c *HiccupCampaign) { c.MemberProcs = 1 }), "testdata/storm-onset-trace-busy-procs1-3.7.3.json"},
	"storm-onset-trace-busy":        {BusyHiccupCampaign, "testdata/storm-onset-trace-busy-3.7.3.json"},
	"storm-onset-trace-quiet":       {quietWith(func(c *HiccupCampaign) { c.RenewalsPerS = OnsetTraceQuietRenewalsPerS }), "testdata/storm-onset-trace-quiet-3.7.3.json"},
}

// OnsetTraceQuietRenewalsPerS: the quiet host's onset-trace level, where
// the storm set's big storms start (1,500/s: 3 of 3 runs).
const OnsetTraceQuietRenewalsPerS = 1500

// TestMeasureOnsetTrace traces the members' process around storm onsets
// (onset_trace.go; make measure WHAT=storm-onset-trace-busy-procs1, ~5
// min). LEASESIM_ONSET_TRACE_KEEP=DIR keeps the raw traces there (go tool
// trace reads them).
func TestMeasureOnsetTrace(t *testing.T) {
	what := os.Getenv("LEASESIM_MEASURE")
	campaign, known := onsetTraceCampaigns[what]
	if !known {
		t.Skip("a measurement: set LEASESIM_MEASURE=storm-onset-trace-busy-procs1 to run it")
	}
	if err := takeStormLock(time.Duration(campaign.c.Runs)*110*time.Second, what); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(stormLock) })
	keep := os.Getenv("LEASESIM_ONSET_TRACE_KEEP")
	set, err := MeasureOnsetTraces(context.Background(), clock.New(), campaign.c, keep, testWriter{t}, func(s OnsetTraceSet) error {
		saveMeasurement(t, campaign.file, s)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("done in %s", set.Wall)
}
