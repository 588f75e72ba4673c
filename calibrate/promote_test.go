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
	if os.Getenv("LEASESIM_MEASURE") != "promote" {
		t.Skip("a measurement: set LEASESIM_MEASURE=promote to run it")
	}
	m := promoteMeasurement{Etcd: "3.7.3", Go: runtime.Version(), Machine: machine(), Date: time.Now().Format("2006-01-02")}
	for _, n := range []int{1_000, 10_000, 100_000, 1_000_000} {
		be := backend.NewDefaultBackend(zap.NewNop(), filepath.Join(t.TempDir(), "db"))
		le := lease.NewLessor(zap.NewNop(), be, nil, lease.LessorConfig{MinLeaseTTL: 1})
		le.Promote(0)
		for i := 1; i <= n; i++ {
			// Different TTLs, as leases granted over time have different expiries.
			if _, err := le.Grant(lease.LeaseID(i), int64(60+i%3600)); err != nil {
				t.Fatal(err)
			}
		}
		var runs []int64
		for range 5 {
			le.Demote()
			start := time.Now()
			le.Promote(time.Second)
			runs = append(runs, time.Since(start).Nanoseconds())
		}
		le.Stop()
		be.Close()
		slices.Sort(runs)
		m.Points = append(m.Points, struct {
			Leases    int   `json:"leases"`
			PromoteNs int64 `json:"promote_ns"`
		}{n, runs[len(runs)/2]})
		t.Logf("%d leases: Promote %v (runs %v)", n, time.Duration(runs[len(runs)/2]), runs)
	}
	saveMeasurement(t, promoteFile, m)
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
