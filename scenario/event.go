package scenario

import (
	"github.com/leasesim/leasesim/clientmodel"
	"github.com/leasesim/leasesim/model"
	"github.com/leasesim/leasesim/netsim"
	"github.com/leasesim/leasesim/sim"
)

// target names the component an event is for.
type target uint8

const (
	toClient        target = iota // index: the client (a clientmodel.Input)
	toMember                      // index: the member (a model.Input)
	toNetwork                     // the netsim.Network (a netsim.Input)
	toRevoke                      // the leader lessor's runLoop pass
	toFault                       // index: the scenario's fault
	toElected                     // index: the election's winner
	toSample                      // the end of a metrics bucket
	toRaft                        // the cluster's raft (a model.RaftInput; cluster.raft)
	toExit                        // index: the client whose process exits (clients.restart)
	toClientRevoke                // index: the client whose LeaseRevoke is committed (a graceful exit)
	toProcess                     // index: the client process (a clientmodel.Input; clients.leases_per_client > 1)
	toPlatformStall               // index: the platform stall that starts (cluster.platform_stalls)
)

// event is one kernel event: a message for one component, in the kernel's
// compact form (sim.Message: 48 bytes an event, where the components' typed
// inputs side by side would take 112); each component packs and unpacks its
// own inputs.
type event struct {
	to    target
	index int32
	msg   sim.Message
}

func clientEvent(c int32, in clientmodel.Input) event {
	return event{to: toClient, index: c, msg: in.Pack()}
}

func memberEvent(m int32, in model.Input) event { return event{to: toMember, index: m, msg: in.Pack()} }

func netEvent(in netsim.Input) event { return event{to: toNetwork, msg: in.Pack()} }

func raftEvent(in model.RaftInput) event { return event{to: toRaft, msg: in.Pack()} }
