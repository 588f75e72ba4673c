package scripted

import (
	"fmt"
	"time"

	"github.com/leasesim/leasesim/clientmodel"
	"github.com/leasesim/leasesim/sim"
)

// event is what the replay kernel carries.
type event struct {
	lease int32 // index into Script.Leases
	kind  uint8
	gen   uint32
	in    clientmodel.Input // evClient
	// evServed of a process with Others (answered one by one): which of its
	// leases (0-based grant) and which of that lease's requests.
	grant int32
	i     int
}

const (
	evClient uint8 = iota // deliver in to the client
	evServed              // the server finished the request at the head of stream gen's queue
	evReset               // scripted reset of the lease's open stream
)

// server is the fake Lease server's state for one client process.
type server struct {
	stream   uint32     // stream the server is serving; 0 = none open
	busy     bool       // the serial loop is working on serving
	serving  queued     // the request being answered, if busy
	queue    []queued   // requests received, waiting for the serial loop
	received []int      // per grant: requests received so far, all streams
	log      []leaseLog // per grant: what the process did
}

// queued is one request the server received: for the process's grant-th
// (0-based) lease, its i-th request.
type queued struct {
	grant int32
	i     int
}

// leaseLog is what the replay records of one lease of a process.
type leaseLog struct {
	requests, reads []int64
	closed          int64
}

// Replay runs s against the client model with the given behaviour and reports
// what the client did, in the same form as the real-library harnesses. A
// process with Others is a clientmodel.Process, any other a Client.
func Replay(s Script, version clientmodel.Version) (Result, error) {
	return replay(s, version, false)
}

// ReplayAsProcess is Replay with every process a clientmodel.Process (a
// regrant is then its next lease), for checking that a Process keeping one
// lease at a time does what a Client does.
func ReplayAsProcess(s Script, version clientmodel.Version) (Result, error) {
	return replay(s, version, true)
}

func replay(s Script, version clientmodel.Version, asProcess bool) (Result, error) {
	if err := s.Validate(); err != nil {
		return Result{}, err
	}
	k := sim.New[event]()
	clients := make([]*clientmodel.Client, len(s.Leases))
	procs := make([]*clientmodel.Process, len(s.Leases)) // in place of a Client
	servers := make([]server, len(s.Leases))
	for i, l := range s.Leases {
		c, err := l.Consumer.Model()
		if err != nil {
			return Result{}, fmt.Errorf("lease %d: %w", l.ID, err)
		}
		cfg := clientmodel.Config{Rule: version.Rule, Tie: version.Tie, Consumer: c,
			ConnectDelay: time.Duration(l.ConnectDelayNs), Regrant: len(l.Regrants) > 0}
		if len(l.Others) > 0 || asProcess {
			procs[i] = clientmodel.NewProcess(cfg)
		} else {
			clients[i] = clientmodel.New(cfg)
		}
		servers[i].received = make([]int, l.Grants())
		servers[i].log = make([]leaseLog, l.Grants())
		for g := range servers[i].log {
			servers[i].log[g].closed = -1
		}
		k.Schedule(sim.Time(l.StartNs), event{lease: int32(i), kind: evClient, in: clientmodel.Input{Kind: clientmodel.InKeepAlive}})
		// The process's leases are numbered in KeepAlive order: Others' AfterNs
		// do not decrease, and the kernel delivers a tie first-scheduled first.
		for _, o := range l.Others {
			k.Schedule(sim.Time(l.StartNs+o.AfterNs), event{lease: int32(i), kind: evClient, in: clientmodel.Input{Kind: clientmodel.InKeepAlive}})
		}
		for _, r := range l.ResetsNs {
			k.Schedule(sim.Time(r), event{lease: int32(i), kind: evReset})
		}
	}

	var out []clientmodel.Output
	r := &replayRoute{script: s, k: k, servers: servers, clients: clients}
	step := func(now sim.Time, i int32, in clientmodel.Input) {
		r.lease = i
		if procs[i] != nil {
			out = procs[i].Step(now, in, out[:0])
			clientmodel.RouteLeases(now, out, processRoute{r})
			return
		}
		out = clients[i].Step(now, in, out[:0])
		clientmodel.Route(now, out, r)
	}

	err := k.RunUntil(sim.Time(s.DurationNs), func(now sim.Time, e *event) {
		i := e.lease
		sv := &servers[i]
		switch e.kind {
		case evClient:
			step(now, i, e.in)
			if e.in.Kind == clientmodel.InKeepAlive {
				r.scheduleCancel(now, i, procs[i])
			}
		case evServed:
			if e.gen != sv.stream {
				return // the stream was reset while this request was being served
			}
			if len(s.Leases[i].Others) > 0 { // answered one by one
				ttl := s.Leases[i].Grant(int(e.grant)).TTL(e.i)
				step(now, i, clientmodel.Input{Kind: clientmodel.InResponse, Gen: sv.stream, TTL: ttl, Lease: uint32(e.grant) + 1})
				return
			}
			q := sv.serving
			sv.busy = false
			ttl := s.Leases[i].Grant(int(q.grant)).TTL(q.i)
			step(now, i, clientmodel.Input{Kind: clientmodel.InResponse, Gen: sv.stream, TTL: ttl, Lease: uint32(q.grant) + 1})
			r.startServing(now, i)
		case evReset:
			if sv.stream == 0 {
				return
			}
			gen := sv.stream
			sv.stream, sv.busy, sv.queue = 0, false, sv.queue[:0]
			step(now, i, clientmodel.Input{Kind: clientmodel.InStreamError, Gen: gen})
		}
	})
	if err != nil {
		return Result{}, err
	}
	res := Result{Script: s.Name, Version: version.Name}
	for i, l := range s.Leases {
		lr := servers[i].log[0].result(l.ID)
		for g, rg := range l.Regrants {
			lr.Regrants = append(lr.Regrants, servers[i].log[g+1].result(rg.ID))
		}
		for g, o := range l.Others {
			lr.Others = append(lr.Others, servers[i].log[g+1].result(o.ID))
		}
		res.Leases = append(res.Leases, lr)
	}
	return res, nil
}

func (g leaseLog) result(id int64) LeaseResult {
	return LeaseResult{ID: id, Requests: Compress(g.requests), Reads: Compress(g.reads), Closed: g.closed}
}

// replayRoute is the scripted server's side of one lease's client outputs
// (clientmodel.Route), and what the replay records of them.
type replayRoute struct {
	script  Script
	k       *sim.Kernel[event]
	servers []server
	clients []*clientmodel.Client
	lease   int32 // whose outputs these are
}

// grant is the index of the process's current lease: the one its outputs are about.
func (r *replayRoute) grant() int { return int(r.clients[r.lease].Grants()) - 1 }

func (r *replayRoute) OpenStream(_ sim.Time, gen uint32) {
	sv := &r.servers[r.lease]
	sv.stream, sv.busy, sv.queue = gen, false, sv.queue[:0]
}

func (r *replayRoute) Send(now sim.Time, gen uint32) { r.send(now, r.grant(), gen) }

// send: the process sent a request for its g-th lease on stream gen.
func (r *replayRoute) send(now sim.Time, g int, gen uint32) {
	sv := &r.servers[r.lease]
	if gen != sv.stream {
		panic("replay: request on a stream the server does not serve")
	}
	sv.log[g].requests = append(sv.log[g].requests, int64(now))
	i := sv.received[g]
	sv.received[g]++
	if l := r.script.Leases[r.lease]; len(l.Others) > 0 { // answered one by one (script.go)
		r.k.Schedule(now+sim.Time(l.Grant(g).Delay(i)), event{lease: r.lease, kind: evServed, gen: sv.stream, grant: int32(g), i: i})
		return
	}
	sv.queue = append(sv.queue, queued{grant: int32(g), i: i})
	r.startServing(now, r.lease)
}

func (r *replayRoute) Wake(at sim.Time, in clientmodel.Input) {
	r.k.Schedule(at, event{lease: r.lease, kind: evClient, in: in})
}

func (r *replayRoute) Report(now sim.Time, o clientmodel.Output) { r.report(now, r.grant(), o) }

// report records a fact about the process's g-th lease.
func (r *replayRoute) report(now sim.Time, g int, o clientmodel.Output) {
	sv := &r.servers[r.lease]
	switch o.Kind {
	case clientmodel.OutRead:
		sv.log[g].reads = append(sv.log[g].reads, int64(now))
	case clientmodel.OutCloseSeen:
		sv.log[g].closed = int64(now)
		if l := r.script.Leases[r.lease]; g < len(l.Regrants) { // the agent re-grants
			r.k.Schedule(now+sim.Time(l.Regrants[g].AfterNs), event{lease: r.lease, kind: evClient, in: clientmodel.Input{Kind: clientmodel.InKeepAlive}})
		}
	}
}

// scheduleCancel: process i has just called KeepAlive; if the script
// cancels that call's context, deliver the cancel then, for that lease.
func (r *replayRoute) scheduleCancel(now sim.Time, i int32, p *clientmodel.Process) {
	var n uint32
	if p != nil {
		n = uint32(p.Leases())
	} else {
		n = r.clients[i].Grants()
	}
	if c := r.script.Leases[i].Grant(int(n) - 1).CancelAfterNs; c > 0 {
		r.k.Schedule(now+sim.Time(c), event{lease: i, kind: evClient, in: clientmodel.Input{Kind: clientmodel.InCancel, Lease: n}})
	}
}

// processRoute is the scripted server's side of a Process's outputs
// (clientmodel.RouteLeases), each about the lease it names.
type processRoute struct{ *replayRoute }

func (r processRoute) Send(now sim.Time, gen uint32, lease uint32) { r.send(now, int(lease)-1, gen) }

func (r processRoute) Report(now sim.Time, o clientmodel.Output) { r.report(now, int(o.Lease)-1, o) }

// startServing takes the next queued request of process i, if the serial
// loop is idle.
func (r *replayRoute) startServing(now sim.Time, i int32) {
	sv := &r.servers[i]
	if sv.busy || len(sv.queue) == 0 {
		return
	}
	sv.busy = true
	sv.serving = sv.queue[0]
	sv.queue = sv.queue[1:]
	d := r.script.Leases[i].Grant(int(sv.serving.grant)).Delay(sv.serving.i)
	r.k.Schedule(now+sim.Time(d), event{lease: i, kind: evServed, gen: sv.stream})
}

// Model converts the script's consumer to the client model's.
func (c Consumer) Model() (clientmodel.Consumer, error) {
	kind, err := clientmodel.ParseConsumerKind(c.Kind)
	if err != nil {
		return clientmodel.Consumer{}, err
	}
	return clientmodel.Consumer{
		Kind: kind, Period: time.Duration(c.PeriodNs), Phase: time.Duration(c.PhaseNs), K: c.K,
		From: sim.Time(c.FromNs), To: sim.Time(c.ToNs),
	}, nil
}

// Validate checks a script's fields.
func (s Script) Validate() error {
	if s.DurationNs <= 0 {
		return fmt.Errorf("script %q: duration_ns must be > 0", s.Name)
	}
	seen := map[int64]bool{}
	for _, l := range s.Leases {
		for k := range l.Grants() {
			g := l.Grant(k)
			if seen[g.ID] || g.ID <= 0 {
				return fmt.Errorf("script %q: lease id %d must be positive and unique", s.Name, g.ID)
			}
			seen[g.ID] = true
			if g.TTLs <= 0 || g.AfterNs < 0 {
				return fmt.Errorf("script %q lease %d: ttl_s must be > 0 and after_ns >= 0", s.Name, g.ID)
			}
			for _, d := range g.DelaysNs {
				if d < 0 {
					return fmt.Errorf("script %q lease %d: delays_ns must be >= 0", s.Name, g.ID)
				}
			}
		}
		if l.StartNs < 0 || l.TTLs <= 0 || l.ConnectDelayNs < 0 {
			return fmt.Errorf("script %q lease %d: start_ns and connect_delay_ns must be >= 0 and ttl_s > 0", s.Name, l.ID)
		}
		if len(l.Others) > 0 && len(l.Regrants) > 0 {
			return fmt.Errorf("script %q lease %d: a process has others or regrants, not both", s.Name, l.ID)
		}
		for j := 1; j < len(l.Others); j++ {
			if l.Others[j].AfterNs < l.Others[j-1].AfterNs {
				return fmt.Errorf("script %q lease %d: others' after_ns must not decrease", s.Name, l.ID)
			}
		}
		for j, r := range l.ResetsNs {
			if r < 0 || (j > 0 && r <= l.ResetsNs[j-1]) {
				return fmt.Errorf("script %q lease %d: resets_ns must be >= 0 and strictly increasing", s.Name, l.ID)
			}
		}
		switch l.Consumer.Kind {
		case ConsumerPace:
			if l.Consumer.PeriodNs <= 0 {
				return fmt.Errorf("script %q lease %d: pace consumer needs period_ns > 0", s.Name, l.ID)
			}
		case ConsumerRate:
			if l.Consumer.PeriodNs <= 0 || l.Consumer.PhaseNs < 0 {
				return fmt.Errorf("script %q lease %d: rate consumer needs period_ns > 0, phase_ns >= 0", s.Name, l.ID)
			}
		case ConsumerStall:
			if l.Consumer.FromNs < l.StartNs || l.Consumer.ToNs <= l.Consumer.FromNs {
				return fmt.Errorf("script %q lease %d: stall needs start_ns <= from_ns < to_ns", s.Name, l.ID)
			}
		case ConsumerStopAfter:
			if l.Consumer.K < 0 {
				return fmt.Errorf("script %q lease %d: stop-after needs k >= 0", s.Name, l.ID)
			}
		}
	}
	return nil
}
