package calibrate

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Server-side counters read from the Prometheus registry the in-process
// members share. Because every member registers into the same default
// registry, each counter is the cluster's total, not one member's: the
// per-member split comes from the clients (which member each one talks to).
const (
	// grpc_server_msg_received_total{grpc_service="etcdserverpb.Lease",
	// grpc_method="LeaseKeepAlive"}: keepalive requests received by any member
	// (go-grpc-middleware/providers/prometheus, registered by
	// server/v3 etcdserver/api/v3rpc/grpc.go:97-107).
	metricMsgReceived = "grpc_server_msg_received_total"
	// etcd_debugging_lease_renewed_total: renewals done by a lessor. Only the
	// leader renews (followers forward, server/v3 etcdserver/v3_server.go
	// LeaseRenew), so this is the leader's renewals (lease/lessor.go:454).
	metricLeaseRenewed = "etcd_debugging_lease_renewed_total"
	// etcd_debugging_lease_revoked_total: leases revoked, here only by expiry
	// since the agents never revoke (lease/metrics.go).
	metricLeaseRevoked = "etcd_debugging_lease_revoked_total"
	// etcd_server_leader_changes_seen_total: each member adds one when it
	// learns of a new leader (server/v3 etcdserver/raft.go:189), so one
	// election moves the cluster's total by up to the number of members.
	metricLeaderChanges = "etcd_server_leader_changes_seen_total"
)

// serverCounters is one reading of the counters above.
type serverCounters struct {
	KeepAlivesReceived float64
	LeaderRenewals     float64
	LeasesRevoked      float64
	LeaderChangesSeen  float64
}

func readServerCounters(g prometheus.Gatherer) (serverCounters, error) {
	mfs, err := g.Gather()
	if err != nil {
		return serverCounters{}, fmt.Errorf("reading etcd's metrics: %w", err)
	}
	var c serverCounters
	for _, mf := range mfs {
		switch mf.GetName() {
		case metricMsgReceived:
			c.KeepAlivesReceived = sumCounter(mf, map[string]string{"grpc_service": "etcdserverpb.Lease", "grpc_method": "LeaseKeepAlive"})
		case metricLeaseRenewed:
			c.LeaderRenewals = sumCounter(mf, nil)
		case metricLeaseRevoked:
			c.LeasesRevoked = sumCounter(mf, nil)
		case metricLeaderChanges:
			c.LeaderChangesSeen = sumCounter(mf, nil)
		}
	}
	return c, nil
}

// sumCounter adds the counters of mf whose labels include want.
func sumCounter(mf *dto.MetricFamily, want map[string]string) float64 {
	var sum float64
	for _, m := range mf.GetMetric() {
		ok := true
		for k, v := range want {
			found := false
			for _, l := range m.GetLabel() {
				if l.GetName() == k && l.GetValue() == v {
					found = true
					break
				}
			}
			ok = ok && found
		}
		if ok && m.GetCounter() != nil {
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}
