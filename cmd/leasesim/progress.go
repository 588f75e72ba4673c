package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress is the one progress display of every long command (run with
// what-ifs, sweep, knee, check, report, calibrate): on a terminal, a
// schollz/progressbar bar with count, elapsed time and ETA on stderr; otherwise
// (stderr redirected to a log, CI) plain lines — at most one per 10 % or
// per 10 s — with the same count, elapsed time and ETA. A nil *progress
// does nothing, so callers need not check.
type progress struct {
	mu    sync.Mutex
	bar   *progressbar.ProgressBar // terminal
	w     io.Writer                // plain lines
	desc  string
	unit  string
	total int
	done  int
	start time.Time
	now   func() time.Time
	// plain-line throttling: last printed tenth and time
	lastTenth int
	lastLine  time.Time
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// newProgress starts a display of total steps named unit ("runs", "points").
func newProgress(w io.Writer, total int, desc, unit string) *progress {
	p := &progress{w: w, desc: desc, unit: unit, total: total, start: time.Now(), now: time.Now, lastTenth: 0}
	p.lastLine = p.start
	if isTerminal(w) {
		p.bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription(desc+" "+unit),
			progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionShowElapsedTimeOnFinish(),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
		)
	}
	return p
}

// add records n more steps done.
func (p *progress) add(n int) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += n
	if p.done > p.total {
		// an estimated total (a knee search's probes) was too small
		p.total = p.done
		if p.bar != nil {
			p.bar.ChangeMax(p.total)
		}
	}
	if p.bar != nil {
		p.bar.Set(p.done)
		return
	}
	now := p.now()
	tenth := 10 * p.done / max(1, p.total)
	if tenth == p.lastTenth && now.Sub(p.lastLine) < 10*time.Second && p.done < p.total {
		return
	}
	p.lastTenth, p.lastLine = tenth, now
	fmt.Fprintln(p.w, p.line(now))
}

// setTotal changes the (estimated) total.
func (p *progress) setTotal(n int) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total = max(n, p.done)
	if p.bar != nil {
		p.bar.ChangeMax(p.total)
	}
}

// line is a plain progress line: "sweep: 3/12 points (25%), 12s elapsed, ETA 36s".
func (p *progress) line(now time.Time) string {
	el := now.Sub(p.start)
	s := fmt.Sprintf("%s: %d/%d %s (%d%%), %s elapsed", p.desc, p.done, p.total, p.unit, 100*p.done/max(1, p.total), el.Round(time.Second))
	if p.done > 0 && p.done < p.total {
		eta := time.Duration(float64(el) / float64(p.done) * float64(p.total-p.done))
		s += ", ETA " + eta.Round(time.Second).String()
	}
	return s
}

// finish ends the display.
func (p *progress) finish() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		p.bar.Finish()
	}
}
