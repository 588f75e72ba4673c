package calibrate

import (
	"context"
	"runtime"
	"runtime/metrics"
	"slices"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"

	"github.com/leasesim/leasesim/spec"
)

// gcMeasurement is a saved measurement of Go's garbage collector on this
// machine (the scan rate and pauses of a cycle) and of a real etcd 3.7.3
// cluster's heap (its live heap with no load, the bytes one renewal
// allocates): the parameters of the GC model (model.GC, spec.DefaultGC).
type gcMeasurement struct {
	Go      string `json:"go"`
	Etcd    string `json:"etcd"`
	Machine string `json:"machine"`
	Date    string `json:"date"`
	Procs   int    `json:"gomaxprocs"`
	// Scan: forced cycles over a heap of request-like objects (256 B, 4
	// pointers each, in linked lists), per heap size: the live heap, the
	// cycle's mark CPU (dedicated + fractional + idle workers + assists,
	// /cpu/classes/gc/mark/*) and its pauses (/sched/pauses/total/gc),
	// medians of the repeats.
	Scan []struct {
		LiveBytes   int64   `json:"live_bytes"`
		MarkCPUNs   int64   `json:"mark_cpu_ns"`
		PauseNs     int64   `json:"pause_ns"`
		BytesPerCPU float64 `json:"scan_bytes_per_cpu_s"`
	} `json:"scan"`
	// Etcd: a 3-member cluster in this process (peer TLS RSA), no load:
	// its live heap after two forced cycles; then renewals over one gRPC
	// LeaseKeepAlive stream from a client in the same process, one at a time
	// (the client's side included: an upper bound on the server's), to the
	// leader (direct) and to a follower (forwarded to the leader over
	// HTTP/1.1 with TLS): heap bytes allocated per renewal
	// (/gc/heap/allocs:bytes).
	EtcdLiveBytes        int64 `json:"etcd_live_bytes_3_members"`
	AllocPerDirect       int64 `json:"alloc_bytes_per_direct_renewal"`
	AllocPerForwarded    int64 `json:"alloc_bytes_per_forwarded_renewal"`
	RenewalsPerPlacement int   `json:"renewals_per_placement"`
}

const gcFile = "testdata/gc-go-etcd-3.7.3.json"

type obj struct {
	next, a, b, c *obj
	pad           [224]byte
}

func readMetrics(names ...string) []metrics.Sample {
	s := make([]metrics.Sample, len(names))
	for i, n := range names {
		s[i].Name = n
	}
	metrics.Read(s)
	return s
}

func histSum(h *metrics.Float64Histogram) (sum float64) {
	for i, n := range h.Counts {
		if n > 0 {
			lo, hi := h.Buckets[i], h.Buckets[i+1]
			if hi > 1e9 || hi < -1e9 {
				hi = lo
			}
			sum += float64(n) * (lo + hi) / 2
		}
	}
	return sum
}

// TestMeasureGC measures the GC parameters and saves them to testdata:
// LEASESIM_MEASURE=gc go test ./calibrate -run TestMeasureGC -v (about a
// minute; on a quiet machine: the mark CPU is CPU time, but pauses are
// wall time).
func TestMeasureGC(t *testing.T) {
	measuring(t, "gc", "Go's collector")
	m := gcMeasurement{Go: runtime.Version(), Etcd: "3.7.3", Machine: machine(), Date: time.Now().Format("2006-01-02"), Procs: runtime.GOMAXPROCS(0)}
	names := []string{"/cpu/classes/gc/mark/assist:cpu-seconds", "/cpu/classes/gc/mark/dedicated:cpu-seconds",
		"/cpu/classes/gc/mark/idle:cpu-seconds", "/sched/pauses/total/gc:seconds", "/gc/heap/live:bytes"}
	for _, size := range []int64{64 << 20, 256 << 20, 1 << 30} {
		lists := make([]*obj, 1024)
		for i := range size / 256 {
			o := &obj{next: lists[i%1024]}
			o.a, o.b = o.next, lists[(i+7)%1024]
			lists[i%1024] = o
		}
		runtime.GC()
		var cpu, pause, live []int64
		for range 5 {
			before := readMetrics(names...)
			runtime.GC()
			after := readMetrics(names...)
			var c float64
			for i := range 3 {
				c += after[i].Value.Float64() - before[i].Value.Float64()
			}
			cpu = append(cpu, int64(c*1e9))
			pause = append(pause, int64((histSum(after[3].Value.Float64Histogram())-histSum(before[3].Value.Float64Histogram()))*1e9))
			live = append(live, int64(after[4].Value.Uint64()))
		}
		runtime.KeepAlive(lists)
		slices.Sort(cpu)
		slices.Sort(pause)
		slices.Sort(live)
		p := struct {
			LiveBytes   int64   `json:"live_bytes"`
			MarkCPUNs   int64   `json:"mark_cpu_ns"`
			PauseNs     int64   `json:"pause_ns"`
			BytesPerCPU float64 `json:"scan_bytes_per_cpu_s"`
		}{live[2], cpu[2], pause[2], float64(live[2]) / (float64(cpu[2]) / 1e9)}
		m.Scan = append(m.Scan, p)
		t.Logf("live %d MiB: mark CPU %v, pauses %v: %.0f MiB/s per core", p.LiveBytes>>20, time.Duration(p.MarkCPUNs), time.Duration(p.PauseNs), p.BytesPerCPU/(1<<20))
		lists = nil
		runtime.GC()
	}

	ctx := context.Background()
	cl, err := startCluster(ctx, clock.New(), t.TempDir(), 3, "rsa")
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	runtime.GC()
	runtime.GC()
	m.EtcdLiveBytes = int64(readMetrics("/gc/heap/live:bytes")[0].Value.Uint64())
	leader := cl.Leader()
	const n = 20000
	m.RenewalsPerPlacement = n
	for _, direct := range []bool{true, false} {
		mi := leader
		if !direct {
			mi = (leader + 1) % 3
		}
		cli, lease, stream := rawKeepAlive(ctx, t, cl, mi)
		renew := func() {
			if err := stream.Send(&pb.LeaseKeepAliveRequest{ID: int64(lease)}); err != nil {
				t.Fatal(err)
			}
			if _, err := stream.Recv(); err != nil {
				t.Fatal(err)
			}
		}
		for range 1000 { // warm the peer connections and pools
			renew()
		}
		before := readMetrics("/gc/heap/allocs:bytes")[0].Value.Uint64()
		for range n {
			renew()
		}
		per := int64(readMetrics("/gc/heap/allocs:bytes")[0].Value.Uint64()-before) / n
		if direct {
			m.AllocPerDirect = per
		} else {
			m.AllocPerForwarded = per
		}
		t.Logf("direct %v: %d B allocated per renewal", direct, per)
		stream.CloseSend()
		cli.Close()
	}
	t.Logf("etcd live heap, 3 members, no load: %d MiB", m.EtcdLiveBytes>>20)
	saveMeasurement(t, gcFile, m)
}

// The GC model's defaults (spec.DefaultGC) replay the saved measurement:
// the scan rate is the median over the heap sizes, the pause per cycle the
// largest median, the base heap a third of the 3-member cluster's, and a
// job's allocation half the forwarded renewal's (the model runs it as two
// jobs), each within 1 %.
func TestGCDefaultsReplayMeasurement(t *testing.T) {
	var m gcMeasurement
	loadMeasurement(t, gcFile, &m)
	var rates []float64
	var pause int64
	for _, p := range m.Scan {
		rates = append(rates, p.BytesPerCPU)
		pause = max(pause, p.PauseNs)
	}
	slices.Sort(rates)
	d := spec.DefaultGC
	within := func(what string, got, want float64) {
		t.Logf("%s: default %g, measured %g", what, got, want)
		if got < want*0.99 || got > want*1.01 {
			t.Errorf("%s: default %g, measured %g (want within 1 %%)", what, got, want)
		}
	}
	within("scan rate (B per core-second)", d.ScanRate, rates[len(rates)/2])
	within("pauses per cycle (ns)", float64(d.STW), float64(pause))
	within("base heap per member (B)", float64(d.BaseHeap), float64(m.EtcdLiveBytes)/3)
	within("allocation per job (B)", float64(d.AllocPerRequest), float64(m.AllocPerForwarded)/2)
}
