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
}

const (
	evClient uint8 = iota // deliver in to the client
	evServed              // the server finished the request at the head of stream gen's queue
	evReset               // scripted reset of the lease's open stream
)

// server is the fake Lease server's state for one lease's client.
type server struct {
	stream   uint32 // stream the server is serving; 0 = none open
	busy     bool   // the serial loop is working on a request
	queued   int    // requests received, waiting for the serial loop
	received int    // requests received so far, all streams
}

// Replay runs s against the client model with the given behaviour and reports
// what the client did, in the same form as the real-library harnesses.
func Replay(s Script, version clientmodel.Version) (Result, error) {
	if err := s.Validate(); err != nil {
		return Result{}, err
	}
	k := sim.New[event]()
	clients := make([]*clientmodel.Client, len(s.Leases))
	servers := make([]server, len(s.Leases))
	requests := make([][]int64, len(s.Leases))
	reads := make([][]int64, len(s.Leases))
	closed := make([]int64, len(s.Leases))
	for i, l := range s.Leases {
		c, err := l.Consumer.Model()
		if err != nil {
			return Result{}, fmt.Errorf("lease %d: %w", l.ID, err)
		}
		clients[i] = clientmodel.New(clientmodel.Config{Rule: version.Rule, Tie: version.Tie, Consumer: c, ConnectDelay: time.Duration(l.ConnectDelayNs)})
		closed[i] = -1
		k.Schedule(sim.Time(l.StartNs), event{lease: int32(i), kind: evClient, in: clientmodel.Input{Kind: clientmodel.InKeepAlive}})
		for _, r := range l.ResetsNs {
			k.Schedule(sim.Time(r), event{lease: int32(i), kind: evReset})
		}
	}

	var out []clientmodel.Output
	r := &replayRoute{script: s, k: k, servers: servers, requests: requests, reads: reads, closed: closed}
	step := func(now sim.Time, i int32, in clientmodel.Input) {
		out = clients[i].Step(now, in, out[:0])
		r.lease = i
		clientmodel.Route(now, out, r)
	}

	err := k.RunUntil(sim.Time(s.DurationNs), func(now sim.Time, e *event) {
		i := e.lease
		sv := &servers[i]
		l := s.Leases[i]
		switch e.kind {
		case evClient:
			step(now, i, e.in)
		case evServed:
			if e.gen != sv.stream {
				return // the stream was reset while this request was being served
			}
			idx := sv.received - sv.queued - 1
			ttl := l.TTLs
			if l.RevokeAt > 0 && idx+1 >= l.RevokeAt {
				ttl = 0
			}
			sv.busy = false
			step(now, i, clientmodel.Input{Kind: clientmodel.InResponse, Gen: sv.stream, TTL: ttl})
			r.startServing(now, i)
		case evReset:
			if sv.stream == 0 {
				return
			}
			gen := sv.stream
			sv.stream, sv.busy, sv.queued = 0, false, 0
			step(now, i, clientmodel.Input{Kind: clientmodel.InStreamError, Gen: gen})
		}
	})
	if err != nil {
		return Result{}, err
	}
	res := Result{Script: s.Name, Version: version.Name}
	for i, l := range s.Leases {
		res.Leases = append(res.Leases, LeaseResult{
			ID: l.ID, Requests: Compress(requests[i]), Reads: Compress(reads[i]), Closed: closed[i],
		})
	}
	return res, nil
}

// replayRoute is the scripted server's side of one lease's client outputs
// (clientmodel.Route), and what the replay records of them.
type replayRoute struct {
	script   Script
	k        *sim.Kernel[event]
	servers  []server
	requests [][]int64
	reads    [][]int64
	closed   []int64
	lease    int32 // whose outputs these are
}

func (r *replayRoute) OpenStream(_ sim.Time, gen uint32) {
	sv := &r.servers[r.lease]
	sv.stream, sv.busy, sv.queued = gen, false, 0
}

func (r *replayRoute) Send(now sim.Time, gen uint32) {
	sv := &r.servers[r.lease]
	if gen != sv.stream {
		panic("replay: request on a stream the server does not serve")
	}
	r.requests[r.lease] = append(r.requests[r.lease], int64(now))
	sv.received++
	sv.queued++
	r.startServing(now, r.lease)
}

func (r *replayRoute) Wake(at sim.Time, in clientmodel.Input) {
	r.k.Schedule(at, event{lease: r.lease, kind: evClient, in: in})
}

func (r *replayRoute) Report(now sim.Time, o clientmodel.Output) {
	switch o.Kind {
	case clientmodel.OutRead:
		r.reads[r.lease] = append(r.reads[r.lease], int64(now))
	case clientmodel.OutCloseSeen:
		r.closed[r.lease] = int64(now)
	}
}

// startServing takes the next queued request of lease i, if the serial loop
// is idle.
func (r *replayRoute) startServing(now sim.Time, i int32) {
	sv := &r.servers[i]
	if sv.busy || sv.queued == 0 {
		return
	}
	sv.busy = true
	sv.queued--
	idx := sv.received - sv.queued - 1 // 0-based index of the request being served
	r.k.Schedule(now+sim.Time(r.script.Leases[i].Delay(idx)), event{lease: i, kind: evServed, gen: sv.stream})
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
		if seen[l.ID] || l.ID <= 0 {
			return fmt.Errorf("script %q: lease id %d must be positive and unique", s.Name, l.ID)
		}
		seen[l.ID] = true
		if l.StartNs < 0 || l.TTLs <= 0 || l.ConnectDelayNs < 0 {
			return fmt.Errorf("script %q lease %d: start_ns and connect_delay_ns must be >= 0 and ttl_s > 0", s.Name, l.ID)
		}
		for _, d := range l.DelaysNs {
			if d < 0 {
				return fmt.Errorf("script %q lease %d: delays_ns must be >= 0", s.Name, l.ID)
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
