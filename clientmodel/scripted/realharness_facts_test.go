package scripted_test

// Measured facts of the real etcd client lessor, go.etcd.io/etcd/client/v3
// v3.7.3, recorded by realclient.Run. Line numbers refer to that version's lease.go:
//
//   - defaultTTL = 5 s (81) is the first keepalive deadline, since DialTimeout 0
//     gives firstKeepAliveTimeout 0+1 s, which NewLeaseFromLeaseClient turns
//     into defaultTTL (193, 203-205); retryConnWait = 500 ms (86).
//   - KeepAlive (273-317) sets deadline = now + 5 s and nextKeepAlive = now
//     (296-297) and starts recvKeepAliveLoop, which opens the stream, and
//     deadlineLoop (311-314). With the harness's zero-latency connection the
//     stream opens at that same instant.
//   - The scan loop sendKeepAliveLoop (586-619) scans as soon as the stream is
//     open and then every retryConnWait; it sends when
//     nextKeepAlive.Before(now) (593), a STRICT check, so the scan at the very
//     instant nextKeepAlive was set (the first one) does not send, and a scan
//     strictly after it does.
//   - recvKeepAlive (519-558): TTL <= 0 deletes the lease and closes its
//     channels (534-538); otherwise nextKeepAlive = now + TTL/3 (542),
//     deadline = now + TTL (543), the response is offered to the channel without
//     blocking (545-553) and nextKeepAlive advances even when the channel is
//     full (556).
//   - deadlineLoop (562-583) wakes every second from KeepAlive and reaps a lease
//     whose deadline is strictly before now (575).
//   - After a stream error recvKeepAliveLoop (449-494) waits retryConnWait (489)
//     and opens a new stream (resetRecv 497-516), whose scan loop scans at once.

import (
	"reflect"
	"testing"
	"time"

	"github.com/leasesim/leasesim/clientmodel/realclient"
	"github.com/leasesim/leasesim/clientmodel/scripted"
)

// Names are prefixed "real"/"r" to stay clear of other test files of this package.
const (
	rMs  = int64(time.Millisecond)
	rSec = int64(time.Second)
	rUs  = int64(time.Microsecond)
)

func realOneLease(name string, dur int64, l scripted.Lease) scripted.Script {
	return scripted.Script{Name: name, DurationNs: dur, Leases: []scripted.Lease{l}}
}

// realArith returns n instants start, start+step, ...
func realArith(start, step int64, n int) []int64 {
	out := make([]int64, n)
	for k := range out {
		out[k] = start + int64(k)*step
	}
	return out
}

func realCheckTimes(t *testing.T, what string, got, want []int64) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got  %v\n want %v", what, realFmtTimes(got), realFmtTimes(want))
	}
}

func realFmtTimes(ts []int64) []time.Duration {
	out := make([]time.Duration, len(ts))
	for i, v := range ts {
		out[i] = time.Duration(v)
	}
	return out
}

func realOnlyLease(t *testing.T, r scripted.Result) scripted.LeaseResult {
	t.Helper()
	if len(r.Leases) != 1 {
		t.Fatalf("got %d lease results, want 1", len(r.Leases))
	}
	return r.Leases[0]
}

// TestRealFactTTL60NeverRead2h: first request at +0.5 s (the first scan, at the
// KeepAlive instant, fails the strict Before check of lease.go:593), then one
// every 20.5 s: the response lands 1 µs after the request, sets nextKeepAlive
// 20 s + 1 µs later (542), so the scan 20 s after the request just misses it
// and the next one, 500 ms later (610, retryConnWait 86), sends. 352 requests in
// 2 h: 0.5 + 20.5 k < 7200 for k = 0..351. Never reading does not matter in
// v3.7.3: nextKeepAlive advances even when the channel is full (556).
func TestRealFactTTL60NeverRead2h(t *testing.T) {
	start := time.Now()
	r := realclient.Run(t, realOneLease("ttl60-never-2h", 7200*rSec, scripted.Lease{
		ID: 1, TTLs: 60, Consumer: scripted.Consumer{Kind: scripted.ConsumerNever},
	}))
	t.Logf("2 h of virtual time in %v", time.Since(start))
	if r.Version != "v3.7.3" || r.Script != "ttl60-never-2h" {
		t.Errorf("result header %q %q", r.Script, r.Version)
	}
	lr := realOnlyLease(t, r)
	want := []scripted.Run{{Start: 500 * rMs, Step: 20500 * rMs, N: 352}}
	if !reflect.DeepEqual(lr.Requests, want) {
		t.Errorf("requests = %+v, want %+v", lr.Requests, want)
	}
	if len(lr.Reads) != 0 || lr.Closed != -1 || lr.ID != 1 {
		t.Errorf("lease result = %+v, want no reads, closed -1, id 1", lr)
	}
}

// TestRealFactSlowReplyPairs: with a 700 ms reply delay the response to a
// request is not back by the next scan 500 ms later, so that scan sends again
// (nextKeepAlive still in the past, 593): renewals come in pairs 0.5 s apart.
// The server answers serially, so the pair's second answer lands at
// a + 1.4 s + 2 µs, setting nextKeepAlive to a + 21.4 s + 2 µs (542); the scan at
// a + 21.5 s sends the next pair. Pairs at 0.5 + 21.5 k s and 1.0 + 21.5 k s,
// k = 0..334: 670 requests in 2 h.
func TestRealFactSlowReplyPairs(t *testing.T) {
	r := realclient.Run(t, realOneLease("ttl60-delay700-2h", 7200*rSec, scripted.Lease{
		ID: 7, TTLs: 60, Consumer: scripted.Consumer{Kind: scripted.ConsumerNever},
		DelaysNs: []int64{700*rMs + rUs},
	}))
	got := scripted.Expand(realOnlyLease(t, r).Requests)
	var want []int64
	for k := int64(0); 500*rMs+k*21500*rMs < 7200*rSec; k++ {
		want = append(want, 500*rMs+k*21500*rMs, 1000*rMs+k*21500*rMs)
	}
	realCheckTimes(t, "requests", got, want)
	if len(got)%2 != 0 {
		t.Fatalf("odd number of requests %d", len(got))
	}
	for i := 0; i+1 < len(got); i += 2 {
		if got[i+1]-got[i] != 500*rMs {
			t.Fatalf("request %d,%d not a pair 0.5 s apart: %v %v", i, i+1, time.Duration(got[i]), time.Duration(got[i+1]))
		}
	}
}

// TestRealDeterministic runs a busy multi-lease script twice.
func TestRealDeterministic(t *testing.T) {
	sc := scripted.Script{Name: "mixed", DurationNs: 300 * rSec, Leases: []scripted.Lease{
		{ID: 11, StartNs: 3 * rMs, TTLs: 5, Consumer: scripted.Consumer{Kind: scripted.ConsumerDrain},
			DelaysNs: []int64{rUs, 700*rMs + rUs, 2*rSec + rUs}, ResetsNs: []int64{10*rSec + 100, 40*rSec + 200 + 7*rMs}},
		{ID: 12, StartNs: 17 * rMs, TTLs: 3, Consumer: scripted.Consumer{Kind: scripted.ConsumerRate, PeriodNs: 2*rSec + 3*rMs, PhaseNs: 7}},
		{ID: 13, StartNs: 1*rSec + 5*rMs, TTLs: 9, Consumer: scripted.Consumer{Kind: scripted.ConsumerStall, FromNs: 20*rSec + 7, ToNs: 90*rSec + 7},
			DelaysNs: []int64{1200*rMs + rUs}},
		{ID: 14, StartNs: 0, TTLs: 6, Consumer: scripted.Consumer{Kind: scripted.ConsumerStopAfter, K: 4}, RevokeAt: 30},
		// Reaped by its deadline; the reset keeps the reap off the scan grid (see realclient.Run).
		{ID: 15, StartNs: 250 * rMs, TTLs: 2, Consumer: scripted.Consumer{Kind: scripted.ConsumerNever},
			DelaysNs: []int64{6*rSec + rUs}, ResetsNs: []int64{2250*rMs + 100}},
	}}
	a := realclient.Run(t, sc)
	b := realclient.Run(t, sc)
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("two runs differ:\n%+v\n%+v", a, b)
	}
	for _, lr := range a.Leases {
		if len(lr.Requests) == 0 {
			t.Errorf("lease %d sent no requests", lr.ID)
		}
	}
}

// TestRealConsumerDrain: reads land 1 µs after each request (the default
// delay); StartNs shifts the whole 500 ms grid (297, 610).
func TestRealConsumerDrain(t *testing.T) {
	const st = 3 * rMs
	lr := realOnlyLease(t, realclient.Run(t, realOneLease("drain", 100*rSec, scripted.Lease{
		ID: 2, StartNs: st, TTLs: 60, Consumer: scripted.Consumer{Kind: scripted.ConsumerDrain},
	})))
	reqs := realArith(st+500*rMs, 20500*rMs, 5) // 0.5, 21, 41.5, 62, 82.5
	realCheckTimes(t, "requests", scripted.Expand(lr.Requests), reqs)
	realCheckTimes(t, "reads", scripted.Expand(lr.Reads), realArith(st+500*rMs+rUs, 20500*rMs, 5))
	if lr.Closed != -1 {
		t.Errorf("closed = %d, want -1", lr.Closed)
	}
}

// TestRealConsumerNever: never reading, and the server never answering in
// time (30 s delay). A reset at 0.2000001 s (no request pending yet) shifts the
// scan grid off the deadlineLoop grid (see realclient.Run's note on the tie); the new
// stream's immediate scan sends at 0.7000001 s (nextKeepAlive is still the
// KeepAlive instant), and so does every scan after it. The 5 s first deadline
// (defaultTTL, 81, 296) is reaped by the deadlineLoop tick at 6 s (the tick at
// 5 s fails the strict Before, 575); no request after that.
func TestRealConsumerNever(t *testing.T) {
	lr := realOnlyLease(t, realclient.Run(t, realOneLease("never-deadline", 60*rSec, scripted.Lease{
		ID: 3, TTLs: 60, Consumer: scripted.Consumer{Kind: scripted.ConsumerNever},
		DelaysNs: []int64{30*rSec + rUs}, ResetsNs: []int64{200*rMs + 100},
	})))
	realCheckTimes(t, "requests", scripted.Expand(lr.Requests), realArith(700*rMs+100, 500*rMs, 11))
	if len(lr.Reads) != 0 || lr.Closed != -1 {
		t.Errorf("never consumer: reads %v closed %d", lr.Reads, lr.Closed)
	}
}

// TestRealDeadlineCloses: same as above with a drain consumer, which sees the
// channel closed at the deadlineLoop tick at 6 s (ka.close, 577).
func TestRealDeadlineCloses(t *testing.T) {
	lr := realOnlyLease(t, realclient.Run(t, realOneLease("drain-deadline", 60*rSec, scripted.Lease{
		ID: 3, TTLs: 60, Consumer: scripted.Consumer{Kind: scripted.ConsumerDrain},
		DelaysNs: []int64{30*rSec + rUs}, ResetsNs: []int64{200*rMs + 100},
	})))
	realCheckTimes(t, "requests", scripted.Expand(lr.Requests), realArith(700*rMs+100, 500*rMs, 11))
	if len(lr.Reads) != 0 || lr.Closed != 6*rSec {
		t.Errorf("reads %v closed %v, want none and 6s", lr.Reads, time.Duration(lr.Closed))
	}
}

// TestRealDeadlineReapTie pins down the one tie in the real library that the
// harness cannot order (see realclient.Run): without a reset the scan at 6 s and the
// deadlineLoop tick at 6 s that reaps the lease coincide, and the scan may or
// may not get its request out first. Both outcomes are accepted here; with a
// 50 ns connect delay the outcome is fixed, and the first request goes out at
// once when the stream opens (the first scan is then after the KeepAlive
// instant, 593).
func TestRealDeadlineReapTie(t *testing.T) {
	sc := realOneLease("reap-tie", 60*rSec, scripted.Lease{
		ID: 3, TTLs: 60, Consumer: scripted.Consumer{Kind: scripted.ConsumerDrain},
		DelaysNs: []int64{30*rSec + rUs},
	})
	lr := realOnlyLease(t, realclient.Run(t, sc))
	got := scripted.Expand(lr.Requests)
	t.Logf("tie outcome without connect delay: %d requests, last at %v", len(got), time.Duration(got[len(got)-1]))
	if a, b := realArith(500*rMs, 500*rMs, 11), realArith(500*rMs, 500*rMs, 12); !reflect.DeepEqual(got, a) && !reflect.DeepEqual(got, b) {
		t.Errorf("requests %v, want 0.5 s .. 5.5 s or .. 6 s", realFmtTimes(got))
	}
	if lr.Closed != 6*rSec {
		t.Errorf("closed %v, want 6s", time.Duration(lr.Closed))
	}

	const delta = 50
	lr = realOnlyLease(t, realclient.RunWith(t, sc, realclient.Options{ConnectDelayNs: delta}))
	realCheckTimes(t, "requests with connect delay", scripted.Expand(lr.Requests), realArith(delta, 500*rMs, 12))
	if lr.Closed != 6*rSec {
		t.Errorf("closed %v, want 6s", time.Duration(lr.Closed))
	}
}

// TestRealConnectDelayTTL60: with a 50 ns connect delay the first request goes
// out when the stream opens, and the 20.5 s spacing and the 352 requests in 2 h
// are unchanged (352 = #{k : 50 ns + 20.5 s k < 7200 s}).
func TestRealConnectDelayTTL60(t *testing.T) {
	const delta = 50
	lr := realOnlyLease(t, realclient.RunWith(t, realOneLease("ttl60-never-2h-delta", 7200*rSec, scripted.Lease{
		ID: 1, TTLs: 60, Consumer: scripted.Consumer{Kind: scripted.ConsumerNever},
	}), realclient.Options{ConnectDelayNs: delta}))
	want := []scripted.Run{{Start: delta, Step: 20500 * rMs, N: 352}}
	if !reflect.DeepEqual(lr.Requests, want) {
		t.Errorf("requests = %+v, want %+v", lr.Requests, want)
	}
}

// TestRealConsumerRate: one non-blocking read per tick at 10 s k + 7 ns.
// Responses land at 0.5 s + 20.5 s j + 1 µs, so ticks 10, 30, 50, 70 find one
// buffered and ticks 20, 40, 60 find none.
func TestRealConsumerRate(t *testing.T) {
	lr := realOnlyLease(t, realclient.Run(t, realOneLease("rate", 75*rSec, scripted.Lease{
		ID: 4, TTLs: 60, Consumer: scripted.Consumer{Kind: scripted.ConsumerRate, PeriodNs: 10 * rSec, PhaseNs: 7},
	})))
	realCheckTimes(t, "requests", scripted.Expand(lr.Requests), realArith(500*rMs, 20500*rMs, 4))
	realCheckTimes(t, "reads", scripted.Expand(lr.Reads), realArith(10*rSec+7, 20*rSec, 4))
	if lr.Closed != -1 {
		t.Errorf("closed = %d", lr.Closed)
	}
}

// TestRealConsumerStopAfter: TTL 3 renews every 1.5 s (1 s + 1 µs, rounded up
// to the scan grid, 542/593); the consumer reads 2 and stops, and the client
// keeps renewing regardless (556).
func TestRealConsumerStopAfter(t *testing.T) {
	lr := realOnlyLease(t, realclient.Run(t, realOneLease("stop-after", 20*rSec, scripted.Lease{
		ID: 5, TTLs: 3, Consumer: scripted.Consumer{Kind: scripted.ConsumerStopAfter, K: 2},
	})))
	realCheckTimes(t, "requests", scripted.Expand(lr.Requests), realArith(500*rMs, 1500*rMs, 13))
	realCheckTimes(t, "reads", scripted.Expand(lr.Reads), realArith(500*rMs+rUs, 1500*rMs, 2))
	if lr.Closed != -1 {
		t.Errorf("closed = %d", lr.Closed)
	}
}

// TestRealConsumerStopAfterClosedEarly: revoked on the 2nd answer (534-538),
// before the consumer has read K = 5: it sees the close.
func TestRealConsumerStopAfterClosedEarly(t *testing.T) {
	lr := realOnlyLease(t, realclient.Run(t, realOneLease("stop-after-revoked", 20*rSec, scripted.Lease{
		ID: 5, TTLs: 3, RevokeAt: 2, Consumer: scripted.Consumer{Kind: scripted.ConsumerStopAfter, K: 5},
	})))
	realCheckTimes(t, "requests", scripted.Expand(lr.Requests), []int64{500 * rMs, 2000 * rMs})
	realCheckTimes(t, "reads", scripted.Expand(lr.Reads), []int64{500*rMs + rUs})
	if lr.Closed != 2000*rMs+rUs {
		t.Errorf("closed = %v, want 2.000001s", time.Duration(lr.Closed))
	}
}

// TestRealConsumerStall: reads until 5 s, buffers the 7 responses of
// [5 s, 15 s), drains them all at 15 s + 7 ns, then reads as they come.
func TestRealConsumerStall(t *testing.T) {
	lr := realOnlyLease(t, realclient.Run(t, realOneLease("stall", 20*rSec, scripted.Lease{
		ID: 6, TTLs: 3, Consumer: scripted.Consumer{Kind: scripted.ConsumerStall, FromNs: 5*rSec + 7, ToNs: 15*rSec + 7},
	})))
	realCheckTimes(t, "requests", scripted.Expand(lr.Requests), realArith(500*rMs, 1500*rMs, 13))
	var reads []int64
	reads = append(reads, realArith(500*rMs+rUs, 1500*rMs, 3)...)   // 0.5, 2.0, 3.5
	reads = append(reads, realArith(15*rSec+7, 0, 7)...)            // 5.0 .. 14.0 buffered
	reads = append(reads, realArith(15500*rMs+rUs, 1500*rMs, 3)...) // 15.5, 17.0, 18.5
	realCheckTimes(t, "reads", scripted.Expand(lr.Reads), reads)
}

// TestRealConsumerStallOverflow: a stall longer than 16 responses: the
// channel (LeaseResponseChSize 16, 92, 274) keeps the first 16 and the rest
// are dropped (545-553), while renewals go on every 1.5 s (556).
func TestRealConsumerStallOverflow(t *testing.T) {
	lr := realOnlyLease(t, realclient.Run(t, realOneLease("stall-overflow", 42*rSec, scripted.Lease{
		ID: 6, TTLs: 3, Consumer: scripted.Consumer{Kind: scripted.ConsumerStall, FromNs: 1*rSec + 7, ToNs: 40*rSec + 7},
	})))
	// Requests at 0.5 + 1.5 k < 42: k = 0..27.
	realCheckTimes(t, "requests", scripted.Expand(lr.Requests), realArith(500*rMs, 1500*rMs, 28))
	var reads []int64
	reads = append(reads, 500*rMs+rUs)
	reads = append(reads, realArith(40*rSec+7, 0, 16)...) // answers at 2.0 .. 24.5 s; 26.0 .. 39.5 dropped
	reads = append(reads, realArith(41*rSec+rUs, 0, 1)...)
	realCheckTimes(t, "reads", scripted.Expand(lr.Reads), reads)
}

// TestRealResetNotDue: a reset while no request is pending. The stream is
// reopened 500 ms later (retryConnWait, 489); its immediate scan (590-596) does
// not send because the lease is not due, and the 500 ms scan grid is now
// shifted by the reset's 100 ns: 41.0000001 s is not after nextKeepAlive
// 41.000001 s, so the next request is at 41.5000001 s, then 20.5 s on.
func TestRealResetNotDue(t *testing.T) {
	const rst = 30*rSec + 100
	lr := realOnlyLease(t, realclient.Run(t, realOneLease("reset-not-due", 70*rSec, scripted.Lease{
		ID: 8, TTLs: 60, Consumer: scripted.Consumer{Kind: scripted.ConsumerDrain},
		ResetsNs: []int64{rst},
	})))
	want := []int64{500 * rMs, 21 * rSec, 41500*rMs + 100, 62*rSec + 100}
	realCheckTimes(t, "requests", scripted.Expand(lr.Requests), want)
	if lr.Closed != -1 {
		t.Errorf("closed = %d", lr.Closed)
	}
}

// TestRealResetDue: a reset while requests are pending on the server (1 s
// delay): the requests at 0.5 and 1.0 s are dropped unanswered. The next
// request goes out 500 ms after the reset (489), at the immediate scan of the
// new stream (590-596), since the lease is overdue (nextKeepAlive is still the
// KeepAlive instant). With a 1 s delay the first answer of a burst lands 1 us
// after the third scan of the burst, so renewals come in threes:
//   - rst+0.5, rst+1.0, rst+1.5 s (the last 1 us before the first answer);
//   - the serial answers land at rst+1.5 s+1 us, rst+2.5 s+2 us, rst+3.5 s+3 us,
//     the last setting nextKeepAlive = rst+23.5 s+3 us (542);
//   - the scan at rst+23.5 s misses it by 3 us; rst+24.0, 24.5, 25.0 s send; their
//     answers push nextKeepAlive past the 30 s end.
func TestRealResetDue(t *testing.T) {
	const rst = 1200*rMs + 100
	lr := realOnlyLease(t, realclient.Run(t, realOneLease("reset-due", 30*rSec, scripted.Lease{
		ID: 9, TTLs: 60, Consumer: scripted.Consumer{Kind: scripted.ConsumerDrain},
		DelaysNs: []int64{1*rSec + rUs}, ResetsNs: []int64{rst},
	})))
	want := []int64{
		500 * rMs, 1000 * rMs,
		rst + 500*rMs, rst + 1000*rMs, rst + 1500*rMs,
		rst + 24000*rMs, rst + 24500*rMs, rst + 25000*rMs,
	}
	realCheckTimes(t, "requests", scripted.Expand(lr.Requests), want)
	reads := []int64{
		rst + 1500*rMs + rUs, rst + 2500*rMs + 2*rUs, rst + 3500*rMs + 3*rUs,
		rst + 25000*rMs + rUs, rst + 26000*rMs + 2*rUs, rst + 27000*rMs + 3*rUs,
	}
	realCheckTimes(t, "reads", scripted.Expand(lr.Reads), reads)
	if lr.Closed != -1 {
		t.Errorf("closed = %d", lr.Closed)
	}
}

// TestRealResetNoStream: a reset before the lease's client has opened a
// stream is a no-op.
func TestRealResetNoStream(t *testing.T) {
	lr := realOnlyLease(t, realclient.Run(t, realOneLease("reset-before-start", 50*rSec, scripted.Lease{
		ID: 10, StartNs: 2 * rSec, TTLs: 60, Consumer: scripted.Consumer{Kind: scripted.ConsumerNever},
		ResetsNs: []int64{1*rSec + 100},
	})))
	realCheckTimes(t, "requests", scripted.Expand(lr.Requests), realArith(2500*rMs, 20500*rMs, 3))
}

// TestRealRevocation: the 3rd answer carries TTL 0: the lessor deletes the
// lease and closes its channel (534-538) at that instant, and sends no further
// requests.
func TestRealRevocation(t *testing.T) {
	lr := realOnlyLease(t, realclient.Run(t, realOneLease("revoke", 300*rSec, scripted.Lease{
		ID: 12, TTLs: 60, RevokeAt: 3, Consumer: scripted.Consumer{Kind: scripted.ConsumerDrain},
	})))
	realCheckTimes(t, "requests", scripted.Expand(lr.Requests), realArith(500*rMs, 20500*rMs, 3))
	realCheckTimes(t, "reads", scripted.Expand(lr.Reads), realArith(500*rMs+rUs, 20500*rMs, 2))
	if lr.Closed != 41500*rMs+rUs {
		t.Errorf("closed = %v, want 41.500001s", time.Duration(lr.Closed))
	}
}

// TestRealRevokedAtOnce: TTL 0 from the first answer: one request only.
func TestRealRevokedAtOnce(t *testing.T) {
	lr := realOnlyLease(t, realclient.Run(t, realOneLease("ttl0", 60*rSec, scripted.Lease{
		ID: 13, TTLs: 0, Consumer: scripted.Consumer{Kind: scripted.ConsumerNever},
	})))
	realCheckTimes(t, "requests", scripted.Expand(lr.Requests), []int64{500 * rMs})
}
