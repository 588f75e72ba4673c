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
		clients[i] = clientmodel.New(clientmodel.Config{Rule: version.Rule, Consumer: c, ConnectDelay: time.Duration(l.ConnectDelayNs)})
		closed[i] = -1
		k.Schedule(sim.Time(l.StartNs), event{lease: int32(i), kind: evClient, in: clientmodel.Input{Kind: clientmodel.InKeepAlive}})
		for _, r := range l.ResetsNs {
			k.Schedule(sim.Time(r), event{lease: int32(i), kind: evReset})
		}
	}

	var out []clientmodel.Output
	// startServing takes the next queued request of lease i, if the loop is idle.
	startServing := func(now sim.Time, i int32) {
		sv := &servers[i]
		if sv.busy || sv.queued == 0 {
			return
		}
		sv.busy = true
		sv.queued--
		idx := sv.received - sv.queued - 1 // 0-based index of the request being served
		k.Schedule(now+sim.Time(s.Leases[i].Delay(idx)), event{lease: i, kind: evServed, gen: sv.stream})
	}
	// served[i] counts requests whose service began, to index delays and revocation.
	handleOutputs := func(now sim.Time, i int32) {
		sv := &servers[i]
		for _, o := range out {
			switch o.Kind {
			case clientmodel.OutOpenStream:
				sv.stream, sv.busy, sv.queued = o.Gen, false, 0
			case clientmodel.OutSend:
				if o.Gen != sv.stream {
					panic("replay: request on a stream the server does not serve")
				}
				requests[i] = append(requests[i], int64(now))
				sv.received++
				sv.queued++
				startServing(now, i)
			case clientmodel.OutTimer:
				k.Schedule(o.At, event{lease: i, kind: evClient, in: clientmodel.Input{Kind: clientmodel.InTimer, Timer: o.Timer, Gen: o.Gen}})
			case clientmodel.OutRead:
				reads[i] = append(reads[i], int64(now))
			case clientmodel.OutCloseSeen:
				closed[i] = int64(now)
			}
		}
	}

	err := k.RunUntil(sim.Time(s.DurationNs), func(now sim.Time, e event) {
		i := e.lease
		sv := &servers[i]
		l := s.Leases[i]
		switch e.kind {
		case evClient:
			out = clients[i].Step(now, e.in, out[:0])
			handleOutputs(now, i)
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
			out = clients[i].Step(now, clientmodel.Input{Kind: clientmodel.InResponse, Gen: sv.stream, TTL: ttl}, out[:0])
			handleOutputs(now, i)
			startServing(now, i)
		case evReset:
			if sv.stream == 0 {
				return
			}
			gen := sv.stream
			sv.stream, sv.busy, sv.queued = 0, false, 0
			out = clients[i].Step(now, clientmodel.Input{Kind: clientmodel.InStreamError, Gen: gen}, out[:0])
			handleOutputs(now, i)
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
