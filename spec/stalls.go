package spec

import (
	"sort"
	"time"
)

// Platform stalls (ClusterSpec.PlatformStalls): moments when a round trip
// between a client process and the members' process stalls whatever it
// carries — the two processes' schedulers and collectors and the host's,
// which the model's CPU does not draw. They are measured with gRPC health
// checks, which etcd answers from its health server without touching the
// lease path (server/v3 etcdserver/api/v3rpc/grpc.go:86-88), sent by the
// storm agent to the followers during the storm set's calm levels
// (calibrate.TestMeasureProberRTT, calibrate/testdata/prober-rtt-3.7.3.json:
// 100 checks a second to each follower, 3 runs a host condition): far from
// the prober bursts, the checks' round trips have the same distribution as
// the keepalives' (p99 4-9 ms where the medians are under 1 ms), and their
// slow ones come in episodes. calibrate.TestPlatformStallTables reads the
// episodes (checks over 2 ms whose flights meet), their rate over the calm
// time and their lengths (first send to last answer, less the checks'
// median), and holds the tables below to them.
//
// The model stops the members' one process (cluster.shared_cpu) for each
// stall: its CPU does nothing (model.CPU.Stall), so every request waits
// behind it, forwards hold their peer connections, and with cluster.raft
// the members' raft goroutines wait too. The checks cannot tell the
// members' process from the client's: a stall of the client alone would
// delay the answers without holding a forward. Stalling the members
// brought the grounded storm model's recurrences nearer the measured ones
// (6 of 8 levels; busy 1,600/s within 2x), where delaying the answers alone
// moved none (README, "The calm tail").

// PlatformStalls is one measured stall process: Poisson stalls at PerS a
// second, their lengths at PlatformStallLevels (an inverse distribution
// function, linear between the levels).
type PlatformStalls struct {
	PerS    float64
	Lengths []time.Duration
}

// PlatformStallLevels are the levels of PlatformStalls.Lengths.
var PlatformStallLevels = []float64{0, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1}

// ClusterSpec.PlatformStalls values.
const (
	PlatformStallsNone  = "none"
	PlatformStallsQuiet = "loopback-quiet" // the storm set's quiet host, 1,000 renewals/s
	PlatformStallsBusy  = "loopback-busy"  // with its busy loop on one core, 400 renewals/s
)

// PlatformStallTables are the measured stall processes by name.
var PlatformStallTables = map[string]PlatformStalls{
	// Two runs of three (the other stormed big).
	PlatformStallsQuiet: {PerS: 4.85, Lengths: []time.Duration{991 * us, 1217 * us, 1543 * us, 2487 * us, 4329 * us, 6706 * us, 16673 * us, 19158 * us}},
	// Three runs.
	PlatformStallsBusy: {PerS: 10.55, Lengths: []time.Duration{1416 * us, 1579 * us, 2073 * us, 3653 * us, 4970 * us, 6307 * us, 10179 * us, 28326 * us}},
}

// us: the tables are in microseconds.
const us = time.Microsecond

// LengthAt is the stall length at level u in [0, 1).
func (p PlatformStalls) LengthAt(u float64) time.Duration {
	levels := PlatformStallLevels
	if len(p.Lengths) != len(levels) {
		return 0
	}
	i := max(1, min(sort.SearchFloat64s(levels, u), len(levels)-1)) // levels[i-1] < u <= levels[i]
	f := (u - levels[i-1]) / (levels[i] - levels[i-1])
	return p.Lengths[i-1] + time.Duration(f*float64(p.Lengths[i]-p.Lengths[i-1]))
}
