package spec_test

import (
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/leasesim/leasesim/spec"
)

// connect_delay, rtt, peer_rtt and max_events can be asked for as 0, in a
// file and by flag; left out they get their defaults. (Before, 0 meant
// "default": --connect-delay 0s and --rtt 0s ran with 100us and 1ms, and the
// summary said "client round trip 1ms".)
func TestOptionalZeroes(t *testing.T) {
	const head = "name: z\nduration: 10s\nclients:\n  count: 3\n  ttl: 5s\n  version: v3.7.3\n  consumer: drain\n"
	resolve := func(t *testing.T, s spec.Spec) *spec.Cluster {
		t.Helper()
		r, err := s.Resolve()
		if err != nil {
			t.Fatal(err)
		}
		return r.Cluster
	}
	load := func(t *testing.T, yaml string) spec.Spec {
		t.Helper()
		s, err := spec.Parse([]byte(yaml), "z.yaml")
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	def := resolve(t, load(t, head+"cluster:\n  members: 3\n  cores: 2\n"))
	if def.ConnectDelay != spec.DefaultConnectDelay || def.ClientRTT != time.Millisecond || def.PeerRTT != 500*time.Microsecond || def.MaxEvents != spec.DefaultMaxEvents {
		t.Errorf("left out: connect delay %v, rtt %v, peer rtt %v, max events %d; want the defaults", def.ConnectDelay, def.ClientRTT, def.PeerRTT, def.MaxEvents)
	}

	zeroYAML := load(t, head+"  connect_delay: 0s\n  rtt: 0s\ncluster:\n  members: 3\n  cores: 2\n  peer_rtt: 0s\nlimits:\n  max_events: 0\n")
	fromFlags := load(t, head+"cluster:\n  members: 3\n  cores: 2\n")
	for flag, v := range map[string]string{"connect-delay": "0s", "rtt": "0", "peer-rtt": "0s", "max-events": "0"} {
		if err := spec.ApplyFlag(&fromFlags, flag, v); err != nil {
			t.Fatal(err)
		}
	}
	for name, s := range map[string]spec.Spec{"yaml": zeroYAML, "flags": fromFlags} {
		c := resolve(t, s)
		if c.ConnectDelay != 0 || c.ClientRTT != 0 || c.PeerRTT != 0 || c.MaxEvents != 0 {
			t.Errorf("%s: connect delay %v, rtt %v, peer rtt %v, max events %d; want all 0", name, c.ConnectDelay, c.ClientRTT, c.PeerRTT, c.MaxEvents)
		}
		if sum := s.Summary(); !strings.Contains(sum, "client round trip 0s, peer round trip 0s") {
			t.Errorf("%s: summary %q", name, sum)
		}
	}

	// An explicit 0 survives a YAML round trip, and ApplyDefaults keeps it.
	data, err := yaml.Marshal(zeroYAML)
	if err != nil {
		t.Fatal(err)
	}
	back := load(t, string(data))
	back.ApplyDefaults()
	if c := resolve(t, back); c.ClientRTT != 0 || c.MaxEvents != 0 {
		t.Errorf("round trip: rtt %v, max events %d\n%s", c.ClientRTT, c.MaxEvents, data)
	}

	// A flag on a copy does not write through a pointer the original shares.
	base := load(t, head+"  rtt: 2ms\ncluster:\n  members: 3\n  cores: 2\n")
	variant := base
	if err := spec.ApplyFlag(&variant, "rtt", "7ms"); err != nil {
		t.Fatal(err)
	}
	if base.Clients.RTT.D() != 2*time.Millisecond || variant.Clients.RTT.D() != 7*time.Millisecond {
		t.Errorf("base rtt %v, variant %v", base.Clients.RTT, variant.Clients.RTT)
	}
}
