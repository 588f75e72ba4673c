package model_test

import (
	"testing"
	"time"

	"github.com/leasesim/leasesim/model"
	"github.com/leasesim/leasesim/sim"
)

// Other processes' threads share the cores per thread (CFS), not as cores
// taken away, and every core busy runs each thread at Speed. On 2 cores
// (GOMAXPROCS 2) beside one always-runnable thread, the member's process
// gets 4/3 of a core with a backlog (2 threads of 3) and a whole core for a
// lone request (1 thread beside 1); host.background_cores 1 takes a whole
// core either way. Work at Speed takes 1/Speed as long, and counts in
// Utilisation as its quiet CPU time.
func TestCPUThreadsShareAndSpeed(t *testing.T) {
	for _, c := range []struct {
		name       string
		threads    float64
		speed      float64
		background float64 // fluid cores (host.background_cores)
		// a lone 1 ms job's completion, and the last of four 1 ms jobs
		// queued together (after the lone one is done)
		lone, burst sim.Time
		util        float64 // first bucket: CPU time of the 5 ms of work / 2 cores
	}{
		{"1 background core (fluid)", 0, 0, 1, 1 * ms, 5 * ms, 0.0025},
		{"nothing else", 0, 0, 0, 1 * ms, 3 * ms, 0.0025},
		{"1 thread at full speed", 1, 1, 0, 1 * ms, 4 * ms, 0.0025},
		{"1 thread, speed 0.8", 1, 0.8, 0, 1250 * sim.Time(time.Microsecond), 5 * ms, 0.0025},
		{"2 threads: 1 core with a backlog, 2/3 alone", 2, 1, 0, 1500 * sim.Time(time.Microsecond), 5500 * sim.Time(time.Microsecond), 0.0025},
		{"1 thread beside 0.5 fluid core: 1.5 cores shared 2 to 1", 1, 1, 0.5, 1333334 * sim.Time(time.Nanosecond), 5333334 * sim.Time(time.Nanosecond), 0.0025},
	} {
		t.Run(c.name, func(t *testing.T) {
			var bg []model.LoadStep
			if c.background > 0 {
				bg = []model.LoadStep{{At: 0, Cores: c.background}}
			}
			cpu := model.NewCPU(model.CPUConfig{Cores: 2, Bucket: time.Second, Duration: 2 * time.Second,
				Background: bg, Threads: c.threads, Speed: c.speed})
			lone, _ := cpu.Submit(0, time.Millisecond, 1, 0)
			if !closeTo(lone, c.lone) {
				t.Errorf("a lone 1 ms job done at %v, want %v", time.Duration(lone), time.Duration(c.lone))
			}
			var last sim.Time
			for range 4 {
				last, _ = cpu.Submit(lone, time.Millisecond, 1, 0)
			}
			if !closeTo(last, c.burst) {
				t.Errorf("the last of 4 queued 1 ms jobs done at %v, want %v", time.Duration(last), time.Duration(c.burst))
			}
			if u := cpu.Utilisation()[0]; u < c.util-1e-8 || u > c.util+1e-8 {
				t.Errorf("utilisation %v, want %v", u, c.util)
			}
		})
	}
}

// closeTo: within the nanoseconds a fluid drain rounds up (4/3 of a core
// is not exact in floating point).
func closeTo(a, b sim.Time) bool { return a >= b-5 && a <= b+5 }

// A GC cycle beside other threads marks on its share of each P's thread
// (MarkCores over Procs of the process's CFS share), at its quiet speed
// (the measured gc-mark workload was not slowed): 10 MiB at 10 MiB a
// core-second is 1 s of work, on 1.5/2 of 4/3 cores: 1 core.
func TestCPUThreadsGC(t *testing.T) {
	gc := model.GCConfig{GOGC: 100, Procs: 2, BaseHeap: 10 * mib, AllocPerRequest: 19 * mib / 10, ScanRate: 10 * mib, MarkCores: 1.5}
	cpu := model.NewCPU(model.CPUConfig{Cores: 2, Bucket: time.Second, Duration: 10 * time.Second, GC: &gc, Threads: 1, Speed: 0.8})
	for range 6 {
		cpu.Submit(0, time.Second, 1, 0)
	}
	marks := cpu.GC().Marks()
	if len(marks) != 1 {
		t.Fatalf("%d cycles, want 1", len(marks))
	}
	// 1 s of work on 1 core: 1 s.
	if d := time.Duration(marks[0].To - marks[0].From); d < 999*time.Millisecond || d > 1001*time.Millisecond {
		t.Errorf("mark %v, want 1 s", d)
	}
}
