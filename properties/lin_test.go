package properties

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"pgregory.net/rapid"

	"github.com/leasesim/leasesim/model"
	"github.com/leasesim/leasesim/recorder"
	"github.com/leasesim/leasesim/spec"
)

// linTimeout bounds one porcupine check; Unknown counts as a failure.
const linTimeout = 2 * time.Minute

// linCheck runs s (with mutant) recording its history, checks it with
// porcupine.CheckOperationsVerbose and, unless it is linearizable, writes
// porcupine's visualisation, named with the scenario's seed, into a temporary
// directory of t and logs its path. It returns the result and a description.
func linCheck(t *testing.T, s spec.Spec, mutant model.Mutant) (porcupine.CheckResult, string, ClusterRun, *History) {
	t.Helper()
	h := &History{}
	run, err := RunCluster(s, h.Record, mutant)
	if err != nil {
		t.Fatal(err)
	}
	lm := LeaseModel()
	res, info := porcupine.CheckOperationsVerbose(lm, h.Ops, linTimeout)
	g, k, nf, e := h.Counts()
	desc := fmt.Sprintf("%d grants, %d keepalives (%d not found), %d expiries: %s", g, k, nf, e, res)
	if res != porcupine.Ok {
		name := fmt.Sprintf("lin-%s-%s-seed%d.html", s.Name, orHonest(mutant), s.Seed)
		path := filepath.Join(t.TempDir(), name)
		if err := porcupine.VisualizePath(lm, info, path); err != nil {
			t.Errorf("visualisation: %v", err)
		} else {
			t.Logf("porcupine visualisation: %s", path)
		}
		if bad := IllegalLeases(h.Ops); len(bad) > 0 {
			desc += fmt.Sprintf("\n%d lease(s) not linearizable, first %d:\n  %s", len(bad), bad[0], strings.Join(DescribeLease(h.Ops, bad[0], 8), "\n  "))
		}
	}
	return res, desc, run, h
}

func orHonest(m model.Mutant) string {
	if m == model.MutantNone {
		return "honest"
	}
	return m.String()
}

// The honest cluster's histories are linearizable: budget 300 scenarios,
// including overloaded leaders, long elections and stalls, where leases do
// expire and keepalives are answered "not found".
func TestLinearizableHonest(t *testing.T) {
	gen := GenLin()
	var ops, expired, notFound int
	withChecks(t, 300, func() {
		rapid.Check(t, func(rt *rapid.T) {
			s := gen.Draw(rt, "spec")
			res, desc, _, h := linCheck(t, s, model.MutantNone)
			if res != porcupine.Ok {
				rt.Fatalf("honest server not linearizable (%s)\n%s", desc, specYAML(s))
			}
			_, _, nf, e := h.Counts()
			ops += len(h.Ops)
			expired += e
			notFound += nf
		})
	})
	t.Logf("%d operations checked; %d leases expired and %d keepalives answered not found across the runs", ops, expired, notFound)
	if expired == 0 {
		t.Error("no history held an expiry: the check was not exercised")
	}
}

// mutantScenario: 300 clients, TTL 5 s, 3 members; the leader's CPU stalls
// from 30 s to 45 s, so leases whose renewals wait in its queue expire and are
// revoked; with a leader change, member 1 takes over at 40.5 s, so the stalled
// queue is served by a deposed leader.
func mutantScenario(seed uint64, placement string, change bool) spec.Spec {
	s := spec.Spec{
		Name: "mutant", Seed: seed, Duration: spec.Duration(90 * time.Second), Server: spec.ServerCluster,
		Clients: spec.ClientsSpec{Count: 300, TTL: spec.Duration(5 * time.Second), Version: "v3.7.3", Consumer: "drain",
			StartSpread: spec.Duration(5 * time.Second), Placement: placement},
		Cluster: spec.ClusterSpec{Members: 3, Cores: 2, TLS: "ecdsa", PeerJitter: spec.Duration(200 * time.Microsecond)},
		Faults:  []spec.FaultSpec{{At: spec.Duration(30 * time.Second), Kind: "leader-stall", Duration: spec.Duration(15 * time.Second)}},
	}
	if change {
		s.Faults = append(s.Faults, spec.FaultSpec{At: spec.Duration(40 * time.Second), Kind: "leader-change", To: 1, Duration: spec.Duration(500 * time.Millisecond)})
	}
	return s
}

// The checker has teeth: the mutant servers are reported not linearizable,
// and the honest server on the same scenarios is linearizable (with expiries
// in its history).
func TestLinearizabilityMutantsCaught(t *testing.T) {
	for _, c := range []struct {
		mutant model.Mutant
		change bool
	}{{model.MutantAckAfterRevoke, false}, {model.MutantDeposedRenew, true}, {model.MutantKeysOutliveLease, false}, {model.MutantRenewExpiredAtOnce, false}} {
		for _, placement := range []string{"round-robin", "leader"} {
			for _, seed := range []uint64{1, 2} {
				s := mutantScenario(seed, placement, c.change)
				s.Name = fmt.Sprintf("%s-%s", c.mutant, placement)
				if c.mutant == model.MutantRenewExpiredAtOnce {
					// Its trigger: renewals that reach the leader after
					// their lease expired and before its revocation. A
					// revoke rate of 20/s (a what-if) stretches the 300
					// leases' revocation past the stall's end, when the
					// renewals queued in it are served.
					s.Cluster.LeaseRevokeRate = 20
				}
				res, desc, run, _ := linCheck(t, s, model.MutantNone)
				if res != porcupine.Ok || run.Expired == 0 {
					t.Errorf("%s, honest: %s, %d expired; want Ok with expiries", s.Name, desc, run.Expired)
				}
				res, desc, _, _ = linCheck(t, s, c.mutant)
				if res != porcupine.Illegal {
					t.Errorf("%s, seed %d: mutant %s not caught: %s", placement, seed, c.mutant, desc)
					continue
				}
				t.Logf("%s, seed %d: mutant %s caught: %s", placement, seed, c.mutant, desc)
			}
		}
	}
	// Each mutant needs its trigger: without a leader change, deposed-renew
	// behaves like the honest server and is linearizable.
	if res, desc, _, _ := linCheck(t, mutantScenario(1, "round-robin", false), model.MutantDeposedRenew); res != porcupine.Ok {
		t.Errorf("deposed-renew without a leader change: %s", desc)
	}
}

// The specification's reads, step by step: a key is there from the grant
// until the revocation (the lessor's Expire or the client's Revoke), and
// TimeToLive agrees with what the acknowledged keepalives promise, to etcd's
// whole seconds.
func TestLeaseStepReads(t *testing.T) {
	sec := int64(time.Second)
	op := func(kind recorder.OpKind, at int64, found bool) LeaseInput {
		return LeaseInput{Kind: kind, Lease: 1, Call: at, Return: at, Found: found}
	}
	st := LeaseState{}
	for _, c := range []struct {
		in    LeaseInput
		out   int64
		legal bool
	}{
		{op(recorder.OpGet, 0, false), 0, true},        // before the grant: no key
		{op(recorder.OpGet, 0, true), 0, false},        // a key before its lease
		{op(recorder.OpTimeToLive, 0, true), 5, false}, // a lease before its grant
		{LeaseInput{Kind: recorder.OpGrant, Lease: 1, Call: 1 * sec, Return: 1 * sec, TTL: 10}, 0, true},
		{op(recorder.OpGet, 2*sec, true), 0, true},
		{op(recorder.OpGet, 2*sec, false), 0, false}, // the key vanished while its lease lives
		{op(recorder.OpTimeToLive, 2*sec, true), 9, true},
		{op(recorder.OpTimeToLive, 2*sec, true), 8, false}, // an expiry before 11 s: earlier than the grant's TTL allows
		{op(recorder.OpTimeToLive, 2*sec, false), 0, false},
		{LeaseInput{Kind: recorder.OpKeepAlive, Lease: 1, Call: 5 * sec, Return: 6 * sec}, 10, true},
		{op(recorder.OpTimeToLive, 12*sec, true), 3, true},
		{op(recorder.OpTimeToLive, 12*sec, true), 2, false}, // the keepalive promised 15 s
		{op(recorder.OpTimeToLive, 20*sec, true), -5, true}, // expired, not yet revoked
		{op(recorder.OpGet, 20*sec, true), 0, true},         // its key outlives the expiry until the revocation
		{op(recorder.OpRevoke, 21*sec, true), 0, true},
		{op(recorder.OpRevoke, 21*sec, true), 0, false}, // revoked twice
		{op(recorder.OpGet, 22*sec, true), 0, false},    // a key that survives its lease
		{op(recorder.OpGet, 22*sec, false), 0, true},
		{op(recorder.OpTimeToLive, 22*sec, false), 0, true},
		{op(recorder.OpTimeToLive, 22*sec, true), 3, false},
	} {
		ok, next := LeaseStep(st, c.in, c.out)
		if ok != c.legal {
			t.Errorf("%s in state %v: legal %v, want %v", describeOp(c.in, c.out), st, ok, c.legal)
		}
		if ok {
			st = next
		}
	}
}

// Restarts (clients.restart): a restarted process's old lease lives on
// beside its new one, each its own entry; the histories stay linearizable
// whether the old leases expire (abandoned) or are revoked by their clients
// (graceful), and a key that outlives its lease is still caught.
func TestLinearizableRestarts(t *testing.T) {
	for _, graceful := range []bool{false, true} {
		s := spec.Spec{
			Name: "restarts", Seed: 1, Duration: spec.Duration(45 * time.Second), Server: spec.ServerCluster,
			Clients: spec.ClientsSpec{Count: 200, TTL: spec.Duration(5 * time.Second), Version: "v3.7.3", Consumer: "drain",
				StartSpread: spec.Duration(5 * time.Second),
				Restart:     spec.RestartSpec{At: spec.Duration(10 * time.Second), Over: spec.Duration(2 * time.Second), Fraction: 0.5, Down: spec.Duration(time.Second), Graceful: graceful}},
			Cluster: spec.ClusterSpec{Members: 3, Cores: 2, TLS: "ecdsa"},
		}
		res, desc, run, h := linCheck(t, s, model.MutantNone)
		g, _, _, _ := h.Counts()
		if res != porcupine.Ok || g != 300 || (run.Expired == 0) == !graceful {
			t.Errorf("graceful %v: %s, %d grants, %d expired; want Ok, 300 grants, expiries only when abandoned", graceful, desc, g, run.Expired)
		}
		if graceful {
			continue
		}
		if res, desc, _, _ := linCheck(t, s, model.MutantKeysOutliveLease); res != porcupine.Illegal {
			t.Errorf("keys-outlive-lease not caught with restarts: %s", desc)
		}
	}
}

// Several leases per client process (clients.leases_per_client 4: one
// stream per process, each request naming its lease): the history holds
// every lease entry's keepalives and the checker's reads of each, and is
// linearizable on the honest server (expiries included) and not on a
// mutant's.
func TestLinearizabilityMultiLease(t *testing.T) {
	s := mutantScenario(1, "round-robin", true)
	s.Name, s.Clients.Count, s.Clients.LeasesPerClient = "multilease", 75, 4
	res, desc, run, _ := linCheck(t, s, model.MutantNone)
	if res != porcupine.Ok || run.Expired == 0 {
		t.Errorf("honest: %s, %d expired; want Ok with expiries", desc, run.Expired)
	}
	if res, desc, _, _ := linCheck(t, s, model.MutantAckAfterRevoke); res != porcupine.Illegal {
		t.Errorf("mutant %s not caught: %s", model.MutantAckAfterRevoke, desc)
	}
}
