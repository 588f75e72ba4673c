package etcd34

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/clientv3"
	"go.etcd.io/etcd/embed"
)

// eventCPUMeasurement: a 1-member etcd v3.4.13 (embed, in this process)
// under kube-apiserver's event writes from a child process, with leases
// reused for a window, unbounded or capped, with and without a prefix
// watcher asking for previous values as kube-apiserver's watch cache does
// (TestMeasureEventLeaseCPU).
type eventCPUMeasurement struct {
	Etcd       string `json:"etcd"`
	Go         string `json:"go"`
	Machine    string `json:"machine"`
	Cores      int    `json:"cores"`
	Date       string `json:"date"`
	KeyBytes   int    `json:"key_bytes"`
	ValueBytes int    `json:"value_bytes"`
	// Rate: event writes a second (each a Txn: If(ModRevision==0).Then(Put
	// with the lease), kubernetes storage/etcd3/store.go Create); Reuse: a
	// lease is used for this long (kube-apiserver's --lease-reuse-duration-
	// seconds, scaled as the rate is); TTL: the events' TTL, the lease's
	// TTL being TTL + Reuse (lease_manager.go GetLease).
	Rate    float64       `json:"rate"`
	ReuseS  int           `json:"reuse_s"`
	TTLS    int           `json:"ttl_s"`
	RunS    int           `json:"run_s"`
	BeforeS [2]int        `json:"before_window_s"` // no lease revoked yet
	AfterS  [2]int        `json:"after_window_s"`  // leases revoked every Reuse (unbounded) or every cap/Rate (capped)
	Runs    []eventCPURun `json:"runs"`
}

type eventCPURun struct {
	MaxObjects int  `json:"max_objects"` // 0: unbounded
	Watch      bool `json:"watch"`
	Repeat     int  `json:"repeat"`
	// Server CPU (this process: etcd; the writer and the watcher are in the
	// child) per event written in each window, in µs.
	BeforeUsPerEvent float64 `json:"before_us_per_event"`
	AfterUsPerEvent  float64 `json:"after_us_per_event"`
	// Cores used by the server in each window.
	BeforeCores  float64 `json:"before_cores"`
	AfterCores   float64 `json:"after_cores"`
	Written      int     `json:"written"`
	Leases       int     `json:"leases"`
	WatchEvents  int     `json:"watch_events"`
	WatchDeletes int     `json:"watch_deletes"`
	Profile      string  `json:"profile,omitempty"` // a CPU profile of the after window, kept outside the repository
}

const eventCPUFile = "../testdata/event-lease-cpu-3.4.13.json"

// The child's environment.
const (
	childURL   = "LEASESIM_EVENT34_URL"
	childCfg   = "LEASESIM_EVENT34_CFG"
	eventValue = 512
)

type childConfig struct {
	Rate       float64
	ReuseS     int
	TTLS       int
	RunS       int
	MaxObjects int
	Watch      bool
}

type childResult struct {
	WrittenPerS  []int
	Leases       int
	WatchEvents  int
	WatchDeletes int
	Errors       int
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startEtcd starts a 1-member etcd v3.4.13 with its defaults (no auto
// compaction; kube-apiserver compacts every 5 min, longer than a run).
func startEtcd(t *testing.T, dir string) (*embed.Etcd, string) {
	cfg := embed.NewConfig()
	cfg.Name = "m0"
	cfg.Dir = filepath.Join(dir, "m0.etcd")
	cu, _ := url.Parse(fmt.Sprintf("http://127.0.0.1:%d", freePort()))
	pu, _ := url.Parse(fmt.Sprintf("http://127.0.0.1:%d", freePort()))
	cfg.LCUrls, cfg.ACUrls, cfg.LPUrls, cfg.APUrls = []url.URL{*cu}, []url.URL{*cu}, []url.URL{*pu}, []url.URL{*pu}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.Logger, cfg.LogLevel, cfg.LogOutputs = "zap", "error", []string{filepath.Join(dir, "etcd.log")}
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(30 * time.Second):
		e.Close()
		t.Fatal("etcd not ready")
	}
	return e, cu.String()
}

// TestMeasureEventLeaseCPU: LEASESIM_MEASURE=event-lease-cpu (make measure
// WHAT=event-lease-cpu; about 40 minutes: 4 configurations x 3 repeats x
// 185 s). LEASESIM_EVENT34_REPEATS overrides the 3.
func TestMeasureEventLeaseCPU(t *testing.T) {
	gate(t, "event-lease-cpu")
	m := eventCPUMeasurement{Etcd: "3.4.13", Go: runtime.Version(), Machine: machine(), Cores: runtime.NumCPU(),
		Date: time.Now().Format("2006-01-02"), KeyBytes: len(eventKey(0)), ValueBytes: eventValue,
		Rate: 300, ReuseS: 60, TTLS: 20, RunS: 185, BeforeS: [2]int{10, 75}, AfterS: [2]int{85, 180}}
	repeats := 3
	if os.Getenv("LEASESIM_EVENT34_SMOKE") != "" { // a quick check of the harness, not saved
		m.ReuseS, m.TTLS, m.RunS, m.BeforeS, m.AfterS = 10, 5, 40, [2]int{3, 13}, [2]int{18, 38}
	}
	if s := os.Getenv("LEASESIM_EVENT34_REPEATS"); s != "" {
		repeats, _ = strconv.Atoi(s)
	}
	type conf struct {
		max   int
		watch bool
	}
	confs := []conf{{0, true}, {1000, true}, {0, false}, {1000, false}}
	for rep := range repeats {
		for _, c := range confs {
			r := runEventCPU(t, m, childConfig{Rate: m.Rate, ReuseS: m.ReuseS, TTLS: m.TTLS, RunS: m.RunS, MaxObjects: c.max, Watch: c.watch},
				rep == 0 && c.max == 0)
			r.Repeat = rep
			m.Runs = append(m.Runs, r)
			t.Logf("cap %d watch %v rep %d: before %.0f µs/event (%.2f cores), after %.0f µs/event (%.2f cores); %d written, %d leases, %d watch events (%d deletes)",
				c.max, c.watch, rep, r.BeforeUsPerEvent, r.BeforeCores, r.AfterUsPerEvent, r.AfterCores, r.Written, r.Leases, r.WatchEvents, r.WatchDeletes)
			if os.Getenv("LEASESIM_EVENT34_SMOKE") == "" {
				save(t, eventCPUFile, m)
			} // after every run: a partial result survives an interruption
		}
	}
}

func runEventCPU(t *testing.T, m eventCPUMeasurement, cc childConfig, profile bool) eventCPURun {
	dir := t.TempDir()
	e, url := startEtcd(t, dir)
	defer e.Close()
	cfgJSON, _ := json.Marshal(cc)
	cmd := exec.Command(os.Args[0], "-test.run=^TestEventLeaseCPUClient$", "-test.count=1")
	cmd.Env = append(os.Environ(), childURL+"="+url, childCfg+"="+string(cfgJSON))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	runtime.GC()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	cpu := []time.Duration{processCPU()} // cpu[i]: at i seconds
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var prof string
	var werr error
loop:
	for {
		select {
		case werr = <-done:
			break loop
		case <-tick.C:
			cpu = append(cpu, processCPU())
			if profile && len(cpu)-1 == m.AfterS[0] {
				prof = filepath.Join(os.TempDir(), fmt.Sprintf("event-lease-cpu-3.4.13-cap%d-watch%v.pprof", cc.MaxObjects, cc.Watch))
				f, err := os.Create(prof)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					t.Fatal(err)
				}
			}
			if profile && len(cpu)-1 == m.AfterS[1] && prof != "" {
				pprof.StopCPUProfile()
			}
		}
	}
	_ = start
	if werr != nil {
		t.Fatalf("child: %v\n%s", werr, out.String())
	}
	var res childResult
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	for _, l := range lines {
		if strings.HasPrefix(l, "RESULT ") {
			if err := json.Unmarshal([]byte(strings.TrimPrefix(l, "RESULT ")), &res); err != nil {
				t.Fatal(err)
			}
		}
	}
	if res.WrittenPerS == nil {
		t.Fatalf("child gave no result:\n%s", out.String())
	}
	if res.Errors > 0 {
		t.Errorf("child: %d write errors", res.Errors)
	}
	window := func(w [2]int) (usPerEvent, cores float64) {
		if w[1] >= len(cpu) {
			t.Fatalf("run too short: %d s sampled, window %v", len(cpu)-1, w)
		}
		n := 0
		for s := w[0]; s < w[1] && s < len(res.WrittenPerS); s++ {
			n += res.WrittenPerS[s]
		}
		d := cpu[w[1]] - cpu[w[0]]
		return float64(d.Microseconds()) / float64(max(n, 1)), d.Seconds() / float64(w[1]-w[0])
	}
	var r eventCPURun
	r.MaxObjects, r.Watch, r.Profile = cc.MaxObjects, cc.Watch, prof
	r.BeforeUsPerEvent, r.BeforeCores = window(m.BeforeS)
	r.AfterUsPerEvent, r.AfterCores = window(m.AfterS)
	for _, n := range res.WrittenPerS {
		r.Written += n
	}
	r.Leases, r.WatchEvents, r.WatchDeletes = res.Leases, res.WatchEvents, res.WatchDeletes
	return r
}

// leaseManager is kube-apiserver's (staging/src/k8s.io/apiserver/pkg/
// storage/etcd3/lease_manager.go GetLease, with PR #98257): one lease per
// reuse window, a new one once the current holds maxObjects (0: no cap).
type leaseManager struct {
	mu      sync.Mutex
	cli     *clientv3.Client
	reuse   time.Duration
	ttl     int64
	max     int
	prev    clientv3.LeaseID
	expires time.Time
	count   int
	granted int
}

func (lm *leaseManager) get(ctx context.Context) (clientv3.LeaseID, error) {
	lm.mu.Lock()
	defer lm.mu.Unlock()
	now := time.Now()
	valid := now.Add(time.Duration(lm.ttl) * time.Second).Before(lm.expires)
	sufficient := lm.max == 0 || lm.count < lm.max
	if lm.prev != 0 && valid && sufficient {
		lm.count++
		return lm.prev, nil
	}
	g, err := lm.cli.Grant(ctx, lm.ttl+int64(lm.reuse/time.Second))
	if err != nil {
		return 0, err
	}
	lm.prev, lm.expires, lm.count = g.ID, now.Add(time.Duration(lm.ttl)*time.Second+lm.reuse), 1
	lm.granted++
	return g.ID, nil
}

// TestEventLeaseCPUClient is the child of TestMeasureEventLeaseCPU: the
// writer (and the watcher) of one run.
func TestEventLeaseCPUClient(t *testing.T) {
	url := os.Getenv(childURL)
	if url == "" {
		t.Skip("the client side of TestMeasureEventLeaseCPU")
	}
	var cc childConfig
	if err := json.Unmarshal([]byte(os.Getenv(childCfg)), &cc); err != nil {
		t.Fatal(err)
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{url}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var res childResult
	var mu sync.Mutex
	watchDone := make(chan struct{})
	if cc.Watch { // kube-apiserver's watch cache: the prefix, with previous values
		wc := cli.Watch(ctx, "/registry/events/", clientv3.WithPrefix(), clientv3.WithPrevKV())
		go func() {
			defer close(watchDone)
			for wr := range wc {
				mu.Lock()
				res.WatchEvents += len(wr.Events)
				for _, ev := range wr.Events {
					if ev.Type == clientv3.EventTypeDelete {
						res.WatchDeletes++
					}
				}
				mu.Unlock()
			}
		}()
	} else {
		close(watchDone)
	}
	lm := &leaseManager{cli: cli, reuse: time.Duration(cc.ReuseS) * time.Second, ttl: int64(cc.TTLS), max: cc.MaxObjects}
	value := strings.Repeat("e", eventValue)
	res.WrittenPerS = make([]int, cc.RunS+1)
	start := time.Now()
	jobs := make(chan int, 100_000)
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for i := range jobs {
				id, err := lm.get(ctx)
				if err == nil {
					key := eventKey(i)
					_, err = cli.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(key), "=", 0)).
						Then(clientv3.OpPut(key, value, clientv3.WithLease(id))).Commit()
				}
				mu.Lock()
				if err != nil {
					res.Errors++
				} else if s := int(time.Since(start) / time.Second); s < len(res.WrittenPerS) {
					res.WrittenPerS[s]++
				}
				mu.Unlock()
			}
		})
	}
	// A fixed rate: the i-th event is due at i/Rate.
	next := 0
	tick := time.NewTicker(10 * time.Millisecond)
	for range tick.C {
		el := time.Since(start)
		if el >= time.Duration(cc.RunS)*time.Second {
			break
		}
		for due := int(el.Seconds() * cc.Rate); next < due; next++ {
			jobs <- next
		}
	}
	tick.Stop()
	close(jobs)
	wg.Wait()
	time.Sleep(time.Second) // the watcher's last events
	cancel()
	<-watchDone
	mu.Lock()
	res.Leases = lm.granted
	b, _ := json.Marshal(res)
	mu.Unlock()
	fmt.Printf("RESULT %s\n", b)
}
