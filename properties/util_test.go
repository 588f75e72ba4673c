package properties

import "time"

func fmtTimes(ts []int64) []time.Duration {
	out := make([]time.Duration, len(ts))
	for i, v := range ts {
		out[i] = time.Duration(v)
	}
	return out
}
