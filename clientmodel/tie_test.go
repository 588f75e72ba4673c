package clientmodel_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/leasesim/leasesim/clientmodel"
	"github.com/leasesim/leasesim/sim"
)

// A response landing on a scan is one race of the real lessor (TieOrder); the
// Client breaks it by its version's rule whichever of the two inputs a
// simulation's kernel delivers first, so the cluster (whichever comes first),
// the idealised server (the scan: its response is scheduled later) and
// scripted.Replay (the response: scheduled when the request is sent) agree.
func TestTieOrderDoesNotDependOnDeliveryOrder(t *testing.T) {
	for _, name := range []string{"v3.7.3", "v3.3.9", "v3.3.8", "v3.2.23"} {
		v := mustVersion(t, name)
		var logs [2]string
		for order := range 2 {
			c := clientmodel.New(clientmodel.Config{Rule: v.Rule, Tie: v.Tie, Consumer: clientmodel.Consumer{Kind: clientmodel.Drain}, ConnectDelay: time.Millisecond})
			var log []string
			var scan clientmodel.Input // the pending scan timer
			var scanAt sim.Time
			step := func(now sim.Time, in clientmodel.Input) {
				for _, o := range c.Step(now, in, nil) {
					if o.Kind == clientmodel.OutTimer && o.Timer == clientmodel.TimerScan {
						scan, scanAt = clientmodel.Input{Kind: clientmodel.InTimer, Timer: o.Timer, Gen: o.Gen}, o.At
						continue
					}
					if o.Kind == clientmodel.OutTimer {
						continue // the deadline does not fire in this test
					}
					log = append(log, fmt.Sprintf("%v %v", now, o.Kind))
				}
			}
			step(0, clientmodel.Input{Kind: clientmodel.InKeepAlive})
			const open = sim.Time(time.Millisecond)
			step(open, clientmodel.Input{Kind: clientmodel.InTimer, Timer: clientmodel.TimerConnect}) // sends at once
			tie := open + sim.Time(clientmodel.ScanInterval)
			response := clientmodel.Input{Kind: clientmodel.InResponse, Gen: 1, TTL: 29}
			if order == 0 {
				step(tie, response)
				step(tie, scan)
			} else {
				step(tie, scan)
				step(tie, response)
			}
			// The two inputs are applied in either order, so their outputs are
			// compared as a set; what follows from them must be the same.
			// After it, the scans (an idle one may come first: the Client re-arms
			// a scan later, not earlier) until the next request.
			slices.Sort(log)
			for n := len(log); len(log) == n; {
				step(scanAt, scan)
			}
			log = append(log, fmt.Sprintf("next keepalive %v", c.NextKeepAlive()))
			logs[order] = fmt.Sprint(log)
			if !slices.Contains(log, fmt.Sprintf("%v request", tie)) {
				t.Errorf("%s, order %d: the scan did not win the tie: %v", name, order, log)
			}
		}
		t.Logf("%s: %s", name, logs[0])
		if logs[0] != logs[1] {
			t.Errorf("%s: response first in the kernel: %s\nscan first in the kernel: %s", name, logs[0], logs[1])
		}
	}
}
