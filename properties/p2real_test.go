package properties

import (
	"fmt"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/leasesim/leasesim/clientmodel/realclient"
	"github.com/leasesim/leasesim/clientmodel/scripted"
)

// P2 for the real go.etcd.io/etcd/client/v3 (under testing/synctest): with a
// server that answers in time (GenP1's scripts: every answer within 500 ms,
// stream resets, every consumer — a channel that fills up included), no lease
// would ever expire at a server that expires leases not renewed within their
// TTL: from KeepAlive to the end, every gap between two requests the server
// receives is shorter than the TTL, and the client never gives up on its own.
// Scripts that revoke a lease are left out (the server ends those on purpose).
// Budget: 200 scripts.
func TestP2RealClient(t *testing.T) {
	gen := GenP1()
	withChecks(t, 200, func() {
		rapid.Check(t, func(rt *rapid.T) {
			s := gen.Draw(rt, "script")
			for i := range s.Leases {
				s.Leases[i].RevokeAt = 0
			}
			got := realclient.Run(t, s)
			for i, l := range s.Leases {
				if err := p2Gaps(l, got.Leases[i], s.DurationNs); err != nil {
					rt.Fatalf("P2 fails for the real client %s: %v\n%s", realclient.Version, err, FormatScript(s))
				}
			}
		})
	})
}

// p2Gaps checks one lease: requests at most TTL apart from KeepAlive to the
// end of the run, and the channel never closed.
func p2Gaps(l scripted.Lease, r scripted.LeaseResult, end int64) error {
	if l.StartNs >= end {
		return nil
	}
	ttl := l.TTLs * int64(time.Second)
	prev := l.StartNs // the grant
	for _, at := range append(scripted.Expand(r.Requests), end) {
		if at-prev >= ttl {
			return fmt.Errorf("lease %d: no request between %v and %v, a gap of a TTL (%ds) or more", l.ID, time.Duration(prev), time.Duration(at), l.TTLs)
		}
		prev = at
	}
	if r.Closed >= 0 {
		return fmt.Errorf("lease %d: the client closed its channel at %v", l.ID, time.Duration(r.Closed))
	}
	return nil
}

// p2Gaps has teeth: a lease whose requests stop is caught.
func TestP2GapsTeeth(t *testing.T) {
	l := scripted.Lease{ID: 1, TTLs: 10}
	ok := scripted.LeaseResult{Requests: scripted.Compress([]int64{1e9, 5e9, 9e9}), Closed: -1}
	if err := p2Gaps(l, ok, 12e9); err != nil {
		t.Fatal(err)
	}
	if err := p2Gaps(l, ok, 19e9+1); err == nil {
		t.Fatal("a 10 s gap before the end passed")
	}
	closed := ok
	closed.Closed = 3e9
	if err := p2Gaps(l, closed, 12e9); err == nil {
		t.Fatal("a closed channel passed")
	}
}
