package calibrate

import (
	"testing"
)

const (
	onsetTraceProcs1File = "testdata/storm-onset-trace-busy-procs1-3.7.3.json"
	onsetTraceBusyFile   = "testdata/storm-onset-trace-busy-3.7.3.json"
	onsetTraceQuietFile  = "testdata/storm-onset-trace-quiet-3.7.3.json"
)

// onsetFigures are one traced onset's figures (onsetFiguresOf).
type onsetFigures struct {
	run string
	at  float64 // the first lease dial's step, s from the load's start
	// In the 100 ms up to the first lease dial's step: raft's dials (its
	// prober's and streams'), and a GC mark (up to 10 ms after it too).
	raftDials int
	marking   bool
	// In the second from the first lease dial: lease dials, the handshakes'
	// share of the running goroutines' time, the mean runnable goroutines.
	leaseDials     int
	handshakeShare float64
	runnable       float64
	dialMedianMs   float64
	calmRunnable   float64 // the window's first 0.5 s
}

// onsetFiguresOf reads the onsets of a trace set: an onset's first lease
// dial is the first step with one that has more than StormNewConnsPerS in
// the second from it.
func onsetFiguresOf(set OnsetTraceSet) []onsetFigures {
	const second, before, calm = 1000 / OnsetStepMs, 100 / OnsetStepMs, 500 / OnsetStepMs
	var out []onsetFigures
	for _, r := range set.Runs {
		for _, o := range r.Onsets {
			s := o.Steps
			dialsFrom := func(i int) (n int) {
				for _, x := range s[i:min(i+second, len(s))] {
					n += x.Dials
				}
				return n
			}
			i0 := -1
			for i := range s {
				if s[i].Dials > 0 && dialsFrom(i) > StormNewConnsPerS {
					i0 = i
					break
				}
			}
			if i0 < 0 {
				continue
			}
			f := onsetFigures{run: r.Storm.Config.Name, at: o.FromS + float64(i0*OnsetStepMs)/1000, leaseDials: dialsFrom(i0), dialMedianMs: median(o.DialMs)}
			for _, x := range s[max(0, i0-before) : i0+1] {
				f.raftDials += x.OtherDial
			}
			for _, x := range s[max(0, i0-before):min(i0+3, len(s))] {
				f.marking = f.marking || x.Mark > 0
			}
			var running, handshakes float64
			next := s[i0:min(i0+second, len(s))]
			for _, x := range next {
				running += x.Running
				handshakes += x.HandshakeCores
				f.runnable += x.Runnable / float64(len(next))
			}
			f.handshakeShare = handshakes / max(running, 1e-9)
			for _, x := range s[:calm] {
				f.calmRunnable += x.Runnable / calm
			}
			out = append(out, f)
		}
	}
	return out
}

// TestOnsetTraceReplay holds what the members' execution trace shows
// around storm onsets (make measure WHAT=storm-onset-trace-busy-procs1,
// storm-onset-trace-busy: 800/s on the busy machine; storm-onset-trace-
// quiet: 1,500/s on the quiet host; 3 runs of 40 s each, 2026-12-02; 12
// onsets traced, 7 of them big):
//
//   - Every onset starts within 100 ms of raft's dial burst (its prober
//     and streams open up to 6 connections at once, 12 handshake
//     goroutines) or of a GC mark: raft's burst in 6, a mark in 7, one
//     both; on the quiet host both big storms start at a mark. Neither
//     alone always starts one: the windows hold calm marks and raft bursts
//     followed by 0-8 lease dials.
//   - A big storm (over 400 lease dials in the second from its first) is
//     the members' process sharing its Ps among hundreds of goroutines
//     (236-632 runnable on average in that second, against under 1 when
//     calm), 81-86 % of the running time is TLS handshakes (both ends, in
//     goroutines of their own), and a lease forward's dial (connect and
//     client handshake) takes 0.46-1.5 s at the median.
//   - A handshake goroutine holds a P for 1.2-1.5 ms (the windows with
//     over 500 of them) on the quiet host and on one whole core: the
//     measured cost of an end (storm-2core: 1.34 ms) holds in a storm. On
//     the busy machine's two Ps it holds one for 1.9-2.4 ms: the thread
//     loses its core to the busy loop while it holds the P.
//
// The model's CPU is a FIFO by default: a handshake queued behind others
// ends in its turn, in milliseconds of work, so connections come back to
// the pool early and a burst of dials does not cascade; its processor
// sharing (cluster.processor_sharing) ends every handshake late together,
// as the trace shows, but cannot take the busy loop's thread yet.
func TestOnsetTraceReplay(t *testing.T) {
	var all []onsetFigures
	pTime := map[bool][]float64{} // busy machine's two Ps: ms a P is held per handshake goroutine
	for _, c := range []struct {
		file string
		rate int
		busy bool
	}{{onsetTraceProcs1File, HiccupBusyRenewalsPerS, true}, {onsetTraceBusyFile, HiccupBusyRenewalsPerS, true}, {onsetTraceQuietFile, OnsetTraceQuietRenewalsPerS, false}} {
		var set OnsetTraceSet
		loadMeasurement(t, c.file, &set)
		if set.RenewalsPerS != c.rate || set.Busy != c.busy || set.Date != "2026-12-02" {
			t.Errorf("%s: %d/s busy %v on %s; the figures below are the %d/s runs (busy %v) of 2026-12-02", c.file, set.RenewalsPerS, set.Busy, set.Date, c.rate, c.busy)
		}
		all = append(all, onsetFiguresOf(set)...)
		for _, r := range set.Runs {
			for _, o := range r.Onsets {
				var coreSteps float64
				var n int
				for _, x := range o.Steps {
					coreSteps += x.HandshakeCores
					n += x.Handshakes
				}
				if n > 500 {
					twoPs := c.busy && c.file != onsetTraceProcs1File
					pTime[twoPs] = append(pTime[twoPs], coreSteps*OnsetStepMs/float64(n))
				}
			}
		}
	}
	t.Logf("a P held per handshake goroutine, ms: %.2f (quiet host, one core); %.2f (the busy machine's two Ps)", pTime[false], pTime[true])
	for _, ms := range pTime[false] {
		if ms < 1 || ms > 1.6 {
			t.Errorf("a handshake goroutine held a P for %.2f ms on the quiet host or one core; measured 1.2-1.5 (storm-2core's cost of an end: 1.34)", ms)
		}
	}
	for _, ms := range pTime[true] {
		if ms < 1.7 {
			t.Errorf("a handshake goroutine held one of the busy machine's Ps for %.2f ms; measured 1.9-2.4", ms)
		}
	}
	if len(pTime[false]) != 4 || len(pTime[true]) != 3 {
		t.Errorf("%d and %d windows with over 500 handshakes; measured 4 and 3", len(pTime[false]), len(pTime[true]))
	}
	raft, marks, both, big := 0, 0, 0, 0
	for _, f := range all {
		t.Logf("%s at %.2f s: raft dials %d, marking %v; then %d lease dials, handshakes %.2f of the running time, %.0f runnable (calm %.1f), dial median %.0f ms",
			f.run, f.at, f.raftDials, f.marking, f.leaseDials, f.handshakeShare, f.runnable, f.calmRunnable, f.dialMedianMs)
		if f.raftDials > 0 {
			raft++
		}
		if f.marking {
			marks++
		}
		if f.raftDials > 0 && f.marking {
			both++
		}
		if f.raftDials == 0 && !f.marking {
			t.Errorf("%s at %.2f s: an onset with neither raft's dials nor a GC mark in the 100 ms before it", f.run, f.at)
		}
		if f.calmRunnable >= 2 {
			t.Errorf("%s: %.1f goroutines runnable on average in the calm half second", f.run, f.calmRunnable)
		}
		if f.leaseDials <= 400 {
			continue
		}
		big++
		if f.handshakeShare < 0.75 || f.runnable < 200 || f.dialMedianMs < 400 {
			t.Errorf("%s at %.2f s, a big storm: handshakes %.2f of the running time (measured 0.81-0.86), %.0f runnable (236-632), dials %.0f ms at the median (462-1,524)",
				f.run, f.at, f.handshakeShare, f.runnable, f.dialMedianMs)
		}
	}
	if len(all) != 12 || big != 7 || raft != 6 || marks != 7 || both != 1 {
		t.Errorf("%d onsets, %d big; raft's dials before %d, a mark %d, both %d; measured 12, 7; 6, 7, 1", len(all), big, raft, marks, both)
	}
}
