package spec_test

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/leasesim/leasesim/spec"
)

// paramsBase is a valid parameter file; the error cases edit it.
const paramsBase = `kind: leasesim/params
machine:
  description: test box
  cores: 2
versions:
  etcd: v3.7.3
  peer_tls: rsa
fit:
  - name: r500
    clients: 500
    ttl: 5s
    direct_renewals_per_s: 83.3
    forwarded_renewals_per_s: 166.7
    server_cpu_cores: 0.08
costs:
  direct_renewal: 100us
  idle_cores: 0.01
`

func writeFile(t *testing.T, dir, name, data string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadParamsErrors(t *testing.T) {
	repl := func(old, new string) string {
		if !strings.Contains(paramsBase, old) {
			panic(old)
		}
		return strings.Replace(paramsBase, old, new, 1)
	}
	if _, err := spec.LoadParams(writeFile(t, t.TempDir(), "ok.yaml", paramsBase)); err != nil {
		t.Fatalf("the base file: %v", err)
	}
	for _, c := range []struct {
		name, file string
		want       []string // substrings of the error
	}{
		{"unknown top-level field", paramsBase + "cost: {}\n", []string{"line 18: cost: unknown field", `did you mean "costs"`, "allowed top-level fields: kind, machine, versions, measured, notes, fit, costs"}},
		{"unknown cost", repl("  idle_cores: 0.01", "  idle: 0.01"), []string{"line 17: costs.idle: unknown field", "allowed fields of costs: direct_renewal,", "idle_cores"}},
		{"unknown machine field", repl("  cores: 2", "  ram: 8G"), []string{"line 4: machine.ram: unknown field", "allowed fields of machine: description, cpu, cores, kernel, go, os, arch"}},
		{"unknown run field", repl("    ttl: 5s", "    ttl: 5s\n    rate: 3"), []string{"fit[0].rate: unknown field", "allowed fields of fit[0]: name, clients, ttl"}},
		{"bad kind", repl("kind: leasesim/params", "kind: leasesim/scenario"), []string{`line 1: kind: "leasesim/scenario" is not allowed; a parameter file says kind: leasesim/params`}},
		{"missing kind", repl("kind: leasesim/params\n", ""), []string{"kind: missing; a parameter file starts with kind: leasesim/params"}},
		{"a scenario", base, []string{"kind: missing", "this looks like a scenario: give it to --scenario"}},
		{"negative cost", repl("direct_renewal: 100us", "direct_renewal: -1us"), []string{"line 16: costs.direct_renewal: -1us is out of range; allowed 0 (the default) to 10s"}},
		{"bare number cost", repl("direct_renewal: 100us", "direct_renewal: 100"), []string{"costs.direct_renewal: 100 is a bare number; add a unit"}},
		{"negative idle", repl("idle_cores: 0.01", "idle_cores: -0.5"), []string{"line 17: costs.idle_cores: -0.5 is out of range; allowed 0 (no idle CPU)"}},
		{"idle not a number", repl("idle_cores: 0.01", "idle_cores: lots"), []string{`costs.idle_cores: "lots" is not a number`}},
		{"bad tls factor", paramsBase + "  tls_factor: 1000\n", []string{"costs.tls_factor: 1000 is out of range"}},
		{"bad peer tls", repl("peer_tls: rsa", "peer_tls: dsa"), []string{`line 7: versions.peer_tls: "dsa" is not allowed; allowed: rsa, ecdsa, off`}},
		{"negative rate", repl("server_cpu_cores: 0.08", "server_cpu_cores: -1"), []string{"fit[0].server_cpu_cores: -1 is out of range"}},
		{"run without a name", repl("  - name: r500\n    clients", "  - clients"), []string{"fit[0].name: missing"}},
		{"empty file", "", []string{"the file is empty; a parameter file is a YAML mapping with kind: leasesim/params"}},
		{"not a mapping", "- a\n", []string{"a parameter file is a mapping of fields (kind, machine,"}},
		{"two documents", paramsBase + "---\n" + paramsBase, []string{"a parameter file holds exactly one document"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := writeFile(t, t.TempDir(), "p.yaml", c.file)
			_, err := spec.LoadParams(path)
			if err == nil {
				t.Fatalf("no error for\n%s", c.file)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, path+": ") {
				t.Errorf("error does not start with the file name:\n%s", msg)
			}
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error does not contain %q:\n%s", w, msg)
				}
			}
		})
	}
	// References that are not there: each error lists the built-in names.
	for _, c := range []struct{ ref, want string }{
		{filepath.Join(t.TempDir(), "nope.yaml"), "nope.yaml does not exist (built-in parameter files: default, reference-2core"},
		{"nope", `"nope" is neither a built-in parameter file (default, reference-2core`},
		{"", "no parameter file named; want a built-in name (default, reference-2core"},
	} {
		if _, err := spec.LoadParams(c.ref); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("LoadParams(%q): %v, want %q", c.ref, err, c.want)
		}
	}
}

func TestBuiltinParams(t *testing.T) {
	names := spec.BuiltinParams()
	if !slices.Contains(names, "reference-2core") || !slices.IsSorted(names) {
		t.Fatalf("built-in parameter files %v", names)
	}
	for _, n := range names {
		p, err := spec.LoadParams(n)
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		if (p.Machine.Description == "" && p.Machine.CPU == "") || p.Versions.Etcd == "" || p.Measured == "" {
			t.Errorf("%s: say where, on what and when it was measured: %+v %+v %q", n, p.Machine, p.Versions, p.Measured)
		}
	}
	// The reference figures of the calibration issue, which are the defaults.
	p, err := spec.LoadParams("reference-2core")
	if err != nil {
		t.Fatal(err)
	}
	c := p.Costs
	if c.DirectRenewal.D() != 96*time.Microsecond || c.LeaderForwarded.D() != 96*time.Microsecond ||
		c.FollowerRenewal.D() != 165*time.Microsecond || c.IdleCores == nil || *c.IdleCores != 0.0087 {
		t.Errorf("reference-2core costs %+v", c)
	}
	if !strings.Contains(p.Machine.Description, "not measured by leasesim") || p.Versions.Etcd != "v3.7.3" || p.Versions.PeerTLS != "rsa" {
		t.Errorf("reference-2core machine %+v versions %+v", p.Machine, p.Versions)
	}
	d := spec.DefaultCosts("rsa")
	if got := c.Apply(d); got != d {
		t.Errorf("reference-2core moves the defaults:\n got %+v\nwant %+v", got, d)
	}
	if _, err := spec.BuiltinParamsSource("nope"); err == nil || !strings.Contains(err.Error(), "reference-2core") {
		t.Errorf("BuiltinParamsSource(nope): %v", err)
	}
}

func TestParamsMarshalRoundTrip(t *testing.T) {
	ref, err := spec.LoadParams("reference-2core")
	if err != nil {
		t.Fatal(err)
	}
	full := spec.Params{
		Machine: spec.ParamsMachine{Description: "a box", CPU: "AMD EPYC 7B13", Cores: 2, Kernel: "6.8.0",
			Go: "go1.26.0", OS: "linux", Arch: "amd64"},
		Versions: spec.ParamsVersions{Etcd: "v3.7.3", Client: "v3.7.3", PeerTLS: "ecdsa"},
		Measured: "2026-03-01", Notes: "two lines\nof notes\n",
		Fit: []spec.ParamsRun{
			{Name: "a", Clients: 500, TTL: spec.Duration(5 * time.Second), Placement: "leader", Members: 3,
				Duration: spec.Duration(time.Minute), DirectPerS: 250, ServerCPUCores: 0.05, HandshakesPerS: 1.5},
			{Name: "b", Clients: 500, TTL: spec.Duration(5 * time.Second), Placement: "followers",
				ForwardedPerS: 250.5, ServerCPUCores: 0.09},
		},
		Costs: spec.CostsSpec{
			DirectRenewal: spec.Duration(91500 * time.Nanosecond), FollowerRenewal: spec.Duration(170 * time.Microsecond),
			LeaderForwarded: spec.Duration(80 * time.Microsecond), TLSServerFull: spec.Duration(1100 * time.Microsecond),
			TLSClientFull: spec.Duration(1 * time.Millisecond), TLSServerResumed: spec.Duration(30 * time.Microsecond),
			TLSClientResumed: spec.Duration(31 * time.Microsecond), TCPAccept: spec.Duration(9 * time.Microsecond),
			QueuedRequestBytes: 300, TLSFactor: 1.5, PeerConnBytes: 50000, IdleCores: new(0.0),
		},
	}
	for _, p := range []spec.Params{ref, full} {
		data, err := p.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(data), "# leasesim cost parameters") || !strings.Contains(string(data), "\n  direct_renewal: ") ||
			!strings.Contains(string(data), "# CPU each member burns with no load") {
			t.Errorf("not the readable layout:\n%s", data)
		}
		got, err := spec.LoadParams(writeFile(t, t.TempDir(), "p.yaml", string(data)))
		if err != nil {
			t.Fatalf("%v\n%s", err, data)
		}
		p.Kind = spec.ParamsKind // Marshal fills it in
		if !reflect.DeepEqual(got, p) {
			t.Errorf("round trip\n got %+v\nwant %+v\n%s", got, p, data)
		}
	}
	// A zero idle_cores is written (it turns idle CPU off), not dropped.
	if data, _ := full.Marshal(); !strings.Contains(string(data), "idle_cores: 0 ") {
		t.Errorf("idle_cores: 0 dropped:\n%s", data)
	}
	// Marshal refuses what LoadParams would.
	bad := full
	bad.Costs.DirectRenewal = -1
	if _, err := bad.Marshal(); err == nil || !strings.Contains(err.Error(), "costs.direct_renewal") {
		t.Errorf("Marshal of a negative cost: %v", err)
	}
}

// clusterSpec is a small valid cluster spec.
func clusterSpec() spec.Spec {
	return spec.Spec{
		Name: "p", Duration: spec.Duration(10 * time.Second), Server: spec.ServerCluster,
		Clients: spec.ClientsSpec{Count: 10, TTL: spec.Duration(5 * time.Second), Version: "v3.7.3", Consumer: "drain"},
		Cluster: spec.ClusterSpec{Members: 3, Cores: 2},
	}
}

func resolvedCosts(t *testing.T, s spec.Spec) spec.Costs {
	t.Helper()
	r, err := s.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	return r.Cluster.Costs
}

// DefaultCosts, then the params file, then the scenario's own costs.
func TestParamsPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "fit.yaml", `kind: leasesim/params
costs:
  direct_renewal: 200us
  follower_renewal: 300us
  tls_factor: 2
  idle_cores: 0.05
`)
	def := spec.DefaultCosts("rsa")
	if def.IdleCores != 0.0087 {
		t.Fatalf("default idle cores %v, want 0.0087", def.IdleCores)
	}
	if got := resolvedCosts(t, clusterSpec()); got != def {
		t.Fatalf("no params: %+v, want the defaults %+v", got, def)
	}

	s := clusterSpec()
	s.Params = file
	got := resolvedCosts(t, s)
	want := def
	want.DirectRenewal, want.FollowerRenewal, want.IdleCores = 200*time.Microsecond, 300*time.Microsecond, 0.05
	want.TLSServerFull, want.TLSClientFull = 2*def.TLSServerFull, 2*def.TLSClientFull
	want.TLSServerResumed, want.TLSClientResumed = 2*def.TLSServerResumed, 2*def.TLSClientResumed
	if got != want {
		t.Fatalf("params over defaults:\n got %+v\nwant %+v", got, want)
	}

	// The scenario pins single values; the rest stay the params file's.
	s.Costs = spec.CostsSpec{DirectRenewal: spec.Duration(50 * time.Microsecond), TLSFactor: 1, IdleCores: new(0.0)}
	got = resolvedCosts(t, s)
	want.DirectRenewal, want.IdleCores = 50*time.Microsecond, 0
	want.TLSServerFull, want.TLSClientFull, want.TLSServerResumed, want.TLSClientResumed =
		def.TLSServerFull, def.TLSClientFull, def.TLSServerResumed, def.TLSClientResumed
	if got != want {
		t.Fatalf("scenario costs over params:\n got %+v\nwant %+v", got, want)
	}

	// A built-in name works as well as a path; the reference is the defaults.
	s = clusterSpec()
	s.Params = "reference-2core"
	if got := resolvedCosts(t, s); got != def {
		t.Fatalf("reference-2core: %+v, want the defaults %+v", got, def)
	}
}

// In a scenario file, params names a built-in or a file relative to the
// scenario; a bad one is an error on the params line that lists the built-ins.
func TestScenarioParamsField(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "fits"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "fits"), "box.yaml", "kind: leasesim/params\ncosts:\n  direct_renewal: 123us\n")
	path := writeFile(t, dir, "s.yaml", base+"params: fits/box.yaml\n")
	s, err := spec.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := resolvedCosts(t, s); got.DirectRenewal != 123*time.Microsecond {
		t.Fatalf("direct renewal %v, want 123us from the params file", got.DirectRenewal)
	}
	if sum := s.Summary(); !strings.Contains(sum, "CPU costs from parameter file") {
		t.Errorf("summary does not name the params file: %s", sum)
	}

	for _, c := range []struct {
		name, file string
		want       []string
	}{
		{"unknown name", base + "params: laptop\n", []string{"line 11: params:", `"laptop" is neither a built-in parameter file (default, reference-2core`}},
		{"missing file", base + "params: none.yaml\n", []string{"line 11: params: parameter file", "none.yaml does not exist (built-in parameter files: default, reference-2core"}},
		{"bad file", base + "params: fits/bad.yaml\n", []string{"line 11: params:", "bad.yaml: line 3: costs.direct_renewal: -1us is out of range"}},
		{"ideal server", strings.Replace(base, "cluster:\n  members: 7\n  cores: 8\n", "server: ideal\n", 1) + "params: reference-2core\n", []string{"params: server: ideal has no CPU costs"}},
		{"not a string", base + "params: [a, b]\n", []string{"line 11: params: a list is not allowed here; want a string"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			writeFile(t, filepath.Join(dir, "fits"), "bad.yaml", "kind: leasesim/params\ncosts:\n  direct_renewal: -1us\n")
			_, err := spec.LoadFile(writeFile(t, dir, "bad-spec.yaml", c.file))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q:\n%v", w, err)
				}
			}
		})
	}
}

// The idle CPU (default, params or scenario) must leave the members some cores.
func TestIdleCoresLeaveCapacity(t *testing.T) {
	s := clusterSpec()
	s.Cluster.Cores = 0.005 // below the default 0.0087
	if err := s.Validate(); err == nil || !strings.Contains(err.Error(), "cluster.cores: 0.005 leaves no CPU for requests") {
		t.Errorf("cores below the default idle: %v", err)
	}
	s.Costs.IdleCores = new(0.0) // idle CPU off: any cores will do
	if err := s.Validate(); err != nil {
		t.Errorf("idle off: %v", err)
	}
	s = clusterSpec()
	s.Costs.IdleCores = new(2.0)
	if err := s.Validate(); err == nil || !strings.Contains(err.Error(), "costs.idle_cores: 2 leaves no CPU for requests on cluster.cores 2") {
		t.Errorf("idle = cores: %v", err)
	}
	s.Costs.IdleCores = new(-1.0)
	if err := s.Validate(); err == nil || !strings.Contains(err.Error(), "costs.idle_cores: -1 is out of range") {
		t.Errorf("negative idle: %v", err)
	}
	s = clusterSpec()
	s.Params = writeFile(t, t.TempDir(), "p.yaml", "kind: leasesim/params\ncosts:\n  idle_cores: 3\n")
	if err := s.Validate(); err == nil || !strings.Contains(err.Error(), "cluster.cores: 2 leaves no CPU for requests") ||
		!strings.Contains(err.Error(), "the idle CPU of params") {
		t.Errorf("idle from params > cores: %v", err)
	}
}

// --params goes through ApplyFlag like any scenario flag (and so do
// --what-if params=... and sweep grids).
func TestParamsFlag(t *testing.T) {
	if spec.FieldOf("params") != "params" {
		t.Fatalf("--params sets %q", spec.FieldOf("params"))
	}
	file := writeFile(t, t.TempDir(), "fit.yaml", "kind: leasesim/params\ncosts:\n  leader_forwarded_renewal: 77us\n")
	s := clusterSpec()
	if err := spec.ApplyFlag(&s, "params", file); err != nil {
		t.Fatal(err)
	}
	if s.Params != file {
		t.Fatalf("params %q", s.Params)
	}
	if got := resolvedCosts(t, s); got.LeaderForwarded != 77*time.Microsecond {
		t.Fatalf("leader forwarded %v, want 77us", got.LeaderForwarded)
	}
	if err := spec.ApplyFlag(&s, "params", "nope"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Resolve(); err == nil || !strings.HasPrefix(err.Error(), `params: "nope" is neither a built-in parameter file (default, reference-2core`) {
		t.Fatalf("unknown --params: %v", err)
	}
}

// A scenario's params and idle_cores survive YAML, and idle_cores: 0 stays 0.
func TestSpecParamsRoundTrip(t *testing.T) {
	s := clusterSpec()
	s.Params = "reference-2core"
	s.Costs.IdleCores = new(0.0)
	data, err := yaml.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	got, err := spec.Parse(data, "p.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, s) || !strings.Contains(string(data), "params: reference-2core") || !strings.Contains(string(data), "idle_cores: 0") {
		t.Errorf("round trip\n got %+v\nwant %+v\n%s", got, s, data)
	}
}
