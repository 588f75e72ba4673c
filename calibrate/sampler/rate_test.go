package sampler

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Unix(1_700_000_000, 0)

func ms(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }

// series builds samples from (milliseconds, value) pairs.
func series(pairs ...[2]float64) []Sample[float64] {
	out := make([]Sample[float64], len(pairs))
	for i, p := range pairs {
		out[i] = Sample[float64]{At: ms(int(p[0])), V: p[1]}
	}
	return out
}

// Irregularly spaced samples of a counter, as a slow probe would produce.
var irregular = series(
	[2]float64{0, 0}, [2]float64{130, 10}, [2]float64{290, 10}, [2]float64{500, 40},
	[2]float64{710, 55}, [2]float64{1020, 100}, [2]float64{1330, 100},
	[2]float64{1500, 130}, [2]float64{2070, 200},
)

func TestRate(t *testing.T) {
	// Expected values worked out by hand from the table above: the increase
	// between the samples bracketing the window over the time between them.
	tests := []struct {
		name     string
		from, to int // ms
		want     float64
	}{
		{"window on samples", 500, 710, 15 / 0.21},
		{"whole series", 0, 2070, 200 / 2.07},
		{"window widened to the samples around it", 300, 1400, (130 - 10) / (1.500 - 0.290)},
		{"inside one sampling interval", 1100, 1200, 0 / 0.31},
		{"starts on a sample, ends between", 130, 1000, (100 - 10) / (1.020 - 0.130)},
		{"flat stretch", 1020, 1330, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Rate(irregular, ms(tc.from), ms(tc.to))
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(got-tc.want) > 1e-9*math.Max(1, tc.want) {
				t.Errorf("Rate(+%dms, +%dms) = %v/s, want %v/s", tc.from, tc.to, got, tc.want)
			}
		})
	}
}

func TestRateErrors(t *testing.T) {
	tests := []struct {
		name     string
		samples  []Sample[float64]
		from, to int // ms
		want     string
	}{
		{"starts before the first sample", irregular, -1, 500, "starts 1ms before the first sample"},
		{"ends after the last sample", irregular, 500, 2100, "ends 30ms after the last sample"},
		{"empty window", irregular, 500, 500, "empty"},
		{"reversed window", irregular, 700, 500, "empty"},
		{"no samples", nil, 0, 1, "no samples"},
		{"one sample", series([2]float64{0, 5}), 0, 1, "after the last sample"},
		{"out of order", series([2]float64{0, 0}, [2]float64{200, 1}, [2]float64{100, 2}), 0, 100, "out of time order"},
		{"counter reset", series([2]float64{0, 50}, [2]float64{100, 60}, [2]float64{200, 3}, [2]float64{300, 9}), 0, 300, "decreased from 60 to 3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Rate(tc.samples, ms(tc.from), ms(tc.to))
			if err == nil {
				t.Fatalf("Rate = %v, want an error", got)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
	// A reset outside the window does not matter.
	s := series([2]float64{0, 50}, [2]float64{100, 3}, [2]float64{200, 9})
	if got, err := Rate(s, ms(100), ms(200)); err != nil || got != 60 {
		t.Errorf("Rate after a reset outside the window = %v, %v; want 60, nil", got, err)
	}
}

// A lockstep pattern: bursts of 500 events in every other second, sampled
// about every 100 ms with jitter, must come out as 500, 0, 500, 0, ...
func TestPerIntervalLockstep(t *testing.T) {
	bursts := []int{400, 2400, 4400} // ms; 500 events each
	const seconds = 6
	var samples []Sample[float64]
	for i := 0; i <= seconds*10; i++ {
		at := i * 100
		if i > 0 && i < seconds*10 {
			at += (i*37)%41 - 20 // deterministic jitter of ±20 ms
		}
		v := 0.0
		for _, b := range bursts {
			if b <= at {
				v += 500
			}
		}
		samples = append(samples, Sample[float64]{At: ms(at), V: v})
	}
	// Independently: events per second straight from the burst times.
	want := make([]float64, seconds)
	for _, b := range bursts {
		want[b/1000] += 500
	}

	got, err := PerInterval(samples, ms(0), ms(seconds*1000), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("PerInterval = %v, want %v", got, want)
	}
	if !slices.Equal(want, []float64{500, 0, 500, 0, 500, 0}) {
		t.Errorf("test setup: expected a 500,0 lockstep, built %v", want)
	}
}

func TestPerInterval(t *testing.T) {
	tests := []struct {
		name     string
		samples  []Sample[float64]
		from, to int // ms
		bucket   time.Duration
		want     []float64
	}{
		{
			"samples on the boundaries belong to the bucket they end",
			series([2]float64{0, 0}, [2]float64{1000, 5}, [2]float64{1500, 7}, [2]float64{2000, 7}, [2]float64{3000, 10}),
			0, 3000, time.Second, []float64{5, 2, 3},
		},
		{
			"an increase goes to the bucket of the first sample showing it",
			series([2]float64{0, 0}, [2]float64{900, 4}, [2]float64{1100, 9}, [2]float64{3000, 12}),
			0, 3000, time.Second, []float64{4, 5, 3},
		},
		{
			"window inside the series",
			irregular, 500, 1500, 500 * time.Millisecond,
			// (500,1000]: last at or before 1000 is 710 -> 55; (1000,1500] -> 130.
			[]float64{55 - 40, 130 - 55},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := PerInterval(tc.samples, ms(tc.from), ms(tc.to), tc.bucket)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("PerInterval = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPerIntervalErrors(t *testing.T) {
	tests := []struct {
		name     string
		from, to int // ms
		bucket   time.Duration
		want     string
	}{
		{"not a multiple", 0, 1500, time.Second, "not a positive multiple"},
		{"zero bucket", 0, 1000, 0, "not a positive multiple"},
		{"empty window", 500, 500, time.Millisecond, "not a positive multiple"},
		{"uncovered end", 0, 3000, time.Second, "ends 930ms after the last sample"},
		{"uncovered start", -100, 900, 500 * time.Millisecond, "starts 100ms before the first sample"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := PerInterval(irregular, ms(tc.from), ms(tc.to), tc.bucket)
			if err == nil {
				t.Fatalf("PerInterval = %v, want an error", got)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
	reset := series([2]float64{0, 10}, [2]float64{1000, 2}, [2]float64{2000, 4})
	if _, err := PerInterval(reset, ms(0), ms(2000), time.Second); err == nil || !strings.Contains(err.Error(), "decreased") {
		t.Errorf("PerInterval over a reset: error %v, want one about the decrease", err)
	}
}
