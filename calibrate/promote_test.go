package calibrate

import (
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/lease"
	"go.etcd.io/etcd/server/v3/storage/backend"
	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"github.com/leasesim/leasesim/model"
)

// promoteMeasurement is a saved measurement of the real lessor's Promote.
type promoteMeasurement struct {
	Etcd    string `json:"etcd"`
	Go      string `json:"go"`
	Machine string `json:"machine"`
	Date    string `json:"date"`
	Points  []struct {
		Leases    int   `json:"leases"`
		PromoteNs int64 `json:"promote_ns"` // median of the repeats
	} `json:"points"`
}

const promoteFile = "testdata/promote-3.7.3.json"

// TestMeasurePromote times etcd v3.7.3's lessor.Promote (the real code, on a
// real bbolt backend) for 1,000 to 1,000,000 leases and saves the medians
// to testdata: LEASESIM_MEASURE=promote go test ./calibrate -run
// TestMeasurePromote -v (about a minute; on a quiet machine).
func TestMeasurePromote(t *testing.T) {
	measuring(t, "promote", "the v3.7.3 lessor's Promote")
	m := promoteMeasurement{Etcd: "3.7.3", Go: runtime.Version(), Machine: machine(), Date: time.Now().Format("2006-01-02")}
	for _, n := range []int{1_000, 10_000, 100_000, 1_000_000} {
		le, closeLessor := grantedLessor(t, n)
		var runs []int64
		for range 5 {
			le.Demote()
			start := time.Now()
			le.Promote(time.Second)
			runs = append(runs, time.Since(start).Nanoseconds())
		}
		closeLessor()
		slices.Sort(runs)
		m.Points = append(m.Points, struct {
			Leases    int   `json:"leases"`
			PromoteNs int64 `json:"promote_ns"`
		}{n, runs[len(runs)/2]})
		t.Logf("%d leases: Promote %v (runs %v)", n, time.Duration(runs[len(runs)/2]), runs)
	}
	saveMeasurement(t, promoteFile, m)
}

// grantedLessor is etcd v3.7.3's real lessor on a real bbolt backend,
// primary, holding n leases with different TTLs (as leases granted over
// time have different expiries); closeLessor stops it.
func grantedLessor(t *testing.T, n int) (le lease.Lessor, closeLessor func()) {
	be := backend.NewDefaultBackend(zap.NewNop(), filepath.Join(t.TempDir(), "db"))
	le = lease.NewLessor(zap.NewNop(), be, nil, lease.LessorConfig{MinLeaseTTL: 1})
	le.Promote(0)
	for i := 1; i <= n; i++ {
		if _, err := le.Grant(lease.LeaseID(i), int64(60+i%3600)); err != nil {
			t.Fatal(err)
		}
	}
	return le, func() { le.Stop(); be.Close() }
}

// demoteMeasurement is a saved measurement of the real lessor's Demote.
type demoteMeasurement struct {
	Etcd    string        `json:"etcd"`
	Go      string        `json:"go"`
	Machine string        `json:"machine"`
	Date    string        `json:"date"`
	Load    string        `json:"load"` // what else ran on the machine
	Points  []demotePoint `json:"points"`
}

type demotePoint struct {
	Leases int `json:"leases"`
	// DemoteNs: the median of the repeats, in CPU time of the thread that
	// ran it (what the raft goroutine spends once it has a core; wall time
	// on a shared machine adds other processes' turns); WallNs: wall time.
	DemoteNs int64 `json:"demote_ns"`
	WallNs   int64 `json:"wall_ns"`
}

// threadTimed runs f locked to its OS thread and returns its wall time and
// the CPU time that thread spent (CLOCK_THREAD_CPUTIME_ID, in ns).
func threadTimed(f func()) (wall, cpu time.Duration) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var before, after unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &before); err != nil {
		panic(err)
	}
	start := time.Now()
	f()
	wall = time.Since(start)
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &after); err != nil {
		panic(err)
	}
	return wall, time.Duration(after.Nano() - before.Nano())
}

const demoteFile = "testdata/demote-3.7.3.json"

// TestMeasureDemote times etcd v3.7.3's lessor.Demote (the real code: it
// walks every lease, lessor.go:534-550) on a primary lessor of 10,000 to
// 5,000,000 leases and saves the medians: LEASESIM_MEASURE=demote (make
// measure WHAT=demote; about fifteen minutes, most of it granting). etcd
// calls Demote from the raft goroutine on every change of a follower's raft
// soft state (etcdserver/raft.go:186-206 -> server.go:769-773), so this is
// how long that goroutine stops: model.DemoteCost replays it.
func TestMeasureDemote(t *testing.T) {
	measuring(t, "demote", "the v3.7.3 lessor's Demote")
	m := demoteMeasurement{Etcd: "3.7.3", Go: runtime.Version(), Machine: machine(), Date: time.Now().Format("2006-01-02"),
		Load: os.Getenv("LEASESIM_MEASURE_LOAD")}
	for _, n := range []int{10_000, 100_000, 1_000_000, 2_000_000, 5_000_000} {
		le, closeLessor := grantedLessor(t, n)
		var runs, walls []int64
		for range 5 {
			le.Promote(time.Second) // primary again: Demote has every lease to walk
			runtime.GC()            // not in the middle of Demote
			wall, cpu := threadTimed(le.Demote)
			runs, walls = append(runs, cpu.Nanoseconds()), append(walls, wall.Nanoseconds())
		}
		closeLessor()
		slices.Sort(runs)
		slices.Sort(walls)
		m.Points = append(m.Points, demotePoint{n, runs[len(runs)/2], walls[len(walls)/2]})
		t.Logf("%d leases: Demote %v of CPU, %v of wall time (runs %v)", n, time.Duration(runs[len(runs)/2]), time.Duration(walls[len(walls)/2]), runs)
	}
	saveMeasurement(t, demoteFile, m)
}

// machine is a one-line description of the CPU, from /proc/cpuinfo.
func machine() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, line := range strings.Split(string(b), "\n") {
		if name, ok := strings.CutPrefix(line, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(name), ":"))
		}
	}
	return runtime.GOARCH
}

// The model's Promote cost (model.PromoteCost) replays the saved
// measurement: within 30 % at 10,000 leases and more (below that the
// lessor's fixed costs and the timer's noise dominate).
func TestPromoteCostReplaysMeasurement(t *testing.T) {
	var m promoteMeasurement
	loadMeasurement(t, promoteFile, &m)
	for _, p := range m.Points {
		got := model.PromoteCost(p.Leases)
		want := time.Duration(p.PromoteNs)
		t.Logf("%d leases: measured %v, model %v", p.Leases, want, got)
		if p.Leases >= 10_000 && (got < want*7/10 || got > want*13/10) {
			t.Errorf("%d leases: model %v, measured %v (want within 30 %%)", p.Leases, got, want)
		}
	}
}

// The model's Demote cost (model.DemoteCost) replays the saved measurement
// at every measured point, within 5 % (it interpolates between them).
func TestDemoteCostReplaysMeasurement(t *testing.T) {
	var m demoteMeasurement
	loadMeasurement(t, demoteFile, &m)
	if len(m.Points) < 3 {
		t.Fatalf("%s: %d points, want the 3 or more TestMeasureDemote saves", demoteFile, len(m.Points))
	}
	for _, p := range m.Points {
		got, want := model.DemoteCost(p.Leases), time.Duration(p.DemoteNs)
		t.Logf("%d leases: measured %v, model %v", p.Leases, want, got)
		if got < want*95/100 || got > want*105/100 {
			t.Errorf("%d leases: model %v, measured %v (want within 5 %%)", p.Leases, got, want)
		}
	}
}
