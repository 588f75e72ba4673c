package netsim

import (
	"fmt"
	"testing"
	"time"
)

// Three members: six ordered pairs, each probed first at k x 4 s / 6.
func TestStartProberStaggersThePairs(t *testing.T) {
	n := NewNetwork(NetworkConfig{Members: 3, DialTimeout: 2 * time.Second}, nil)
	var got []string
	for _, o := range n.StartProber(nil) {
		got = append(got, fmt.Sprintf("%v:%d->%d@%v", o.Msg.Kind, o.Msg.From, o.Msg.To, o.At))
	}
	want := "[probe:0->1@666.666666ms probe:0->2@1.333333333s probe:1->0@2s probe:1->2@2.666666666s probe:2->0@3.333333333s probe:2->1@4s]"
	if fmt.Sprint(got) != want {
		t.Fatalf("got %v\nwant %v", got, want)
	}
}
