package scripted

import (
	"fmt"
	"slices"

	"pgregory.net/rapid"
)

// OthersCases are hand-written scripts of a process keeping several leases
// alive at once on one lessor (Lease.Others, clientmodel.Process). Each
// process calls KeepAlive for its first lease at 0 and connects 1 ms + 50 ns
// later, so its first stream scans at 0.001000050 s + k x 500 ms and its
// deadline loop ticks on whole seconds.
func OthersCases() []Script {
	drain := Consumer{Kind: ConsumerDrain}
	return []Script{
		{
			// Leases 2 and 3 join at 0.700000013 s: both go out at the next
			// scan, 1.00100005 s, with lease 1 not yet due (TTL 6 s).
			Name: "others-one-scan", DurationNs: 60 * sec,
			Leases: []Lease{{
				ID: 1, TTLs: 6, ConnectDelayNs: ms + 50, DelaysNs: []int64{1001}, Consumer: drain,
				Others: []Regrant{
					{ID: 2, AfterNs: 700*ms + 13, TTLs: 9, DelaysNs: []int64{20*ms + 1001}},
					{ID: 3, AfterNs: 700*ms + 13, TTLs: 6, DelaysNs: []int64{1001}},
				},
			}},
		},
		{
			// Lease 2 (from 2.300000013 s) is never answered: the one
			// deadline loop, ticking on the first KeepAlive's whole seconds,
			// reaps it at 8 s (its deadline is 7.300000013 s), while lease 1
			// renews on. Lease 3 is revoked at its third request.
			Name: "others-one-deadline-loop", DurationNs: 60 * sec,
			Leases: []Lease{{
				ID: 1, TTLs: 3, ConnectDelayNs: ms + 50, DelaysNs: []int64{1001}, Consumer: drain,
				Others: []Regrant{
					{ID: 2, AfterNs: 2300*ms + 13, TTLs: 30, DelaysNs: []int64{60*sec + 1001}},
					{ID: 3, AfterNs: 4100*ms + 13, TTLs: 2, DelaysNs: []int64{1001}, RevokeAt: 3},
				},
			}},
		},
		{
			// Three leases on a stream that the server resets twice: each time
			// the new stream's first scan, 500 ms later, sends every lease
			// that came due meanwhile; one joins during the retry wait.
			Name: "others-stream-resets", DurationNs: 90 * sec,
			Leases: []Lease{{
				ID: 1, TTLs: 6, ConnectDelayNs: ms + 50, DelaysNs: []int64{1001, 700*ms + 1001}, Consumer: drain,
				ResetsNs: []int64{10_000*ms + 100, 30_200*ms + 200},
				Others: []Regrant{
					{ID: 2, AfterNs: 900*ms + 13, TTLs: 4, DelaysNs: []int64{3*ms + 1001}},
					{ID: 3, AfterNs: 10_100*ms + 13, TTLs: 12, DelaysNs: []int64{1001}},
				},
			}},
		},
	}
}

// GenOthers generates scripts like Gen whose processes keep 2-4 leases alive
// at once (Lease.Others), each joining 0-20 s after the first (whole ms + 13
// ns, script.go), with their own TTLs, delays (some beyond the deadline) and
// revocations.
func GenOthers() *rapid.Generator[Script] {
	return genProcesses(func(t *rapid.T, id int64, l *Lease, p func(string) string) {
		no := rapid.IntRange(1, 3).Draw(t, p("others"))
		var after []int64
		for j := 0; j < no; j++ {
			after = append(after, rapid.OneOf(rapid.Int64Range(0, 2000), rapid.Int64Range(0, 20_000)).Draw(t, p("after_ms"))*ms+13)
		}
		slices.Sort(after)
		for j := 1; j <= no; j++ {
			g := genRegrant(t, p(fmt.Sprintf("other%d", j)))
			g.ID, g.AfterNs = 10*id+int64(j), after[j-1]
			spreadDelays(g.DelaysNs)
			l.Others = append(l.Others, g)
		}
		spreadDelays(l.DelaysNs)
	})
}

// spreadDelays adds 2j ns to the j-th delay of a lease served one answer
// per request (script.go's tie rule): two of its answers could otherwise
// land together, and the real lessor would take them in either order.
func spreadDelays(d []int64) {
	for j := range d {
		d[j] += 2 * int64(j)
	}
}

// OthersCorpus is the several-leases processes' corpus
// (testdata/scripts-others.json, on which the legacy goldens
// golden-others-<version>.json are recorded): OthersCases, then n scripts
// drawn from GenOthers with fixed seeds 0..n-1, named others-NN.
func OthersCorpus(n int) []Script { return drawnCorpus(OthersCases(), GenOthers(), "others", n) }

// drawnCorpus is cases, then n scripts drawn from gen with fixed seeds
// 0..n-1, named prefix-NN.
func drawnCorpus(cases []Script, gen *rapid.Generator[Script], prefix string, n int) []Script {
	out := cases
	for i := range n {
		s := gen.Example(i)
		s.Name = fmt.Sprintf("%s-%02d", prefix, i)
		out = append(out, s)
	}
	return out
}
