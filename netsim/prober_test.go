package netsim

import (
	"fmt"
	"testing"
	"time"

	"github.com/leasesim/leasesim/sim"
)

// Three members: each probes both its peers at its own phase.
func TestStartProberProbesAMembersPeersAtOnce(t *testing.T) {
	n := NewNetwork(NetworkConfig{Members: 3, DialTimeout: 2 * time.Second}, nil)
	var got []string
	for _, o := range n.StartProber([]sim.Time{sim.Time(time.Second), sim.Time(4 * time.Second), sim.Time(2500 * time.Millisecond)}, nil) {
		got = append(got, fmt.Sprintf("%v:%d->%d@%v", o.Msg.Kind, o.Msg.From, o.Msg.To, o.At))
	}
	want := "[probe:0->1@1s probe:0->2@1s probe:1->0@4s probe:1->2@4s probe:2->0@2.5s probe:2->1@2.5s]"
	if fmt.Sprint(got) != want {
		t.Fatalf("got %v\nwant %v", got, want)
	}
}
