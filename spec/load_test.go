package spec_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/leasesim/leasesim/clientmodel"
	"github.com/leasesim/leasesim/sim"
	"github.com/leasesim/leasesim/spec"
)

var builtinNames = []string{
	"calibration-500", "host-stalls-2core", "incident-2018", "incident-2018-client", "incident-2018-client-ttl10",
	"incident-2018-ttl600", "leader-stall-election", "lease-apply-stall", "lease-demote-election", "lease-deposed-leader", "lease-event-keys", "lease-fleet-restart", "lease-keepalive-once", "lease-lock-ttl2", "lease-promote-expiry", "lease-renew-readindex", "lease-revoke-backlog", "lease-ttl-reset", "metastable-trigger",
}

func TestBuiltinsParseAndValidate(t *testing.T) {
	if got := spec.BuiltinNames(); !slices.Equal(got, builtinNames) {
		t.Fatalf("built-in names %v, want %v", got, builtinNames)
	}
	all := spec.Builtins()
	if len(all) != len(builtinNames) {
		t.Fatalf("%d built-ins, want %d", len(all), len(builtinNames))
	}
	for i, name := range builtinNames {
		t.Run(name, func(t *testing.T) {
			s, err := spec.Builtin(name)
			if err != nil {
				t.Fatal(err)
			}
			if s.Name != name || all[i].Name != name {
				t.Fatalf("name %q / Builtins()[%d] %q, want %q", s.Name, i, all[i].Name, name)
			}
			if len(s.Description) < 100 {
				t.Errorf("description too short to say what it is for and where its numbers come from: %q", s.Description)
			}
			if err := s.Validate(); err != nil {
				t.Fatal(err)
			}
			// The file itself, without defaults, is valid too.
			data, err := os.ReadFile(filepath.Join("builtin", name+".yaml"))
			if err != nil {
				t.Fatal(err)
			}
			raw, err := spec.Parse(data, name+".yaml")
			if err != nil {
				t.Fatal(err)
			}
			if err := raw.Validate(); err != nil {
				t.Fatal(err)
			}
			if sum := s.Summary(); !strings.HasPrefix(sum, name+": ") || strings.Contains(sum, "\n") {
				t.Errorf("summary %q", sum)
			}
		})
	}
}

// The built-ins carry the numbers of the incident report and of the presets
// they replace.
func TestBuiltinContents(t *testing.T) {
	type want struct {
		server, version, consumer string
		count, members            int
		cores                     float64
		ttl, spread, duration     time.Duration
		faults                    int
	}
	for name, w := range map[string]want{
		"incident-2018":              {"cluster", "v3.2.23", "never", 20000, 7, 4, 10 * time.Second, time.Minute, 10 * time.Minute, 0},
		"incident-2018-ttl600":       {"cluster", "v3.2.23", "never", 20000, 7, 4, 600 * time.Second, time.Minute, 2 * time.Hour, 0},
		"incident-2018-client":       {"ideal", "v3.2.23", "never", 20000, 0, 0, 600 * time.Second, 0, 2 * time.Hour, 0},
		"incident-2018-client-ttl10": {"ideal", "v3.2.23", "never", 20000, 0, 0, 10 * time.Second, 0, 10 * time.Minute, 0},
		"calibration-500":            {"cluster", "v3.7.3", "drain", 500, 3, 2, 5 * time.Second, 0, 10 * time.Minute, 0},
		"metastable-trigger":         {"cluster", "v3.2.23", "never", 20000, 7, 8, 10 * time.Second, time.Minute, 10 * time.Minute, 1},
		"lease-promote-expiry":       {"cluster", "v3.7.3", "drain", 2000, 3, 4, 30 * time.Second, 20 * time.Second, 90 * time.Second, 1},
		"lease-revoke-backlog":       {"cluster", "v3.7.3", "drain", 900000, 3, 4, 20 * time.Second, 20 * time.Second, 16 * time.Minute, 0},
		"lease-ttl-reset":            {"cluster", "v3.7.3", "drain", 1000, 3, 4, time.Hour, time.Minute, 3 * time.Hour, 5},
		"lease-apply-stall":          {"cluster", "v3.7.3", "drain", 1500, 3, 4, 5 * time.Second, 5 * time.Second, time.Minute, 1},
		"leader-stall-election":      {"cluster", "v3.7.3", "drain", 1500, 3, 4, 5 * time.Second, 5 * time.Second, 40 * time.Second, 1},
		"lease-demote-election":      {"cluster", "v3.7.3", "drain", 300, 3, 4, 10 * time.Second, 5 * time.Second, 2 * time.Minute, 1},
		"lease-deposed-leader":       {"cluster", "v3.7.3", "drain", 1000, 3, 4, 10 * time.Second, 5 * time.Second, time.Minute, 1},
		"lease-event-keys":           {"cluster", "v3.7.3", "drain", 1, 1, 16, time.Hour, 0, 62 * time.Minute, 0},
		"lease-fleet-restart":        {"cluster", "v3.7.3", "drain", 10000, 3, 4, 10 * time.Second, 10 * time.Second, time.Minute, 0},
		"lease-keepalive-once":       {"cluster", "v3.7.3", "drain", 1500, 3, 4, 5 * time.Second, 5 * time.Second, 40 * time.Second, 1},
	} {
		s, err := spec.Builtin(name)
		if err != nil {
			t.Fatal(err)
		}
		got := want{s.Server, s.Clients.Version, s.Clients.Consumer, s.Clients.Count, s.Cluster.Members, s.Cluster.Cores,
			s.Clients.TTL.D(), s.Clients.StartSpread.D(), s.Duration.D(), len(s.Faults)}
		if got != w {
			t.Errorf("%s: %+v, want %+v", name, got, w)
		}
		placement := "round-robin"
		if name == "lease-deposed-leader" {
			placement = "followers" // the blocked leader's own clients are not modelled
		}
		if s.Server == "cluster" && (s.Cluster.Transport != "http1" || s.Cluster.TLS != "rsa" || s.Clients.Placement != placement) {
			t.Errorf("%s: transport %s, tls %s, placement %s", name, s.Cluster.Transport, s.Cluster.TLS, s.Clients.Placement)
		}
	}
	m, _ := spec.Builtin("metastable-trigger")
	if f := m.Faults[0]; f.Kind != "leader-stall" || f.At.D() != 5*time.Minute || f.Duration.D() != 2*time.Second {
		t.Errorf("metastable-trigger fault %+v", f)
	}
}

func TestBuiltinUnknownListsNames(t *testing.T) {
	_, err := spec.Builtin("incident-2019")
	if err == nil || !strings.Contains(err.Error(), `"incident-2019"`) || !strings.Contains(err.Error(), "incident-2018-client-ttl10") {
		t.Fatalf("got %v", err)
	}
}

func fullSpec() spec.Spec {
	off := false
	return spec.Spec{
		Name: "full", Description: "every field set", Seed: 42,
		Duration: spec.Duration(90 * time.Minute), Bucket: spec.Duration(500 * time.Millisecond),
		Server: "cluster",
		Clients: spec.ClientsSpec{
			Count: 1234, TTL: spec.Duration(60 * time.Second), Version: "v3.3.8", Consumer: "stall:10m-20m",
			StartSpread: spec.Duration(1500 * time.Millisecond), ConnectDelay: new(spec.Duration(250 * time.Microsecond)),
			Placement: "member:2", KeysPerLease: 3, RTT: new(spec.Duration(2 * time.Millisecond)),
		},
		Cluster: spec.ClusterSpec{
			Members: 5, Cores: 2.5, Leader: 1, PeerRTT: new(spec.Duration(300 * time.Microsecond)),
			PeerJitter: spec.Duration(50 * time.Microsecond), Transport: "http2", TLS: "ecdsa", TLSResumption: true,
			MaxIdleConnsPerHost: 100, LeaderQueueLimit: 5000, ElectionTimeout: spec.Duration(2 * time.Second), Prober: &off,
		},
		Costs: spec.CostsSpec{
			DirectRenewal: spec.Duration(90 * time.Microsecond), FollowerRenewal: spec.Duration(160 * time.Microsecond),
			LeaderForwarded: spec.Duration(95 * time.Microsecond), TLSServerFull: spec.Duration(1500 * time.Microsecond),
			TLSClientFull: spec.Duration(900 * time.Microsecond), TLSServerResumed: spec.Duration(100 * time.Microsecond),
			TLSClientResumed: spec.Duration(110 * time.Microsecond), TCPAccept: spec.Duration(12 * time.Microsecond),
			QueuedRequestBytes: 300, PeerConnBytes: 50000,
		},
		Faults: []spec.FaultSpec{
			{At: spec.Duration(5 * time.Minute), Kind: "leader-stall", Duration: spec.Duration(2 * time.Second)},
			{At: spec.Duration(10 * time.Minute), Kind: "leader-change", To: 3, Duration: spec.Duration(time.Second)},
			{At: spec.Duration(20 * time.Minute), Kind: "leader-change", To: 0},
		},
		Limits: spec.LimitsSpec{MaxEvents: new(uint64(123456789))},
	}
}

func TestParseRoundTrip(t *testing.T) {
	specs := append(spec.Builtins(), fullSpec(), spec.Spec{Name: "sparse", Clients: spec.ClientsSpec{Count: 1}})
	for _, s := range specs {
		data, err := yaml.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		got, err := spec.Parse(data, s.Name+".yaml")
		if err != nil {
			t.Fatalf("%s: %v\n%s", s.Name, err, data)
		}
		if !reflect.DeepEqual(got, s) {
			t.Errorf("%s: round trip\n got %+v\nwant %+v\n%s", s.Name, got, s, data)
		}
	}
	if err := fullSpec().Validate(); err != nil {
		t.Fatalf("full spec: %v", err)
	}
}

// base is a valid scenario; the bad-file cases edit it.
const base = `name: t
duration: 10m
clients:
  count: 100
  ttl: 10s
  version: v3.2.23
  consumer: never
cluster:
  members: 7
  cores: 8
`

func TestLoadBadFiles(t *testing.T) {
	repl := func(old, new string) string {
		if !strings.Contains(base, old) {
			panic(old)
		}
		return strings.Replace(base, old, new, 1)
	}
	for _, c := range []struct {
		name, file string
		want       []string // substrings of the error, the field path first
	}{
		{"unknown top-level field", base + "clint: 3\n", []string{"clint: unknown field", "line 11", "allowed top-level fields: name, description", `did you mean "clients"`}},
		{"unknown nested field", repl("  ttl: 10s", "  tll: 10s"), []string{"clients.tll: unknown field", "line 5", "allowed fields of clients: count, ttl,"}},
		{"unknown fault field", base + "faults:\n  - at: 1m\n    kind: leader-stall\n    for: 2s\n", []string{"faults[0].for: unknown field", "line 14", "allowed fields of faults[0]: at, kind, to, member, duration"}},
		{"duplicate field", repl("  ttl: 10s", "  ttl: 10s\n  ttl: 20s"), []string{"clients.ttl: set twice", "line 6"}},
		{"wrong type", repl("count: 100", "count: lots"), []string{"clients.count:", `"lots" is not a whole number`, "line 4"}},
		{"fractional count", repl("count: 100", "count: 100.5"), []string{"clients.count:", "not a whole number"}},
		{"list for a section", repl("clients:", "clients: []\nx:"), []string{"clients:", "want a mapping"}},
		{"negative TTL", repl("ttl: 10s", "ttl: -10s"), []string{"clients.ttl: -10s is negative", "line 5"}},
		{"sub-minimum TTL", repl("ttl: 10s", "ttl: 1s"), []string{"line 5: clients.ttl: 1s is below etcd's minimum lease TTL of 2s (default election settings)"}},
		{"fractional TTL", repl("ttl: 10s", "ttl: 2500ms"), []string{"clients.ttl: 2.5s is not a whole number of seconds"}},
		{"missing TTL", repl("  ttl: 10s\n", ""), []string{"clients.ttl: 0s (or missing) is not allowed"}},
		{"zero members", repl("members: 7", "members: 0"), []string{"line 9: cluster.members: 0 is out of range; allowed 1 to 15"}},
		{"too many members", repl("members: 7", "members: 16"), []string{"cluster.members: 16 is out of range; allowed 1 to 15"}},
		{"zero cores", repl("cores: 8", "cores: 0"), []string{"cluster.cores: 0 is out of range"}},
		{"leader not a member", base + "  leader: 7\n", []string{"cluster.leader: 7 is not a member; allowed 0 to 6"}},
		{"placement on a missing member", repl("  consumer: never", "  consumer: never\n  placement: member:9"), []string{`line 8: clients.placement: "member:9" names a member that does not exist; allowed members 0-6`}},
		{"unknown placement", repl("  consumer: never", "  consumer: never\n  placement: random"), []string{`clients.placement: "random" is not allowed; allowed: round-robin, leader, followers, member:N`}},
		{"unknown transport", base + "  transport: http3\n", []string{`line 11: cluster.transport: "http3" is not allowed; allowed: http1, http2`}},
		{"unknown tls", base + "  tls: dsa\n", []string{`cluster.tls: "dsa" is not allowed; allowed: rsa, ecdsa, off`}},
		{"unknown server", base + "server: mainframe\n", []string{`server: "mainframe" is not allowed; allowed: cluster, ideal`}},
		{"ideal with a cluster", base + "server: ideal\n", []string{"cluster: is set, but server: ideal has no cluster"}},
		{"ideal with faults", repl("cluster:\n  members: 7\n  cores: 8\n", "server: ideal\nfaults:\n  - at: 1m\n    kind: leader-stall\n    duration: 1s\n"), []string{"faults: server: ideal has no leader to fault"}},
		{"unknown fault kind", base + "faults:\n  - at: 1m\n    kind: network-partition\n", []string{`line 13: faults[0].kind: "network-partition" is not allowed; allowed: leader-change, leader-stall`}},
		{"fsync stall without raft", base + "faults:\n  - at: 1m\n    kind: fsync-stall\n    duration: 20s\n", []string{`line 13: faults[0].kind: fsync-stall needs cluster.raft: true`}},
		{"fsync stall with raft", base + "  raft: true\nfaults:\n  - at: 1m\n    kind: fsync-stall\n    duration: 0s\n", []string{"faults[0].duration: 0s is out of range; allowed > 0"}},
		{"fault after the duration", base + "faults:\n  - at: 11m\n    kind: leader-stall\n    duration: 1s\n", []string{"line 12: faults[0].at: 11m is not within the run; allowed 0 up to below the duration (10m)"}},
		{"faults out of order", base + "faults:\n  - at: 5m\n    kind: leader-stall\n    duration: 1s\n  - at: 1m\n    kind: leader-stall\n    duration: 1s\n", []string{"faults[1].at: 1m is before faults[0].at (5m); allowed: faults listed in time order"}},
		{"leader change to the leader", base + "  leader: 2\nfaults:\n  - at: 1m\n    kind: leader-change\n    to: 2\n", []string{"line 15: faults[0].to: 2 is already the leader at 1m"}},
		{"leader change to the new leader", base + "faults:\n  - at: 1m\n    kind: leader-change\n    to: 3\n  - at: 2m\n    kind: leader-change\n    to: 3\n", []string{"faults[1].to: 3 is already the leader at 2m"}},
		{"leader change to no member", base + "faults:\n  - at: 1m\n    kind: leader-change\n    to: 7\n", []string{"faults[0].to: 7 is not a member; allowed 0 to 6"}},
		{"stall without duration", base + "faults:\n  - at: 1m\n    kind: leader-stall\n", []string{"faults[0].duration: 0s is out of range"}},
		{"bad duration syntax", repl("duration: 10m", "duration: 10 minutes"), []string{`line 2: duration: "10 minutes" is not a duration; want a Go duration such as 10s`}},
		{"days are not a unit", repl("duration: 10m", "duration: 1d"), []string{`duration: "1d" is not a duration`}},
		{"bare number duration", repl("ttl: 10s", "ttl: 10"), []string{"line 5: clients.ttl: 10 is a bare number; add a unit, e.g. 10s"}},
		{"quoted bare number duration", repl("ttl: 10s", `ttl: "10"`), []string{"clients.ttl: 10 is a bare number; add a unit"}},
		{"zero duration", repl("duration: 10m", "duration: 0s"), []string{"duration: 0s is out of range; allowed > 0 up to 168h"}},
		{"too long", repl("duration: 10m", "duration: 169h"), []string{"duration: 169h is out of range"}},
		{"negative rtt", repl("  consumer: never", "  consumer: never\n  rtt: -1ms"), []string{"clients.rtt: -1ms is out of range"}},
		{"bad tls_close", repl("  cores: 8", "  cores: 8\n  tls_close: linger"), []string{`cluster.tls_close: "linger" is not allowed; allowed: reset, time-wait`}},
		{"gogc out of range", repl("  cores: 8", "  cores: 8\n  gc: true\n  gogc: 20000"), []string{"cluster.gogc: 20000 is out of range; allowed 0 (the runtime's default, 100) or 1 to 10,000"}},
		{"gogc off", repl("  cores: 8", "  cores: 8\n  gc: true\n  gogc: -1"), []string{"cluster.gogc: -1 is out of range; allowed 0"}},
		{"gogc without gc", repl("  cores: 8", "  cores: 8\n  gogc: 400"), []string{"cluster.gogc: 400 needs cluster.gc: true"}},
		{"bad prober_phase", repl("  cores: 8", "  cores: 8\n  prober_phase: staggered"), []string{`cluster.prober_phase: "staggered" is not allowed; allowed: random (the default), together`}},
		{"bad platform_stalls", repl("  cores: 8", "  cores: 8\n  platform_stalls: loopback"), []string{`cluster.platform_stalls: "loopback" is not allowed; allowed: none (the default), loopback-quiet, loopback-busy`}},
		{"platform_stalls without a shared cpu", repl("  cores: 8", "  cores: 8\n  platform_stalls: loopback-quiet"), []string{`cluster.platform_stalls: loopback-quiet needs cluster.shared_cpu: true; allowed without it: none`}},
		{"spread below a millisecond", repl("  consumer: never", "  consumer: never\n  start_spread: 500us"), []string{"clients.start_spread: 500us is below the start resolution; allowed 0 or 1ms up to the duration"}},
		{"spread beyond the run", repl("  consumer: never", "  consumer: never\n  start_spread: 11m"), []string{"clients.start_spread: 11m is longer than the duration (10m)"}},
		{"bad version", repl("v3.2.23", "v3.0.17"), []string{`clients.version: client version "v3.0.17" is not modelled`}},
		{"missing version", repl("  version: v3.2.23\n", ""), []string{"clients.version: missing"}},
		{"bad consumer", repl("consumer: never", "consumer: sometimes"), []string{`clients.consumer: "sometimes" is unknown; allowed: drain, never, rate:N, pace:N, stop-after:K, stall:FROM-TO`}},
		{"zero clients", repl("count: 100", "count: 0"), []string{"clients.count: 0 is out of range; allowed 1 to 10,000,000"}},
		{"negative cost", base + "costs:\n  direct_renewal: -1us\n", []string{"costs.direct_renewal: -1us is out of range"}},
		{"negative seed", base + "seed: -1\n", []string{`seed: "-1" is not a whole number >= 0`}},
		{"multiple documents", base + "---\n" + base, []string{"line 11:", "second YAML document"}},
		{"empty file", "", []string{"the file is empty"}},
		{"comments only", "# nothing\n", []string{"the file is empty"}},
		{"not a mapping", "- a\n- b\n", []string{"a scenario is a mapping of fields"}},
		{"syntax error", "name: [t\n", []string{"line 1:"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bad.yaml")
			if err := os.WriteFile(path, []byte(c.file), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := spec.LoadFile(path)
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
}

// A longer election timeout raises etcd's minimum TTL: ceil(1.5 x 3 s) = 5 s.
func TestSpecMinTTLFollowsElectionTimeout(t *testing.T) {
	s, err := spec.Parse([]byte(strings.Replace(base, "ttl: 10s", "ttl: 4s", 1)+"  election_timeout: 3s\n"), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	err = s.Validate()
	if err == nil || err.Error() != "clients.ttl: 4s is below etcd's minimum lease TTL of 5s (election timeout 3s)" {
		t.Fatalf("got %v", err)
	}
}

// Validate reports every problem, each a *FieldError with its path.
func TestSpecValidateReportsEveryField(t *testing.T) {
	s, err := spec.Parse([]byte(base), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	s.Clients.Count = -1
	s.Cluster.Members = 0
	s.Cluster.Transport = "http3"
	err = s.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	var paths []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var fe *spec.FieldError
		if !errors.As(e, &fe) {
			t.Fatalf("%T is not a *FieldError", e)
		}
		paths = append(paths, fe.Path)
	}
	slices.Sort(paths)
	if want := []string{"clients.count", "cluster.members", "cluster.transport"}; !slices.Equal(paths, want) {
		t.Fatalf("paths %v, want %v\n%v", paths, want, err)
	}
}

func TestSpecApplyDefaults(t *testing.T) {
	s, err := spec.Parse([]byte(base), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s.ApplyDefaults()
	on := true
	want := spec.Spec{
		Name: "t", Seed: 1, Duration: spec.Duration(10 * time.Minute), Bucket: spec.Duration(time.Second), Server: "cluster",
		Clients: spec.ClientsSpec{
			Count: 100, TTL: spec.Duration(10 * time.Second), Version: "v3.2.23", Consumer: "never",
			ConnectDelay: new(spec.Duration(spec.DefaultConnectDelay)), Placement: "round-robin", KeysPerLease: 1,
			RTT: new(spec.Duration(time.Millisecond)),
		},
		Cluster: spec.ClusterSpec{
			Members: 7, Cores: 8, PeerRTT: new(spec.Duration(500 * time.Microsecond)), Transport: "http1", TLS: "rsa", TLSClose: "reset",
			MaxIdleConnsPerHost: 1024, ElectionTimeout: spec.Duration(time.Second), Prober: &on,
		},
		Limits: spec.LimitsSpec{MaxEvents: new(uint64(2_000_000_000))},
	}
	if !reflect.DeepEqual(s, want) {
		t.Fatalf("defaults\n got %+v\nwant %+v", s, want)
	}
	again := s
	again.ApplyDefaults()
	if !reflect.DeepEqual(again, s) {
		t.Fatal("ApplyDefaults is not idempotent")
	}
	// An ideal server gets no cluster defaults, so it stays valid.
	ideal, err := spec.Builtin("incident-2018-client")
	if err != nil {
		t.Fatal(err)
	}
	if ideal.Cluster != (spec.ClusterSpec{}) || ideal.Clients.RTT.D() != time.Millisecond {
		t.Fatalf("ideal after defaults: %+v", ideal)
	}
}

func TestLoadNameOrPath(t *testing.T) {
	s, err := spec.Load("incident-2018")
	if err != nil || s.Name != "incident-2018" {
		t.Fatalf("built-in: %v %v", s.Name, err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "mine.yaml")
	if err := os.WriteFile(path, []byte(strings.Replace(base, "name: t\n", "", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err = spec.Load(path)
	if err != nil || s.Name != "mine" {
		t.Fatalf("file: name %q, %v", s.Name, err)
	}
	_, err = spec.Load("incident-2019")
	if err == nil || !strings.Contains(err.Error(), `"incident-2019" is neither a built-in scenario`) || !strings.Contains(err.Error(), "incident-2018,") {
		t.Fatalf("unknown name: %v", err)
	}
	_, err = spec.Load(filepath.Join(dir, "missing.yaml"))
	if err == nil || !strings.Contains(err.Error(), "missing.yaml does not exist") || !strings.Contains(err.Error(), "built-in scenarios:") {
		t.Fatalf("missing file: %v", err)
	}
}

func TestSpecSummary(t *testing.T) {
	s, err := spec.Builtin("metastable-trigger")
	if err != nil {
		t.Fatal(err)
	}
	sum := s.Summary()
	for _, w := range []string{"20,000 clients", "v3.2.23", "pre-fix", "TTL 10s", "never reads", "7-member", "8 cores",
		"HTTP/1.1", "RSA-2048 mutual TLS", "at 5m the leader stalls for 2s", "10m"} {
		if !strings.Contains(sum, w) {
			t.Errorf("summary lacks %q: %s", w, sum)
		}
	}
	ideal, _ := spec.Builtin("incident-2018-client")
	if sum := ideal.Summary(); !strings.Contains(sum, "idealised server") || !strings.Contains(sum, "TTL 600s") {
		t.Errorf("ideal summary: %s", sum)
	}
}

func TestParseConsumer(t *testing.T) {
	for _, c := range []struct {
		in   string
		want clientmodel.Consumer
	}{
		{"drain", clientmodel.Consumer{Kind: clientmodel.Drain}},
		{"never", clientmodel.Consumer{Kind: clientmodel.Never}},
		{"rate:4", clientmodel.Consumer{Kind: clientmodel.Rate, Period: 250 * time.Millisecond}},
		{"rate:0.5", clientmodel.Consumer{Kind: clientmodel.Rate, Period: 2 * time.Second}},
		{"stop-after:0", clientmodel.Consumer{Kind: clientmodel.StopAfter}},
		{"stop-after:16", clientmodel.Consumer{Kind: clientmodel.StopAfter, K: 16}},
		{"stall:10m-20m", clientmodel.Consumer{Kind: clientmodel.Stall, From: sim.Time(10 * time.Minute), To: sim.Time(20 * time.Minute)}},
		{"stall:0s-1ms", clientmodel.Consumer{Kind: clientmodel.Stall, To: sim.Time(time.Millisecond)}},
		{"rate:1e-9", clientmodel.Consumer{Kind: clientmodel.Rate, Period: 1e18}},
		{"stall:0s-168h", clientmodel.Consumer{Kind: clientmodel.Stall, To: sim.Time(168 * time.Hour)}},
	} {
		got, err := spec.ParseConsumer(c.in)
		if err != nil || got != c.want {
			t.Errorf("%s: %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
	for _, c := range []struct{ in, want string }{
		{"", `"" is unknown; allowed: drain, never, rate:N, pace:N, stop-after:K, stall:FROM-TO`},
		{"sometimes", `"sometimes" is unknown; allowed: drain, never, rate:N, pace:N, stop-after:K, stall:FROM-TO`},
		{"Drain", `"Drain" is unknown; allowed:`},
		{"drain:1", `"drain:1" must be of the form drain`},
		{"never:", `"never:" must be of the form never`},
		{"rate", `"rate" must be of the form rate:N with 1e-9 <= N <= 1e6`},
		{"rate:0", `must be of the form rate:N`},
		{"rate:-1", `must be of the form rate:N`},
		{"rate:2e6", `must be of the form rate:N`},
		{"rate:NaN", `must be of the form rate:N`},
		// Below 1e-9 the period (1s/N) does not fit the simulator's int64
		// nanoseconds with a run's start times added (issue 15: rate:1e-10
		// overflowed and a cluster run panicked).
		{"rate:1e-10", `must be of the form rate:N with 1e-9 <= N <= 1e6`},
		{"rate:5e-324", `must be of the form rate:N`},
		{"stall:0s-169h", `must be of the form stall:FROM-TO with durations 0 <= FROM < TO <= 168h`},
		{"stop-after:-1", `"stop-after:-1" must be of the form stop-after:K with K >= 0`},
		{"stop-after:x", `must be of the form stop-after:K`},
		{"stall:20m-10m", `"stall:20m-10m" must be of the form stall:FROM-TO with durations 0 <= FROM < TO <= 168h, e.g. stall:10m-20m`},
		{"stall:10m", `must be of the form stall:FROM-TO`},
		{"stall:10-20", `must be of the form stall:FROM-TO`},
		{"stall:5m-5m", `must be of the form stall:FROM-TO`},
	} {
		_, err := spec.ParseConsumer(c.in)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: got %v, want %q", c.in, err, c.want)
		}
	}
}

func TestParseDurationYAML(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		text string
	}{
		{0, "0s"}, {100 * time.Microsecond, "100us"}, {1500 * time.Microsecond, "1.5ms"}, {10 * time.Second, "10s"},
		{90 * time.Second, "1m30s"}, {10 * time.Minute, "10m"}, {2 * time.Hour, "2h"}, {2*time.Hour + 30*time.Minute, "2h30m"},
		{time.Hour + time.Second, "1h0m1s"}, {-10 * time.Second, "-10s"}, {-time.Hour, "-1h"},
	} {
		d := spec.Duration(c.d)
		if got := d.String(); got != c.text {
			t.Errorf("String(%v) = %q, want %q", c.d, got, c.text)
		}
		var back spec.Duration
		if err := yaml.Unmarshal([]byte(c.text), &back); err != nil || back != d {
			t.Errorf("unmarshal %q = %v, %v", c.text, back, err)
		}
		out, err := yaml.Marshal(d)
		if err != nil || strings.TrimSpace(string(out)) != c.text {
			t.Errorf("marshal %v = %q, %v", c.d, out, err)
		}
	}
	for _, c := range []struct{ in, want string }{
		{"10", "line 1: 10 is a bare number; add a unit, e.g. 10s"},
		{"1.5", "1.5 is a bare number"},
		{"ten seconds", `"ten seconds" is not a duration`},
		{"[1s]", "a list is not a duration"},
	} {
		var d spec.Duration
		err := yaml.Unmarshal([]byte(c.in), &d)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: got %v, want %q", c.in, err, c.want)
		}
	}
	// Unit-less zero is unambiguous and accepted; µs is read like us.
	for in, want := range map[string]time.Duration{"0": 0, "100µs": 100 * time.Microsecond} {
		var d spec.Duration
		if err := yaml.Unmarshal([]byte(in), &d); err != nil || d.D() != want {
			t.Errorf("%q: %v, %v", in, d, err)
		}
	}
}
