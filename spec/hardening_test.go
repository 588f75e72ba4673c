package spec_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/leasesim/leasesim/spec"
)

const hardeningBase = "name: h\nduration: 1m\nclients:\n  count: 10\n  ttl: 10s\n  version: v3.7.3\n  consumer: drain\ncluster:\n  members: 3\n  cores: 2\n"

// Scenario and parameter files are read up to 1 MiB; a larger one, or an
// endless one (/dev/zero), is refused at once with the limit in the error
// (issue 15: --scenario /dev/zero grew the memory until the process died).
func TestFileSizeLimit(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.yaml")
	data := []byte(hardeningBase + "description: " + strings.Repeat("x", spec.MaxFileSize) + "\n")
	if err := os.WriteFile(big, data, 0o644); err != nil {
		t.Fatal(err)
	}
	paramsBig := filepath.Join(dir, "pbig.yaml")
	if err := os.WriteFile(paramsBig, []byte("kind: leasesim/params\nnotes: "+strings.Repeat("x", spec.MaxFileSize)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	refs := []string{big}
	zero := "/dev/zero"
	if _, err := os.Stat(zero); err == nil {
		refs = append(refs, zero)
	}
	for _, ref := range refs {
		start := time.Now()
		_, err := spec.Load(ref)
		if err == nil || !strings.Contains(err.Error(), "is larger than 1 MiB") || !strings.Contains(err.Error(), "scenario file") {
			t.Errorf("%s: %v", ref, err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s: took %v", ref, d)
		}
	}
	for _, ref := range append(refs[1:], paramsBig) {
		if _, err := spec.LoadParams(ref); err == nil || !strings.Contains(err.Error(), "parameter file") || !strings.Contains(err.Error(), "is larger than 1 MiB") {
			t.Errorf("params %s: %v", ref, err)
		}
		s := spec.Spec{Name: "h", Duration: spec.Duration(time.Minute), Params: ref,
			Clients: spec.ClientsSpec{Count: 1, TTL: spec.Duration(10 * time.Second), Version: "v3.7.3", Consumer: "drain"},
			Cluster: spec.ClusterSpec{Members: 3, Cores: 2}}
		if err := s.Validate(); err == nil || !strings.Contains(err.Error(), "params: parameter file") || !strings.Contains(err.Error(), "1 MiB") {
			t.Errorf("params: %s: %v", ref, err)
		}
	}
	// Just under the limit loads.
	ok := filepath.Join(dir, "ok.yaml")
	pad := spec.MaxFileSize - len(hardeningBase) - len("description: \n")
	if err := os.WriteFile(ok, []byte(hardeningBase+"description: "+strings.Repeat("x", pad)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := spec.Load(ok); err != nil {
		t.Errorf("a file of exactly 1 MiB: %v", err)
	}
}

// Integers that no field can hold are refused with the field's range, not
// wrapped or truncated (issue 15: seed 18446744073709551616 ran as
// 9223372036854775808; clients.count 1e308 said only "not a whole number").
func TestIntegerOverflowRefused(t *testing.T) {
	for _, c := range []struct{ yaml, want string }{
		{"seed: 18446744073709551616\n", "line 12: seed: 18446744073709551616 is out of range; allowed 0 (the default, 1) to 18446744073709551615"},
		{"seed: 1e30\n", "seed: 1e30 is out of range"},
		{"seed: -1\n", `seed: "-1" is not a whole number >= 0; allowed 0 (the default, 1)`},
		{"limits:\n  max_events: 18446744073709551616\n", "limits.max_events: 18446744073709551616 is out of range; allowed 0 (no limit)"},
		{"faults:\n  - at: 1s\n    kind: leader-change\n    to: 9223372036854775808\n", "faults[0].to: 9223372036854775808 is out of range; allowed a member number"},
	} {
		_, err := spec.Parse([]byte(hardeningBase+"\n"+c.yaml), "h.yaml")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v\nwant %q", c.yaml, err, c.want)
		}
	}
	// The largest seed is fine.
	s, err := spec.Parse([]byte(hardeningBase+"seed: 18446744073709551615\n"), "h.yaml")
	if err != nil || s.Seed != 18446744073709551615 {
		t.Errorf("max seed: %d, %v", s.Seed, err)
	}
	_, err = spec.Parse([]byte(strings.Replace(hardeningBase, "count: 10", "count: 1e308", 1)), "h.yaml")
	if err == nil || !strings.Contains(err.Error(), "line 4: clients.count: 1e308 is out of range; allowed 1 to 10,000,000") {
		t.Errorf("count 1e308: %v", err)
	}
	_, err = spec.Parse([]byte(strings.Replace(hardeningBase, "count: 10", "count: 2.5", 1)), "h.yaml")
	if err == nil || !strings.Contains(err.Error(), "clients.count: 2.5 is not a whole number; allowed 1 to 10,000,000") {
		t.Errorf("count 2.5: %v", err)
	}
}

// A relative params path is read relative to the scenario file, and the
// summary (so every output) shows it as written, however the scenario's own
// path was typed (issue 15: it showed the joined path).
func TestRelativeParamsPathDoesNotLeakIntoOutput(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "scenarios")
	if err := os.MkdirAll(filepath.Join(sub, "fits"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sub, "fits", "box.yaml"), []byte("kind: leasesim/params\ncosts:\n  direct_renewal: 123us\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sub, "s.yaml"), []byte(hardeningBase+"params: fits/box.yaml\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	var sums []string
	for _, path := range []string{"scenarios/s.yaml", "./scenarios/s.yaml", filepath.Join(sub, "s.yaml"), "scenarios/../scenarios/s.yaml"} {
		s, err := spec.Load(path)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		r, err := s.Resolve()
		if err != nil || r.Cluster.Costs.DirectRenewal != 123*time.Microsecond {
			t.Fatalf("%s: params not read relative to the scenario: %v", path, err)
		}
		if s.Params != "fits/box.yaml" {
			t.Errorf("%s: params %q, want it as written", path, s.Params)
		}
		sums = append(sums, s.Summary())
	}
	for _, sum := range sums[1:] {
		if sum != sums[0] {
			t.Errorf("summary depends on the path typed:\n%s\n%s", sums[0], sum)
		}
	}
	if !strings.Contains(sums[0], "parameter file fits/box.yaml.") {
		t.Errorf("summary: %s", sums[0])
	}
}
