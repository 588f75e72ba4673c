package calibrate

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/google/pprof/profile"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/etcdserver"
	"go.uber.org/zap"

	"github.com/leasesim/leasesim/calibrate/procstat"
	"github.com/leasesim/leasesim/calibrate/sampler"
	"github.com/leasesim/leasesim/model"
)

// readIndexFile holds what TestMeasureReadIndex measured last.
const readIndexFile = "testdata/readindex-3.7.3.json"

// readIndexModelRate is the rate whose per-round figures model.ReadIndexLeaderCost
// and model.ReadIndexFollowerCost replay: etcd issue #18069's 1,500 renews/s,
// where a ReadIndex round serves about one read.
const readIndexModelRate = 1500

// readIndexMeasurement is TestMeasureReadIndex's result.
type readIndexMeasurement struct {
	What      string  `json:"what"`
	Etcd      string  `json:"etcd"`
	Go        string  `json:"go"`
	Machine   string  `json:"machine"`
	Cores     int     `json:"cores"`
	Date      string  `json:"date"`
	Load      string  `json:"load"` // what else ran on the machine, if said (LEASESIM_MEASURE_LOAD)
	Method    string  `json:"method"`
	WindowS   float64 `json:"window_s"`
	ProfileHz int     `json:"profile_hz"`
	// ModelRatePerS: the rate whose per-round medians the model's constants
	// replay (model.ReadIndexLeaderCost, model.ReadIndexFollowerCost).
	ModelRatePerS int             `json:"model_rate_per_s"`
	Rates         []readIndexRate `json:"rates"`
}

// spread is the median, min and max over the repeats.
type spread struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
}

func spreadOf(xs []float64) spread {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return spread{}
	}
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return spread{Median: med, Min: s[0], Max: s[len(s)-1]}
}

func (s spread) String() string {
	return fmt.Sprintf("%.1f [%.1f, %.1f]", s.Median, s.Min, s.Max)
}

// readIndexRate is one target rate's repeats and their differences. The
// "extra" figures are linearizable minus serializable (each repeat's pair of
// adjacent windows), per request of the linearizable window, and per
// ReadIndex round (the extra CPU of the linearizable window over its
// rounds).
type readIndexRate struct {
	TargetRatePerS int `json:"target_rate_per_s"`
	Repeats        int `json:"repeats"`
	// Excluded: repeats left out of the spreads because a window had errors,
	// fell short of 95 % of the rate or saw the leader change (the windows
	// are kept below).
	Excluded int `json:"excluded_repeats"`

	SerializableRatePerS spread `json:"serializable_achieved_rate_per_s"`
	LinearizableRatePerS spread `json:"linearizable_achieved_rate_per_s"`
	ReadsPerRound        spread `json:"linearizable_reads_per_round"`
	SerializableRounds   spread `json:"serializable_rounds_per_window"` // should be 0

	LeaderExtraNsPerRequest     spread   `json:"leader_extra_ns_per_request"`
	FollowerExtraNsPerRequest   spread   `json:"follower_extra_ns_per_request"` // the two followers' mean
	FollowersExtraNsPerRequest  []spread `json:"each_follower_extra_ns_per_request"`
	UnlabelledExtraNsPerRequest spread   `json:"unlabelled_extra_ns_per_request"` // client, load generator, runtime (GC workers and scheduler included)
	// SchedulerExtra: the part of the unlabelled extra that is Go's scheduler
	// on a thread with no goroutine (after a goroutine parks: it is the
	// wake-ups' cost, of the members' goroutines mostly, but a profile
	// cannot say whose).
	SchedulerExtraNsPerRequest spread   `json:"scheduler_extra_ns_per_request"`
	SchedulerExtraNsPerRound   spread   `json:"scheduler_extra_ns_per_round"`
	LeaderExtraNsPerRound      spread   `json:"leader_extra_ns_per_round"`
	FollowerExtraNsPerRound    spread   `json:"follower_extra_ns_per_round"` // the two followers' mean
	FollowersExtraNsPerRound   []spread `json:"each_follower_extra_ns_per_round"`

	LeaderNsPerRequestSerializable spread `json:"leader_ns_per_request_serializable"`
	LeaderNsPerRequestLinearizable spread `json:"leader_ns_per_request_linearizable"`

	SerializableP50Us spread `json:"serializable_latency_p50_us"`
	SerializableP99Us spread `json:"serializable_latency_p99_us"`
	LinearizableP50Us spread `json:"linearizable_latency_p50_us"`
	LinearizableP99Us spread `json:"linearizable_latency_p99_us"`

	Windows []readIndexWindow `json:"windows"`
}

// readIndexWindow is one measurement window.
type readIndexWindow struct {
	Kind         string  `json:"kind"` // serializable | linearizable
	Requests     int     `json:"requests"`
	Errors       int     `json:"errors"`
	WindowS      float64 `json:"window_s"` // load plus the drain of in-flight requests
	Rounds       int64   `json:"readindex_rounds"`
	ProcessCPUNs int64   `json:"process_cpu_ns"` // getrusage, user + system
	Samples      int64   `json:"profile_samples"`
	LeaderCPUNs  int64   `json:"leader_cpu_ns"`
	// FollowerCPUNs: each follower's, in the order of FollowerNames.
	FollowerCPUNs     []int64  `json:"follower_cpu_ns"`
	UnlabelledGCNs    int64    `json:"unlabelled_gc_worker_cpu_ns"` // runtime.gcBgMarkWorker
	UnlabelledSchedNs int64    `json:"unlabelled_scheduler_cpu_ns"` // runtime.schedule, findRunnable, sysmon: no goroutine
	UnlabelledNs      int64    `json:"unlabelled_other_cpu_ns"`     // client, load generator, rest of the runtime
	LatencyP50Us      float64  `json:"latency_p50_us"`
	LatencyP99Us      float64  `json:"latency_p99_us"`
	LeaderName        string   `json:"leader"`
	FollowerNames     []string `json:"followers"`
	LeaderAfterName   string   `json:"leader_after"`
}

// TestMeasureReadIndex measures the CPU cost of etcd v3.7.3's linearizable
// read path, one ReadIndex round (read/read.go: LinearizableReadNotify
// signals LinearizableReadLoop, whose requestCurrentIndex sends one raft
// ReadIndex; with ReadOnlySafe the leader broadcasts a heartbeat carrying the
// request's context and waits for a quorum of responses), on a real 3-member
// cluster in this process. etcd 3.5.13-3.5.15 and 3.4.31-3.4.33 ran that path
// on every LeaseRenew at the leader (ensureLeadership; etcd issue #18069).
//
// A client connected only to the leader sends Range requests of one key,
// open loop at a target rate, for a window: serializable (no ReadIndex) and
// linearizable windows alternate. Every member runs under a pprof label
// (startCluster), so a CPU profile of each window splits the process's CPU
// (getrusage) between the leader, each follower and the unlabelled rest (the
// client, the load generator, Go's GC workers, and Go's scheduler on a thread
// whose goroutine has parked, which a profile cannot attribute).
// Linearizable minus serializable is the ReadIndex path's cost; a repeat
// whose windows had errors, fell short of the rate or saw an election is
// left out of the medians. Rounds are counted exactly: each round takes one
// ID from the leader's request-ID generator (read.go:150, 197, 211), and a
// read-only load takes no other, so two NextRequestID calls around a window
// differ by the rounds plus one.
//
// Run with LEASESIM_MEASURE=readindex (make measure WHAT=readindex; about
// twelve minutes). LEASESIM_READINDEX_WINDOW (a Go duration, default 15s),
// LEASESIM_READINDEX_REPEATS (default 7) and LEASESIM_READINDEX_RATES
// (default "1500,4000,8000") override the plan.
func TestMeasureReadIndex(t *testing.T) {
	measuring(t, "readindex", "about twelve minutes, a real cluster")
	needsRealCluster(t, "about twelve minutes")
	window := envDuration(t, "LEASESIM_READINDEX_WINDOW", 15*time.Second)
	repeats := envInt(t, "LEASESIM_READINDEX_REPEATS", 7)
	rates := []int{readIndexModelRate, 4000, 8000}
	if s := os.Getenv("LEASESIM_READINDEX_RATES"); s != "" {
		rates = nil
		for _, f := range strings.Split(s, ",") {
			var r int
			if _, err := fmt.Sscan(f, &r); err != nil {
				t.Fatal(err)
			}
			rates = append(rates, r)
		}
	}
	const hz = 1000

	ctx := context.Background()
	c, err := startCluster(ctx, clock.New(), t.TempDir(), 3, "rsa")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// target points the load at the current leader: at the start, and again
	// after a window in which the leader changed (a starved member misses
	// its election timeout on a busy shared machine).
	var (
		leader    int
		followers []int
		srv       *etcdserver.EtcdServer
		cli       *clientv3.Client
	)
	target := func() {
		if cli != nil {
			cli.Close()
		}
		err := sampler.WaitFor(ctx, clock.New(), 30*time.Second, 50*time.Millisecond, func() (bool, error) {
			return c.Leader() >= 0, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		leader, followers = c.Leader(), nil
		for i := range c.Members {
			if i != leader {
				followers = append(followers, i)
			}
		}
		srv = c.Members[leader].Etcd.Server
		cli, err = clientv3.New(clientv3.Config{Endpoints: []string{c.Members[leader].ClientURL}, DialTimeout: 5 * time.Second,
			Logger: zap.NewNop()}) // a stalled window would log every retried request
		if err != nil {
			t.Fatal(err)
		}
	}
	target()
	defer func() { cli.Close() }()
	const key = "readindex-key"
	if _, err := cli.Put(ctx, key, "v"); err != nil {
		t.Fatal(err)
	}

	// run is one window of open-loop load at rate.
	run := func(rate int, linearizable bool, d time.Duration) readIndexWindow {
		var opts []clientv3.OpOption
		kind := "linearizable"
		if !linearizable {
			opts, kind = []clientv3.OpOption{clientv3.WithSerializable()}, "serializable"
		}
		w := readIndexWindow{Kind: kind}
		var (
			mu   sync.Mutex
			lats = make([]time.Duration, 0, int(float64(rate)*d.Seconds())+16)
			errs int
			wg   sync.WaitGroup
		)
		var prof bytes.Buffer
		runtime.GC()
		// StartCPUProfile sets 100 Hz; setting the rate first keeps ours
		// (the runtime prints that it cannot change it: expected).
		runtime.SetCPUProfileRate(hz)
		if err := pprof.StartCPUProfile(&prof); err != nil {
			t.Fatal(err)
		}
		cpu0, err := procstat.SelfRusage()
		if err != nil {
			t.Fatal(err)
		}
		id0 := srv.NextRequestID()
		start := time.Now()
		issued := 0
		for {
			el := time.Since(start)
			if el >= d {
				break
			}
			for due := int(el.Seconds() * float64(rate)); issued < due; issued++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
					t0 := time.Now()
					_, err := cli.Get(rctx, key, opts...)
					lat := time.Since(t0)
					cancel()
					mu.Lock()
					if err != nil {
						errs++
					} else {
						lats = append(lats, lat)
					}
					mu.Unlock()
				}()
			}
			time.Sleep(200 * time.Microsecond)
		}
		wg.Wait()
		wall := time.Since(start)
		id1 := srv.NextRequestID()
		cpu1, err := procstat.SelfRusage()
		if err != nil {
			t.Fatal(err)
		}
		pprof.StopCPUProfile()
		p, err := profile.Parse(&prof)
		if err != nil {
			t.Fatal(err)
		}
		w.Requests, w.Errors, w.WindowS = issued, errs, wall.Seconds()
		w.Rounds = int64(id1&(1<<40-1)) - int64(id0&(1<<40-1)) - 1
		w.ProcessCPUNs = int64((cpu1.User + cpu1.System) - (cpu0.User + cpu0.System))
		byMember, gc, sched, other, total := splitSamples(p)
		w.Samples = total
		share := func(n int64) int64 {
			if total == 0 {
				return 0
			}
			return int64(float64(w.ProcessCPUNs) * float64(n) / float64(total))
		}
		w.LeaderCPUNs = share(byMember[c.Members[leader].Name])
		for _, f := range followers {
			w.FollowerCPUNs = append(w.FollowerCPUNs, share(byMember[c.Members[f].Name]))
		}
		w.UnlabelledGCNs, w.UnlabelledSchedNs, w.UnlabelledNs = share(gc), share(sched), share(other)
		slices.Sort(lats)
		if len(lats) > 0 {
			w.LatencyP50Us = float64(lats[len(lats)/2].Microseconds())
			w.LatencyP99Us = float64(lats[len(lats)*99/100].Microseconds())
		}
		if l := c.Leader(); l >= 0 {
			w.LeaderAfterName = c.Members[l].Name
		}
		w.LeaderName = c.Members[leader].Name
		for _, f := range followers {
			w.FollowerNames = append(w.FollowerNames, c.Members[f].Name)
		}
		if w.LeaderAfterName != w.LeaderName {
			t.Logf("the leader changed during a %s window: %s -> %q", kind, w.LeaderName, w.LeaderAfterName)
			target()
		}
		return w
	}

	m := readIndexMeasurement{
		What: "etcd v3.7.3, a real 3-member cluster in one process (embed, peer mutual TLS, RSA), one client on the leader's " +
			"client URL sending Range of one key open loop at a target rate: serializable (no ReadIndex) and linearizable " +
			"(one ReadIndex round serves the reads that arrived while the previous one was in flight) windows alternate; " +
			"extra = linearizable - serializable, CPU in ns",
		Etcd: "3.7.3", Go: runtime.Version(), Machine: machine(), Cores: runtime.NumCPU(),
		Date: time.Now().Format("2006-01-02"), Load: os.Getenv("LEASESIM_MEASURE_LOAD"),
		Method: "process CPU from getrusage over each window, split by a CPU profile's samples: each member's goroutines carry " +
			"the pprof label member=<name> (startCluster); unlabelled samples are the client, the load generator, Go's " +
			"GC workers and its scheduler on threads whose goroutine has parked; a repeat with errors, a rate short by 5 % or an election is excluded. Rounds: the leader's request-ID generator advances once per ReadIndex round (read/read.go:150).",
		WindowS: window.Seconds(), ProfileHz: hz, ModelRatePerS: readIndexModelRate,
	}
	for _, rate := range rates {
		// Warm up: connections, buffers, the scheduler.
		run(rate, false, 3*time.Second)
		run(rate, true, 3*time.Second)
		r := readIndexRate{TargetRatePerS: rate, Repeats: repeats}
		var (
			aRate, bRate, rpr, aRounds                             []float64
			lReq, fReq, uReq, lRound, fRound, lA, lB, sReq, sRound []float64
			fEachReq, fEachRound                                   = make([][]float64, len(followers)), make([][]float64, len(followers))
			aP50, aP99, bP50, bP99                                 []float64
		)
		for i := range repeats {
			// Alternate which kind goes first, so that a drift of the
			// machine's load does not favour one.
			var a, b readIndexWindow
			if i%2 == 0 {
				a, b = run(rate, false, window), run(rate, true, window)
			} else {
				b, a = run(rate, true, window), run(rate, false, window)
			}
			r.Windows = append(r.Windows, a, b)
			// A pair in which either window had errors, fell short of the
			// rate or saw an election (the machine is shared: another process's burst can stall
			// this one for seconds) measures the stall, not the read path.
			if bad := func(w readIndexWindow) bool {
				return w.Errors > 0 || float64(w.Requests)/w.WindowS < 0.95*float64(rate) || w.LeaderAfterName != w.LeaderName
			}; bad(a) || bad(b) {
				r.Excluded++
				t.Logf("%d/s repeat %d excluded: serializable %d errors, %.0f req/s; linearizable %d errors, %.0f req/s",
					rate, i, a.Errors, float64(a.Requests)/a.WindowS, b.Errors, float64(b.Requests)/b.WindowS)
				continue
			}
			na, nb := float64(a.Requests), float64(b.Requests)
			per := func(x int64, n float64) float64 { return float64(x) / n }
			aRate, bRate = append(aRate, na/a.WindowS), append(bRate, nb/b.WindowS)
			aRounds = append(aRounds, float64(a.Rounds))
			rounds := float64(max(b.Rounds, 1))
			rpr = append(rpr, nb/rounds)
			le := per(b.LeaderCPUNs, nb) - per(a.LeaderCPUNs, na)
			lReq, lRound = append(lReq, le), append(lRound, le*nb/rounds)
			lA, lB = append(lA, per(a.LeaderCPUNs, na)), append(lB, per(b.LeaderCPUNs, nb))
			var fsum float64
			for j := range followers {
				fe := per(b.FollowerCPUNs[j], nb) - per(a.FollowerCPUNs[j], na)
				fEachReq[j], fEachRound[j] = append(fEachReq[j], fe), append(fEachRound[j], fe*nb/rounds)
				fsum += fe
			}
			fe := fsum / float64(len(followers))
			fReq, fRound = append(fReq, fe), append(fRound, fe*nb/rounds)
			unl := func(w readIndexWindow) int64 { return w.UnlabelledGCNs + w.UnlabelledSchedNs + w.UnlabelledNs }
			uReq = append(uReq, per(unl(b), nb)-per(unl(a), na))
			se := per(b.UnlabelledSchedNs, nb) - per(a.UnlabelledSchedNs, na)
			sReq, sRound = append(sReq, se), append(sRound, se*nb/rounds)
			aP50, aP99 = append(aP50, a.LatencyP50Us), append(aP99, a.LatencyP99Us)
			bP50, bP99 = append(bP50, b.LatencyP50Us), append(bP99, b.LatencyP99Us)
			t.Logf("%d/s repeat %d: serializable %.0f req/s (%d errors), %d rounds, leader %.1f µs/req, followers %v ns, unlabelled %.1f µs/req, p50/p99 %.0f/%.0f µs; "+
				"linearizable %.0f req/s (%d errors), %d rounds (%.2f reads/round), leader %.1f µs/req, followers %v ns, p50/p99 %.0f/%.0f µs; "+
				"extra per request: leader %.1f µs, followers %.1f µs; per round: leader %.1f µs, followers %.1f µs",
				rate, i, na/a.WindowS, a.Errors, a.Rounds, per(a.LeaderCPUNs, na)/1e3, a.FollowerCPUNs, per(unl(a), na)/1e3, a.LatencyP50Us, a.LatencyP99Us,
				nb/b.WindowS, b.Errors, b.Rounds, nb/rounds, per(b.LeaderCPUNs, nb)/1e3, b.FollowerCPUNs, b.LatencyP50Us, b.LatencyP99Us,
				le/1e3, fe/1e3, le*nb/rounds/1e3, fe*nb/rounds/1e3)
		}
		r.SerializableRatePerS, r.LinearizableRatePerS = spreadOf(aRate), spreadOf(bRate)
		r.ReadsPerRound, r.SerializableRounds = spreadOf(rpr), spreadOf(aRounds)
		r.LeaderExtraNsPerRequest, r.FollowerExtraNsPerRequest = spreadOf(lReq), spreadOf(fReq)
		r.UnlabelledExtraNsPerRequest = spreadOf(uReq)
		r.SchedulerExtraNsPerRequest, r.SchedulerExtraNsPerRound = spreadOf(sReq), spreadOf(sRound)
		r.LeaderExtraNsPerRound, r.FollowerExtraNsPerRound = spreadOf(lRound), spreadOf(fRound)
		for j := range followers {
			r.FollowersExtraNsPerRequest = append(r.FollowersExtraNsPerRequest, spreadOf(fEachReq[j]))
			r.FollowersExtraNsPerRound = append(r.FollowersExtraNsPerRound, spreadOf(fEachRound[j]))
		}
		r.LeaderNsPerRequestSerializable, r.LeaderNsPerRequestLinearizable = spreadOf(lA), spreadOf(lB)
		r.SerializableP50Us, r.SerializableP99Us = spreadOf(aP50), spreadOf(aP99)
		r.LinearizableP50Us, r.LinearizableP99Us = spreadOf(bP50), spreadOf(bP99)
		if r.Excluded*2 > repeats {
			t.Errorf("%d/s: %d of %d repeats excluded: the machine did not sustain the rate", rate, r.Excluded, repeats)
		}
		t.Logf("%d/s, %d repeats (%d excluded), median [min, max]: reads/round %v; extra per request (ns): leader %v, follower %v (each %v), unlabelled %v (scheduler %v); "+
			"extra per round (ns): leader %v, follower %v (each %v), scheduler %v; latency p50/p99 µs: serializable %v / %v, linearizable %v / %v",
			rate, repeats, r.Excluded, r.ReadsPerRound, r.LeaderExtraNsPerRequest, r.FollowerExtraNsPerRequest, r.FollowersExtraNsPerRequest, r.UnlabelledExtraNsPerRequest, r.SchedulerExtraNsPerRequest,
			r.LeaderExtraNsPerRound, r.FollowerExtraNsPerRound, r.FollowersExtraNsPerRound, r.SchedulerExtraNsPerRound,
			r.SerializableP50Us, r.SerializableP99Us, r.LinearizableP50Us, r.LinearizableP99Us)
		m.Rates = append(m.Rates, r)
	}
	saveMeasurement(t, readIndexFile, m)
}

// splitSamples counts a CPU profile's samples by the member label; the
// unlabelled ones are split into Go's background GC workers, the scheduler
// on a thread with no goroutine (a goroutine's labels are gone once it has
// parked), and the rest (the client, the load generator, other runtime work).
func splitSamples(p *profile.Profile) (byMember map[string]int64, gc, sched, other, total int64) {
	byMember = map[string]int64{}
	for _, s := range p.Sample {
		n := s.Value[0]
		total += n
		switch {
		case len(s.Label[memberLabel]) > 0:
			byMember[s.Label[memberLabel][0]] += n
		case sampleIn(s, "runtime.gcBgMarkWorker"):
			gc += n
		case sampleIn(s, "runtime.schedule", "runtime.findRunnable", "runtime.sysmon", "runtime.mstart1", "runtime.park_m", "runtime.goexit0"):
			sched += n
		default:
			other += n
		}
	}
	return byMember, gc, sched, other, total
}

func sampleIn(s *profile.Sample, fns ...string) bool {
	for _, loc := range s.Location {
		for _, l := range loc.Line {
			if l.Function != nil && slices.Contains(fns, l.Function.Name) {
				return true
			}
		}
	}
	return false
}

// TestReadIndexCostReplay: model.ReadIndexLeaderCost and
// model.ReadIndexFollowerCost are the saved medians per ReadIndex round at
// the model's rate, rounded to the µs.
func TestReadIndexCostReplay(t *testing.T) {
	var m readIndexMeasurement
	loadMeasurement(t, readIndexFile, &m)
	i := slices.IndexFunc(m.Rates, func(r readIndexRate) bool { return r.TargetRatePerS == m.ModelRatePerS })
	if i < 0 {
		t.Fatalf("%s: no rate %d/s", readIndexFile, m.ModelRatePerS)
	}
	r := m.Rates[i]
	us := func(ns float64) time.Duration { return time.Duration(math.Round(ns)).Round(time.Microsecond) }
	if want := us(r.LeaderExtraNsPerRound.Median); model.ReadIndexLeaderCost != want {
		t.Errorf("model.ReadIndexLeaderCost %v; measured %v per round at %d/s (%s)", model.ReadIndexLeaderCost, want, m.ModelRatePerS, readIndexFile)
	}
	if want := us(r.FollowerExtraNsPerRound.Median); model.ReadIndexFollowerCost != want {
		t.Errorf("model.ReadIndexFollowerCost %v; measured %v per round at %d/s (%s)", model.ReadIndexFollowerCost, want, m.ModelRatePerS, readIndexFile)
	}
}
