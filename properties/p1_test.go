package properties

import (
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/leasesim/leasesim/clientmodel"
	"github.com/leasesim/leasesim/clientmodel/realclient"
	"github.com/leasesim/leasesim/clientmodel/scripted"
)

func mustVersion(t testing.TB, v string) clientmodel.Version {
	t.Helper()
	ver, err := clientmodel.ParseVersion(v)
	if err != nil {
		t.Fatal(err)
	}
	return ver
}

func report(vs []Violation) string {
	var b strings.Builder
	for i, v := range vs {
		if i == 5 {
			b.WriteString("  ...\n")
			break
		}
		b.WriteString("  " + v.String() + "\n")
	}
	return b.String()
}

// P1 on the model with the fixed rule (the v3.7.3 lessor): budget 1000 scripts.
func TestP1Model(t *testing.T) {
	v := mustVersion(t, realclient.Version)
	gen := GenP1()
	withChecks(t, 1000, func() {
		rapid.Check(t, func(rt *rapid.T) {
			s := gen.Draw(rt, "script")
			res, err := scripted.Replay(s, v)
			if err != nil {
				rt.Fatal(err)
			}
			if vs := CheckP1(s, res); len(vs) > 0 {
				rt.Fatalf("P1 fails for %s:\n%s\n%s", v.Name, FormatScript(s), report(vs))
			}
		})
	})
}

// P1 on the real go.etcd.io/etcd/client/v3 lessor in testing/synctest: budget
// 500 scripts of GenP1 (1-3 clients). The model's timeline must also equal the
// real one, so a P1 pass here is not a pass of a different run.
func TestP1RealClient(t *testing.T) {
	v := mustVersion(t, realclient.Version)
	gen := GenP1()
	withChecks(t, 500, func() {
		rapid.Check(t, func(rt *rapid.T) {
			s := gen.Draw(rt, "script")
			got := realclient.Run(t, s)
			if vs := CheckP1(s, got); len(vs) > 0 {
				rt.Fatalf("P1 fails for the real client %s:\n%s\n%s", realclient.Version, FormatScript(s), report(vs))
			}
			model, err := scripted.Replay(s, v)
			if err != nil {
				rt.Fatal(err)
			}
			if d := scripted.Diff(got, model); d != "" {
				rt.Fatalf("model differs from the real client:\n%s", d)
			}
		})
	})
}

// CheckP1 has teeth: it flags a request moved by 1 ns out of its window, a
// missing request, a request after revocation, and a late resend after a reset.
func TestCheckP1Teeth(t *testing.T) {
	v := mustVersion(t, realclient.Version)
	base := scripted.Script{Name: "teeth", DurationNs: 60 * sec, Leases: []scripted.Lease{{
		ID: 1, ConnectDelayNs: 50, TTLs: 6, Consumer: scripted.Consumer{Kind: scripted.ConsumerNever},
		DelaysNs: []int64{10*ms + us}, ResetsNs: []int64{30*sec + 100},
	}}}
	res, err := scripted.Replay(base, v)
	if err != nil {
		t.Fatal(err)
	}
	if vs := CheckP1(base, res); len(vs) > 0 {
		t.Fatalf("honest run flagged:\n%s", report(vs))
	}
	reqs := scripted.Expand(res.Leases[0].Requests)
	t.Logf("requests: %v", fmtTimes(reqs))
	mutate := func(name, wantRule string, f func([]int64) []int64) {
		t.Helper()
		r := res
		r.Leases = []scripted.LeaseResult{res.Leases[0]}
		r.Leases[0].Requests = scripted.Compress(f(append([]int64(nil), reqs...)))
		vs := CheckP1(base, r)
		for _, v := range vs {
			if v.Rule == wantRule {
				t.Logf("%s: caught: %v", name, v)
				return
			}
		}
		t.Errorf("%s: not caught as %s; violations:\n%s", name, wantRule, report(vs))
	}
	mutate("early by one scan", RuleWindow, func(x []int64) []int64 { x[3] -= scan; return x })
	mutate("late by one scan", RuleInterval, func(x []int64) []int64 { x[3] += scan; return x })
	mutate("dropped last", RuleMissing, func(x []int64) []int64 { return x[:len(x)-1] })
	mutate("first late", RuleFirst, func(x []int64) []int64 { x[0] += 1; return x })
	// The reset at 30 s: the request after it goes out at 30.5 s only if due.
	mutate("resend late", RuleReset, func(x []int64) []int64 {
		for i := range x {
			if x[i] > 30*sec {
				x[i] += scan
				break
			}
		}
		return x
	})
	// The pre-fix rule on the same script fails (checked in P3 on generated scripts).
	pre, err := scripted.Replay(base, mustVersion(t, "v3.2.23"))
	if err != nil {
		t.Fatal(err)
	}
	if vs := CheckP1(base, pre); len(vs) == 0 {
		t.Error("the pre-fix model passes P1 on a never-reading 60 s script")
	}
	rv := base
	rv.Leases = []scripted.Lease{base.Leases[0]}
	rv.Leases[0].RevokeAt = 2
	rres, _ := scripted.Replay(rv, v)
	rres.Leases[0].Requests = scripted.Compress(append(scripted.Expand(rres.Leases[0].Requests), 50*sec))
	if vs := CheckP1(rv, rres); len(vs) == 0 || vs[0].Rule != RuleRevoked {
		t.Errorf("request after revocation not caught: %v", vs)
	}
}
