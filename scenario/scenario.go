// Package scenario is the wiring: it turns a resolved scenario (package
// spec: a spec.Ideal or spec.Cluster that spec.Spec.Resolve validated) into
// components (client models, servers), routes their outputs through the sim
// kernel, and feeds their facts to the recorder. It is the only place that
// knows how the pieces fit; swapping the pre-fix client for the fixed one is a
// field of the spec.
//
// Terms: a run simulates one resolved scenario from virtual time 0 to its
// duration (Run, RunIdeal, RunCluster); a Sim is a cluster run driven step
// by step (StartCluster, Advance, Finish); Options are what a caller adds
// to a run that is not part of the scenario (a history recorder, a test
// mutant); what a run produced is a recorder.Outcome. The package
// does not validate: it asserts its preconditions and panics on a resolved
// value that Resolve would not have made.
package scenario

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/leasesim/leasesim/clientmodel"
	"github.com/leasesim/leasesim/model"
	"github.com/leasesim/leasesim/recorder"
	"github.com/leasesim/leasesim/sim"
	"github.com/leasesim/leasesim/spec"
)

type idealEvent struct {
	kind   uint8
	cohort int32
	in     clientmodel.Input
}

const (
	evClient uint8 = iota // input for the cohort's client
	evArrive              // a keepalive request reaches the server (in.Gen = stream)
	evExpiry              // the server's expiry check for the cohort's lease
)

// RunIdeal simulates c, which spec.Spec.Resolve made (and so validated);
// trace, if not nil, receives the JSON-lines trace. It stops, with ctx's
// error, soon after ctx ends (it checks between seconds of virtual time).
func RunIdeal(ctx context.Context, c spec.Ideal, trace io.Writer) (recorder.Outcome, error) {
	c.Assert()
	if c.Bucket == 0 {
		c.Bucket = time.Second
	}
	cohorts := c.Cohorts() // clients in lockstep, each simulated as one client
	clients := make([]*clientmodel.Client, len(cohorts))
	for i, co := range cohorts {
		clients[i] = clientmodel.New(c.Client(co.Start))
	}
	rec := recorder.New(c.Bucket, c.Duration, len(cohorts), trace)
	srv := model.NewIdealServer(len(cohorts))
	k := sim.New[idealEvent]()
	if c.MaxEvents > 0 {
		k.SetLimits(c.MaxEvents, 0)
	}
	half := sim.Time(c.RTT / 2)
	rest := sim.Time(c.RTT) - half

	for i, co := range cohorts {
		k.Schedule(co.Start, idealEvent{kind: evClient, cohort: int32(i), in: clientmodel.Input{Kind: clientmodel.InKeepAlive}})
	}
	var out []clientmodel.Output
	r := &idealRoute{k: k, rec: rec, cohorts: cohorts, half: half}
	handle := func(now sim.Time, e *idealEvent) {
		i := e.cohort
		co := &cohorts[i]
		switch e.kind {
		case evClient:
			if e.in.Kind == clientmodel.InKeepAlive {
				// The agent grants its lease and calls KeepAlive at once.
				k.Schedule(srv.Grant(now, int(i), c.TTL), idealEvent{kind: evExpiry, cohort: i})
			}
			if e.in.Kind == clientmodel.InResponse {
				rec.Record(now, recorder.Response, int(i), co.First, uint64(co.N), "")
			}
			out = clients[i].Step(now, e.in, out[:0])
			r.i = i
			clientmodel.Route(now, out, r)
		case evArrive:
			ttl := srv.Renew(now, int(i))
			if ttl > 0 {
				rec.Record(now, recorder.Renewal, int(i), co.First, uint64(co.N), "")
			}
			k.Schedule(now+rest, idealEvent{kind: evClient, cohort: i, in: clientmodel.Input{Kind: clientmodel.InResponse, Gen: e.in.Gen, TTL: ttl}})
		case evExpiry:
			expired, again := srv.Check(now, int(i))
			if expired {
				rec.Record(now, recorder.Expired, int(i), co.First, uint64(co.N), "")
			} else if again >= 0 {
				k.Schedule(again, idealEvent{kind: evExpiry, cohort: i})
			}
		}
	}
	if err := runTo(ctx, k, sim.Time(c.Duration), handle); err != nil {
		return recorder.Outcome{}, err
	}
	if err := rec.Flush(); err != nil {
		return recorder.Outcome{}, fmt.Errorf("trace: %w", err)
	}
	return recorder.Outcome{Summary: rec.Summary(1), Events: k.Steps(), Cohorts: len(cohorts)}, nil
}

// idealRoute takes one cohort's client outputs (clientmodel.Route): its
// requests reach the server after half the round trip.
type idealRoute struct {
	k       *sim.Kernel[idealEvent]
	rec     *recorder.Recorder
	cohorts []spec.Cohort
	half    sim.Time
	i       int32 // the cohort whose outputs these are
}

func (r *idealRoute) OpenStream(sim.Time, uint32) {} // the server serves any stream

func (r *idealRoute) Send(now sim.Time, gen uint32) {
	co := &r.cohorts[r.i]
	r.rec.Record(now, recorder.Request, int(r.i), co.First, uint64(co.N), "")
	r.k.Schedule(now+r.half, idealEvent{kind: evArrive, cohort: r.i, in: clientmodel.Input{Gen: gen}})
}

func (r *idealRoute) Wake(at sim.Time, in clientmodel.Input) {
	r.k.Schedule(at, idealEvent{kind: evClient, cohort: r.i, in: in})
}

func (r *idealRoute) Report(now sim.Time, o clientmodel.Output) {
	co := &r.cohorts[r.i]
	kind, reason := recorder.ClientFact(o)
	r.rec.Record(now, kind, int(r.i), co.First, uint64(co.N), reason)
}
