package spec_test

import (
	"strings"
	"testing"
	"time"

	"github.com/leasesim/leasesim/spec"
)

// The idealised server's fields go through the same validator as the
// cluster's (this replaces the ideal server's own Validate).
func TestIdealValidateNamesTheField(t *testing.T) {
	ok := func() spec.Spec {
		return spec.Spec{Name: "i", Duration: spec.Duration(time.Hour), Server: spec.ServerIdeal,
			Clients: spec.ClientsSpec{Count: 10, TTL: spec.Duration(10 * time.Second), Version: "v3.7.3", Consumer: "drain"}}
	}
	if err := ok().Validate(); err != nil {
		t.Fatal(err)
	}
	for field, mutate := range map[string]func(*spec.Spec){
		"clients.count: 0 is out of range":            func(s *spec.Spec) { s.Clients.Count = 0 },
		"clients.ttl: 1.5s is not a whole number":     func(s *spec.Spec) { s.Clients.TTL = spec.Duration(1500 * time.Millisecond) },
		"duration: -1s is out of range":               func(s *spec.Spec) { s.Duration = spec.Duration(-time.Second) },
		"clients.rtt: -1ns is out of range":           func(s *spec.Spec) { s.Clients.RTT = new(spec.Duration(-1)) },
		"clients.start_spread: 3h is longer":          func(s *spec.Spec) { s.Clients.StartSpread = spec.Duration(3 * time.Hour) },
		"clients.connect_delay: -1ns is out of range": func(s *spec.Spec) { s.Clients.ConnectDelay = new(spec.Duration(-1)) },
	} {
		s := ok()
		mutate(&s)
		if err := s.Validate(); err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: got %v", field, err)
		}
		if _, err := s.Resolve(); err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: Resolve got %v", field, err)
		}
	}
}

// clients.kind and cluster.etcd_version: bad values name the field and what
// it allows; grant-only needs the cluster.
func TestClientKindAndEtcdVersionValidated(t *testing.T) {
	ok := func() spec.Spec {
		return spec.Spec{Name: "k", Duration: spec.Duration(time.Minute), Server: spec.ServerCluster,
			Clients: spec.ClientsSpec{Count: 10, TTL: spec.Duration(10 * time.Second), Version: "v3.7.3", Consumer: "drain", Kind: spec.ClientGrantOnly},
			Cluster: spec.ClusterSpec{Members: 3, Cores: 2, EtcdVersion: "3.2.1"}}
	}
	r, err := ok().Resolve()
	if err != nil {
		t.Fatal(err)
	}
	if !r.Cluster.GrantOnly || r.Cluster.Etcd.String() != "3.2.1" || r.Cluster.Lessor().RateLimited {
		t.Fatalf("resolved %+v %v", r.Cluster.Etcd, r.Cluster.GrantOnly)
	}
	for field, mutate := range map[string]func(*spec.Spec){
		`clients.kind: "lock" is not allowed; allowed: keepalive, grant-only`: func(s *spec.Spec) { s.Clients.Kind = "lock" },
		`clients.kind: "grant-only" needs server: cluster`:                    func(s *spec.Spec) { s.Server = spec.ServerIdeal; s.Cluster = spec.ClusterSpec{} },
		`cluster.etcd_version: "3.1.0" is not an etcd release; allowed 3.2.0`: func(s *spec.Spec) { s.Cluster.EtcdVersion = "3.1.0" },
		`cluster.lease_checkpoint: true needs etcd 3.4.0 or later`:            func(s *spec.Spec) { s.Cluster.LeaseCheckpoint = true },
		`cluster.fast_lease_keepalive: is set, but etcd 3.2.1 has no`:         func(s *spec.Spec) { s.Cluster.FastLeaseKeepAlive = new(true) },
		`cluster.lease_revoke_rate: 1 is out of range`:                        func(s *spec.Spec) { s.Cluster.LeaseRevokeRate = 1 },
		`cluster.raft_wait: "fifo" is not allowed; allowed: preempt, backlog`: func(s *spec.Spec) { s.Cluster.Raft, s.Cluster.RaftWait = true, "fifo" },
		`cluster.raft_wait: is set, but cluster.raft is off`:                  func(s *spec.Spec) { s.Cluster.RaftWait = "backlog" },
		`cluster: is set, but server: ideal has no cluster`: func(s *spec.Spec) {
			s.Server, s.Clients.Kind, s.Cluster = spec.ServerIdeal, "", spec.ClusterSpec{Raft: true}
		},
	} {
		s := ok()
		mutate(&s)
		if _, err := s.Resolve(); err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: Resolve got %v", field, err)
		}
	}
}

// clients.kind event-writer's fields: each bad value names its field and
// what it allows; no other kind takes them; the flags set them.
func TestEventWriterFieldsValidated(t *testing.T) {
	ok := func() spec.Spec {
		return spec.Spec{Name: "e", Duration: spec.Duration(time.Minute), Server: spec.ServerCluster,
			Clients: spec.ClientsSpec{Count: 1, TTL: spec.Duration(time.Hour), Version: "v3.7.3", Consumer: "drain", Kind: spec.ClientEventWriter, WriteRate: 100},
			Cluster: spec.ClusterSpec{Members: 1, Cores: 2, EtcdVersion: "3.4.13"}}
	}
	r, err := ok().Resolve()
	if err != nil {
		t.Fatal(err)
	}
	if !r.Cluster.EventWriter || r.Cluster.WriteRate != 100 || r.Cluster.WritePut || r.Cluster.EventWriters() == nil {
		t.Fatalf("resolved %+v", r.Cluster)
	}
	for field, mutate := range map[string]func(*spec.Spec){
		`clients.write_rate: 0 is out of range; allowed above 0 up to 1,000,000`:                                  func(s *spec.Spec) { s.Clients.WriteRate = 0 },
		`clients.write_rate: -5 is out of range`:                                                                  func(s *spec.Spec) { s.Clients.WriteRate = -5 },
		`clients.lease_max_objects: -1 is out of range; allowed 0 (unbounded) to`:                                 func(s *spec.Spec) { s.Clients.LeaseMaxObjects = -1 },
		`clients.write_op: "delete" is not allowed; allowed: txn (kube-apiserver's`:                               func(s *spec.Spec) { s.Clients.WriteOp = "delete" },
		`clients.kind: "event-writer" needs server: cluster`:                                                      func(s *spec.Spec) { s.Server = spec.ServerIdeal; s.Cluster = spec.ClusterSpec{} },
		`clients.lease_max_objects: is set, but clients.kind is ""; allowed only with clients.kind: event-writer`: func(s *spec.Spec) { s.Clients.Kind, s.Clients.WriteRate, s.Clients.LeaseMaxObjects = "", 0, 10 },
		`clients.write_rate: is set, but clients.kind is "grant-only"; allowed only with`:                         func(s *spec.Spec) { s.Clients.Kind = spec.ClientGrantOnly },
		`clients.kind: "x" is not allowed; allowed: keepalive, grant-only, event-writer`:                          func(s *spec.Spec) { s.Clients.Kind = "x" },
	} {
		s := ok()
		mutate(&s)
		if _, err := s.Resolve(); err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: Resolve got %v", field, err)
		}
	}
	s := ok()
	for flag, v := range map[string]string{"lease-max-objects": "1000", "write-rate": "2.5", "write-op": "put"} {
		if err := spec.ApplyFlag(&s, flag, v); err != nil {
			t.Fatal(err)
		}
	}
	if s.Clients.LeaseMaxObjects != 1000 || s.Clients.WriteRate != 2.5 || s.Clients.WriteOp != spec.WritePut {
		t.Errorf("flags set %+v", s.Clients)
	}
	if err := spec.ApplyFlag(&s, "write-rate", "fast"); err == nil || !strings.Contains(err.Error(), "--write-rate") {
		t.Errorf("--write-rate fast: %v", err)
	}
}

// clients.restart and clients.period (keepalive-once): bad values name the
// field and what is allowed.
func TestRestartAndPeriodValidated(t *testing.T) {
	ok := func() spec.Spec {
		return spec.Spec{Name: "r", Duration: spec.Duration(time.Minute),
			Clients: spec.ClientsSpec{Count: 10, TTL: spec.Duration(10 * time.Second), Version: "v3.7.3", Consumer: "drain", StartSpread: spec.Duration(5 * time.Second),
				Restart: spec.RestartSpec{At: spec.Duration(20 * time.Second), Over: spec.Duration(time.Second), Fraction: 0.5, Down: spec.Duration(time.Second)}},
			Cluster: spec.ClusterSpec{Members: 3, Cores: 2}}
	}
	if err := ok().Validate(); err != nil {
		t.Fatal(err)
	}
	d := func(x time.Duration) spec.Duration { return spec.Duration(x) }
	for field, mutate := range map[string]func(*spec.Spec){
		"clients.restart.fraction: -0.5 is out of range; allowed 0 (no restarts) up to 1":                                func(s *spec.Spec) { s.Clients.Restart.Fraction = -0.5 },
		"clients.restart.fraction: 1.5 is out of range":                                                                  func(s *spec.Spec) { s.Clients.Restart.Fraction = 1.5 },
		"clients.restart.at: 1m is not within the run":                                                                   func(s *spec.Spec) { s.Clients.Restart.At = d(time.Minute) },
		"clients.restart.at: 1s is before every client has started":                                                      func(s *spec.Spec) { s.Clients.Restart.At = d(time.Second) },
		"clients.restart.over: 1m is out of range; allowed 0 (all at once) up to the time left after clients.restart.at": func(s *spec.Spec) { s.Clients.Restart.Over = d(time.Minute) },
		"clients.restart.over: 1us is below the start resolution":                                                        func(s *spec.Spec) { s.Clients.Restart.Over = d(time.Microsecond) },
		"clients.restart.down: -1s is out of range":                                                                      func(s *spec.Spec) { s.Clients.Restart.Down = d(-time.Second) },
		"clients.restart: is set, but restarts need server: cluster and clients.kind keepalive":                          func(s *spec.Spec) { s.Clients.Kind = spec.ClientGrantOnly },
		"clients.period: is set, but clients.kind is \"\"; allowed only with clients.kind: keepalive-once":               func(s *spec.Spec) { s.Clients.Period = d(time.Second) },
		"clients.period: -1s is out of range": func(s *spec.Spec) {
			s.Clients.Restart, s.Clients.Kind, s.Clients.Period = spec.RestartSpec{}, spec.ClientKeepAliveOnce, d(-time.Second)
		},
		"clients.kind: \"once\" is not allowed; allowed: keepalive, grant-only, event-writer, keepalive-once": func(s *spec.Spec) {
			s.Clients.Restart, s.Clients.Kind = spec.RestartSpec{}, "once"
		},
	} {
		s := ok()
		mutate(&s)
		if err := s.Validate(); err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: got %v", field, err)
		}
	}
}

// clients.restart.over near the int64 limit is refused, not wrapped round.
func TestRestartOverDoesNotOverflow(t *testing.T) {
	s := spec.Spec{Name: "r", Duration: spec.Duration(time.Minute),
		Clients: spec.ClientsSpec{Count: 10, TTL: spec.Duration(10 * time.Second), Version: "v3.7.3", Consumer: "drain",
			Restart: spec.RestartSpec{At: spec.Duration(20 * time.Second), Over: spec.Duration(1<<63 - 1), Fraction: 1}},
		Cluster: spec.ClusterSpec{Members: 3, Cores: 2}}
	if err := s.Validate(); err == nil || !strings.Contains(err.Error(), "clients.restart.over: ") {
		t.Errorf("got %v", err)
	}
}

// clients.regrant: each bad value names its field and what is allowed; a
// valid one gives every agent Max more lease entries on its process.
func TestRegrantValidated(t *testing.T) {
	ok := func() spec.Spec {
		return spec.Spec{Name: "g", Duration: spec.Duration(time.Minute), Server: spec.ServerCluster,
			Clients: spec.ClientsSpec{Count: 10, TTL: spec.Duration(10 * time.Second), Version: "v3.7.3", Consumer: "drain",
				Regrant: spec.RegrantSpec{Max: 2, Delay: spec.Duration(time.Second)}},
			Cluster: spec.ClusterSpec{Members: 3, Cores: 2}}
	}
	if err := ok().Validate(); err != nil {
		t.Fatal(err)
	}
	for field, mutate := range map[string]func(*spec.Spec){
		"clients.regrant.max: -1 is out of range; allowed 0 (never) up to 100":                            func(s *spec.Spec) { s.Clients.Regrant.Max = -1 },
		"clients.regrant.max: 101 is out of range":                                                        func(s *spec.Spec) { s.Clients.Regrant.Max = 101 },
		"clients.regrant.delay: 2m is out of range; allowed 0 up to the duration (1m)":                    func(s *spec.Spec) { s.Clients.Regrant.Delay = spec.Duration(2 * time.Minute) },
		"clients.regrant: is set, but re-granting agents need server: cluster and clients.kind keepalive": func(s *spec.Spec) { s.Clients.Kind = spec.ClientGrantOnly },
		"clients.regrant.max: 2 cannot be combined with clients.restart (fraction 0.5); allowed with it: 0": func(s *spec.Spec) {
			s.Clients.StartSpread = spec.Duration(5 * time.Second)
			s.Clients.Restart = spec.RestartSpec{At: spec.Duration(20 * time.Second), Fraction: 0.5}
		},
	} {
		s := ok()
		mutate(&s)
		if err := s.Validate(); err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: got %v", field, err)
		}
	}
	r, err := ok().Resolve()
	if err != nil {
		t.Fatal(err)
	}
	c := *r.Cluster // a process's first lease and 2 re-grants: 3 entries each
	if !c.ProcessPath() || c.Leases() != 30 || c.LeaseEntry(4, 3) != 14 {
		t.Fatalf("10 agents, 2 re-grants each: process path %v, %d lease entries, process 4's third lease at %d; want true, 30, 14",
			c.ProcessPath(), c.Leases(), c.LeaseEntry(4, 3))
	}
	if p, n := c.ProcessOf(14); p != 4 || n != 3 {
		t.Errorf("ProcessOf(14) = %d, %d; want 4, 3", p, n)
	}
}

// clients.leases_per_client: each bad value or combination names the field
// and what is allowed; a valid one sizes the lease entries (Leases) and maps
// process p's n-th lease to entry p*N+n-1 and back.
func TestLeasesPerClientValidated(t *testing.T) {
	ok := func() spec.Spec {
		return spec.Spec{Name: "m", Duration: spec.Duration(time.Minute), Server: spec.ServerCluster,
			Clients: spec.ClientsSpec{Count: 10, TTL: spec.Duration(10 * time.Second), Version: "v3.7.3", Consumer: "drain", LeasesPerClient: 4},
			Cluster: spec.ClusterSpec{Members: 3, Cores: 2}}
	}
	if err := ok().Validate(); err != nil {
		t.Fatal(err)
	}
	for field, mutate := range map[string]func(*spec.Spec){
		"clients.leases_per_client: -1 is out of range; allowed 1 (the default, also written 0) up to 1000": func(s *spec.Spec) { s.Clients.LeasesPerClient = -1 },
		"clients.leases_per_client: 1001 is out of range":                                                   func(s *spec.Spec) { s.Clients.LeasesPerClient = 1001 },
		"clients.leases_per_client: 4 needs server: cluster and clients.kind keepalive (clients.kind is \"grant-only\")": func(s *spec.Spec) {
			s.Clients.Kind = spec.ClientGrantOnly
		},
		"clients.leases_per_client: 4 needs server: cluster and clients.kind keepalive (clients.kind is \"keepalive-once\")": func(s *spec.Spec) {
			s.Clients.Kind = spec.ClientKeepAliveOnce
		},
		"clients.leases_per_client: 4 needs server: cluster": func(s *spec.Spec) { s.Server, s.Cluster = spec.ServerIdeal, spec.ClusterSpec{} },
		"clients.leases_per_client: 4 cannot be combined with clients.restart (fraction 0.5); allowed with it: 1": func(s *spec.Spec) {
			s.Clients.Restart = spec.RestartSpec{At: spec.Duration(20 * time.Second), Fraction: 0.5, Down: spec.Duration(time.Second)}
		},
		"clients.leases_per_client: 4 cannot be combined with clients.regrant (max 2); allowed with it: 1": func(s *spec.Spec) {
			s.Clients.Regrant = spec.RegrantSpec{Max: 2}
		},
		"clients.leases_per_client: 1000 leases for each of 20000 clients is 20,000,000 leases; allowed up to 10,000,000 in all": func(s *spec.Spec) {
			s.Clients.LeasesPerClient, s.Clients.Count = 1000, 20000
		},
	} {
		s := ok()
		mutate(&s)
		if err := s.Validate(); err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: got %v", field, err)
		}
	}
	for _, n := range []int{0, 1} { // the default: one lease a process
		s := ok()
		s.Clients.LeasesPerClient, s.Clients.Kind = n, spec.ClientGrantOnly
		if err := s.Validate(); err != nil {
			t.Errorf("leases_per_client %d with grant-only: %v", n, err)
		}
	}
	r, err := ok().Resolve()
	if err != nil {
		t.Fatal(err)
	}
	c := *r.Cluster
	if c.LeasesPerClient != 4 || c.Leases() != 40 || c.LeaseEntry(3, 2) != 13 {
		t.Fatalf("LeasesPerClient %d, Leases %d, LeaseEntry(3, 2) %d; want 4, 40, 13", c.LeasesPerClient, c.Leases(), c.LeaseEntry(3, 2))
	}
	if p, n := c.ProcessOf(13); p != 3 || n != 2 {
		t.Errorf("ProcessOf(13) = %d, %d; want 3, 2", p, n)
	}
}

// The resource estimate counts every lease of a process: four leases per
// client renew four times as often, and hold four lease entries.
func TestEstimateCountsEveryLease(t *testing.T) {
	est := func(leases int) spec.Estimate {
		s := spec.Spec{Name: "e", Duration: spec.Duration(time.Minute), Server: spec.ServerCluster,
			Clients: spec.ClientsSpec{Count: 1000, TTL: spec.Duration(10 * time.Second), Version: "v3.7.3", Consumer: "drain", LeasesPerClient: leases},
			Cluster: spec.ClusterSpec{Members: 3, Cores: 2}}
		r, err := s.Resolve()
		if err != nil {
			t.Fatal(err)
		}
		return r.Estimate()
	}
	one, four := est(1), est(4)
	if four.Renewals != 4*one.Renewals || four.Bytes <= one.Bytes {
		t.Errorf("4 leases per client: %d renewals, %d bytes; 1 lease: %d, %d; want 4x the renewals and more bytes", four.Renewals, four.Bytes, one.Renewals, one.Bytes)
	}
}
