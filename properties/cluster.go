package properties

import (
	"fmt"
	"math"
	"time"

	"pgregory.net/rapid"

	"github.com/leasesim/leasesim/model"
	"github.com/leasesim/leasesim/recorder"
	"github.com/leasesim/leasesim/scenario"
	"github.com/leasesim/leasesim/spec"
)

// FixedVersions are fixed-rule client releases, one per modelled line.
var FixedVersions = []string{"v3.7.3", "v3.1.19", "v3.2.24", "v3.3.9", "v3.4.27", "v3.5.21", "v3.6.4"}

// P4MinTTL is the shortest TTL at which an election shorter than the
// election timeout (1 s) cannot cost a fixed client its lease. At etcd's
// minimum, 2 s, it can: the client renews on the first 500 ms scan at least
// TTL/3 after an answer (up to 1 s later at TTL 2 s); an election that starts
// just then holds that renewal for up to 999 ms, so its answer comes up to
// ~2 s after the previous one, past the client's own deadline (TTL after its
// last answer, clientv3 deadlineLoop), and the client gives up on the lease,
// which then expires on the server. From 3 s the renewal goes out at most
// 1.5 s after an answer and its answer comes by 2.5 s, before the deadline.
const P4MinTTL = 3 * time.Second

// ClusterGen describes the cluster scenarios GenCluster draws.
type ClusterGen struct {
	MaxClients int
	// LeaderChanges: 0 for none, else 1 to LeaderChanges leader-change faults,
	// each with an election shorter than the election timeout; the TTL is
	// then at least P4MinTTL (unless MaxElection is set).
	LeaderChanges int
	// MaxElection bounds each election; 0 means 999 ms (shorter than the
	// default 1 s election timeout).
	MaxElection time.Duration
	// Headroom: cores per member are chosen so that the steady renewal load of
	// the busiest member is at most 1/Headroom of its capacity.
	Headroom float64
}

// GenCluster draws cluster scenarios with fixed clients that run in well
// under a second or two of wall time: 1 to MaxClients clients (1-50 half the
// time), TTL 2 s to 1 min, 1-4 min of virtual time, every consumer, 1-7
// members, every placement, transport and TLS mode, start spread up to 30 s,
// and enough cores (see Headroom).
func GenCluster(g ClusterGen) *rapid.Generator[spec.Spec] {
	return rapid.Custom(func(t *rapid.T) spec.Spec {
		s := spec.Spec{
			Name:     "prop",
			Seed:     rapid.Uint64Range(1, 1<<32).Draw(t, "seed"),
			Duration: spec.Duration(rapid.Int64Range(60, 240).Draw(t, "duration_s") * sec),
			Server:   spec.ServerCluster,
		}
		c := &s.Clients
		c.Count = rapid.OneOf(rapid.IntRange(1, 50), rapid.IntRange(50, g.MaxClients)).Draw(t, "clients")
		c.TTL = spec.Duration(rapid.OneOf(rapid.Int64Range(2, 10), rapid.Int64Range(10, 60)).Draw(t, "ttl_s") * sec)
		if g.LeaderChanges > 0 && g.MaxElection == 0 && c.TTL < spec.Duration(P4MinTTL) {
			// Short elections keep every lease only from P4MinTTL up
			// (TestP4MinimumTTLCounterexample); the draws stay the same.
			c.TTL = spec.Duration(P4MinTTL)
		}
		c.Version = rapid.SampledFrom(FixedVersions).Draw(t, "version")
		switch rapid.SampledFrom([]string{"never", "drain", "rate", "stop-after", "stall"}).Draw(t, "consumer") {
		case "never":
			c.Consumer = "never"
		case "drain":
			c.Consumer = "drain"
		case "rate":
			c.Consumer = fmt.Sprintf("rate:%g", rapid.SampledFrom([]float64{0.01, 0.1, 0.5, 1, 10}).Draw(t, "rate"))
		case "stop-after":
			c.Consumer = fmt.Sprintf("stop-after:%d", rapid.IntRange(0, 40).Draw(t, "k"))
		case "stall":
			from := rapid.Int64Range(0, 120).Draw(t, "stall_from_s")
			c.Consumer = fmt.Sprintf("stall:%ds-%ds", from, from+rapid.Int64Range(1, 200).Draw(t, "stall_len_s"))
		}
		c.StartSpread = spec.Duration(rapid.SampledFrom([]int64{0, 1, 10, 30}).Draw(t, "start_spread_s") * sec)
		k := &s.Cluster
		k.Members = rapid.IntRange(1, 7).Draw(t, "members")
		k.Leader = rapid.IntRange(0, k.Members-1).Draw(t, "leader")
		k.Transport = rapid.SampledFrom([]string{"http1", "http2"}).Draw(t, "transport")
		k.TLS = rapid.SampledFrom([]string{"rsa", "ecdsa", "off"}).Draw(t, "tls")
		places := []string{"round-robin", "leader", fmt.Sprintf("member:%d", rapid.IntRange(0, k.Members-1).Draw(t, "member"))}
		if k.Members > 1 {
			places = append(places, "followers")
		}
		c.Placement = rapid.SampledFrom(places).Draw(t, "placement")
		k.Cores = CoresFor(c.Count, c.TTL.D(), c.StartSpread.D(), k.TLS, g.Headroom)
		if g.LeaderChanges > 0 && k.Members > 1 {
			n := rapid.IntRange(1, g.LeaderChanges).Draw(t, "leader_changes")
			at := time.Duration(0)
			leader := k.Leader
			for i := 0; i < n; i++ {
				at += time.Duration(rapid.Int64Range(1_000, 60_000).Draw(t, "change_gap_ms")) * time.Millisecond
				if at >= s.Duration.D() {
					break
				}
				to := rapid.IntRange(0, k.Members-2).Draw(t, "change_to")
				if to >= leader {
					to++
				}
				leader = to
				maxEl := g.MaxElection
				if maxEl == 0 {
					maxEl = 999 * time.Millisecond // shorter than the 1 s election timeout
				}
				el := time.Duration(rapid.Int64Range(0, maxEl.Milliseconds()).Draw(t, "election_ms")) * time.Millisecond
				s.Faults = append(s.Faults, spec.FaultSpec{At: spec.Duration(at), Kind: "leader-change", To: to, Duration: spec.Duration(el)})
				at += el
			}
		}
		return s
	})
}

// CoresFor is the per-member core count at which both the steady renewal load
// of the busiest member (every client on it, each renewing every TTL/3 rounded
// up to the 500 ms scan, at the 96 + 165 µs of a forwarded renewal) and the
// start-up burst of peer TLS handshakes (one per client starting in the same
// second, at the default full-handshake cost) are at most 1/headroom of its
// capacity; at least 1.
func CoresFor(clients int, ttl, spread time.Duration, tls string, headroom float64) float64 {
	interval := (ttl/3/(500*time.Millisecond) + 1) * 500 * time.Millisecond
	perSec := float64(clients) / interval.Seconds()
	load := perSec * (261 * time.Microsecond).Seconds()
	starts := float64(clients) / math.Max(1, spread.Seconds())
	burst := starts * spec.DefaultTLSCosts[tls].ServerFull.Seconds()
	return math.Max(1, math.Ceil(math.Max(load, burst)*headroom))
}

// ClusterRun is what RunCluster observed.
type ClusterRun struct {
	Expired       uint64
	FirstExpiry   *float64
	LeaderCPUPeak float64 // the initial leader's peak per-bucket utilisation
	LeaderCPUMean float64
	Events        uint64
	Wall          time.Duration
}

// RunCluster resolves and runs a cluster spec, with history and mutant set.
func RunCluster(s spec.Spec, history func(recorder.Op), mutant model.Mutant) (ClusterRun, error) {
	r, err := s.Resolve()
	if err != nil {
		return ClusterRun{}, err
	}
	if r.Cluster == nil {
		return ClusterRun{}, fmt.Errorf("not a cluster scenario")
	}
	c := *r.Cluster
	start := time.Now()
	res, err := runWithReads(c, scenario.Options{History: history, Mutant: mutant})
	if err != nil {
		return ClusterRun{}, err
	}
	out := ClusterRun{Expired: res.Summary.LeasesExpired, FirstExpiry: res.Summary.FirstExpiryS, Events: res.Events, Wall: time.Since(start)}
	for _, m := range res.Metrics {
		if m.Name == recorder.CPUUtilisation(c.Leader) {
			var sum float64
			for _, v := range m.Values {
				out.LeaderCPUPeak = max(out.LeaderCPUPeak, v)
				sum += v
			}
			if len(m.Values) > 0 {
				out.LeaderCPUMean = sum / float64(len(m.Values))
			}
		}
	}
	return out, nil
}

// The checker's reads: while a history is recorded, every readEvery of
// virtual time the checker visits the next clients in turn, so that each is
// visited about every readCycle, and reads each visited lease with a Get of
// its key and a TimeToLive, so that a key that survives its lease, or a key
// or lease that vanishes while the lease lives, shows in the history. It
// skips a lease with keepalives in flight: porcupine's search grows
// exponentially with the operations concurrent with a read, and a stalled
// client has dozens in flight (one per 500 ms scan).
const (
	readEvery = 250 * time.Millisecond
	readCycle = 10 * time.Second
)

// runWithReads runs c to its end, with the checker's reads if
// opts.History is set.
func runWithReads(c spec.Cluster, opts scenario.Options) (recorder.Outcome, error) {
	if opts.History == nil {
		return scenario.RunCluster(c, opts, nil)
	}
	s, err := scenario.StartCluster(c, opts, nil)
	if err != nil {
		return recorder.Outcome{}, err
	}
	n := c.Leases() // every lease entry: each process's (clients.restart), each of its leases (clients.leases_per_client)
	next, perTick := 0, min(n, (n*int(readEvery)+int(readCycle)-1)/int(readCycle))
	for s.Now() < c.Duration {
		if err := s.Advance(readEvery); err != nil {
			return recorder.Outcome{}, err
		}
		for range perTick {
			if s.InFlight(next) == 0 {
				s.Read(next, recorder.OpGet)
				s.Read(next, recorder.OpTimeToLive)
			}
			next = (next + 1) % n
		}
	}
	return s.Finish()
}
