package spec

import (
	"fmt"
	"time"
)

// Spec.Resolve is the one validator, and its errors name the field and the
// line; the wiring that runs an Ideal or a Cluster does not validate again.
// Assert guards what the wiring relies on (what would index out of range or
// schedule into the past) against a value built by hand without Resolve. A
// failure is a programming error, so it panics.

// Assert panics if c is not a value Resolve could have made.
func (c Ideal) Assert() {
	must(c.Clients >= 1, "Ideal.Clients %d < 1", c.Clients)
	must(c.TTL >= time.Second, "Ideal.TTL %v < 1s", c.TTL)
	must(c.Duration > 0, "Ideal.Duration %v <= 0", c.Duration)
	must(c.RTT >= 0 && c.ConnectDelay >= 0 && c.StartSpread >= 0 && c.Bucket >= 0,
		"Ideal: negative RTT %v, ConnectDelay %v, StartSpread %v or Bucket %v", c.RTT, c.ConnectDelay, c.StartSpread, c.Bucket)
}

// Assert panics if c is not a value Resolve could have made.
func (c Cluster) Assert() {
	must(c.Clients >= 1, "Cluster.Clients %d < 1", c.Clients)
	must(c.TTL >= time.Second, "Cluster.TTL %v < 1s", c.TTL)
	must(c.Duration > 0 && c.Bucket > 0, "Cluster.Duration %v or Bucket %v <= 0", c.Duration, c.Bucket)
	must(c.Members >= 1 && c.Leader >= 0 && c.Leader < c.Members, "Cluster.Leader %d is not one of %d members", c.Leader, c.Members)
	must(c.Cores > c.Costs.IdleCores, "Cluster.Cores %v leave nothing above Costs.IdleCores %v", c.Cores, c.Costs.IdleCores)
	must(c.ClientRTT >= 0 && c.PeerRTT >= 0 && c.PeerJitter >= 0 && c.ConnectDelay >= 0 && c.StartSpread >= 0,
		"Cluster: negative ClientRTT %v, PeerRTT %v, PeerJitter %v, ConnectDelay %v or StartSpread %v",
		c.ClientRTT, c.PeerRTT, c.PeerJitter, c.ConnectDelay, c.StartSpread)
	for i, f := range c.Faults {
		must(f.At >= 0 && f.Duration >= 0, "Cluster.Faults[%d]: negative At %v or Duration %v", i, f.At, f.Duration)
		must(f.Kind != FaultPartition || (f.Member >= 0 && f.Member < c.Members), "Cluster.Faults[%d]: member %d is not one of %d", i, f.Member, c.Members)
		must(f.Kind != FaultLeaderChange || (f.To >= 0 && f.To < c.Members), "Cluster.Faults[%d]: member %d is not one of %d", i, f.To, c.Members)
	}
}

func must(ok bool, format string, args ...any) {
	if !ok {
		panic(fmt.Sprintf("spec: precondition failed (use Spec.Resolve, the validator): "+format, args...))
	}
}
