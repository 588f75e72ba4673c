package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// One validator for every entry point: a scenario file and the same
// scenario built from flags get the same verdict, and a refusal is a usage
// error (exit 2) naming the field. Before, election_timeout 500ms with
// ttl 1s passed the spec check and then failed the run with exit 1.
func TestRunUsesTheOneValidator(t *testing.T) {
	dir := t.TempDir()
	ok := filepath.Join(dir, "ok.yaml")
	os.WriteFile(ok, []byte("name: ok\nduration: 10s\nclients:\n  count: 10\n  ttl: 1s\n  version: v3.7.3\n  consumer: drain\ncluster:\n  members: 3\n  cores: 2\n  election_timeout: 500ms\n"), 0o644)
	queue := filepath.Join(dir, "queue.yaml")
	os.WriteFile(queue, []byte("name: queue\nduration: 10s\nclients:\n  count: 10\n  ttl: 5s\n  version: v3.7.3\n  consumer: drain\ncluster:\n  members: 3\n  cores: 2\n  shared_cpu: true\n  leader_queue_limit: 5\n"), 0o644)
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"run", "--scenario", ok}, 0, ""},
		{[]string{"run", "--scenario", queue}, exitUsage, "line 12: cluster.leader_queue_limit"},
		// Flag-built: the same validator, the flag named.
		{[]string{"run", "--server", "cluster", "--clients", "10", "--ttl", "1s", "--duration", "10s"}, exitUsage, "clients.ttl (--ttl): 1s is below etcd's minimum lease TTL of 2s"},
		{[]string{"run", "--clients", "0", "--duration", "10s"}, exitUsage, "clients.count (--clients): 0 is out of range"},
	} {
		var out, errb bytes.Buffer
		code := run(c.args, &out, &errb)
		if code != c.code || !strings.Contains(errb.String(), c.want) {
			t.Errorf("%v: exit %d, want %d with %q:\n%s", c.args, code, c.code, c.want, errb.String())
		}
	}
}
