package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dustin/go-humanize"

	"github.com/leasesim/leasesim/clientmodel"
	"github.com/leasesim/leasesim/model"
	"github.com/leasesim/leasesim/recorder"
	"github.com/leasesim/leasesim/spec"
	"github.com/leasesim/leasesim/sweep"
)

// dur prints a duration without noise: 53m29s, 500ms, 3m20.5s.
func dur(d time.Duration) string {
	if d >= time.Second {
		d = d.Round(time.Millisecond)
	}
	return d.String()
}

func secs(p *float64) time.Duration { return time.Duration(*p * float64(time.Second)) }

// count prints an integer with thousands separators (go-humanize; the
// scenario language keeps its own spec.Thousands for its messages).
func count(n uint64) string { return humanize.Comma(int64(n)) }

// reqTimeout is the ReqTimeout of the scenario's cluster (it depends on the
// election timeout).
func reqTimeout(s spec.Spec) time.Duration {
	e := s.Cluster.ElectionTimeout.D()
	if e <= 0 {
		e = spec.DefaultElectionTimeout.D()
	}
	return model.ReqTimeout(e)
}

func rate(r float64) string {
	switch {
	case r >= 100:
		return count(uint64(r + 0.5))
	case r >= 10:
		return fmt.Sprintf("%.1f", r)
	case r == 0:
		return "0"
	default:
		return fmt.Sprintf("%.2f", r)
	}
}

func bytesStr(b float64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.1f GiB", b/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", b/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.0f KiB", b/(1<<10))
	}
	return fmt.Sprintf("%.0f B", b)
}

func printHuman(w io.Writer, outs []outcome) {
	printOne(w, outs[0])
	if len(outs) > 1 {
		fmt.Fprintln(w)
		printCompare(w, outs)
	}
}

// event is one line of "What happened".
type event struct {
	at   time.Duration
	text string
}

func firstAt(vals []float64, bucket time.Duration, pred func(float64) bool) (time.Duration, bool) {
	for i, v := range vals {
		if pred(v) {
			return time.Duration(i) * bucket, true
		}
	}
	return 0, false
}

// bucket is the run's metrics bucket.
func (o outcome) bucket() time.Duration { return time.Duration(o.BucketSeconds * float64(time.Second)) }

// leaderSaturatedAt is the start of the first bucket in which the leader's
// CPU was at 95 % of its cores or more: the timeline's "leader CPU
// saturated", and --seeds' leader_saturated_s.
func leaderSaturatedAt(o outcome) (time.Duration, bool) {
	return firstAt(o.res.Metric(leaderCPU(o)), o.bucket(), func(x float64) bool { return x >= 0.95 })
}

func printOne(w io.Writer, o outcome) {
	sp, s := o.spec, o.Summary
	v, _ := clientmodel.ParseVersion(sp.Clients.Version)
	title := "leasesim run"
	if sp.Name != "" {
		title += " --scenario " + spec.Printable(sp.Name)
	}
	fmt.Fprintf(w, "%s (seed %d)\n", title, sp.Seed)
	fmt.Fprintln(w, wrap(o.Description, 88, "  "))
	fmt.Fprintln(w)

	bucket := o.bucket()
	var evs []event
	if s.FirstDropS != nil {
		evs = append(evs, event{secs(s.FirstDropS), fmt.Sprintf("first keepalive response dropped: the %d-slot channel is full", clientmodel.ChannelCapacity)})
	}
	if s.First500msS != nil {
		why := "a reply slower than the 500 ms scan: the lease is sent again"
		if v.Rule == clientmodel.AdvanceOnDelivery && s.FirstDropS != nil {
			why = "the pre-fix client now renews on every 500 ms scan"
		}
		evs = append(evs, event{secs(s.First500msS), "renew interval falls to 500 ms (" + why + ")"})
	}
	cluster := len(o.Metrics) > 0
	if cluster {
		if t, ok := leaderSaturatedAt(o); ok {
			evs = append(evs, event{t, "leader CPU saturated (>= 95 %)"})
		}
		if t, ok := firstAt(o.res.Metric(recorder.ForwardsWaitingOnConn), bucket, func(x float64) bool { return x > 0 }); ok {
			evs = append(evs, event{t, "forwarded renewals wait for peer connections: new TCP + TLS connections to the leader"})
		}
		if t, ok := firstAt(o.res.Metric(recorder.TLSHandshakeTimeouts), bucket, func(x float64) bool { return x > 0 }); ok {
			evs = append(evs, event{t, "first TLS handshake timeout (10 s): the follower closes, CLOSE-WAIT on the leader"})
		}
		if t, ok := firstAt(o.res.Metric(recorder.ClientStreamErrors), bucket, func(x float64) bool { return x > 0 }); ok {
			evs = append(evs, event{t, fmt.Sprintf("first client stream broken: a forward ran out of ReqTimeout (%g s)", reqTimeout(sp).Seconds())})
		}
		if t, ok := firstAt(o.res.Metric(recorder.ReadIndexRounds), bucket, func(x float64) bool { return x > 0 }); ok {
			evs = append(evs, event{t, fmt.Sprintf("the leader confirms its leadership with a raft ReadIndex round before each renewal of its own clients (etcd #18069): up to %s rounds/s, each CPU on every member and a peer round trip",
				count(uint64(o.res.Peaks[recorder.ReadIndexRounds])))})
		}
		if t, ok := firstAt(o.res.Metric(recorder.DeposedRenewals), bucket, func(x float64) bool { return x > 0 }); ok {
			evs = append(evs, event{t, fmt.Sprintf("the deposed leader, its raft loop blocked, acknowledges its own clients' renewals from its stale lessor (etcd #15247): %s in all, never seen by the cluster", count(uint64(total(o, recorder.DeposedRenewals))))})
		}
		// Restarts (clients.restart): the new processes' grants, and the leases live at their peak.
		if r := sp.Clients.Restart; r.Fraction > 0 {
			if t, ok := firstAt(o.res.Metric(recorder.ClientRevokes), bucket, func(x float64) bool { return x > 0 }); ok {
				evs = append(evs, event{t, fmt.Sprintf("restarting processes revoke their leases on exit (Session.Close): %s in all", count(uint64(total(o, recorder.ClientRevokes))))})
			}
			grants := o.res.Metric(recorder.LeaseGrants)
			for b := int(time.Duration(r.At+r.Down) / bucket); b < len(grants); b++ {
				if grants[b] > 0 {
					evs = append(evs, event{time.Duration(b) * bucket, fmt.Sprintf("restarted processes grant new leases (busiest second: %s grants); leases live at the peak: %s",
						count(uint64(o.res.Peaks[recorder.LeaseGrants])), count(uint64(o.res.Peaks[recorder.LeasesLive])))})
					break
				}
			}
		}
		// Re-granting agents (clients.regrant): the grants after a key vanished.
		if g := sp.Clients.Regrant; g.Max > 0 && s.FirstExpiryS != nil {
			first := int(time.Duration(*s.FirstExpiryS*float64(time.Second)) / bucket)
			if t, ok := firstAt(o.res.Metric(recorder.LeaseGrants)[first:], bucket, func(x float64) bool { return x > 0 }); ok {
				initial := sp.Clients.Count + int(math.Round(sp.Clients.Restart.Fraction*float64(sp.Clients.Count)))
				evs = append(evs, event{max(time.Duration(first)*bucket+t, secs(s.FirstExpiryS)), fmt.Sprintf("agents whose keys vanished grant new leases and put their keys again: %s in all (at most %d each)",
					count(uint64(total(o, recorder.LeaseGrants))-uint64(initial)), g.Max)})
			}
		}
		// Event writers (clients.kind event-writer): a lease's revocation deletes its keys in one apply.
		if t, ok := firstAt(o.res.Metric(recorder.RevokeStallMax), bucket, func(x float64) bool { return x > 0 }); ok {
			evs = append(evs, event{t, fmt.Sprintf("first event lease revoked: its keys are deleted in one apply, which stalls every member's apply (longest such stall in the run: %.3f s)",
				o.res.Peaks[recorder.RevokeStallMax])})
		}
	}
	if s.FirstExpiryS != nil {
		evs = append(evs, event{secs(s.FirstExpiryS), "first lease expired: its keys are deleted"})
	}
	if cluster {
		evs = append(evs, recoveryEvents(o, bucket)...)
		evs = append(evs, leaderChangeEvents(o, bucket)...)
	}
	sortEvents(evs)
	fmt.Fprintln(w, "What happened")
	if len(evs) == 0 {
		fmt.Fprintln(w, "  nothing went wrong: every lease renewed about every TTL/3, none expired")
	}
	for _, e := range evs {
		fmt.Fprintf(w, "  %-10s %s\n", dur(e.at), e.text)
	}
	if s.LeasesExpired > 0 {
		fmt.Fprintf(w, "  %-10s %s leases expired in all, %s keys lost\n", "by the end", count(s.LeasesExpired), count(s.KeysLost))
	}
	why := whyText(o, v)
	if why != "" {
		fmt.Fprintln(w)
		fmt.Fprintln(w, wrap("Why: "+why, 88, "  "))
	}

	fmt.Fprintln(w)
	if cluster {
		printClusterTable(w, o, bucket)
	} else {
		printIdealTable(w, s)
	}
	fmt.Fprintf(w, "\nRenew interval per lease: %s\n", s.IntervalMs)
	fmt.Fprintf(w, "Totals: %s renewals, %s responses dropped, %s leases expired (%s keys lost)\n",
		count(s.RenewalsTotal), count(s.Dropped), count(s.LeasesExpired), count(s.KeysLost))
	if o.Fidelity == spec.FidelityFast {
		fmt.Fprintf(w, "Simulated %s events in the fast mode (cohorts of %s: %s simulated clients); its error against\n"+
			"the exact mode, per metric, is in the README (\"The fast mode\").\n", count(o.Events), count(uint64(o.Cohort)), count(uint64(o.Cohorts)))
		if s.LeasesExpired > 0 {
			// The fast mode's bursts move a metastable trigger (README): a
			// storm it finds near a threshold may be its own.
			fmt.Fprintln(w, "Leases expired: near a threshold a cohort's bursts storm earlier than the real fleet would; confirm with the exact mode (without --fast, or beside it: --seeds 4 --what-if fast=false).")
		}
		return
	}
	fmt.Fprintf(w, "Simulated %s events.\n", count(o.Events))
}

func sortEvents(e []event) {
	for i := 1; i < len(e); i++ {
		for j := i; j > 0 && e[j].at < e[j-1].at; j-- {
			e[j], e[j-1] = e[j-1], e[j]
		}
	}
}

func whyText(o outcome, v clientmodel.Version) string {
	s := o.Summary
	var parts []string
	if s.FirstDropS != nil && v.Rule == clientmodel.AdvanceOnDelivery {
		parts = append(parts, fmt.Sprintf("clientv3 %s advances nextKeepAlive only when the response fits in the KeepAlive channel (fixed in v3.1.19/v3.2.24/v3.3.9). Nobody empties it, so after %d responses every 500 ms scan renews each lease again: 2 renewals/s per lease, whatever the TTL.", v.Name, clientmodel.ChannelCapacity))
	}
	if len(o.Metrics) > 0 {
		if reconnectStorm(o) {
			parts = append(parts, "Followers forward each renewal to the leader over HTTP/1.1, one request per connection at a time; when more are in flight than idle connections, each extra one dials a new TCP connection and a full TLS handshake, paid in leader CPU.")
		}
		if o.res.Peaks[recorder.TimeWaitLeader] > 0 {
			parts = append(parts, "Handlers that finish more than 5 s after their request was read lose their connection (the peer listener's read deadline), and idle connections are closed by the leader after ~10 s: TIME-WAIT on the leader.")
		}
		switch {
		case s.LeasesExpired > 0 && deposedRevokes(o.spec):
			parts = append(parts, "The leader's raft loop blocked in fdatasync: its followers elected another leader and renewed there, but its lessor stayed primary until the loop ran again, found the leases expired by its stale table and proposed their revocation; the new leader committed them when the fdatasync returned (etcd #15247; releases from 3.4.31, 3.5.13 and 3.6.0 check their leadership first).")
		case s.LeasesExpired > 0 && o.spec.Clients.Restart.Fraction > 0 && !o.spec.Clients.Restart.Graceful:
			parts = append(parts, "Restarted processes exit without revoking their leases (no Session.Close): the server keeps each abandoned lease, and its keys, until a TTL after its last renewal, while the new process holds a new one; then the leader's lessor revokes the abandoned leases at most 1,000/s, deleting their keys.")
		case s.LeasesExpired > 0 && o.spec.Clients.Kind == spec.ClientGrantOnly:
			parts = append(parts, "Nobody renews these leases: each expires a TTL after its grant, or after the last leader change (Promote gives every lease a full TTL again), and the leader's lessor revokes it, deleting its keys.")
		case s.LeasesExpired > 0:
			parts = append(parts, "Renewals that wait longer than the TTL arrive too late: the leader's lessor expires those leases and revokes them (at most 1,000/s), deleting their keys.")
		}
	}
	return strings.Join(parts, " ")
}

// deposedRevokes reports whether a scenario's leader can be deposed with its
// lessor still primary and revoking: an fsync-stall fault on a release
// without the leadership check (model.Member's deposed lessor).
func deposedRevokes(sp spec.Spec) bool {
	v := model.DefaultEtcdVersion
	if sp.Cluster.EtcdVersion != "" {
		var err error
		if v, err = model.ParseEtcdVersion(sp.Cluster.EtcdVersion); err != nil {
			return false
		}
	}
	for _, f := range sp.Faults {
		if f.Kind == spec.FaultFsyncStall && !v.RevokeChecksLeadership() {
			return true
		}
	}
	return false
}

func printIdealTable(w io.Writer, s recorder.Summary) {
	fmt.Fprintln(w, "Renewals at the server, per second (mean over each window, and the busiest second)")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	for _, win := range s.Windows(12) {
		exp := ""
		if win.Expired > 0 {
			exp = fmt.Sprintf("%s expired", count(win.Expired))
		}
		fmt.Fprintf(tw, "  %s - %s\t%s/s\tpeak %s\t%s\t\n", dur(win.From), dur(win.To), rate(win.RenewalsPerS), rate(win.PeakRenewalsInS), exp)
	}
	tw.Flush()
}

// printClusterTable: one row per window, the chain's quantities side by side.
func printClusterTable(w io.Writer, o outcome, bucket time.Duration) {
	cols := []struct {
		head   string
		metric recorder.MetricName
		agg    string // mean | max
		f      func(float64) string
	}{
		{"renewals/s", recorder.RenewalsAtLeader, "mean", rate},
		{"forwarded/s", recorder.ForwardedRenewals, "mean", rate},
		{"leader CPU", leaderCPU(o), "mean", func(x float64) string { return fmt.Sprintf("%.0f%%", 100*x) }},
		{"new conns/s", recorder.NewPeerConnections, "mean", rate},
		{"handshakes/s", recorder.TLSHandshakes, "mean", rate},
		{"queue", recorder.LeaderQueueRequests, "max", func(x float64) string { return count(uint64(x)) }},
		{"memory", recorder.LeaderQueueBytes, "max", bytesStr},
		{"ESTAB", recorder.PeerEstablished, "max", func(x float64) string { return count(uint64(x)) }},
		{"TIME-WAIT L", recorder.TimeWaitLeader, "max", func(x float64) string { return count(uint64(x)) }},
		{"TIME-WAIT F", recorder.TimeWaitFollowers, "max", func(x float64) string { return count(uint64(x)) }},
		{"CLOSE-WAIT", recorder.CloseWaitLeader, "max", func(x float64) string { return count(uint64(x)) }},
	}
	fmt.Fprintln(w, "At the leader (rates: mean per second over the window; states and queues: the window's peak)")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "  window\t")
	for _, c := range cols {
		fmt.Fprintf(tw, "%s\t", c.head)
	}
	fmt.Fprint(tw, "expired\t\n")
	n := len(o.RenewalsPerS)
	per := max(1, (n+11)/12)
	expired := o.res.Summary.Windows(12)
	for wi, from := 0, 0; from < n; wi, from = wi+1, from+per {
		to := min(from+per, n)
		fmt.Fprintf(tw, "  %s-%s\t", dur(time.Duration(from)*bucket), dur(time.Duration(to)*bucket))
		for _, c := range cols {
			vals := o.res.Metric(c.metric)
			var agg float64
			for i := from; i < to && i < len(vals); i++ {
				if c.agg == "max" {
					agg = max(agg, vals[i])
				} else {
					agg += vals[i] / float64(to-from)
				}
			}
			fmt.Fprintf(tw, "%s\t", c.f(agg))
		}
		e := uint64(0)
		if wi < len(expired) {
			e = expired[wi].Expired
		}
		fmt.Fprintf(tw, "%s\t\n", count(e))
	}
	tw.Flush()
}

func printCompare(w io.Writer, outs []outcome) {
	fmt.Fprintln(w, "What if")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "  \t")
	for _, o := range outs {
		fmt.Fprintf(tw, "%s\t", o.Label)
	}
	fmt.Fprintln(tw)
	row := func(name string, f func(outcome) string) {
		fmt.Fprintf(tw, "  %s\t", name)
		for _, o := range outs {
			fmt.Fprintf(tw, "%s\t", f(o))
		}
		fmt.Fprintln(tw)
	}
	d := func(o outcome) time.Duration { return o.spec.Duration.D() }
	row("renewals/s (last 10% of run)", func(o outcome) string { return rate(o.MeanRenewalsPerS(d(o)*9/10, d(o))) })
	row("renewals/s (whole run)", func(o outcome) string { return rate(o.MeanRenewalsPerS(0, d(o))) })
	row("renew interval p50", func(o outcome) string { return ms(o.IntervalMs.P50) })
	row("renew interval max", func(o outcome) string { return ms(o.IntervalMs.Max) })
	row("responses dropped", func(o outcome) string { return count(o.Dropped) })
	row("first 500 ms interval at", func(o outcome) string { return at(o.First500msS) })
	if len(outs[0].Metrics) > 0 {
		peak := func(name recorder.MetricName, f func(float64) string) func(outcome) string {
			return func(o outcome) string { return f(o.res.Peaks[name]) }
		}
		num := func(x float64) string { return count(uint64(x)) }
		leaderCPU := func(o outcome) string {
			return fmt.Sprintf("%.0f%%", 100*o.res.Peaks[leaderCPU(o)])
		}
		row("leader CPU (peak second)", leaderCPU)
		row("leader CPU (mean)", func(o outcome) string {
			v := o.res.Metric(sweep.LeaderCPUMetric(o.spec))
			sum := 0.0
			for _, x := range v {
				sum += x
			}
			return fmt.Sprintf("%.1f%%", 100*sum/float64(max(1, len(v))))
		})
		row("new peer conns/s (peak)", peak(recorder.NewPeerConnections, num))
		row("TLS handshakes/s (peak)", peak(recorder.TLSHandshakes, num))
		row("leader queue (peak)", peak(recorder.LeaderQueueRequests, num))
		row("leader memory (peak)", peak(recorder.LeaderQueueBytes, bytesStr))
		row("TIME-WAIT on leader (peak)", peak(recorder.TimeWaitLeader, num))
		row("CLOSE-WAIT on leader (peak)", peak(recorder.CloseWaitLeader, num))
		row("keys deleted/s (peak)", peak(recorder.KeysLost, num))
		row("revokes pending (peak)", peak(recorder.RevokesPending, num))
		if outs[0].res.Metric(recorder.LeaderMember) != nil {
			row("time without a leader", func(o outcome) string {
				return dur(leaderless(o.res.Metric(recorder.LeaderMember), o.bucket()))
			})
		}
		if outs[0].res.Metric(recorder.RevokeStallMax) != nil { // event writers
			row("member CPU, cores (mean)", func(o outcome) string {
				return fmt.Sprintf("%.2f", mean(o.res.Metric(recorder.CPUUtilisation(0)))*o.spec.Cluster.Cores)
			})
			row("revoke apply stall (max)", peak(recorder.RevokeStallMax, func(x float64) string { return dur(time.Duration(x * float64(time.Second)).Round(time.Millisecond)) }))
		}
		row("keys outlived lease (max)", peak(recorder.RevokeLagMax, func(x float64) string { return dur(time.Duration(x * float64(time.Second)).Round(time.Millisecond)) }))
		if slices.ContainsFunc(outs, func(o outcome) bool { return o.RevokeLagMs != nil }) {
			row("keys outlived lease (p99)", func(o outcome) string {
				if o.RevokeLagMs == nil {
					return "-"
				}
				return dur(time.Duration(o.RevokeLagMs.P99 * 1e6).Round(time.Millisecond))
			})
		}
		if slices.ContainsFunc(outs, func(o outcome) bool { return o.ApplyLagMaxS != nil }) {
			row("apply lag (max)", func(o outcome) string {
				if o.ApplyLagMaxS == nil {
					return "-"
				}
				return dur(time.Duration(*o.ApplyLagMaxS * float64(time.Second)).Round(time.Millisecond))
			})
		}
		if slices.ContainsFunc(outs, func(o outcome) bool { return o.res.Peaks[recorder.DeposedRenewals] > 0 }) {
			row("renewals acked by a deposed leader", func(o outcome) string { return count(uint64(total(o, recorder.DeposedRenewals))) })
		}
		if slices.ContainsFunc(outs, func(o outcome) bool { return o.res.Metric(recorder.ReadIndexRounds) != nil }) {
			row("ReadIndex rounds/s (peak)", peak(recorder.ReadIndexRounds, num))
		}
	}
	row("leases expired", func(o outcome) string { return count(o.LeasesExpired) })
	row("keys lost", func(o outcome) string { return count(o.KeysLost) })
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

// wrap folds text to width with a prefix on every line.
func wrap(text string, width int, prefix string) string {
	var b strings.Builder
	line := prefix
	for _, word := range strings.Fields(text) {
		if len(line)+len(word)+1 > width && strings.TrimSpace(line) != "" {
			b.WriteString(strings.TrimRight(line, " ") + "\n")
			line = prefix
		}
		line += word + " "
	}
	b.WriteString(strings.TrimRight(line, " "))
	return b.String()
}

// stormPerS is the rate of new peer connections (or TLS handshakes), in a
// run's busiest second, above which the run is a reconnect storm: forwarded
// renewals no longer find idle peer connections and dial new ones, each with a
// full TLS handshake paid in leader CPU. A healthy cluster dials a handful at
// start-up and then none (its forwards reuse idle connections).
const stormPerS = 10

// reconnectStorm reports whether a cluster run went into a reconnect storm
// (stormPerS); the "Why" of the human output explains it, and 'run --seeds'
// counts the seeds that do.
func reconnectStorm(o outcome) bool {
	return o.res.Peaks[recorder.NewPeerConnections] > stormPerS || o.res.Peaks[recorder.TLSHandshakes] > stormPerS
}

// recovery is whether the cluster came back from one fault: the leader's
// queue back to (at most twice, or 100 requests above) its peak in the minute
// before the trigger, and staying there to the end of the run. A fault that
// does not recover is a metastable failure.
type recovery struct {
	fault     spec.FaultSpec
	recovered bool
	at        time.Duration // recovered: from this bucket on
	pre, last float64       // the queue's peak before the trigger, its last value
}

// recoveries judges each fault whose minute before and aftermath both lie in
// the run; faults too close to the run's ends are left out.
func recoveries(o outcome, bucket time.Duration) []recovery {
	q := o.res.Metric(recorder.LeaderQueueRequests)
	if len(q) == 0 || bucket <= 0 {
		return nil
	}
	var out []recovery
	for _, f := range o.spec.Faults {
		at := f.At.D()
		end := at + f.Duration.D()
		i0, i1 := int((at-time.Minute)/bucket), int(at/bucket)
		i0 = max(i0, 0)
		if i1 <= i0 || i1 >= len(q) {
			continue
		}
		var pre float64
		for i := i0; i < i1; i++ {
			pre = max(pre, q[i])
		}
		limit := max(2*pre, pre+100)
		from := int(end / bucket)
		if from >= len(q) {
			continue
		}
		rec := -1
		for i := len(q) - 1; i >= from && i >= 0; i-- {
			if q[i] > limit {
				break
			}
			rec = i
		}
		r := recovery{fault: f, pre: pre, last: q[len(q)-1]}
		if !(rec < 0 || rec >= len(q)-1 && q[len(q)-1] > limit) {
			r.recovered, r.at = true, time.Duration(rec)*bucket
		}
		out = append(out, r)
	}
	return out
}

// recoveryEvents says, for each fault, whether the cluster returned to the
// state it was in before the trigger once the trigger ended (recoveries).
func recoveryEvents(o outcome, bucket time.Duration) []event {
	var out []event
	for _, r := range recoveries(o, bucket) {
		f := r.fault
		end := f.At.D() + f.Duration.D()
		what := fmt.Sprintf("%s at %s for %s", f.Kind, dur(f.At.D()), dur(f.Duration.D()))
		if !r.recovered {
			out = append(out, event{o.spec.Duration.D(), fmt.Sprintf("%s: did not recover by the end of the run (leader queue %s, %s before the trigger): a metastable failure",
				what, count(uint64(r.last)), count(uint64(r.pre)))})
			continue
		}
		out = append(out, event{r.at, fmt.Sprintf("%s: recovered %s after the trigger ended (leader queue back to its level before it)",
			what, dur(r.at-end))})
	}
	return out
}

// leaderChangeEvents are the elections of a run with cluster.raft (the
// leader_changes series exists only then): the first few, and how many in all.
func leaderChangeEvents(o outcome, bucket time.Duration) []event {
	changes, leader := o.res.Metric(recorder.LeaderChanges), o.res.Metric(recorder.LeaderMember)
	const shown = 3
	var evs []event
	total := 0.0
	for i, n := range changes {
		if n == 0 {
			continue
		}
		total += n
		if len(evs) < shown {
			text := fmt.Sprintf("leader change: member %g leads after an election (raft; its lessor Promotes)", leader[i])
			if leader[i] < 0 {
				text = "leader change (raft); another election is under way at the second's end"
			}
			evs = append(evs, event{time.Duration(i) * bucket, text})
		}
	}
	if total > shown {
		evs[len(evs)-1].text += fmt.Sprintf("; %g leader changes in all", total)
	}
	if from, n := longestLeaderless(leader); n >= 2 {
		evs = append(evs, event{time.Duration(from) * bucket, fmt.Sprintf("no leader for %s (raft: its longest stretch; %s without a leader in all)",
			dur(time.Duration(n)*bucket), dur(leaderless(leader, bucket)))})
	}
	return evs
}

// longestLeaderless is the longest run of buckets that end without a
// leader (leader_member < 0): its first bucket and its length.
func longestLeaderless(leader []float64) (from, n int) {
	run := 0
	for i, l := range leader {
		if l >= 0 {
			run = 0
			continue
		}
		if run++; run > n {
			from, n = i-run+1, run
		}
	}
	return from, n
}

// leaderless is how long the run was without a leader, counted in buckets
// that end without one.
func leaderless(leader []float64, bucket time.Duration) time.Duration {
	n := 0
	for _, l := range leader {
		if l < 0 {
			n++
		}
	}
	return time.Duration(n) * bucket
}

// leaderCPU is the series of the leader's CPU (sweep.LeaderCPUMetric).
// total is the sum of a counter series over the run (0 if not recorded).
func total(o outcome, name recorder.MetricName) float64 {
	sum := 0.0
	for _, v := range o.res.Metric(name) {
		sum += v
	}
	return sum
}

func leaderCPU(o outcome) recorder.MetricName { return sweep.LeaderCPUMetric(o.spec) }

// mean is the mean of xs (0 for none).
func mean(xs []float64) float64 {
	var sum float64
	for _, x := range xs {
		sum += x
	}
	return sum / float64(max(len(xs), 1))
}
