// Package netsim is the network between etcd members as leasesim needs it,
// as a state machine (Network: Step in, outputs out; time is an input, the
// links' jitter a random stream handed in at construction).
//
// Terms:
//   - Pair: one member's peer connections towards another, seen from both
//     ends: the client side (a follower's round tripper) and the server side
//     (the peer's listener).
//   - Pool (pool.go): Go's net/http.Transport idle-connection pool towards one
//     host with etcd's settings, in counts; or one multiplexed HTTP/2
//     connection.
//   - Dial: a new connection: TCP connect, then (with TLS) a mutual-TLS
//     handshake whose CPU the Network asks the wiring to charge to a member
//     (OutCPU), bounded by TLSHandshakeTimeout.
//   - TIME-WAIT, CLOSE-WAIT (tcp.go): sockets as `ss` counts them on each side.
//   - Link: the delay, jitter and partitions between members.
//   - Forward: a follower's LeaseRenew request to the leader (package model's
//     Member hands it over; netsim does not import model, nor model netsim).
//   - Cohort (NetworkConfig.Cohort): in the fast mode a forward stands for
//     that many forwards of clients in lockstep. Connections stay real: it
//     takes that many from the pool, waits until it has them all, and a
//     dial may be of several connections at once (one set of events, its CPU
//     work Output.N times).
//
// Constants of Go's HTTP transport, rafthttp and Linux are in pool.go, each
// with its source.
//
// To learn what the peer transport does, read testdata/*.txt: datadriven
// transcripts (TestNetworkTranscripts) that drive one Network with forwards,
// replies, cancels, partitions and probes and show every output with its
// time and the connection counts of a member pair — a pooled forward, a burst
// past the idle pool, a TLS handshake timeout leaving CLOSE-WAIT, the read
// deadline close, idle expiry, partitions, HTTP/2, the prober, cohorts. Rewrite them
// with `go test ./netsim -run TestNetworkTranscripts -rewrite`.
package netsim
