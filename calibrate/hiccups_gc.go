package calibrate

import (
	"math"
	"slices"
	"time"

	"github.com/leasesim/leasesim/spec"
)

// The members' collector as the storm-hiccups measurement saw it: the
// parameters of the GC model (model.GCConfig, a parameter file's gc
// section) for the measured process, read off its cycles.
//
// Terms, per member GC cycle (GCCycle, runtime/metrics every 10 ms):
//   - GC CPU: the cycle's mark CPU, assists and the GC's own workers
//     (dedicated, fractional and idle) together: the core time the process
//     spent collecting rather than serving requests.
//   - scan rate: the live heap after the cycle over its GC CPU: bytes of
//     this process's heap (pointer-dense etcd state, gRPC and HTTP buffers)
//     one core marks per second, where spec.DefaultGC's 4.62 GB/s is a
//     synthetic heap's.
//   - mark cores: GC CPU over the mark's wall time: the cores the cycle took
//     while it marked. Go plans a quarter of GOMAXPROCS for its background
//     workers (runtime/mgcpacer.go:39, gcBackgroundUtilization); idle mark
//     workers take every P that would otherwise idle and allocating
//     goroutines assist, so a process on 2 cores takes more.
//   - mark spread: the spread of a cycle's GC CPU for its heap, sigma of
//     ln(GC CPU / live heap) from the quartiles (IQR / 1.349, which a
//     lognormal's sigma equals), so that the few cycles next to a storm
//     (marks of 90-110 ms) do not decide it.
//   - base heap: the live heap after a cycle, per member of the process.

// HiccupGCStormMargin: FitGC leaves out cycles that start this close to a
// storm second.
const HiccupGCStormMargin = 3 * time.Second

// HiccupGCMembers is how many members the measured process held (calibrate
// runs the cluster in one process).
const HiccupGCMembers = 3

// FitGC reads the collector's parameters off the saved cycles: each the
// median over the member cycles with a mark that start at least
// HiccupGCStormMargin away from every storm second (a storm's queues and
// connections swell the heap and its handshakes the CPU; the model adds
// those itself), the spread from the quartiles, rounded to 3 significant
// digits.
func (h HiccupSet) FitGC() spec.ParamsGC {
	var scan, cores, heap, logRatio []float64
	for _, r := range h.Runs {
		var storms []float64 // the storm seconds' midpoints, s from the load's start
		for _, s := range r.Seconds {
			if s.D.Storm {
				storms = append(storms, s.T-s.DurS/2)
			}
		}
		for _, c := range r.MemberCycles {
			cpuS := (c.AssistMs + c.WorkersMs) / 1000
			if c.MarkMs <= 0 || cpuS <= 0 || c.LiveAfterMB <= 0 || slices.ContainsFunc(storms, func(t float64) bool {
				return math.Abs(c.StartS-t) < HiccupGCStormMargin.Seconds()
			}) {
				continue
			}
			live := c.LiveAfterMB * (1 << 20)
			scan = append(scan, live/cpuS)
			cores = append(cores, cpuS*1000/c.MarkMs)
			heap = append(heap, live)
			logRatio = append(logRatio, math.Log(cpuS/live))
		}
	}
	if len(scan) == 0 {
		return spec.ParamsGC{}
	}
	q1, q3 := quartiles(logRatio)
	return spec.ParamsGC{
		ScanRate:   sig3(median(scan)),
		MarkCores:  sig3(median(cores)),
		MarkSpread: sig3((q3 - q1) / 1.349),
		BaseHeap:   int64(math.Round(sig3(median(heap) / HiccupGCMembers))),
	}
}

// quartiles are the first and third quartiles of xs (linear interpolation
// between order statistics).
func quartiles(xs []float64) (q1, q3 float64) {
	s := slices.Clone(xs)
	slices.Sort(s)
	at := func(p float64) float64 {
		f := p * float64(len(s)-1)
		i := int(f)
		if i+1 >= len(s) {
			return s[len(s)-1]
		}
		return s[i] + (f-float64(i))*(s[i+1]-s[i])
	}
	return at(0.25), at(0.75)
}

// sig3 rounds v to 3 significant digits.
func sig3(v float64) float64 {
	if v == 0 {
		return 0
	}
	p := math.Pow(10, 2-math.Floor(math.Log10(math.Abs(v))))
	return math.Round(v*p) / p
}
