package sim_test

import (
	"fmt"
	"testing"

	"github.com/leasesim/leasesim/sim"
)

// binaryHeap is the textbook alternative to the kernel's wheel: a typed
// binary min-heap on (at, seq), payloads inline. It exists to measure the
// kernel against in the same run (BenchmarkKernelVsBinaryHeap).
type binaryHeap[P any] struct {
	items []heapItem[P]
	seq   uint64
}

type heapItem[P any] struct {
	at  sim.Time
	seq uint64
	p   P
}

func (h *binaryHeap[P]) less(i, j int) bool {
	a, b := &h.items[i], &h.items[j]
	return a.at < b.at || (a.at == b.at && a.seq < b.seq)
}

func (h *binaryHeap[P]) push(at sim.Time, p P) {
	h.seq++
	h.items = append(h.items, heapItem[P]{at, h.seq, p})
	for i := len(h.items) - 1; i > 0; {
		parent := (i - 1) / 2
		if !h.less(i, parent) {
			break
		}
		h.items[i], h.items[parent] = h.items[parent], h.items[i]
		i = parent
	}
}

func (h *binaryHeap[P]) pop() (sim.Time, P) {
	top := h.items[0]
	last := len(h.items) - 1
	h.items[0] = h.items[last]
	h.items = h.items[:last]
	for i := 0; ; {
		l, small := 2*i+1, i
		if l < last && h.less(l, small) {
			small = l
		}
		if r := l + 1; r < last && h.less(r, small) {
			small = r
		}
		if small == i {
			break
		}
		h.items[i], h.items[small] = h.items[small], h.items[i]
		i = small
	}
	return top.at, top.p
}

// payload is the size of the cluster wiring's event (scenario.event).
type payload [96]byte

// BenchmarkKernelVsBinaryHeap runs one workload — timers rescheduling
// themselves 500 ms plus a little ahead, as client scan loops do — through
// the kernel and through a typed binary heap, in the same run; the figure is
// the ratio of their events/s.
func BenchmarkKernelVsBinaryHeap(b *testing.B) {
	for _, pending := range []int{10_000, 1_000_000} {
		var kernelRate, heapRate float64
		b.Run(fmt.Sprintf("kernel/pending=%d", pending), func(b *testing.B) {
			k := sim.New[payload]()
			r := sim.NewRand(1, "bench")
			for i := 0; i < pending; i++ {
				k.Schedule(sim.Time(r.Int64N(500_000_000)), payload{byte(i)})
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				now, p, _ := k.Step()
				k.Schedule(now+500_000_000+sim.Time(p[0]%7), p)
			}
			kernelRate = float64(b.N) / b.Elapsed().Seconds()
			b.ReportMetric(kernelRate, "events/s")
		})
		b.Run(fmt.Sprintf("binary-heap/pending=%d", pending), func(b *testing.B) {
			var h binaryHeap[payload]
			r := sim.NewRand(1, "bench")
			for i := 0; i < pending; i++ {
				h.push(sim.Time(r.Int64N(500_000_000)), payload{byte(i)})
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				now, p := h.pop()
				h.push(now+500_000_000+sim.Time(p[0]%7), p)
			}
			heapRate = float64(b.N) / b.Elapsed().Seconds()
			b.ReportMetric(heapRate, "events/s")
			if kernelRate > 0 {
				b.ReportMetric(kernelRate/heapRate, "kernel/heap")
			}
		})
	}
}
