// Package scripted defines the scripted-server scenario that the differential
// tests feed both to the real etcd client library (running in virtual time under
// testing/synctest) and to leasesim's client model, and the result format in which
// both report what they did.
//
// A Script describes, per lease, one client process (one clientv3.Client, one
// lessor, one LeaseKeepAlive stream) that calls KeepAlive on that lease at StartNs,
// a consumer that reads (or does not read) the returned channel, and a fake etcd
// Lease server that answers the keepalive stream one request at a time (as etcd's
// server/etcdserver/api/v3rpc/lease.go does: Recv, renew, Send), each answer after a
// scripted delay, with a scripted TTL, and that aborts the stream at scripted times.
//
// Each lease gets its own client by default: one lessor scans its leases in Go map
// order, so two leases due at the same scan reach a serial server in random order,
// and their response times would depend on the scheduler. One lease per client is
// also how the 2018 incident's agents were built. A process may keep a new lease
// alive after its channel closed (Lease.Regrants), or several at once
// (Lease.Others): then the server answers each request after its own delay, so
// that the map order moves no answer.
//
// Tie rule. Real goroutines that wake at the same virtual instant run in an
// unspecified order, so a script must never make two causally unrelated events
// coincide. Scripts produced by Gen obey these offsets (time since scenario start):
//   - StartNs is a whole millisecond, so deadlineLoop ticks on whole milliseconds;
//   - ConnectDelayNs is a whole millisecond + 50 ns, so the first stream's scans
//     run at whole milliseconds + 50 ns, never on a deadline tick (with no connect
//     delay both grids meet every second, and when a lease is reaped at such a
//     tick whether that instant's scan still sends is up to the Go scheduler);
//   - every response delay is a whole millisecond plus 1001 ns, so responses never
//     land on a scan, a deadline tick, or a consumer tick — even at the end of a
//     busy period of k answers served back to back, whose offset is k x 1001 ns:
//     for every k up to 20,000 that misses all the offsets below (with a plain
//     1 µs, the 1,000th queued answer would land on a scan, and the real
//     library's order at such a tie is up to the scheduler);
//   - the i-th reset (0-based) is at a whole millisecond + (i+1)*100 ns, and the
//     stream that replaces it scans on that offset;
//   - consumer ticks and stall edges are at a whole millisecond + 7 ns;
//   - a regrant's AfterNs is a whole millisecond + 13 ns, so the new lease's
//     KeepAlive (its nextKeepAlive) is never on a scan, a tick or a response;
//   - a CancelAfterNs is a whole millisecond + 17 ns;
//   - in a process with Others, whose requests are answered one by one, the
//     j-th (0-based) delay of a lease is a whole millisecond + 1001 + 2j ns:
//     two requests of one lease sent on the 500 ms grid and answered after
//     delays that differ by a multiple of 500 ms would otherwise be answered
//     at the same instant, in an order up to the scheduler.
//
// Regrants. A process whose consumer sees its channel close may call
// KeepAlive again, AfterNs later, for a new lease (Lease.Regrants: an agent
// that re-grants when its key vanishes). The lessor, its loops and its
// stream are the same; the fake server serves the new lease on that stream,
// after whatever it still owes the old one. A rate consumer keeps the
// process's tick grid (StartNs+PhaseNs+k*PeriodNs), a stall consumer its
// absolute window, a stop-after consumer counts its K reads over all the
// channels.
//
// TieCase (tie.go) breaks the rule on purpose: every reply lands on a scan,
// to measure how often each real library lets the scan win
// (clientmodel.TieOrder).
//
// Result times are nanoseconds since the scenario start (the synctest bubble's
// start in the real harness).
package scripted

import (
	"encoding/json"
	"fmt"
	"os"
)

// Consumer kinds, as named on the command line and in scripts.
const (
	ConsumerDrain     = "drain"      // reads every response as soon as it is delivered
	ConsumerNever     = "never"      // never reads the channel
	ConsumerRate      = "rate"       // at StartNs+PhaseNs+k*PeriodNs (k>=1) takes one buffered response, if any (non-blocking)
	ConsumerStopAfter = "stop-after" // reads like drain until it has read K responses, then never again
	ConsumerStall     = "stall"      // reads like drain, except in [FromNs, ToNs); at ToNs it drains the buffer
	ConsumerPace      = "pace"       // blocks in a receive, reads, then sleeps PeriodNs (for range ch { sleep })
)

// Consumer says how the application reads the channel KeepAlive returned.
type Consumer struct {
	Kind     string `json:"kind"`
	PeriodNs int64  `json:"period_ns,omitempty"` // rate, pace
	PhaseNs  int64  `json:"phase_ns,omitempty"`  // rate
	K        int    `json:"k,omitempty"`         // stop-after
	FromNs   int64  `json:"from_ns,omitempty"`   // stall, absolute (since scenario start)
	ToNs     int64  `json:"to_ns,omitempty"`     // stall, absolute
}

// Lease is one client process holding one lease, and the server's script for it.
type Lease struct {
	ID      int64 `json:"id"`
	StartNs int64 `json:"start_ns"` // when the client calls KeepAlive
	// ConnectDelayNs is how long after KeepAlive the client's connection (dialled
	// lazily by the first RPC, the keepalive stream) is up and the stream opens.
	ConnectDelayNs int64    `json:"connect_delay_ns,omitempty"`
	TTLs           int64    `json:"ttl_s"` // TTL the server returns in every keepalive response
	Consumer       Consumer `json:"consumer"`
	// DelaysNs[i % len(DelaysNs)] is how long the server takes to answer the i-th
	// (0-based) keepalive request of this lease, counted from when its serial loop
	// picks the request up. Empty means 1 µs.
	DelaysNs []int64 `json:"delays_ns,omitempty"`
	// RevokeAt, if > 0, is the 1-based index of the first request the server
	// answers with TTL 0 (lease not found); every later request is answered so too.
	RevokeAt int `json:"revoke_at,omitempty"`
	// ResetsNs are the instants at which the server aborts this lease's keepalive
	// stream (the handler returns codes.Unavailable). Requests it had received but
	// not yet answered are never answered. A reset while no stream is open is a
	// no-op. Strictly increasing.
	ResetsNs []int64 `json:"resets_ns,omitempty"`
	// Regrants are the leases the same process keeps alive next, one after
	// the other, each once its consumer has seen the previous channel close.
	Regrants []Regrant `json:"regrants,omitempty"`
	// CancelAfterNs, if > 0: the application cancels the context it passed
	// to KeepAlive this long after the call (whole ms + 17 ns, script.go), and
	// the lessor closes the channel and drops the lease (lease.go:342-371).
	CancelAfterNs int64 `json:"cancel_after_ns,omitempty"`
	// Others are leases the same process keeps alive alongside this one, on
	// its lessor (clientmodel.Process): it calls KeepAlive for each at
	// StartNs + AfterNs, and reads each channel with its own consumer like
	// Consumer (a stop-after consumer counts K per channel). A process with
	// Others is served by a server that answers each request after its own
	// delay, independently of the others (not one at a time as etcd does), so
	// that the random order in which the real lessor's scan sends the leases
	// due at one instant (a Go map walk) does not move any answer. Not
	// with Regrants.
	Others []Regrant `json:"others,omitempty"`
}

// Regrant is a later lease of a client process (see the package doc): the
// process calls KeepAlive for ID AfterNs after its consumer saw the previous
// lease's channel close, and the server answers its requests as it does a
// Lease's (TTLs, DelaysNs counted over this lease's requests, RevokeAt).
type Regrant struct {
	ID       int64   `json:"id"`
	AfterNs  int64   `json:"after_ns"`
	TTLs     int64   `json:"ttl_s"`
	DelaysNs []int64 `json:"delays_ns,omitempty"`
	RevokeAt int     `json:"revoke_at,omitempty"`
	// CancelAfterNs: as Lease.CancelAfterNs, from this lease's KeepAlive.
	CancelAfterNs int64 `json:"cancel_after_ns,omitempty"`
}

// Grants is how many leases the process keeps alive: the first and its
// regrants or its others.
func (l Lease) Grants() int { return 1 + len(l.Regrants) + len(l.Others) }

// Grant is the k-th (0-based) lease of the process: k = 0 the lease itself,
// then its regrants or its others.
func (l Lease) Grant(k int) Regrant {
	if k == 0 {
		return Regrant{ID: l.ID, TTLs: l.TTLs, DelaysNs: l.DelaysNs, RevokeAt: l.RevokeAt, CancelAfterNs: l.CancelAfterNs}
	}
	if len(l.Others) > 0 {
		return l.Others[k-1]
	}
	return l.Regrants[k-1]
}

// Delay returns the server delay for the i-th (0-based) request of g.
func (g Regrant) Delay(i int) int64 {
	if len(g.DelaysNs) == 0 {
		return 1000
	}
	return g.DelaysNs[i%len(g.DelaysNs)]
}

// TTL is the TTL the server answers the i-th (0-based) request of g with.
func (g Regrant) TTL(i int) int64 {
	if g.RevokeAt > 0 && i+1 >= g.RevokeAt {
		return 0
	}
	return g.TTLs
}

// Script is one differential scenario.
type Script struct {
	Name       string  `json:"name"`
	DurationNs int64   `json:"duration_ns"` // events at t < DurationNs count
	Leases     []Lease `json:"leases"`
}

// Delay returns the server delay for the i-th (0-based) request of l.
func (l Lease) Delay(i int) int64 { return l.Grant(0).Delay(i) }

// Run is a compact list of instants: Start, Start+Step, ..., N of them.
type Run struct {
	Start int64 `json:"s"`
	Step  int64 `json:"d"`
	N     int   `json:"n"`
}

// LeaseResult is what one lease's client did.
type LeaseResult struct {
	ID       int64 `json:"id"`
	Requests []Run `json:"requests"` // when the server received each keepalive request
	Reads    []Run `json:"reads"`    // when the consumer took a response off the channel
	// Closed is when the consumer observed its channel closed, or -1. Only
	// consumers that read can observe it; for others the harness reports -1.
	Closed int64 `json:"closed_ns"`
	// Regrants: what the process did with each of its later leases
	// (Lease.Regrants), in order; empty (Closed -1) for one it never got to
	// call KeepAlive for.
	Regrants []LeaseResult `json:"regrants,omitempty"`
	// Others: what the process did with each of Lease.Others, in order.
	Others []LeaseResult `json:"others,omitempty"`
}

// Result is what a client library (real or model) did under a Script.
type Result struct {
	Script  string        `json:"script"`
	Version string        `json:"version"`
	Leases  []LeaseResult `json:"leases"`
}

// Compress turns sorted instants into runs of equal spacing.
func Compress(ts []int64) []Run {
	var out []Run
	for i := 0; i < len(ts); {
		r := Run{Start: ts[i], N: 1}
		if i+1 < len(ts) {
			r.Step = ts[i+1] - ts[i]
			r.N = 2
			j := i + 2
			for j < len(ts) && ts[j]-ts[j-1] == r.Step {
				r.N++
				j++
			}
			i = j
		} else {
			i++
		}
		out = append(out, r)
	}
	return out
}

// Expand is the inverse of Compress.
func Expand(runs []Run) []int64 {
	var out []int64
	for _, r := range runs {
		for k := 0; k < r.N; k++ {
			out = append(out, r.Start+int64(k)*r.Step)
		}
	}
	return out
}

// LoadScripts reads a JSON array of scripts.
func LoadScripts(path string) ([]Script, error) {
	var s []Script
	if err := readJSON(path, &s); err != nil {
		return nil, err
	}
	return s, nil
}

// LoadResults reads a JSON array of results.
func LoadResults(path string) ([]Result, error) {
	var r []Result
	if err := readJSON(path, &r); err != nil {
		return nil, err
	}
	return r, nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
