package spec

import (
	"fmt"
	"math"
	"time"

	"github.com/dustin/go-humanize"

	"github.com/leasesim/leasesim/clientmodel"
)

// Estimate is what a run will cost, worked out before it starts: an upper
// bound for planning, not a prediction of the outcome.
type Estimate struct {
	Renewals uint64 // keepalive requests, at most
	Events   uint64 // kernel events, about
	Bytes    uint64 // peak memory, about
}

// Cost constants, measured on this project's 2-vCPU machine with leasesim
// run --server cluster --clients N --ttl 10s --duration 1m --start-spread 10s
// --members 5 --cores 64 (fixed clients, no storm): 50,000 clients 110 MB,
// 200,000 clients 337 MB (1.5 KB per client), 7.9 events per keepalive;
// 1,000 clients for 1 h and 6 h: 125 and 299 MB (about 32 B per keepalive:
// the recorder keeps every renew interval for exact percentiles). The
// idealised server simulates one cohort per start millisecond.
const (
	baseBytes         = 48 << 20
	clusterClientByte = 1536
	cohortBytes       = 1024
	bytesPerRenewal   = 32
	eventsPerRenewal  = 8
)

// Estimate bounds the cost of running r: every client renews every TTL/3,
// and a pre-fix client as if its channel were never read (one keepalive per
// 500 ms scan once ChannelCapacity responses have filled it); grant-only
// clients never renew.
func (r Resolved) Estimate() Estimate {
	var clients int
	var ttl, d time.Duration
	var cohorts int
	var rule clientmodel.Rule
	if r.Ideal != nil {
		clients, ttl, d, rule = r.Ideal.Clients, r.Ideal.TTL, r.Ideal.Duration, r.Ideal.Version.Rule
		cohorts = min(clients, int(r.Ideal.StartSpread/StartResolution)+1)
	} else {
		// Every lease of a process renews on its own (clients.leases_per_client).
		clients, ttl, d, rule = r.Cluster.Clients*max(r.Cluster.LeasesPerClient, 1), r.Cluster.TTL, r.Cluster.Duration, r.Cluster.Version.Rule
		cohorts = r.Cluster.Leases() // lease entries: a restarted process's, a re-grant's, each of a process's leases
	}
	period := ttl / 3
	if r.Cluster != nil && r.Cluster.Once {
		period, rule = r.Cluster.Period, clientmodel.AdvanceAlways // a call a period at most, no channel
	}
	perClient := math.Ceil(d.Seconds()/period.Seconds()) + 1
	if rule == clientmodel.AdvanceOnDelivery {
		// At worst the channel is never read: it fills after ChannelCapacity
		// responses, and from then on the lease is due on every scan.
		calm := time.Duration(clientmodel.ChannelCapacity) * period
		perClient = math.Ceil(min(d, calm).Seconds()/period.Seconds()) + 1
		if d > calm {
			perClient += math.Ceil((d - calm).Seconds() / clientmodel.ScanInterval.Seconds())
		}
	}
	if r.Cluster != nil && (r.Cluster.GrantOnly || r.Cluster.EventWriter) {
		perClient = 0 // nobody renews
	}
	e := Estimate{Renewals: uint64(perClient * float64(clients))}
	e.Events = e.Renewals * eventsPerRenewal
	perCohort := cohortBytes
	if r.Cluster != nil {
		perCohort = clusterClientByte
	}
	// The idealised server records each cohort's keepalives once.
	recorded := e.Renewals
	if r.Ideal != nil {
		recorded = uint64(perClient * float64(cohorts))
	}
	e.Bytes = baseBytes + uint64(cohorts)*uint64(perCohort) + recorded*bytesPerRenewal
	return e
}

// String is the estimate as a person reads it.
func (e Estimate) String() string {
	return fmt.Sprintf("~%s keepalives, ~%s events, ~%s of memory",
		humanize.Comma(int64(min(e.Renewals, math.MaxInt64))), humanize.Comma(int64(min(e.Events, math.MaxInt64))), humanize.IBytes(e.Bytes))
}
