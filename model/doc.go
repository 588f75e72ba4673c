// Package model is the etcd server side of a simulation: the lease server that
// answers keepalives and expires leases.
//
// So far it holds IdealServer, a server with no capacity limit and a fixed
// round-trip time, used to study the client on its own. Members, the leader's
// lessor with finite CPU and queues, and peer forwarding build on it.
package model
