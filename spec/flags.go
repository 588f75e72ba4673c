package spec

import (
	"fmt"
	"strconv"
	"time"
)

// Override is a command-line flag and the scenario field it sets.
type Override struct{ Flag, Field string }

// Overrides maps the flags of 'leasesim run' (and sweep grids, report
// what-ifs) to the scenario fields they set.
var Overrides = []Override{
	{"clients", "clients.count"}, {"ttl", "clients.ttl"}, {"client-version", "clients.version"},
	{"consumer", "clients.consumer"}, {"start-spread", "clients.start_spread"},
	{"connect-delay", "clients.connect_delay"}, {"scan-overrun", "clients.scan_overrun"}, {"rtt", "clients.rtt"}, {"placement", "clients.placement"},
	{"renew-at", "clients.renew_at"}, {"client-kind", "clients.kind"}, {"etcd-version", "cluster.etcd_version"},
	{"lease-revoke-rate", "cluster.lease_revoke_rate"}, {"lease-checkpoint", "cluster.lease_checkpoint"}, {"held-leases", "cluster.held_leases"},
	{"lease-max-objects", "clients.lease_max_objects"}, {"write-rate", "clients.write_rate"}, {"write-op", "clients.write_op"},
	{"fast-lease-keepalive", "cluster.fast_lease_keepalive"}, {"raft", "cluster.raft"}, {"raft-wait", "cluster.raft_wait"},
	{"gc", "cluster.gc"}, {"gogc", "cluster.gogc"}, {"service-spread", "cluster.service_spread"}, {"processor-sharing", "cluster.processor_sharing"}, {"follower-answer-share", "cluster.follower_answer_share"}, {"background-cores", "host.background_cores"},
	{"background-threads", "host.background_threads"}, {"all-busy-speed", "host.all_busy_speed"},
	{"duration", "duration"}, {"seed", "seed"}, {"bucket", "bucket"}, {"server", "server"},
	{"max-events", "limits.max_events"}, {"members", "cluster.members"}, {"cores", "cluster.cores"},
	{"leader", "cluster.leader"}, {"transport", "cluster.transport"}, {"tls", "cluster.tls"},
	{"tls-resumption", "cluster.tls_resumption"}, {"prober-phase", "cluster.prober_phase"}, {"platform-stalls", "cluster.platform_stalls"}, {"leader-queue-limit", "cluster.leader_queue_limit"},
	{"max-idle-conns", "cluster.max_idle_conns_per_host"}, {"peer-rtt", "cluster.peer_rtt"},
	{"params", "params"},
	{"restart-at", "clients.restart.at"}, {"restart-graceful", "clients.restart.graceful"}, {"restart-over", "clients.restart.over"},
	{"restart-fraction", "clients.restart.fraction"}, {"restart-down", "clients.restart.down"},
	{"period", "clients.period"}, {"regrant-max", "clients.regrant.max"}, {"regrant-delay", "clients.regrant.delay"},
	{"leases-per-client", "clients.leases_per_client"},
	{"fidelity", "fidelity"}, {"fast", "fidelity"}, {"cohort", "cohort"},
}

// FieldOf is the field flag name sets, or "".
func FieldOf(flagName string) string {
	for _, o := range Overrides {
		if o.Flag == flagName {
			return o.Field
		}
	}
	return ""
}

// ApplyFlag sets the field that flag name overrides to v, parsed as that
// flag takes it; errors name the flag.
func ApplyFlag(s *Spec, name, v string) error {
	bad := func(what string) error { return fmt.Errorf("--%s: %q is not %s", name, v, what) }
	dur := func(dst *Duration) error {
		d, err := parseFlagDur(name, v)
		if err != nil {
			return err
		}
		*dst = d
		return nil
	}
	// optDur sets an optional duration: a new pointer, never a write through
	// one a copy of s may share.
	optDur := func(dst **Duration) error {
		d, err := parseFlagDur(name, v)
		if err != nil {
			return err
		}
		*dst = &d
		return nil
	}
	integer := func(dst *int) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return bad("a whole number")
		}
		*dst = n
		return nil
	}
	number := func(dst *float64, what string) error {
		n, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return bad(what)
		}
		*dst = n
		return nil
	}
	boolean := func(dst *bool) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return bad("true or false")
		}
		*dst = b
		return nil
	}
	switch name {
	case "clients":
		return integer(&s.Clients.Count)
	case "ttl":
		return dur(&s.Clients.TTL)
	case "client-version":
		s.Clients.Version = v
	case "consumer":
		s.Clients.Consumer = v
	case "start-spread":
		return dur(&s.Clients.StartSpread)
	case "connect-delay":
		return optDur(&s.Clients.ConnectDelay)
	case "scan-overrun":
		return dur(&s.Clients.ScanOverrun)
	case "rtt":
		return optDur(&s.Clients.RTT)
	case "placement":
		s.Clients.Placement = v
	case "renew-at":
		s.Clients.RenewAt = v
	case "client-kind":
		s.Clients.Kind = v
	case "etcd-version":
		s.Cluster.EtcdVersion = v
	case "lease-revoke-rate":
		return integer(&s.Cluster.LeaseRevokeRate)
	case "held-leases":
		return integer(&s.Cluster.HeldLeases)
	case "lease-max-objects":
		return integer(&s.Clients.LeaseMaxObjects)
	case "write-rate":
		return number(&s.Clients.WriteRate, "a number of events per second")
	case "write-op":
		s.Clients.WriteOp = v
	case "fast-lease-keepalive":
		var b bool
		if err := boolean(&b); err != nil {
			return err
		}
		s.Cluster.FastLeaseKeepAlive = &b // a new pointer: copies of s may share the old one
	case "restart-graceful":
		return boolean(&s.Clients.Restart.Graceful)
	case "restart-at":
		return dur(&s.Clients.Restart.At)
	case "restart-over":
		return dur(&s.Clients.Restart.Over)
	case "restart-down":
		return dur(&s.Clients.Restart.Down)
	case "restart-fraction":
		return number(&s.Clients.Restart.Fraction, "a fraction from 0 to 1")
	case "period":
		return dur(&s.Clients.Period)
	case "regrant-max":
		return integer(&s.Clients.Regrant.Max)
	case "regrant-delay":
		return dur(&s.Clients.Regrant.Delay)
	case "leases-per-client":
		return integer(&s.Clients.LeasesPerClient)
	case "lease-checkpoint":
		return boolean(&s.Cluster.LeaseCheckpoint)
	case "raft":
		return boolean(&s.Cluster.Raft)
	case "raft-wait":
		s.Cluster.RaftWait = v
	case "gc":
		return boolean(&s.Cluster.GC)
	case "gogc":
		return integer(&s.Cluster.GOGC)
	case "service-spread":
		return boolean(&s.Cluster.ServiceSpread)
	case "processor-sharing":
		return boolean(&s.Cluster.ProcessorSharing)
	case "follower-answer-share":
		return number(&s.Cluster.FollowerAnswerShare, "a number from 0 to 1")
	case "background-cores":
		s.Host.BackgroundCores = v
	case "background-threads":
		return integer(&s.Host.BackgroundThreads)
	case "all-busy-speed":
		return number(&s.Host.AllBusySpeed, "a number over 0 and at most 1")
	case "duration":
		return dur(&s.Duration)
	case "seed":
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return bad("a non-negative whole number")
		}
		s.Seed = n
	case "bucket":
		return dur(&s.Bucket)
	case "max-events":
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return bad("a whole number >= 0 (0: no limit)")
		}
		s.Limits.MaxEvents = &n
	case "server":
		s.Server = v
	case "members":
		return integer(&s.Cluster.Members)
	case "cores":
		return number(&s.Cluster.Cores, "a number")
	case "leader":
		return integer(&s.Cluster.Leader)
	case "transport":
		s.Cluster.Transport = v
	case "tls":
		s.Cluster.TLS = v
	case "tls-resumption":
		return boolean(&s.Cluster.TLSResumption)
	case "prober-phase":
		s.Cluster.ProberPhase = v
	case "platform-stalls":
		s.Cluster.PlatformStalls = v
	case "leader-queue-limit":
		return integer(&s.Cluster.LeaderQueueLimit)
	case "max-idle-conns":
		return integer(&s.Cluster.MaxIdleConnsPerHost)
	case "peer-rtt":
		return optDur(&s.Cluster.PeerRTT)
	case "fidelity":
		s.Fidelity = v
	case "fast":
		var fast bool
		if err := boolean(&fast); err != nil {
			return err
		}
		s.Fidelity = FidelityExact
		if fast {
			s.Fidelity = FidelityFast
		}
	case "cohort":
		return integer(&s.Cohort)
	case "params":
		// A built-in name or a path (relative to the working directory);
		// LoadParams checks it when the scenario is validated.
		s.Params, s.paramsFile = v, ""
	default:
		return fmt.Errorf("--%s is not a scenario flag (see 'leasesim help run')", name)
	}
	return nil
}

// parseFlagDur reads "600s", "10m", or a bare number of seconds.
func parseFlagDur(name, v string) (Duration, error) {
	if n, err := strconv.ParseFloat(v, 64); err == nil {
		return Duration(n * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("--%s: %q is not a duration (e.g. 600s, 10m, 2h)", name, v)
	}
	return Duration(d), nil
}
