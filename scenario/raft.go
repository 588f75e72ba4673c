package scenario

import (
	"slices"

	"github.com/leasesim/leasesim/model"
	"github.com/leasesim/leasesim/sim"
)

// raftWiring connects the cluster's raft (model.Raft, with cluster.raft) to
// the kernel, the peer links and the members' election path. Without
// cluster.raft r is nil, every hook does nothing and no series is added, so
// such a run is what it was before raft was simulated.
type raftWiring struct {
	r *model.Raft
	// links draws the raft messages' link jitter, apart from the forwards'
	// stream so that heartbeats do not shift their draws.
	links *sim.Rand
	out   []model.RaftOutput
}

// startRaft builds the raft at time 0 and arms the members' tickers.
func (s *Sim) startRaft() {
	if !s.cfg.Raft {
		return
	}
	s.raft.r, s.raft.links = s.cfg.NewRaft(s.members, s.lessor)
	s.ser.TrackLeader()
	s.routeRaft(s.k.Now(), s.raft.r.Start(s.raft.out[:0]))
}

// stepRaft steps the raft and routes its outputs. The election path it
// feeds (leaderLost, elected) steps members only, never the raft, so one
// output buffer serves.
func (s *Sim) stepRaft(now sim.Time, in model.RaftInput) {
	if s.raft.r != nil {
		s.routeRaft(now, s.raft.r.Step(now, in, s.raft.out[:0]))
	}
}

func (s *Sim) routeRaft(now sim.Time, out []model.RaftOutput) {
	s.raft.out = out
	for i := range out {
		o := &out[i]
		switch o.Kind {
		case model.OutRaftWake:
			s.k.Schedule(o.At, raftEvent(o.In))
		case model.OutRaftSend:
			if at, ok := s.net.RaftArrival(o.At, int(o.Msg.From), int(o.Msg.To), s.raft.links); ok {
				s.k.Schedule(at, raftEvent(model.RaftInput{Kind: model.InRaftRecv, Msg: o.Msg}))
			}
		case model.OutRaftLeaderLost:
			s.leaderLost(now)
		case model.OutRaftElected:
			s.elected(now, int(o.Member))
		case model.OutRaftDemoted:
			s.ser.Demoted(now, o.Cost)
		}
	}
}

// revokeRaftWait is when, with cluster.raft, the LeaseRevoke proposals of a
// runLoop pass at now can commit at the earliest, past the network's round
// trip (model.MemberConfig.RevokeCommit): a proposal is committed once a
// quorum's acknowledgements have been read, and each read waits for a raft
// goroutine to run (model.Raft.SchedDelay): the followers' stream readers,
// woken by the netpoller (the quorum's fastest, the leader counting as
// one), then the leader's on the answers' arrival; now for a one-member
// cluster; 0 without raft.
func (s *Sim) revokeRaftWait(now sim.Time) sim.Time {
	if s.raft.r == nil {
		return 0
	}
	var follower []sim.Time
	for m := range s.members {
		if m != s.leader {
			follower = append(follower, s.raft.r.SchedDelay(now, m, true))
		}
	}
	wait := now
	if quorum := len(s.members)/2 + 1; quorum > 1 { // a lone member commits by itself
		slices.Sort(follower)
		wait += follower[quorum-2] + s.raft.r.SchedDelay(now, s.leader, true)
	}
	return wait
}
