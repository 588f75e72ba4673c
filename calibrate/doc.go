// Package calibrate sets leasesim beside the real thing: it starts a real
// etcd cluster in this process (go.etcd.io/etcd/server/v3/embed, 127.0.0.1
// only, peer mutual TLS with certificates made for the run), runs real
// go.etcd.io/etcd/client/v3 clients in a child process (the agent, this
// binary re-executed: server and client CPU are then measured apart), measures
// what happened, simulates the same scenario and lines the two up.
//
// Measured, over a window of whole renew periods after a warm-up:
//   - keepalives per second, client side (a gRPC stream interceptor times
//     every request and response) and server side (etcd's Prometheus
//     counters; the members share one registry, so these are cluster totals
//     and the per-member split comes from which member each client uses);
//   - renew intervals and RTTs, per lease;
//   - server CPU (this process, getrusage) and client CPU (/proc/PID/stat),
//     with an idle baseline before the clients start (20 s: the cluster's
//     first seconds after the election are not steady), on which the
//     prediction of the loaded CPU stands (predict.go); and the CPU of other
//     processes on the host, which Measure first waits to fall quiet;
//   - peer connections into the leader's peer port by TCP state
//     (/proc/net/tcp), new ones, and the host's TCP opens (/proc/net/snmp);
//   - leases revoked and keys missing at the end.
//
// The storm measurement (storm.go, stormagent.go; `make measure WHAT=storm`,
// `leasesim calibrate --set storm`) runs the storm experiment instead
// of clientv3 clients: open-loop renewals on raw LeaseKeepAlive streams to the
// followers, sampled every second (new and ESTABLISHED peer connections into
// the leader, RTT, the CPU of the members, the agent, a busy-loop background
// process and the rest of the host, stream errors, lost leases, leader
// changes), and derives from the per-second series whether a run stormed
// (a second with more than 10 new peer connections, the model's rule), its
// storm episodes and their recurrence. storm.go defines the terms;
// SimulateStorm reads leasesim's run of the same scenario the same way.
//
// The storm-hiccups measurement (hiccups.go, rtmetrics.go; `make measure
// WHAT=storm-hiccups`) runs the storm load below its onset and records
// beside each second's RTT the members' and the agent's Go runtime
// (runtime/metrics: scheduler latency, GC pauses, GC cycles and their mark
// CPU) and each send's lateness against the agent's 500 ms grid, to find
// which of them the calm seconds' RTT hiccups coincide with. hiccups.go
// defines the terms.
//
// The prober-RTT measurement (proberrtt.go, proberrtt_measure_test.go;
// `make measure WHAT=prober-rtt`) runs the storm set's calm levels again
// and profiles every send's round trip against the prober bursts and the
// run's own samples (ProfileProberRTT, which SimulateStorm applies to the
// model alike), beside gRPC health checks that time the platform without
// the lease path; platform_test.go reads the checks' stalls into
// spec.PlatformStallTables. proberrtt.go defines the terms.
//
// The host-speed measurement (hostspeed_test.go; `make measure
// WHAT=host-speed`) times fixed single-threaded workloads in process CPU
// time alone and beside the storm set's busy loop: how much slower a thread
// runs while the other vCPU is busy (a parameter file's
// host.all_busy_speed).
//
// FitCosts turns several runs into the model's CPU costs and Fit.Params into
// a parameter file scenarios load (spec.LoadParams).
//
// Wall-clock code (sampling, waits, timeouts) takes a clock.Clock
// (github.com/benbjohnson/clock) so that its logic is tested with a mock; the
// simulation it compares against never reads a wall clock.
package calibrate
