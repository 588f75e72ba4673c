package export

import (
	"bufio"
	"io"
)

// WriteCSV writes one row per bucket: t_s (seconds from the run's start to
// the bucket's start), renewals_per_s, then every metric, each column named
// with its unit (see the package comment for the number format).
func WriteCSV(w io.Writer, s Series) error {
	b := bufio.NewWriter(w)
	b.WriteString("t_s,renewals_per_s")
	for _, m := range s.Metrics {
		b.WriteString("," + describe(m).csvName())
	}
	b.WriteString("\n")
	for i, r := range s.RenewalsPerS {
		b.WriteString(Num(float64(i) * s.BucketSeconds))
		b.WriteString("," + Num(r))
		for _, m := range s.Metrics {
			v := 0.0
			if i < len(m.Values) {
				v = m.Values[i]
			}
			b.WriteString("," + Num(v))
		}
		b.WriteString("\n")
	}
	return b.Flush()
}
