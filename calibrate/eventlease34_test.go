package calibrate

import (
	"slices"
	"testing"
	"time"

	"github.com/leasesim/leasesim/model"
)

// The measurements of etcd v3.4.13's code (the module calibrate/etcd34,
// which saves them here: make measure WHAT=event-lease-readbuf and
// WHAT=event-lease-cpu). Only the fields the replays read.
type readBuf34 struct {
	CopyNsPerEntry float64 `json:"copy_ns_per_entry"`
	Points         []struct {
		Keys                int   `json:"keys"`
		BufferCapBefore     int   `json:"buffer_cap_before"`
		BufferCapAfter      int   `json:"buffer_cap_after"`
		ReadProcessNsBefore int64 `json:"read_process_ns_before"`
		ReadProcessNsAfter  int64 `json:"read_process_ns_after"`
	} `json:"points"`
}

type eventCPU34 struct {
	Rate   float64 `json:"rate"`
	ReuseS int     `json:"reuse_s"`
	Runs   []struct {
		MaxObjects      int     `json:"max_objects"`
		Watch           bool    `json:"watch"`
		AfterUsPerEvent float64 `json:"after_us_per_event"`
	} `json:"runs"`
}

const (
	readBuf34File  = "testdata/event-lease-readbuf-3.4.13.json"
	eventCPU34File = "testdata/event-lease-cpu-3.4.13.json"
)

// model.ReadTxnCopy replays calibrate/etcd34.TestMeasureReadBufferCopy: its
// cost per entry is the measured least-squares slope (within 1 %), and
// model.ReadBufferCap gives the buffer lengths the measurement computed
// from the same growth rule.
func TestEventLeaseReadBufferReplay(t *testing.T) {
	var m readBuf34
	loadMeasurement(t, readBuf34File, &m)
	if len(m.Points) == 0 || m.CopyNsPerEntry <= 0 {
		t.Fatalf("%s: %d points, %.1f ns per entry; want what TestMeasureReadBufferCopy saves", readBuf34File, len(m.Points), m.CopyNsPerEntry)
	}
	const n = 1_000_000
	if got, want := model.ReadTxnCopy(n), time.Duration(m.CopyNsPerEntry*n); got < want*99/100 || got > want*101/100 {
		t.Errorf("model.ReadTxnCopy(%d) = %v, measured %v (%.2f ns per entry; want within 1 %%)", n, got, want, m.CopyNsPerEntry)
	}
	for _, p := range m.Points {
		if got := model.ReadBufferCap(p.Keys); got != p.BufferCapAfter {
			t.Errorf("%d keys: model.ReadBufferCap %d, measurement %d", p.Keys, got, p.BufferCapAfter)
		}
	}
}

// The end-to-end measurement (calibrate/etcd34.TestMeasureEventLeaseCPU: a
// 1-member etcd v3.4.13 server, event Txns at a fixed rate from another
// process, leases reused for the reuse window, no watcher) agrees with the
// model's account of the cap: after the first revocation, the median over
// repeats of the server's CPU per event unbounded minus capped is the
// difference of the two buffers' copies, model.ReadTxnCopy(ReadBufferCap(
// rate x reuse)) - ReadTxnCopy(ReadBufferCap(1,000)), within 30 % (the
// measurement's per-event CPU includes the collector's work, which depends
// on the heap; the copy's per-entry cost was measured on a smaller one).
func TestEventLeaseCPUReplay(t *testing.T) {
	var m eventCPU34
	loadMeasurement(t, eventCPU34File, &m)
	median := func(maxObjects int, watch bool) float64 {
		var v []float64
		for _, r := range m.Runs {
			if r.MaxObjects == maxObjects && r.Watch == watch {
				v = append(v, r.AfterUsPerEvent)
			}
		}
		if len(v) == 0 {
			t.Fatalf("%s: no run with cap %d, watch %v", eventCPU34File, maxObjects, watch)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	keys := int(m.Rate * float64(m.ReuseS))
	got := median(0, false) - median(1000, false)
	want := float64((model.ReadTxnCopy(model.ReadBufferCap(keys)) - model.ReadTxnCopy(model.ReadBufferCap(1000))).Microseconds())
	t.Logf("after the first revocation: %.0f µs per event unbounded, %.0f capped: %.0f µs more; model %.0f µs (buffers of %d and %d entries)",
		median(0, false), median(1000, false), got, want, model.ReadBufferCap(keys), model.ReadBufferCap(1000))
	if got < want*0.7 || got > want*1.3 {
		t.Errorf("unbounded - capped: %.0f µs per event measured, model %.0f µs; want within 30 %%", got, want)
	}
}
