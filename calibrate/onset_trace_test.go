package calibrate

import (
	"bytes"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	rtrace "runtime/trace"
	"sync"
	"testing"
	"time"
)

// TestReadOnsetTrace reads a trace of known work in this process: 8
// requests at once to a TLS server through a fresh transport (8 dials, not
// a lease forward's: other dials; 8 client handshake goroutines; 8 server
// connections), a forced GC cycle
// (a mark phase, GC workers' CPU), and three agent sends, one unanswered.
func TestReadOnsetTrace(t *testing.T) {
	const dials = 8
	// Every request waits until all are in (or 5 s): none frees a
	// connection another could reuse, so each dials its own.
	var in sync.WaitGroup
	in.Add(dials)
	all := make(chan struct{})
	go func() { in.Wait(); close(all) }()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		in.Done()
		select {
		case <-all:
		case <-time.After(5 * time.Second):
		}
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	fr := rtrace.NewFlightRecorder(rtrace.FlightRecorderConfig{MinAge: 5 * time.Second, MaxBytes: 64 << 20})
	if err := fr.Start(); err != nil {
		t.Fatal(err)
	}
	defer fr.Stop()
	from := time.Now()
	time.Sleep(20 * time.Millisecond)
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, MaxIdleConnsPerHost: 16}
	defer tr.CloseIdleConnections()
	var wg sync.WaitGroup
	for range dials {
		wg.Go(func() {
			resp, err := (&http.Client{Transport: tr}).Get(srv.URL)
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		})
	}
	wg.Wait()
	runtime.GC()
	time.Sleep(20 * time.Millisecond)
	to := time.Now()
	var b bytes.Buffer
	if _, err := fr.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	at := from.Add(10 * time.Millisecond).UnixNano()
	res := &StormResult{SendAt: []int64{at, at + 1, at + 2}, RTTNs: []int64{2e6, 7e6, -1}}
	ot, err := ReadOnsetTrace(&b, from, to, res, from.Add(-time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var sum OnsetStep
	var marked, sends int
	maxRTT := 0.0
	for _, s := range ot.Steps {
		sum.Dials += s.Dials
		sum.OtherDial += s.OtherDial
		sum.Accepts += s.Accepts
		sum.GCCores += s.GCCores
		sum.Running += s.Running
		sum.HandshakeCores += s.HandshakeCores
		sum.ConnCores += s.ConnCores
		sum.Handshakes += s.Handshakes
		if s.Mark > 0 {
			marked++
		}
		if s.Sends > 0 {
			sends += s.Sends
			maxRTT = s.MaxRTTMs
		}
	}
	t.Logf("%d steps; sums %+v; %d steps marking", len(ot.Steps), sum, marked)
	if sum.Dials != 0 || sum.OtherDial != dials || sum.Accepts != dials {
		t.Errorf("dials: %d lease, %d other, %d server connections; want 0, %d, %d", sum.Dials, sum.OtherDial, sum.Accepts, dials, dials)
	}
	if marked == 0 || sum.GCCores <= 0 {
		t.Errorf("the forced cycle: %d steps marking, %.3f GC core-steps", marked, sum.GCCores)
	}
	// The client's handshakes run in addTLS's goroutines; httptest's server
	// handshakes in its connections' (etcd's tlsListener is not in it).
	if sum.Handshakes != dials || sum.HandshakeCores <= 0 || sum.ConnCores <= 0 || sum.Running < sum.HandshakeCores+sum.ConnCores {
		t.Errorf("%d handshake goroutines (want %d, the client's); cores: handshakes %.3f, connections %.3f, running %.3f",
			sum.Handshakes, dials, sum.HandshakeCores, sum.ConnCores, sum.Running)
	}
	if sends != 3 || maxRTT != -1 {
		t.Errorf("the agent's sends: %d in the window, max RTT %.1f ms; want 3 and -1 (one unanswered)", sends, maxRTT)
	}
	if ot.FromS != 1 {
		t.Errorf("window start %.3f s from the load's start; want 1", ot.FromS)
	}
}
