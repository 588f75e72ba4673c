package calibrate

import (
	"fmt"
	"sort"
	"time"
)

// Sets are named groups of runs: "ci" is the CI-sized agreement check,
// "smoke" two short runs that exercise --fit end to end (too short for a
// fit worth keeping), "reference" the reference measurement, "full"
// what `make calibrate` runs to fit the shipped parameter file.
var Sets = map[string]func() []Config{
	"ci": func() []Config {
		return []Config{{Name: "ci-30-ttl5-spread", Clients: 30, TTL: 5 * time.Second, Placement: "spread", Window: 20 * time.Second}}
	},
	"smoke": func() []Config {
		return []Config{
			{Name: "smoke-leader", Clients: 20, TTL: 5 * time.Second, Placement: "leader", Window: 4 * time.Second},
			{Name: "smoke-followers", Clients: 20, TTL: 5 * time.Second, Placement: "followers", Window: 4 * time.Second},
		}
	},
	"reference": func() []Config {
		return []Config{{Name: "ref-500-ttl5-spread", Clients: 500, TTL: 5 * time.Second, Placement: "spread", Window: 30 * time.Second}}
	},
	"full": func() []Config {
		var out []Config
		for _, ttl := range []time.Duration{5 * time.Second, 30 * time.Second, 60 * time.Second} {
			// At least 30 s and 3 renew periods: the window is whole periods.
			w := max(30*time.Second, 3*RenewPeriod(ttl))
			for _, n := range []int{50, 500} {
				for _, pl := range []string{"leader", "followers", "spread"} {
					out = append(out, Config{Name: fmt.Sprintf("%d-ttl%s-%s", n, ttl, pl), Clients: n, TTL: ttl, Placement: pl, Window: w})
				}
			}
		}
		return out
	},
}

// StormSetName is the storm campaign's set (StormPlan, RunStormCampaign):
// not a list of Configs, so not in Sets; `leasesim calibrate --set storm`
// runs it, or with --from replays a saved one.
const StormSetName = "storm"

// SetNames lists the sets, the storm set included, sorted.
func SetNames() []string {
	s := []string{StormSetName}
	for k := range Sets {
		s = append(s, k)
	}
	sort.Strings(s)
	return s
}
