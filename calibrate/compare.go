package calibrate

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
)

// Row is one figure, measured beside predicted.
type Row struct {
	Name      string   `json:"name"`
	Unit      string   `json:"unit"`
	Measured  float64  `json:"measured"`
	Predicted *float64 `json:"predicted"` // nil: the model does not predict it
	// RelErr is (predicted - measured) / measured; nil when there is no
	// prediction, or the measurement is 0 and the prediction is not.
	RelErr *float64 `json:"rel_err"`
}

// Comparison is a measured run beside its prediction.
type Comparison struct {
	Name      string      `json:"name"`
	Params    string      `json:"params"`
	Measured  Measurement `json:"measured"`
	Predicted Prediction  `json:"predicted"`
	Rows      []Row       `json:"rows"`
}

func row(name, unit string, meas, pred float64) Row {
	r := Row{Name: name, Unit: unit, Measured: meas, Predicted: &pred}
	switch {
	case meas != 0:
		e := (pred - meas) / math.Abs(meas)
		r.RelErr = &e
	case pred == 0:
		e := 0.0
		r.RelErr = &e
	}
	return r
}

func measuredOnly(name, unit string, meas float64) Row {
	return Row{Name: name, Unit: unit, Measured: meas}
}

// Compare lines up a measurement and a prediction.
func Compare(m Measurement, p Prediction, params string) Comparison {
	c := Comparison{Name: m.Config.Name, Params: params, Measured: m, Predicted: p}
	c.Rows = []Row{
		row("keepalives/s (clients)", "/s", m.KeepAlivesPerS, p.KeepAlivesPerS),
		row("  to the leader (direct)", "/s", m.DirectPerS, p.DirectPerS),
		row("  to followers (forwarded)", "/s", m.ForwardedPerS, p.ForwardedPerS),
		row("keepalives/s received (server)", "/s", m.ServerKeepAlivesPerS, p.KeepAlivesPerS),
		row("renewals/s at the leader", "/s", m.LeaderRenewalsPerS, p.LeaderRenewalsPerS),
		row("renew interval p50", "ms", m.IntervalMs.P50, p.IntervalMs.P50),
		row("renew interval p99", "ms", m.IntervalMs.P99, p.IntervalMs.P99),
		row("renew interval min", "ms", m.IntervalMs.Min, p.IntervalMs.Min),
		row("renewal bursts/s (sends <= 1 ms apart)", "/s", m.BurstsPerS, p.BurstsPerS),
		row("RTT p50 direct", "ms", m.RTTDirectMs.P50, p.RTTDirectMs.P50),
		row("RTT p99 direct", "ms", m.RTTDirectMs.P99, p.RTTDirectMs.P99),
		row("RTT p50 forwarded", "ms", m.RTTForwardedMs.P50, p.RTTForwardedMs.P50),
		row("RTT p99 forwarded", "ms", m.RTTForwardedMs.P99, p.RTTForwardedMs.P99),
		row("server CPU, idle", "cores", m.IdleServerCores, p.IdleServerCores),
		row("server CPU, loaded", "cores", m.ServerCores, p.ServerCores),
		measuredOnly("client CPU (agent process)", "cores", m.ClientCores),
		measuredOnly("other processes' CPU, idle", "cores", m.IdleOtherCores),
		measuredOnly("other processes' CPU, loaded", "cores", m.OtherCores),
		row("leader peer conns ESTABLISHED", "", m.LeaderPeerEstablished, p.LeaderPeerEstablished),
		row("leader peer conns TIME-WAIT", "", m.LeaderPeerTimeWait, p.LeaderPeerTimeWait),
		row("leader peer conns CLOSE-WAIT", "", m.LeaderPeerCloseWait, p.LeaderPeerCloseWait),
		row("follower TIME-WAIT to leader", "", m.FollowerPeerTimeWait, p.FollowerPeerTimeWait),
		row("new peer conns/s to leader", "/s", m.NewLeaderPeerConnsPerS, p.NewLeaderPeerConnsPerS),
		row("TCP opens/s, whole host (snmp)", "/s", m.TCPActiveOpensPerS, p.TCPActiveOpensPerS),
		row("leases expired", "", float64(m.LeasesRevoked), float64(p.LeasesExpired)),
		row("keys lost", "", float64(m.KeysLost), float64(p.KeysLost)),
	}
	return c
}

// Row returns the row called name (leading spaces ignored).
func (c Comparison) Row(name string) (Row, bool) {
	for _, r := range c.Rows {
		if strings.TrimSpace(r.Name) == strings.TrimSpace(name) {
			return r, true
		}
	}
	return Row{}, false
}

// WriteTable prints the comparison for people.
func (c Comparison) WriteTable(w io.Writer) error {
	mc := c.Measured.Config
	params := c.Params
	if params == "" {
		params = "defaults"
	}
	fmt.Fprintf(w, "%s: %d clients, TTL %s, consumer %s, placement %s, %d members (leader m%d), peer mTLS %s\n",
		c.Name, mc.Clients, mc.TTL, mc.Consumer, mc.Placement, mc.Members, c.Measured.Leader, mc.TLS)
	fmt.Fprintf(w, "clients started within %.1f ms; window %.1fs-%.1fs after that; model parameters: %s\n",
		c.Measured.StartedWithinMs, c.Measured.WindowFromS, c.Measured.WindowToS, params)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\tmeasured\tleasesim\terror\t")
	for _, r := range c.Rows {
		pred, rel := "—", "—"
		if r.Predicted != nil {
			pred = num(*r.Predicted)
		}
		if r.RelErr != nil {
			rel = fmt.Sprintf("%+.1f%%", *r.RelErr*100)
		} else if r.Predicted != nil {
			rel = "n/a"
		}
		unit := ""
		if r.Unit != "" {
			unit = " " + r.Unit
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", r.Name+unit, num(r.Measured), pred, rel)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "sends per second from the start, measured: %s\n", firstInts(c.Measured.SendsPerS, 12))
	fmt.Fprintf(w, "                                 leasesim: %s\n", firstInts(c.Predicted.SendsPerS, 12))
	return nil
}

func num(v float64) string {
	switch a := math.Abs(v); {
	case v == 0:
		return "0"
	case a >= 100:
		return fmt.Sprintf("%.1f", v)
	case a >= 1:
		return fmt.Sprintf("%.3f", v)
	default:
		return fmt.Sprintf("%.4f", v)
	}
}

func firstInts(v []int, n int) string {
	var b strings.Builder
	for i, x := range v {
		if i == n {
			b.WriteString(" …")
			break
		}
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprint(&b, x)
	}
	return b.String()
}

// WriteSummary prints one line per comparison: the figures the agreement is
// judged on.
func WriteSummary(w io.Writer, cs []Comparison) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "run\tclients\tTTL\tplacement\trenewals/s meas\tleasesim\terr\tinterval p50 ms meas\tleasesim\terr\tserver CPU meas\tleasesim\terr\texpired meas/sim\t")
	for _, c := range cs {
		m := c.Measured
		f := func(name string) (string, string, string) {
			r, ok := c.Row(name)
			if !ok {
				return "—", "—", "—"
			}
			pred, rel := "—", "—"
			if r.Predicted != nil {
				pred = num(*r.Predicted)
			}
			if r.RelErr != nil {
				rel = fmt.Sprintf("%+.1f%%", *r.RelErr*100)
			}
			return num(r.Measured), pred, rel
		}
		a1, a2, a3 := f("keepalives/s (clients)")
		b1, b2, b3 := f("renew interval p50")
		c1, c2, c3 := f("server CPU, loaded")
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d/%d\t\n", c.Name, m.Config.Clients, m.Config.TTL,
			m.Config.Placement, a1, a2, a3, b1, b2, b3, c1, c2, c3, m.LeasesRevoked, c.Predicted.LeasesExpired)
	}
	return tw.Flush()
}
