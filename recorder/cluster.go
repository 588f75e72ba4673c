package recorder

import (
	"time"

	"github.com/leasesim/leasesim/model"
	"github.com/leasesim/leasesim/netsim"
	"github.com/leasesim/leasesim/sim"
)

// ClusterSeries are a cluster run's metrics (names.go): counters fed by the
// members' and the peer network's facts, gauges set by a sample at the end of
// each bucket. The order in which NewClusterSeries names them is their output
// order.
type ClusterSeries struct {
	*Series
	memberFact                             [model.FactDeposedRenewed + 1]int // counter per member fact; -1: none
	netFact                                [netsim.FactProbe + 1]int         // counter per network fact
	received                               []int                             // per member: keepalives received
	keysLost, revokeLag, promote           int
	queueRequests, queueBytes, established int
	timeWaitLeader, timeWaitFollowers      int
	closeWait, idle, busy, waiting         int
	revokesPending                         int
	revokeLags                             [][2]int64 // (ns the keys outlived the lease, leases) per revocation
	// With a raft (TrackLeader): leader changes per bucket, and the member
	// leading at each bucket's end.
	raft                        bool
	changes, leaderNow, demote  int
	revokeStall                 int // with Tracks.RevokeStalls
	grants, clientRevokes, live int // with Tracks.Leases; live -1 without
	// cohort: how many clients each simulated one stands for, and so how
	// many times each fact of a client's request counts (SetCohort).
	cohort float64
}

// NewClusterSeries names a cluster run's metrics, for members members.
func NewClusterSeries(bucket, duration time.Duration, members int) *ClusterSeries {
	x := NewSeries(bucket, duration)
	c := &ClusterSeries{Series: x, live: -1, cohort: 1}
	for i := range c.memberFact {
		c.memberFact[i] = -1
	}
	c.memberFact[model.FactRenewed] = x.Counter(RenewalsAtLeader)
	c.memberFact[model.FactReadIndex] = -1      // Tracks.ReadIndex
	c.memberFact[model.FactDeposedRenewed] = -1 // TrackLeader
	c.memberFact[model.FactForwarded] = x.Counter(ForwardedRenewals)
	c.netFact[netsim.FactNewConn] = x.Counter(NewPeerConnections)
	c.netFact[netsim.FactHandshake] = x.Counter(TLSHandshakes)
	c.netFact[netsim.FactHandshakeTimeout] = x.Counter(TLSHandshakeTimeouts)
	c.netFact[netsim.FactDialError] = x.Counter(DialErrors)
	c.memberFact[model.FactStreamError] = x.Counter(ClientStreamErrors)
	c.memberFact[model.FactShed] = x.Counter(ShedRequests)
	c.keysLost = x.Counter(KeysLost)
	c.netFact[netsim.FactProbe] = x.Counter(ProberConnections)
	c.queueRequests = x.Gauge(LeaderQueueRequests)
	c.queueBytes = x.Gauge(LeaderQueueBytes)
	c.established = x.Gauge(PeerEstablished)
	c.timeWaitLeader = x.Gauge(TimeWaitLeader)
	c.timeWaitFollowers = x.Gauge(TimeWaitFollowers)
	c.closeWait = x.Gauge(CloseWaitLeader)
	c.idle = x.Gauge(PeerIdleConnections)
	c.busy = x.Gauge(PeerBusyConnections)
	c.waiting = x.Gauge(ForwardsWaitingOnConn)
	c.revokesPending = x.Gauge(RevokesPending)
	c.revokeLag = x.Gauge(RevokeLagMax)
	c.promote = x.Gauge(PromoteTime)
	for m := 0; m < members; m++ {
		c.received = append(c.received, x.Counter(KeepalivesReceived(m)))
	}
	return c
}

// SetCohort makes every fact of a client's request count cohort times: a
// fast run's simulated clients each stand for cohort clients
// (spec.Cluster.Cohort). The peer network's facts carry their own counts
// (netsim keeps real connections), and gauges are weighted where they are
// counted (the members' queues, the lessor's entries).
func (c *ClusterSeries) SetCohort(cohort int) { c.cohort = float64(cohort) }

// TrackLeader adds the raft's metrics (cluster.raft): leader changes, the
// leading member, and (Finish) the leading member's CPU.
func (c *ClusterSeries) TrackLeader() {
	c.raft, c.changes, c.leaderNow = true, c.Counter(LeaderChanges), c.Gauge(LeaderMember)
	c.demote = c.Counter(RaftDemoteTime)
	c.memberFact[model.FactDeposedRenewed] = c.Counter(DeposedRenewals)
}

// Tracks names the series only some runs record.
type Tracks struct {
	// ReadIndex: the ReadIndex rounds the leader runs to confirm its
	// leadership before renewals (ReadIndexRounds; releases with
	// model.MemberConfig.RenewReadsIndex).
	ReadIndex bool
	// RevokeStalls: the event writers' revoke stalls (RevokeStallMax).
	RevokeStalls bool
	// Leases: grants, client revokes and the leases live (LeaseGrants,
	// ClientRevokes, LeasesLive).
	Leases bool
}

// Track adds the series t names.
func (c *ClusterSeries) Track(t Tracks) {
	if t.ReadIndex {
		c.memberFact[model.FactReadIndex] = c.Counter(ReadIndexRounds)
	}
	if t.RevokeStalls {
		c.revokeStall = c.Gauge(RevokeStallMax)
	}
	if t.Leases {
		c.grants, c.clientRevokes, c.live = c.Counter(LeaseGrants), c.Counter(ClientRevokes), c.Gauge(LeasesLive)
	}
}

// Granted counts a lease a client granted at now (Tracks.Leases).
func (c *ClusterSeries) Granted(now sim.Time) {
	if c.live >= 0 {
		c.Add(c.grants, now, c.cohort)
	}
}

// ClientRevoked counts n leases a client revoked at now (Tracks.Leases).
func (c *ClusterSeries) ClientRevoked(now sim.Time, n int) {
	if c.live >= 0 {
		c.Add(c.clientRevokes, now, float64(n))
	}
}

// EventRevokes records the event writers' revocations at now (their keys
// deleted, how long they outlived their leases) and the longest apply stall
// they began (Tracks.RevokeStalls).
func (c *ClusterSeries) EventRevokes(now sim.Time, revoked []model.Revoked, stall time.Duration) {
	for _, r := range revoked {
		c.MemberFact(now, 0, &model.Output{Kind: model.OutFact, Fact: model.FactExpired, N: int32(r.N), Keys: int32(r.Keys), At: r.Expiry})
	}
	c.RevokeStall(now, stall)
}

// RevokeStall records an apply stall of d a revocation began at now (Tracks.RevokeStalls).
func (c *ClusterSeries) RevokeStall(now sim.Time, d time.Duration) {
	c.Max(c.revokeStall, now, d.Seconds())
}

// Demoted counts a member's raft goroutine's Demote, begun at now and
// taking cost (model.OutRaftDemoted; TrackLeader).
func (c *ClusterSeries) Demoted(now sim.Time, cost time.Duration) {
	c.Add(c.demote, now, cost.Seconds())
}

// Elected counts a won election, the raft's or a scripted one (TrackLeader).
func (c *ClusterSeries) Elected(now sim.Time) {
	if c.raft {
		c.Add(c.changes, now, 1)
	}
}

// Finish puts each member's CPU utilisation per bucket and, with
// TrackLeader, that of whichever member led at each bucket's end (the
// initial leader's series says nothing of the leader once leadership moved),
// then gives o every series with its peak and last value, and the round
// trips ledger kept (if not nil).
func (c *ClusterSeries) Finish(members []*model.Member, ledger *Ledger, o *Outcome) {
	if ledger != nil {
		o.RTTs, o.Sends = ledger.RTTs, ledger.Sends
	}
	var cpus [][]float64
	for m, mb := range members {
		cpus = append(cpus, mb.CPU().Utilisation())
		c.Put(CPUUtilisation(m), cpus[m])
	}
	if c.raft {
		leader := c.Get(LeaderMember)
		vals := make([]float64, len(leader))
		for i, l := range leader {
			if l >= 0 && i < len(cpus[int(l)]) {
				vals[i] = cpus[int(l)][i]
			}
		}
		c.Put(LeaderCPUUtilisation, vals)
	}
	o.Metrics = c.Metrics()
	o.Peaks, o.Finals = PeaksAndFinals(o.Metrics)
	if len(c.revokeLags) > 0 {
		p := WeightedPercentiles(c.revokeLags)
		o.Summary.RevokeLagMs = &p
	}
	var lag time.Duration
	for _, mb := range members {
		lag = max(lag, mb.ApplyLagMax())
	}
	if lag > 0 {
		s := lag.Seconds()
		o.Summary.ApplyLagMaxS = &s
	}
}

// MemberFact counts a fact member m reported.
func (c *ClusterSeries) MemberFact(now sim.Time, m int, o *model.Output) {
	switch o.Fact {
	case model.FactReceived:
		c.Add(c.received[m], now, c.cohort)
	case model.FactExpired:
		c.Add(c.keysLost, now, float64(o.Keys))
		c.Max(c.revokeLag, now, time.Duration(now-o.At).Seconds())
		c.revokeLags = append(c.revokeLags, [2]int64{int64(now - o.At), int64(o.N)})
	case model.FactPromoted:
		c.Max(c.promote, now, time.Duration(o.At-now).Seconds())
	case model.FactReadIndex: // a round, whatever the renewals it confirms
		if h := c.memberFact[o.Fact]; h >= 0 {
			c.Add(h, now, 1)
		}
	default: // a request's
		if h := c.memberFact[o.Fact]; h >= 0 {
			c.Add(h, now, c.cohort)
		}
	}
}

// NetFact counts a fact the peer network reported n times (n 0: once).
func (c *ClusterSeries) NetFact(now sim.Time, f netsim.Fact, n int32) {
	c.Add(c.netFact[f], now, float64(max(n, 1)))
}

// Footprint is what a bucket-end sample needs beside the network's counts
// and the members: the leader's number (-1 during an election), the bytes one
// queued request and one peer connection hold, and the revokes pending.
type Footprint struct {
	LeaderID                      int
	QueuedRequestBytes, ConnBytes int
	RevokesPending                int
	LeasesLive                    int // with Tracks.Leases
}

// Sample sets the gauges at the end of a bucket, from the peer network's
// totals and the members (the leader's queue, f.LeaderID), and returns the
// peer connections open into the leader: the network's and rafthttp's own,
// open all the time (netsim.RaftConnsPerPeer from each peer).
func (c *ClusterSeries) Sample(now sim.Time, t netsim.Totals, members []*model.Member, f Footprint) (leaderConns int) {
	estab := t.Established
	if f.LeaderID >= 0 {
		lm := members[f.LeaderID]
		estab += netsim.RaftConnsPerPeer * (len(members) - 1)
		streamQueue := lm.Queued() + lm.HeldForRevoke() // as many requests as they stand for
		bytes := lm.CPU().Bytes() + int64(streamQueue)*int64(f.QueuedRequestBytes) + int64(estab)*int64(f.ConnBytes)
		c.Set(c.queueRequests, now, float64(lm.CPU().Jobs()+streamQueue))
		c.Set(c.queueBytes, now, float64(bytes))
	}
	c.Set(c.established, now, float64(estab))
	c.Set(c.timeWaitLeader, now, float64(t.TimeWaitServer))
	c.Set(c.timeWaitFollowers, now, float64(t.TimeWaitClient))
	c.Set(c.closeWait, now, float64(t.CloseWait))
	c.Set(c.idle, now, float64(t.Idle))
	c.Set(c.busy, now, float64(t.Busy))
	c.Set(c.waiting, now, float64(t.Waiting))
	c.Set(c.revokesPending, now, float64(f.RevokesPending))
	if c.raft {
		c.Set(c.leaderNow, now, float64(f.LeaderID))
	}
	if c.live >= 0 {
		c.Set(c.live, now, float64(f.LeasesLive))
	}
	return estab
}
