package scripted

import (
	"fmt"
	"time"

	"pgregory.net/rapid"
)

const (
	ms  = int64(time.Millisecond)
	sec = int64(time.Second)
)

// Gen generates scripts that obey the package's tie rule: TTL 2 s to 1 h, every
// consumer behaviour, response delays 0-3 s, stream resets and revocations, 1-3
// client processes, 1 min to 2 h of virtual time.
func Gen() *rapid.Generator[Script] {
	return rapid.Custom(func(t *rapid.T) Script {
		s := Script{DurationNs: rapid.OneOf(
			rapid.Int64Range(60, 600),
			rapid.Int64Range(600, 3600),
			rapid.Int64Range(3600, 7200),
		).Draw(t, "duration_s") * sec}
		n := rapid.IntRange(1, 3).Draw(t, "clients")
		for i := 0; i < n; i++ {
			s.Leases = append(s.Leases, genLease(t, int64(i+1), s.DurationNs))
		}
		return s
	})
}

func genLease(t *rapid.T, id int64, duration int64) Lease {
	p := func(name string) string { return fmt.Sprintf("lease%d.%s", id, name) }
	l := Lease{ID: id}
	l.StartNs = rapid.Int64Range(0, 10_000).Draw(t, p("start_ms")) * ms
	l.ConnectDelayNs = rapid.SampledFrom([]int64{0, 1, 20}).Draw(t, p("connect_delay_ms"))*ms + 50
	l.TTLs = rapid.OneOf(
		rapid.Int64Range(2, 30),
		rapid.Int64Range(30, 600),
		rapid.Int64Range(600, 3600),
	).Draw(t, p("ttl_s"))

	switch kind := rapid.SampledFrom([]string{ConsumerNever, ConsumerDrain, ConsumerRate, ConsumerStopAfter, ConsumerStall}).Draw(t, p("consumer")); kind {
	case ConsumerRate:
		l.Consumer = Consumer{Kind: kind, PhaseNs: 7,
			PeriodNs: rapid.Int64Range(100, 60_000).Draw(t, p("rate_period_ms")) * ms}
	case ConsumerStopAfter:
		l.Consumer = Consumer{Kind: kind, K: rapid.IntRange(0, 40).Draw(t, p("stop_after_k"))}
	case ConsumerStall:
		from := l.StartNs + rapid.Int64Range(0, duration/ms).Draw(t, p("stall_from_ms"))*ms + 7
		to := from + rapid.Int64Range(1, 1_800_000).Draw(t, p("stall_len_ms"))*ms
		l.Consumer = Consumer{Kind: kind, FromNs: from, ToNs: to}
	default:
		l.Consumer = Consumer{Kind: kind}
	}

	// Delays: mostly fast, sometimes slower than the 500 ms scan, up to 3 s.
	nd := rapid.IntRange(1, 4).Draw(t, p("delays"))
	for j := 0; j < nd; j++ {
		d := rapid.OneOf(rapid.Int64Range(0, 20), rapid.Int64Range(0, 3000)).Draw(t, p("delay_ms"))
		l.DelaysNs = append(l.DelaysNs, d*ms+1001) // + 1001 ns: never on a scan or tick (script.go)
	}
	if rapid.IntRange(0, 4).Draw(t, p("revoke?")) == 0 {
		l.RevokeAt = rapid.IntRange(1, 40).Draw(t, p("revoke_at"))
	}
	nr := rapid.IntRange(0, 3).Draw(t, p("resets"))
	var last int64 = -1
	for j := 0; j < nr; j++ {
		r := rapid.Int64Range(0, duration/ms).Draw(t, p("reset_ms"))*ms + int64(j+1)*100
		if r <= last {
			continue
		}
		l.ResetsNs = append(l.ResetsNs, r)
		last = r
	}
	return l
}

// Corpus returns n scripts drawn from Gen with fixed seeds 0..n-1, named
// "gen-NNNN". It is the input of the committed golden traces.
func Corpus(n int) []Script {
	g := Gen()
	out := make([]Script, n)
	for i := range out {
		out[i] = g.Example(i)
		out[i].Name = fmt.Sprintf("gen-%04d", i)
	}
	return out
}

// GenPace generates scripts like Gen whose consumers are all Pace (read, then
// sleep): kept apart from Gen so that Gen's draws, and so the committed
// corpus and the legacy goldens, stay as they are. Sleeps are whole
// milliseconds + 3 ns, so a wake-up never ties with a response (whole ms +
// 1001 ns after a scan) or a scan.
func GenPace() *rapid.Generator[Script] {
	return rapid.Custom(func(t *rapid.T) Script {
		s := Gen().Draw(t, "script")
		for i := range s.Leases {
			period := rapid.Int64Range(1, 60_000).Draw(t, fmt.Sprintf("lease%d.pace_period_ms", i+1))
			s.Leases[i].Consumer = Consumer{Kind: ConsumerPace, PeriodNs: period*ms + 3}
		}
		return s
	})
}

// PaceTTL3 is the read-then-sleep case: TTL 3 s, 0.3 reads/s, replies
// after 1 µs, 90 s. With the pre-fix rule (v3.3.8) the channel fills and the
// lease collapses to a renewal on every 500 ms scan: with a pace consumer the
// first renewal 500 ms after the one before is at 45.501 s (+ the 50 ns
// connect offset), with a rate consumer (rateTTL3, the same reads on a grid)
// at 42.501 s; the second, at 46.001 s and 43.001 s, are the issue's "46.0 s
// instead of 43.0 s".
func PaceTTL3() Script {
	return ttl3Case("pace-ttl3-0.3", Consumer{Kind: ConsumerPace, PeriodNs: 3_333_333_333})
}

func rateTTL3() Script {
	return ttl3Case("rate-ttl3-0.3", Consumer{Kind: ConsumerRate, PeriodNs: 3_333_333_333, PhaseNs: 7})
}

func ttl3Case(name string, c Consumer) Script {
	return Script{Name: name, DurationNs: 90 * sec, Leases: []Lease{
		{ID: 1, TTLs: 3, ConnectDelayNs: ms + 50, DelaysNs: []int64{1001}, Consumer: c}}}
}

// PaceCorpus is the read-then-sleep consumer's corpus (testdata/scripts-pace.json,
// on which the legacy goldens golden-pace-<version>.json are recorded): the
// TTL 3 s pair (PaceTTL3 and its rate twin), then n scripts drawn from
// GenPace with fixed seeds 0..n-1, named pace-NN.
func PaceCorpus(n int) []Script {
	out := []Script{PaceTTL3(), rateTTL3()}
	g := GenPace()
	for i := range n {
		s := g.Example(i)
		s.Name = fmt.Sprintf("pace-%02d", i)
		out = append(out, s)
	}
	return out
}

// GenRegrant generates scripts like Gen whose processes re-grant: each has
// 1-3 later leases (Lease.Regrants), each kept alive AfterNs (whole ms + 13
// ns, script.go) after the consumer saw the previous channel close. So that
// channels do close, consumers are ones that see a close (not never), most
// leases are revoked after a few requests, some are answered so late (5 to
// 20 s) that the deadline loop gives them up, and some are cancelled by the
// application. Kept apart from Gen so that
// Gen's draws, and so the committed corpora, stay as they are.
func GenRegrant() *rapid.Generator[Script] {
	return genProcesses(func(t *rapid.T, id int64, l *Lease, p func(string) string) {
		switch l.Consumer.Kind {
		case ConsumerNever:
			l.Consumer = Consumer{Kind: ConsumerPace, PeriodNs: rapid.Int64Range(1, 20_000).Draw(t, p("pace_period_ms"))*ms + 3}
		case ConsumerStopAfter:
			l.Consumer.K += 40 // mostly still reading when the channel closes
		}
		g := genRegrant(t, p("grant0"))
		l.TTLs, l.DelaysNs, l.RevokeAt, l.CancelAfterNs = g.TTLs, g.DelaysNs, g.RevokeAt, g.CancelAfterNs
		nr := rapid.IntRange(1, 3).Draw(t, p("regrants"))
		for j := 1; j <= nr; j++ {
			g := genRegrant(t, p(fmt.Sprintf("grant%d", j)))
			g.ID = 10*id + int64(j)
			l.Regrants = append(l.Regrants, g)
		}
	})
}

// genProcesses draws a script of 1-2 client processes, each a genLease
// that more (regrants, others) then fills in, its draws named
// lease<id>.<name> by p.
func genProcesses(more func(t *rapid.T, id int64, l *Lease, p func(string) string)) *rapid.Generator[Script] {
	return rapid.Custom(func(t *rapid.T) Script {
		s := Script{DurationNs: rapid.Int64Range(60, 900).Draw(t, "duration_s") * sec}
		n := rapid.IntRange(1, 2).Draw(t, "clients")
		for i := 0; i < n; i++ {
			id := int64(i + 1)
			l := genLease(t, id, s.DurationNs)
			more(t, id, &l, func(name string) string { return fmt.Sprintf("lease%d.%s", id, name) })
			s.Leases = append(s.Leases, l)
		}
		return s
	})
}

// genRegrant draws one lease's server behaviour and, for a regrant, its gap.
func genRegrant(t *rapid.T, p string) Regrant {
	g := Regrant{
		AfterNs: rapid.OneOf(rapid.Int64Range(0, 600), rapid.Int64Range(0, 10_000)).Draw(t, p+".after_ms")*ms + 13,
		TTLs:    rapid.OneOf(rapid.Int64Range(2, 10), rapid.Int64Range(10, 120)).Draw(t, p+".ttl_s"),
	}
	nd := rapid.IntRange(1, 3).Draw(t, p+".delays")
	for j := 0; j < nd; j++ {
		d := rapid.OneOf(rapid.Int64Range(0, 20), rapid.Int64Range(0, 3000), rapid.Int64Range(5000, 20_000)).Draw(t, p+".delay_ms")
		g.DelaysNs = append(g.DelaysNs, d*ms+1001)
	}
	if rapid.IntRange(0, 3).Draw(t, p+".revoke?") > 0 {
		g.RevokeAt = rapid.IntRange(1, 6).Draw(t, p+".revoke_at")
	}
	if rapid.IntRange(0, 4).Draw(t, p+".cancel?") == 0 {
		g.CancelAfterNs = rapid.Int64Range(0, 30_000).Draw(t, p+".cancel_after_ms")*ms + 17
	}
	return g
}
