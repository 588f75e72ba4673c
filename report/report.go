// Package report renders a capacity-planning report: one self-contained HTML
// file (inline SVG charts drawn with gonum.org/v1/plot, inline CSS, no script,
// nothing fetched from the network) with the verdict in one sentence, the
// scenario, time-series charts of the base run and its what-ifs side by side,
// and, given a sweep or knee search, the capacity curves with the knee marked.
// Everything user-supplied (scenario names, descriptions, labels) goes through
// html/template, or through vgsvg, which escapes the text it draws.
package report

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dustin/go-humanize"

	"github.com/leasesim/leasesim/clientmodel"
	"github.com/leasesim/leasesim/recorder"
	"github.com/leasesim/leasesim/spec"
	"github.com/leasesim/leasesim/sweep"
)

// Run is one simulated run: the base scenario or a what-if.
type Run struct {
	Label   string
	Spec    spec.Spec
	Outcome recorder.Outcome
}

// Input is everything a report shows.
type Input struct {
	Base    Run
	WhatIfs []Run
	// Sweep is a sweep's or knee search's result (optional).
	Sweep *sweep.Result
	// CPUTarget: leader CPU (fraction) a healthy run stays under; 0: the sweep's, or sweep.DefaultCPUTarget.
	CPUTarget float64
	// Command, if set, is shown as how the report was made.
	Command string
	// Version and Commit of leasesim, and the Date (YYYY-MM-DD) the report
	// was made, for the footer. The caller passes the date (the CLI: today,
	// or --date) so that a test or a --date run is byte-reproducible.
	Version, Commit, Date string
}

func (in Input) target() float64 {
	switch {
	case in.CPUTarget > 0:
		return in.CPUTarget
	case in.Sweep != nil && in.Sweep.CPUTarget > 0:
		return in.Sweep.CPUTarget
	}
	return sweep.DefaultCPUTarget
}

func (in Input) runs() []Run { return append([]Run{in.Base}, in.WhatIfs...) }

// normalized returns in with every spec's defaults applied (so the report
// shows "rsa", "1s", not empty fields).
func (in Input) normalized() Input {
	in.Base.Spec.ApplyDefaults()
	w := make([]Run, len(in.WhatIfs))
	for i, r := range in.WhatIfs {
		r.Spec.ApplyDefaults()
		w[i] = r
	}
	in.WhatIfs = w
	return in
}

// count prints n with thousands separators (go-humanize; spec.Thousands
// stays for the scenario language's own messages).
func count(n int64) string { return humanize.Comma(n) }

func pct(f float64) string { return fmt.Sprintf("%.0f %%", 100*f) }

// versionKind says "buggy" for a pre-fix client version, "fixed" otherwise.
func versionKind(v string) string {
	pv, err := clientmodel.ParseVersion(v)
	if err != nil {
		return ""
	}
	if pv.Rule == clientmodel.AdvanceOnDelivery {
		return "buggy"
	}
	return "fixed"
}

// configLabel names a knee configuration for a sentence: "the buggy client
// v3.2.23" or "transport=http2".
func configLabel(values map[string]string, base spec.Spec) string {
	var parts []string
	for _, k := range slices.Sorted(mapKeys(values)) {
		if k == "client-version" {
			continue
		}
		parts = append(parts, k+"="+values[k])
	}
	v := base.Clients.Version
	if x, ok := values["client-version"]; ok {
		v = x
	}
	s := "the " + strings.TrimSpace(versionKind(v)+" client "+v)
	if len(parts) > 0 {
		s += " and " + strings.Join(parts, ", ")
	}
	return s
}

func mapKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// clusterDesc is "7 members x 4 cores, HTTP/1.1 peers with RSA TLS".
func clusterDesc(s spec.Spec) string {
	if s.IsIdeal() {
		return "an idealised server"
	}
	c := s.Cluster
	tr := "HTTP/1.1"
	if c.Transport == "http2" {
		tr = "HTTP/2"
	}
	tls := strings.ToUpper(c.TLS) + " TLS"
	if c.TLS == "off" || c.TLS == "" {
		tls = "no TLS"
	}
	return fmt.Sprintf("%d members × %g cores, %s peers with %s", c.Members, c.Cores, tr, tls)
}

func ok(s spec.Spec, o recorder.Outcome, target float64) (bool, float64) {
	cpu := o.Peaks[sweep.LeaderCPUMetric(s)]
	return o.Summary.KeysLost == 0 && o.Summary.LeasesExpired == 0 && (s.IsIdeal() || cpu < target), cpu
}

func runPhrase(r Run, target float64) string {
	good, cpu := ok(r.Spec, r.Outcome, target)
	who := fmt.Sprintf("%s clients on %s", count(int64(r.Spec.Clients.Count)), strings.TrimSpace(versionKind(r.Spec.Clients.Version)+" "+r.Spec.Clients.Version))
	if r.Spec.IsIdeal() {
		if good {
			return who + " keep every lease"
		}
		return fmt.Sprintf("%s lose %s keys", who, count(int64(r.Outcome.Summary.KeysLost)))
	}
	if good {
		return fmt.Sprintf("%s hold (no key lost, leader CPU peak %s)", who, pct(cpu))
	}
	if r.Outcome.Summary.KeysLost > 0 {
		return fmt.Sprintf("%s lose %s keys (leader CPU peak %s)", who, count(int64(r.Outcome.Summary.KeysLost)), pct(cpu))
	}
	return fmt.Sprintf("%s lose no key but push the leader's CPU to %s, over the %s target", who, pct(cpu), pct(target))
}

// Verdict is the report's answer in one sentence.
func Verdict(in Input) string {
	in = in.normalized()
	t := in.target()
	name := in.Base.Spec.Name
	if name == "" {
		name = "this scenario"
	}
	subject := fmt.Sprintf("The %s cluster (%s, TTL %s)", name, clusterDesc(in.Base.Spec), in.Base.Spec.Clients.TTL.D())
	if in.Sweep != nil && len(in.Sweep.Knees) > 0 {
		var parts []string
		for _, k := range in.Sweep.Knees {
			n := "about " + count(int64(k.MaxClients))
			if !k.Bracketed {
				n = "at least " + count(int64(k.MaxClients))
			} else if k.MaxClients == 0 {
				n = "not even 1"
			}
			band := ""
			if k.Metastable {
				band = fmt.Sprintf("; metastable from %s to %s clients, where some seeds fail and some hold", count(int64(k.BandLow)), count(int64(k.BandHigh)))
			}
			parts = append(parts, fmt.Sprintf("%s agents with %s (first to give out: %s%s)", n, configLabel(k.Values, in.Base.Spec), k.FirstSaturating, band))
		}
		s := subject + " could have carried " + joinAnd(parts) +
			fmt.Sprintf(", keeping every key and leader CPU under %s", pct(t))
		return s + "; as run, " + runPhrase(in.Base, t) + "."
	}
	var parts []string
	for _, r := range in.runs() {
		p := runPhrase(r, t)
		if r.Label != "" && r.Label != "base" {
			p = "with " + r.Label + ", " + p
		}
		parts = append(parts, p)
	}
	s := subject + ": " + strings.Join(parts, "; ")
	if in.Sweep != nil && len(in.Sweep.Rows) > 0 {
		s += "; " + sweepPhrase(*in.Sweep)
	}
	return s + "."
}

func joinAnd(p []string) string {
	switch len(p) {
	case 0:
		return ""
	case 1:
		return p[0]
	}
	return strings.Join(p[:len(p)-1], ", ") + " and " + p[len(p)-1]
}

// sweepPhrase: "in the sweep, the largest ok client count is N (with ...)".
func sweepPhrase(r sweep.Result) string {
	var parts []string
	for _, c := range curves(r) {
		if c.knee > 0 {
			parts = append(parts, fmt.Sprintf("%s for %s", count(int64(c.knee)), c.name))
		} else {
			parts = append(parts, "none for "+c.name)
		}
	}
	return "the largest client count the sweep found ok is " + strings.Join(parts, ", ")
}

// curve is one line of a sweep: the points with clients varied and every
// other axis fixed.
type curve struct {
	name    string
	clients []float64
	rows    []sweep.Row
	knee    int // largest ok count below the first failure (0: none)
	marked  bool
	// bandLow, bandHigh: a knee search's metastable band (0: none).
	bandLow, bandHigh int
}

// curves groups a sweep's rows (or a knee search's probes) into lines over clients.
func curves(r sweep.Result) []curve {
	var out []curve
	if len(r.Knees) > 0 {
		for _, k := range r.Knees {
			c := curve{name: valuesLabel(k.Values, "")}
			for _, p := range k.Probes {
				n, _ := strconv.Atoi(p.Values["clients"])
				c.clients = append(c.clients, float64(n))
				c.rows = append(c.rows, p)
			}
			c.knee, c.marked = k.MaxClients, true
			if k.Metastable {
				c.bandLow, c.bandHigh = k.BandLow, k.BandHigh
			}
			out = append(out, c)
		}
		return out
	}
	if !slices.Contains(r.Grid.Flags(), "clients") {
		return nil
	}
	idx := map[string]int{}
	for _, row := range r.Rows {
		key := valuesLabel(row.Values, "clients")
		i, seen := idx[key]
		if !seen {
			i = len(out)
			idx[key] = i
			out = append(out, curve{name: key})
		}
		n, err := strconv.Atoi(row.Values["clients"])
		if err != nil {
			continue
		}
		out[i].clients = append(out[i].clients, float64(n))
		out[i].rows = append(out[i].rows, row)
	}
	for i := range out {
		c := &out[i]
		order := make([]int, len(c.rows))
		for j := range order {
			order[j] = j
		}
		slices.SortFunc(order, func(a, b int) int { return int(c.clients[a] - c.clients[b]) })
		var xs []float64
		var rows []sweep.Row
		for _, j := range order {
			xs, rows = append(xs, c.clients[j]), append(rows, c.rows[j])
		}
		c.clients, c.rows = xs, rows
		for j, row := range rows {
			if row.Verdict != "ok" {
				c.marked = true
				break
			}
			c.knee = int(xs[j])
		}
	}
	return out
}

func valuesLabel(v map[string]string, skip string) string {
	var parts []string
	for _, k := range slices.Sorted(mapKeys(v)) {
		if k != skip {
			parts = append(parts, k+"="+v[k])
		}
	}
	if len(parts) == 0 {
		return "base"
	}
	return strings.Join(parts, " ")
}

// Row of the side-by-side table.
type tableRow struct {
	Name  string
	Cells []string
}

type page struct {
	Title       string
	Verdict     string
	Scenario    string
	Description string
	Settings    []tableRow
	Runs        []string
	Compare     []tableRow
	Charts      []Chart
	SweepCharts []Chart
	Knees       []tableRow
	KneeHead    []string
	Command     string
	Version     string
	Commit      string
	Date        string
}

// Render writes the report.
func Render(w io.Writer, in Input) error {
	pg, err := build(in)
	if err != nil {
		return err
	}
	return tmpl.Execute(w, pg)
}

func build(in Input) (page, error) {
	in = in.normalized()
	t := in.target()
	runs := in.runs()
	title := "leasesim capacity report"
	if in.Base.Spec.Name != "" {
		title += ": " + in.Base.Spec.Name
	}
	pg := page{Title: title, Verdict: Verdict(in), Scenario: in.Base.Spec.Name,
		Description: strings.Join(strings.Fields(in.Base.Spec.Description), " "), Command: in.Command,
		Version: in.Version, Commit: in.Commit, Date: in.Date}
	s := in.Base.Spec
	pg.Settings = []tableRow{
		{"server", []string{clusterDesc(s)}},
		{"clients", []string{fmt.Sprintf("%s, TTL %s, clientv3 %s (%s), consumer %s, start spread %s, placement %s",
			count(int64(s.Clients.Count)), s.Clients.TTL.D(), s.Clients.Version, versionKind(s.Clients.Version), s.Clients.Consumer, s.Clients.StartSpread.D(), orDefault(s.Clients.Placement, "round-robin"))}},
		{"run", []string{fmt.Sprintf("%s of virtual time, seed %d, %s buckets", s.Duration.D(), s.Seed, s.Bucket.D())}},
		{"healthy means", []string{fmt.Sprintf("no lease expired and leader CPU (peak second) under %s", pct(t))}},
	}
	if r, err := s.Resolve(); err == nil && r.Cluster != nil && r.Cluster.Fast {
		// An approximation must say so where the figures are read.
		pg.Settings = append(pg.Settings, tableRow{"fidelity", []string{r.Cluster.FidelityString() +
			": an approximation that storms earlier than the exact mode near a knee; its error per metric is in leasesim's README (\"The fast mode\")"}})
	}
	for _, r := range runs {
		pg.Runs = append(pg.Runs, orDefault(r.Label, "base"))
	}
	row := func(name string, f func(Run) string) {
		tr := tableRow{Name: name}
		for _, r := range runs {
			tr.Cells = append(tr.Cells, f(r))
		}
		pg.Compare = append(pg.Compare, tr)
	}
	peak := func(m recorder.MetricName, f func(float64) string) func(Run) string {
		return func(r Run) string { return f(r.Outcome.Peaks[m]) }
	}
	numf := func(x float64) string { return count(int64(x + 0.5)) }
	row("verdict", func(r Run) string {
		if g, _ := ok(r.Spec, r.Outcome, t); g {
			return "ok"
		}
		return "fail"
	})
	row("client version", func(r Run) string { return r.Spec.Clients.Version + " (" + versionKind(r.Spec.Clients.Version) + ")" })
	row("renewals/s (last 10 % of run)", func(r Run) string {
		d := r.Spec.Duration.D()
		return numf(r.Outcome.Summary.MeanRenewalsPerS(d*9/10, d))
	})
	row("leader CPU (peak second)", func(r Run) string { return pct(r.Outcome.Peaks[sweep.LeaderCPUMetric(r.Spec)]) })
	row("new peer conns/s (peak)", peak(recorder.NewPeerConnections, numf))
	row("TLS handshakes/s (peak)", peak(recorder.TLSHandshakes, numf))
	row("leader queue memory (peak)", peak(recorder.LeaderQueueBytes, func(x float64) string { return fmt.Sprintf("%.1f MiB", x/(1<<20)) }))
	row("TIME-WAIT on the leader (peak)", peak(recorder.TimeWaitLeader, numf))
	row("renew interval p50 / p99 / max", func(r Run) string {
		p := r.Outcome.Summary.IntervalMs
		return fmt.Sprintf("%s / %s / %s", msStr(p.P50), msStr(p.P99), msStr(p.Max))
	})
	row("leases expired", func(r Run) string { return count(int64(r.Outcome.Summary.LeasesExpired)) })
	row("keys lost", func(r Run) string { return count(int64(r.Outcome.Summary.KeysLost)) })

	charts, err := timeCharts(runs, t)
	if err != nil {
		return pg, err
	}
	pg.Charts = charts
	if in.Sweep != nil {
		sc, err := sweepCharts(*in.Sweep, t)
		if err != nil {
			return pg, err
		}
		pg.SweepCharts = sc
		if len(in.Sweep.Knees) > 0 {
			pg.KneeHead = []string{"configuration", "max clients", "headroom at " + count(int64(in.Sweep.Knees[0].At)), "first to saturate", "probes",
				"seeds", "probe horizon", "metastable band", "failing seeds by clients"}
			for _, k := range in.Sweep.Knees {
				mc := count(int64(k.MaxClients))
				if !k.Bracketed {
					mc = "≥ " + mc
				}
				band := "none seen"
				if k.Metastable {
					band = count(int64(k.BandLow)) + " – " + count(int64(k.BandHigh))
				}
				var fr []string
				for _, p := range k.Points {
					fr = append(fr, fmt.Sprintf("%s: %d/%d", count(int64(p.Clients)), p.Failed, p.Seeds))
				}
				pg.Knees = append(pg.Knees, tableRow{Name: valuesLabel(k.Values, ""), Cells: []string{mc,
					fmt.Sprintf("%+.0f %%", 100*k.Headroom), k.FirstSaturating, strconv.Itoa(len(k.Probes)),
					strconv.Itoa(len(k.Seeds)), (time.Duration(k.HorizonS) * time.Second).String(), band, strings.Join(fr, ", ")}})
			}
		}
	}
	return pg, nil
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func msStr(v float64) string {
	if v == 0 {
		return "-"
	}
	return (time.Duration(v * 1e6)).String()
}

// timeCharts: one chart per quantity with every run as a line, and the
// connection states per run.
func timeCharts(runs []Run, target float64) ([]Chart, error) {
	var out []Chart
	cluster := !runs[0].Spec.IsIdeal()
	series := func(r Run, name recorder.MetricName) line {
		l := line{name: orDefault(r.Label, "base")}
		bs := r.Outcome.Summary.BucketSeconds
		var vals []float64
		if name == "renewals" {
			vals = r.Outcome.Summary.RenewalsPerS
		} else {
			vals = r.Outcome.Metric(name)
		}
		for i, v := range vals {
			l.xs = append(l.xs, float64(i)*bs)
			l.ys = append(l.ys, v)
		}
		return l
	}
	type spec struct {
		id, title, ylabel string
		metric            recorder.MetricName
		caption           string
		scale             float64
	}
	specs := []spec{{"renewals", "Renewals per second at the leader", "renewals/s", recorder.RenewalsAtLeader, "Lease renewals the leader applied, per 1 s bucket.", 1}}
	if !cluster {
		specs[0] = spec{"renewals", "Renewals per second at the server", "renewals/s", "renewals", "Lease renewals the idealised server applied, per bucket.", 1}
	} else {
		specs = append(specs,
			spec{"leader-cpu", "Leader CPU", "% of its cores", "cpu", "Busy share of the leader's cores per second; the dashed line is the target.", 100},
			spec{"queue-memory", "Leader queue memory", "MiB", recorder.LeaderQueueBytes, "Memory held by requests queued for the leader's CPU (peak of each second).", 1.0 / (1 << 20)},
			spec{"handshakes", "TLS handshakes per second at the leader", "handshakes/s", recorder.TLSHandshakes, "Full (or resumed) peer TLS handshakes the leader served.", 1},
			spec{"new-conns", "New peer connections per second", "connections/s", recorder.NewPeerConnections, "TCP connections followers dialled to the leader.", 1},
		)
	}
	specs = append(specs, spec{"keys-lost", "Leases expired and keys lost (cumulative)", "keys lost", "keys_lost_cum", "Keys deleted because their lease expired, running total.", 1})
	for _, sp := range specs {
		var lines []line
		for _, r := range runs {
			var l line
			switch sp.metric {
			case "cpu":
				l = series(r, sweep.LeaderCPUMetric(r.Spec))
			case "keys_lost_cum":
				l = cumulativeKeys(r)
			default:
				l = series(r, sp.metric)
			}
			for i := range l.ys {
				l.ys[i] *= sp.scale
			}
			lines = append(lines, l)
		}
		// Runs whose peaks differ by two orders of magnitude or more get a
		// chart each (split axes): on one linear axis the small one is a
		// flat line at zero.
		groups := [][]line{lines}
		if sp.metric != "cpu" && spread(lines) >= 100 {
			groups = nil
			for _, l := range lines {
				groups = append(groups, []line{l})
			}
		}
		for gi, g := range groups {
			title, id := sp.title, sp.id
			if len(groups) > 1 {
				title += ": " + g[0].name
				id = fmt.Sprintf("%s-%d", sp.id, gi)
			}
			p := newPlot(title, "time (s)", sp.ylabel)
			p.timeAxis()
			if err := addLines(p, g, false); err != nil {
				return nil, err
			}
			if sp.metric == "cpu" {
				if err := hline(p, 100*target, 0, runs[0].Spec.Duration.D().Seconds(), "target "+pct(target)); err != nil {
					return nil, err
				}
				p.Y.Max = 105
			}
			caption := sp.caption
			if len(groups) > 1 {
				caption += " One chart per run: their peaks differ by two orders of magnitude or more."
			}
			c, err := render(p, id, title, caption)
			if err != nil {
				return nil, err
			}
			out = append(out, c)
		}
	}
	if cluster {
		for i, r := range runs {
			label := orDefault(r.Label, "base")
			p := newPlot("Peer connections by state: "+label, "time (s)", "connections")
			p.timeAxis()
			var lines []line
			for _, m := range []struct {
				metric recorder.MetricName
				name   string
			}{
				{recorder.PeerEstablished, "established"},
				{recorder.TimeWaitLeader, "TIME-WAIT on the leader"},
				{recorder.TimeWaitFollowers, "TIME-WAIT on followers"},
				{recorder.CloseWaitLeader, "CLOSE-WAIT on the leader"},
			} {
				l := series(r, m.metric)
				l.name = m.name
				lines = append(lines, l)
			}
			if err := addLines(p, lines, false); err != nil {
				return nil, err
			}
			c, err := render(p, fmt.Sprintf("conn-states-%d", i), "Peer connections by state: "+label,
				"ESTABLISHED peer connections, TIME-WAIT on the leader and on followers, CLOSE-WAIT on the leader (peak of each second).")
			if err != nil {
				return nil, err
			}
			out = append(out, c)
		}
	}
	// Renew-interval percentiles, the runs side by side.
	var names []string
	var p50, p99, mx []float64
	for _, r := range runs {
		names = append(names, orDefault(r.Label, "base"))
		iv := r.Outcome.Summary.IntervalMs
		p50, p99, mx = append(p50, iv.P50), append(p99, iv.P99), append(mx, iv.Max)
	}
	p, err := barChart("Renew interval per lease", "ms", names, []line{{name: "median (p50)", ys: p50}, {name: "99th percentile", ys: p99}, {name: "longest", ys: mx}})
	if err != nil {
		return nil, err
	}
	c, err := render(p, "intervals", "Renew-interval percentiles", "Time between a lease's consecutive keepalive requests: p50, p99 and max over every lease.")
	if err != nil {
		return nil, err
	}
	return append(out, c), nil
}

// spread is the ratio of the largest to the smallest peak of the lines
// (0 if a line is all zero: nothing to squeeze).
func spread(lines []line) float64 {
	lo, hi := math.Inf(1), 0.0
	for _, l := range lines {
		pk := 0.0
		for _, y := range l.ys {
			pk = max(pk, y)
		}
		if pk <= 0 {
			return 0
		}
		lo, hi = min(lo, pk), max(hi, pk)
	}
	if len(lines) < 2 {
		return 0
	}
	return hi / lo
}

func cumulativeKeys(r Run) line {
	l := line{name: orDefault(r.Label, "base")}
	bs := r.Outcome.Summary.BucketSeconds
	vals := r.Outcome.Metric(recorder.KeysLost)
	if vals == nil {
		// idealised server: no per-bucket metric; the total at the end
		n := int(r.Spec.Duration.D().Seconds()/max(bs, 1e-9) + 0.5)
		for i := 0; i <= n; i++ {
			l.xs = append(l.xs, float64(i)*bs)
			v := 0.0
			if i == n {
				v = float64(r.Outcome.Summary.KeysLost)
			}
			l.ys = append(l.ys, v)
		}
		return l
	}
	sum := 0.0
	for i, v := range vals {
		sum += v * bs
		l.xs = append(l.xs, float64(i)*bs)
		l.ys = append(l.ys, sum)
	}
	return l
}

// sweepCharts: leader CPU peak and keys lost against clients, one line per
// configuration, the knee marked.
func sweepCharts(r sweep.Result, target float64) ([]Chart, error) {
	cs := curves(r)
	if len(cs) == 0 {
		return nil, nil
	}
	var out []Chart
	for _, m := range []struct {
		id, title, ylabel string
		f                 func(sweep.Row) float64
		target            bool
	}{
		{"sweep-cpu", "Leader CPU peak against clients", "% of its cores", func(x sweep.Row) float64 { return 100 * x.LeaderCPUPeak }, true},
		{"sweep-keys", "Keys lost against clients", "keys lost", func(x sweep.Row) float64 { return float64(x.KeysLost) }, false},
		{"sweep-handshakes", "Peak TLS handshakes/s against clients", "handshakes/s", func(x sweep.Row) float64 { return x.PeakHandshakesPerS }, false},
	} {
		p := newPlot(m.title, "clients", m.ylabel)
		var lines []line
		minX, maxX := math.Inf(1), 0.0
		for _, c := range cs {
			l := line{name: c.name, xs: c.clients}
			for _, row := range c.rows {
				l.ys = append(l.ys, m.f(row))
			}
			lines = append(lines, l)
			for _, x := range c.clients {
				minX, maxX = min(minX, x), max(maxX, x)
			}
		}
		if minX > 0 && maxX/minX >= 10 {
			p.logX() // e.g. 10,000 to 160,000 clients: a linear axis squeezes the small counts into a sliver
		}
		var err error
		if len(r.Knees) > 0 {
			// The bands first, beneath the points.
			ymax := 0.0
			for _, l := range lines {
				for _, y := range l.ys {
					ymax = max(ymax, y)
				}
			}
			if m.target {
				ymax = max(ymax, 105)
			}
			if err := shadeBands(p, cs, max(ymax, 1)); err != nil {
				return nil, err
			}
			err = addPoints(p, lines) // probes of a bisection: points, not a curve
		} else {
			err = addLines(p, lines, true)
		}
		if err != nil {
			return nil, err
		}
		if m.target {
			if err := hline(p, 100*target, max(minX, 1), maxX, "target "+pct(target)); err != nil {
				return nil, err
			}
			p.Y.Max = max(p.Y.Max, 105) // room for the probes at 100 %
		}
		if err := markKnees(p, cs, m.f); err != nil {
			return nil, err
		}
		caption := "Each point is one run; a ringed point marks the knee: the largest client count with no key lost and leader CPU under the target."
		if len(r.Knees) > 0 {
			caption = "Each point is one run (one seed at one client count); a ringed point marks the knee: the largest client count whose every seed lost no key and kept leader CPU under the target, below the lowest count with a failing seed. A shaded span is a metastable band: from the lowest count with a failing seed to the highest with an ok one."
		}
		ch, err := render(p, m.id, m.title, caption)
		if err != nil {
			return nil, err
		}
		out = append(out, ch)
	}
	return out, nil
}

func markKnees(p chart, cs []curve, f func(sweep.Row) float64) error {
	for i, c := range cs {
		if c.knee <= 0 || !c.marked {
			continue
		}
		for j, x := range c.clients {
			if int(x) != c.knee {
				continue
			}
			if err := addKnee(p, x, f(c.rows[j]), i, fmt.Sprintf("knee %s: %s", c.name, count(int64(c.knee)))); err != nil {
				return err
			}
			break
		}
	}
	return nil
}
