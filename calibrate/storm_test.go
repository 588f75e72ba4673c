package calibrate

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/leasesim/leasesim/calibrate/procstat"
	"github.com/leasesim/leasesim/calibrate/sampler"
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

// stormSeconds bins the agent's events into the sampling intervals: a send
// belongs to the interval it was made in, its answer to the one it arrived
// in, and an unanswered send is counted, not timed.
func TestStormSecondsBinsEvents(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	ns := func(ms int) int64 { return at(ms).UnixNano() }
	var samples []sampler.Sample[stormProbe]
	for i, p := range []stormProbe{
		{server: 0, client: 0, host: procstat.HostCPU{Busy: 0}, leader: 0},
		{server: 500 * time.Millisecond, client: 200 * time.Millisecond, host: procstat.HostCPU{Busy: 900 * time.Millisecond}, newConns: 12, established: 40, leader: 0},
		{server: 800 * time.Millisecond, client: 300 * time.Millisecond, host: procstat.HostCPU{Busy: 1200 * time.Millisecond}, newConns: 0, established: 30, leader: 1},
	} {
		samples = append(samples, sampler.Sample[stormProbe]{At: at(15000 + 1000*i), V: p})
	}
	res := &StormResult{
		// Before the window, in the first interval (answered in the second),
		// in the first (unanswered), in the second, after the window.
		SendAt:       []int64{ns(14900), ns(15100), ns(15200), ns(16500), ns(17100)},
		RTTNs:        []int64{int64(150 * time.Millisecond), int64(1200 * time.Millisecond), -1, int64(2 * time.Millisecond), int64(time.Millisecond)},
		StreamErrors: []int64{ns(16600)},
	}
	secs, p50, p99 := stormSeconds(samples, res, t0, 0)
	if len(secs) != 2 {
		t.Fatalf("%d intervals, want 2", len(secs))
	}
	a, b := secs[0], secs[1]
	if a.T != 16 || a.SendsPerS != 2 || a.AnsweredPerS != 1 || a.Unanswered != 1 || a.RTTP50Ms != 1200 || a.NewPeerConns != 12 || a.PeerEstablished != 40 {
		t.Fatalf("first interval %+v", a)
	}
	// 14.9 s + 150 ms is answered in the first interval; 15.1 s + 1.2 s and
	// 16.5 s + 2 ms in the second.
	if b.SendsPerS != 1 || b.AnsweredPerS != 2 || b.StreamErrors != 1 || b.LeaderChanges != 1 || b.RTTP50Ms != 2 {
		t.Fatalf("second interval %+v", b)
	}
	if a.ServerCores != 0.5 || a.ClientCores != 0.2 || a.OtherCores != 0.2 {
		t.Fatalf("CPU %+v", a)
	}
	if p50 != 2 || p99 != 1200 {
		t.Fatalf("window RTT p50 %v p99 %v, want 2 and 1200 ms", p50, p99)
	}
}

// The background load is a process that spins one core and is gone once
// stopped.
func TestSpinnerStartsAndStops(t *testing.T) {
	cmd, err := startSpinner(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	// On a loaded machine the spinner may wait for a core: poll, up to 10 s,
	// for 50 ms of CPU.
	var c procstat.CPUTimes
	for start := time.Now(); time.Since(start) < 10*time.Second && c.Total() < 50*time.Millisecond; time.Sleep(50 * time.Millisecond) {
		if c, err = (procstat.FS{}).ProcessCPU(pid); err != nil {
			stopSpinner(cmd)
			t.Skip(err) // no /proc
		}
	}
	stopSpinner(cmd)
	if c.Total() < 50*time.Millisecond {
		t.Errorf("the spinner used %s of CPU in 10 s", c.Total())
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
		t.Errorf("process %d still exists after stopSpinner", pid)
	}
}
