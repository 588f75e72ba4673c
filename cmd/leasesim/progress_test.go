package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// Off a terminal, progress is plain lines: one per tenth (or per 10 s),
// each with the count, elapsed time and an ETA, and the last one at 100 %.
func TestProgressPlainLines(t *testing.T) {
	var b bytes.Buffer
	p := newProgress(&b, 40, "sweep", "points")
	if p.bar != nil {
		t.Fatal("a bytes.Buffer is not a terminal")
	}
	clock := p.start
	p.now = func() time.Time { return clock }
	for i := 0; i < 40; i++ {
		clock = clock.Add(time.Second)
		p.add(1)
	}
	p.finish()
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 10 {
		t.Fatalf("%d lines, want 10 (one per tenth):\n%s", len(lines), b.String())
	}
	if lines[0] != "sweep: 4/40 points (10%), 4s elapsed, ETA 36s" {
		t.Errorf("first line %q", lines[0])
	}
	if lines[9] != "sweep: 40/40 points (100%), 40s elapsed" {
		t.Errorf("last line %q", lines[9])
	}
	// A slow step still reports every 10 s; an estimated total that was too
	// small grows instead of passing 100 %.
	b.Reset()
	p = newProgress(&b, 2, "knee", "probes")
	clock = p.start
	p.now = func() time.Time { return clock }
	clock = clock.Add(11 * time.Second)
	p.add(1) // 50 %: a new tenth anyway
	p.add(1)
	p.add(1) // beyond the estimate
	if got := strings.Count(b.String(), "\n"); got != 3 || !strings.Contains(b.String(), "3/3 probes (100%)") {
		t.Errorf("estimate overrun:\n%s", b.String())
	}
	// nil is a no-op display.
	var none *progress
	none.add(1)
	none.setTotal(3)
	none.finish()
}

// run shows progress on stderr when it runs several simulations (what-ifs,
// seeds); -q silences it, and the result on stdout is the same.
func TestRunQuiet(t *testing.T) {
	args := []string{"run", "--clients", "10", "--ttl", "10s", "--duration", "10s", "--what-if", "ttl=20s"}
	var out, errb, outQ, errQ bytes.Buffer
	if code := run(args, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if code := run(append(args, "-q"), &outQ, &errQ); code != 0 {
		t.Fatalf("-q: exit %d: %s", code, errQ.String())
	}
	if !strings.Contains(errb.String(), "run") || errQ.Len() != 0 {
		t.Errorf("stderr without -q %q, with -q %q: want progress, then nothing", errb.String(), errQ.String())
	}
	if out.String() != outQ.String() {
		t.Errorf("-q changed stdout")
	}
}
