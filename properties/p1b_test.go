package properties

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/leasesim/leasesim/clientmodel/realclient"
	"github.com/leasesim/leasesim/clientmodel/scripted"
)

// genSlow draws a script of 1-3 leases whose every answer takes the same d
// (0 ms to 3.5 s, + 1 µs) and a TTL for which the derivation applies.
func genSlow() *rapid.Generator[scripted.Script] {
	return rapid.Custom(func(t *rapid.T) scripted.Script {
		s := scripted.Script{Name: "p1b", DurationNs: rapid.Int64Range(30, 3600).Draw(t, "duration_s") * sec}
		n := rapid.IntRange(1, 3).Draw(t, "clients")
		for i := 1; i <= n; i++ {
			p := func(x string) string { return fmt.Sprintf("lease%d.%s", i, x) }
			d := rapid.Int64Range(0, 3500).Draw(t, p("delay_ms"))*ms + us
			amp := int64(Amplification(time.Duration(d)))
			minTTL := max(3, (3*amp*d+sec-1)/sec)
			l := scripted.Lease{
				ID:             int64(i),
				StartNs:        rapid.Int64Range(0, 5000).Draw(t, p("start_ms")) * ms,
				ConnectDelayNs: rapid.SampledFrom([]int64{0, 1, 20}).Draw(t, p("connect_delay_ms"))*ms + 50,
				TTLs:           rapid.Int64Range(minTTL, max(minTTL, 600)).Draw(t, p("ttl_s")),
				Consumer:       scripted.Consumer{Kind: rapid.SampledFrom([]string{scripted.ConsumerDrain, scripted.ConsumerNever, scripted.ConsumerStopAfter}).Draw(t, p("consumer")), K: 3},
				DelaysNs:       []int64{d},
			}
			if !SlowValid(l.TTLs, time.Duration(d)) {
				t.Fatalf("generator: TTL %d, d %v outside the derivation", l.TTLs, time.Duration(d))
			}
			s.Leases = append(s.Leases, l)
		}
		return s
	})
}

func checkSlow(s scripted.Script, r scripted.Result) error {
	for i, l := range s.Leases {
		d := time.Duration(l.DelaysNs[0])
		want := PredictSlowTimeline(l, d, s.DurationNs)
		got := scripted.Expand(r.Leases[i].Requests)
		if !reflect.DeepEqual(got, want) {
			return fmt.Errorf("lease %d (TTL %ds, d %v, A(d) %d, P %v): requests\n got  %v\n want %v",
				l.ID, l.TTLs, d, Amplification(d), RoundPeriod(l.TTLs, d), fmtTimes(got), fmtTimes(want))
		}
	}
	return nil
}

// P1b on the model: budget 500 scripts, for the fixed rule (every consumer)
// and the pre-fix rule (consumer drain, so that the channel never fills and
// only the slow answers act): the request timeline is exactly
// PredictSlowTimeline, i.e. A(d) = ceil(d/500ms) requests per round.
func TestP1bAmplificationModel(t *testing.T) {
	fixed, prefix := mustVersion(t, realclient.Version), mustVersion(t, "v3.2.23")
	gen := genSlow()
	withChecks(t, 500, func() {
		rapid.Check(t, func(rt *rapid.T) {
			s := gen.Draw(rt, "script")
			res, err := scripted.Replay(s, fixed)
			if err != nil {
				rt.Fatal(err)
			}
			if err := checkSlow(s, res); err != nil {
				rt.Fatalf("fixed: %v", err)
			}
			for i := range s.Leases {
				s.Leases[i].Consumer = scripted.Consumer{Kind: scripted.ConsumerDrain}
			}
			res, err = scripted.Replay(s, prefix)
			if err != nil {
				rt.Fatal(err)
			}
			if err := checkSlow(s, res); err != nil {
				rt.Fatalf("pre-fix, drain: %v", err)
			}
		})
	})
}

// P1b on the real client for a few d (TTL 60 s, 10 min, never reading), and
// the table of requests per renewal round it measures.
func TestP1bAmplificationRealClient(t *testing.T) {
	for _, dms := range []int64{300, 700, 1200, 2300, 3400} {
		d := dms*ms + us
		s := scripted.Script{Name: fmt.Sprintf("slow-%dms", dms), DurationNs: 600 * sec, Leases: []scripted.Lease{{
			ID: 1, StartNs: 3 * ms, ConnectDelayNs: 50, TTLs: 60,
			Consumer: scripted.Consumer{Kind: scripted.ConsumerNever}, DelaysNs: []int64{d},
		}}}
		got := realclient.Run(t, s)
		if err := checkSlow(s, got); err != nil {
			t.Errorf("real %s, d %v: %v", realclient.Version, time.Duration(d), err)
			continue
		}
		n := len(scripted.Expand(got.Leases[0].Requests))
		p := RoundPeriod(60, time.Duration(d))
		rounds := (n + Amplification(time.Duration(d)) - 1) / Amplification(time.Duration(d))
		t.Logf("d %-12v A(d) = %d requests per round, period %v: %d requests in %d rounds in 10 min (%.3f/s vs %.3f/s with a fast server)",
			time.Duration(d), Amplification(time.Duration(d)), p, n, rounds,
			float64(Amplification(time.Duration(d)))/p.Seconds(), 1/RoundPeriod(60, 0).Seconds())
	}
}

// The prediction has teeth: a formula with one request fewer or more per
// round, or a period one scan off, does not match the model.
func TestP1bPredictionTeeth(t *testing.T) {
	v := mustVersion(t, realclient.Version)
	l := scripted.Lease{ID: 1, ConnectDelayNs: 50, TTLs: 60, Consumer: scripted.Consumer{Kind: scripted.ConsumerDrain}, DelaysNs: []int64{1200*ms + us}}
	s := scripted.Script{Name: "teeth", DurationNs: 300 * sec, Leases: []scripted.Lease{l}}
	res, err := scripted.Replay(s, v)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkSlow(s, res); err != nil {
		t.Fatal(err)
	}
	got := scripted.Expand(res.Leases[0].Requests)
	if Amplification(1200*time.Millisecond+time.Microsecond) != 3 || got[1]-got[0] != scan || got[2]-got[1] != scan || got[3]-got[0] != int64(RoundPeriod(60, 1200*time.Millisecond+time.Microsecond)) {
		t.Fatalf("timeline %v does not show 3 requests per round", fmtTimes(got))
	}
	wrong := PredictSlowTimeline(scripted.Lease{StartNs: 0, ConnectDelayNs: 50, TTLs: 60}, 700*time.Millisecond, s.DurationNs)
	if reflect.DeepEqual(wrong, got) {
		t.Fatal("a 2-per-round prediction matches a 3-per-round timeline")
	}
}
