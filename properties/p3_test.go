package properties

import (
	"flag"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/leasesim/leasesim/clientmodel/scripted"
)

// recordingTB is a rapid.TB that records a failure instead of failing the
// test: rapid.Check reports the shrunk counterexample through Errorf/Logf and
// ends with FailNow, all of which are only recorded here.
type recordingTB struct {
	name   string
	mu     sync.Mutex
	failed bool
	lines  []string
}

func (r *recordingTB) Helper()      {}
func (r *recordingTB) Name() string { return r.name }
func (r *recordingTB) rec(fail bool, s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed = r.failed || fail
	r.lines = append(r.lines, s)
}
func (r *recordingTB) Logf(f string, a ...any)   { r.rec(false, fmt.Sprintf(f, a...)) }
func (r *recordingTB) Log(a ...any)              { r.rec(false, fmt.Sprint(a...)) }
func (r *recordingTB) Skipf(f string, a ...any)  { r.rec(false, "SKIP "+fmt.Sprintf(f, a...)) }
func (r *recordingTB) Skip(a ...any)             { r.rec(false, "SKIP "+fmt.Sprint(a...)) }
func (r *recordingTB) SkipNow()                  { r.rec(false, "SKIP") }
func (r *recordingTB) Errorf(f string, a ...any) { r.rec(true, fmt.Sprintf(f, a...)) }
func (r *recordingTB) Error(a ...any)            { r.rec(true, fmt.Sprint(a...)) }
func (r *recordingTB) Fatalf(f string, a ...any) { r.rec(true, fmt.Sprintf(f, a...)) }
func (r *recordingTB) Fatal(a ...any)            { r.rec(true, fmt.Sprint(a...)) }
func (r *recordingTB) FailNow()                  { r.rec(true, "FailNow") }
func (r *recordingTB) Fail()                     { r.rec(true, "Fail") }
func (r *recordingTB) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}

// P3: P1 must FAIL for the pre-fix client (v3.2.23, the 2018 incident's), and
// rapid must shrink the failure to the 2018 bug itself: one client, a
// consumer that never reads, and the 18th request only 500 ms after the 17th
// (16 responses fill the 16-slot channel, the 17th is dropped and
// nextKeepAlive does not move, so the next 500 ms scan renews again).
// Budget: 100 scripts to find it (it is found within the first few), then
// rapid's shrinking (-rapid.shrinktime, 30 s at most).
func TestP3PreFixFailsP1AndShrinksToThe2018Bug(t *testing.T) {
	v := mustVersion(t, "v3.2.23")
	gen := GenP1()
	type failure struct {
		s  scripted.Script
		vs []Violation
	}
	var last *failure // the last failing run: rapid's final replay of the shrunk case
	prop := func(rt *rapid.T) {
		s := gen.Draw(rt, "script")
		res, err := scripted.Replay(s, v)
		if err != nil {
			rt.Fatal(err)
		}
		if vs := CheckP1(s, res); len(vs) > 0 {
			last = &failure{s, vs}
			rt.Fatalf("P1 fails for %s:\n%s\n%s", v.Name, FormatScript(s), report(vs))
		}
	}
	rec := &recordingTB{name: t.Name()}
	// The expected failure must not leave a rapid fail file in testdata/.
	old := flag.Lookup("rapid.nofailfile").Value.String()
	flag.Set("rapid.nofailfile", "true")
	defer flag.Set("rapid.nofailfile", old)
	start := time.Now()
	withChecks(t, 100, func() { rapid.Check(rec, prop) })
	t.Logf("rapid.Check took %v", time.Since(start).Round(time.Millisecond))

	if !rec.Failed() || last == nil {
		t.Fatalf("rapid found no counterexample to P1 for the pre-fix client; its log:\n%s", strings.Join(rec.lines, "\n"))
	}
	t.Logf("rapid's report of the shrunk counterexample:\n%s", strings.Join(rec.lines, "\n"))
	s, vs := last.s, last.vs
	t.Logf("shrunk case: %s\nfirst violations:\n%s", FormatScript(s), report(vs))

	if len(s.Leases) != 1 {
		t.Errorf("shrunk case has %d clients, want 1", len(s.Leases))
	}
	l := s.Leases[0]
	if l.Consumer.Kind != scripted.ConsumerNever {
		t.Errorf("shrunk consumer is %q, want %q", l.Consumer.Kind, scripted.ConsumerNever)
	}
	first := vs[0]
	var interval *Violation
	for i := range vs {
		if vs[i].Rule == RuleInterval {
			interval = &vs[i]
			break
		}
	}
	switch {
	case first.Request != 18:
		t.Errorf("first violation at request #%d, want #18: %v", first.Request, first)
	case interval == nil || interval.Request != 18 || interval.Interval != scan:
		t.Errorf("no renew interval of 500 ms at request #18: %v", interval)
	default:
		t.Logf("minimal: 1 client, consumer %s, TTL %ds: request #18 goes out %v after #17 (TTL/3 = %v)",
			l.Consumer.Kind, l.TTLs, time.Duration(interval.Interval), time.Duration(l.TTLs)*time.Second/3)
	}
}
