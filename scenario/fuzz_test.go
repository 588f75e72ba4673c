package scenario_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/leasesim/leasesim/scenario"
	"github.com/leasesim/leasesim/spec"
)

// The fuzz targets load a scenario (a file, or flags) and, when the one
// validator accepts it, run it for a short stretch of virtual time: a value
// that validates but breaks the model (issue 15: rate:1e-10 passed
// validation and a cluster run panicked) is a failure, not only a loader
// that panics. 'make fuzz' runs them for a set time; 'go test' runs their
// seed corpus.

// Limits that keep one fuzz input to milliseconds: larger scenarios are
// valid but are not run.
const (
	fuzzMaxClients = 2000
	fuzzRunFor     = 5 * time.Second // virtual
	fuzzMaxEvents  = 200_000
	fuzzMaxBuckets = 1000
)

// issue15Scenarios are the bad inputs of issue 15 (and of the validator
// issue) written as scenario files.
var issue15Scenarios = []string{
	// rate:N below ~1.08e-10 overflowed the period.
	"name: r\nduration: 1m\nclients:\n  count: 10\n  ttl: 10s\n  version: v3.7.3\n  consumer: rate:1e-10\ncluster:\n  members: 3\n  cores: 4\n",
	"name: r\nduration: 1m\nserver: ideal\nclients:\n  count: 10\n  ttl: 10s\n  version: v3.7.3\n  consumer: rate:5e-324\n",
	// A seed beyond uint64, a count beyond any int, escapes in the name.
	"name: s\nseed: 18446744073709551616\nduration: 1m\nclients:\n  count: 10\n  ttl: 10s\n  version: v3.7.3\n  consumer: drain\ncluster:\n  members: 3\n  cores: 4\n",
	"name: c\nduration: 1m\nclients:\n  count: 1e308\n  ttl: 10s\n  version: v3.7.3\n  consumer: drain\ncluster:\n  members: 3\n  cores: 4\n",
	"name: \"\\e[2J\\e]0;x\\a\"\ndescription: \"\\e[31mred\"\nduration: 10s\nclients:\n  count: 3\n  ttl: 5s\n  version: v3.7.3\n  consumer: drain\ncluster:\n  members: 3\n  cores: 4\n",
	// Too many clients for the machine (refused or not run).
	"name: m\nduration: 10m\nclients:\n  count: 10000000\n  ttl: 10s\n  version: v3.7.3\n  consumer: drain\ncluster:\n  members: 3\n  cores: 4\n",
	// Params files that are not files.
	"name: p\nduration: 10s\nparams: /dev/zero\nclients:\n  count: 3\n  ttl: 5s\n  version: v3.7.3\n  consumer: drain\ncluster:\n  members: 3\n  cores: 4\n",
	// The validators disagreed: etcd's minimum TTL with a 500 ms election is 1 s.
	"name: e\nduration: 20s\nclients:\n  count: 10\n  ttl: 1s\n  version: v3.7.3\n  consumer: drain\ncluster:\n  members: 3\n  cores: 2\n  election_timeout: 500ms\n",
	"name: q\nduration: 20s\nclients:\n  count: 10\n  ttl: 5s\n  version: v3.7.3\n  consumer: drain\ncluster:\n  members: 3\n  cores: 2\n  shared_cpu: true\n  leader_queue_limit: 10\n",
	// Zeroes that mean zero, extremes of the stall syntax, tiny cores.
	"name: z\nduration: 10s\nbucket: 1ms\nclients:\n  count: 5\n  ttl: 2s\n  version: v3.2.23\n  consumer: stall:0s-168h\n  rtt: 0s\n  connect_delay: 0s\n  start_spread: 10s\ncluster:\n  members: 2\n  cores: 0.01\n  peer_rtt: 0s\n  peer_jitter: 1m\ncosts:\n  idle_cores: 0\n  tls_factor: 100\n  tls_server_full: 10s\nlimits:\n  max_events: 0\n",
	"name: f\nduration: 30s\nclients:\n  count: 30\n  ttl: 2s\n  version: v3.3.8\n  consumer: never\n  placement: followers\ncluster:\n  members: 5\n  cores: 1\n  transport: http2\n  tls: off\nfaults:\n  - {at: 0s, kind: leader-change, to: 4, duration: 30s}\n  - {at: 1s, kind: partition, member: 0, duration: 29s}\n  - {at: 2s, kind: leader-stall, duration: 28s}\n",
	// A YAML bomb, deep nesting, garbage.
	"a: &a [x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b]\nname: [*c, *c, *c, *c]\n",
	strings.Repeat("[", 5000) + strings.Repeat("]", 5000),
	"\x00\xff\xfe{{{:\n\t- - ?",
}

// runShort runs an accepted scenario for fuzzRunFor of virtual time (less
// for big ones) and fails on anything but a clean run or the event limit.
func runShort(t *testing.T, s spec.Spec) {
	t.Helper()
	r, err := s.Resolve()
	if err != nil {
		t.Fatalf("the validator accepted %+v, Resolve refused it: %v", s, err)
	}
	shorten := func(d, bucket *time.Duration, maxEvents *uint64) {
		*d = min(*d, fuzzRunFor)
		if *bucket > 0 && *d / *bucket > fuzzMaxBuckets {
			*bucket = (*d + fuzzMaxBuckets - 1) / fuzzMaxBuckets
		}
		if *maxEvents == 0 || *maxEvents > fuzzMaxEvents {
			*maxEvents = fuzzMaxEvents
		}
	}
	ctx := context.Background()
	if c := r.Ideal; c != nil {
		if c.Clients > 50*fuzzMaxClients {
			return
		}
		shorten(&c.Duration, &c.Bucket, &c.MaxEvents)
		if _, err := scenario.RunIdeal(ctx, *c, nil); err != nil && !isEventLimit(err) {
			t.Fatalf("ideal run of an accepted scenario: %v\n%s", err, s.Summary())
		}
		return
	}
	c := r.Cluster
	if c.Clients > fuzzMaxClients || c.Clients*c.KeysPerLease > 100*fuzzMaxClients {
		return
	}
	shorten(&c.Duration, &c.Bucket, &c.MaxEvents)
	if _, err := scenario.RunCluster(*c, scenario.Options{}, nil); err != nil && !isEventLimit(err) {
		t.Fatalf("cluster run of an accepted scenario: %v\n%s", err, s.Summary())
	}
}

func isEventLimit(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "max_events") || strings.Contains(err.Error(), "max-events"))
}

// usesFiles: a scenario whose params name a file (not a built-in) is not
// loaded by the fuzzer: a path such as /dev/stdin would block.
func usesFiles(data []byte) bool {
	s, err := spec.Parse(data, "fuzz.yaml")
	return err == nil && s.Params != "" && !slices.Contains(spec.BuiltinParams(), s.Params)
}

func FuzzLoad(f *testing.F) {
	for _, name := range spec.BuiltinNames() {
		src, err := spec.BuiltinSource(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	for _, s := range issue15Scenarios {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if usesFiles(data) {
			t.Skip()
		}
		s, err := spec.LoadBytes(data, "fuzz.yaml")
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		runShort(t, s)
	})
}

// flagBase is what 'leasesim run' starts from without --scenario, for an
// ideal server or (cluster) a 3-member cluster.
func flagBase(cluster bool) spec.Spec {
	s := spec.Spec{Seed: 1, Duration: spec.Duration(time.Minute), Server: spec.ServerIdeal,
		Clients: spec.ClientsSpec{Count: 20, TTL: spec.Duration(10 * time.Second), Version: "v3.7.3", Consumer: "drain"}}
	if cluster {
		s.Server = spec.ServerCluster
		s.Cluster = spec.ClusterSpec{Members: 3, Cores: 4}
	}
	return s
}

func FuzzFlags(f *testing.F) {
	samples := map[string][]string{
		"clients": {"5", "1e308", "-1", "10000000"}, "ttl": {"10s", "1", "0.5s", "9000000000s"}, "client-version": {"v3.7.3", "v3.2.23", "v9"},
		"consumer":     {"drain", "rate:1e-10", "rate:1e-9", "stall:0s-2562047h", "stop-after:9223372036854775807"},
		"start-spread": {"1s", "-1s"}, "connect-delay": {"0s", "1ms"}, "scan-overrun": {"600us", "1h"}, "rtt": {"0", "2ms", "NaN"},
		"placement": {"leader", "member:99999999999999999999"}, "renew-at": {"2/3", "1/0"}, "duration": {"1m", "0", "169h"},
		"seed": {"3", "18446744073709551616"}, "bucket": {"2s", "1ns"}, "server": {"cluster", "ideal", "x"}, "max-events": {"0", "100"},
		"members": {"3", "16"}, "cores": {"2.5", "NaN", "1e-300", "Inf"}, "leader": {"1", "-1"}, "transport": {"http2"},
		"tls": {"ecdsa", "off"}, "tls-resumption": {"true"}, "leader-queue-limit": {"10", "-1"}, "max-idle-conns": {"8", "0"},
		"peer-rtt": {"0s", "1ms"}, "params": {"reference-2core", "nope"},
	}
	for _, o := range spec.Overrides {
		for _, v := range samples[o.Flag] {
			f.Add(o.Flag, v, true)
			f.Add(o.Flag, v, false)
		}
	}
	f.Fuzz(func(t *testing.T, flag, value string, cluster bool) {
		s := flagBase(cluster)
		if flag == "params" && !slices.Contains(spec.BuiltinParams(), value) {
			t.Skip() // a path could block (see usesFiles)
		}
		if err := spec.ApplyFlag(&s, flag, value); err != nil {
			if !strings.Contains(err.Error(), "--") {
				t.Fatalf("--%s %q: an error that does not name the flag: %v", flag, value, err)
			}
			return
		}
		if err := s.Validate(); err != nil {
			var fe *spec.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("--%s %q: %v is not a field error", flag, value, err)
			}
			return
		}
		runShort(t, s)
	})
}
