package properties

import (
	"time"

	"github.com/leasesim/leasesim/clientmodel/scripted"
)

// P1b: the amplification of slow answers.
//
// Derivation from go.etcd.io/etcd/client/v3 v3.7.3 lease.go (the same lines in
// every modelled version): a scan of sendKeepAliveLoop sends the lease when
// nextKeepAlive is strictly before now (593) and scans every 500 ms (610);
// nextKeepAlive moves only when an answer arrives (542: answer + TTL/3). The
// server answers one request at a time (v3rpc lease.go: Recv, renew, Send).
// Let a round start with a request at scan s0 and let every answer take d
// (not a multiple of 500 ms; the scripts add 1 µs):
//
//   - until the first answer at s0 + d, nextKeepAlive stays in the past, so
//     the scans at s0 + j*500 ms, for every j with j*500 ms < d, send again:
//     n(d) = ceil(d / 500 ms) requests per round (1 if d < 500 ms);
//   - the serial server answers them at s0 + d, s0 + 2d, ..., s0 + n*d (each
//     waits for the previous one, as d >= 500 ms); each answer sets
//     nextKeepAlive = answer + TTL/3, and if TTL/3 >= n*d no scan in between
//     finds the lease due;
//   - the next round starts at the first scan strictly after s0 + n*d + TTL/3:
//     the period is P(ttl, d) = (floor((n*d + TTL/3) / 500 ms) + 1) * 500 ms.
//
// So every answer to the round's first request comes with n-1 redundant
// requests: requests per useful response A(d) = ceil(d / 500 ms), and the
// request rate is A(d) / P(ttl, d) instead of 1 / P(ttl, 0). The fixed rule
// does not help: it is about the channel, not about pending requests.
// (Every request still gets its own answer: requests per answer is 1.)

// Amplification is n(d): requests sent per renewal round when every answer
// takes d.
func Amplification(d time.Duration) int {
	if d <= 0 {
		return 1
	}
	return int((int64(d) + scan - 1) / scan)
}

// RoundPeriod is P(ttl, d): the time between the first requests of two rounds.
func RoundPeriod(ttlSeconds int64, d time.Duration) time.Duration {
	n := int64(Amplification(d))
	third := int64(time.Duration(ttlSeconds) * time.Second / 3)
	x := n*int64(d) + third // the last answer of the round + TTL/3, from s0
	return time.Duration((x/scan + 1) * scan)
}

// SlowValid reports whether the derivation applies: d is not a multiple of
// 500 ms, TTL/3 >= n*d (no scan finds the lease due while a round's answers
// are still coming), and the first answer beats the 5 s first deadline.
func SlowValid(ttlSeconds int64, d time.Duration) bool {
	n := int64(Amplification(d))
	third := int64(time.Duration(ttlSeconds) * time.Second / 3)
	return int64(d)%scan != 0 && third >= n*int64(d) && d < 4*time.Second
}

// PredictSlowTimeline is the exact request timeline of a lease whose every
// answer takes d, with no resets or revocation and a consumer that never
// lets the channel fill (or the fixed rule): the first request when its
// stream opens, s0 = StartNs + ConnectDelayNs (ConnectDelayNs > 0), then n(d)
// requests 500 ms apart every P(ttl, d), up to the end.
func PredictSlowTimeline(l scripted.Lease, d time.Duration, end int64) []int64 {
	n := Amplification(d)
	p := int64(RoundPeriod(l.TTLs, d))
	var out []int64
	for s := l.StartNs + l.ConnectDelayNs; s < end; s += p {
		for j := 0; j < n && s+int64(j)*scan < end; j++ {
			out = append(out, s+int64(j)*scan)
		}
	}
	return out
}
