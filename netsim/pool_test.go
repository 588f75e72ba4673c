package netsim_test

import (
	"testing"

	"github.com/leasesim/leasesim/netsim"
)

// Go's transport, in counts: idle connections are reused; without one, a
// request dials and waits; a freed connection serves the oldest waiter first
// and the dial that lost the race goes idle; a full idle pool closes returns.
func TestPoolReuseDialAndRace(t *testing.T) {
	p := netsim.NewPool(netsim.PoolConfig{MaxIdle: 2})
	if ready, dials := p.Acquire(0, 3); ready != 0 || dials != 3 {
		t.Fatalf("empty pool: ready %d dials %d", ready, dials)
	}
	// One dial completes: the oldest waiter gets it.
	if handed, failed, closed := p.DialDone(10, 1, true); handed != 1 || failed != 0 || closed != 0 {
		t.Fatalf("dial done: %d %d %d", handed, failed, closed)
	}
	// That request completes and frees its connection before the other dials:
	// a waiter takes it (whichever comes first).
	if handed, closed := p.Release(20, 1); handed != 1 || closed != 0 {
		t.Fatalf("release: handed %d closed %d", handed, closed)
	}
	// The two remaining dials finish: one waiter left, the other connection idles.
	if handed, _, closed := p.DialDone(30, 2, true); handed != 1 || closed != 0 || p.Idle() != 1 {
		t.Fatalf("dials done: handed %d closed %d idle %d", handed, closed, p.Idle())
	}
	// Both busy connections return: one fills the pool (2), the next is closed.
	if handed, closed := p.Release(40, 2); handed != 0 || closed != 1 || p.Idle() != 2 {
		t.Fatalf("release into a full pool: handed %d closed %d idle %d", handed, closed, p.Idle())
	}
	if ready, dials := p.Acquire(50, 1); ready != 1 || dials != 0 {
		t.Fatalf("reuse: ready %d dials %d", ready, dials)
	}
}

// A failed dial fails a waiter only when no dial is left for it: the oldest
// dials belong to requests a freed connection already served.
func TestPoolFailedDial(t *testing.T) {
	p := netsim.NewPool(netsim.PoolConfig{})
	p.Acquire(0, 2)        // 2 waiters, 2 dials
	p.DialDone(1, 1, true) // waiter 1 served
	p.Release(2, 1)        // waiter 2 served by the freed connection
	if _, failed, _ := p.DialDone(3, 1, false); failed != 0 {
		t.Fatalf("a failed dial of an already served request failed %d waiters", failed)
	}
	p.Acquire(4, 1) // a waiter whose own dial fails
	p.Release(5, 1)
	p.Acquire(6, 1)
	if _, failed, _ := p.DialDone(7, 1, false); failed != 0 {
		t.Fatalf("failed %d", failed)
	}
	if p.Waiting() != 1 || p.Dialing() != 1 {
		t.Fatalf("waiting %d dialing %d", p.Waiting(), p.Dialing())
	}
	if _, failed, _ := p.DialDone(8, 1, false); failed != 1 {
		t.Fatalf("last dial failed: %d waiters failed, want 1", failed)
	}
}

// The host closes idle connections after IdleClose, oldest first.
func TestPoolIdleExpiry(t *testing.T) {
	p := netsim.NewPool(netsim.PoolConfig{IdleClose: 9})
	p.Acquire(0, 3)
	p.DialDone(0, 3, true)
	p.Release(1, 2)
	p.Release(5, 1)
	if at := p.NextIdleExpiry(); at != 10 {
		t.Fatalf("next expiry %d, want 10", at)
	}
	if n := p.ExpireIdle(10); n != 2 || p.Idle() != 1 || p.NextIdleExpiry() != 14 {
		t.Fatalf("expired %d idle %d next %d", n, p.Idle(), p.NextIdleExpiry())
	}
}

// HTTP/2: one connection carries every request.
func TestPoolMultiplexed(t *testing.T) {
	p := netsim.NewPool(netsim.PoolConfig{Multiplexed: true})
	if ready, dials := p.Acquire(0, 100); ready != 0 || dials != 1 {
		t.Fatalf("first: ready %d dials %d", ready, dials)
	}
	if handed, _, _ := p.DialDone(1, 1, true); handed != 100 {
		t.Fatalf("handed %d", handed)
	}
	if ready, dials := p.Acquire(2, 1000); ready != 1000 || dials != 0 {
		t.Fatalf("later: ready %d dials %d", ready, dials)
	}
}

func TestTimeWaitsExpire(t *testing.T) {
	var tw netsim.TimeWaits
	tw.Add(0, 3)
	tw.Add(int64ToTime(30e9), 2)
	if n := tw.Count(int64ToTime(59e9)); n != 5 {
		t.Fatalf("%d", n)
	}
	if n := tw.Count(int64ToTime(60e9)); n != 2 {
		t.Fatalf("after 60 s: %d", n)
	}
}
