package sweep

import (
	"fmt"
	"time"

	"github.com/leasesim/leasesim/clientmodel"
	"github.com/leasesim/leasesim/spec"
)

// MinMargin is the shortest default margin of a knee probe (see Horizon).
const MinMargin = 30 * time.Second

// DefaultMargin is the time a knee probe runs past the moment the fleet
// reached its steady behaviour: 2 x TTL, at least MinMargin. A lease whose
// renewals stopped being served expires one TTL after its last renewal, so
// a collapse that starts at the horizon's edge still shows as expired leases
// within the margin; the second TTL is for the renewals already queued when it
// started.
func DefaultMargin(ttl time.Duration) time.Duration { return max(2*ttl, MinMargin) }

// Horizon is how long a knee probe of s runs: until the fleet's behaviour
// shows (Settled), plus margin (DefaultMargin when margin is 0), rounded up
// to a whole second.
func Horizon(s spec.Spec, margin time.Duration) (time.Duration, error) {
	r, err := s.Resolve()
	if err != nil {
		return 0, err
	}
	if r.Cluster == nil {
		return 0, fmt.Errorf("a knee search needs a cluster scenario (server: cluster)")
	}
	c := r.Cluster
	if margin <= 0 {
		margin = DefaultMargin(c.TTL)
	}
	h := Settled(c) + margin
	h = (h + time.Second - 1).Truncate(time.Second)
	if h > spec.MaxDuration {
		return 0, fmt.Errorf("a knee probe would run %v (the time every lease's channel takes to fill, plus the margin), more than the longest run, %v", h, spec.MaxDuration)
	}
	return h, nil
}

// Settled is when every lease of c has reached its steady behaviour, the
// moment after which a probe's verdict no longer changes for want of time:
//
//   - a pre-fix client (clientmodel.AdvanceOnDelivery: nextKeepAlive moves
//     only when the response fit in the channel, coreos/etcd v3.3.8
//     clientv3/lease.go:514-520) whose channel fills: the last client to
//     start (StartSpread) plus the time its 16-slot channel
//     (clientmodel.ChannelCapacity: leaseResponseChSize, v3.3.8
//     clientv3/lease.go:81) takes to fill, after which it renews on every
//     500 ms scan. With a consumer that never reads, that is 16 renewal
//     intervals, each at most the renew period (TTL/3, lease.go:542, or
//     --renew-at) plus one scan (the first scan after nextKeepAlive sends
//     it, clientmodel.ScanInterval) plus the client's round trip: at TTL 10 s,
//     16 x 3.834 s = 61.3 s; at TTL 600 s, 16 x 200.5 s = 53.5 min, the
//     reporter's collapse. A consumer that reads for a while first (stop-after,
//     stall) or reads slower than the renewals (rate, pace) delays the fill
//     accordingly (FillTime). Under a loaded leader responses come later still;
//     the margin absorbs that.
//   - a fixed client, or a pre-fix one whose channel never fills (drain, or
//     a reader at least as fast as the renewals): every client started, plus
//     one TTL: by then every lease has been renewed at least twice (every
//     TTL/3) and the renewal load is at its periodic steady rate, which is
//     what the leader's CPU peak and any expiry depend on.
//
// Leases nobody renews (grant-only) settle like a fixed client's: by then
// each has expired once. Faults count too: Settled is never before the last
// fault has ended.
func Settled(c *spec.Cluster) time.Duration {
	t := c.StartSpread + c.TTL
	if fill, ok := FillTime(c); ok && c.Version.Rule == clientmodel.AdvanceOnDelivery && !c.GrantOnly {
		t = max(t, c.StartSpread+fill)
	}
	for _, f := range c.Faults {
		t = max(t, f.At+f.Duration)
	}
	return t
}

// FillTime is how long after its KeepAlive a lease's channel is full, if it
// ever fills (see Settled), with each renewal interval taken at its longest
// on an unloaded cluster: the renew period, plus one scan, plus the client's
// round trip.
func FillTime(c *spec.Cluster) (time.Duration, bool) {
	period := c.TTL / 3 // the client's (time.Duration(TTL) * time.Second) / 3.0, clientv3 lease.go
	if c.RenewDen > 0 {
		period = c.TTL * time.Duration(c.RenewNum) / time.Duration(c.RenewDen)
	}
	interval := period + clientmodel.ScanInterval + c.ClientRTT
	capacity := time.Duration(clientmodel.ChannelCapacity)
	first := c.ConnectDelay // KeepAlive to the stream's first scan
	cons := c.Consumer
	switch cons.Kind {
	case clientmodel.Never:
		return first + capacity*interval, true
	case clientmodel.StopAfter:
		return first + (time.Duration(cons.K)+capacity)*interval, true
	case clientmodel.Stall:
		// It reads as drain outside [From, To): the channel fills only if
		// the stall lasts for 16 renewals.
		if time.Duration(cons.To-cons.From) < capacity*interval {
			return 0, false
		}
		return time.Duration(cons.From) + capacity*interval, true
	case clientmodel.Rate, clientmodel.Pace:
		// The channel gains one response per interval and loses one per read:
		// it fills at 16 / (1/interval - 1/read period).
		if cons.Period <= interval {
			return 0, false
		}
		fill := float64(capacity) * float64(interval) * float64(cons.Period) / float64(cons.Period-interval)
		if fill >= float64(spec.MaxDuration) {
			return spec.MaxDuration, true
		}
		return first + time.Duration(fill), true
	}
	return 0, false // drain
}
