package recorder

// OpKind names a lease-API operation in a history: the operations of a
// cluster run as the clients and the leader's lessor saw them, which package
// properties checks for linearizability.
type OpKind uint8

const (
	OpGrant     OpKind = iota // the client's Grant (instantaneous, at KeepAlive time)
	OpKeepAlive               // one keepalive: Call when sent, Return when its answer arrived
	OpExpire                  // the leader's lessor revoked the expired lease
)

// Op is one operation of a History. Times are virtual nanoseconds.
type Op struct {
	Kind         OpKind
	Lease        int64 // lease ID (client index + 1)
	Call, Return int64
	TTL          int64 // OpGrant: granted; OpKeepAlive: answered (0: not found)
}
