package model

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/leasesim/leasesim/sim"
)

// TestMemberTranscripts drives one Member (with its CPU and a Lessor) through
// the transcripts in testdata/*.txt and prints every output it produces.
// Rewrite them with
//
//	go test ./model -run TestMemberTranscripts -rewrite
//
// The command language (durations as Go durations: 1ms, 7.011s):
//
//	member id=1 leader=0 [cores=1] [idle-cores=0] [req-timeout=7s] [election-timeout=1s]
//	       [leader-queue=0] [ttl=10s] [mutant=none] [leases=8] [keys=1]
//	       [direct=1ms] [follower=1ms] [forwarded=1ms] [bytes=100]
//	       [etcd=3.7.3] [checkpoint] [revoke-rate=1000]
//	       [background=(AT:CORES,...)] [gc-base=BYTES gc-alloc=BYTES gc-scan=BYTES/S gc-stw=D]
//	                             a new member, its CPU and lessor; time 0;
//	                             background: other processes' cores from each AT;
//	                             gc-base: Go's GC on (GOGC 100, GOMAXPROCS = cores)
//	       [spread=SIGMA [seed=1]]   each job's work scaled by a lognormal of mean 1
//	       [sharing]             the CPU is processor-shared (share.go), not a FIFO
//	       [revoke-commit=D]     a LeaseRevoke proposal applies D after runLoop found it
//	       [checks-leadership]   the server confirms its leadership (3.4.31+, 3.5.13+)
//	       [read-index=D [read-index-rtt=D]]
//	                             LeaseRenew at the leader confirms leadership with a
//	                             ReadIndex round: D of CPU, then the quorum's round trip
//	client c=0                   AddClient: a stream slot for client c
//	process c=0                  AddProcess: a stream slot for process c, whose
//	                             requests name their leases (recv lease=L)
//	grant c=0 [ttl=10s] [n=1]    the lessor grants client c's lease (entry c)
//	open c=0 gen=1               InStreamOpen
//	recv c=0 gen=1 [lease=L]     InRecv (lease: the request's lease, on a process's stream)
//	forward-result c=0 [attempt=N] (ttl=10 | err)
//	                             InForwardResult (attempt: the stream's current one)
//	forward-request from=1 slot=0 c=5 attempt=1
//	                             InForwardRequest: a follower's forward reaches this member
//	leader-lost                  InLeaderLost
//	elected leader=1             InElected
//	revoke-tick [commit-from=T]  InRevokeTick (commit-from: its proposals commit no
//	                             earlier than RevokeCommit after T: raft's delays)
//	apply-stall until=T          InApplyStall: the apply loop lags until T
//	fsync-stall until=T          InFsyncStall: the raft loop blocks in fdatasync until T
//	stall d=2s                   the CPU does nothing for d (CPU.Stall)
//	run [until=T]                deliver the member's own wake-ups (OutWake) in time
//	                             order, up to T (or until none is left); then now = T
//	stream c=0 | cpu | lessor | state
//	                             state dumps
//	time-to-live c=0             LeaseTimeToLive on the leader, as etcdctl
//	                             prints it (Lessor.TimeToLive)
//
// Every input command takes at=T: the wake-ups due by T are delivered first
// (as the kernel would), then the input is applied at T. Lines read
// "<time> <output>"; a wake-up delivered by the harness reads "<time> > <input>",
// followed by the outputs it produced; "ok" is a command that produced nothing. Wake-ups an output asks for are queued,
// not delivered, until time reaches them.
func TestMemberTranscripts(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no transcripts: %v", err)
	}
	for _, path := range files {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txt"), func(t *testing.T) {
			h := &memberHarness{}
			datadriven.RunTest(t, path, h.cmd)
		})
	}
}

type memberHarness struct {
	m      *Member
	now    sim.Time
	slots  map[int]int32 // client -> slot
	wakes  []queuedWake
	seq    int
	out    strings.Builder
	leases int
}

type queuedWake struct {
	at  sim.Time
	seq int
	in  Input
}

func (h *memberHarness) cmd(t *testing.T, d *datadriven.TestData) (result string) {
	h.out.Reset()
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(&h.out, "panic: %v\n", r)
			result = h.out.String()
		}
	}()
	if d.Cmd != "member" && h.m == nil {
		d.Fatalf(t, "no member yet: start with `member`")
	}
	if d.HasArg("at") && d.Cmd != "run" {
		h.runUntil(dur(t, d, "at", 0))
	}
	switch d.Cmd {
	case "member":
		h.newMember(t, d)
		h.printMember()
	case "client":
		c := num(t, d, "c", 0)
		slot := h.m.AddClient(c)
		h.slots[c] = slot
		fmt.Fprintf(&h.out, "client %d: slot %d\n", c, slot)
	case "process":
		c := num(t, d, "c", 0)
		slot := h.m.AddProcess(c)
		h.slots[c] = slot
		fmt.Fprintf(&h.out, "process %d: slot %d\n", c, slot)
	case "grant":
		c := num(t, d, "c", 0)
		ttl := dur(t, d, "ttl", 10*time.Second)
		h.m.lessor.Grant(h.now, c, num(t, d, "n", 1), ttl.Duration())
		h.printLease(c)
	case "open":
		c := num(t, d, "c", 0)
		h.step(Input{Kind: InStreamOpen, Slot: h.slot(t, d, c), Client: int32(c), Gen: uint32(num(t, d, "gen", 1))})
	case "recv":
		c := num(t, d, "c", 0)
		h.step(Input{Kind: InRecv, Slot: h.slot(t, d, c), Client: int32(num(t, d, "lease", c)), Gen: uint32(num(t, d, "gen", 1))})
	case "forward-result":
		c := num(t, d, "c", 0)
		slot := h.slot(t, d, c)
		in := Input{Kind: InForwardResult, Slot: slot, Client: int32(c), Attempt: h.m.streams[slot].attempt}
		if d.HasArg("attempt") {
			in.Attempt = uint32(num(t, d, "attempt", 0))
		}
		if d.HasArg("err") {
			in.Err = true
		} else {
			in.TTL = int64(num(t, d, "ttl", 0))
		}
		h.step(in)
	case "forward-request":
		h.step(Input{Kind: InForwardRequest, From: int8(num(t, d, "from", 0)), Slot: int32(num(t, d, "slot", 0)),
			Client: int32(num(t, d, "c", 0)), Attempt: uint32(num(t, d, "attempt", 1))})
	case "leader-lost":
		h.step(Input{Kind: InLeaderLost})
	case "elected":
		h.step(Input{Kind: InElected, From: int8(num(t, d, "leader", 0))})
	case "revoke-tick":
		h.step(Input{Kind: InRevokeTick, Until: dur(t, d, "commit-from", 0)})
	case "apply-stall":
		h.step(Input{Kind: InApplyStall, Until: dur(t, d, "until", 0)})
	case "fsync-stall":
		h.step(Input{Kind: InFsyncStall, Until: dur(t, d, "until", 0)})
	case "stall":
		h.m.cpu.Stall(h.now, dur(t, d, "d", 0).Duration())
		h.printCPU()
	case "run":
		until := sim.Time(-1)
		if d.HasArg("until") {
			until = dur(t, d, "until", 0)
		}
		h.runUntil(until)
	case "stream":
		c := num(t, d, "c", 0)
		gen, queue, busy, phase, attempt := h.m.Stream(h.slot(t, d, c))
		fmt.Fprintf(&h.out, "stream c=%d: gen=%d queue=%d busy=%t phase=%v attempt=%d\n", c, gen, queue, busy, phase, attempt)
	case "cpu":
		h.printCPU()
	case "lessor":
		for i := 0; i < h.leases; i++ {
			if e := h.m.lessor.leases[i]; e.ttl > 0 {
				h.printLease(i)
			}
		}
		fmt.Fprintf(&h.out, "backlog=%d\n", h.m.lessor.Backlog())
		if len(h.m.revokes) > 0 {
			fmt.Fprintf(&h.out, "revokes in flight:")
			for _, p := range h.m.revokes {
				fmt.Fprintf(&h.out, " lease %d n=%d at %v;", p.i, p.n, p.at)
			}
			fmt.Fprintln(&h.out)
		}
	case "time-to-live":
		c := num(t, d, "c", 0)
		if ttl, found := h.m.lessor.TimeToLive(h.now, c); found {
			fmt.Fprintf(&h.out, "lease %d granted with TTL(%ds), remaining(%ds)\n", c, int64(h.m.lessor.leases[c].ttl/time.Second), ttl)
		} else {
			fmt.Fprintf(&h.out, "lease %d not found\n", c)
		}
	case "renew":
		c := num(t, d, "c", 0)
		fmt.Fprintf(&h.out, "renew lease %d: ttl=%d\n", c, h.m.lessor.Renew(h.now, c))
	case "state":
		h.printMember()
	default:
		d.Fatalf(t, "unknown command %q", d.Cmd)
	}
	if h.out.Len() == 0 {
		return "ok\n" // the input produced nothing
	}
	return h.out.String()
}

func (h *memberHarness) newMember(t *testing.T, d *datadriven.TestData) {
	h.now, h.wakes, h.seq, h.slots = 0, nil, 0, map[int]int32{}
	h.leases = num(t, d, "leases", 8)
	idle := 0.0
	if d.HasArg("idle-cores") {
		var s string
		d.ScanArgs(t, "idle-cores", &s)
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			d.Fatalf(t, "idle-cores: %v", err)
		}
		idle = f
	}
	cpuCfg := CPUConfig{Cores: float64(num(t, d, "cores", 1)), Idle: idle, Bucket: time.Second, Duration: time.Hour}
	if d.HasArg("background") {
		var steps []string
		for _, a := range d.CmdArgs {
			if a.Key == "background" {
				steps = a.Vals
			}
		}
		for _, s := range steps {
			at, cores, ok := strings.Cut(s, ":")
			a, err1 := time.ParseDuration(at)
			c, err2 := strconv.ParseFloat(cores, 64)
			if !ok || err1 != nil || err2 != nil {
				d.Fatalf(t, "background: %q is not AT:CORES", s)
			}
			cpuCfg.Background = append(cpuCfg.Background, LoadStep{At: sim.Time(a), Cores: c})
		}
	}
	if d.HasArg("gc-base") {
		cpuCfg.GC = &GCConfig{GOGC: 100, Procs: cpuCfg.Cores, BaseHeap: int64(num(t, d, "gc-base", 0)),
			AllocPerRequest: int64(num(t, d, "gc-alloc", 0)), ScanRate: float64(num(t, d, "gc-scan", 1)),
			STW: dur(t, d, "gc-stw", 0).Duration()}
	}
	if d.HasArg("spread") {
		var s string
		d.ScanArgs(t, "spread", &s)
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			d.Fatalf(t, "spread: %v", err)
		}
		cpuCfg.Spread, cpuCfg.Rand = f, sim.NewRand(uint64(num(t, d, "seed", 1)), "service-time")
	}
	cpuCfg.Sharing = d.HasArg("sharing")
	cpu := NewCPU(cpuCfg)
	mutant := MutantNone
	if d.HasArg("mutant") {
		var s string
		d.ScanArgs(t, "mutant", &s)
		var err error
		if mutant, err = ParseMutant(s); err != nil {
			d.Fatalf(t, "%v", err)
		}
	}
	cfg := MemberConfig{
		ID: num(t, d, "id", 0),
		Costs: Costs{DirectRenewal: dur(t, d, "direct", time.Millisecond).Duration(),
			FollowerRenewal:    dur(t, d, "follower", time.Millisecond).Duration(),
			LeaderForwarded:    dur(t, d, "forwarded", time.Millisecond).Duration(),
			QueuedRequestBytes: num(t, d, "bytes", 100)},
		ReqTimeout:      dur(t, d, "req-timeout", ReqTimeout(DefaultElectionTimeout)).Duration(),
		LeaderQueue:     num(t, d, "leader-queue", 0),
		TTL:             dur(t, d, "ttl", 10*time.Second).Duration(),
		Mutant:          mutant,
		ElectionTimeout: dur(t, d, "election-timeout", DefaultElectionTimeout).Duration(),
		ApplyWaitDirect: d.HasArg("apply-wait-direct"),
		RenewReadsIndex: d.HasArg("read-index"),
		ReadIndexCost:   dur(t, d, "read-index", 0).Duration(),
		ReadIndexRTT:    dur(t, d, "read-index-rtt", 0).Duration(),
		RevokeCommit:    dur(t, d, "revoke-commit", 0).Duration(),
		// The leadership check of 3.4.31+/3.5.13+ (RevokeChecksLeadership).
		RevokeChecksLeadership: d.HasArg("checks-leadership"),
	}
	etcd := DefaultEtcdVersion
	if d.HasArg("etcd") {
		var s string
		d.ScanArgs(t, "etcd", &s)
		var err error
		if etcd, err = ParseEtcdVersion(s); err != nil {
			d.Fatalf(t, "%v", err)
		}
	}
	lc := LessorConfig{KeysPerLease: num(t, d, "keys", 1), RateLimited: etcd.RevokeRateLimited(),
		RevokeRate: num(t, d, "revoke-rate", 0), Checkpointing: d.HasArg("checkpoint"),
		PromoteSkipsCheckpoints: !etcd.PromoteSchedulesCheckpoints(), Mutant: mutant}
	h.m = NewMember(cfg, cpu, NewLessor(h.leases, lc), num(t, d, "leader", 0))
}

// step applies one input at now, prints its outputs and queues its wake-ups.
func (h *memberHarness) step(in Input) {
	for _, o := range h.m.Step(h.now, in, nil) {
		fmt.Fprintf(&h.out, "%v %s\n", h.now, fmtOutput(o))
		if o.Kind == OutWake {
			if o.At < h.now {
				panic(fmt.Sprintf("wake-up in the past: %v < %v", o.At, h.now))
			}
			h.wakes = append(h.wakes, queuedWake{at: o.At, seq: h.seq, in: o.WakeInput()})
			h.seq++
		}
	}
}

// runUntil delivers the queued wake-ups due by until (all of them if until <
// 0) in (time, queue order) and leaves now at until.
func (h *memberHarness) runUntil(until sim.Time) {
	if until >= 0 && until < h.now {
		panic(fmt.Sprintf("time goes backwards: %v < %v", until, h.now))
	}
	for n := 0; ; n++ {
		if n > 10000 {
			panic("more than 10000 wake-ups")
		}
		i := -1
		for j, w := range h.wakes {
			if i < 0 || w.at < h.wakes[i].at || (w.at == h.wakes[i].at && w.seq < h.wakes[i].seq) {
				i = j
			}
		}
		if i < 0 || (until >= 0 && h.wakes[i].at > until) {
			break
		}
		w := h.wakes[i]
		h.wakes = slices.Delete(h.wakes, i, i+1)
		h.now = w.at
		fmt.Fprintf(&h.out, "%v > %s\n", h.now, fmtInput(w.in))
		h.step(w.in)
	}
	if until >= 0 {
		h.now = until
	}
}

func (h *memberHarness) slot(t *testing.T, d *datadriven.TestData, c int) int32 {
	s, ok := h.slots[c]
	if !ok {
		d.Fatalf(t, "client %d has no slot (use `client c=%d`)", c, c)
	}
	return s
}

func (h *memberHarness) printCPU() {
	c := h.m.cpu
	fmt.Fprintf(&h.out, "cpu: jobs=%d bytes=%d backlog=%v shed=%d max-jobs=%d\n", c.Jobs(), c.Bytes(), c.Backlog(h.now), c.Shed(), c.maxJobs)
	if c.variable {
		rate, until := c.rateAt(h.now)
		u := "never"
		if until != never {
			u = until.String()
		}
		fmt.Fprintf(&h.out, "cpu: cores for requests=%.3g until %s\n", rate, u)
	}
	if g := c.gc; g != nil {
		g.Advance(h.now) // as the next allocation would
		fmt.Fprintf(&h.out, "gc: cycles=%d marking=%t marked=%d allocated=%d trigger=%d goal=%d work=%v pauses=%v\n",
			g.Cycles(), g.Marking(h.now), g.Marked(), g.allocated, g.Trigger(), g.Goal(), g.Work(), g.Pauses())
	}
}

func (h *memberHarness) printLease(i int) {
	e := h.m.lessor.leases[i]
	state := "alive"
	if e.revoked {
		state = "revoked"
	} else if h.now >= e.expiry {
		state = "expired"
	}
	remaining := ""
	if e.remaining > 0 {
		remaining = fmt.Sprintf(" checkpointed-remaining=%ds", e.remaining)
	}
	fmt.Fprintf(&h.out, "lease %d: ttl=%v expiry=%v n=%d %s%s\n", i, e.ttl, e.expiry, e.n, state, remaining)
}

func (h *memberHarness) printMember() {
	m := h.m
	var dl []string
	for i := range m.deadlines.len() {
		x := m.deadlines.at(i)
		dl = append(dl, fmt.Sprintf("%v/slot%d/attempt%d", x.at, x.slot, x.attempt))
	}
	fmt.Fprintf(&h.out, "member %d: leader=%d queued=%d deadlines=[%s] wait-leader=%v\n",
		m.cfg.ID, m.leader, m.Queued(), strings.Join(dl, " "), m.waitLead)
}

func fmtInput(in Input) string {
	switch in.Kind {
	case InCPUDone:
		if in.Work == WorkPromote {
			return "cpu-done work=promote"
		}
		if in.Work == WorkForwarded {
			return fmt.Sprintf("cpu-done work=%v from=%d slot=%d client=%d attempt=%d", in.Work, in.From, in.Slot, in.Client, in.Attempt)
		}
		return fmt.Sprintf("cpu-done work=%v slot=%d client=%d attempt=%d", in.Work, in.Slot, in.Client, in.Attempt)
	case InRetry:
		return fmt.Sprintf("retry slot=%d client=%d attempt=%d", in.Slot, in.Client, in.Attempt)
	case InDeadlines:
		return "deadlines"
	case InReadIndexDone:
		return fmt.Sprintf("read-index-done round=%d", in.Attempt)
	case InRevokeApplied:
		return "revoke-applied"
	case InCPUTick:
		return fmt.Sprintf("cpu-tick attempt=%d", in.Attempt)
	case InDeposedTick:
		return "deposed-tick"
	case InFsyncDone:
		return "fsync-done"
	case InApplied, InApplyTimeout:
		if in.Work == WorkForwarded {
			return fmt.Sprintf("%v work=%v from=%d slot=%d client=%d attempt=%d", in.Kind, in.Work, in.From, in.Slot, in.Client, in.Attempt)
		}
		return fmt.Sprintf("%v work=%v slot=%d client=%d attempt=%d", in.Kind, in.Work, in.Slot, in.Client, in.Attempt)
	}
	return fmt.Sprintf("%v %+v", in.Kind, in) // not a wake-up the member asks for
}

func fmtOutput(o Output) string {
	switch o.Kind {
	case OutRespond:
		return fmt.Sprintf("respond client=%d slot=%d gen=%d ttl=%d", o.Client, o.Slot, o.Gen, o.TTL)
	case OutStreamError:
		return fmt.Sprintf("stream-error client=%d slot=%d gen=%d", o.Client, o.Slot, o.Gen)
	case OutWake:
		return fmt.Sprintf("wake at=%v %s", o.At, fmtInput(o.WakeInput()))
	case OutForward:
		return fmt.Sprintf("forward to=%d slot=%d client=%d attempt=%d", o.To, o.Slot, o.Client, o.Attempt)
	case OutCancel, OutAbandon:
		return fmt.Sprintf("%v slot=%d client=%d attempt=%d", o.Kind, o.Slot, o.Client, o.Attempt)
	case OutReply:
		answer := fmt.Sprintf("ttl=%d", o.TTL)
		if o.ErrStatus {
			answer = "error-status"
		}
		return fmt.Sprintf("reply to=%d slot=%d client=%d attempt=%d %s", o.To, o.Slot, o.Client, o.Attempt, answer)
	case OutShed:
		return fmt.Sprintf("shed to=%d slot=%d client=%d attempt=%d", o.To, o.Slot, o.Client, o.Attempt)
	case OutFact:
		if o.Fact == FactPromoted {
			return fmt.Sprintf("fact promoted leases=%d until=%v", o.N, o.At)
		}
		if o.Fact == FactReadIndex {
			return fmt.Sprintf("fact read-index renewals=%d", o.N)
		}
		if o.Fact == FactExpired {
			return fmt.Sprintf("fact expired client=%d n=%d keys=%d expired-at=%v", o.Client, o.N, o.Keys, o.At)
		}
		return fmt.Sprintf("fact %v client=%d", o.Fact, o.Client)
	}
	return fmt.Sprintf("%v %+v", o.Kind, o)
}

func num(t *testing.T, d *datadriven.TestData, key string, def int) int {
	if !d.HasArg(key) {
		return def
	}
	var v int
	d.ScanArgs(t, key, &v)
	return v
}

func dur(t *testing.T, d *datadriven.TestData, key string, def time.Duration) sim.Time {
	if !d.HasArg(key) {
		return sim.Time(def)
	}
	var s string
	d.ScanArgs(t, key, &s)
	v, err := time.ParseDuration(s)
	if err != nil {
		d.Fatalf(t, "%s: %v", key, err)
	}
	return sim.Time(v)
}
