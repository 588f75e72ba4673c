package netsim

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/leasesim/leasesim/sim"
)

// TestNetworkTranscripts drives one Network through the transcripts in
// testdata/*.txt and prints every output it produces. Rewrite them with
//
//	go test ./netsim -run TestNetworkTranscripts -rewrite
//
// The command language (durations as Go durations):
//
//	network members=2 [rtt=1ms] [jitter=0s] [seed=1] [tls=on] [http2=off] [max-idle=0]
//	        [resumption=off] [close-tw=off] [dial-timeout=2s] [tls-server=5ms]
//	        [tls-client=3ms] [tls-server-resumed=1ms] [tls-client-resumed=1ms]
//	        [accept=100us] [conn-bytes=1000] [slots=4] [handler=0s] [answer=0s]
//	                        a new network, time 0; slots stream slots per member;
//	                        handler > 0: the harness answers every request itself
//	                        (ttl 10) after handler of work on the peer's CPU;
//	                        answer > 0: the follower's CPU reads each answer
//	                        (Costs.FollowerAnswer) before the connection is pooled
//	forward from=1 to=0 slot=0 [client=slot] attempt=1
//	cancel from=1 slot=0 attempt=1      (ReqTimeout)
//	abandon from=1 slot=0
//	reply from=1 to=0 slot=0 attempt=1 (ttl=10 | error-status)
//	shed from=1 to=0 slot=0 attempt=1
//	partition member=1 until=5s
//	probe from=0 to=1
//	start-prober phases=4s,4s,1s
//	                        arm every member's prober (StartProber): member i
//	                        first probes all its peers phases[i] from now
//	busy member=0 work=12s  other work occupies a member's CPU from now
//	run [until=T]           deliver queued messages (OutDeliver, CPU completions,
//	                        harness replies) in time order, up to T (or all)
//	state from=1 to=0 | forwards member=1 | totals | cpu
//	                        state dumps
//
// Every input command takes at=T: what is due by T is delivered first, then the
// input is applied at T. Lines read "<time> <output>"; a queued message the
// harness delivers reads "<time> > <input>", followed by the outputs it
// produced; "ok" is a command that produced nothing.
//
// The harness's CPU is its own, not package model's (netsim must not import
// it): per member one FIFO core; an OutCPU job starts at max(At, the end of the
// work before it) and takes Work; its Then is delivered when it is done.
func TestNetworkTranscripts(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no transcripts: %v", err)
	}
	for _, path := range files {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txt"), func(t *testing.T) {
			h := &netHarness{}
			datadriven.RunTest(t, path, h.cmd)
		})
	}
}

type netHarness struct {
	n       *Network
	now     sim.Time
	queue   []queued
	seq     int
	cpus    []harnessCPU
	handler time.Duration
	out     strings.Builder
}

type queued struct {
	at  sim.Time
	seq int
	in  Input
	// handler: a harness reply whose handler work on member in.To is done
	handler bool
}

type harnessCPU struct {
	freeAt sim.Time
	jobs   int
	bytes  int64
}

func (h *netHarness) cmd(t *testing.T, d *datadriven.TestData) (result string) {
	h.out.Reset()
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(&h.out, "panic: %v\n", r)
			result = h.out.String()
		}
	}()
	if d.Cmd != "network" && h.n == nil {
		d.Fatalf(t, "no network yet: start with `network`")
	}
	if d.HasArg("at") && d.Cmd != "run" {
		h.runUntil(ddur(t, d, "at", 0))
	}
	switch d.Cmd {
	case "network":
		h.newNetwork(t, d)
	case "forward":
		slot := dnum(t, d, "slot", 0)
		h.step(Input{Kind: InForward, From: int8(dnum(t, d, "from", 1)), To: int8(dnum(t, d, "to", 0)),
			Slot: int32(slot), Client: int32(dnum(t, d, "client", slot)), Attempt: uint32(dnum(t, d, "attempt", 1))})
	case "cancel":
		h.step(Input{Kind: InCancel, From: int8(dnum(t, d, "from", 1)), Slot: int32(dnum(t, d, "slot", 0)), Attempt: uint32(dnum(t, d, "attempt", 1))})
	case "abandon":
		h.step(Input{Kind: InAbandon, From: int8(dnum(t, d, "from", 1)), Slot: int32(dnum(t, d, "slot", 0))})
	case "reply", "shed":
		in := Input{Kind: InReply, From: int8(dnum(t, d, "from", 1)), To: int8(dnum(t, d, "to", 0)),
			Slot: int32(dnum(t, d, "slot", 0)), Attempt: uint32(dnum(t, d, "attempt", 1)), TTL: int64(dnum(t, d, "ttl", 10))}
		if d.Cmd == "shed" {
			in.Kind, in.TTL = InShed, 0
		}
		in.ErrStatus = d.HasArg("error-status")
		h.step(in)
	case "partition":
		h.step(Input{Kind: InPartition, From: int8(dnum(t, d, "member", 1)), Until: ddur(t, d, "until", 0)})
	case "probe":
		h.step(Input{Kind: InProbe, From: int8(dnum(t, d, "from", 0)), To: int8(dnum(t, d, "to", 1))})
	case "start-prober":
		var list string
		d.ScanArgs(t, "phases", &list)
		var phases []sim.Time
		for _, f := range strings.Split(list, ",") {
			v, err := time.ParseDuration(f)
			if err != nil {
				d.Fatalf(t, "phases: %v", err)
			}
			phases = append(phases, h.now+sim.Time(v))
		}
		for _, o := range h.n.StartProber(phases, nil) {
			fmt.Fprintf(&h.out, "%v %s\n", h.now, fmtNetOutput(o))
			h.push(o.At, o.Msg, false)
		}
	case "busy":
		m := dnum(t, d, "member", 0)
		c := &h.cpus[m]
		c.freeAt = max(c.freeAt, h.now) + ddur(t, d, "work", 0)
		h.printCPU(m)
	case "run":
		until := sim.Time(-1)
		if d.HasArg("until") {
			until = ddur(t, d, "until", 0)
		}
		h.runUntil(until)
	case "state":
		h.printPair(dnum(t, d, "from", 1), dnum(t, d, "to", 0))
	case "forwards":
		h.printForwards(dnum(t, d, "member", 1))
	case "totals":
		fmt.Fprintf(&h.out, "totals: %+v\n", h.n.Totals(h.now))
	case "cpu":
		for m := range h.cpus {
			h.printCPU(m)
		}
	default:
		d.Fatalf(t, "unknown command %q", d.Cmd)
	}
	if err := h.n.CheckInvariants(); err != nil {
		fmt.Fprintf(&h.out, "invariant broken: %v\n", err)
	}
	if h.out.Len() == 0 {
		return "ok\n"
	}
	return h.out.String()
}

func (h *netHarness) newNetwork(t *testing.T, d *datadriven.TestData) {
	members := dnum(t, d, "members", 2)
	cfg := NetworkConfig{
		Members:          members,
		PeerRTT:          ddur(t, d, "rtt", time.Millisecond).Duration(),
		PeerJitter:       ddur(t, d, "jitter", 0).Duration(),
		MaxIdle:          dnum(t, d, "max-idle", 0),
		HTTP2:            dbool(t, d, "http2", false),
		TLS:              dbool(t, d, "tls", true),
		TLSResumption:    dbool(t, d, "resumption", false),
		TLSCloseTimeWait: dbool(t, d, "close-tw", false),
		DialTimeout:      ddur(t, d, "dial-timeout", 2*time.Second).Duration(),
		Cohort:           dnum(t, d, "cohort", 0),
		Costs: Costs{
			TLSServerFull:    ddur(t, d, "tls-server", 5*time.Millisecond).Duration(),
			TLSClientFull:    ddur(t, d, "tls-client", 3*time.Millisecond).Duration(),
			TLSServerResumed: ddur(t, d, "tls-server-resumed", time.Millisecond).Duration(),
			TLSClientResumed: ddur(t, d, "tls-client-resumed", time.Millisecond).Duration(),
			TCPAccept:        ddur(t, d, "accept", 100*time.Microsecond).Duration(),
			PeerConnBytes:    dnum(t, d, "conn-bytes", 1000),
			FollowerAnswer:   ddur(t, d, "answer", 0).Duration(),
		},
	}
	h.n = NewNetwork(cfg, sim.NewRand(uint64(dnum(t, d, "seed", 1)), "peer-jitter"))
	for m := 0; m < members; m++ {
		for range dnum(t, d, "slots", 4) {
			h.n.AddSlot(m)
		}
	}
	h.now, h.queue, h.seq = 0, nil, 0
	h.cpus = make([]harnessCPU, members)
	h.handler = ddur(t, d, "handler", 0).Duration()
	fmt.Fprintf(&h.out, "%d members, rtt %v, tls %t, http2 %t, max-idle %d (pool %d), dial timeout %v\n",
		members, cfg.PeerRTT, cfg.TLS, cfg.HTTP2, cfg.MaxIdle, h.n.pairs[0][0].pool.cfg.MaxIdle, cfg.DialTimeout)
}

// step applies one input at now, prints its outputs and acts on them as the
// wiring would.
func (h *netHarness) step(in Input) {
	for _, o := range h.n.Step(h.now, in, nil) {
		line := fmtNetOutput(o)
		switch o.Kind {
		case OutDeliver:
			h.push(o.At, o.Msg, false)
		case OutCPU:
			c := &h.cpus[o.Member]
			done := max(o.At, c.freeAt) + sim.Time(o.N)*sim.Time(o.Work)
			c.freeAt = done
			c.jobs += int(o.N)
			c.bytes += int64(o.N) * o.Bytes
			line += fmt.Sprintf(" (done at %v)", done)
			if o.HasThen {
				h.push(done, o.Msg, false)
			}
		case OutCPURelease:
			c := &h.cpus[o.Member]
			c.jobs -= int(o.N)
			c.bytes -= int64(o.N) * o.Bytes
		case OutRequest:
			if h.handler > 0 {
				c := &h.cpus[o.To]
				done := max(h.now, c.freeAt) + sim.Time(h.handler)
				c.freeAt = done
				c.jobs++
				line += fmt.Sprintf(" (handler done at %v)", done)
				h.push(done, Input{Kind: InReply, From: o.From, To: o.To, Slot: o.Slot, Client: o.Client, Attempt: o.Attempt, TTL: 10}, true)
			}
		}
		fmt.Fprintf(&h.out, "%v %s\n", h.now, line)
	}
}

func (h *netHarness) push(at sim.Time, in Input, handler bool) {
	if at < h.now {
		panic(fmt.Sprintf("message to the past: %v < %v", at, h.now))
	}
	h.queue = append(h.queue, queued{at: at, seq: h.seq, in: in, handler: handler})
	h.seq++
}

// runUntil delivers what is due by until (all if until < 0) in (time, queue
// order) and leaves now at until.
func (h *netHarness) runUntil(until sim.Time) {
	if until >= 0 && until < h.now {
		panic(fmt.Sprintf("time goes backwards: %v < %v", until, h.now))
	}
	for n := 0; ; n++ {
		if n > 10000 {
			panic("more than 10000 deliveries (a prober never stops: run until=)")
		}
		i := -1
		for j, q := range h.queue {
			if i < 0 || q.at < h.queue[i].at || (q.at == h.queue[i].at && q.seq < h.queue[i].seq) {
				i = j
			}
		}
		if i < 0 || (until >= 0 && h.queue[i].at > until) {
			break
		}
		q := h.queue[i]
		h.queue = slices.Delete(h.queue, i, i+1)
		h.now = q.at
		if q.handler {
			h.cpus[q.in.To].jobs--
			fmt.Fprintf(&h.out, "%v > (handler) %s\n", h.now, fmtNetInput(q.in))
		} else {
			fmt.Fprintf(&h.out, "%v > %s\n", h.now, fmtNetInput(q.in))
		}
		h.step(q.in)
	}
	if until >= 0 {
		h.now = until
	}
}

func (h *netHarness) printPair(from, to int) {
	p := &h.n.pairs[from][to]
	var ws []string
	for _, w := range p.waiters {
		ws = append(ws, fmt.Sprintf("slot%d/attempt%d", w.slot, w.attempt))
	}
	idle := "none"
	if p.idleAt >= 0 {
		idle = p.idleAt.String()
	}
	fmt.Fprintf(&h.out, "pair %d->%d: established=%d handshaking=%d close-wait=%d idle=%d busy=%d dialing=%d waiting=%d\n",
		from, to, p.established, p.handshaking, p.closeWait, p.pool.Idle(), p.pool.Busy(), p.pool.Dialing(), p.pool.Waiting())
	fmt.Fprintf(&h.out, "  time-wait client=%d server=%d, ports in use %d, idle check %s, waiters [%s]\n",
		p.clientTW.Count(h.now), p.serverTW.Count(h.now), p.portsInUse(h.now), idle, strings.Join(ws, " "))
}

func (h *netHarness) printForwards(m int) {
	for slot, f := range h.n.forwards[m] {
		if f.attempt == 0 {
			continue
		}
		var flags []string
		for _, x := range []struct {
			on   bool
			name string
		}{{f.live, "live"}, {f.onWire, "on-wire"}, {f.lost, "lost"}, {f.arrived, "arrived"}, {f.answered, "answered"}} {
			if x.on {
				flags = append(flags, x.name)
			}
		}
		fmt.Fprintf(&h.out, "member %d slot %d: client=%d attempt=%d to=%d [%s] arrived-at=%v close-waits=%d\n",
			m, slot, f.client, f.attempt, f.to, strings.Join(flags, " "), f.arrivedAt, f.closeWaits)
	}
}

func (h *netHarness) printCPU(m int) {
	c := h.cpus[m]
	fmt.Fprintf(&h.out, "cpu %d: jobs=%d bytes=%d backlog=%v\n", m, c.jobs, c.bytes, max(0, c.freeAt-h.now))
}

func fmtNetInput(in Input) string {
	var b strings.Builder
	b.WriteString(in.Kind.String())
	switch in.Kind {
	case InForward, InCancel, InAbandon, InArrive, InReply, InShed, InResponse:
		fmt.Fprintf(&b, " from=%d", in.From)
		if in.Kind != InCancel && in.Kind != InAbandon {
			fmt.Fprintf(&b, " to=%d", in.To)
		}
		fmt.Fprintf(&b, " slot=%d", in.Slot)
		if in.Kind == InForward || in.Kind == InArrive {
			fmt.Fprintf(&b, " client=%d", in.Client)
		}
		if in.Kind != InAbandon {
			fmt.Fprintf(&b, " attempt=%d", in.Attempt)
		}
		if in.Kind == InReply || in.Kind == InResponse {
			switch {
			case in.ErrStatus:
				b.WriteString(" error-status")
			case in.Err:
				b.WriteString(" err")
			default:
				fmt.Fprintf(&b, " ttl=%d", in.TTL)
			}
		}
		for _, x := range []struct {
			on   bool
			name string
		}{{in.Lost, "lost"}, {in.Closed, "closed"}, {in.Read, "read"}} {
			if x.on {
				b.WriteString(" " + x.name)
			}
		}
	case InDialTCP, InDialServerDone, InDialFlight, InDialClientDone, InDialTimeout, InDialLost:
		fmt.Fprintf(&b, " dial=%d", in.Dial)
	case InIdleExpire, InProbe:
		fmt.Fprintf(&b, " from=%d to=%d", in.From, in.To)
	case InPartition:
		fmt.Fprintf(&b, " member=%d until=%v", in.From, in.Until)
	}
	return b.String()
}

func fmtNetOutput(o Output) string {
	switch o.Kind {
	case OutDeliver:
		return fmt.Sprintf("deliver at=%v %s", o.At, fmtNetInput(o.Msg))
	case OutRequest:
		return fmt.Sprintf("request from=%d to=%d slot=%d client=%d attempt=%d", o.From, o.To, o.Slot, o.Client, o.Attempt)
	case OutResult:
		answer := fmt.Sprintf("ttl=%d", o.TTL)
		if o.Err {
			answer = "err"
		}
		return fmt.Sprintf("result from=%d slot=%d attempt=%d %s", o.From, o.Slot, o.Attempt, answer)
	case OutCPU:
		s := fmt.Sprintf("cpu member=%d at=%v work=%v bytes=%d", o.Member, o.At, o.Work, o.Bytes)
		if o.N != 1 {
			s += fmt.Sprintf(" n=%d", o.N)
		}
		if o.HasThen {
			s += " then " + fmtNetInput(o.Msg)
		}
		return s
	case OutCPURelease:
		if o.N != 1 {
			return fmt.Sprintf("cpu-release member=%d bytes=%d n=%d", o.Member, o.Bytes, o.N)
		}
		return fmt.Sprintf("cpu-release member=%d bytes=%d", o.Member, o.Bytes)
	case OutFact:
		if o.N > 1 {
			return fmt.Sprintf("fact %v n=%d", o.Fact, o.N)
		}
		return fmt.Sprintf("fact %v", o.Fact)
	}
	return fmt.Sprintf("%v %+v", o.Kind, o)
}

func dnum(t *testing.T, d *datadriven.TestData, key string, def int) int {
	if !d.HasArg(key) {
		return def
	}
	var v int
	d.ScanArgs(t, key, &v)
	return v
}

func dbool(t *testing.T, d *datadriven.TestData, key string, def bool) bool {
	if !d.HasArg(key) {
		return def
	}
	var s string
	d.ScanArgs(t, key, &s)
	switch s {
	case "on", "true":
		return true
	case "off", "false":
		return false
	}
	d.Fatalf(t, "%s: %q is not on/off", key, s)
	return false
}

func ddur(t *testing.T, d *datadriven.TestData, key string, def time.Duration) sim.Time {
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
