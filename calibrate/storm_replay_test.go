package calibrate

import (
	"context"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestStormReplay replays the storm measurement (testdata/storm-3.7.3.json,
// make measure WHAT=storm) through leasesim: the same levels and conditions
// as the README's "issue's own experiment" (StormSpec), seeds 1-3, with the
// shipped parameter file, and prints measured beside simulated. It asserts
// what holds today: the file is complete and self-consistent (every derived
// figure recomputes from the saved per-second series with today's
// DeriveStorm), the model's onsets are what they are, and the known gaps in
// stormKnownApart still hold; a model change that closes a gap fails here
// until the entry is removed.
func TestStormReplay(t *testing.T) {
	var set StormSet
	loadMeasurement(t, stormFile, &set)
	checkStormSet(t, set)
	if t.Failed() {
		return
	}
	start := time.Now()
	pts, err := ReplayStorm(context.Background(), set, StormModel{Params: "default"})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := WriteStormTable(&b, set, pts, StormModel{Params: "default"}); err != nil {
		t.Fatal(err)
	}
	t.Logf("simulated %d levels x %d seeds in %s\n%s", len(pts), StormSeeds, time.Since(start).Round(time.Millisecond), b.String())

	// The model's storm onsets today: a model change that moves them fails
	// here; update them (and the README) from the table above.
	for _, c := range set.Conditions {
		want, ok := stormModelOnsetToday[c.Name]
		if got := StormOnsetOf(pts, c.Name, true); !ok || got != want {
			t.Errorf("leasesim's storm onset, %s: %s, was %s: update stormModelOnsetToday and the README from the table above", c.Name, onsetText(got), onsetText(want))
		}
	}
	checkStormClaims(t, pts, stormKnownApart, "known gap no longer holds: %s: remove it from stormKnownApart (and the README's list)")
	checkStormClaims(t, pts, stormAgrees, "no longer agrees: %s")
}

// stormClaim is a statement about a replay that a test holds to.
type stormClaim struct {
	what  string
	holds func([]StormPoint) bool
}

// checkStormClaims reports each claim that does not hold, with format.
func checkStormClaims(t *testing.T, pts []StormPoint, claims []stormClaim, format string) {
	t.Helper()
	for _, c := range claims {
		if !c.holds(pts) {
			t.Errorf(format, c.what)
		}
	}
}

// stormModelOnsetToday: leasesim's onset per condition on StormSpec, 0 if no
// measured level storms in the model. Today none does: the README's table of
// the same experiment puts the model's onsets at 4,000/s quiet and 3,000/s
// with one core busy, above every level the real cluster was run at.
var stormModelOnsetToday = map[string]int{"quiet": 0, "busy": 0}

// bigPoints are the levels where most real runs had a big storm.
func bigPoints(pts []StormPoint) []StormPoint {
	var out []StormPoint
	for _, p := range pts {
		if 2*p.Measured.Big >= p.Measured.Runs {
			out = append(out, p)
		}
	}
	return out
}

// every reports whether f holds for every point of pts (and there is one).
func every(pts []StormPoint, f func(StormPoint) bool) bool {
	return len(pts) > 0 && !slices.ContainsFunc(pts, func(p StormPoint) bool { return !f(p) })
}

// stormKnownApart lists where leasesim and the real cluster disagree today
// (testdata/storm-3.7.3.json against StormSpec, seeds 1-3). Each check is
// true while the gap holds; the README's "Still apart" list for the storm is
// this one.
var stormKnownApart = []stormClaim{
	{"(a) onset: the real cluster storms at every level run (quiet from 1,000/s, big storms from 1,500/s; one busy core from 400/s, " +
		"big from 800/s); leasesim at none of them (its onsets, README: 4,000/s quiet, 3,000/s busy)", func(pts []StormPoint) bool {
		return StormOnsetOf(pts, "quiet", false) > 0 && StormOnsetOf(pts, "busy", false) > 0 &&
			StormOnsetOf(pts, "quiet", true) == 0 && StormOnsetOf(pts, "busy", true) == 0
	}},
	{"(b) recurrence: real storms come back every 14-42 s (the median gap at each level) once the load stands; leasesim has no episode in these windows",
		func(pts []StormPoint) bool {
			return every(bigPoints(pts), func(p StormPoint) bool { return p.Measured.RecurrenceS > 0 && p.Model.RecurrenceS == 0 })
		}},
	{"(c) the storm's size: at the big-storm levels the real leader takes 540-1,517 new peer connections in its worst second " +
		"(medians); leasesim 4-7", func(pts []StormPoint) bool {
		return every(bigPoints(pts), func(p StormPoint) bool { return p.Model.PeakConns*10 < p.Measured.PeakConns })
	}},
	{"(d) RTT p99: real 1.1-4.0 s at the big-storm levels; leasesim under 2 ms", func(pts []StormPoint) bool {
		return every(bigPoints(pts), func(p StormPoint) bool { return p.Model.RTTP99Ms*100 < p.Measured.RTTP99Ms })
	}},
	{"(e) RTT p50: leasesim 1.6 ms, real 0.3-0.8 ms: the scenario keeps the model's data-centre round trips " +
		"(client 1 ms, peer 0.5 ms: spec.DefaultClientRTT, DefaultPeerRTT), where the real cluster is on loopback", func(pts []StormPoint) bool {
		return every(pts, func(p StormPoint) bool { return p.Model.RTTP50Ms > 1.5*p.Measured.RTTP50Ms })
	}},
	{"(f) server CPU: leasesim 0.07-0.39 cores, real 0.17-0.89: under by a factor 2.2-3.3 at every level (the fitted per-renewal costs " +
		"come from runs without storms; the storms' handshakes and the many streams are not in them)", func(pts []StormPoint) bool {
		return every(pts, func(p StormPoint) bool { return p.Model.ServerCores*1.5 < p.Measured.ServerCores })
	}},
	{"(g) stream errors: real runs at 3,000/s quiet and 1,600/s busy broke 106-1,483 streams; leasesim none", func(pts []StormPoint) bool {
		return slices.ContainsFunc(pts, func(p StormPoint) bool { return p.Measured.StreamErrors > 0 }) &&
			every(pts, func(p StormPoint) bool { return p.Model.StreamErrors == 0 })
	}},
	{"(h) leadership: real followers lose the leader in storms (etcd's leader-changes-seen counter up to 8 a run, the leader moved " +
		"in 4 runs); leasesim runs this scenario without cluster.raft, so no member ever loses its leader", func(pts []StormPoint) bool {
		return slices.ContainsFunc(pts, func(p StormPoint) bool { return p.Measured.SeenLeaderless > 0 }) &&
			every(pts, func(p StormPoint) bool { return p.Model.SeenLeaderless == 0 && p.Model.LeaderChanges == 0 })
	}},
	{"(i) the client's CPU (real 0.09-0.47 cores in the agent) is not modelled", func(pts []StormPoint) bool {
		return every(pts, func(p StormPoint) bool { return p.Measured.ClientCores > 0 && p.Model.ClientCores == 0 })
	}},
}

// stormAgrees lists what agrees today; each must keep holding.
var stormAgrees = []stormClaim{
	{"no lease is lost, real or simulated, at any level (the issue saw losses in some of its runs; these 24 lost none)", func(pts []StormPoint) bool {
		return every(pts, func(p StormPoint) bool { return p.Measured.LeasesLost == 0 && p.Model.LeasesLost == 0 })
	}},
	{"the load is open loop on both sides: answered renewals/s within 3 % of the offered level", func(pts []StormPoint) bool {
		return every(pts, func(p StormPoint) bool {
			l := float64(p.Level)
			return math.Abs(p.Measured.Answered-l) <= 0.03*l && math.Abs(p.Model.Answered-l) <= 0.03*l
		})
	}},
}

// checkStormSet checks that the saved campaign is complete and consistent.
func checkStormSet(t *testing.T, set StormSet) {
	t.Helper()
	if !set.Done || set.Etcd != "3.7.3" || set.Machine == "" || set.Date == "" || set.Cores < 1 {
		t.Fatalf("%s: incomplete: complete %v, etcd %q, machine %q, date %q, cores %d", stormFile, set.Done, set.Etcd, set.Machine, set.Date, set.Cores)
	}
	names := []string{}
	for _, c := range set.Conditions {
		names = append(names, c.Name)
		prev := 0
		for _, l := range c.Levels {
			if l.RenewalsPerS <= prev {
				t.Errorf("%s: levels not increasing at %d", c.Name, l.RenewalsPerS)
			}
			prev = l.RenewalsPerS
			if len(l.Runs) != StormRepeats {
				t.Errorf("%s %d/s: %d runs, want %d", c.Name, l.RenewalsPerS, len(l.Runs), StormRepeats)
			}
			stormed := 0
			for _, r := range l.Runs {
				checkStormRun(t, c, l, r)
				if r.Derived.Stormed {
					stormed++
				}
			}
			if stormed != l.Stormed {
				t.Errorf("%s %d/s: %d runs stormed, the file says %d", c.Name, l.RenewalsPerS, stormed, l.Stormed)
			}
		}
		if got := StormOnset(c.Levels); got != c.OnsetPerS {
			t.Errorf("%s: onset recomputes to %d/s, the file says %d/s", c.Name, got, c.OnsetPerS)
		}
	}
	if !slices.Equal(names, []string{"quiet", "busy"}) {
		t.Errorf("conditions %v, want [quiet busy]", names)
	}
}

func checkStormRun(t *testing.T, c StormCondition, l StormLevel, r StormRun) {
	t.Helper()
	name := r.Config.Name
	if r.Config.RenewalsPerS != l.RenewalsPerS || r.Config.Background != c.Background || r.Leases != l.RenewalsPerS/2 {
		t.Errorf("%s: config %+v does not match its level (%s, %d/s, %d leases)", name, r.Config, c.Name, l.RenewalsPerS, r.Leases)
	}
	var dur float64
	for _, s := range r.Seconds {
		dur += s.DurS
	}
	if w := r.Config.Window.Seconds(); math.Abs(dur-w) > 2 || len(r.Seconds) < int(w)-5 {
		t.Errorf("%s: %d samples over %.1f s, want about %.0f s of 1 s samples", name, len(r.Seconds), dur, w)
	}
	if got := DeriveStorm(r.Seconds); !reflect.DeepEqual(got, r.Derived) {
		t.Errorf("%s: derived figures do not recompute from the series:\n saved %+v\n now   %+v", name, r.Derived, got)
	}
	// The background load was there (one core, measured), or not at all.
	if bg := r.Derived.BackgroundCores; c.Background && bg < 0.8 || !c.Background && bg != 0 {
		t.Errorf("%s: background load %.2f cores measured", name, bg)
	}
}

// TestStormReplayGrounded replays the storm set through the grounded storm
// model (GroundedStormModel: the storm set's own measured costs and other
// CPU as inputs, loopback round trips, GC, spread, the follower reading its
// answer, the probers' measured bursts, the platform's measured stalls, the
// busy loop as a thread sharing the cores per thread at the measured
// all-busy speed), seeds 1-12, and
// holds what agrees and what does not.
func TestStormReplayGrounded(t *testing.T) {
	var set StormSet
	loadMeasurement(t, stormFile, &set)
	pts := replayAndLog(t, set, GroundedStormModel)
	for _, c := range []struct {
		what, cond string
		onset      func([]StormPoint, string, bool) int
		real, want int
	}{
		// Every onset agrees (12 seeds: 9, 11, 8 and 9 at the onset
		// level). What brought the busy ones: the collector marking on
		// its share of each P's thread (TestBusyMarkCores; the big storms
		// had started at 1,200/s) and the probers' bursts as measured,
		// each connection's CPU and the members' start skew
		// (TestProberBurstParams; the first storms had started at 800/s).
		{"big-storm onset", "quiet", BigStormOnsetOf, 1500, 1500}, {"big-storm onset", "busy", BigStormOnsetOf, 800, 800},
		{"storm onset (10 new connections)", "quiet", StormOnsetOf, 1000, 1000}, {"storm onset (10 new connections)", "busy", StormOnsetOf, 400, 400},
	} {
		if r, m := c.onset(pts, c.cond, false), c.onset(pts, c.cond, true); r != c.real || m != c.want {
			t.Errorf("%s, %s: real %s, grounded model %s; was %d/s and %d/s: update the test and the README", c.what, c.cond, onsetText(r), onsetText(m), c.real, c.want)
		}
	}
	checkStormClaims(t, pts, stormGroundedAgrees, "the grounded model no longer agrees: %s")
	checkStormClaims(t, pts, stormGroundedApart, "known gap of the grounded model no longer holds: %s: remove it (and the README's line)")
}

// replayAndLog replays set through model and logs the table beside it.
func replayAndLog(t *testing.T, set StormSet, model StormModel) []StormPoint {
	t.Helper()
	pts, err := ReplayStorm(context.Background(), set, model)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := WriteStormTable(&b, set, pts, model); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", b.String())
	return pts
}

// within reports whether a is within a factor f of b (both > 0).
func within(a, b, f float64) bool { return a > 0 && b > 0 && a <= f*b && b <= f*a }

// stormGroundedAgrees: what the grounded model gets right today.
var stormGroundedAgrees = []stormClaim{
	{"server CPU within 25 % of the real at every level (under by 22-24 % at quiet 1,000-2,000/s, where the real storms are bigger, and 18 % at busy 400/s; over by 14 % at quiet 3,000/s and 23 % at busy 1,600/s: the real CPU per renewal falls with the rate, the model's does not)", func(pts []StormPoint) bool {
		return every(pts, func(p StormPoint) bool {
			return math.Abs(p.Model.ServerCores-p.Measured.ServerCores) <= 0.25*p.Measured.ServerCores
		})
	}},
	{"RTT p50 within a factor 2 at every level", func(pts []StormPoint) bool {
		return every(pts, func(p StormPoint) bool { return within(p.Model.RTTP50Ms, p.Measured.RTTP50Ms, 2) })
	}},
	{"calm RTT p99 within a factor 2 where most real runs do not storm big (quiet 1,000/s: 4.1 ms against 6.8; busy 400/s: 7.4 against 7.5): the prober's slow second in four and the platform's stalls (spec/stalls.go, TestPlatformStallTables); without the stalls 2.4 and 2.7 ms", func(pts []StormPoint) bool {
		return every(pts, func(p StormPoint) bool {
			return 2*p.Measured.Big >= p.Measured.Runs || within(p.Model.RTTP99Ms, p.Measured.RTTP99Ms, 2)
		})
	}},
	{"where most seeds storm big, the worst second's new connections within a factor 2.5 of the real (the model's storms are smaller: 486-1,278 against 540-1,517)", func(pts []StormPoint) bool {
		return every(pts, func(p StormPoint) bool {
			return 2*p.Model.Big <= p.Model.Runs || within(p.Model.PeakConns, p.Measured.PeakConns, 2.5)
		})
	}},
	{"the storms recur, every level on both sides, within a factor 2 of the real gap at every level (busy 1,600/s at the edge: 28 s against 14; without the platform's stalls 32 s, and 7 of the 8 within 2x)", func(pts []StormPoint) bool {
		return every(pts, func(p StormPoint) bool { return within(p.Model.RecurrenceS, p.Measured.RecurrenceS, 2) })
	}},
}

// stormGroundedApart: where the grounded model and the real cluster still
// disagree.
var stormGroundedApart = []stormClaim{
	{"(a) leadership: real members lose the leader in storms (up to 8 a run); the grounded model runs without cluster.raft",
		func(pts []StormPoint) bool {
			return every(pts, func(p StormPoint) bool { return p.Model.SeenLeaderless == 0 && p.Model.LeaderChanges == 0 })
		}},
	{"(b) stream errors: real 181-1,483 in the worst runs at 3,000/s quiet and 1,600/s busy; the model none",
		func(pts []StormPoint) bool {
			return every(pts, func(p StormPoint) bool { return p.Model.StreamErrors == 0 })
		}},
}

// TestStormReplayBusyOneCore replays the storm set's busy levels through
// the grounded model read another way (StormModel.BusyOneCore): the
// members' process on one core, the busy loop on the other, as if the
// members ran at GOMAXPROCS 1. TestStormBusyProcs1Intervention measured
// that they storm so (2 of 3 runs big at 800/s, against 3 of 3 at
// GOMAXPROCS 2 in the storm set): on the busy machine their second P buys
// them little. Read so, the busy onsets, the busy levels' server CPU and
// the calm p99 at 400/s come out as measured; the top level's storms recur
// about twice as far apart as the real ones, and the real members do get
// more than one core while they storm.
func TestStormReplayBusyOneCore(t *testing.T) {
	var set StormSet
	loadMeasurement(t, stormFile, &set)
	var busy []StormCondition
	for _, c := range set.Conditions {
		if c.Background {
			busy = append(busy, c)
		}
	}
	if len(busy) != 1 {
		t.Fatalf("%s: %d busy conditions, want 1", stormFile, len(busy))
	}
	set.Conditions = busy
	model := GroundedStormModel
	model.BusyOneCore = true
	pts := replayAndLog(t, set, model)
	for _, c := range []struct {
		what       string
		onset      func([]StormPoint, string, bool) int
		real, want int
	}{
		{"storm onset (10 new connections)", StormOnsetOf, 400, 400},
		{"big-storm onset", BigStormOnsetOf, 800, 800},
	} {
		if r, m := c.onset(pts, "busy", false), c.onset(pts, "busy", true); r != c.real || m != c.want {
			t.Errorf("busy %s: real %s, the members on one core %s; was %d/s and %d/s: update the test and the README", c.what, onsetText(r), onsetText(m), c.real, c.want)
		}
	}
	checkStormClaims(t, pts, []stormClaim{
		{"server CPU within 25 % of the real at every busy level (0.14 / 0.29 / 0.42 / 0.56 cores against 0.17 / 0.31 / 0.47 / 0.48)", func(pts []StormPoint) bool {
			return every(pts, func(p StormPoint) bool {
				return math.Abs(p.Model.ServerCores-p.Measured.ServerCores) <= 0.25*p.Measured.ServerCores
			})
		}},
		{"calm RTT p99 at 400/s within a factor 2 of the real 7.5 ms (11.1 ms with the platform's stalls, 7.4 without)", func(pts []StormPoint) bool {
			return every(pts, func(p StormPoint) bool { return p.Level != 400 || within(p.Model.RTTP99Ms, p.Measured.RTTP99Ms, 2) })
		}},
		{"the storms recur within a factor 2 of the real gap at 400-1,200/s (19, 24 and 26 s against 36, 16 and 14)", func(pts []StormPoint) bool {
			return every(pts, func(p StormPoint) bool {
				return p.Level == 1600 || within(p.Model.RecurrenceS, p.Measured.RecurrenceS, 2)
			})
		}},
	}, "the members on one core no longer agree: %s")
	checkStormClaims(t, pts, []stormClaim{
		{"at 1,600/s the storms recur at least 1.8x as far apart as the real ones (31 s against 14)", func(pts []StormPoint) bool {
			return every(pts, func(p StormPoint) bool {
				return p.Level != 1600 || p.Model.RecurrenceS >= 1.8*p.Measured.RecurrenceS
			})
		}},
	}, "known gap of the members on one core no longer holds: %s: remove it (and the README's line)")

	// Why this is a reading and not the grounded model: in the seconds of
	// their big storms the real members take more than a core (the loop
	// leaves them up to 4/3), which one core cannot give.
	for _, l := range busy[0].Levels {
		var cores []float64
		for _, r := range l.Runs {
			for _, s := range r.Seconds {
				if s.NewPeerConns > BigStormNewConnsPerS {
					cores = append(cores, s.ServerCores)
				}
			}
		}
		if len(cores) == 0 {
			continue
		}
		slices.Sort(cores)
		if m := median(cores); m <= 1 {
			t.Errorf("busy %d/s: the real members' CPU in big-storm seconds has median %.2f cores; was above one core (1.09-1.25 over 800-1,600/s): the one-core reading may stand as the grounded model", l.RenewalsPerS, m)
		}
	}
}
