package calibrate

import (
	"context"
	"errors"
	"maps"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
)

const (
	hiccupFile             = "testdata/storm-hiccups-3.7.3.json"
	hiccupBusyFile         = "testdata/storm-hiccups-busy-3.7.3.json"
	hiccupGCOffFile        = "testdata/storm-hiccups-gcoff-3.7.3.json"
	hiccupGOGC400File      = "testdata/storm-hiccups-gogc400-3.7.3.json"
	hiccupGOGC100File      = "testdata/storm-hiccups-gogc100-3.7.3.json"
	hiccupBusyGOGC400File  = "testdata/storm-hiccups-busy-gogc400-3.7.3.json"
	hiccupBusyNice19File   = "testdata/storm-hiccups-busy-nice19-3.7.3.json"
	hiccupAgentGOGC400File = "testdata/storm-hiccups-agent-gogc400-3.7.3.json"
	hiccupBusyProcs1File   = "testdata/storm-hiccups-busy-procs1-3.7.3.json"
)

// hiccupCampaigns: the storm-hiccups campaigns, by their make measure
// WHAT: each one's campaign and saved file. storm-hiccups measures the
// quiet host, storm-hiccups-busy one core busy; the others are
// interventions on them (HiccupCampaign.MemberGOGC, AgentGOGC, BusyNice):
// the members at GOGC 400, at 100 through the same path (the others'
// control on the day), with the collector off; the agent at GOGC 400; the
// busy one with the members at GOGC 400, with its busy loop at nice 19,
// and with the members' GOMAXPROCS at 1.
var hiccupCampaigns = map[string]struct {
	c    HiccupCampaign
	file string
}{
	"storm-hiccups":               {QuietHiccupCampaign, hiccupFile},
	"storm-hiccups-busy":          {BusyHiccupCampaign, hiccupBusyFile},
	"storm-hiccups-gcoff":         {quietWith(func(c *HiccupCampaign) { c.MemberGOGC = -1 }), hiccupGCOffFile},
	"storm-hiccups-gogc400":       {quietWith(func(c *HiccupCampaign) { c.MemberGOGC = 400 }), hiccupGOGC400File},
	"storm-hiccups-gogc100":       {quietWith(func(c *HiccupCampaign) { c.MemberGOGC = 100 }), hiccupGOGC100File},
	"storm-hiccups-agent-gogc400": {quietWith(func(c *HiccupCampaign) { c.AgentGOGC = 400 }), hiccupAgentGOGC400File},
	"storm-hiccups-busy-gogc400":  {busyWith(func(c *HiccupCampaign) { c.MemberGOGC = 400 }), hiccupBusyGOGC400File},
	"storm-hiccups-busy-nice19":   {busyWith(func(c *HiccupCampaign) { c.BusyNice = 19 }), hiccupBusyNice19File},
	"storm-hiccups-busy-procs1":   {busyWith(func(c *HiccupCampaign) { c.MemberProcs = 1 }), hiccupBusyProcs1File},
}

func quietWith(f func(*HiccupCampaign)) HiccupCampaign { c := QuietHiccupCampaign; f(&c); return c }
func busyWith(f func(*HiccupCampaign)) HiccupCampaign  { c := BusyHiccupCampaign; f(&c); return c }

// TestMeasureStormHiccups measures where the calm seconds' hiccups come from
// (hiccups.go) into one of hiccupCampaigns' files (make measure
// WHAT=storm-hiccups, ~5 min; or any other key of hiccupCampaigns).
// LEASESIM_MEASURE=storm-hiccups-smoke runs one short run, takes no lock and
// saves nothing; storm-hiccups-rederive recomputes the saved files' derived
// figures.
func TestMeasureStormHiccups(t *testing.T) {
	what := os.Getenv("LEASESIM_MEASURE")
	campaign, known := hiccupCampaigns[what]
	if !known && what != "storm-hiccups-smoke" && what != "storm-hiccups-rederive" {
		t.Skip("a measurement: set LEASESIM_MEASURE=storm-hiccups to run it")
	}
	if what == "storm-hiccups-rederive" {
		// No cluster: recompute the saved files' derived figures from their
		// series.
		for _, k := range slices.Sorted(maps.Keys(hiccupCampaigns)) {
			f := hiccupCampaigns[k].file
			if _, err := os.Stat(f); errors.Is(err, os.ErrNotExist) {
				continue // not measured yet
			}
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
	holdStormLock(t, est, what)
	c, file := campaign.c, campaign.file
	set, err := RunHiccupCampaign(ctx, clk, c, testWriter{t}, func(set HiccupSet) error {
		saveMeasurement(t, file, set)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("campaign done in %s; pooled %+v", set.Wall, set.Pooled)
}
