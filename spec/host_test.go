package spec_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/leasesim/leasesim/model"
	"github.com/leasesim/leasesim/sim"
	"github.com/leasesim/leasesim/spec"
)

// host.background_cores in YAML: a bare number is a constant load; the
// resolved cluster's CPU carries it as a step function, and GC as a config.
func TestHostBackgroundFromYAML(t *testing.T) {
	s, err := spec.LoadBytes([]byte(`name: h
duration: 1m
server: cluster
clients: {count: 10, ttl: 10s, version: v3.7.3, consumer: drain}
cluster: {members: 3, cores: 2, shared_cpu: true, gc: true}
host:
  background_cores: 1
`), "h.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	cpu := r.Cluster.CPU(-1)
	if !reflect.DeepEqual(cpu.Background, []model.LoadStep{{At: 0, Cores: 1}}) {
		t.Errorf("background %+v, want 1 core from 0", cpu.Background)
	}
	if cpu.GC == nil || cpu.GC.Procs != 2 || cpu.GC.BaseHeap != 3*spec.DefaultGC.BaseHeap {
		t.Errorf("GC %+v: want the default for one process of 3 members on 2 cores", cpu.GC)
	}
	if d := s.Summary(); !strings.Contains(d, "other processes on the machine take 1 cores") || !strings.Contains(d, "garbage collector") {
		t.Errorf("description does not say it: %s", d)
	}
	// Left out: no load, no GC (the CPU of every existing scenario).
	s.Host, s.Cluster.GC = spec.HostSpec{}, false
	r, _ = s.Resolve()
	if cpu := r.Cluster.CPU(-1); cpu.Background != nil || cpu.GC != nil {
		t.Errorf("defaults: %+v", cpu)
	}
}

func TestParseBackground(t *testing.T) {
	for v, want := range map[string]spec.Background{
		"":                  {},
		"0.5":               {Kind: spec.BackgroundConstant, Lo: 0.5, Hi: 0.5},
		"on-off:1/30s/10s":  {Kind: spec.BackgroundOnOff, Hi: 1, On: 30 * time.Second, Off: 10 * time.Second},
		"uniform:0-1.5/10s": {Kind: spec.BackgroundUniform, Lo: 0, Hi: 1.5, Period: 10 * time.Second},
	} {
		got, err := spec.ParseBackground(v)
		if err != nil || got != want {
			t.Errorf("%q: %+v, %v; want %+v", v, got, err, want)
		}
	}
	for _, v := range []string{"-1", "one", "on-off:1/30s", "on-off:1/0s/1s", "uniform:2-1/1s", "uniform:0-1/-1s", "normal:1/1s"} {
		if _, err := spec.ParseBackground(v); err == nil || !strings.Contains(err.Error(), "allowed: a number of cores") {
			t.Errorf("%q: %v", v, err)
		}
	}
}

// The step functions: on-off repeats from 0; uniform draws one level per
// period from its stream, the same for the same seed.
func TestBackgroundSteps(t *testing.T) {
	b, _ := spec.ParseBackground("on-off:1/30s/10s")
	want := []model.LoadStep{{At: 0, Cores: 1}, {At: sim.Time(30 * time.Second), Cores: 0},
		{At: sim.Time(40 * time.Second), Cores: 1}, {At: sim.Time(70 * time.Second), Cores: 0}}
	if got := b.Steps(time.Minute, nil); !reflect.DeepEqual(got, want) {
		t.Errorf("on-off: %+v", got)
	}
	u, _ := spec.ParseBackground("uniform:0.5-1.5/10s")
	a, c := u.Steps(time.Minute, sim.NewRand(1, "host-background")), u.Steps(time.Minute, sim.NewRand(1, "host-background"))
	if len(a) != 6 || !reflect.DeepEqual(a, c) {
		t.Fatalf("uniform: %+v, again %+v", a, c)
	}
	for _, s := range a {
		if s.Cores < 0.5 || s.Cores > 1.5 {
			t.Errorf("level %g outside [0.5, 1.5]", s.Cores)
		}
	}
	if reflect.DeepEqual(a, u.Steps(time.Minute, sim.NewRand(2, "host-background"))) {
		t.Error("another seed drew the same levels")
	}
}

// A bad value is an error that names host.background_cores and what it
// allows; a load that leaves etcd no CPU too; and the ideal server has no
// host.
func TestHostBackgroundValidated(t *testing.T) {
	ok := func() spec.Spec {
		return spec.Spec{Name: "h", Duration: spec.Duration(time.Minute), Server: spec.ServerCluster,
			Clients: spec.ClientsSpec{Count: 10, TTL: spec.Duration(10 * time.Second), Version: "v3.7.3", Consumer: "drain"},
			Cluster: spec.ClusterSpec{Members: 3, Cores: 2, SharedCPU: true}, Host: spec.HostSpec{BackgroundCores: "uniform:0-1.9/1s"}}
	}
	if _, err := ok().Resolve(); err != nil {
		t.Fatal(err)
	}
	for field, mutate := range map[string]func(*spec.Spec){
		`host.background_cores: "lots" is not allowed; allowed: a number of cores N`:                         func(s *spec.Spec) { s.Host.BackgroundCores = "lots" },
		`host.background_cores: "2" takes up to 2 cores, which leaves no CPU for etcd`:                       func(s *spec.Spec) { s.Host.BackgroundCores = "2" },
		`host.background_cores: "uniform:0-1.99/1s" takes up to 1.99 cores`:                                  func(s *spec.Spec) { s.Host.BackgroundCores = "uniform:0-1.99/1s" },
		`host.background_cores: "uniform:0-1/1us" changes 60000000 times over 1m; allowed at most 1,000,000`: func(s *spec.Spec) { s.Host.BackgroundCores = "uniform:0-1/1us" },
		`host: is set, but server: ideal has no machine`:                                                     func(s *spec.Spec) { s.Server = spec.ServerIdeal; s.Cluster = spec.ClusterSpec{} },
		`host.background_cores: "on-off:x/1s/1s" is not allowed; allowed: a number of cores`:                 func(s *spec.Spec) { s.Host.BackgroundCores = "on-off:x/1s/1s"; s.Cluster.Cores = 0 },
	} {
		s := ok()
		mutate(&s)
		if _, err := s.Resolve(); err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: Resolve got %v", field, err)
		}
	}
	// --background-cores and --gc set the fields.
	s := ok()
	if err := spec.ApplyFlag(&s, "background-cores", "1"); err != nil || s.Host.BackgroundCores != "1" {
		t.Errorf("--background-cores: %v %q", err, s.Host.BackgroundCores)
	}
	if err := spec.ApplyFlag(&s, "gc", "yes"); err == nil || !strings.Contains(err.Error(), "--gc") {
		t.Errorf("--gc=yes: %v", err)
	}
}

// host.background_threads and host.all_busy_speed: out of range, with
// processor sharing, threads that leave the members no CPU beside the
// background cores, and a speed without threads are errors naming the field
// and what it allows; a parameter file's speed is used only with threads.
func TestHostBackgroundThreadsValidated(t *testing.T) {
	ok := func() spec.Spec {
		return spec.Spec{Name: "h", Duration: spec.Duration(time.Minute), Server: spec.ServerCluster,
			Clients: spec.ClientsSpec{Count: 10, TTL: spec.Duration(10 * time.Second), Version: "v3.7.3", Consumer: "drain"},
			Cluster: spec.ClusterSpec{Members: 3, Cores: 2, SharedCPU: true}, Host: spec.HostSpec{BackgroundThreads: 1, AllBusySpeed: 0.9}}
	}
	r, err := ok().Resolve()
	if err != nil {
		t.Fatal(err)
	}
	if c := r.Cluster; c.BackgroundThreads != 1 || c.AllBusySpeed != 0.9 {
		t.Errorf("resolved threads %d speed %g, want 1 and 0.9", c.BackgroundThreads, c.AllBusySpeed)
	}
	if cfg := r.Cluster.CPU(0); cfg.Threads != 1 || cfg.Speed != 0.9 {
		t.Errorf("CPU config threads %g speed %g, want 1 and 0.9", cfg.Threads, cfg.Speed)
	}
	for field, mutate := range map[string]func(*spec.Spec){
		`host.background_threads: -1 is out of range; allowed 0 (none) up to 1024`:                                     func(s *spec.Spec) { s.Host.BackgroundThreads = -1 },
		`host.background_threads: 2000 is out of range; allowed 0 (none) up to 1024`:                                   func(s *spec.Spec) { s.Host.BackgroundThreads = 2000 },
		`host.background_threads: 1 is not allowed with cluster.processor_sharing; allowed there: 0`:                   func(s *spec.Spec) { s.Cluster.ProcessorSharing = true },
		`host.background_threads: 1 threads beside host.background_cores "1.98" leave the members`:                     func(s *spec.Spec) { s.Host.BackgroundCores = "1.98" },
		`host.all_busy_speed: 1.5 is out of range; allowed more than 0 up to 1`:                                        func(s *spec.Spec) { s.Host.AllBusySpeed = 1.5 },
		`host.all_busy_speed: 0.9 has no effect without host.background_threads; allowed only with background_threads`: func(s *spec.Spec) { s.Host.BackgroundThreads = 0 },
	} {
		s := ok()
		mutate(&s)
		if _, err := s.Resolve(); err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: Resolve got %v", field, err)
		}
	}
	// Without threads the parameter file's speed does nothing; with them it
	// is the speed unless the scenario sets one.
	s := ok()
	s.Host, s.Params = spec.HostSpec{}, "storm-2core"
	if r, err := s.Resolve(); err != nil || r.Cluster.AllBusySpeed != 0 || r.Cluster.CPU(0).Threads != 0 {
		t.Errorf("no threads: %v, speed %g", err, r.Cluster.AllBusySpeed)
	}
	p, err := spec.LoadParams("storm-2core")
	if err != nil {
		t.Fatal(err)
	}
	s.Host.BackgroundThreads = 1
	if r, err := s.Resolve(); err != nil || r.Cluster.AllBusySpeed != p.Host.AllBusySpeed || p.Host.AllBusySpeed == 0 {
		t.Errorf("threads with storm-2core: %v, speed %g, the file's %g", err, r.Cluster.AllBusySpeed, p.Host.AllBusySpeed)
	}
	if _, err := spec.ParseParams([]byte("kind: leasesim/params\nhost:\n  all_busy_speed: 2\n"), "x.yaml"); err == nil ||
		!strings.Contains(err.Error(), "host.all_busy_speed: 2 is out of range") {
		t.Errorf("a parameter file's speed 2: %v", err)
	}
}
