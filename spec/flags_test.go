package spec_test

import (
	"reflect"
	"testing"

	"github.com/leasesim/leasesim/spec"
)

// Every flag in Overrides is understood by ApplyFlag, and nothing else is.
func TestApplyFlagCoversOverrides(t *testing.T) {
	samples := map[string]string{"clients": "5", "ttl": "10s", "client-version": "v3.7.3", "consumer": "drain",
		"start-spread": "1s", "connect-delay": "1ms", "scan-overrun": "600us", "rtt": "2ms", "placement": "leader", "renew-at": "2/3",
		"duration": "1m", "seed": "3", "bucket": "2s", "server": "cluster", "max-events": "100", "members": "3",
		"cores": "2.5", "leader": "1", "transport": "http2", "tls": "ecdsa", "tls-resumption": "true", "prober-phase": "together", "platform-stalls": "loopback-quiet",
		"leader-queue-limit": "10", "max-idle-conns": "8", "peer-rtt": "1ms", "params": "reference-2core",
		"client-kind": "grant-only", "etcd-version": "3.2.1", "lease-revoke-rate": "50000", "lease-checkpoint": "true", "held-leases": "1000000", "lease-max-objects": "1000", "write-rate": "1000", "write-op": "put", "raft": "true", "raft-wait": "backlog", "fast-lease-keepalive": "false",
		"gc": "true", "gogc": "400", "service-spread": "true", "processor-sharing": "true", "follower-answer-share": "0.5", "background-cores": "on-off:1/30s/30s", "background-threads": "1", "all-busy-speed": "0.81",
		"restart-at": "20s", "restart-graceful": "true", "restart-over": "30s", "restart-fraction": "0.5", "restart-down": "2s", "period": "3s", "regrant-max": "3", "regrant-delay": "1s", "leases-per-client": "4",
		"fidelity": "fast", "fast": "true", "cohort": "40"}
	for _, o := range spec.Overrides {
		v, ok := samples[o.Flag]
		if !ok {
			t.Errorf("no sample value for --%s", o.Flag)
			continue
		}
		var s spec.Spec
		if err := spec.ApplyFlag(&s, o.Flag, v); err != nil {
			t.Errorf("--%s=%s: %v", o.Flag, v, err)
		}
		if reflect.DeepEqual(s, spec.Spec{}) {
			t.Errorf("--%s=%s set nothing", o.Flag, v)
		}
	}
	var s spec.Spec
	if err := spec.ApplyFlag(&s, "colour", "blue"); err == nil {
		t.Error("an unknown flag was accepted")
	}
}
