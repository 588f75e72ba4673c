//go:build linux

// Benchmarks in this file measure the CPU cost of the mutual-TLS handshakes on
// etcd peer connections (member -> leader, HTTP/1.1 over mTLS), per side, so
// that the leasesim model's handshake-cost constants can cite them.
//
// # What is measured
//
// One op is one connection set-up between an in-process client (the member)
// and server (the leader), with mutual TLS: the server requires and verifies
// a client certificate (ClientAuth = RequireAndVerifyClientCert, as etcd's
// peer listener with --peer-client-cert-auth). An op is: make a connection
// pair, client and server Handshake, a 1-byte request and a 1-byte response
// (so the client reads and caches the TLS 1.3 NewSessionTicket, which Go's
// server sends inside its handshake), close the raw connections.
//
// The server and the client each run in their own goroutine locked to its own
// OS thread (runtime.LockOSThread) and read their thread's CPU clock
// (clock_gettime(CLOCK_THREAD_CPUTIME_ID), user+system, ns-exact; used instead
// of getrusage(RUSAGE_THREAD), whose value for a running thread lags by up to
// a scheduler tick) before and after their b.N connections. Every time a side
// blocks waiting for the other, or wakes it, the CPU of that wait/wake (a
// futex sleep/wake of a locked thread: expensive in a VM, and an artefact of
// this harness) is booked apart. Reported per op:
//
//	server-us/op        server CPU net of blocking: the leader's handshake cost
//	client-us/op        client CPU net of blocking: the member's handshake cost
//	server-hs/s/core    1e6 / server-us/op: handshakes one leader core can serve per second
//	server-block-us/op  server CPU spent blocking for / waking the client (harness)
//	client-block-us/op  the same for the client
//	proc-us/op          whole-process CPU (CLOCK_PROCESS_CPUTIME_ID): adds GC
//	                    and the runtime's other threads, attributable to neither side
//	ns/op, B/op, allocs/op  wall time (the sides mostly alternate, so ~ the sum
//	                    of both plus wake-up latency: not a CPU figure), memory of both sides
//
// plaintext-baseline runs the same harness without TLS: its server-us and
// client-us (~2 us) are the harness's own floor (pipe, channel, clock reads)
// included in every other row.
//
// Certificates are generated once per process, not per op: per key type
// (RSA-2048, ECDSA P-256) a CA, a server and a client certificate, the leaves
// with IP SAN 127.0.0.1 and ExtKeyUsage ServerAuth+ClientAuth, as etcd peer
// certificates are. Keys are PEM-encoded as PKCS#1 "RSA PRIVATE KEY" / SEC 1
// "EC PRIVATE KEY", as cfssl and openssl write them.
//
// The transport is an in-memory buffered pipe (memPipe), not net.Pipe:
// net.Pipe is unbuffered, and with TLS 1.3, client certificates and a client
// session cache Go's server writes NewSessionTicket inside Handshake while the
// client is already writing its request, so both Writes block forever. The
// numbers are therefore TLS and crypto CPU only; a real TCP connection adds
// its kernel cost (accept, reads, writes) on top.
//
// # Benchmarks
//
//	BenchmarkPeerTLSHandshake/{RSA-2048,ECDSA-P256}/{TLS1.2,TLS1.3}/{full,resumed}
//	    The TLS version is pinned (Min = Max). full: the client has no session
//	    cache (the server keeps Go's default session tickets on, as etcd does),
//	    so every op is a full handshake with signatures and chain verification
//	    on both sides. resumed: the client has an LRU session cache, primed
//	    before the timer; every op must resume (checked). TLS 1.2 resumption is
//	    abbreviated, without key exchange; TLS 1.3 resumption (Go offers only
//	    psk_dhe_ke) still does a full key exchange, but no signatures or chains.
//	BenchmarkPeerTLSHandshake/plaintext-baseline
//	BenchmarkPeerTLSHandshake/etcd-peer/{static-cert,reload-cert}
//	    Mimics etcd's peer TLS config (client/pkg/transport TLSInfo): RSA-2048,
//	    MinVersion TLS 1.2 and no MaxVersion (so TLS 1.3 is negotiated), no
//	    client session cache, mutual TLS. reload-cert sets GetCertificate on the
//	    server and GetClientCertificate on the client to re-read the PEM files
//	    (written to b.TempDir) and tls.X509KeyPair them on every handshake, as
//	    etcd's tlsutil.NewCert does; static-cert is the same with certificates
//	    loaded once. reload-cert minus static-cert is the reload overhead.
//	BenchmarkPeerTLSCertReload/{RSA-2048,ECDSA-P256}
//	    The reload alone (os.ReadFile of cert and key, tls.X509KeyPair) on one
//	    thread, cpu-us/op. For RSA most of it is the private-key consistency
//	    check (crypto/rsa precompute + checkPrivateKey) done on every parse.
//
// Key exchange: in TLS 1.3, Go 1.26 negotiates the hybrid X25519MLKEM768 by
// default (the client also sends a plain X25519 share); TLS 1.2 does ECDHE
// X25519. etcd binaries built with Go < 1.24 did plain X25519 in TLS 1.3 too;
// GODEBUG=tlsmlkem=0 reproduces that (second table). GODEBUG defaults follow
// go.mod's go line.
//
// # How to run
//
//	go test -run '^$' -bench . ./netsim                  # all: ~20 s on 2 cores
//	go test -run '^$' -bench . -count 5 ./netsim         # the table below: ~110 s
//	go test -run '^$' -bench 'PeerTLSHandshake/etcd-peer' ./netsim
//	GODEBUG=tlsmlkem=0 go test -run '^$' -bench 'PeerTLSHandshake/(ECDSA|RSA|etcd)/(TLS1.3|cert)' -count 3 ./netsim
//
// Linux only (thread CPU clock); the build tag excludes the file elsewhere.
//
// # Measured on this machine
//
// lscpu: Model name "AMD EPYC" (family 26 model 2, KVM guest, BogoMIPS 5192),
// 2 vCPUs (2 cores x 1 thread), Linux 6.18; go1.26.8 linux/amd64.
// `go test -run '^$' -bench . -count 5 ./netsim`, median of 5 runs, CPU
// microseconds per handshake (blocking excluded), [min-max] of the 5 runs:
//
//	variant                          server-us          client-us          server hs/s/core
//	RSA-2048   TLS1.2 full           821  [804-833]     821  [819-833]      1217
//	RSA-2048   TLS1.2 resumed         28  [ 25- 31]      25  [ 23- 28]     36092
//	RSA-2048   TLS1.3 full           867  [855-885]     911  [904-920]      1154
//	RSA-2048   TLS1.3 resumed        144  [144-149]     193  [189-200]      6938
//	ECDSA-P256 TLS1.2 full           196  [193-201]     193  [190-196]      5112
//	ECDSA-P256 TLS1.2 resumed         22  [ 21- 23]      21  [ 19- 21]     45739
//	ECDSA-P256 TLS1.3 full           260  [254-265]     307  [299-311]      3840
//	ECDSA-P256 TLS1.3 resumed        146  [144-149]     196  [194-199]      6855
//	plaintext-baseline (no TLS)        1.8                1.5
//	etcd-peer static-cert (TLS1.3)   908  [886-915]     952  [929-960]      1102
//	etcd-peer reload-cert (TLS1.3)  1042 [1027-1062]   1088 [1072-1121]      960
//	  reload overhead (reload-static) +134               +136
//	cert reload alone, RSA-2048      118  (cpu-us/op, one file pair)
//	cert reload alone, ECDSA-P256     30
//
// Blocking/waking, excluded above, cost a further ~10-50 us per side per op
// (server-block-us/op), and whole-process CPU (proc-us/op) exceeds the sum of
// both sides by ~60-130 us per TLS op (GC, runtime threads handing Ps to the
// locked threads); neither belongs to the TLS handshake itself.
//
// TLS 1.3 rows with GODEBUG=tlsmlkem=0 (plain X25519, as Go < 1.24 builds),
// median of 3 runs:
//
//	variant                          server-us   client-us
//	RSA-2048   TLS1.3 full              846         832
//	RSA-2048   TLS1.3 resumed            95         100
//	ECDSA-P256 TLS1.3 full              213         210
//	ECDSA-P256 TLS1.3 resumed            93          98
//	etcd-peer static-cert               837         822
//	etcd-peer reload-cert               987         974     (reload overhead +150 / +152)
package netsim_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/leasesim/leasesim/netsim"
)

// ---------------------------------------------------------------------------
// CPU accounting

// threadCPU returns the CPU time (user+system) consumed so far by the calling
// OS thread; the caller must be locked to its thread (runtime.LockOSThread).
// It uses clock_gettime(CLOCK_THREAD_CPUTIME_ID), which is exact to the
// nanosecond, rather than getrusage(RUSAGE_THREAD), whose value for a running
// thread lags by up to a scheduler tick. One call costs ~0.4 us here.
func threadCPU() time.Duration { return clockCPU(clockThreadCPUTimeID) }

// processCPU returns the CPU time consumed so far by the whole process.
func processCPU() time.Duration { return clockCPU(clockProcessCPUTimeID) }

const (
	clockProcessCPUTimeID = 2 // CLOCK_PROCESS_CPUTIME_ID
	clockThreadCPUTimeID  = 3 // CLOCK_THREAD_CPUTIME_ID
)

func clockCPU(clock uintptr) time.Duration {
	var ts syscall.Timespec
	if _, _, errno := syscall.RawSyscall(syscall.SYS_CLOCK_GETTIME, clock, uintptr(unsafe.Pointer(&ts)), 0); errno != 0 {
		panic(fmt.Sprintf("clock_gettime(%d): %v", clock, errno))
	}
	return time.Duration(ts.Nano())
}

// sideMeter is owned by one side's goroutine (locked to its thread). It
// accumulates the CPU that thread spends blocking for, and waking, the other
// side: parking/unparking a locked goroutine is a futex sleep/wake, costly in
// a VM and an artefact of this harness (a real server blocks in the netpoller
// instead), so it is reported separately from the TLS cost.
type sideMeter struct {
	block time.Duration // CPU spent inside waits and wake-ups
}

// wait runs f, which may block or wake the other side, and books its CPU.
func (m *sideMeter) wait(f func()) {
	t0 := threadCPU()
	f()
	m.block += threadCPU() - t0
}

// ---------------------------------------------------------------------------
// Certificates

// peerPKI is one key type's CA plus a server (leader) and a client (member)
// certificate, parsed and as PEM bytes (for the on-disk reload variants).
type peerPKI struct {
	name           string
	pool           *x509.CertPool // holds the CA; used as RootCAs and ClientCAs
	server, client tls.Certificate

	serverCertPEM, serverKeyPEM []byte
	clientCertPEM, clientKeyPEM []byte
}

var (
	pkiOnce sync.Once
	pkiAll  []*peerPKI // RSA-2048, ECDSA-P256
	pkiErr  error
)

// peerPKIs generates the certificates once per process: RSA-2048 key
// generation takes a while and is not what is being measured.
func peerPKIs(b *testing.B) []*peerPKI {
	b.Helper()
	pkiOnce.Do(func() {
		gens := []struct {
			name string
			gen  func() (crypto.Signer, error)
		}{
			{"RSA-2048", func() (crypto.Signer, error) { return rsa.GenerateKey(rand.Reader, 2048) }},
			{"ECDSA-P256", func() (crypto.Signer, error) { return ecdsa.GenerateKey(elliptic.P256(), rand.Reader) }},
		}
		for _, g := range gens {
			p, err := newPeerPKI(g.name, g.gen)
			if err != nil {
				pkiErr = fmt.Errorf("%s PKI: %w", g.name, err)
				return
			}
			pkiAll = append(pkiAll, p)
		}
	})
	if pkiErr != nil {
		b.Fatal(pkiErr)
	}
	return pkiAll
}

func newPeerPKI(name string, genKey func() (crypto.Signer, error)) (*peerPKI, error) {
	now := time.Now()
	caKey, err := genKey()
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "leasesim peer CA " + name},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		return nil, err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}

	// leaf issues an etcd-style peer certificate: IP SAN 127.0.0.1, usable
	// both as a server and as a client certificate.
	leaf := func(serial int64, cn string) (certPEM, keyPEM []byte, err error) {
		key, err := genKey()
		if err != nil {
			return nil, nil, err
		}
		usage := x509.KeyUsageDigitalSignature
		if _, ok := key.(*rsa.PrivateKey); ok {
			usage |= x509.KeyUsageKeyEncipherment
		}
		tmpl := &x509.Certificate{
			SerialNumber:          big.NewInt(serial),
			Subject:               pkix.Name{CommonName: cn},
			NotBefore:             now.Add(-time.Hour),
			NotAfter:              now.Add(24 * time.Hour),
			KeyUsage:              usage,
			ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
			BasicConstraintsValid: true,
			IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, key.Public(), caKey)
		if err != nil {
			return nil, nil, err
		}
		var keyBlock *pem.Block
		switch k := key.(type) {
		case *rsa.PrivateKey:
			keyBlock = &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}
		case *ecdsa.PrivateKey:
			kb, err := x509.MarshalECPrivateKey(k)
			if err != nil {
				return nil, nil, err
			}
			keyBlock = &pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}
		default:
			return nil, nil, fmt.Errorf("unexpected key type %T", key)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(keyBlock), nil
	}

	p := &peerPKI{name: name, pool: x509.NewCertPool()}
	p.pool.AddCert(caCert)
	if p.serverCertPEM, p.serverKeyPEM, err = leaf(2, "leader"); err != nil {
		return nil, err
	}
	if p.clientCertPEM, p.clientKeyPEM, err = leaf(3, "member"); err != nil {
		return nil, err
	}
	if p.server, err = tls.X509KeyPair(p.serverCertPEM, p.serverKeyPEM); err != nil {
		return nil, err
	}
	if p.client, err = tls.X509KeyPair(p.clientCertPEM, p.clientKeyPEM); err != nil {
		return nil, err
	}
	return p, nil
}

// peerFiles are the PEM file paths of one peerPKI, written to a b.TempDir.
type peerFiles struct {
	serverCert, serverKey string
	clientCert, clientKey string
}

func (p *peerPKI) writeFiles(b *testing.B) peerFiles {
	b.Helper()
	dir := b.TempDir()
	f := peerFiles{
		serverCert: filepath.Join(dir, "server.crt"),
		serverKey:  filepath.Join(dir, "server.key"),
		clientCert: filepath.Join(dir, "client.crt"),
		clientKey:  filepath.Join(dir, "client.key"),
	}
	for path, data := range map[string][]byte{
		f.serverCert: p.serverCertPEM, f.serverKey: p.serverKeyPEM,
		f.clientCert: p.clientCertPEM, f.clientKey: p.clientKeyPEM,
	} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	return f
}

// loadKeyPair is etcd's tlsutil.NewCert with the default parse function: it
// reads both PEM files and parses them, and etcd calls it on every handshake.
func loadKeyPair(certFile, keyFile string) (*tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, err
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	return &cert, nil
}

// ---------------------------------------------------------------------------
// In-memory transport

// pipeHalf is one direction of a memPipe: an unbounded buffer, so that a
// Write never waits for the reader (unlike net.Pipe; see the file comment).
type pipeHalf struct {
	mu      sync.Mutex
	cond    sync.Cond
	buf     bytes.Buffer
	closed  bool
	waiters int
}

func newPipeHalf() *pipeHalf {
	h := &pipeHalf{}
	h.cond.L = &h.mu
	return h
}

func (h *pipeHalf) read(p []byte, m *sideMeter) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for h.buf.Len() == 0 && !h.closed {
		h.waiters++
		m.wait(h.cond.Wait)
		h.waiters--
	}
	if h.buf.Len() == 0 {
		return 0, io.EOF
	}
	return h.buf.Read(p)
}

func (h *pipeHalf) write(p []byte, m *sideMeter) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return 0, io.ErrClosedPipe
	}
	h.buf.Write(p)
	if h.waiters > 0 {
		m.wait(h.cond.Signal)
	}
	return len(p), nil
}

func (h *pipeHalf) close(m *sideMeter) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	if h.waiters > 0 {
		m.wait(h.cond.Broadcast)
	}
}

// memConn is one end of a memPipe, used by one side (whose meter it
// charges). Closing either end closes both directions; data already written
// stays readable.
type memConn struct {
	r, w *pipeHalf
	m    *sideMeter
}

// memPipe returns the two ends of a buffered, bidirectional in-memory
// connection, charging blocking to cm (client end) and sm (server end).
func memPipe(cm, sm *sideMeter) (clientEnd, serverEnd net.Conn) {
	c2s, s2c := newPipeHalf(), newPipeHalf()
	return &memConn{r: s2c, w: c2s, m: cm}, &memConn{r: c2s, w: s2c, m: sm}
}

func (c *memConn) Read(p []byte) (int, error)  { return c.r.read(p, c.m) }
func (c *memConn) Write(p []byte) (int, error) { return c.w.write(p, c.m) }
func (c *memConn) Close() error {
	c.r.close(c.m)
	c.w.close(c.m)
	return nil
}
func (c *memConn) LocalAddr() net.Addr              { return memAddr{} }
func (c *memConn) RemoteAddr() net.Addr             { return memAddr{} }
func (c *memConn) SetDeadline(time.Time) error      { return nil }
func (c *memConn) SetReadDeadline(time.Time) error  { return nil }
func (c *memConn) SetWriteDeadline(time.Time) error { return nil }

type memAddr struct{}

func (memAddr) Network() string { return "mem" }
func (memAddr) String() string  { return "127.0.0.1" }

// ---------------------------------------------------------------------------
// Handshake driver

type resumeCheck int

const (
	mustNotResume resumeCheck = iota
	mustResume
	mayResume
)

// hsVariant is one benchmarked configuration. A nil server config means the
// plaintext baseline: the same connection and request/response, no TLS.
type hsVariant struct {
	server, client *tls.Config
	version        uint16 // the TLS version every connection must negotiate
	resume         resumeCheck
}

// serveOne is the server (leader) side of one connection.
func serveOne(raw net.Conn, cfg *tls.Config) error {
	defer raw.Close()
	var c net.Conn = raw
	if cfg != nil {
		tc := tls.Server(raw, cfg)
		if err := tc.Handshake(); err != nil {
			return err
		}
		c = tc
	}
	var buf [1]byte
	if _, err := io.ReadFull(c, buf[:]); err != nil {
		return err
	}
	_, err := c.Write(buf[:])
	return err
}

// dialOne is the client (member) side of one connection. It checks the
// negotiated version and whether the session was resumed.
func dialOne(raw net.Conn, v hsVariant) error {
	defer raw.Close()
	var c net.Conn = raw
	var tc *tls.Conn
	if v.server != nil {
		tc = tls.Client(raw, v.client)
		if err := tc.Handshake(); err != nil {
			return err
		}
		c = tc
	}
	// The request/response makes the client read (and cache) the TLS 1.3
	// NewSessionTicket, which precedes the response on the wire.
	if _, err := c.Write([]byte{'q'}); err != nil {
		return err
	}
	var buf [1]byte
	if _, err := io.ReadFull(c, buf[:]); err != nil {
		return err
	}
	if tc == nil {
		return nil
	}
	st := tc.ConnectionState()
	if st.Version != v.version {
		return fmt.Errorf("negotiated %s, want %s", tls.VersionName(st.Version), tls.VersionName(v.version))
	}
	switch {
	case v.resume == mustResume && !st.DidResume:
		return errors.New("handshake did not resume")
	case v.resume == mustNotResume && st.DidResume:
		return errors.New("handshake resumed unexpectedly")
	}
	return nil
}

// sideStats is one side's CPU over a run of connections.
type sideStats struct {
	total     time.Duration // all CPU of the side's thread
	sideMeter               // the part spent blocking for / waking the other side
	err       error
}

// tls is the side's CPU net of blocking: the handshake's own cost.
func (s sideStats) tls() time.Duration { return s.total - s.block }

// runConns makes n connections, the client side and the server side each on
// its own locked OS thread, and returns each side's CPU.
func runConns(n int, v hsVariant) (server, client sideStats) {
	var sm, cm sideMeter
	conns := make(chan net.Conn)
	srvDone := make(chan sideStats, 1)
	cliDone := make(chan sideStats, 1)

	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		var firstErr error
		start := threadCPU()
		for {
			var c net.Conn
			var ok bool
			sm.wait(func() { c, ok = <-conns })
			if !ok {
				break
			}
			if err := serveOne(c, v.server); err != nil && firstErr == nil {
				firstErr = fmt.Errorf("server: %w", err)
			}
		}
		srvDone <- sideStats{threadCPU() - start, sm, firstErr}
	}()

	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		var err error
		start := threadCPU()
		for i := 0; i < n && err == nil; i++ {
			cliEnd, srvEnd := memPipe(&cm, &sm)
			cm.wait(func() { conns <- srvEnd })
			if err = dialOne(cliEnd, v); err != nil {
				err = fmt.Errorf("client, connection %d: %w", i, err)
			}
		}
		total := threadCPU() - start
		close(conns)
		cliDone <- sideStats{total, cm, err}
	}()

	return <-srvDone, <-cliDone
}

// benchHandshake measures b.N connections of variant v and reports per op:
//
//	server-us, client-us          CPU net of blocking: the TLS cost
//	server-hs/s/core              1e6 / server-us
//	server-block-us, client-block-us  CPU spent blocking/waking (harness)
//	proc-us                       whole-process CPU (adds GC and the runtime's other threads)
func benchHandshake(b *testing.B, v hsVariant) {
	if v.resume == mustResume {
		// Prime the client's session cache (not timed, not checked).
		prime := v
		prime.resume = mayResume
		if srv, cli := runConns(1, prime); srv.err != nil || cli.err != nil {
			b.Fatal(errors.Join(srv.err, cli.err))
		}
	}
	b.ReportAllocs()
	runtime.GC()
	b.ResetTimer()
	proc0 := processCPU()
	srv, cli := runConns(b.N, v)
	proc := processCPU() - proc0
	b.StopTimer()
	if err := errors.Join(srv.err, cli.err); err != nil {
		b.Fatal(err)
	}
	us := func(d time.Duration) float64 { return d.Seconds() * 1e6 / float64(b.N) }
	b.ReportMetric(us(srv.tls()), "server-us/op")
	b.ReportMetric(us(cli.tls()), "client-us/op")
	if s := us(srv.tls()); s > 0 {
		b.ReportMetric(1e6/s, "server-hs/s/core")
	}
	b.ReportMetric(us(srv.block), "server-block-us/op")
	b.ReportMetric(us(cli.block), "client-block-us/op")
	b.ReportMetric(us(proc), "proc-us/op")
}

// mtlsVariant is the matrix configuration: one pinned TLS version, static
// certificates, mutual TLS, and a client session cache iff resumed.
func mtlsVariant(p *peerPKI, version uint16, resumed bool) hsVariant {
	v := hsVariant{
		server: &tls.Config{
			Certificates: []tls.Certificate{p.server},
			ClientAuth:   tls.RequireAndVerifyClientCert,
			ClientCAs:    p.pool,
			MinVersion:   version,
			MaxVersion:   version,
		},
		client: &tls.Config{
			Certificates: []tls.Certificate{p.client},
			RootCAs:      p.pool,
			ServerName:   "127.0.0.1",
			MinVersion:   version,
			MaxVersion:   version,
		},
		version: version,
		resume:  mustNotResume,
	}
	if resumed {
		v.client.ClientSessionCache = tls.NewLRUClientSessionCache(16)
		v.resume = mustResume
	}
	return v
}

// etcdPeerVariant mirrors etcd's peer TLSInfo.ServerConfig/ClientConfig:
// MinVersion TLS 1.2, default MaxVersion, mutual TLS, no client session cache
// (the server keeps Go's default session tickets), and, if files is non-nil,
// certificates re-read from disk on every handshake by both sides.
func etcdPeerVariant(p *peerPKI, files *peerFiles) hsVariant {
	v := hsVariant{
		server: &tls.Config{
			ClientAuth: tls.RequireAndVerifyClientCert,
			ClientCAs:  p.pool,
			MinVersion: tls.VersionTLS12,
		},
		client: &tls.Config{
			RootCAs:    p.pool,
			ServerName: "127.0.0.1", // what net/http sets from https://127.0.0.1:2380
			MinVersion: tls.VersionTLS12,
		},
		version: tls.VersionTLS13, // what the default negotiation picks
		resume:  mustNotResume,
	}
	if files == nil {
		v.server.Certificates = []tls.Certificate{p.server}
		v.client.Certificates = []tls.Certificate{p.client}
		return v
	}
	f := *files
	v.server.GetCertificate = func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		return loadKeyPair(f.serverCert, f.serverKey)
	}
	v.client.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		return loadKeyPair(f.clientCert, f.clientKey)
	}
	return v
}

// ---------------------------------------------------------------------------
// Benchmarks

// BenchmarkPeerTLSHandshake measures server- and client-side CPU per mutual-TLS
// handshake; see the file comment.
func BenchmarkPeerTLSHandshake(b *testing.B) {
	pkis := peerPKIs(b)
	versions := []struct {
		name string
		v    uint16
	}{{"TLS1.2", tls.VersionTLS12}, {"TLS1.3", tls.VersionTLS13}}

	for _, p := range pkis {
		b.Run(p.name, func(b *testing.B) {
			for _, ver := range versions {
				b.Run(ver.name, func(b *testing.B) {
					b.Run("full", func(b *testing.B) { benchHandshake(b, mtlsVariant(p, ver.v, false)) })
					b.Run("resumed", func(b *testing.B) { benchHandshake(b, mtlsVariant(p, ver.v, true)) })
				})
			}
		})
	}

	rsaPKI := pkis[0]
	b.Run("plaintext-baseline", func(b *testing.B) {
		benchHandshake(b, hsVariant{})
	})
	b.Run("etcd-peer", func(b *testing.B) {
		b.Run("static-cert", func(b *testing.B) {
			benchHandshake(b, etcdPeerVariant(rsaPKI, nil))
		})
		b.Run("reload-cert", func(b *testing.B) {
			files := rsaPKI.writeFiles(b)
			benchHandshake(b, etcdPeerVariant(rsaPKI, &files))
		})
	})
}

// BenchmarkPeerTLSCertReload measures, on one locked thread, the CPU of what
// etcd does per handshake to reload a certificate: read the cert and key PEM
// files and tls.X509KeyPair them.
func BenchmarkPeerTLSCertReload(b *testing.B) {
	for _, p := range peerPKIs(b) {
		b.Run(p.name, func(b *testing.B) {
			f := p.writeFiles(b)
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			b.ReportAllocs()
			b.ResetTimer()
			start := threadCPU()
			for range b.N {
				if _, err := loadKeyPair(f.serverCert, f.serverKey); err != nil {
					b.Fatal(err)
				}
			}
			cpu := threadCPU() - start
			b.StopTimer()
			b.ReportMetric(cpu.Seconds()*1e6/float64(b.N), "cpu-us/op")
		})
	}
}

// TestPeerHandshakeAlloc measures what an etcd peer handshake (RSA-2048,
// certificates re-read, both ends in this process) allocates and holds
// netsim.PeerHandshakeAllocBytes, one end's half, within 15 %: allocation counts
// do not depend on the machine's speed, only on Go's crypto/tls and the
// certificates.
func TestPeerHandshakeAlloc(t *testing.T) {
	if testing.Short() {
		t.Skip("generates RSA keys and runs handshakes for a second")
	}
	r := testing.Benchmark(func(b *testing.B) {
		rsaPKI := peerPKIs(b)[0]
		files := rsaPKI.writeFiles(b)
		benchHandshake(b, etcdPeerVariant(rsaPKI, &files))
	})
	if r.N == 0 {
		t.Fatal("the handshake benchmark failed")
	}
	perEnd := float64(r.AllocedBytesPerOp()) / 2
	t.Logf("%d handshakes: %.0f B per end (netsim.PeerHandshakeAllocBytes %d)", r.N, perEnd, netsim.PeerHandshakeAllocBytes)
	if d := perEnd/netsim.PeerHandshakeAllocBytes - 1; d < -0.15 || d > 0.15 {
		t.Errorf("a peer handshake allocates %.0f B per end, netsim.PeerHandshakeAllocBytes is %d (%+.0f %%): re-measure and update it", perEnd, netsim.PeerHandshakeAllocBytes, d*100)
	}
}
