package recorder

// Outcome is what one run produced, whichever server it simulated: the
// summary, the per-bucket series (cluster runs) with each series' peak and
// last value, and what a caller asked to keep.
type Outcome struct {
	Summary Summary
	Metrics []Metric               // per-bucket series (cluster runs)
	Events  uint64                 // events the kernel delivered: the run's cost, not a result
	Cohorts int                    // simulated clients (a lockstep cohort counts once)
	Peaks   map[MetricName]float64 // peak of each metric
	Finals  map[MetricName]float64 // last bucket of each metric
	// RTTs (cluster runs with RecordRTT): per answered keepalive, its send
	// time and its round trip as the client saw them, in ns, split by whether
	// the client's member was the leader when the answer came (Ledger).
	RTTs struct{ Direct, Forwarded [][2]int64 }
	// Sends (with RecordRTT): every keepalive each client sent, in ns.
	Sends [][]int64
}

// Metric returns the series called name, or nil.
func (o Outcome) Metric(name MetricName) []float64 {
	for _, m := range o.Metrics {
		if m.Name == name {
			return m.Values
		}
	}
	return nil
}
