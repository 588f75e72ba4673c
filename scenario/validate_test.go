package scenario_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/leasesim/leasesim/scenario"
	"github.com/leasesim/leasesim/spec"
)

// One validator: what spec.Load accepts, scenario.Run runs, and what the
// wiring cannot run, spec.Load refuses with the file, the line and the field.
// Before spec's validator was the only one, the first file passed the spec
// check and then the cluster's own Validate refused it (clients.ttl: "whole
// seconds >= 2s", no line, exit 1), although etcd's minimum lease TTL with a
// 500 ms election timeout is 1 s; the second passed the spec check and was
// refused the same way (leader_queue_limit with shared_cpu).
func TestOneValidator(t *testing.T) {
	head := "name: v\nduration: 20s\nclients:\n  count: 10\n  version: v3.7.3\n  consumer: drain\n"
	for _, c := range []struct {
		name, yaml string
		refused    string // "" if it must load and run
	}{
		{"election-500ms-ttl-1s", head + "  ttl: 1s\ncluster:\n  members: 3\n  cores: 2\n  election_timeout: 500ms\n", ""},
		{"shared-cpu-queue", head + "  ttl: 5s\ncluster:\n  members: 3\n  cores: 2\n  shared_cpu: true\n  leader_queue_limit: 10\n",
			"line 12: cluster.leader_queue_limit: 10 cannot be combined with cluster.shared_cpu"},
		{"shared-cpu-idle", head + "  ttl: 5s\ncluster:\n  members: 3\n  cores: 0.02\n  shared_cpu: true\n",
			"line 10: cluster.cores: 0.02 leaves no CPU for requests"},
		{"shared-cpu-own-idle", head + "  ttl: 5s\ncluster:\n  members: 3\n  cores: 1\n  shared_cpu: true\ncosts:\n  idle_cores: 0.4\n",
			"line 13: costs.idle_cores: 0.4 x 3 members sharing"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), c.name+".yaml")
			if err := os.WriteFile(path, []byte(c.yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			s, err := spec.Load(path)
			if c.refused != "" {
				if err == nil || !strings.Contains(err.Error(), c.refused) {
					t.Fatalf("load: %v\nwant an error containing %q", err, c.refused)
				}
				return
			}
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			if _, err := scenario.Run(context.Background(), s, nil); err != nil {
				t.Fatalf("spec.Load accepted it, but the run says: %v", err)
			}
		})
	}
}
