package spec_test

import (
	"strings"
	"testing"

	"github.com/leasesim/leasesim/netsim"
	"github.com/leasesim/leasesim/spec"
)

// A parameter file's gc section replaces DefaultGC's fields for scenarios
// that turn cluster.gc on (and does nothing otherwise): storm-2core carries
// the storm-hiccups measurement's collector and the handshake's allocation.
func TestParamsGC(t *testing.T) {
	load := func(gc bool, cores string) *spec.Cluster {
		t.Helper()
		y := `name: g
duration: 1m
server: cluster
params: storm-2core
clients: {count: 10, ttl: 10s, version: v3.7.3, consumer: drain}
cluster: {members: 3, cores: ` + cores + `, shared_cpu: true, gc: ` + map[bool]string{true: "true", false: "false"}[gc] + `}
`
		s, err := spec.LoadBytes([]byte(y), "g.yaml")
		if err != nil {
			t.Fatal(err)
		}
		r, err := s.Resolve()
		if err != nil {
			t.Fatal(err)
		}
		return r.Cluster
	}
	p, err := spec.LoadParams("storm-2core")
	if err != nil || p.GC.ScanRate == 0 || p.GC.MarkCores == 0 || p.GC.MarkSpread == 0 || p.GC.BaseHeap == 0 {
		t.Fatalf("storm-2core's gc section %+v (%v): want every field set", p.GC, err)
	}
	cpu := load(true, "2").CPU(-1)
	g := cpu.GC
	if g == nil || g.ScanRate != p.GC.ScanRate || g.MarkCores != p.GC.MarkCores || g.MarkSpread != p.GC.MarkSpread || g.Rand == nil ||
		g.BaseHeap != 3*p.GC.BaseHeap || g.AllocPerHandshake != netsim.PeerHandshakeAllocBytes ||
		g.AllocPerRequest != spec.DefaultGC.AllocPerRequest || g.Procs != 2 {
		t.Errorf("GC with storm-2core: %+v", g)
	}
	// On other cores, the measured share of them (1.3 of the file's 2).
	for cores, want := range map[string]float64{"1": 0.65, "4": 2.6} {
		if g := load(true, cores).CPU(-1).GC; g == nil || g.MarkCores != want {
			t.Errorf("GC on %s cores: %+v, want mark cores %g", cores, g, want)
		}
	}
	if cpu := load(false, "2").CPU(-1); cpu.GC != nil {
		t.Errorf("gc off: the parameter file turned it on: %+v", cpu.GC)
	}
	// Without the section, the defaults (what every scenario with gc: true
	// had before).
	s, _ := spec.LoadBytes([]byte("name: d\nduration: 1m\nserver: cluster\nclients: {count: 10, ttl: 10s, version: v3.7.3, consumer: drain}\ncluster: {members: 3, cores: 2, shared_cpu: true, gc: true}\n"), "d.yaml")
	r, _ := s.Resolve()
	if g := r.Cluster.CPU(-1).GC; g.ScanRate != spec.DefaultGC.ScanRate || g.MarkCores != 0 || g.MarkSpread != 0 || g.AllocPerHandshake != 0 {
		t.Errorf("defaults: %+v", g)
	}
}

// A bad gc section is refused, naming the field.
func TestParamsGCValidated(t *testing.T) {
	for field, val := range map[string]string{
		"scan_rate": "-1", "mark_cores": "-0.5", "mark_spread": "3", "base_heap": "-1", "alloc_per_handshake": "-5",
	} {
		_, err := spec.ParseParams([]byte("kind: leasesim/params\ncosts: {}\ngc:\n  "+field+": "+val+"\n"), "p.yaml")
		if err == nil || !strings.Contains(err.Error(), "gc."+field) {
			t.Errorf("gc.%s: %s: error %v, want one naming gc.%s", field, val, err, field)
		}
	}
}

// cluster.gogc reaches the collector's pacer; left out, the runtime's 100.
func TestClusterGOGC(t *testing.T) {
	for _, c := range []struct {
		yaml string
		want float64
	}{{"", 100}, {", gogc: 400", 400}} {
		s, err := spec.LoadBytes([]byte("name: g\nduration: 1m\nserver: cluster\nclients: {count: 10, ttl: 10s, version: v3.7.3, consumer: drain}\n"+
			"cluster: {members: 3, cores: 2, gc: true"+c.yaml+"}\n"), "g.yaml")
		if err != nil {
			t.Fatal(err)
		}
		r, err := s.Resolve()
		if err != nil {
			t.Fatal(err)
		}
		if g := r.Cluster.CPU(0).GC; g == nil || g.GOGC != c.want {
			t.Errorf("cluster%s: GC %+v, want GOGC %g", c.yaml, g, c.want)
		}
		if sum := s.Summary(); !strings.Contains(sum, "collector is modelled") || strings.Contains(sum, "at GOGC 400") != (c.want == 400) {
			t.Errorf("summary %q: want the collector modelled, at GOGC 400 only when set", sum)
		}
	}
}
