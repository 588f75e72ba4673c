package sampler

import (
	"fmt"
	"sort"
	"time"
)

// Rate returns how fast a cumulative counter grew over the window [from, to],
// per second. It takes the last sample at or before from and the first at or
// after to, so the window actually measured contains the one asked for, and
// divides the counter's increase between them by the time between them,
// not by to-from: samples are not exactly on a grid (see Run), and dividing
// by the requested width would over- or under-state the rate.
//
// samples must be in time order. It is an error if they do not cover the
// window (no sample at or before from, or none at or after to), if the window
// is empty, or if the counter decreases inside it (a restarted process or a
// wrapped counter), since then the difference is not the number of events.
func Rate(samples []Sample[float64], from, to time.Time) (perSecond float64, err error) {
	if !to.After(from) {
		return 0, fmt.Errorf("sampler: rate window is empty: to - from = %v", to.Sub(from))
	}
	i, j, err := cover(samples, from, to)
	if err != nil {
		return 0, err
	}
	if err := nonDecreasing(samples, i, j); err != nil {
		return 0, err
	}
	a, b := samples[i], samples[j]
	return (b.V - a.V) / b.At.Sub(a.At).Seconds(), nil
}

// PerInterval splits [from, to] into consecutive buckets of width bucket and
// returns how much a cumulative counter grew in each: with bucket =
// time.Second, the per-second counts (for checking a lockstep pattern such
// as 500, 0, 500, 0).
//
// The counter is known only at sample times, so an increase is attributed to
// the bucket containing the first sample that shows it: bucket k covers
// (from + k*bucket, from + (k+1)*bucket], and its count is the value of the
// last sample at or before its end minus that of the last sample at or
// before its start. Events close to a bucket boundary can therefore land in
// the next bucket; the uncertainty is one sampling interval, so sample
// several times per bucket.
//
// to-from must be a positive multiple of bucket. The samples must be in time
// order, cover [from, to] as for Rate, and never decrease inside it.
func PerInterval(samples []Sample[float64], from, to time.Time, bucket time.Duration) ([]float64, error) {
	width := to.Sub(from)
	if bucket <= 0 || width <= 0 || width%bucket != 0 {
		return nil, fmt.Errorf("sampler: window of %v is not a positive multiple of the %v bucket", width, bucket)
	}
	i, j, err := cover(samples, from, to)
	if err != nil {
		return nil, err
	}
	if err := nonDecreasing(samples, i, j); err != nil {
		return nil, err
	}
	n := int(width / bucket)
	out := make([]float64, n)
	prev := samples[i].V
	for k := range n {
		end := from.Add(time.Duration(k+1) * bucket)
		v := samples[lastAtOrBefore(samples, end)].V
		out[k] = v - prev
		prev = v
	}
	return out, nil
}

// Times in errors are offsets from the first sample, which read better than
// wall-clock instants when comparing with a run's log.

// cover returns the index i of the last sample at or before from and the
// index j of the first at or after to, or an error saying which end of the
// window the samples do not reach.
func cover(samples []Sample[float64], from, to time.Time) (i, j int, err error) {
	if len(samples) == 0 {
		return 0, 0, fmt.Errorf("sampler: no samples")
	}
	if err := inOrder(samples); err != nil {
		return 0, 0, err
	}
	first, last := samples[0].At, samples[len(samples)-1].At
	i = lastAtOrBefore(samples, from)
	if i < 0 {
		return 0, 0, fmt.Errorf("sampler: window [%s, %s] is not covered: it starts %v before the first sample",
			rel(from, first), rel(to, first), first.Sub(from))
	}
	j = sort.Search(len(samples), func(k int) bool { return !samples[k].At.Before(to) })
	if j == len(samples) {
		return 0, 0, fmt.Errorf("sampler: window [%s, %s] is not covered: it ends %v after the last sample",
			rel(from, first), rel(to, first), to.Sub(last))
	}
	return i, j, nil
}

// lastAtOrBefore returns the index of the last sample at or before t, or -1.
func lastAtOrBefore(samples []Sample[float64], t time.Time) int {
	return sort.Search(len(samples), func(k int) bool { return samples[k].At.After(t) }) - 1
}

func inOrder(samples []Sample[float64]) error {
	for k := 1; k < len(samples); k++ {
		if samples[k].At.Before(samples[k-1].At) {
			return fmt.Errorf("sampler: samples out of time order: #%d is %v before #%d",
				k, samples[k-1].At.Sub(samples[k].At), k-1)
		}
	}
	return nil
}

// nonDecreasing checks that samples[i..j] never decrease.
func nonDecreasing(samples []Sample[float64], i, j int) error {
	for k := i + 1; k <= j; k++ {
		if samples[k].V < samples[k-1].V {
			return fmt.Errorf("sampler: counter decreased from %v to %v at sample #%d, %s (reset or wrap?)",
				samples[k-1].V, samples[k].V, k, rel(samples[k].At, samples[0].At))
		}
	}
	return nil
}

// rel formats t as a signed offset from ref, e.g. "+1.5s" or "-200ms".
func rel(t, ref time.Time) string {
	d := t.Sub(ref)
	if d < 0 {
		return d.String()
	}
	return "+" + d.String()
}
