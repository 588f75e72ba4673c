package scenario

import (
	"fmt"

	"github.com/leasesim/leasesim/clientmodel"
	"github.com/leasesim/leasesim/model"
	"github.com/leasesim/leasesim/recorder"
	"github.com/leasesim/leasesim/sim"
	"github.com/leasesim/leasesim/spec"
)

// Several leases per client process (clients.leases_per_client > 1), and
// agents that re-grant when their key vanishes (clients.regrant). Each
// process is one clientmodel.Process: one lessor, one stream to its member,
// one 500 ms scan and one deadline loop for all its leases; a re-granted
// lease is the process's next lease, on the same stream (lease.go:292-314).
// Its leases are lease entries (lessor, recorder cohorts, ledger) p*N ..
// p*N+N-1, N = spec.Cluster.EntriesPerProcess (spec.Cluster.LeaseEntry);
// its stream is one slot on its member
// (model.Member.AddProcess), whose requests name their lease entry and whose
// answers name it back. The one-lease path (clusterClient, clientInput) is
// untouched: processes live here, their events are toProcess.

// multiLease is the processes of a run with several leases per process.
type multiLease struct {
	procs []*clientmodel.Process
	where []processPlace // per process: its member and stream slot
	out   []clientmodel.Output
	route processRoute
}

// processPlace is where a process's stream is served.
type processPlace struct{ member, slot int32 }

// processEvent is an input for process p (Input.Lease names its lease).
func processEvent(p int32, in clientmodel.Input) event {
	return event{to: toProcess, index: p, msg: in.Pack()}
}

// startProcesses builds the processes, gives each a stream slot on its
// member (every lease entry of a process names that slot) and schedules
// their starts.
func (s *Sim) startProcesses(procs []spec.Process) {
	s.multi = &multiLease{procs: make([]*clientmodel.Process, len(procs)), where: make([]processPlace, len(procs))}
	s.multi.route.s = s
	for i, p := range procs {
		s.multi.procs[i] = clientmodel.NewProcess(s.cfg.Client(p.Start))
		slot := s.members[p.Member].AddProcess(int(s.cfg.LeaseEntry(i, 1)))
		s.net.AddSlot(p.Member)
		s.multi.where[i] = processPlace{member: int32(p.Member), slot: slot}
		if p.Start >= 0 {
			s.k.Schedule(p.Start, processEvent(int32(i), clientmodel.Input{Kind: clientmodel.InKeepAlive}))
		}
	}
}

// processInput steps process p and routes its outputs.
func (s *Sim) processInput(now sim.Time, p int32, in clientmodel.Input) {
	ml := s.multi
	switch in.Kind {
	case clientmodel.InKeepAlive:
		// The process grants each of its leases and calls KeepAlive on it,
		// all at its start instant, in lease order; a re-granting agent, its
		// next lease.
		ml.out = ml.out[:0]
		first, last := 1, max(s.cfg.LeasesPerClient, 1)
		if k := ml.procs[p].Leases(); k > 0 {
			first, last = k+1, k+1
		}
		for n := first; n <= last; n++ {
			e := s.cfg.LeaseEntry(int(p), uint32(n))
			s.lessor.Grant(now, int(e), int(s.cohort()), s.cfg.TTL)
			s.ledger.Grant(now, int(e), s.cfg.TTL)
			s.ser.Granted(now)
			ml.out = ml.procs[p].Step(now, in, ml.out)
		}
		ml.route.p = p
		clientmodel.RouteLeases(now, ml.out, &ml.route)
		return
	case clientmodel.InResponse:
		e := s.cfg.LeaseEntry(int(p), in.Lease)
		s.record(now, recorder.Response, e, "")
		s.ledger.Answered(now, int(e), in.TTL, int(ml.where[p].member) == s.leader)
	}
	ml.out = ml.procs[p].Step(now, in, ml.out[:0])
	ml.route.p = p
	clientmodel.RouteLeases(now, ml.out, &ml.route)
}

// processAnswer routes a member's answer or stream error (o.Client: a lease
// entry; a stream error's is the stream owner's, its process's first) to
// the process holding it.
func (s *Sim) processAnswer(now sim.Time, o *model.Output) {
	p, n := s.cfg.ProcessOf(o.Client)
	in := clientmodel.Input{Kind: clientmodel.InResponse, Gen: o.Gen, TTL: o.TTL, Lease: n}
	if o.Kind == model.OutStreamError {
		in = clientmodel.Input{Kind: clientmodel.InStreamError, Gen: o.Gen} // the process's stream
	}
	s.k.Schedule(now+s.clientOneWay(), processEvent(int32(p), in))
}

// processRoute takes one process's outputs (clientmodel.RouteLeases).
type processRoute struct {
	s *Sim
	p int32
}

func (r *processRoute) entry(lease uint32) int32 {
	return r.s.cfg.LeaseEntry(int(r.p), max(lease, 1))
}

func (r *processRoute) OpenStream(now sim.Time, gen uint32) {
	s, owner := r.s, r.entry(1)
	for n := 1; n <= s.cfg.EntriesPerProcess(); n++ { // every lease's requests on the old stream are lost
		s.ledger.StreamOpened(int(r.entry(uint32(n))))
	}
	w := s.multi.where[r.p]
	s.stepMember(now, int(w.member), model.Input{Kind: model.InStreamOpen, Slot: w.slot, Client: owner, Gen: gen})
}

func (r *processRoute) Send(now sim.Time, gen uint32, lease uint32) {
	s, e := r.s, r.entry(lease)
	w := s.multi.where[r.p]
	s.record(now, recorder.Request, e, "")
	s.ledger.Sent(now, int(e))
	s.k.Schedule(now+s.clientOneWay(), memberEvent(w.member, model.Input{Kind: model.InRecv, Slot: w.slot, Client: e, Gen: gen}))
}

func (r *processRoute) Wake(at sim.Time, in clientmodel.Input) {
	r.s.k.Schedule(at, processEvent(r.p, in))
}

func (r *processRoute) Report(now sim.Time, o clientmodel.Output) {
	kind, reason := recorder.ClientFact(o)
	r.s.record(now, kind, r.entry(o.Lease), reason)
}

// regrant: lease entry e's keys were deleted (its revocation applied); a
// re-granting agent sees it a client one-way later (a watch on its key),
// waits Regrant.Delay and calls Grant and KeepAlive for its next lease, on
// its lessor, at most Regrant.Max times (clients.regrant). Only the current
// lease's deletion counts: the agent registered one key at a time.
func (s *Sim) regrant(now sim.Time, e int32) {
	p, n := s.cfg.ProcessOf(e)
	if k := s.multi.procs[p].Leases(); int(n) == k && k < s.cfg.EntriesPerProcess() {
		s.k.Schedule(now+s.clientOneWay()+sim.Time(s.cfg.Regrant.Delay), processEvent(int32(p), clientmodel.Input{Kind: clientmodel.InKeepAlive}))
	}
}

// processInvariants checks every process's leases' bookkeeping.
func (s *Sim) processInvariants() error {
	for p, pr := range s.multi.procs {
		for n := 1; n <= pr.Leases(); n++ {
			if err := pr.Lease(n).CheckInvariants(); err != nil {
				return fmt.Errorf("process %d lease %d: %w", p, n, err)
			}
		}
	}
	return nil
}
