// Package model is the etcd server side of a simulation: the lease server that
// answers keepalives and expires leases.
//
// So far it holds IdealServer, a server with no capacity limit and a fixed
// round-trip time, used to study the client on its own. Members, the leader's
// lessor with finite CPU and queues, and peer forwarding build on it.
//
// To learn what a member does, read testdata/*.txt: datadriven transcripts
// (TestMemberTranscripts) that drive one Member, its CPU and a Lessor with
// inputs — a direct and a forwarded renewal, the retry loop, ReqTimeout, an
// election with Promote, the bounded leader queue, the mutants — and show
// every output with its time. Rewrite them with
// `go test ./model -run TestMemberTranscripts -rewrite` and read the diff.
package model
