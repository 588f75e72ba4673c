package recorder

import (
	"bufio"
	"io"
	"strconv"
)

// The trace is in the Chrome trace-event format (JSON object form), which
// ui.perfetto.dev and chrome://tracing open: every fact is an instant event
// ("ph":"i", thread scope) on the track of its lease (pid 1, tid = the
// lease ID; a cohort's fact is on its first lease's track, with n in args),
// timestamped in microseconds of virtual time. Each lease's track is named
// by a metadata event the first time it appears. The document is closed by
// Flush.
//
// Same run, same bytes: events are written in the simulation's order, and
// numbers with strconv's shortest round-trip formatting.

// TraceOptions chooses what the trace keeps.
type TraceOptions struct {
	// MaxLeases keeps only the facts of the first MaxLeases leases to appear
	// (in the simulation's deterministic order); 0 keeps every lease.
	MaxLeases int
}

// TraceWriter is a trace destination with options. Pass it where New takes
// its trace io.Writer; a plain io.Writer gets the default options.
type TraceWriter struct {
	w    io.Writer
	opts TraceOptions
}

// NewTraceWriter returns a trace destination writing to w with opts.
func NewTraceWriter(w io.Writer, opts TraceOptions) *TraceWriter {
	return &TraceWriter{w: w, opts: opts}
}

// Write passes p through to the destination.
func (t *TraceWriter) Write(p []byte) (int, error) { return t.w.Write(p) }

// tracer writes one run's trace.
type tracer struct {
	w       *bufio.Writer
	opts    TraceOptions
	err     error
	started bool
	closed  bool
	seen    map[int64]bool // lease tracks named so far
	line    []byte
}

func newTracer(w io.Writer) *tracer {
	t := &tracer{seen: map[int64]bool{}}
	if tw, ok := w.(*TraceWriter); ok {
		t.opts, w = tw.opts, tw.w
	}
	t.w = bufio.NewWriterSize(w, 1<<20)
	return t
}

func (t *tracer) write(b []byte) {
	if t.err == nil {
		_, t.err = t.w.Write(b)
	}
}

func (t *tracer) start() {
	t.started = true
	t.write([]byte(`{"displayTimeUnit":"ms","otherData":{"generator":"leasesim"},"traceEvents":[` + "\n" +
		`{"name":"process_name","ph":"M","pid":1,"tid":0,"args":{"name":"leases"}}`))
}

// usec formats nanoseconds as microseconds, exactly.
func usec(l []byte, ns int64) []byte {
	l = strconv.AppendInt(l, ns/1000, 10)
	if r := ns % 1000; r != 0 {
		if r < 0 {
			r = -r
		}
		s := strconv.FormatInt(1000+r, 10)[1:] // three digits
		for len(s) > 0 && s[len(s)-1] == '0' {
			s = s[:len(s)-1]
		}
		l = append(l, '.')
		l = append(l, s...)
	}
	return l
}

func (t *tracer) record(now int64, k Kind, first int64, n uint64, reason string) {
	if t.closed || t.err != nil {
		return
	}
	if !t.started {
		t.start()
	}
	if !t.seen[first] {
		if t.opts.MaxLeases > 0 && len(t.seen) >= t.opts.MaxLeases {
			return
		}
		t.seen[first] = true
		l := t.line[:0]
		l = append(l, ",\n"+`{"name":"thread_name","ph":"M","pid":1,"tid":`...)
		l = strconv.AppendInt(l, first, 10)
		l = append(l, `,"args":{"name":"lease `...)
		l = strconv.AppendInt(l, first, 10)
		l = append(l, `"}}`...)
		t.line = l
		t.write(l)
	}
	l := t.line[:0]
	l = append(l, ",\n"+`{"name":"`...)
	l = append(l, kindNames[k]...)
	l = append(l, `","cat":"lease","ph":"i","s":"t","ts":`...)
	l = usec(l, now)
	l = append(l, `,"pid":1,"tid":`...)
	l = strconv.AppendInt(l, first, 10)
	if n != 1 || reason != "" {
		l = append(l, `,"args":{`...)
		if n != 1 {
			l = append(l, `"n":`...)
			l = strconv.AppendUint(l, n, 10)
		}
		if reason != "" {
			if n != 1 {
				l = append(l, ',')
			}
			l = append(l, `"reason":`...)
			l = strconv.AppendQuote(l, reason)
		}
		l = append(l, '}')
	}
	l = append(l, '}')
	t.line = l
	t.write(l)
}

// close ends the JSON document and flushes it.
func (t *tracer) close() error {
	if !t.closed {
		if !t.started {
			t.start()
		}
		t.write([]byte("\n]}\n"))
		t.closed = true
	}
	if t.err != nil {
		return t.err
	}
	return t.w.Flush()
}
