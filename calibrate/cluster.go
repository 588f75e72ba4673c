package calibrate

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	"github.com/benbjohnson/clock"
	"go.etcd.io/etcd/client/pkg/v3/transport"
	"go.etcd.io/etcd/server/v3/embed"

	"github.com/leasesim/leasesim/calibrate/sampler"
)

// memberLabel is the pprof label key under which each member's goroutines
// run (its value is the member's Name).
const memberLabel = "member"

// Member is one running etcd member of a calibration cluster.
type Member struct {
	Name      string
	ClientURL string // http://127.0.0.1:port (clients speak plain gRPC: the peer link is what is modelled)
	PeerURL   string // https://127.0.0.1:port
	PeerPort  uint16
	Etcd      *embed.Etcd
	LogFile   string
}

// Cluster is a real etcd cluster started in this process with embed.
type Cluster struct {
	Members []*Member
	dir     string
}

// startCluster starts n members on 127.0.0.1 with peer mutual TLS (key type
// tls) under dir and waits until all of them are ready and agree on a leader.
// On error everything started so far is closed.
func startCluster(ctx context.Context, clk clock.Clock, dir string, n int, tls string) (*Cluster, error) {
	_, certs, err := writeCerts(dir, tls, n, clk.Now())
	if err != nil {
		return nil, err
	}
	ports, err := freePorts(2 * n)
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir}
	var initial []string
	for i := range n {
		m := &Member{
			Name:      fmt.Sprintf("m%d", i),
			ClientURL: fmt.Sprintf("http://127.0.0.1:%d", ports[2*i]),
			PeerURL:   fmt.Sprintf("https://127.0.0.1:%d", ports[2*i+1]),
			PeerPort:  uint16(ports[2*i+1]),
			LogFile:   filepath.Join(dir, fmt.Sprintf("m%d.log", i)),
		}
		c.Members = append(c.Members, m)
		initial = append(initial, m.Name+"="+m.PeerURL)
	}
	cfgs := make([]*embed.Config, n)
	for i, m := range c.Members {
		cfg := embed.NewConfig()
		cfg.Name = m.Name
		cfg.Dir = filepath.Join(dir, m.Name+".etcd")
		cu, _ := url.Parse(m.ClientURL)
		pu, _ := url.Parse(m.PeerURL)
		cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*cu}, []url.URL{*cu}
		cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*pu}, []url.URL{*pu}
		cfg.InitialCluster = strings.Join(initial, ",")
		cfg.InitialClusterToken = "leasesim-calibrate"
		cfg.PeerTLSInfo = transport.TLSInfo{
			CertFile: certs[i].Cert, KeyFile: certs[i].Key, TrustedCAFile: certs[i].CA, ClientCertAuth: true,
		}
		// A never-read KeepAlive channel makes the server side log nothing, but
		// slow or dropped forwards log per request: warn level to a file keeps
		// the terminal clean and the disk small (issue 6, pitfall 3).
		cfg.LogLevel = "warn"
		cfg.LogOutputs = []string{m.LogFile}
		// The gRPC gateway is an HTTP listener we do not use.
		cfg.EnableGRPCGateway = false
		cfgs[i] = cfg
	}
	// Members must start together: each one's StartEtcd fetches /members from
	// the others (a 1 s timeout each), so starting them one by one would fail.
	var wg sync.WaitGroup
	errs := make([]error, n)
	// Each member starts under a pprof label member=<name>: goroutines
	// inherit their creator's labels, so every goroutine of that member's
	// server carries it and a CPU profile splits the process's CPU by member
	// (TestMeasureReadIndex). Labels cost nothing measurable.
	for i := range c.Members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pprof.Do(context.Background(), pprof.Labels(memberLabel, c.Members[i].Name), func(context.Context) {
				c.Members[i].Etcd, errs[i] = embed.StartEtcd(cfgs[i])
			})
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		c.Close()
		return nil, fmt.Errorf("starting etcd: %w (member logs in %s)", err, dir)
	}
	err = sampler.WaitFor(ctx, clk, 30*time.Second, 50*time.Millisecond, func() (bool, error) {
		for _, m := range c.Members {
			select {
			case <-m.Etcd.Server.ReadyNotify():
			case err := <-m.Etcd.Err():
				return false, fmt.Errorf("member %s: %w", m.Name, err)
			default:
				return false, nil
			}
		}
		_, ok := c.agreedLeader()
		return ok, nil
	})
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("waiting for the cluster to elect a leader: %w", err)
	}
	return c, nil
}

// agreedLeader returns the index of the leader if every member names the same one.
func (c *Cluster) agreedLeader() (int, bool) {
	var lead uint64
	for i, m := range c.Members {
		l := uint64(m.Etcd.Server.Leader())
		if l == 0 || (i > 0 && l != lead) {
			return -1, false
		}
		lead = l
	}
	for i, m := range c.Members {
		if uint64(m.Etcd.Server.MemberID()) == lead {
			return i, true
		}
	}
	return -1, false
}

// Leader is the index of the current leader, or -1 if the members disagree.
func (c *Cluster) Leader() int {
	i, _ := c.agreedLeader()
	return i
}

// Close stops every member. It is safe to call more than once.
func (c *Cluster) Close() {
	var wg sync.WaitGroup
	for _, m := range c.Members {
		if m.Etcd == nil {
			continue
		}
		e := m.Etcd
		m.Etcd = nil
		wg.Add(1)
		go func() { defer wg.Done(); e.Close() }()
	}
	wg.Wait()
}

// freePorts reserves n distinct loopback ports by listening on :0, then
// releases them for etcd. Another process could take one in between; etcd
// then fails to bind and the error says so.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("reserving a loopback port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
