package scenario_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/leasesim/leasesim/clientmodel"
	"github.com/leasesim/leasesim/clientmodel/scripted"
	"github.com/leasesim/leasesim/scenario"
	"github.com/leasesim/leasesim/spec"
)

// The tie case (TTL 29 s, drain, every reply exactly 500 ms after its
// request, 2 h) in every path that drives the client model: the idealised
// server (the CLI's `run --rtt 500ms`), a one-member cluster whose leader
// answers in 1 ms over a 499 ms round trip, and scripted.Replay. Each reply
// lands on a 500 ms scan; the version's tie rule (clientmodel.TieOrder: the
// scan first) decides it inside the Client, so all three send 1,310 requests
// (the real v3.7.3: 1,306-1,310 in 40 runs). Before the rule, the kernels'
// same-instant order decided it: the idealised server and the cluster let the
// scan win (1,310), the replay the response (686).
func TestTieBrokenAlikeInEveryPath(t *testing.T) {
	for _, version := range []string{"v3.7.3", "v3.3.9"} {
		ideal := fmt.Sprintf(`name: tie-ideal
seed: 1
duration: 2h
server: ideal
clients: {count: 1, ttl: 29s, version: %s, consumer: drain, rtt: 500ms}
`, version)
		cluster := fmt.Sprintf(`name: tie-cluster
seed: 1
duration: 2h
server: cluster
clients: {count: 1, ttl: 29s, version: %s, consumer: drain, placement: leader, rtt: 499ms}
cluster: {members: 1, cores: 1, leader: 0}
costs: {direct_renewal: 1ms, idle_cores: 0}
`, version)
		got := map[string]uint64{}
		for name, y := range map[string]string{"ideal": ideal, "cluster": cluster} {
			s, err := spec.LoadBytes([]byte(y), name+".yaml")
			if err != nil {
				t.Fatal(err)
			}
			o, err := scenario.Run(context.Background(), s, nil)
			if err != nil {
				t.Fatal(err)
			}
			got[name] = o.Summary.RequestsTotal
		}
		v, err := clientmodel.ParseVersion(version)
		if err != nil {
			t.Fatal(err)
		}
		r, err := scripted.Replay(scripted.TieCase(), v)
		if err != nil {
			t.Fatal(err)
		}
		got["replay"] = uint64(len(scripted.Expand(r.Leases[0].Requests)))
		for _, path := range []string{"ideal", "cluster", "replay"} {
			if got[path] != 1310 {
				t.Errorf("%s: requests in 2 h: %v; want 1,310 in every path", version, got)
				break
			}
		}
	}
}
