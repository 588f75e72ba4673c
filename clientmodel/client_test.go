package clientmodel_test

import (
	"testing"
	"time"

	"github.com/leasesim/leasesim/clientmodel"
	"github.com/leasesim/leasesim/clientmodel/scripted"
	"github.com/leasesim/leasesim/sim"
)

func mustVersion(t *testing.T, s string) clientmodel.Version {
	t.Helper()
	v, err := clientmodel.ParseVersion(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func requests(t *testing.T, s scripted.Script, version string) []int64 {
	t.Helper()
	r, err := scripted.Replay(s, mustVersion(t, version))
	if err != nil {
		t.Fatal(err)
	}
	return scripted.Expand(r.Leases[0].Requests)
}

func oneLease(ttl int64, consumer string, delays ...int64) scripted.Script {
	// Up to and including 2 h: the measured counts include a request at exactly 2 h.
	return scripted.Script{Name: "fact", DurationNs: int64(2*time.Hour) + 1, Leases: []scripted.Lease{{
		ID: 1, TTLs: ttl, Consumer: scripted.Consumer{Kind: consumer}, DelaysNs: delays,
	}}}
}

const (
	s500 = int64(500 * time.Millisecond)
	sec  = int64(time.Second)
)

// The facts measured with the real libraries under testing/synctest (see
// clientmodel/scripted/realharness_facts_test.go and clientmodel/legacy): TTL 60,
// a consumer that never reads, 2 h.
func TestFixedClientRenewsEveryTTLThirdRoundedUpToTheScan(t *testing.T) {
	for _, v := range []string{"v3.7.3", "v3.3.9", "v3.2.24"} {
		got := requests(t, oneLease(60, scripted.ConsumerNever), v)
		if len(got) != 352 {
			t.Errorf("%s: %d requests in 2h, want 352", v, len(got))
		}
		for i, at := range got {
			if want := s500 + int64(i)*20500*int64(time.Millisecond); at != want {
				t.Fatalf("%s: request %d at %v, want %v", v, i+1, time.Duration(at), time.Duration(want))
			}
		}
	}
}

func TestPreFixClientCollapsesAfterSixteenResponses(t *testing.T) {
	for _, v := range []string{"v3.3.8", "v3.2.23", "v3.1.18"} {
		got := requests(t, oneLease(60, scripted.ConsumerNever), v)
		if len(got) != 13760 {
			t.Errorf("%s: %d requests in 2h, want 13760", v, len(got))
		}
		for i := 0; i < 17; i++ {
			if want := s500 + int64(i)*20500*int64(time.Millisecond); got[i] != want {
				t.Fatalf("%s: request %d at %v, want %v", v, i+1, time.Duration(got[i]), time.Duration(want))
			}
		}
		if want := 5*60*sec + 29*sec; got[17] != want {
			t.Fatalf("%s: request 18 at %v, want 5m29s", v, time.Duration(got[17]))
		}
		for i := 18; i < len(got); i++ {
			if got[i]-got[i-1] != s500 {
				t.Fatalf("%s: request %d %v after the previous, want 500ms", v, i+1, time.Duration(got[i]-got[i-1]))
			}
		}
	}
}

// A reply slower than the 500 ms scan makes every version send the lease again
// on the next scan: requests come in pairs 0.5 s apart.
func TestSlowRepliesDoubleRequestsInEveryVersion(t *testing.T) {
	for _, v := range []string{"v3.7.3", "v3.3.8"} {
		got := requests(t, oneLease(60, scripted.ConsumerDrain, int64(700*time.Millisecond)+1000), v)
		if len(got) < 4 {
			t.Fatalf("%s: %d requests", v, len(got))
		}
		for i := 0; i+1 < 8; i += 2 {
			if got[i+1]-got[i] != s500 {
				t.Fatalf("%s: requests %d and %d are %v apart, want a pair 500ms apart", v, i+1, i+2, time.Duration(got[i+1]-got[i]))
			}
			if i+2 < len(got) && got[i+2]-got[i+1] <= s500 {
				t.Fatalf("%s: pairs are not separated: %v", v, time.Duration(got[i+2]-got[i+1]))
			}
		}
	}
}

// Step-level behaviour, input by input.
func TestStreamErrorReconnectsAfterRetryConnWait(t *testing.T) {
	c := clientmodel.New(clientmodel.Config{Rule: clientmodel.AdvanceAlways, Consumer: clientmodel.Consumer{Kind: clientmodel.Drain}})
	out := c.Step(0, clientmodel.Input{Kind: clientmodel.InKeepAlive}, nil)
	if !has(out, clientmodel.OutOpenStream) || has(out, clientmodel.OutSend) {
		t.Fatalf("KeepAlive: %+v (want a stream opened and nothing sent: nextKeepAlive == now is not before now)", out)
	}
	out = c.Step(sim.Time(s500), clientmodel.Input{Kind: clientmodel.InTimer, Timer: clientmodel.TimerScan, Gen: 1}, nil)
	if !has(out, clientmodel.OutSend) {
		t.Fatalf("first scan sent nothing: %+v", out)
	}
	out = c.Step(sim.Time(s500+1), clientmodel.Input{Kind: clientmodel.InStreamError, Gen: 1}, nil)
	if len(out) != 1 || out[0].Timer != clientmodel.TimerReconnect || out[0].At != sim.Time(2*s500+1) {
		t.Fatalf("stream error: %+v", out)
	}
	// The old stream's scan timer is dead.
	if out := c.Step(sim.Time(2*s500), clientmodel.Input{Kind: clientmodel.InTimer, Timer: clientmodel.TimerScan, Gen: 1}, nil); len(out) != 0 {
		t.Fatalf("old stream scanned: %+v", out)
	}
	out = c.Step(sim.Time(2*s500+1), clientmodel.Input{Kind: clientmodel.InTimer, Timer: clientmodel.TimerReconnect}, nil)
	if !has(out, clientmodel.OutOpenStream) || !has(out, clientmodel.OutSend) {
		t.Fatalf("reconnect must open stream 2 and send the overdue lease at once: %+v", out)
	}
}

func TestDeadlineClosesWithoutResponse(t *testing.T) {
	c := clientmodel.New(clientmodel.Config{Consumer: clientmodel.Consumer{Kind: clientmodel.Drain}})
	out := c.Step(0, clientmodel.Input{Kind: clientmodel.InKeepAlive}, nil)
	// Deadline = 0 + 5 s; deadlineLoop ticks every second from KeepAlive, and the
	// tick at exactly 5 s does not close (strict Before), so the first tick that
	// can close is 6 s: that is the one armed (idle ticks are not simulated).
	var tick clientmodel.Output
	for _, o := range out {
		if o.Kind == clientmodel.OutTimer && o.Timer == clientmodel.TimerDeadline {
			tick = o
		}
	}
	if tick.At != sim.Time(6*sec) {
		t.Fatalf("deadline tick armed at %v, want 6s", tick.At)
	}
	out = c.Step(tick.At, clientmodel.Input{Kind: clientmodel.InTimer, Timer: clientmodel.TimerDeadline, Gen: tick.Gen}, nil)
	if !has(out, clientmodel.OutClosed) || !has(out, clientmodel.OutCloseSeen) || c.Active() {
		t.Fatalf("not closed at 6s: %+v", out)
	}
}

// A response moves the deadline later: the armed tick then finds nothing to do
// and re-arms at the first tick after the new deadline.
func TestDeadlineMovesWithResponses(t *testing.T) {
	c := clientmodel.New(clientmodel.Config{Consumer: clientmodel.Consumer{Kind: clientmodel.Never}})
	c.Step(0, clientmodel.Input{Kind: clientmodel.InKeepAlive}, nil)
	c.Step(sim.Time(s500+1000), clientmodel.Input{Kind: clientmodel.InResponse, Gen: 1, TTL: 10}, nil)
	out := c.Step(sim.Time(6*sec), clientmodel.Input{Kind: clientmodel.InTimer, Timer: clientmodel.TimerDeadline, Gen: 1}, nil)
	if has(out, clientmodel.OutClosed) || len(out) != 1 || out[0].At != sim.Time(11*sec) {
		t.Fatalf("want a re-arm at 11s (deadline 10.500001s), got %+v", out)
	}
}

func TestRevocationCloses(t *testing.T) {
	c := clientmodel.New(clientmodel.Config{Consumer: clientmodel.Consumer{Kind: clientmodel.Never}})
	c.Step(0, clientmodel.Input{Kind: clientmodel.InKeepAlive}, nil)
	out := c.Step(1, clientmodel.Input{Kind: clientmodel.InResponse, Gen: 1, TTL: 0}, nil)
	if !has(out, clientmodel.OutClosed) || has(out, clientmodel.OutCloseSeen) || c.Active() {
		t.Fatalf("%+v", out)
	}
}

func TestVersionParsing(t *testing.T) {
	for in, want := range map[string]clientmodel.Rule{
		"v3.2.23": clientmodel.AdvanceOnDelivery, "3.2.24": clientmodel.AdvanceAlways,
		"v3.3.8": clientmodel.AdvanceOnDelivery, "v3.3.9": clientmodel.AdvanceAlways,
		"v3.1.18": clientmodel.AdvanceOnDelivery, "v3.1.19": clientmodel.AdvanceAlways,
		"v3.4.0": clientmodel.AdvanceAlways, "v3.7.3": clientmodel.AdvanceAlways,
	} {
		v, err := clientmodel.ParseVersion(in)
		if err != nil || v.Rule != want {
			t.Errorf("%s: %v %v, want %v", in, v.Rule, err, want)
		}
	}
	for _, bad := range []string{"v3.0.17", "v2.3.8", "v3.8.0", "latest", "v3.3", ""} {
		if _, err := clientmodel.ParseVersion(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func has(out []clientmodel.Output, k clientmodel.OutputKind) bool {
	for _, o := range out {
		if o.Kind == k {
			return true
		}
	}
	return false
}

// Cancelling KeepAlive's context closes the channel and stops the requests
// (keepAliveCtxCloser, lease.go:342-371); switching a never-reading
// application to reading empties the buffer at once.
func TestCancelAndResumeReading(t *testing.T) {
	c := clientmodel.New(clientmodel.Config{Rule: clientmodel.AdvanceAlways, Consumer: clientmodel.Consumer{Kind: clientmodel.Never}})
	c.Step(0, clientmodel.Input{Kind: clientmodel.InKeepAlive}, nil)
	for i := int64(1); i <= 3; i++ {
		c.Step(sim.Time(i*sec), clientmodel.Input{Kind: clientmodel.InResponse, Gen: 1, TTL: 60}, nil)
	}
	if c.Buffered() != 3 {
		t.Fatalf("buffered %d", c.Buffered())
	}
	out := c.Step(sim.Time(4*sec), clientmodel.Input{Kind: clientmodel.InConsumer, Consumer: clientmodel.Drain}, nil)
	reads := 0
	for _, o := range out {
		if o.Kind == clientmodel.OutRead {
			reads++
		}
	}
	if reads != 3 || c.Buffered() != 0 {
		t.Fatalf("resume reading: %d reads, %d buffered", reads, c.Buffered())
	}
	out = c.Step(sim.Time(5*sec), clientmodel.Input{Kind: clientmodel.InCancel}, nil)
	if !has(out, clientmodel.OutClosed) || !has(out, clientmodel.OutCloseSeen) || c.Active() {
		t.Fatalf("cancel: %+v", out)
	}
	if out := c.Step(sim.Time(30*sec), clientmodel.Input{Kind: clientmodel.InTimer, Timer: clientmodel.TimerScan, Gen: 100}, nil); has(out, clientmodel.OutSend) {
		t.Fatal("a cancelled keepalive sent a request")
	}
}
