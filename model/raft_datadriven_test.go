package model

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/leasesim/leasesim/sim"
)

// TestRaftTranscripts drives a Raft, with one Member per member (each its
// own CPU, one shared lessor), through testdata/raft/*.txt and prints what
// happens. Rewrite them with
//
//	go test ./model -run TestRaftTranscripts -rewrite
//
// The command language (durations as Go durations):
//
//	raft members=3 leader=0 [prevote=true] [seed=1] [leases=1000] [held=0] [demote=false] [wait=preempt|backlog|measured]
//	                   a new cluster at time 0: the Raft (election ticks 10 of
//	                   100 ms, link one-way 250us) and its members; the leases
//	                   are granted at 0 with TTL 10s, the held ones (other
//	                   applications') with 24h; with demote=true each member's
//	                   raft goroutine Demotes the lessor on each change of its
//	                   soft state (RaftConfig.Leases)
//	run until=T [show=all|leadership]
//	                   deliver the raft's wake-ups and messages up to T; show=all
//	                   prints every input delivered ("> ...") and message sent,
//	                   else only leadership and what the members do with it
//	stall m=0 d=3s     member m's process stalls for d from now (its CPU and
//	                   its raft goroutine: the leader-stall fault)
//	load m=0 work=30s  queue work on member m's CPU (a backlog of requests)
//	state              every raft node, and the leader as the members see it
//
// Leadership outputs go to every Member as InLeaderLost / InElected (the
// wiring's election path); their outputs print indented ("m1: ...").
func TestRaftTranscripts(t *testing.T) {
	files, err := filepath.Glob("testdata/raft/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no raft transcripts: %v", err)
	}
	for _, path := range files {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txt"), func(t *testing.T) {
			var h *raftHarness
			var members []*Member
			datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
				if d.Cmd != "raft" && h == nil {
					d.Fatalf(t, "no cluster yet: start with `raft`")
				}
				if h != nil {
					h.log.Reset()
				}
				switch d.Cmd {
				case "raft":
					h, members = newRaftTranscript(t, d)
				case "run":
					var show string = "leadership"
					if d.HasArg("show") {
						d.ScanArgs(t, "show", &show)
					}
					h.verbose = show == "all"
					h.run(dur(t, d, "until", 0))
				case "stall":
					m := num(t, d, "m", 0)
					stall := dur(t, d, "d", 0).Duration()
					members[m].CPU().Stall(h.now, stall)
					h.stall(m, stall)
					fmt.Fprintf(&h.log, "%v m%d stalls until %v\n", h.now, m, h.now+sim.Time(stall))
				case "load":
					m := num(t, d, "m", 0)
					done := members[m].CPU().Force(h.now, dur(t, d, "work", 0).Duration(), 1, 0)
					fmt.Fprintf(&h.log, "%v m%d CPU busy until %v; raft waits %v for a core\n", h.now, m, done, time.Duration(h.r.SchedDelay(h.now, m, false)))
				case "state":
					for m := range members {
						role, term, lead, elapsed, timeout := h.r.Node(m)
						fmt.Fprintf(&h.log, "m%d: %v term=%d lead=%d elapsed=%d/%d ticks; member sees leader %d\n",
							m, role, term, lead, elapsed, timeout, members[m].Leader())
					}
				default:
					d.Fatalf(t, "unknown command %q", d.Cmd)
				}
				if h.log.Len() == 0 {
					return "ok\n"
				}
				return h.log.String()
			})
		})
	}
}

func newRaftTranscript(t *testing.T, d *datadriven.TestData) (*raftHarness, []*Member) {
	n, leader := num(t, d, "members", 3), num(t, d, "leader", 0)
	preVote := true
	if d.HasArg("prevote") {
		d.ScanArgs(t, "prevote", &preVote)
	}
	leases, held := num(t, d, "leases", 1000), num(t, d, "held", 0)
	lessor := NewLessor(leases+1, LessorConfig{KeysPerLease: 1, RateLimited: true})
	for i := 0; i < leases; i++ {
		lessor.Grant(0, i, 1, 10*time.Second)
	}
	if held > 0 { // other applications' leases: one entry, never expiring here
		lessor.Grant(0, leases, held, 24*time.Hour)
	}
	var members []*Member
	for m := 0; m < n; m++ {
		cpu := NewCPU(CPUConfig{Cores: 1, Bucket: time.Second, Duration: time.Hour})
		members = append(members, NewMember(MemberConfig{ID: m, ReqTimeout: ReqTimeout(time.Second), ElectionTimeout: time.Second,
			Costs: Costs{DirectRenewal: time.Millisecond, FollowerRenewal: time.Millisecond, LeaderForwarded: time.Millisecond}}, cpu, lessor, leader))
	}
	h := &raftHarness{oneWay: sim.Time(250 * time.Microsecond), cutOff: make([]sim.Time, n), leader: leader}
	cpus := make([]Scheduler, n)
	for m := range members {
		cpus[m] = members[m].CPU()
	}
	wait := WaitPreempt
	if d.HasArg("wait") {
		var s string
		d.ScanArgs(t, "wait", &s)
		var err error
		if wait, err = ParseRaftWait(s); err != nil {
			d.Fatalf(t, "%v", err)
		}
	}
	cfg := RaftConfig{Members: n, Leader: leader, Tick: HeartbeatInterval, ElectionTicks: 10, PreVote: preVote, Wait: wait}
	demote := false
	if d.HasArg("demote") {
		d.ScanArgs(t, "demote", &demote)
	}
	if demote {
		cfg.Leases = lessor
	}
	h.r = NewRaft(cfg, cpus, sim.NewRand(uint64(num(t, d, "seed", 1)), "election"))
	h.onLeadership = func(o RaftOutput) {
		in := Input{Kind: InLeaderLost}
		if o.Kind == OutRaftElected {
			in = Input{Kind: InElected, From: o.Member}
		}
		for m, mb := range members {
			for _, out := range mb.Step(h.now, in, nil) {
				fmt.Fprintf(&h.log, "  m%d: %s\n", m, fmtOutput(out))
			}
		}
	}
	h.route(h.r.Start(nil))
	fmt.Fprintf(&h.log, "%d members, leader %d at term 1, PreVote %t, raft waits %v, %d leases", n, leader, preVote, wait, leases+held)
	if demote {
		fmt.Fprintf(&h.log, ", Demote walks them (%v)", DemoteCost(lessor.Live()))
	}
	h.log.WriteString("; tickers start at")
	for _, q := range h.queue {
		fmt.Fprintf(&h.log, " %v", q.at)
	}
	h.log.WriteString("\n")
	return h, members
}
