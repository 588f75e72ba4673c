package etcd34

import (
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/lease"
	"go.etcd.io/etcd/mvcc"
	"go.etcd.io/etcd/mvcc/backend"
	"go.etcd.io/etcd/pkg/traceutil"
	"go.uber.org/zap"
)

// readBufMeasurement: what one read transaction costs on etcd v3.4.13
// before and after a lease with k keys is revoked (TestMeasureReadBufferCopy).
type readBufMeasurement struct {
	Etcd       string `json:"etcd"`
	Go         string `json:"go"`
	Machine    string `json:"machine"`
	Date       string `json:"date"`
	Load       string `json:"load"` // what else ran on the machine
	KeyBytes   int    `json:"key_bytes"`
	ValueBytes int    `json:"value_bytes"`
	Reads      int    `json:"reads"` // read txns per measurement
	// CopyNsPerEntry: the least-squares slope, through the origin, of the
	// points' (process CPU after - before) per read over (BufferCapAfter -
	// BufferCapBefore), over every point and repeat: what one entry of
	// buffer capacity costs a read txn, the collector's work included.
	CopyNsPerEntry float64        `json:"copy_ns_per_entry"`
	Points         []readBufPoint `json:"points"`
}

type readBufPoint struct {
	Keys   int `json:"keys"` // on the revoked lease
	Repeat int `json:"repeat"`
	// BufferCap*: the key bucket read buffer's length before the revoke
	// (the fill commits every fillCommit puts) and after it, computed as
	// bucketBuffer grows (bufferCap): every ConcurrentReadTx copies that
	// many entries (v3.4.13 mvcc/backend/backend.go:205-218, tx_buffer.go:
	// 92-102 and 196-203).
	BufferCapBefore int `json:"buffer_cap_before"`
	BufferCapAfter  int `json:"buffer_cap_after"`
	// Read*: one point Range in its own read txn (mvcc store.Read ->
	// ConcurrentReadTx, kvstore_txn.go:35-45; what apply.go:361 does for a
	// Txn's compare and v3rpc/watch.go:393-398 for a watcher's previous
	// value): ThreadNs the median thread CPU; ProcessNs the process's CPU
	// (every thread, the collector's included) over Reads reads, per read.
	ReadThreadNsBefore  int64 `json:"read_thread_ns_before"`
	ReadThreadNsAfter   int64 `json:"read_thread_ns_after"`
	ReadProcessNsBefore int64 `json:"read_process_ns_before"`
	ReadProcessNsAfter  int64 `json:"read_process_ns_after"`
	// HeapBytes: the live heap after the revoke (runtime.MemStats.HeapAlloc
	// after a collection): the collector's cost per byte allocated grows with it.
	HeapBytes uint64 `json:"heap_bytes"`
}

type fixedIndex struct{}

func (fixedIndex) ConsistentIndex() uint64 { return 1 }

const readBufFile = "../testdata/event-lease-readbuf-3.4.13.json"

// fillCommit: the fill commits the backend every fillCommit puts, so that
// the read buffer stays at its first size (512) until the revoke.
const fillCommit = 256

// bufferCap is bucketBuffer's length once it has held n entries: 512 at
// first, grown to 3/2 of itself whenever it fills (v3.4.13 mvcc/backend/
// tx_buffer.go:116-118 newBucketBuffer, :155-163 add); a commit's reset
// keeps it (tx_buffer.go:27-35: used = 0, the bucket dropped only when it
// had no writes since the previous commit).
func bufferCap(n int) int {
	c := 512
	for c <= n {
		c = 3 * c / 2
	}
	return c
}

// TestMeasureReadBufferCopy measures, on etcd v3.4.13's real mvcc store,
// lessor and bbolt backend, one read txn before and after a lease holding k
// keys is revoked: the revocation's k tombstones go to the read buffer in
// one writeback (lessor.go:308-346 in one write txn; batch_tx.go:276-286),
// growing the key bucket's buffer to hold them, and every later read txn
// copies the whole buffer, used or not (tx_buffer.go:196-203).
// LEASESIM_MEASURE=event-lease-readbuf (make measure WHAT=event-lease-readbuf;
// about four minutes).
func TestMeasureReadBufferCopy(t *testing.T) {
	gate(t, "event-lease-readbuf")
	value := []byte(strings.Repeat("e", 512))
	const reads = 2000
	m := readBufMeasurement{Etcd: "3.4.13", Go: runtime.Version(), Machine: machine(), Date: time.Now().Format("2006-01-02"),
		Load: "", KeyBytes: len(eventKey(0)), ValueBytes: len(value), Reads: reads}
	var sxy, sxx float64
	for rep := range 3 {
		for _, k := range []int{1_000, 10_000, 30_000, 60_000, 100_000} {
			be := backend.NewDefaultBackend(filepath.Join(t.TempDir(), "db"))
			le := lease.NewLessor(zap.NewNop(), be, lease.LessorConfig{MinLeaseTTL: 1})
			kv := mvcc.New(zap.NewNop(), be, le, nil, fixedIndex{}, mvcc.StoreConfig{})
			le.Promote(0)
			if _, err := le.Grant(1, 3660); err != nil {
				t.Fatal(err)
			}
			for i := range k {
				tw := kv.Write(traceutil.TODO())
				tw.Put([]byte(eventKey(i)), value, 1)
				tw.End()
				if i%fillCommit == fillCommit-1 {
					be.ForceCommit()
				}
			}
			be.ForceCommit()
			i := 0
			read := func() {
				tr := kv.Read(traceutil.TODO())
				tr.Range([]byte(eventKey(i%k)), nil, mvcc.RangeOptions{})
				tr.End()
				i += 7
			}
			measure := func() (thread, process int64) {
				var ts []int64
				for range 200 {
					_, cpu := threadTimed(read)
					ts = append(ts, cpu.Nanoseconds())
				}
				slices.Sort(ts)
				runtime.GC()
				p0 := processCPU()
				for range reads {
					read()
				}
				runtime.GC() // the reads' garbage, collected: part of their cost
				return ts[len(ts)/2], (processCPU() - p0).Nanoseconds() / reads
			}
			p := readBufPoint{Keys: k, Repeat: rep, BufferCapBefore: bufferCap(fillCommit), BufferCapAfter: bufferCap(k)}
			p.ReadThreadNsBefore, p.ReadProcessNsBefore = measure()
			if err := le.Revoke(1); err != nil {
				t.Fatal(err)
			}
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			p.HeapBytes = ms.HeapAlloc
			p.ReadThreadNsAfter, p.ReadProcessNsAfter = measure()
			m.Points = append(m.Points, p)
			x := float64(p.BufferCapAfter - p.BufferCapBefore)
			sxy += x * float64(p.ReadProcessNsAfter-p.ReadProcessNsBefore)
			sxx += x * x
			t.Logf("%d keys, repeat %d (buffer %d -> %d): read thread %v -> %v, process %v -> %v (%.1f ns per entry); heap %d MB", k, rep,
				p.BufferCapBefore, p.BufferCapAfter, time.Duration(p.ReadThreadNsBefore), time.Duration(p.ReadThreadNsAfter),
				time.Duration(p.ReadProcessNsBefore), time.Duration(p.ReadProcessNsAfter), float64(p.ReadProcessNsAfter-p.ReadProcessNsBefore)/x, p.HeapBytes>>20)
			kv.Close()
			le.Stop()
			be.Close()
		}
	}
	m.CopyNsPerEntry = sxy / sxx
	t.Logf("copy: %.1f ns of process CPU per entry of buffer capacity, per read txn", m.CopyNsPerEntry)
	save(t, readBufFile, m)
}
