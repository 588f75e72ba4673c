package calibrate

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/auth"
	"go.etcd.io/etcd/server/v3/lease"
	"go.etcd.io/etcd/server/v3/storage/backend"
	"go.etcd.io/etcd/server/v3/storage/mvcc"
	"go.etcd.io/etcd/server/v3/storage/schema"
	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/leasesim/leasesim/model"
)

// eventLeaseMeasurement is a saved measurement of what one lease with many
// attached keys costs etcd v3.7.3's real code (TestMeasureEventLease).
type eventLeaseMeasurement struct {
	Etcd    string `json:"etcd"`
	Go      string `json:"go"`
	Machine string `json:"machine"`
	Date    string `json:"date"`
	Load    string `json:"load"` // what else ran on the machine
	// KeyBytes, ValueBytes: each key's and value's size (an event's key and a
	// small event object).
	KeyBytes   int `json:"key_bytes"`
	ValueBytes int `json:"value_bytes"`
	// PutNs: the median, over the points, of one Put with the lease on the
	// real mvcc store (kvstore_txn.go put: index, backend, lessor Attach), in
	// CPU time of the thread: the apply's own work for an event write, before
	// any auth check.
	PutNs int64 `json:"put_ns"`
	// ServerPutNs: the server process's CPU per event write on a 1-member
	// etcd v3.7.3 (measureServerPut: gRPC, raft, WAL, apply, backend; the
	// client in another process), eventPuts writes on one lease.
	ServerPutNs int64             `json:"server_put_ns"`
	Points      []eventLeasePoint `json:"points"`
}

type eventLeasePoint struct {
	Keys int `json:"keys"` // attached to the lease
	// WalkNs: the pre-fix checkLeasePuts walk over the lease's keys with
	// auth disabled (lease.Keys(), then IsPutPermitted([]byte(key)) per key:
	// v3.4.26 etcdserver/apply_auth.go:178-189, v3.5.9 :179-190), on the real
	// v3.7.3 lessor and auth store; the median of the repeats, CPU time of the
	// thread that ran it. WalkProcessNs: the process's CPU (every thread:
	// the Go collector's work on the walk's garbage included) over the same
	// repeats, per walk. WalkAllocBytes: bytes the walk allocates.
	WalkNs         int64 `json:"walk_ns"`
	WalkProcessNs  int64 `json:"walk_process_ns"`
	WalkAllocBytes int64 `json:"walk_alloc_bytes"`
	// RevokeNs: lessor.Revoke of the lease (lease/lessor.go:326-365: one
	// write txn deleting every key, sorted) and the backend commit of that
	// txn (ForceCommit), CPU time of the thread; RevokeWallNs: wall time.
	RevokeNs     int64 `json:"revoke_ns"`
	RevokeWallNs int64 `json:"revoke_wall_ns"`
}

const eventLeaseFile = "testdata/event-lease-3.7.3.json"

// processCPU is the CPU time of every thread of this process.
func processCPU() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// leasedStore is etcd v3.7.3's real lessor and mvcc store on a real bbolt
// backend, with one lease holding keys keys written with it (Put, as the
// apply does for a put with a lease); the auth store is the real one,
// disabled, as on an events etcd. putNs: the median Put's thread CPU.
func leasedStore(t *testing.T, keys int, value []byte) (le lease.Lessor, l *lease.Lease, as auth.AuthStore, be backend.Backend, putNs int64, done func()) {
	be = backend.NewDefaultBackend(zap.NewNop(), filepath.Join(t.TempDir(), "db"))
	le = lease.NewLessor(zap.NewNop(), be, nil, lease.LessorConfig{MinLeaseTTL: 1})
	kv := mvcc.New(zap.NewNop(), be, le, mvcc.StoreConfig{})
	as = auth.NewAuthStore(zap.NewNop(), schema.NewAuthBackend(zap.NewNop(), be), nil, 4) // 4: bcrypt.MinCost; auth stays disabled
	le.Promote(0)
	const id = lease.LeaseID(1)
	if _, err := le.Grant(id, 3660); err != nil {
		t.Fatal(err)
	}
	var puts []int64
	for i := range keys {
		key := []byte(eventKey(i))
		if i%100 == 0 { // sample the Put's cost as the lease fills
			_, cpu := threadTimed(func() { kv.Put(key, value, id) })
			puts = append(puts, cpu.Nanoseconds())
			continue
		}
		kv.Put(key, value, id)
	}
	be.ForceCommit()
	slices.Sort(puts)
	if len(puts) > 0 {
		putNs = puts[len(puts)/2]
	}
	return le, le.Lookup(id), as, be, putNs, func() { kv.Close(); le.Stop(); be.Close() }
}

// eventKey is the i-th event's key, as kube-apiserver names an event object.
func eventKey(i int) string {
	return fmt.Sprintf("/registry/events/namespace-%04d/pod-%08d.%016x", i%1000, i, uint64(i)*0x9e3779b97f4a7c15)
}

// TestMeasureEventLease measures, on etcd v3.7.3's real lessor, mvcc store,
// auth store and bbolt backend, with one lease holding 1,000 to 300,000
// keys: the pre-fix checkLeasePuts walk (etcd #15993; every put with the
// lease walks every key already attached), and Revoke of the lease (one
// transaction deleting every key). Saves the medians:
// LEASESIM_MEASURE=event-lease (make measure WHAT=event-lease; a few minutes).
// model.EventPutWalk, model.RevokeCost and model.EventPutBase replay them
// (TestEventLeaseCostsReplay).
func TestMeasureEventLease(t *testing.T) {
	measuring(t, "event-lease", "a lease with 1,000-300,000 keys on the v3.7.3 code")
	value := []byte(strings.Repeat("e", 512))
	m := eventLeaseMeasurement{Etcd: "3.7.3", Go: runtime.Version(), Machine: machine(), Date: time.Now().Format("2006-01-02"),
		Load: os.Getenv("LEASESIM_MEASURE_LOAD"), KeyBytes: len(eventKey(0)), ValueBytes: len(value)}
	var putNs []int64
	for _, n := range []int{1_000, 10_000, 30_000, 100_000, 300_000} {
		var walks, revokes, walls []int64
		var procPerWalk, allocPerWalk int64
		for rep := range 3 {
			le, l, as, be, put, done := leasedStore(t, n, value)
			putNs = append(putNs, put)
			if rep == 0 {
				// The walk, as the pre-fix authApplierV3 did on every put with the lease.
				ai := &auth.AuthInfo{}
				walk := func() {
					for _, key := range l.Keys() {
						if err := as.IsPutPermitted(ai, []byte(key)); err != nil {
							t.Fatal(err)
						}
					}
				}
				reps := max(5, 2_000_000/n)
				runtime.GC()
				var ms0, ms1 runtime.MemStats
				runtime.ReadMemStats(&ms0)
				p0 := processCPU()
				for range reps {
					_, cpu := threadTimed(walk)
					walks = append(walks, cpu.Nanoseconds())
				}
				runtime.GC() // the walks' garbage, collected: part of their cost
				procPerWalk = (processCPU() - p0).Nanoseconds() / int64(reps)
				runtime.ReadMemStats(&ms1)
				allocPerWalk = int64(ms1.TotalAlloc-ms0.TotalAlloc) / int64(reps)
			}
			runtime.GC()
			wall, cpu := threadTimed(func() {
				if err := le.Revoke(l.ID); err != nil {
					t.Fatal(err)
				}
				be.ForceCommit()
			})
			revokes, walls = append(revokes, cpu.Nanoseconds()), append(walls, wall.Nanoseconds())
			done()
		}
		slices.Sort(walks)
		slices.Sort(revokes)
		slices.Sort(walls)
		p := eventLeasePoint{Keys: n, WalkNs: walks[len(walks)/2], WalkProcessNs: procPerWalk, WalkAllocBytes: allocPerWalk,
			RevokeNs: revokes[len(revokes)/2], RevokeWallNs: walls[len(walls)/2]}
		m.Points = append(m.Points, p)
		t.Logf("%d keys: walk %v (%.1f ns/key; process %.1f ns/key; %d B/key), revoke %v (%.0f ns/key; wall %v)", n,
			time.Duration(p.WalkNs), float64(p.WalkNs)/float64(n), float64(p.WalkProcessNs)/float64(n), p.WalkAllocBytes/int64(n),
			time.Duration(p.RevokeNs), float64(p.RevokeNs)/float64(n), time.Duration(p.RevokeWallNs))
	}
	slices.Sort(putNs)
	m.PutNs = putNs[len(putNs)/2]
	m.ServerPutNs = measureServerPut(t, value).Nanoseconds()
	t.Logf("put with lease: %v in the mvcc store, %v of the server's CPU per event write", time.Duration(m.PutNs), time.Duration(m.ServerPutNs))
	saveMeasurement(t, eventLeaseFile, m)
}

// The model's costs replay the saved measurement: model.EventPutWalk and
// model.RevokeCost at every measured key count, and model.EventPutBase,
// within 1 % (they interpolate between the points and copy the base), so a
// re-measurement that moves them fails here until the model follows.
func TestEventLeaseCostsReplay(t *testing.T) {
	var m eventLeaseMeasurement
	loadMeasurement(t, eventLeaseFile, &m)
	if len(m.Points) < 3 || m.ServerPutNs <= 0 {
		t.Fatalf("%s: %d points, server put %d ns; want what TestMeasureEventLease saves", eventLeaseFile, len(m.Points), m.ServerPutNs)
	}
	within := func(got, want time.Duration) bool { return got >= want*99/100 && got <= want*101/100 }
	for _, p := range m.Points {
		if got, want := model.EventPutWalk(p.Keys), time.Duration(p.WalkProcessNs); !within(got, want) {
			t.Errorf("%d keys: model walk %v, measured %v (process CPU; want within 1 %%)", p.Keys, got, want)
		}
		if got, want := model.RevokeCost(p.Keys), time.Duration(p.RevokeNs); !within(got, want) {
			t.Errorf("%d keys: model revoke %v, measured %v (want within 1 %%)", p.Keys, got, want)
		}
	}
	if got, want := model.EventPutBase, time.Duration(m.ServerPutNs); !within(got, want) {
		t.Errorf("model.EventPutBase %v, measured %v of server CPU per event write (want within 1 %%)", got, want)
	}
}

// putClientEnv, set in the environment of this test binary re-run as a child
// process, makes TestEventPutClient write event puts to the client URL it
// names: the client's CPU then falls in the child, not in the server's process.
const putClientEnv = "LEASESIM_EVENT_PUT_CLIENT"

// eventPuts and eventPutConcurrency: how many event writes the base
// measurement makes, from how many goroutines.
const eventPuts, eventPutConcurrency = 20_000, 32

// measureServerPut runs a 1-member etcd v3.7.3 cluster in this process, has a
// child process write eventPuts events to it the way kube-apiserver creates
// an event (a Txn: if the key does not exist, Put it with the lease; storage/
// etcd3/store.go Create), all on one lease, and returns this process's CPU
// per write: the server's whole cost of a put with a lease (gRPC, raft, WAL,
// apply, backend), without the walk, which v3.7.3 skips with auth disabled.
func measureServerPut(t *testing.T, value []byte) time.Duration {
	ctx := context.Background()
	cl, err := startCluster(ctx, clock.New(), t.TempDir(), 1, "rsa")
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	runtime.GC()
	before := processCPU()
	cmd := exec.Command(os.Args[0], "-test.run=^TestEventPutClient$", "-test.count=1")
	cmd.Env = append(os.Environ(), putClientEnv+"="+cl.Members[0].ClientURL, "LEASESIM_EVENT_VALUE_BYTES="+strconv.Itoa(len(value)))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("put client: %v\n%s", err, out)
	}
	return (processCPU() - before) / eventPuts
}

// TestEventPutClient is the child process of measureServerPut.
func TestEventPutClient(t *testing.T) {
	url := os.Getenv(putClientEnv)
	if url == "" {
		t.Skip("the client side of TestMeasureEventLease")
	}
	n, _ := strconv.Atoi(os.Getenv("LEASESIM_EVENT_VALUE_BYTES"))
	value := strings.Repeat("e", n)
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{url}, DialTimeout: 5 * time.Second, Logger: nopLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx := context.Background()
	g, err := cli.Grant(ctx, 3660)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range eventPutConcurrency {
		wg.Go(func() {
			for i := w; i < eventPuts; i += eventPutConcurrency {
				key := eventKey(i)
				_, err := cli.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", 0)).
					Then(clientv3.OpPut(key, value, clientv3.WithLease(g.ID))).Commit()
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}
