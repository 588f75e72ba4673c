package properties

import (
	"fmt"
	"strings"
	"time"

	"pgregory.net/rapid"

	"github.com/leasesim/leasesim/clientmodel"
	"github.com/leasesim/leasesim/clientmodel/scripted"
)

const (
	ms  = int64(time.Millisecond)
	sec = int64(time.Second)
	us  = int64(time.Microsecond)

	scan  = int64(clientmodel.ScanInterval)  // 500 ms
	retry = int64(clientmodel.RetryConnWait) // 500 ms
)

// MinResetSpacing is the least time GenP1 leaves between two resets of a
// lease, so that every reset hits an open stream.
const MinResetSpacing = 2 * sec

// GenP1 generates scripts for P1: the scripted package's tie rule (whole-ms
// starts, connect delays of 0 or whole ms + 50 ns, response delays of whole ms +
// 1 µs, the j-th reset at whole ms + (j+1)*100 ns), 1-3 clients, TTL 2 s to
// 1 h, every consumer, revocations, and
//   - every response delay below 500 ms (0-499 ms + 1 µs);
//   - resets only for TTL >= 3 s, at least MinResetSpacing apart and after the
//     first request. (With TTL 2 s a reset that drops a pending request
//     can legitimately let the client's own deadline pass: the resent request
//     is answered up to TTL/3 + 2 s after the previous answer.)
//
// The consumer is drawn from a list that starts with "never" and the other
// parameters shrink towards one client, small TTLs and short runs, so that a
// failure shrinks to the simplest script.
func GenP1() *rapid.Generator[scripted.Script] {
	return rapid.Custom(func(t *rapid.T) scripted.Script {
		dur := rapid.OneOf(
			rapid.Int64Range(10, 120),
			rapid.Int64Range(120, 1800),
			rapid.Int64Range(1800, 7200),
		).Draw(t, "duration_s") * sec
		s := scripted.Script{Name: "p1", DurationNs: dur}
		n := rapid.IntRange(1, 3).Draw(t, "clients")
		for i := 0; i < n; i++ {
			s.Leases = append(s.Leases, genP1Lease(t, int64(i+1), dur))
		}
		return s
	})
}

func genP1Lease(t *rapid.T, id int64, dur int64) scripted.Lease {
	p := func(name string) string { return fmt.Sprintf("lease%d.%s", id, name) }
	l := scripted.Lease{ID: id}
	l.StartNs = rapid.Int64Range(0, 5_000).Draw(t, p("start_ms")) * ms
	// A connect delay of 0 (a frozen clock's stream opens at the KeepAlive
	// instant, so the first scan finds nextKeepAlive not yet strictly past)
	// or whole ms + 50 ns.
	l.ConnectDelayNs = rapid.SampledFrom([]int64{50, 0, 1*ms + 50, 20*ms + 50}).Draw(t, p("connect_delay"))
	l.TTLs = rapid.OneOf(
		rapid.Int64Range(2, 30),
		rapid.Int64Range(30, 600),
		rapid.Int64Range(600, 3600),
	).Draw(t, p("ttl_s"))
	switch kind := rapid.SampledFrom([]string{
		scripted.ConsumerNever, scripted.ConsumerDrain, scripted.ConsumerRate,
		scripted.ConsumerStopAfter, scripted.ConsumerStall,
	}).Draw(t, p("consumer")); kind {
	case scripted.ConsumerRate:
		l.Consumer = scripted.Consumer{Kind: kind, PhaseNs: 7,
			PeriodNs: rapid.Int64Range(100, 60_000).Draw(t, p("rate_period_ms")) * ms}
	case scripted.ConsumerStopAfter:
		l.Consumer = scripted.Consumer{Kind: kind, K: rapid.IntRange(0, 40).Draw(t, p("stop_after_k"))}
	case scripted.ConsumerStall:
		from := l.StartNs + rapid.Int64Range(0, dur/ms).Draw(t, p("stall_from_ms"))*ms + 7
		to := from + rapid.Int64Range(1, 1_800_000).Draw(t, p("stall_len_ms"))*ms
		l.Consumer = scripted.Consumer{Kind: kind, FromNs: from, ToNs: to}
	default:
		l.Consumer = scripted.Consumer{Kind: kind}
	}
	nd := rapid.IntRange(1, 4).Draw(t, p("delays"))
	for j := 0; j < nd; j++ {
		d := rapid.OneOf(rapid.Int64Range(0, 20), rapid.Int64Range(0, 499)).Draw(t, p("delay_ms"))
		l.DelaysNs = append(l.DelaysNs, d*ms+us)
	}
	if rapid.IntRange(0, 4).Draw(t, p("revoke?")) == 0 {
		l.RevokeAt = rapid.IntRange(1, 40).Draw(t, p("revoke_at"))
	}
	if l.TTLs >= 3 {
		nr := rapid.IntRange(0, 3).Draw(t, p("resets"))
		// After the first request: StartNs + ConnectDelayNs, or StartNs + 500 ms
		// with no connect delay.
		first := l.StartNs + l.ConnectDelayNs
		if l.ConnectDelayNs == 0 {
			first += scan
		}
		at := first/ms*ms + ms
		for j := 0; j < nr; j++ {
			gap := rapid.Int64Range(0, max(0, (dur-at)/ms)).Draw(t, p("reset_gap_ms")) * ms
			if j > 0 {
				gap += MinResetSpacing
			}
			at += gap
			if at >= dur {
				break
			}
			l.ResetsNs = append(l.ResetsNs, at+int64(j+1)*100)
		}
	}
	return l
}

// Violation is one breach of P1 by one lease.
type Violation struct {
	Lease    int64
	Request  int   // 1-based index of the offending request; 0 if none (a missing request)
	AtNs     int64 // when it went out (or, for a missing one, the latest allowed instant)
	Interval int64 // since the previous request, or -1
	Rule     string
	Msg      string
}

func (v Violation) String() string {
	return fmt.Sprintf("lease %d: %s: %s", v.Lease, v.Rule, v.Msg)
}

// P1 rules.
const (
	RuleFirst    = "first-request"     // the first request goes out at the first scan after KeepAlive
	RuleInterval = "healthy-interval"  // interval in (TTL/3, TTL/3 + 500 ms + RTT]
	RuleWindow   = "due-window"        // request in (due, due + 500 ms], due = answer + TTL/3
	RuleReset    = "after-reset"       // after a reset: at reset + 500 ms if due, else within 500 ms of due
	RuleMissing  = "missing-request"   // a request that must have gone out before the end did not
	RuleRevoked  = "after-revocation"  // nothing after an answer with TTL 0
	RuleResponse = "response-too-slow" // the script breaks P1's precondition
)

func dur(ns int64) time.Duration { return time.Duration(ns) }

// CheckP1 checks P1 on one run of a script (model or real client) generated by
// GenP1 (or obeying its preconditions: delays < 500 ms; resets after the first
// request, at least 500 ms + the longest delay apart; TTL >= 3 s if there are
// resets).
// For each lease it follows the script's server: request k (0-based, counted
// over all streams) is answered Delay(k) after it went out unless a reset
// comes first; an answer sets due = answer + TTL/3 (integer nanoseconds, as
// lease.go:542). It returns every violation, first ones first.
func CheckP1(s scripted.Script, r scripted.Result) []Violation {
	var out []Violation
	for i, l := range s.Leases {
		out = append(out, checkP1Lease(s.DurationNs, l, scripted.Expand(r.Leases[i].Requests))...)
	}
	return out
}

func checkP1Lease(end int64, l scripted.Lease, req []int64) []Violation {
	var vs []Violation
	add := func(k int, at, iv int64, rule, format string, args ...any) {
		vs = append(vs, Violation{Lease: l.ID, Request: k, AtNs: at, Interval: iv, Rule: rule, Msg: fmt.Sprintf(format, args...)})
	}
	ttl := time.Duration(l.TTLs) * time.Second
	third := int64(ttl / 3)
	var rtt int64
	for j := 0; j < max(1, len(l.DelaysNs)); j++ {
		rtt = max(rtt, l.Delay(j))
	}
	if rtt >= scan {
		add(0, 0, -1, RuleResponse, "response delay %v is not below 500 ms", dur(rtt))
		return vs
	}
	resets := l.ResetsNs
	resetsIn := func(lo, hi int64) []int64 { // resets in (lo, hi)
		var xs []int64
		for _, x := range resets {
			if x > lo && x < hi {
				xs = append(xs, x)
			}
		}
		return xs
	}

	// The first scan runs when the stream opens; it sends if nextKeepAlive (the
	// KeepAlive instant) is strictly before it (lease.go:593), else the next
	// scan, 500 ms later, does.
	open := l.StartNs + l.ConnectDelayNs
	if l.ConnectDelayNs == 0 {
		open += scan
	}
	if open >= end {
		if len(req) > 0 {
			add(1, req[0], -1, RuleFirst, "request at %v before the stream opens at %v", dur(req[0]), dur(open))
		}
		return vs
	}
	if len(req) == 0 || req[0] != open {
		got := "none"
		if len(req) > 0 {
			got = dur(req[0]).String()
		}
		add(1, open, -1, RuleFirst, "first request at %s, want %v (KeepAlive at %v, connect delay %v)",
			got, dur(open), dur(l.StartNs), dur(l.ConnectDelayNs))
		return vs
	}

	for k := 0; k < len(req); k++ {
		r := req[k]
		a := r + l.Delay(k)
		// due is nextKeepAlive after request k; lo/hi bound request k+1.
		var due int64
		var from int64 // resets after this instant can move request k+1
		if xs := resetsIn(r, a+1); len(xs) > 0 {
			due = r // unanswered: nextKeepAlive did not move (it is <= r)
			from = xs[0] - 1
		} else {
			if a >= end {
				if k != len(req)-1 {
					add(k+2, req[k+1], req[k+1]-r, RuleWindow, "request #%d at %v before the answer to #%d (due %v)", k+2, dur(req[k+1]), k+1, dur(a))
				}
				return vs
			}
			if l.RevokeAt > 0 && k+1 >= l.RevokeAt {
				if k != len(req)-1 {
					add(k+2, req[k+1], req[k+1]-r, RuleRevoked, "request #%d at %v after #%d was answered TTL 0 at %v", k+2, dur(req[k+1]), k+1, dur(a))
				}
				return vs
			}
			due = a + third
			from = a
		}
		lo, hi := due+1, due+scan // healthy: the first scan strictly after due
		rule := RuleWindow
		next := int64(-1)
		if k+1 < len(req) {
			next = req[k+1]
		}
		limit := end
		if next >= 0 {
			limit = next
		}
		for _, x := range resetsIn(from, limit) {
			if hi < x {
				// The request was due to go out before this reset.
				break
			}
			rule = RuleReset
			if due < x+retry {
				lo, hi = x+retry, x+retry // the new stream's first scan sends at once
			} else {
				lo, hi = due+1, due+scan
			}
		}
		if next < 0 {
			if hi < end {
				add(k+2, hi, -1, RuleMissing, "no request #%d by %v (%s after request #%d at %v, due %v)", k+2, dur(hi), rule, k+1, dur(r), dur(due))
			}
			return vs
		}
		if next < lo || next > hi {
			add(k+2, next, next-r, rule, "request #%d at %v (%v after #%d) not in [%v, %v] (due %v)", k+2, dur(next), dur(next-r), k+1, dur(lo), dur(hi), dur(due))
		}
		if rule == RuleWindow {
			// The headline form: the renew interval on a healthy stream.
			if iv := next - r; iv <= third || iv > third+scan+rtt {
				add(k+2, next, iv, RuleInterval, "request #%d: renew interval %v not in (TTL/3 %v, TTL/3 + 500 ms + RTT %v]", k+2, dur(iv), dur(third), dur(third+scan+rtt))
			}
		}
	}
	return vs
}

// FormatScript is a compact one-script description for test logs.
func FormatScript(s scripted.Script) string {
	var b strings.Builder
	fmt.Fprintf(&b, "duration %v, %d client(s)", dur(s.DurationNs), len(s.Leases))
	for _, l := range s.Leases {
		ds := make([]string, len(l.DelaysNs))
		for j, d := range l.DelaysNs {
			ds[j] = dur(d).String()
		}
		fmt.Fprintf(&b, "\n  lease %d: start %v, connect delay %v, TTL %ds, consumer %s", l.ID, dur(l.StartNs), dur(l.ConnectDelayNs), l.TTLs, l.Consumer.Kind)
		switch l.Consumer.Kind {
		case scripted.ConsumerRate:
			fmt.Fprintf(&b, " every %v", dur(l.Consumer.PeriodNs))
		case scripted.ConsumerStopAfter:
			fmt.Fprintf(&b, " %d", l.Consumer.K)
		case scripted.ConsumerStall:
			fmt.Fprintf(&b, " %v-%v", dur(l.Consumer.FromNs), dur(l.Consumer.ToNs))
		}
		fmt.Fprintf(&b, ", delays [%s]", strings.Join(ds, " "))
		if l.RevokeAt > 0 {
			fmt.Fprintf(&b, ", revoked from request %d", l.RevokeAt)
		}
		if len(l.ResetsNs) > 0 {
			rs := make([]string, len(l.ResetsNs))
			for j, x := range l.ResetsNs {
				rs[j] = dur(x).String()
			}
			fmt.Fprintf(&b, ", resets [%s]", strings.Join(rs, " "))
		}
	}
	return b.String()
}
