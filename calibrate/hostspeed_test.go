package calibrate

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/protobuf/proto"

	"github.com/leasesim/leasesim/calibrate/procstat"
	"github.com/leasesim/leasesim/spec"
)

// hostSpeedFile holds TestMeasureHostSpeed's result.
const hostSpeedFile = "testdata/host-speed.json"

// hostSpeedMeasurement: how much slower a thread runs on this machine while
// the other vCPU is busy. The same fixed CPU-bound workloads are timed in
// process CPU time (getrusage(RUSAGE_SELF)) on one thread (GOMAXPROCS 1),
// alone and with the storm set's busy-loop process (startSpinner: this
// binary re-executed with GOMAXPROCS=1, the loop of MaybeRunSpinner) running
// on the other vCPU, in alternating repeats. CPU time, not wall time: the
// scheduler's share (CFS) is left out, only the speed of a thread while it
// runs is measured. Steal time (/proc/stat) is kept: a hypervisor that
// deschedules the vCPU would show there, not in the process's CPU time.
type hostSpeedMeasurement struct {
	What    string `json:"what"`
	Machine string `json:"machine"`
	Go      string `json:"go"`
	Date    string `json:"date"`
	// QuietOther: the host's CPU outside this process before the first
	// repeat (waitForQuiet), in cores.
	QuietOther float64        `json:"quiet_other_cores"`
	Repeats    []hostSpeedRep `json:"repeats"`
	// Discarded: repeats run again because the host's other CPU was over
	// QuietOtherCores during them.
	Discarded int             `json:"discarded_repeats"`
	Workloads []hostSpeedWork `json:"workloads"`
}

// hostSpeedRep is one repeat: every workload once, alone or busy.
type hostSpeedRep struct {
	Busy bool `json:"busy"`
	// CPUPerOpNs: process CPU time per op, by workload name.
	CPUPerOpNs map[string]float64 `json:"cpu_per_op_ns"`
	// WallPerOpNs: wall time per op (CPU share and speed together).
	WallPerOpNs map[string]float64 `json:"wall_per_op_ns"`
	// SpinCores: the busy loop's CPU over the repeat, in cores (0 alone);
	// OtherCores: the host's CPU outside this process and the loop;
	// StealCores: /proc/stat steal over the repeat, all vCPUs.
	SpinCores  float64 `json:"spin_cores"`
	OtherCores float64 `json:"other_cores"`
	StealCores float64 `json:"steal_cores"`
}

// hostSpeedWork is one workload's result: the median CPU per op alone and
// busy, and Speed = alone / busy (1: no slowdown).
type hostSpeedWork struct {
	Name   string  `json:"name"`
	Ops    int     `json:"ops_per_repeat"`
	Alone  float64 `json:"alone_cpu_per_op_ns"`
	Busy   float64 `json:"busy_cpu_per_op_ns"`
	Speed  float64 `json:"speed"`
	Reason string  `json:"what"`
}

// hostSpeedRepeats: repeats per condition, alternating alone and busy.
const hostSpeedRepeats = 8

// hostWorkload is one fixed workload: setup returns the op, run once per
// op; close releases what setup made.
type hostWorkload struct {
	name, what string
	ops        int
	setup      func(t *testing.T) (op func(), close func())
}

// hostWorkloads are the timed workloads, each a few hundred ms of CPU.
// renewal-http decides the model's figure (storm-2core's host.all_busy_speed):
// a forwarded renewal is most of the members' CPU in the storm set (285 us
// each, spec/params/storm-2core.yaml), and its shape is this one's (a
// protobuf over a pooled HTTP/1.1 connection, leasehttp); the others show
// how much the slowdown depends on the kind of work.
var hostWorkloads = []hostWorkload{
	{"renewal-http", "a LeaseKeepAliveRequest POSTed over a pooled loopback HTTP/1.1 connection to a handler in this process " +
		"that unmarshals it and answers a LeaseKeepAliveResponse (the shape of a follower's forward, etcd's leasehttp)", 3000, setupRenewalHTTP},
	{"rsa-sign", "an RSA-2048 PKCS#1 v1.5 signature (the leader's part of a peer TLS handshake that costs most)", 300, setupRSASign},
	{"gc-mark", "runtime.GC over a fixed 24 MB pointer-dense heap, nodes linked in a shuffled order (the collector's mark)", 12, setupGCMark},
	{"sha256", "SHA-256 of a 16 KB buffer (integer work that fits in L1)", 20000, setupSHA256},
}

func setupSHA256(*testing.T) (func(), func()) {
	buf := bytes.Repeat([]byte("leasesim"), 2048)
	var sink [32]byte
	return func() { sink = sha256.Sum256(buf); buf[0] = sink[0] }, func() {}
}

func setupRSASign(t *testing.T) (func(), func()) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("leasesim"))
	return func() {
		if _, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, digest[:]); err != nil {
			t.Fatal(err)
		}
	}, func() {}
}

type gcNode struct {
	next, other *gcNode
	pad         [4]uint64
}

func setupGCMark(*testing.T) (func(), func()) {
	const n = 1 << 19 // 48 B a node: 24 MB
	nodes := make([]*gcNode, n)
	for i := range nodes {
		nodes[i] = &gcNode{}
	}
	r := mrand.New(mrand.NewPCG(1, 2))
	perm := r.Perm(n)
	for i := range n - 1 {
		nodes[perm[i]].next = nodes[perm[i+1]]
		nodes[i].other = nodes[r.IntN(n)]
	}
	root := nodes[perm[0]]
	nodes = nil
	return func() { runtime.GC() }, func() { runtime.KeepAlive(root) }
}

func setupRenewalHTTP(t *testing.T) (func(), func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		var req pb.LeaseKeepAliveRequest
		if err := proto.Unmarshal(b, &req); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		resp := pb.LeaseKeepAliveResponse{Header: &pb.ResponseHeader{ClusterId: 1, MemberId: 2, Revision: 3, RaftTerm: 4}, ID: req.ID, TTL: 10}
		out, _ := proto.Marshal(&resp)
		w.Header().Set("Content-Type", "application/protobuf")
		w.Write(out)
	})}
	go srv.Serve(ln)
	cl := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	url := "http://" + ln.Addr().String() + "/leases"
	body, _ := proto.Marshal(&pb.LeaseKeepAliveRequest{ID: 7587882713553410306})
	return func() {
			resp, err := cl.Post(url, "application/protobuf", bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			var ans pb.LeaseKeepAliveResponse
			if err != nil || proto.Unmarshal(b, &ans) != nil || ans.TTL != 10 {
				t.Fatalf("renewal answer %q: %v", b, err)
			}
		}, func() {
			cl.CloseIdleConnections()
			srv.Close()
		}
}

// stealOf reads the steal time of /proc/stat's aggregate cpu line (proc(5):
// the 8th value, in USER_HZ ticks of 10 ms here).
func stealOf(t *testing.T) time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		t.Fatal(err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		t.Fatalf("/proc/stat: %q", line)
	}
	n, err := strconv.ParseUint(f[8], 10, 63)
	if err != nil {
		t.Fatal(err)
	}
	return time.Duration(n) * 10 * time.Millisecond
}

// TestMeasureHostSpeed times the fixed workloads alone and beside the busy
// loop, hostSpeedRepeats alternating repeats each (LEASESIM_MEASURE=host-speed,
// make measure WHAT=host-speed, about a minute; it holds /tmp/leasesim-measuring).
func TestMeasureHostSpeed(t *testing.T) {
	measuring(t, "host-speed", "about a minute, with a busy loop on one core for half of it")
	if err := takeStormLock(2*time.Minute, "host-speed"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(stormLock) })
	ctx := context.Background()
	other, waited, err := waitForQuiet(ctx, clock.New(), time.Minute, testWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	if other >= QuietOtherCores {
		t.Fatalf("the host is not quiet: %.2f cores of other work after %s; nothing saved", other, waited.Round(time.Second))
	}
	t.Logf("host quiet: %.2f other cores after %s", other, waited.Round(time.Second))
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	m := hostSpeedMeasurement{
		What: "process CPU time (getrusage RUSAGE_SELF) per op of fixed single-threaded workloads (GOMAXPROCS 1), " +
			"alone and with the storm set's busy-loop process (GOMAXPROCS=1) on the other vCPU; alternating repeats, alone first",
		Machine: cpuModel(), Go: runtime.Version(), Date: time.Now().UTC().Format("2006-01-02"), QuietOther: other,
	}
	ops := make([]func(), len(hostWorkloads))
	for i, w := range hostWorkloads {
		op, done := w.setup(t)
		defer done()
		ops[i] = op
		for range max(1, w.ops/10) { // warm up: caches, the connection, the heap
			op()
		}
	}
	fs := procstat.FS{}
	discarded := 0
	for i := 0; i < 2*hostSpeedRepeats; i++ {
		busy := i%2 == 1
		var spin *os.Process
		var cmd *exec.Cmd
		if busy {
			cmd, err = startSpinner(ctx, 0)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { stopSpinner(cmd) })
			spin = cmd.Process
			time.Sleep(300 * time.Millisecond) // the loop is running
		}
		spinCPU := func() time.Duration {
			if spin == nil {
				return 0
			}
			c, err := fs.ProcessCPU(spin.Pid)
			if err != nil {
				t.Fatal(err)
			}
			return c.Total()
		}
		h0, err := fs.HostCPU()
		if err != nil {
			t.Fatal(err)
		}
		st0, sp0, self0, wall0 := stealOf(t), spinCPU(), selfCPU(t), time.Now()
		rep := hostSpeedRep{Busy: busy, CPUPerOpNs: map[string]float64{}, WallPerOpNs: map[string]float64{}}
		for j, w := range hostWorkloads {
			c0, w0 := selfCPU(t), time.Now()
			for range w.ops {
				ops[j]()
			}
			rep.CPUPerOpNs[w.name] = float64(selfCPU(t)-c0) / float64(w.ops)
			rep.WallPerOpNs[w.name] = float64(time.Since(w0)) / float64(w.ops)
		}
		h1, _ := fs.HostCPU()
		dt := time.Since(wall0).Seconds()
		rep.SpinCores = round3((spinCPU() - sp0).Seconds() / dt)
		rep.StealCores = round3((stealOf(t) - st0).Seconds() / dt)
		rep.OtherCores = round3(max(0, ((h1.Busy-h0.Busy)-(selfCPU(t)-self0)).Seconds()/dt-rep.SpinCores))
		t.Logf("repeat %d busy %v: cpu/op %v, spin %.2f, other %.2f, steal %.2f cores", i, busy, rep.CPUPerOpNs, rep.SpinCores, rep.OtherCores, rep.StealCores)
		stopSpinner(cmd)
		if rep.OtherCores > QuietOtherCores {
			// Someone else's work: the repeat is not kept (the file counts
			// them), and runs again once the host is quiet.
			discarded++
			if discarded > 2*hostSpeedRepeats {
				t.Fatalf("%d repeats with other work on the host; nothing saved", discarded)
			}
			if _, _, err := waitForQuiet(ctx, clock.New(), time.Minute, testWriter{t}); err != nil {
				t.Fatal(err)
			}
			i--
			continue
		}
		m.Repeats = append(m.Repeats, rep)
	}
	m.Workloads, m.Discarded = hostSpeedWorkloads(m.Repeats), discarded
	for _, w := range m.Workloads {
		t.Logf("%s: alone %.0f ns/op, busy %.0f ns/op: speed %.3f", w.Name, w.Alone, w.Busy, w.Speed)
	}
	saveMeasurement(t, hostSpeedFile, m)
}

func selfCPU(t *testing.T) time.Duration {
	c, err := procstat.SelfRusage()
	if err != nil {
		t.Fatal(err)
	}
	return c.Total()
}

// hostSpeedWorkloads derives each workload's medians and speed from the repeats.
func hostSpeedWorkloads(reps []hostSpeedRep) []hostSpeedWork {
	var out []hostSpeedWork
	for _, w := range hostWorkloads {
		var alone, busy []float64
		for _, r := range reps {
			if r.Busy {
				busy = append(busy, r.CPUPerOpNs[w.name])
			} else {
				alone = append(alone, r.CPUPerOpNs[w.name])
			}
		}
		a, b := median(alone), median(busy)
		out = append(out, hostSpeedWork{Name: w.name, Ops: w.ops, Alone: round3(a), Busy: round3(b), Speed: round3(a / b), Reason: w.what})
	}
	return out
}

// cpuModel is /proc/cpuinfo's first model name and the number of CPUs.
func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	name := "unknown"
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			name = strings.TrimSpace(v)
			break
		}
	}
	return fmt.Sprintf("%s, %d vCPUs", name, runtime.NumCPU())
}

// TestHostSpeedReplay reads the saved measurement: complete (at least 5
// repeats of each condition, the loop running beside the busy ones and the
// host otherwise quiet), its derived figures recompute from the repeats, and
// spec/params/storm-2core.yaml carries renewal-http's speed as
// host.all_busy_speed.
func TestHostSpeedReplay(t *testing.T) {
	var m hostSpeedMeasurement
	loadMeasurement(t, hostSpeedFile, &m)
	var alone, busy int
	for i, r := range m.Repeats {
		if r.Busy {
			busy++
			if r.SpinCores < 0.8 {
				t.Errorf("repeat %d: the busy loop ran on %.2f cores", i, r.SpinCores)
			}
		} else {
			alone++
			if r.SpinCores != 0 {
				t.Errorf("repeat %d (alone): busy loop %.2f cores", i, r.SpinCores)
			}
		}
		if r.OtherCores > QuietOtherCores {
			t.Errorf("repeat %d: %.2f cores of other work on the host", i, r.OtherCores)
		}
		if len(r.CPUPerOpNs) != len(hostWorkloads) {
			t.Errorf("repeat %d: %d workloads, want %d", i, len(r.CPUPerOpNs), len(hostWorkloads))
		}
	}
	if alone < 5 || busy < 5 {
		t.Fatalf("%d repeats alone and %d busy; want at least 5 each", alone, busy)
	}
	if got := hostSpeedWorkloads(m.Repeats); !slices.Equal(got, m.Workloads) {
		t.Errorf("derived figures do not recompute:\n saved %+v\n now   %+v", m.Workloads, got)
	}
	for _, w := range m.Workloads {
		t.Logf("%-12s alone %9.0f ns/op  busy %9.0f ns/op  speed %.3f", w.Name, w.Alone, w.Busy, w.Speed)
	}
	for _, name := range []string{"storm-2core", "storm-2core-busy"} {
		p, err := spec.LoadParams(name)
		if err != nil {
			t.Fatal(err)
		}
		if w := m.Workloads[0]; w.Name != "renewal-http" || p.Host.AllBusySpeed != w.Speed {
			t.Errorf("%s's host.all_busy_speed is %g; the measurement's %s speed is %g", name, p.Host.AllBusySpeed, w.Name, w.Speed)
		}
	}
}
