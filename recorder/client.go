package recorder

import (
	"fmt"

	"github.com/leasesim/leasesim/clientmodel"
)

// ClientFact is the recorder's name for a fact a client model reports
// (clientmodel.Route's Report), and the reason of a close.
func ClientFact(o clientmodel.Output) (Kind, string) {
	switch o.Kind {
	case clientmodel.OutDelivered:
		return Delivered, ""
	case clientmodel.OutDropped:
		return Dropped, ""
	case clientmodel.OutRead:
		return Read, ""
	case clientmodel.OutClosed:
		return Closed, o.Reason.String()
	case clientmodel.OutCloseSeen:
		return CloseSeen, ""
	}
	panic(fmt.Sprintf("recorder: client output %v is not a fact", o.Kind))
}
