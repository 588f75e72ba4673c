package main

import (
	"encoding/json"
	"os"
)

// The types below mirror (a JSON-compatible subset of) the Script and Result
// types in ../scripted/script.go, package
// github.com/leasesim/leasesim/clientmodel/scripted. This module cannot import
// that package: requiring the main module would pull modern gRPC into a build
// that must use google.golang.org/grpc v1.7.5. Keep the JSON tags in sync with
// that file; it is the authority on the semantics.

// Consumer kinds (scripted.Consumer*).
const (
	ConsumerDrain     = "drain"
	ConsumerNever     = "never"
	ConsumerRate      = "rate"
	ConsumerStopAfter = "stop-after"
	ConsumerStall     = "stall"
	ConsumerPace      = "pace"
)

// Consumer mirrors scripted.Consumer.
type Consumer struct {
	Kind     string `json:"kind"`
	PeriodNs int64  `json:"period_ns,omitempty"`
	PhaseNs  int64  `json:"phase_ns,omitempty"`
	K        int    `json:"k,omitempty"`
	FromNs   int64  `json:"from_ns,omitempty"`
	ToNs     int64  `json:"to_ns,omitempty"`
}

// Lease mirrors scripted.Lease.
type Lease struct {
	ID      int64 `json:"id"`
	StartNs int64 `json:"start_ns"`
	// ConnectDelayNs: the client's connection is up, and its first keepalive
	// stream opens, this long after KeepAlive.
	ConnectDelayNs int64    `json:"connect_delay_ns,omitempty"`
	TTLs           int64    `json:"ttl_s"`
	Consumer       Consumer `json:"consumer"`
	DelaysNs       []int64  `json:"delays_ns,omitempty"`
	RevokeAt       int      `json:"revoke_at,omitempty"`
	ResetsNs       []int64  `json:"resets_ns,omitempty"`
	// Regrants: the leases the process keeps alive next, each AfterNs after
	// its consumer saw the previous channel close (scripted.Regrant).
	Regrants []Regrant `json:"regrants,omitempty"`
	// CancelAfterNs: the application cancels KeepAlive's context this long
	// after the call (scripted.Lease.CancelAfterNs).
	CancelAfterNs int64 `json:"cancel_after_ns,omitempty"`
	// Others: leases the process keeps alive alongside this one, KeepAlive
	// for each at StartNs + AfterNs; a process with Others is served one
	// answer per request, each after its own delay (scripted.Lease.Others).
	Others []Regrant `json:"others,omitempty"`
}

type Regrant struct {
	ID            int64   `json:"id"`
	AfterNs       int64   `json:"after_ns"`
	TTLs          int64   `json:"ttl_s"`
	DelaysNs      []int64 `json:"delays_ns,omitempty"`
	RevokeAt      int     `json:"revoke_at,omitempty"`
	CancelAfterNs int64   `json:"cancel_after_ns,omitempty"`
}

func (l Lease) Grants() int { return 1 + len(l.Regrants) + len(l.Others) }

// Grant is the k-th (0-based) lease of the process: k = 0 the lease itself.
func (l Lease) Grant(k int) Regrant {
	if k == 0 {
		return Regrant{ID: l.ID, TTLs: l.TTLs, DelaysNs: l.DelaysNs, RevokeAt: l.RevokeAt, CancelAfterNs: l.CancelAfterNs}
	}
	if len(l.Others) > 0 {
		return l.Others[k-1]
	}
	return l.Regrants[k-1]
}

func (g Regrant) Delay(i int) int64 {
	if len(g.DelaysNs) == 0 {
		return 1000
	}
	return g.DelaysNs[i%len(g.DelaysNs)]
}

func (g Regrant) TTL(i int) int64 {
	if g.RevokeAt > 0 && i+1 >= g.RevokeAt {
		return 0
	}
	return g.TTLs
}

// Script mirrors scripted.Script.
type Script struct {
	Name       string  `json:"name"`
	DurationNs int64   `json:"duration_ns"`
	Leases     []Lease `json:"leases"`
}

// Delay mirrors scripted.Lease.Delay.
func (l Lease) Delay(i int) int64 { return l.Grant(0).Delay(i) }

// Run mirrors scripted.Run.
type Run struct {
	Start int64 `json:"s"`
	Step  int64 `json:"d"`
	N     int   `json:"n"`
}

// LeaseResult mirrors scripted.LeaseResult.
type LeaseResult struct {
	ID       int64         `json:"id"`
	Requests []Run         `json:"requests"`
	Reads    []Run         `json:"reads"`
	Closed   int64         `json:"closed_ns"`
	Regrants []LeaseResult `json:"regrants,omitempty"`
	Others   []LeaseResult `json:"others,omitempty"`
}

// Result mirrors scripted.Result.
type Result struct {
	Script  string        `json:"script"`
	Version string        `json:"version"`
	Leases  []LeaseResult `json:"leases"`
}

// Compress mirrors scripted.Compress.
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

// Expand mirrors scripted.Expand.
func Expand(runs []Run) []int64 {
	var out []int64
	for _, r := range runs {
		for k := 0; k < r.N; k++ {
			out = append(out, r.Start+int64(k)*r.Step)
		}
	}
	return out
}

// LoadScripts reads a JSON array of scripts (scripted.LoadScripts).
func LoadScripts(path string) ([]Script, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s []Script
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, err
	}
	return s, nil
}

// TieReplyNs mirrors scripted.TieReplyNs.
const TieReplyNs = 500_000_000

// TieCase mirrors scripted.TieCase: the scan/response tie case (one lease, TTL
// 29 s, drain, every reply after exactly 500 ms, 2 h).
func TieCase() Script {
	return Script{Name: "tie-ttl29-drain-reply500ms", DurationNs: 7200e9, Leases: []Lease{{
		ID: 1, TTLs: 29, ConnectDelayNs: 1e6 + 50, DelaysNs: []int64{TieReplyNs},
		Consumer: Consumer{Kind: ConsumerDrain},
	}}}
}

// TieCount mirrors scripted.TieCount.
type TieCount struct {
	Ties      int `json:"ties"`
	ScanFirst int `json:"scan_first"`
}

// CountTies mirrors scripted.CountTies: a renewal (a request not made 500 ms
// after another) whose reply came before the end is a tie; the scan won it if
// a request went out when the reply landed.
func CountTies(s Script, r Result) TieCount {
	var c TieCount
	req := Expand(r.Leases[0].Requests)
	at := make(map[int64]bool, len(req))
	for _, q := range req {
		at[q] = true
	}
	for _, q := range req {
		if at[q-TieReplyNs] || q+TieReplyNs >= s.DurationNs {
			continue
		}
		c.Ties++
		if at[q+TieReplyNs] {
			c.ScanFirst++
		}
	}
	return c
}

// TieOdds mirrors scripted.TieOdds.
type TieOdds struct {
	Version  string `json:"version"`
	Script   string `json:"script"`
	Runs     int    `json:"runs"`
	Requests []int  `json:"requests"`
	TieCount
}
