package scripted

import (
	"fmt"
	"strings"
	"time"
)

// Diff describes how two results of the same script differ, lease by lease, at
// the first differing instant of each timeline; "" if they are equal.
func Diff(want, got Result) string {
	var b strings.Builder
	if len(want.Leases) != len(got.Leases) {
		return fmt.Sprintf("lease count: want %d, got %d\n", len(want.Leases), len(got.Leases))
	}
	for i := range want.Leases {
		diffLease(&b, want.Leases[i], got.Leases[i])
	}
	return b.String()
}

func diffLease(b *strings.Builder, w, g LeaseResult) {
	diffTimeline(b, w.ID, "request", Expand(w.Requests), Expand(g.Requests))
	diffTimeline(b, w.ID, "read", Expand(w.Reads), Expand(g.Reads))
	if w.Closed != g.Closed {
		fmt.Fprintf(b, "lease %d: close seen at %s, want %s\n", w.ID, fmtNs(g.Closed), fmtNs(w.Closed))
	}
	if len(w.Regrants) != len(g.Regrants) {
		fmt.Fprintf(b, "lease %d: %d regrants, want %d\n", w.ID, len(g.Regrants), len(w.Regrants))
		return
	}
	for k := range w.Regrants {
		diffLease(b, w.Regrants[k], g.Regrants[k])
	}
	if len(w.Others) != len(g.Others) {
		fmt.Fprintf(b, "lease %d: %d others, want %d\n", w.ID, len(g.Others), len(w.Others))
		return
	}
	for k := range w.Others {
		diffLease(b, w.Others[k], g.Others[k])
	}
}

func diffTimeline(b *strings.Builder, id int64, what string, want, got []int64) {
	n := min(len(want), len(got))
	for k := 0; k < n; k++ {
		if want[k] != got[k] {
			fmt.Fprintf(b, "lease %d: %s #%d at %s, want %s (%d vs %d in all)\n", id, what, k+1, fmtNs(got[k]), fmtNs(want[k]), len(got), len(want))
			return
		}
	}
	if len(want) != len(got) {
		extra := "missing"
		at := want
		if len(got) > len(want) {
			extra, at = "extra", got
		}
		fmt.Fprintf(b, "lease %d: %s #%d at %s %s (%d vs %d in all)\n", id, what, n+1, fmtNs(at[n]), extra, len(got), len(want))
	}
}

func fmtNs(ns int64) string {
	if ns < 0 {
		return "never"
	}
	return fmt.Sprintf("%s (%dns)", time.Duration(ns), ns)
}
