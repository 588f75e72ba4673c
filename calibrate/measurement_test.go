package calibrate

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// saveMeasurement writes a measurement (a TestMeasure* test's result) to
// path under testdata, as indented JSON; loadMeasurement reads one back for
// the test that replays it.
func saveMeasurement(t *testing.T, path string, m any) {
	t.Helper()
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.FromSlash(path), append(data, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

func loadMeasurement(t *testing.T, path string, m any) {
	t.Helper()
	data, err := os.ReadFile(filepath.FromSlash(path))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// rawKeepAlive opens a client to member m of cl, grants a lease (TTL 10 min)
// and opens a LeaseKeepAlive stream, for measurements that send keepalives
// one at a time on it. The caller closes the client.
func rawKeepAlive(ctx context.Context, t *testing.T, cl *Cluster, m int) (*clientv3.Client, clientv3.LeaseID, pb.Lease_LeaseKeepAliveClient) {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{cl.Members[m].ClientURL}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	g, err := cli.Grant(ctx, 600)
	if err != nil {
		t.Fatal(err)
	}
	stream, err := pb.NewLeaseClient(cli.ActiveConnection()).LeaseKeepAlive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return cli, g.ID, stream
}

// envDuration is the Go duration in the environment variable name, or def
// when it is not set (a measurement's plan override).
func envDuration(t *testing.T, name string, def time.Duration) time.Duration {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return d
}

// envInt is the whole number in the environment variable name, or def.
func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n := def
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return n
}

// measuring skips a measurement test unless LEASESIM_MEASURE names it (make
// measure WHAT=what); cost says what running it takes.
func measuring(t *testing.T, what, cost string) {
	t.Helper()
	if os.Getenv("LEASESIM_MEASURE") != what {
		t.Skipf("a measurement: set LEASESIM_MEASURE=%s to run it (%s)", what, cost)
	}
}
