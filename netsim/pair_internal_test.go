package netsim

import (
	"testing"

	"github.com/leasesim/leasesim/sim"
)

// The follower's ephemeral ports towards the leader: every connection up or
// being dialled, and its own TIME-WAITs.
func TestPortsInUse(t *testing.T) {
	p := &pair{pool: NewPool(PoolConfig{})}
	p.pool.Acquire(0, 5) // five dials: no TCP connection yet
	if n := p.portsInUse(0); n != 5 {
		t.Fatalf("dialling: %d", n)
	}
	p.established, p.handshaking = 3, 3 // three connected, in TLS
	if n := p.portsInUse(0); n != 5 {
		t.Fatalf("handshaking: %d", n)
	}
	p.clientTW.Add(0, 10)
	if n := p.portsInUse(1); n != 15 {
		t.Fatalf("with TIME-WAIT: %d", n)
	}
	if n := p.portsInUse(sim.Time(60e9)); n != 5 {
		t.Fatalf("after TIME-WAIT: %d", n)
	}
}
