package model

import (
	"time"

	"github.com/leasesim/leasesim/sim"
)

// IdealServer is an etcd lease server with unlimited capacity: every renewal is
// applied the instant it arrives, and a lease not renewed within its TTL expires
// at that instant and is revoked at once (no revoke-rate limit).
//
// Semantics follow go.etcd.io/etcd/server/v3 v3.7.3 lease/: Renew refreshes the
// expiry to now + TTL (lease.go:84-89 via lessor.go:449) and answers the lease's
// TTL; a lease is expired when its remaining time is <= 0 (lease.go:51-53,
// 117-124); a renewal of a lease that is gone answers TTL 0 (v3rpc/lease.go
// leaseKeepAlive maps lease.ErrLeaseNotFound to ttl = 0).
//
// Leases are identified by a dense index chosen by the caller.
type IdealServer struct {
	leases []idealLease
}

type idealLease struct {
	ttl     time.Duration
	expiry  sim.Time
	checkAt sim.Time // the armed expiry check, or -1
	gone    bool
}

// NewIdealServer returns a server for n leases, none granted yet.
func NewIdealServer(n int) *IdealServer {
	s := &IdealServer{leases: make([]idealLease, n)}
	for i := range s.leases {
		s.leases[i].checkAt = -1
		s.leases[i].gone = true
	}
	return s
}

// Grant creates lease i with the given TTL at now and returns when to call
// Check for it.
func (s *IdealServer) Grant(now sim.Time, i int, ttl time.Duration) sim.Time {
	l := &s.leases[i]
	*l = idealLease{ttl: ttl, expiry: now + sim.Time(ttl), checkAt: now + sim.Time(ttl)}
	return l.checkAt
}

// Renew applies a keepalive for lease i arriving at now and returns the TTL to
// answer, in whole seconds; 0 means the lease is gone, which the client treats as
// revoked (clientv3 lease.go:534-539).
func (s *IdealServer) Renew(now sim.Time, i int) int64 {
	l := &s.leases[i]
	if l.gone || now >= l.expiry {
		return 0
	}
	l.expiry = now + sim.Time(l.ttl)
	return int64(l.ttl / time.Second)
}

// Check is the armed expiry check for lease i. It reports whether the lease
// expired now, and otherwise when to check again (or -1 for never).
func (s *IdealServer) Check(now sim.Time, i int) (expired bool, again sim.Time) {
	l := &s.leases[i]
	if l.gone || now != l.checkAt {
		return false, -1 // a stale check
	}
	if now >= l.expiry {
		l.gone = true
		l.checkAt = -1
		return true, -1
	}
	l.checkAt = l.expiry
	return false, l.checkAt
}

// Alive reports whether lease i exists.
func (s *IdealServer) Alive(i int) bool { return !s.leases[i].gone }
