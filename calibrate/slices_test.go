package calibrate

import (
	"context"
	"os"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
)

// threadSlicesFile holds TestMeasureThreadSlices's result.
const threadSlicesFile = "testdata/thread-slices.json"

// threadSlicesMeasurement: how Linux's scheduler on this machine shares the
// two vCPUs between two threads that always have work (two goroutines, each
// locked to its thread, reading the monotonic clock in a loop, GOMAXPROCS 2:
// the members' process with a backlog on both Ps) and the storm set's busy
// loop (startSpinner), at nice 0 and at nice 19, and with no loop. A gap of
// more than threadSliceGap between two clock reads of one thread is a time
// the thread was off its core; the time between gaps, a time on it.
type threadSlicesMeasurement struct {
	What       string             `json:"what"`
	Machine    string             `json:"machine"`
	Go         string             `json:"go"`
	Date       string             `json:"date"`
	QuietOther float64            `json:"quiet_other_cores"`
	Conditions []threadSliceStats `json:"conditions"`
}

// threadSliceStats is one condition's off- and on-core times (ms).
type threadSliceStats struct {
	Loop     string  `json:"busy_loop"` // none | nice 0 | nice 19
	Seconds  float64 `json:"seconds"`
	Gaps     int     `json:"gaps"`
	OffShare float64 `json:"off_share"` // of the two threads' time
	OffP50   float64 `json:"off_p50_ms"`
	OffP90   float64 `json:"off_p90_ms"`
	OffP99   float64 `json:"off_p99_ms"`
	OffMax   float64 `json:"off_max_ms"`
	OnP50    float64 `json:"on_p50_ms"`
	OnP90    float64 `json:"on_p90_ms"`
}

// threadSliceGap: a clock-read gap longer than this is a time off the core
// (the loop reads the clock every ~50 ns; an interrupt takes a few µs).
const threadSliceGap = 50 * time.Microsecond

// TestMeasureThreadSlices measures threadSlicesMeasurement (make measure
// WHAT=thread-slices, ~20 s) into testdata/thread-slices.json.
func TestMeasureThreadSlices(t *testing.T) {
	if os.Getenv("LEASESIM_MEASURE") != "thread-slices" {
		t.Skip("a measurement: set LEASESIM_MEASURE=thread-slices to run it (how the scheduler shares the cores with a busy loop)")
	}
	if runtime.GOMAXPROCS(0) < 2 || runtime.NumCPU() != 2 {
		t.Skipf("needs the project's 2-vCPU machine (GOMAXPROCS %d, %d CPUs)", runtime.GOMAXPROCS(0), runtime.NumCPU())
	}
	ctx := context.Background()
	other, _, err := waitForQuiet(ctx, clock.New(), 30*time.Second, testWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	m := threadSlicesMeasurement{
		What: "two goroutines, each locked to its thread, reading the monotonic clock in a loop for 5 s (GOMAXPROCS 2), " +
			"beside the storm set's busy-loop process (none, nice 0, nice 19); a gap over 50 µs between two reads is a time off the core",
		Machine: thisMachine().CPU, Go: runtime.Version(), Date: time.Now().UTC().Format("2006-01-02"), QuietOther: other,
	}
	for _, loop := range []struct {
		name string
		nice int
		on   bool
	}{{"none", 0, false}, {"nice 0", 0, true}, {"nice 19", 19, true}} {
		if loop.on {
			cmd, err := startSpinner(ctx, loop.nice)
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(200 * time.Millisecond)
			m.Conditions = append(m.Conditions, threadSlices(loop.name, 5*time.Second))
			stopSpinner(cmd)
		} else {
			m.Conditions = append(m.Conditions, threadSlices(loop.name, 5*time.Second))
		}
		t.Logf("%+v", m.Conditions[len(m.Conditions)-1])
	}
	saveMeasurement(t, threadSlicesFile, m)
}

// threadSlices runs the two clock-reading threads for d.
func threadSlices(loop string, d time.Duration) threadSliceStats {
	var mu sync.Mutex
	var off, on []float64
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			start := time.Now()
			last, ran := start, start
			var myOff, myOn []float64
			for {
				now := time.Now()
				if g := now.Sub(last); g > threadSliceGap {
					myOff = append(myOff, ms(g))
					myOn = append(myOn, ms(last.Sub(ran)))
					ran = now
				}
				last = now
				if now.Sub(start) >= d {
					break
				}
			}
			mu.Lock()
			off, on = append(off, myOff...), append(on, myOn...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	var total float64
	for _, g := range off {
		total += g
	}
	q := func(xs []float64, p float64) float64 {
		if len(xs) == 0 {
			return 0
		}
		return round3(xs[int(p*float64(len(xs)-1))])
	}
	slices.Sort(off)
	slices.Sort(on)
	return threadSliceStats{Loop: loop, Seconds: d.Seconds(), Gaps: len(off), OffShare: round3(total / (2 * ms(d))),
		OffP50: q(off, .5), OffP90: q(off, .9), OffP99: q(off, .99), OffMax: q(off, 1), OnP50: q(on, .5), OnP90: q(on, .9)}
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// TestThreadSlicesReplay holds the saved measurement: with the busy loop at
// nice 0 each of the two busy threads is off its core about a third of the
// time (three threads, two cores), in gaps of a few milliseconds (EEVDF's
// slices) and never as long as the 10-20 ms the members' goroutines waited
// on the busy machine (TestStormBusyNiceIntervention): those longer waits
// are queues of goroutines behind work, not one thread's time off its
// core. With the loop at nice 19 or none, the threads are off their cores
// a few percent of the time.
func TestThreadSlicesReplay(t *testing.T) {
	var m threadSlicesMeasurement
	loadMeasurement(t, threadSlicesFile, &m)
	if len(m.Conditions) != 3 || m.Date == "" || m.Machine == "" {
		t.Fatalf("incomplete: %+v", m)
	}
	by := map[string]threadSliceStats{}
	for _, c := range m.Conditions {
		by[c.Loop] = c
		t.Logf("%+v", c)
	}
	busy := by["nice 0"]
	if !(busy.OffShare >= 0.25 && busy.OffShare <= 0.45) || !(busy.OffP99 >= 1 && busy.OffMax < 10) {
		t.Errorf("nice 0: off %.2f of the time, gaps p99 %.1f ms, max %.1f: not a third, in gaps of a few ms", busy.OffShare, busy.OffP99, busy.OffMax)
	}
	for _, name := range []string{"none", "nice 19"} {
		if c := by[name]; !(c.OffShare < 0.1) {
			t.Errorf("%s: off %.2f of the time", name, c.OffShare)
		}
	}
}
