package spec

import (
	"cmp"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/leasesim/leasesim/clientmodel"
)

// Resolve applies defaults, validates (Validate: the one validator), and
// turns s into plain data for the simulator (package scenario). The
// cluster's CPU costs are DefaultCosts for its TLS mode, then the costs of the
// params file (if any), then the scenario's own costs section, each replacing
// the fields it sets (see MergeCosts).
func (s Spec) Resolve() (Resolved, error) {
	s.ApplyDefaults()
	params, err := s.validate()
	if err != nil {
		return Resolved{}, err
	}
	v, err := clientmodel.ParseVersion(s.Clients.Version)
	if err != nil {
		return Resolved{}, fmt.Errorf("clients.version: %w", err)
	}
	cons, err := ParseConsumer(s.Clients.Consumer)
	if err != nil {
		return Resolved{}, fmt.Errorf("clients.consumer: %w", err)
	}
	num, den, err := ParseRenewAt(s.Clients.RenewAt)
	if err != nil {
		return Resolved{}, fmt.Errorf("clients.renew_at: %w", err)
	}
	if s.Server == ServerIdeal {
		return Resolved{Ideal: &Ideal{
			Clients: s.Clients.Count, TTL: s.Clients.TTL.D(), Version: v, Consumer: cons,
			Duration: s.Duration.D(), RTT: deref(s.Clients.RTT).D(), ConnectDelay: deref(s.Clients.ConnectDelay).D(), ScanOverrun: s.Clients.ScanOverrun.D(),
			StartSpread: s.Clients.StartSpread.D(), Seed: s.Seed, Bucket: s.Bucket.D(), MaxEvents: deref(s.Limits.MaxEvents),
			RenewNum: num, RenewDen: den,
		}}, nil
	}
	k := s.Cluster
	etcd, err := k.etcd()
	if err != nil {
		return Resolved{}, fmt.Errorf("cluster.etcd_version: %w", err)
	}
	raftWait, err := k.raftWait()
	if err != nil {
		return Resolved{}, fmt.Errorf("cluster.raft_wait: %w", err)
	}
	bg, err := ParseBackground(s.Host.BackgroundCores)
	if err != nil {
		return Resolved{}, fmt.Errorf("host.background_cores: %w", err)
	}
	costs := MergeCosts(params.Costs, s.Costs).Apply(DefaultCosts(k.TLS))
	overrun := s.Clients.ScanOverrun
	if overrun == 0 {
		overrun = params.Client.ScanOverrun
	}
	cl := &Cluster{
		Name: s.Name, Seed: s.Seed, Duration: s.Duration.D(), Bucket: s.Bucket.D(),
		Clients: CohortClients(s.Clients.Count, s.cohortWith(costs)), Cohort: s.cohortWith(costs), Fast: s.Fidelity == FidelityFast,
		TTL: s.Clients.TTL.D(), Version: v, Consumer: cons,
		StartSpread: s.Clients.StartSpread.D(), ConnectDelay: deref(s.Clients.ConnectDelay).D(), ScanOverrun: overrun.D(),
		Placement: s.Clients.Placement, KeysPerLease: s.Clients.KeysPerLease, ClientRTT: deref(s.Clients.RTT).D(),
		GrantOnly: s.Clients.Kind == ClientGrantOnly, EventWriter: s.Clients.Kind == ClientEventWriter, WriteRate: s.Clients.WriteRate,
		LeaseMaxObjects: s.Clients.LeaseMaxObjects, WritePut: s.Clients.WriteOp == WritePut, Etcd: etcd, LeaseRevokeRate: k.LeaseRevokeRate, LeaseCheckpoint: k.LeaseCheckpoint, HeldLeases: k.HeldLeases,
		FastLeaseKeepAlive: etcd.HasFastLeaseKeepAlive() && (k.FastLeaseKeepAlive == nil || *k.FastLeaseKeepAlive),
		Members:            k.Members, Cores: k.Cores, Leader: k.Leader, PeerRTT: deref(k.PeerRTT).D(), PeerJitter: k.PeerJitter.D(),
		HTTP2: k.Transport == "http2", TLS: k.TLS, TLSResumption: k.TLSResumption, MaxIdle: k.MaxIdleConnsPerHost,
		LeaderQueue: k.LeaderQueueLimit, ElectionTimeout: k.ElectionTimeout.D(), Prober: (k.Prober == nil || *k.Prober) && k.TLS != "off" && etcd.ProbesOverNewConnections(),
		ProberPhase: cmp.Or(k.ProberPhase, ProberRandom), PlatformStalls: platformStalls(k.PlatformStalls),
		SharedCPU: k.SharedCPU, Raft: k.Raft, RaftWait: raftWait, Background: bg, GC: k.GC, GOGC: k.GOGC, ServiceSpread: k.ServiceSpread, ProcessorSharing: k.ProcessorSharing, FollowerAnswerShare: k.FollowerAnswerShare,
		TLSCloseTimeWait: k.TLS == "off" || k.TLSClose == "time-wait",
		Costs:            costs, MaxEvents: deref(s.Limits.MaxEvents), RenewNum: num, RenewDen: den,
		Restart: Restart{At: s.Clients.Restart.At.D(), Over: s.Clients.Restart.Over.D(), Down: s.Clients.Restart.Down.D(),
			Fraction: s.Clients.Restart.Fraction, Graceful: s.Clients.Restart.Graceful},
		Regrant: Regrant{Max: s.Clients.Regrant.Max, Delay: s.Clients.Regrant.Delay.D()},
		Once:    s.Clients.Kind == ClientKeepAliveOnce, Period: s.Clients.Period.D(),
		LeasesPerClient:   max(s.Clients.LeasesPerClient, 1),
		GCParams:          params.GC,
		GCMeasuredCores:   params.Machine.Cores,
		BackgroundThreads: s.Host.BackgroundThreads,
	}
	if cl.BackgroundThreads > 0 {
		cl.AllBusySpeed = cmp.Or(s.Host.AllBusySpeed, params.Host.AllBusySpeed, 1)
	}
	if cl.Once && cl.Period == 0 {
		cl.Period = cl.TTL / 3 // what KeepAlive waits after an answer (client/v3@v3.7.3 lease.go:542)
	}
	for _, f := range s.Faults {
		cl.Faults = append(cl.Faults, Fault{At: f.At.D(), Kind: f.Kind, To: f.To, Member: f.Member, Duration: f.Duration.D()})
	}
	return Resolved{Cluster: cl}, nil
}

// MergeCosts returns under with every field that over sets (non-zero; non-nil
// IdleCores) replaced by over's: a scenario's costs over its params file's.
func MergeCosts(under, over CostsSpec) CostsSpec {
	u, o := reflect.ValueOf(&under).Elem(), reflect.ValueOf(over)
	for i := range o.NumField() {
		if f := o.Field(i); !f.IsZero() {
			u.Field(i).Set(f)
		}
	}
	return under
}

// Apply returns costs with the fields c sets replaced: TLSFactor scales the
// four TLS handshake costs of costs (the measured defaults), then the explicit
// values replace theirs (explicit tls_* costs are not scaled).
func (c CostsSpec) Apply(costs Costs) Costs {
	over := func(dst *time.Duration, d Duration) {
		if d != 0 {
			*dst = d.D()
		}
	}
	if f := c.TLSFactor; f > 0 {
		for _, d := range []*time.Duration{&costs.TLSServerFull, &costs.TLSClientFull, &costs.TLSServerResumed, &costs.TLSClientResumed} {
			*d = time.Duration(float64(*d) * f)
		}
	}
	over(&costs.DirectRenewal, c.DirectRenewal)
	over(&costs.FollowerRenewal, c.FollowerRenewal)
	over(&costs.LeaderForwarded, c.LeaderForwarded)
	over(&costs.TLSServerFull, c.TLSServerFull)
	over(&costs.TLSClientFull, c.TLSClientFull)
	over(&costs.TLSServerResumed, c.TLSServerResumed)
	over(&costs.TLSClientResumed, c.TLSClientResumed)
	over(&costs.TCPAccept, c.TCPAccept)
	over(&costs.ProberConnection, c.ProberConnection)
	if c.QueuedRequestBytes != 0 {
		costs.QueuedRequestBytes = c.QueuedRequestBytes
	}
	if c.PeerConnBytes != 0 {
		costs.PeerConnBytes = c.PeerConnBytes
	}
	if c.IdleCores != nil {
		costs.IdleCores = *c.IdleCores
	}
	return costs
}

// IsIdeal reports whether s runs against the idealised server.
func (s Spec) IsIdeal() bool { return strings.EqualFold(s.Server, ServerIdeal) }

// BuiltinSource returns the YAML file of a built-in scenario.
func BuiltinSource(name string) ([]byte, error) {
	if _, err := Builtin(name); err != nil {
		return nil, err
	}
	return builtinFS.ReadFile("builtin/" + name + ".yaml")
}

// ParseRenewAt reads a renew fraction "N/D" (0 < N/D < 1); "" and "1/3" mean
// the real lessor's TTL/3 and return 0, 0.
func ParseRenewAt(v string) (num, den int64, err error) {
	if v == "" || v == "1/3" {
		return 0, 0, nil
	}
	a, b, ok := strings.Cut(v, "/")
	n, err1 := strconv.ParseInt(a, 10, 64)
	d, err2 := strconv.ParseInt(b, 10, 64)
	if !ok || err1 != nil || err2 != nil || n <= 0 || d <= 0 || n >= d || d > 1000 {
		return 0, 0, fmt.Errorf("%q is not allowed; allowed a fraction N/D between 0 and 1 with D <= 1000 (e.g. 1/3, the real client's, or 2/3)", v)
	}
	return n, d, nil
}

// deref is *p, or the zero value for nil (an optional field left out, before
// ApplyDefaults fills it in).
func deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}

// platformStalls is the measured stall process named (nil: none).
func platformStalls(name string) *PlatformStalls {
	if p, ok := PlatformStallTables[name]; ok {
		return &p
	}
	return nil
}
