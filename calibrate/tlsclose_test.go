package calibrate

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"go.etcd.io/etcd/client/pkg/v3/transport"

	"github.com/leasesim/leasesim/calibrate/procstat"
)

// TestPeerConnectionCloses pins what scenario's cluster.tls_close models:
// etcd's peer listener (read deadline on every read, here shortened from
// rafthttp's 5 s) and peer round tripper, one forwarded-renewal-like POST,
// then the connection is closed by the server's idle read deadline or by the
// client. With mutual TLS both ends send close_notify; the second reaches a
// closed socket and draws a RST, so neither end enters TIME_WAIT. That is
// certain when the server closes (its alert always comes first); when the
// client closes, the server sometimes closes without its alert and the
// client keeps TIME_WAIT (1 in 20 on an idle machine, more under load: the
// model counts none). Over plaintext the server, closing first, holds
// TIME_WAIT.
func TestPeerConnectionCloses(t *testing.T) {
	needsRealCluster(t, "real sockets, ~3 s")
	dir := t.TempDir()
	_, certs, err := writeCerts(dir, "rsa", 2, clock.New().Now())
	if err != nil {
		t.Fatal(err)
	}
	if closeOnce(t, certs, true, false) {
		t.Error("TLS, closed by the server's idle read deadline: TIME_WAIT seen, want a reset")
	}
	if !closeOnce(t, certs, false, false) {
		t.Error("plaintext, closed by the server: no TIME_WAIT seen, want it on the server")
	}
	tw := 0
	for range 10 {
		if closeOnce(t, certs, true, true) {
			tw++
		}
	}
	t.Logf("TLS, closed by the client: %d of 10 left TIME_WAIT", tw)
	if tw == 10 {
		t.Error("TLS, closed by the client: every close left TIME_WAIT, want resets")
	}
}

// closeOnce makes one connection, closes it as told and reports whether
// either of its ends was seen in TIME_WAIT.
func closeOnce(t *testing.T, certs []certFiles, useTLS, clientClose bool) (sawTW bool) {
	t.Helper()
	scheme := "http"
	var opts []transport.ListenerOption
	var cinfo transport.TLSInfo
	if useTLS {
		scheme = "https"
		info := transport.TLSInfo{CertFile: certs[0].Cert, KeyFile: certs[0].Key, TrustedCAFile: certs[0].CA, ClientCertAuth: true}
		opts = append(opts, transport.WithTLSInfo(&info))
		cinfo = transport.TLSInfo{CertFile: certs[1].Cert, KeyFile: certs[1].Key, TrustedCAFile: certs[1].CA}
	}
	opts = append(opts, transport.WithTimeout(500*time.Millisecond, 500*time.Millisecond))
	ln, err := transport.NewListenerWithOpts("127.0.0.1:0", scheme, opts...)
	if err != nil {
		t.Fatal(err)
	}
	peer := make(chan string, 1)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Write([]byte("ttl"))
		peer <- r.RemoteAddr
	})}
	go srv.Serve(ln)
	defer srv.Close()
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	// rafthttp.NewRoundTripper: no read/write timeouts, idle connections kept.
	rt, err := transport.NewTimeoutTransport(cinfo, time.Second, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(context.Background(), "POST", fmt.Sprintf("%s://127.0.0.1:%d/leases", scheme, port), strings.NewReader("renew"))
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	client, err := netip.ParseAddrPort(<-peer)
	if err != nil {
		t.Fatal(err)
	}
	// Exactly this connection, seen from either end: another socket on
	// the host may use the same port number as one of its ends.
	server := netip.AddrPortFrom(client.Addr(), port)
	ours := func(s procstat.Socket) bool {
		return (s.Local == server && s.Remote == client) || (s.Local == client && s.Remote == server)
	}
	if clientClose {
		rt.CloseIdleConnections()
	}
	fs := procstat.FS{}
	sawTW, gone := false, false
	for range 40 { // up to 4 s
		time.Sleep(100 * time.Millisecond)
		socks, err := fs.Sockets()
		if err != nil {
			t.Fatal(err)
		}
		n := procstat.CountByState(socks, ours)
		sawTW = sawTW || n[procstat.TCPTimeWait] > 0
		if n.Total()-n[procstat.TCPTimeWait] == 0 {
			gone = true
			break
		}
	}
	if !gone {
		t.Fatal("the connection was never closed")
	}
	if !gone {
		t.Fatal("the connection was never closed")
	}
	return sawTW
}
