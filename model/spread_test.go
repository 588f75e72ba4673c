package model_test

import (
	"math"
	"testing"
	"time"

	"github.com/leasesim/leasesim/model"
	"github.com/leasesim/leasesim/sim"
)

// A job of n requests with service-time spread: with IndependentDraws (the
// fast mode's cohorts) its work varies as the sum of n independent requests'
// (variance of the factor (e^(sigma^2)-1)/n), else as one request's scaled
// by n (the event writers' batches). Both keep the mean: every request
// costs its work on average.
func TestSpreadDrawsOfCohorts(t *testing.T) {
	const sigma, n, jobs = 0.5, 40, 20_000
	const work = time.Millisecond
	for _, independent := range []bool{false, true} {
		cpu := model.NewCPU(model.CPUConfig{Cores: 1, Bucket: time.Second, Duration: time.Hour,
			Spread: sigma, Rand: sim.NewRand(1, "service-time"), IndependentDraws: independent})
		var now sim.Time
		var sum, sum2 float64
		for range jobs {
			done := cpu.Force(now, work, n, 0)
			cpu.Done(n, 0)
			f := float64(done-now) / float64(n*work)
			sum += f
			sum2 += f * f
			now = done
		}
		mean := sum / jobs
		variance := sum2/jobs - mean*mean
		want := math.Expm1(sigma * sigma)
		if independent {
			want /= n
		}
		if math.Abs(mean-1) > 0.02 || math.Abs(variance-want) > 0.1*want {
			t.Errorf("independent %v: factor mean %.4f variance %.5f, want 1 and %.5f", independent, mean, variance, want)
		}
	}
}
