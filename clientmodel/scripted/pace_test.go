package scripted_test

import (
	"testing"

	"github.com/leasesim/leasesim/clientmodel"
	"github.com/leasesim/leasesim/clientmodel/realclient"
	"github.com/leasesim/leasesim/clientmodel/scripted"
)

// The read-then-sleep consumer (for r := range ch { ...; time.Sleep(p) }),
// model against the real v3.7.3 client, timestamp for timestamp, on the pace
// corpus: the TTL 3 s, 0.3 reads/s pair and 40 generated scripts with every
// other kind of event (delays, resets, revocations). The legacy module
// records the real v3.3.8 and v3.3.9 on the same corpus
// (TestModelMatchesLegacyGoldens).
func TestPaceConsumerMatchesRealClient(t *testing.T) {
	v, err := clientmodel.ParseVersion(realclient.Version)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range scripted.PaceCorpus(paceCorpusSize) {
		want := realclient.Run(t, s)
		got, err := scripted.Replay(s, v)
		if err != nil {
			t.Fatal(err)
		}
		if d := scripted.Diff(want, got); d != "" {
			t.Errorf("%s: model differs from real %s:\n%s", s.Name, realclient.Version, d)
		}
	}
}

// A pace consumer's sleeps start at its reads, a rate consumer's reads fall on
// a grid: with the pre-fix rule, TTL 3 s and 0.3 reads/s, the channel fills
// later and the collapse to 500 ms renewals starts 3 s later: the first
// renewal 500 ms after the one before at 45.501 s, not 42.501 s (+ the 50 ns
// connect offset). The legacy module asserts the same instants of the real
// v3.3.8 library, to the nanosecond (TestPaceCollapseV338).
func TestPaceCollapseLaterThanRate(t *testing.T) {
	v, _ := clientmodel.ParseVersion("v3.3.8")
	first500 := func(c scripted.Consumer) int64 {
		s := scripted.Script{Name: "pace-vs-rate", DurationNs: 90e9, Leases: []scripted.Lease{
			{ID: 1, TTLs: 3, ConnectDelayNs: 1e6 + 50, DelaysNs: []int64{1001}, Consumer: c}}}
		r, err := scripted.Replay(s, v)
		if err != nil {
			t.Fatal(err)
		}
		req := scripted.Expand(r.Leases[0].Requests)
		for i := 1; i < len(req); i++ {
			if req[i]-req[i-1] <= 500e6 {
				return req[i]
			}
		}
		return -1
	}
	const period = 3_333_333_333 // 1/0.3 s
	rate := first500(scripted.Consumer{Kind: scripted.ConsumerRate, PeriodNs: period, PhaseNs: 7})
	pace := first500(scripted.Consumer{Kind: scripted.ConsumerPace, PeriodNs: period})
	if rate != 42_501_000_050 || pace != 45_501_000_050 {
		t.Fatalf("first 500 ms renewal: rate at %d ns (want 42,501,000,050), pace at %d ns (want 45,501,000,050)", rate, pace)
	}
}
