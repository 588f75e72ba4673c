package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/leasesim/leasesim/clientmodel"
	"github.com/leasesim/leasesim/recorder"
)

// dur prints a duration without noise: 53m29s, 500ms, 3m20.5s.
func dur(d time.Duration) string {
	if d >= time.Second {
		d = d.Round(time.Millisecond)
	}
	return d.String()
}

func secs(p *float64) time.Duration { return time.Duration(*p * float64(time.Second)) }

// count prints an integer with thousands separators.
func count(n uint64) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func rate(r float64) string {
	switch {
	case r >= 100:
		return count(uint64(r + 0.5))
	case r >= 10:
		return fmt.Sprintf("%.1f", r)
	default:
		return fmt.Sprintf("%.2f", r)
	}
}

func printHuman(w io.Writer, outs []outcome) {
	o := outs[0]
	printOne(w, o)
	if len(outs) > 1 {
		fmt.Fprintln(w)
		printCompare(w, outs)
	}
}

func printOne(w io.Writer, o outcome) {
	c, s := o.cfg, o.res.Summary
	title := "leasesim run"
	if o.Config.Name != "" {
		title += " --scenario " + o.Config.Name
	}
	fmt.Fprintf(w, "%s (seed %d)\n", title, c.Seed)
	fmt.Fprintf(w, "  %s clients, one lease each, TTL %v, client %s (%s rule), consumer %s\n",
		count(uint64(c.Clients)), c.TTL, c.Version.Name, c.Version.Rule, o.consume)
	start := "all call KeepAlive at t=0"
	if c.StartSpread > 0 {
		start = fmt.Sprintf("KeepAlive spread over %v", c.StartSpread)
	}
	fmt.Fprintf(w, "  idealised server (RTT %v, no capacity limit); %s; %v of virtual time\n\n", c.RTT, start, c.Duration)

	fmt.Fprintln(w, "What happened")
	happened := false
	if s.FirstDropS != nil {
		happened = true
		fmt.Fprintf(w, "  %-10s first keepalive response dropped: the %d-slot channel is full\n", dur(secs(s.FirstDropS)), clientmodel.ChannelCapacity)
	}
	if s.First500msS != nil {
		happened = true
		why := "responses slower than the 500 ms scan: the lease is sent again"
		if c.Version.Rule == clientmodel.AdvanceOnDelivery && s.FirstDropS != nil {
			why = "the pre-fix client now renews on every 500 ms scan"
		}
		fmt.Fprintf(w, "  %-10s renew interval falls to 500 ms (%s)\n", dur(secs(s.First500msS)), why)
	}
	if s.FirstExpiryS != nil {
		happened = true
		fmt.Fprintf(w, "  %-10s first lease expired: its keys are deleted\n", dur(secs(s.FirstExpiryS)))
	}
	if !happened {
		fmt.Fprintf(w, "  nothing went wrong: every lease renewed about every TTL/3, none expired\n")
	}
	if s.FirstDropS != nil && c.Version.Rule == clientmodel.AdvanceOnDelivery && c.Consumer.Kind != clientmodel.Drain {
		fmt.Fprintf(w, "\n  Why: clientv3 %s advances nextKeepAlive only when the response fits in the\n"+
			"  KeepAlive channel (fixed in v3.1.19/v3.2.24/v3.3.9). This consumer leaves it full, so\n"+
			"  after %d responses every 500 ms scan renews the lease again: 2 renewals/s per lease,\n"+
			"  whatever the TTL.\n", c.Version.Name, clientmodel.ChannelCapacity)
	}

	fmt.Fprintln(w, "\nRenewals at the server, per second (mean over each window, and the busiest second)")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	for _, win := range s.Windows(12) {
		exp := ""
		if win.Expired > 0 {
			exp = fmt.Sprintf("%s expired", count(win.Expired))
		}
		fmt.Fprintf(tw, "  %s - %s\t%s/s\tpeak %s\t%s\t\n", dur(win.From), dur(win.To), rate(win.RenewalsPerS), rate(win.PeakRenewalsInS), exp)
	}
	tw.Flush()

	fmt.Fprintf(w, "\nRenew interval per lease: %s\n", s.IntervalMs)
	fmt.Fprintf(w, "Totals: %s renewals, %s responses dropped, %s leases expired (%s keys lost)\n",
		count(s.RenewalsTotal), count(s.Dropped), count(s.LeasesExpired), count(s.KeysLost))
	fmt.Fprintf(w, "Simulated %s events in %s lockstep cohort(s).\n", count(o.res.Events), count(uint64(o.res.Cohorts)))
}

func printCompare(w io.Writer, outs []outcome) {
	fmt.Fprintln(w, "What if")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "  \t")
	for _, o := range outs {
		fmt.Fprintf(tw, "%s\t", o.Label)
	}
	fmt.Fprintln(tw)
	row := func(name string, f func(recorder.Summary, outcome) string) {
		fmt.Fprintf(tw, "  %s\t", name)
		for _, o := range outs {
			fmt.Fprintf(tw, "%s\t", f(o.res.Summary, o))
		}
		fmt.Fprintln(tw)
	}
	row("renewals/s (last 10% of run)", func(s recorder.Summary, o outcome) string {
		return rate(s.MeanRenewalsPerS(o.cfg.Duration*9/10, o.cfg.Duration))
	})
	row("renewals/s (whole run)", func(s recorder.Summary, o outcome) string {
		return rate(s.MeanRenewalsPerS(0, o.cfg.Duration))
	})
	row("renew interval p50", func(s recorder.Summary, _ outcome) string { return ms(s.IntervalMs.P50) })
	row("renew interval max", func(s recorder.Summary, _ outcome) string { return ms(s.IntervalMs.Max) })
	row("responses dropped", func(s recorder.Summary, _ outcome) string { return count(s.Dropped) })
	row("first 500 ms interval at", func(s recorder.Summary, _ outcome) string { return at(s.First500msS) })
	row("leases expired", func(s recorder.Summary, _ outcome) string { return count(s.LeasesExpired) })
	tw.Flush()
}

func ms(v float64) string {
	if v == 0 {
		return "-"
	}
	return dur(time.Duration(v * 1e6))
}

func at(p *float64) string {
	if p == nil {
		return "never"
	}
	return dur(secs(p))
}
