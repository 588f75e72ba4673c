package calibrate

import (
	"net"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// schedFile holds TestMeasureSchedulingDelay's result.
const schedFile = "testdata/sched-delay-go.json"

// schedMeasurement: how late a goroutine runs after it is made runnable, on
// GOMAXPROCS 2 with N other goroutines always runnable (each spinning), for
// the two ways raft's goroutines are woken: by a timer (the leader's tick:
// runtime.ready puts it in its P's runnext slot, proc.go) and by the network
// (a follower's rafthttp stream reader: the netpoller's injectglist puts it
// on a run queue behind the others, proc.go). model.Raft's raft_wait
// preempt/backlog are the two bounds this measures between.
type schedMeasurement struct {
	What   string       `json:"what"`
	Go     string       `json:"go"`
	Points []schedPoint `json:"points"`
}

type schedPoint struct {
	Runnable int   `json:"runnable"` // spinning goroutines besides the measured one
	TimerP50 int64 `json:"timer_p50_ns"`
	TimerP99 int64 `json:"timer_p99_ns"`
	TimerMax int64 `json:"timer_max_ns"`
	NetP50   int64 `json:"net_p50_ns"`
	NetP99   int64 `json:"net_p99_ns"`
	NetMax   int64 `json:"net_max_ns"`
}

// TestMeasureSchedulingDelay measures a timer-woken and a network-woken
// goroutine's wake-up delay with 0 to 64 spinning goroutines on 2 Ps (LEASESIM_MEASURE=sched,
// about two minutes).
func TestMeasureSchedulingDelay(t *testing.T) {
	measuring(t, "sched", "about two minutes")
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	m := schedMeasurement{What: "GOMAXPROCS 2, N goroutines spinning; 100 wake-ups each: a 10 ms sleep's lateness (timer), " +
		"and a loopback TCP read's delay after its 1-byte write (network)", Go: runtime.Version()}
	for _, n := range []int{0, 2, 8, 32, 64} {
		var stop atomic.Bool
		var wg sync.WaitGroup
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				x := 0
				for !stop.Load() {
					x++
				}
				_ = x
			}()
		}
		timer := make([]int64, 0, 100)
		for range 100 {
			start := time.Now()
			time.Sleep(10 * time.Millisecond)
			timer = append(timer, int64(time.Since(start)-10*time.Millisecond))
		}
		netDelays := measureNetWake(t, 100)
		stop.Store(true)
		wg.Wait()
		p := schedPoint{Runnable: n}
		p.TimerP50, p.TimerP99, p.TimerMax = delayQuantiles(timer)
		p.NetP50, p.NetP99, p.NetMax = delayQuantiles(netDelays)
		t.Logf("%+v", p)
		m.Points = append(m.Points, p)
	}
	saveMeasurement(t, schedFile, m)
}

// measureNetWake: a reader goroutine blocked in Read on a loopback TCP
// connection; a writer sends one byte every 10 ms; the delay is from just
// before the write to the reader's return.
func measureNetWake(t *testing.T, n int) []int64 {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	w, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	r := <-accepted
	defer r.Close()
	var sent atomic.Int64
	delays := make(chan int64, n)
	go func() {
		buf := make([]byte, 1)
		for range n {
			if _, err := r.Read(buf); err != nil {
				return
			}
			delays <- time.Now().UnixNano() - sent.Load()
		}
	}()
	out := make([]int64, 0, n)
	for range n {
		time.Sleep(10 * time.Millisecond)
		sent.Store(time.Now().UnixNano())
		if _, err := w.Write([]byte{1}); err != nil {
			t.Fatal(err)
		}
		out = append(out, <-delays)
	}
	return out
}

func delayQuantiles(v []int64) (p50, p99, max int64) {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2], s[len(s)*99/100], s[len(s)-1]
}

// TestSchedulingDelayReplay keeps what the README says of the saved
// measurement, which is what cluster.raft_wait's two bounds stand for: a
// timer-woken goroutine (the leader's tick, which sends the heartbeats)
// waits a few 10 ms slices at most however many goroutines are runnable
// (preempt), while a network-woken one (a follower's rafthttp stream
// reader, the leader reading the heartbeat answers CheckQuorum counts)
// waits behind them, about 10 ms per runnable goroutine here (backlog).
func TestSchedulingDelayReplay(t *testing.T) {
	var m schedMeasurement
	loadMeasurement(t, schedFile, &m)
	if len(m.Points) < 4 {
		t.Fatalf("%d points saved; want the measurement", len(m.Points))
	}
	for _, p := range m.Points {
		if p.TimerP99 > int64(50*time.Millisecond) {
			t.Errorf("%d runnable: a timer-woken goroutine %v late at p99; the preempt bound says a few 10 ms slices", p.Runnable, time.Duration(p.TimerP99))
		}
		if p.Runnable >= 8 && p.NetP50 < int64(p.Runnable)*int64(5*time.Millisecond) {
			t.Errorf("%d runnable: a network-woken goroutine only %v late at p50; the backlog bound says it waits behind them", p.Runnable, time.Duration(p.NetP50))
		}
	}
}
