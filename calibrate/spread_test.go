package calibrate

import (
	"context"
	"math"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"

	"github.com/leasesim/leasesim/spec"
)

// spreadMeasurement is a saved measurement of how much one renewal's time
// through a real etcd 3.7.3 member varies with nothing queued: renewals one
// at a time over one gRPC LeaseKeepAlive stream (the client in this
// process), each timed from Send to Recv, to the leader (direct) and to a
// follower (forwarded to the leader over HTTP/1.1 with RSA mutual TLS).
type spreadMeasurement struct {
	Go       string      `json:"go"`
	Etcd     string      `json:"etcd"`
	Machine  string      `json:"machine"`
	Date     string      `json:"date"`
	Renewals int         `json:"renewals_per_placement"`
	Direct   spreadStats `json:"direct"`
	Forward  spreadStats `json:"forwarded"`
}

// spreadStats: quantiles of the round trips in ns, and the sigma of a
// lognormal with the same p50 and p99, ln(p99/p50)/z(0.99).
type spreadStats struct {
	MinNs, P50Ns, P90Ns, P99Ns, MeanNs int64
	Sigma                              float64 `json:"lognormal_sigma"`
}

const spreadFile = "testdata/service-spread-3.7.3.json"

// z99 is the standard normal's 0.99 quantile.
const z99 = 2.3263478740408408

// TestMeasureServiceSpread measures it and saves it to testdata:
// LEASESIM_MEASURE=spread go test ./calibrate -run TestMeasureServiceSpread
// -v (about half a minute; on a quiet machine).
func TestMeasureServiceSpread(t *testing.T) {
	measuring(t, "spread", "a forwarded renewal's round-trip spread")
	m := spreadMeasurement{Go: runtime.Version(), Etcd: "3.7.3", Machine: machine(), Date: time.Now().Format("2006-01-02"), Renewals: 10000}
	ctx := context.Background()
	cl, err := startCluster(ctx, clock.New(), t.TempDir(), 3, "rsa")
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	leader := cl.Leader()
	for _, direct := range []bool{true, false} {
		mi := leader
		if !direct {
			mi = (leader + 1) % 3
		}
		cli, lease, stream := rawKeepAlive(ctx, t, cl, mi)
		renew := func() time.Duration {
			start := time.Now()
			if err := stream.Send(&pb.LeaseKeepAliveRequest{ID: int64(lease)}); err != nil {
				t.Fatal(err)
			}
			if _, err := stream.Recv(); err != nil {
				t.Fatal(err)
			}
			return time.Since(start)
		}
		for range 1000 {
			renew()
		}
		ns := make([]int64, m.Renewals)
		var sum int64
		for i := range ns {
			ns[i] = renew().Nanoseconds()
			sum += ns[i]
		}
		slices.Sort(ns)
		q := func(p float64) int64 { return ns[int(p*float64(len(ns)-1))] }
		s := spreadStats{MinNs: ns[0], P50Ns: q(0.5), P90Ns: q(0.9), P99Ns: q(0.99), MeanNs: sum / int64(len(ns))}
		s.Sigma = math.Log(float64(s.P99Ns)/float64(s.P50Ns)) / z99
		if direct {
			m.Direct = s
		} else {
			m.Forward = s
		}
		t.Logf("direct %v: %+v", direct, s)
		stream.CloseSend()
		cli.Close()
	}
	saveMeasurement(t, spreadFile, m)
}

// spec.DefaultServiceSpread replays the saved measurement: the forwarded
// renewal's sigma (the path the storm is about), within 1 %.
func TestServiceSpreadReplaysMeasurement(t *testing.T) {
	var m spreadMeasurement
	loadMeasurement(t, spreadFile, &m)
	t.Logf("direct sigma %.3f, forwarded sigma %.3f; default %.3f", m.Direct.Sigma, m.Forward.Sigma, spec.DefaultServiceSpread)
	if got, want := spec.DefaultServiceSpread, m.Forward.Sigma; math.Abs(got-want) > 0.01*want {
		t.Errorf("default sigma %v, measured %v", got, want)
	}
}
