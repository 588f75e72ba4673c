package calibrate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	rtrace "runtime/trace"
	"slices"
	"strings"
	"time"

	"github.com/benbjohnson/clock"
	"golang.org/x/exp/trace"
)

// The onset trace: the Go execution trace of the members' process (the
// three members run in it) around a storm's first seconds, read step by
// step. It shows what the per-second series cannot: whether the members'
// goroutines waited for a P or ran, which work the Ps ran (handshakes on
// either end, the GC's workers, the rest), whether goroutines were parked
// waiting for GC assist credit, and when each peer dial started and ended.
//
// Terms:
//   - step: OnsetStepMs of wall time; the series' unit.
//   - dial: a goroutine that runs net/http.(*Transport).dialConnFor (Go
//     1.26: started by startDialConnForLocked), the peer transport opening
//     a connection (TCP connect and the client's TLS handshake,
//     transport.go dialConn/addTLS); it ends when the connection is ready
//     or failed. Lease forwards' dials are those a
//     goroutine in leasehttp.RenewHTTP started; the others are raft's
//     prober and streams.
//   - handshake: a goroutine that runs one end of a peer TLS handshake:
//     the client's in net/http's addTLS (Go 1.26 net/http/transport.go:1732,
//     a goroutine of its own so that TLSHandshakeTimeout can stop it), the
//     server's in etcd's tlsListener (client/pkg/v3@v3.7.3
//     transport/listener_tls.go:143-153, one goroutine per accepted
//     connection, before http.Server sees it).
//   - server connection: a goroutine that runs net/http.(*conn).serve on
//     the members' peer listener (its requests, after the handshake).
//   - running, runnable: goroutines on a P, and ready but waiting for one
//     (the scheduler's queue), as time-weighted means over the step.
//   - assist wait: goroutines parked until the GC's background workers pay
//     their allocation's mark debt (runtime/mgcmark.go gcParkAssist, the
//     trace's "GC mark assist wait for work").

// OnsetStepMs is the step of an onset trace's series.
const OnsetStepMs = 5

// OnsetTraceBefore and OnsetTraceAfter: the window an onset trace keeps,
// around the start of the second whose sample first saw the storm.
const (
	OnsetTraceBefore = 3 * time.Second
	OnsetTraceAfter  = 2 * time.Second
)

// OnsetStep is one step of an onset trace.
type OnsetStep struct {
	// The agent's sends in the step (another process: its load), and the
	// slowest of their round trips, ms (-1: one was never answered).
	Sends     int     `json:"sends"`
	MaxRTTMs  float64 `json:"max_rtt_ms,omitempty"`
	Dials     int     `json:"dials,omitempty"`      // lease-forward dials started
	DialsDone int     `json:"dials_done,omitempty"` // lease-forward dials ended
	OtherDial int     `json:"other_dials,omitempty"`
	Accepts   int     `json:"accepts,omitempty"` // server connections started
	Running   float64 `json:"running"`
	Runnable  float64 `json:"runnable,omitempty"`
	// Cores by what the running goroutines do: TLS handshakes (either
	// end), the rest of the peer transport's connections (dials' connects,
	// the server's request loops), the GC's workers (and stop-the-world),
	// and the rest (gRPC, raft, the lessor...).
	HandshakeCores float64 `json:"handshake_cores,omitempty"`
	ConnCores      float64 `json:"conn_cores,omitempty"`
	GCCores        float64 `json:"gc_cores,omitempty"`
	OtherCores     float64 `json:"other_cores,omitempty"`
	// Handshakes: handshake goroutines started (either end).
	Handshakes int `json:"handshakes,omitempty"`
	// Mark: the share of the step in the GC's concurrent mark phase; STW in
	// a stop-the-world pause.
	Mark float64 `json:"mark,omitempty"`
	STW  float64 `json:"stw,omitempty"`
	// AssistWait: goroutines parked for assist credit (mean); Assisting:
	// goroutines in a mark assist (mean).
	AssistWait float64 `json:"assist_wait,omitempty"`
	Assisting  float64 `json:"assisting,omitempty"`
}

// OnsetTrace is one storm onset's trace.
type OnsetTrace struct {
	// SampleT: the end of the second whose sample first saw the storm
	// (StormSecond.T); FromS: the first step's start; both in seconds from
	// the load's start.
	SampleT float64     `json:"sample_t"`
	FromS   float64     `json:"from_s"`
	Steps   []OnsetStep `json:"steps"`
	// DialMs: each lease-forward dial that started in the window and ended
	// in the trace, its duration (the client side's connect and handshake,
	// waiting for Ps included), sorted.
	DialMs []float64 `json:"dial_ms"`
	// TraceBytes: the flight recorder's snapshot, for the record.
	TraceBytes int `json:"trace_bytes"`
}

// OnsetTraceRun is one storm run with the traces of its first onsets.
type OnsetTraceRun struct {
	Storm  StormRun     `json:"storm"`
	Onsets []OnsetTrace `json:"onsets"`
}

// OnsetTraceSet is the measurement as saved.
type OnsetTraceSet struct {
	MeasuredOn
	RenewalsPerS int  `json:"renewals_per_s"`
	Busy         bool `json:"busy"`
	HiccupIntervention
	Wall string          `json:"wall"`
	Done bool            `json:"complete"`
	Runs []OnsetTraceRun `json:"runs"`
}

// onsetTraceMaxOnsets: the onsets a run traces (the first ones, at least
// 10 s apart: a flight recorder's snapshot stops the world briefly).
const onsetTraceMaxOnsets = 2

// MeasureOnsetTraces runs c's storm runs with a flight recorder on the
// members' process; at the sample after the one that first sees a storm
// (more than StormNewConnsPerS new connections in a second) it snapshots
// the trace and reads it (ReadOnsetTrace). keep, if not empty, is a
// directory the raw traces are written to (for go tool trace).
func MeasureOnsetTraces(ctx context.Context, clk clock.Clock, c HiccupCampaign, keep string, progress io.Writer, save func(OnsetTraceSet) error) (OnsetTraceSet, error) {
	if c.MemberGOGC != 0 || c.AgentGOGC != 0 {
		return OnsetTraceSet{}, fmt.Errorf("onset trace: the campaign's GOGC interventions are not supported (member %d, agent %d); allowed: MemberProcs, BusyNice", c.MemberGOGC, c.AgentGOGC)
	}
	start := clk.Now()
	method := fmt.Sprintf("The storm set's run (storm.go MeasureStorm) at %d renewals/s (busy loop: %v; members' GOMAXPROCS %d, 0 as it is), %d runs of %s, "+
		"with a runtime/trace flight recorder on the members' process; at the sample after the first that counts more than %d new peer connections "+
		"(then at most %d onsets a run, 10 s apart) the recorder's window is read with golang.org/x/exp/trace into %d ms steps from %s before "+
		"that second's start to %s after it. The recorder adds some CPU to the members' process (not measured).",
		c.RenewalsPerS, c.Busy, c.MemberProcs, c.Runs, c.Window, StormNewConnsPerS, onsetTraceMaxOnsets, OnsetStepMs, OnsetTraceBefore, OnsetTraceAfter)
	set := OnsetTraceSet{MeasuredOn: measuredOn(start, method), RenewalsPerS: c.RenewalsPerS, Busy: c.Busy, HiccupIntervention: c.HiccupIntervention}
	for rep := 1; rep <= c.Runs; rep++ {
		cfg := StormConfig{RenewalsPerS: c.RenewalsPerS, Window: c.Window, Seed: uint64(rep), Background: c.Busy, BackgroundNice: c.BusyNice,
			Name: fmt.Sprintf("onset-trace-%d-r%d", c.RenewalsPerS, rep)}
		if _, _, err := waitForQuiet(ctx, clk, 30*time.Second, progress); err != nil {
			return set, err
		}
		r, err := measureOnsetTraceRun(ctx, clk, cfg, c.MemberProcs, keep, progress)
		if err != nil {
			return set, err
		}
		set.Runs = append(set.Runs, r)
		set.Wall, set.Done = clk.Since(start).Round(time.Second).String(), rep == c.Runs
		if err := save(set); err != nil {
			return set, err
		}
	}
	return set, nil
}

type onsetSnapshot struct {
	sampleAt time.Time // the sample that first saw the storm
	data     []byte
}

func measureOnsetTraceRun(ctx context.Context, clk clock.Clock, cfg StormConfig, procs int, keep string, progress io.Writer) (OnsetTraceRun, error) {
	var out OnsetTraceRun
	if procs > 0 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
	}
	fr := rtrace.NewFlightRecorder(rtrace.FlightRecorderConfig{MinAge: OnsetTraceBefore + OnsetTraceAfter + 2*time.Second, MaxBytes: 256 << 20})
	if err := fr.Start(); err != nil {
		return out, fmt.Errorf("%s: flight recorder: %w", cfg.Name, err)
	}
	defer fr.Stop()
	var snaps []onsetSnapshot
	var pending time.Time // a storm sample whose snapshot is due at the next sample
	var snapErr error
	first := true
	sampled := func(at time.Time, newConns int, _ time.Duration) {
		if first { // its count is since the warm-up, not a second's
			first = false
			return
		}
		if !pending.IsZero() {
			var b bytes.Buffer
			if _, err := fr.WriteTo(&b); err != nil {
				snapErr = errors.Join(snapErr, err)
			} else {
				snaps = append(snaps, onsetSnapshot{sampleAt: pending, data: b.Bytes()})
			}
			pending = time.Time{}
			return
		}
		if newConns > StormNewConnsPerS && len(snaps) < onsetTraceMaxOnsets &&
			(len(snaps) == 0 || at.Sub(snaps[len(snaps)-1].sampleAt) >= 10*time.Second) {
			pending = at
		}
	}
	var res *StormResult
	var started time.Time
	r, err := measureStorm(ctx, clk, cfg, progress, stormExtras{sampled: sampled,
		window: func(x *StormResult, s time.Time, _ []int64) { res, started = x, s }})
	if err != nil {
		return out, err
	}
	if snapErr != nil {
		return out, fmt.Errorf("%s: flight recorder snapshot: %w", cfg.Name, snapErr)
	}
	out.Storm = r
	for i, s := range snaps {
		if keep != "" {
			name := filepath.Join(keep, fmt.Sprintf("%s-onset%d.trace", cfg.Name, i+1))
			if err := os.WriteFile(name, s.data, 0o644); err != nil {
				return out, err
			}
			fmt.Fprintf(progress, "%s: trace kept in %s\n", cfg.Name, name)
		}
		// The sample ends the second that saw the storm; the window is
		// around that second's start.
		second := s.sampleAt.Add(-time.Second)
		ot, err := ReadOnsetTrace(bytes.NewReader(s.data), second.Add(-OnsetTraceBefore), second.Add(OnsetTraceAfter), res, started)
		if err != nil {
			return out, fmt.Errorf("%s: reading the trace of onset %d: %w", cfg.Name, i+1, err)
		}
		ot.SampleT = s.sampleAt.Sub(started).Seconds()
		ot.TraceBytes = len(s.data)
		out.Onsets = append(out.Onsets, ot)
		fmt.Fprintf(progress, "%s: onset %d at %.1f s: %d steps, %d lease dials (median %.1f ms)\n", cfg.Name, i+1, ot.SampleT, len(ot.Steps), len(ot.DialMs), median(ot.DialMs))
	}
	return out, nil
}

// goroutine classes, by the function a goroutine started in (its creation
// stack's top frame) and, for dials, who started it.
type goClass uint8

const (
	goOther goClass = iota
	goLeaseDial
	goOtherDial
	goServerConn
	goHandshake
	goGCWorker
)

func classify(st trace.StateTransition, creator trace.Stack) goClass {
	for f := range st.Stack.Frames() {
		return classOf(f.Func, creator)
	}
	return goOther
}

// classOf is the class of a goroutine that runs fn (at the bottom of its
// stack); creator: who started it, if known.
func classOf(fn string, creator trace.Stack) goClass {
	switch {
	case strings.HasSuffix(fn, "net/http.(*Transport).startDialConnForLocked.func1"), strings.HasSuffix(fn, "net/http.(*Transport).dialConnFor"):
		for f := range creator.Frames() {
			if strings.Contains(f.Func, "leasehttp.RenewHTTP") {
				return goLeaseDial
			}
		}
		return goOtherDial
	case strings.HasSuffix(fn, "net/http.(*conn).serve"):
		return goServerConn
	case strings.HasSuffix(fn, "net/http.(*persistConn).addTLS.func2"), strings.HasSuffix(fn, "/transport.(*tlsListener).acceptLoop.func2"):
		return goHandshake
	case fn == "runtime.gcBgMarkWorker":
		return goGCWorker
	}
	return goOther
}

// classFromStack classes a goroutine the trace did not see start, from a
// stack of its own (the outermost known frame decides).
func classFromStack(stk trace.Stack) (goClass, bool) {
	c, found := goOther, false
	for f := range stk.Frames() {
		if k := classOf(f.Func, trace.NoStack); k != goOther {
			c, found = k, true
		}
	}
	return c, found
}

// ReadOnsetTrace reads a Go execution trace of the members' process into
// OnsetStepMs steps over [from, to) (wall time); res and started: the
// agent's sends and the load's start.
func ReadOnsetTrace(r io.Reader, from, to time.Time, res *StormResult, started time.Time) (OnsetTrace, error) {
	out := OnsetTrace{FromS: from.Sub(started).Seconds()}
	step := int64(OnsetStepMs) * int64(time.Millisecond)
	n := int(to.Sub(from).Nanoseconds() / step)
	if n <= 0 {
		return out, fmt.Errorf("an empty window")
	}
	out.Steps = make([]OnsetStep, n)
	fromNs := from.UnixNano()
	stepOf := func(wall int64) int {
		if wall < fromNs {
			return -1
		}
		return int((wall - fromNs) / step)
	}
	// spread adds dur-weighted value over [a, b) (wall ns) to the steps it
	// meets, through add(step, share of the step).
	spread := func(a, b int64, add func(s *OnsetStep, share float64)) {
		a, b = max(a, fromNs), min(b, fromNs+int64(n)*step)
		for a < b {
			i := int((a - fromNs) / step)
			end := min(b, fromNs+int64(i+1)*step)
			add(&out.Steps[i], float64(end-a)/float64(step))
			a = end
		}
	}
	tr, err := trace.NewReader(r)
	if err != nil {
		return out, err
	}
	// The trace's clock against the wall clock: the latest sync's snapshot.
	var offset int64 // wall ns = trace ns + offset
	synced := false
	type gstate struct {
		class   goClass
		known   bool // class read from its creation or a stack of its own
		state   trace.GoState
		since   int64 // wall ns
		waitFor string
		created int64
	}
	gs := map[trace.GoID]*gstate{}
	var markFrom, stwFrom int64 = -1, -1
	assists := map[trace.GoID]int64{}
	var events []trace.Event // before the first sync
	handle := func(ev trace.Event) {
		at := int64(ev.Time()) + offset
		switch ev.Kind() {
		case trace.EventStateTransition:
			st := ev.StateTransition()
			if st.Resource.Kind != trace.ResourceGoroutine {
				return
			}
			id := st.Resource.Goroutine()
			was, now := st.Goroutine()
			g := gs[id]
			if g == nil {
				g = &gstate{state: was, since: at}
				gs[id] = g
			}
			if !g.known && was != trace.GoNotExist && ev.Goroutine() == id {
				g.class, g.known = classFromStack(ev.Stack())
			}
			if was == trace.GoNotExist && now != trace.GoNotExist {
				g.class, g.known, g.created = classify(st, ev.Stack()), true, at
				if i := stepOf(at); i >= 0 && i < n {
					switch g.class {
					case goLeaseDial:
						out.Steps[i].Dials++
					case goOtherDial:
						out.Steps[i].OtherDial++
					case goServerConn:
						out.Steps[i].Accepts++
					case goHandshake:
						out.Steps[i].Handshakes++
					}
				}
			}
			// Account the state the goroutine leaves.
			switch g.state {
			case trace.GoRunning:
				class := g.class
				spread(g.since, at, func(s *OnsetStep, share float64) {
					s.Running += share
					switch class {
					case goHandshake:
						s.HandshakeCores += share
					case goLeaseDial, goOtherDial, goServerConn:
						s.ConnCores += share
					case goGCWorker:
						s.GCCores += share
					default:
						s.OtherCores += share
					}
				})
			case trace.GoRunnable:
				spread(g.since, at, func(s *OnsetStep, share float64) { s.Runnable += share })
			case trace.GoWaiting:
				if g.waitFor == "GC mark assist wait for work" {
					spread(g.since, at, func(s *OnsetStep, share float64) { s.AssistWait += share })
				}
			}
			if now == trace.GoNotExist && g.class == goLeaseDial && g.created >= fromNs {
				if i := stepOf(at); i >= 0 && i < n {
					out.Steps[i].DialsDone++
				}
				out.DialMs = append(out.DialMs, float64(at-g.created)/1e6)
			}
			g.state, g.since, g.waitFor = now, at, st.Reason
		case trace.EventRangeBegin, trace.EventRangeEnd:
			rg := ev.Range()
			begin := ev.Kind() == trace.EventRangeBegin
			switch {
			case rg.Name == "GC concurrent mark phase":
				if begin {
					markFrom = at
				} else if markFrom >= 0 {
					spread(markFrom, at, func(s *OnsetStep, share float64) { s.Mark += share })
					markFrom = -1
				}
			case strings.HasPrefix(rg.Name, "stop-the-world"):
				if begin {
					stwFrom = at
				} else if stwFrom >= 0 {
					spread(stwFrom, at, func(s *OnsetStep, share float64) { s.STW += share; s.GCCores += share })
					stwFrom = -1
				}
			case rg.Name == "GC mark assist" && rg.Scope.Kind == trace.ResourceGoroutine:
				id := rg.Scope.Goroutine()
				if begin {
					assists[id] = at
				} else if a, ok := assists[id]; ok {
					spread(a, at, func(s *OnsetStep, share float64) { s.Assisting += share })
					delete(assists, id)
				}
			}
		}
	}
	for {
		ev, err := tr.ReadEvent()
		if err == io.EOF {
			break
		}
		if err != nil {
			return out, err
		}
		if ev.Kind() == trace.EventSync {
			if cs := ev.Sync().ClockSnapshot; cs != nil {
				offset = cs.Wall.UnixNano() - int64(cs.Trace)
				if !synced {
					synced = true
					for _, e := range events {
						handle(e)
					}
					events = nil
				}
			}
			continue
		}
		if !synced {
			events = append(events, ev)
			continue
		}
		handle(ev)
	}
	if !synced {
		return out, fmt.Errorf("the trace has no clock snapshot")
	}
	// The agent's sends.
	for j, t := range res.SendAt {
		i := stepOf(t)
		if i < 0 || i >= n {
			continue
		}
		s := &out.Steps[i]
		s.Sends++
		rtt := -1.0
		if d := res.RTTNs[j]; d >= 0 {
			rtt = float64(d) / 1e6
		}
		if s.MaxRTTMs >= 0 && (rtt < 0 || rtt > s.MaxRTTMs) {
			s.MaxRTTMs = rtt
		}
	}
	for i := range out.Steps {
		s := &out.Steps[i]
		for _, p := range []*float64{&s.Running, &s.Runnable, &s.HandshakeCores, &s.ConnCores, &s.GCCores, &s.OtherCores, &s.Mark, &s.STW, &s.AssistWait, &s.Assisting, &s.MaxRTTMs} {
			*p = math.Round(*p*1000) / 1000
		}
	}
	slices.Sort(out.DialMs) // not needed for the median; keeps the file stable
	return out, nil
}
