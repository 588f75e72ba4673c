package properties

import (
	"slices"

	"fmt"
	"pgregory.net/rapid"
	"sort"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/leasesim/leasesim/recorder"
	"github.com/leasesim/leasesim/spec"
)

// The lease API's sequential specification, for porcupine.
//
// A history is the recorder.Op stream of a cluster run: Grant (instantaneous,
// at KeepAlive time), KeepAlive (called when the client sent it, returned when
// its answer arrived, with the TTL answered; 0 is "not found"), and Expire
// (instantaneous: the leader's lessor revoked the lease). Each lease is
// independent, so histories are partitioned by lease.
//
// The state of a lease is whether it is granted, whether it has been revoked,
// and MinExpiry: the earliest instant at which it may expire given the
// successful keepalives linearized so far. A keepalive answered TTL > 0
// renewed the lease at some instant after it was called, so the lease cannot
// expire before call + TTL. The rules:
//
//   - Grant(t, ttl): the lease is new; MinExpiry = t + ttl.
//   - KeepAlive -> TTL > 0: legal only if the lease is not revoked; MinExpiry =
//     max(MinExpiry, call + TTL).
//   - KeepAlive -> 0 (not found): legal only if the lease is revoked: etcd's
//     Renew of an expired lease waits until its revocation is applied
//     (v3.7.3 lease/lessor.go:415-428), so "not found" comes only after the
//     keys are gone. (An expired lease the leader has not revoked is
//     renewed again after a leader change: Promote extends every lease not
//     yet revoked.)
//   - Expire(t): legal only if the lease is not revoked and t >= MinExpiry.
//   - Revoke(t) (the client's): legal only if the lease is not revoked; it
//     is then.
//   - Get(t) of the lease's key (put with the lease at its grant): found
//     only while the lease is granted and not revoked, not found only
//     before its grant or once it is revoked.
//   - TimeToLive(t) -> r seconds: legal only if the lease is granted, not
//     revoked, and t + r + 1 s > MinExpiry (etcd truncates the remaining
//     time to whole seconds); not found only before its grant or once it
//     is revoked.
//
// So a keepalive acknowledged for an already revoked lease, "not found"
// for a lease not yet revoked, an expiry
// before a successful keepalive's call + TTL, a key read after its lease was
// revoked (a key that survives its lease), and a key or lease missing while
// the lease lives are not linearizable.

// LeaseInput is an operation's input (the times are part of it: the rules
// compare instants).
type LeaseInput struct {
	Kind         recorder.OpKind
	Lease        int64
	Call, Return int64
	TTL          int64 // Grant: the granted TTL
	Found        bool  // Get: the key was there; TimeToLive: the lease was found
}

// LeaseState is one lease's state in the specification.
type LeaseState struct {
	Granted, Revoked bool
	MinExpiry        int64
}

func (s LeaseState) String() string {
	switch {
	case !s.Granted:
		return "not granted"
	case s.Revoked:
		return "revoked"
	}
	return fmt.Sprintf("alive, may expire from %v", time.Duration(s.MinExpiry))
}

// LeaseStep is the specification's step function.
func LeaseStep(st LeaseState, in LeaseInput, ttlOut int64) (bool, LeaseState) {
	switch in.Kind {
	case recorder.OpGrant:
		if st.Granted {
			return false, st
		}
		return true, LeaseState{Granted: true, MinExpiry: in.Call + in.TTL*int64(time.Second)}
	case recorder.OpKeepAlive:
		if !st.Granted {
			return false, st
		}
		if ttlOut > 0 {
			if st.Revoked {
				return false, st
			}
			st.MinExpiry = max(st.MinExpiry, in.Call+ttlOut*int64(time.Second))
			return true, st
		}
		return st.Revoked, st
	case recorder.OpExpire:
		if !st.Granted || st.Revoked || in.Call < st.MinExpiry {
			return false, st
		}
		st.Revoked = true
		return true, st
	case recorder.OpRevoke:
		if !st.Granted || st.Revoked {
			return false, st
		}
		st.Revoked = true
		return true, st
	case recorder.OpGet:
		if !st.Granted {
			return !in.Found, st // before the grant: no key yet
		}
		return in.Found != st.Revoked, st
	case recorder.OpTimeToLive:
		if !in.Found {
			return !st.Granted || st.Revoked, st
		}
		return st.Granted && !st.Revoked && in.Call+(ttlOut+1)*int64(time.Second) > st.MinExpiry, st
	}
	return false, st
}

func describeOp(in LeaseInput, out int64) string {
	switch in.Kind {
	case recorder.OpGrant:
		return fmt.Sprintf("Grant(%d, TTL %ds) @%v", in.Lease, in.TTL, time.Duration(in.Call))
	case recorder.OpKeepAlive:
		if out <= 0 {
			return fmt.Sprintf("KeepAlive(%d) -> not found [%v, %v]", in.Lease, time.Duration(in.Call), time.Duration(in.Return))
		}
		return fmt.Sprintf("KeepAlive(%d) -> TTL %ds [%v, %v]", in.Lease, out, time.Duration(in.Call), time.Duration(in.Return))
	case recorder.OpExpire:
		return fmt.Sprintf("Expire(%d) @%v", in.Lease, time.Duration(in.Call))
	case recorder.OpRevoke:
		return fmt.Sprintf("Revoke(%d) @%v", in.Lease, time.Duration(in.Call))
	case recorder.OpGet:
		return fmt.Sprintf("Get(key of %d) -> %s @%v", in.Lease, map[bool]string{true: "found", false: "not found"}[in.Found], time.Duration(in.Call))
	case recorder.OpTimeToLive:
		if !in.Found {
			return fmt.Sprintf("TimeToLive(%d) -> not found @%v", in.Lease, time.Duration(in.Call))
		}
		return fmt.Sprintf("TimeToLive(%d) -> %ds @%v", in.Lease, out, time.Duration(in.Call))
	}
	return "?"
}

// LeaseModel is the specification as a porcupine model, partitioned by lease.
func LeaseModel() porcupine.Model {
	return porcupine.Model{
		Partition: partitionByLease,
		Init:      func() any { return LeaseState{} },
		Step: func(state, input, output any) (bool, any) {
			return LeaseStep(state.(LeaseState), input.(LeaseInput), output.(int64))
		},
		DescribeOperation: func(input, output any) string { return describeOp(input.(LeaseInput), output.(int64)) },
		DescribeState:     func(state any) string { return state.(LeaseState).String() },
	}
}

func partitionByLease(h []porcupine.Operation) [][]porcupine.Operation {
	idx := map[int64]int{}
	var parts [][]porcupine.Operation
	for _, op := range h {
		l := op.Input.(LeaseInput).Lease
		i, ok := idx[l]
		if !ok {
			i = len(parts)
			idx[l] = i
			parts = append(parts, nil)
		}
		parts[i] = append(parts[i], op)
	}
	return parts
}

// History collects a run's operations as porcupine operations: the client's
// Grant, KeepAlives and Revoke are client 0 of the lease's partition, the
// lessor's Expire client 1, the checker's reads (Get, TimeToLive) client 2.
type History struct {
	Ops []porcupine.Operation
}

// Record is a spec.Cluster.History hook.
func (h *History) Record(o recorder.Op) {
	cid := 0
	switch o.Kind {
	case recorder.OpExpire:
		cid = 1
	case recorder.OpGet, recorder.OpTimeToLive:
		cid = 2
	}
	in := LeaseInput{Kind: o.Kind, Lease: o.Lease, Call: o.Call, Return: o.Return, Found: o.Found}
	out := o.TTL
	if o.Kind == recorder.OpGrant {
		in.TTL, out = o.TTL, 0
	}
	h.Ops = append(h.Ops, porcupine.Operation{ClientId: cid, Input: in, Output: out, Call: o.Call, Return: o.Return})
}

// Reads counts the checker's reads the history holds, and of them those
// that found nothing (the key gone, the lease not found).
func (h *History) Reads() (reads, gone int) {
	for _, op := range h.Ops {
		if in := op.Input.(LeaseInput); in.Kind == recorder.OpGet || in.Kind == recorder.OpTimeToLive {
			reads++
			if !in.Found {
				gone++
			}
		}
	}
	return reads, gone
}

// Counts reports how many operations of each kind the history holds.
func (h *History) Counts() (grants, keepalives, notFound, expires int) {
	for _, op := range h.Ops {
		switch op.Input.(LeaseInput).Kind {
		case recorder.OpGrant:
			grants++
		case recorder.OpKeepAlive:
			keepalives++
			if op.Output.(int64) <= 0 {
				notFound++
			}
		case recorder.OpExpire:
			expires++
		}
	}
	return
}

// IllegalLeases checks each lease's partition on its own and returns the
// leases whose histories are not linearizable, in order.
func IllegalLeases(h []porcupine.Operation) []int64 {
	m := LeaseModel()
	m.Partition = nil
	var bad []int64
	for _, part := range partitionByLease(h) {
		if !porcupine.CheckOperations(m, part) {
			bad = append(bad, part[0].Input.(LeaseInput).Lease)
		}
	}
	sort.Slice(bad, func(i, j int) bool { return bad[i] < bad[j] })
	return bad
}

// DescribeLease describes one lease's history around the first operation that
// a replay in call order rejects (for failure logs: porcupine has already
// found that no order is legal, and this shows where the call order breaks),
// with up to context operations before it.
func DescribeLease(h []porcupine.Operation, lease int64, context int) []string {
	var ops []porcupine.Operation
	for _, op := range h {
		if op.Input.(LeaseInput).Lease == lease {
			ops = append(ops, op)
		}
	}
	sort.SliceStable(ops, func(i, j int) bool { return ops[i].Call < ops[j].Call })
	bad := len(ops) - 1
	st := LeaseState{}
	for i, op := range ops {
		ok, next := LeaseStep(st, op.Input.(LeaseInput), op.Output.(int64))
		if !ok {
			bad = i
			break
		}
		st = next
	}
	from := max(0, bad-context)
	var out []string
	if from > 0 {
		out = append(out, fmt.Sprintf("... %d earlier", from))
	}
	for i := from; i <= bad; i++ {
		d := describeOp(ops[i].Input.(LeaseInput), ops[i].Output.(int64))
		if i == bad {
			d += fmt.Sprintf("   <- rejected in state: %v", st)
		}
		out = append(out, d)
	}
	return out
}

// GenLin draws cluster scenarios for the linearizability check of the honest
// server: up to 500 clients, 1-2 leader changes of up to 15 s, an optional
// leader stall of up to 20 s, and sometimes a leader with far too little
// CPU, so that many histories hold expiries and not-found answers.
func GenLin() *rapid.Generator[spec.Spec] {
	base := GenCluster(ClusterGen{MaxClients: 500, Headroom: 4, LeaderChanges: 2, MaxElection: 15 * time.Second})
	return rapid.Custom(func(t *rapid.T) spec.Spec {
		s := base.Draw(t, "base")
		if rapid.Bool().Draw(t, "scarce_cpu") {
			s.Cluster.Cores = rapid.SampledFrom([]float64{0.02, 0.05, 0.1, 0.3}).Draw(t, "cores")
		}
		if rapid.Bool().Draw(t, "stall?") {
			s.Faults = append(s.Faults, spec.FaultSpec{
				At:       spec.Duration(rapid.Int64Range(5, 50).Draw(t, "stall_at_s") * sec),
				Kind:     "leader-stall",
				Duration: spec.Duration(rapid.Int64Range(100, 20_000).Draw(t, "stall_ms") * ms),
			})
			slices.SortStableFunc(s.Faults, func(a, b spec.FaultSpec) int { return int(a.At - b.At) })
		}
		return s
	})
}
