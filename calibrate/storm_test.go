package calibrate

import (
	"reflect"
	"testing"
	"time"
)

// A synthetic window: storm seconds (more than 10 new connections) at 20-21
// s, 24 s (3 s later: the same episode), 40 s and 70 s; 10 new connections is
// not a storm (the threshold is "more than").
func TestDeriveStormEpisodes(t *testing.T) {
	var secs []StormSecond
	for i := 15; i < 75; i++ {
		s := StormSecond{T: float64(i + 1), DurS: 1, AnsweredPerS: 100, PeerEstablished: 10, ServerCores: 0.5, RTTP99Ms: 1}
		switch i {
		case 20, 21, 24, 40, 70:
			s.NewPeerConns, s.PeerEstablished, s.RTTP99Ms = 50, 300, 3000
		case 30:
			s.NewPeerConns = 10
		}
		secs = append(secs, s)
	}
	d := DeriveStorm(secs)
	if !d.Stormed || d.StormSeconds != 5 {
		t.Fatalf("stormed %v with %d storm seconds, want true and 5", d.Stormed, d.StormSeconds)
	}
	if want := []float64{20, 40, 70}; !reflect.DeepEqual(d.EpisodeStart, want) {
		t.Fatalf("episodes start at %v, want %v", d.EpisodeStart, want)
	}
	// Gaps 20 and 30 s: the lower median is 20.
	if d.RecurrenceS != 20 {
		t.Fatalf("recurrence %v s, want 20", d.RecurrenceS)
	}
	if d.PeakNewConns != 50 || d.PeakEstab != 300 || d.PeakRTTP99Ms != 3000 || d.AnsweredPerS != 100 || d.ServerCores != 0.5 {
		t.Fatalf("peaks and means %+v", d)
	}
	if d.NewConnsPerS != round3((5*50+10)/60.0) {
		t.Fatalf("new conns/s %v", d.NewConnsPerS)
	}
	quiet := DeriveStorm(secs[:5])
	if quiet.Stormed || quiet.EpisodeStart != nil || quiet.RecurrenceS != 0 {
		t.Fatalf("a window without storm seconds: %+v", quiet)
	}
}

func TestStormOnset(t *testing.T) {
	lv := func(n, stormed int) StormLevel {
		return StormLevel{RenewalsPerS: n, Stormed: stormed, Runs: make([]StormRun, 3)}
	}
	if got := StormOnset([]StormLevel{lv(400, 0), lv(800, 1), lv(1200, 2), lv(1600, 3)}); got != 1200 {
		t.Fatalf("onset %d, want 1200 (the first level where 2 of 3 storm)", got)
	}
	if got := StormOnset([]StormLevel{lv(400, 1), lv(800, 1)}); got != 0 {
		t.Fatalf("onset %d, want 0 (no level where half storm)", got)
	}
}

func TestStormConfig(t *testing.T) {
	c := StormConfig{RenewalsPerS: 2000}
	c.Defaults()
	if c.Leases() != 1000 || c.TTL != 10*time.Second || c.Warmup != 15*time.Second || c.Window != time.Minute || c.Name != "storm-quiet-2000" {
		t.Fatalf("defaults %+v, %d leases", c, c.Leases())
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	c.RenewalsPerS = 1
	if err := c.Validate(); err == nil {
		t.Fatal("1 renewal/s accepted")
	}
}
