package spec

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/leasesim/leasesim/model"
	"github.com/leasesim/leasesim/sim"
)

// HostSpec is the machine the members run on, apart from etcd (server:
// cluster). With cluster.shared_cpu it is the one machine of every member;
// otherwise each member has its own, and each carries the same load (drawn
// on its own for a random one).
type HostSpec struct {
	// BackgroundCores: CPU other processes on the machine take from etcd, in
	// cores, in one of three forms (left out: none):
	//   - "N": N cores all the time, e.g. "1".
	//   - "on-off:N/ON/OFF": N cores for ON, then none for OFF, repeating
	//     from the start, e.g. "on-off:1/30s/30s" (a periodic batch job).
	//   - "uniform:LO-HI/PERIOD": a new level every PERIOD, drawn uniformly
	//     from [LO, HI] (the seeded stream "host-background", a child per
	//     member without shared_cpu), e.g. "uniform:0-1.5/10s".
	// Every level must leave CPU for etcd: below cluster.cores minus the
	// members' idle CPU (costs.idle_cores). The load is not etcd's: the
	// cpu_utilisation.mN series do not count it.
	BackgroundCores string `yaml:"background_cores,omitempty"`
	// BackgroundThreads: other processes' threads that are always runnable
	// (a busy loop is one), 0 to MaxBackgroundThreads (left out: none).
	// Linux's scheduler (CFS) shares the cores per runnable thread, not per
	// process: the members' process, running up to cluster.cores threads
	// (GOMAXPROCS), gets min(k, A k / (k + N)) cores while it has k threads
	// runnable, A being the cores background_cores leaves (model.CPU). On 2
	// cores beside one busy loop that is 4/3 of a core with a backlog and a
	// whole core for a lone request; background_cores 1 takes a whole core
	// either way. While they run every core is busy, and each thread runs
	// at all_busy_speed. Not with cluster.processor_sharing.
	BackgroundThreads int `yaml:"background_threads,omitempty"`
	// AllBusySpeed: a thread's speed while every core of the machine is
	// busy, relative to a quiet machine (more than 0, at most 1), applied
	// while background_threads run: cores that share caches or a physical
	// core run slower together. The time lost is not counted as the
	// process's CPU (model.CPU). Left out: the parameter file's
	// host.all_busy_speed, else 1. Only with background_threads.
	AllBusySpeed float64 `yaml:"all_busy_speed,omitempty"`
}

// MaxBackgroundThreads bounds host.background_threads.
const MaxBackgroundThreads = 1024

// Background is a parsed host.background_cores. Kind "" is none.
type Background struct {
	Kind    string // "", "constant", "on-off", "uniform"
	Lo, Hi  float64
	On, Off time.Duration // on-off
	Period  time.Duration // uniform
}

// MaxBackgroundSteps bounds how many periods a background load has over a
// run, so that its step function fits in memory.
const MaxBackgroundSteps = 1_000_000

// Background forms.
const (
	BackgroundConstant = "constant"
	BackgroundOnOff    = "on-off"
	BackgroundUniform  = "uniform"
)

// backgroundAllowed is what host.background_cores allows, for errors.
const backgroundAllowed = `allowed: a number of cores N ("1"), on-off:N/ON/OFF ("on-off:1/30s/30s") or uniform:LO-HI/PERIOD ("uniform:0-1.5/10s"), with 0 <= N, LO <= HI and ON, OFF, PERIOD > 0`

// ParseBackground reads host.background_cores ("" is none).
func ParseBackground(v string) (Background, error) {
	bad := fmt.Errorf("%q is not allowed; %s", v, backgroundAllowed)
	num := func(s string) (float64, bool) {
		f, err := strconv.ParseFloat(s, 64)
		return f, err == nil && f >= 0 && f < 1e6
	}
	pos := func(s string) (time.Duration, bool) {
		d, err := time.ParseDuration(s)
		return d, err == nil && d > 0
	}
	switch kind, rest, _ := strings.Cut(v, ":"); {
	case v == "":
		return Background{}, nil
	case kind == BackgroundOnOff:
		f := strings.Split(rest, "/")
		if len(f) != 3 {
			return Background{}, bad
		}
		n, ok1 := num(f[0])
		on, ok2 := pos(f[1])
		off, ok3 := pos(f[2])
		if !ok1 || !ok2 || !ok3 {
			return Background{}, bad
		}
		return Background{Kind: BackgroundOnOff, Lo: 0, Hi: n, On: on, Off: off}, nil
	case kind == BackgroundUniform:
		lohi, per, ok := strings.Cut(rest, "/")
		los, his, ok2 := strings.Cut(lohi, "-")
		lo, ok3 := num(los)
		hi, ok4 := num(his)
		p, ok5 := pos(per)
		if !ok || !ok2 || !ok3 || !ok4 || !ok5 || lo > hi {
			return Background{}, bad
		}
		return Background{Kind: BackgroundUniform, Lo: lo, Hi: hi, Period: p}, nil
	default:
		n, ok := num(v)
		if !ok {
			return Background{}, bad
		}
		return Background{Kind: BackgroundConstant, Lo: n, Hi: n}, nil
	}
}

// Max is the most cores the load ever takes.
func (b Background) Max() float64 { return b.Hi }

// Steps is the load over [0, d) as a step function of time (model.LoadStep;
// nil: none); a uniform load draws each period's level from r.
func (b Background) Steps(d time.Duration, r *sim.Rand) []model.LoadStep {
	var out []model.LoadStep
	switch b.Kind {
	case BackgroundConstant:
		if b.Lo > 0 {
			out = append(out, model.LoadStep{At: 0, Cores: b.Lo})
		}
	case BackgroundOnOff:
		for t := time.Duration(0); t < d; t += b.On + b.Off {
			out = append(out, model.LoadStep{At: sim.Time(t), Cores: b.Hi}, model.LoadStep{At: sim.Time(t + b.On), Cores: 0})
		}
	case BackgroundUniform:
		for t := time.Duration(0); t < d; t += b.Period {
			out = append(out, model.LoadStep{At: sim.Time(t), Cores: b.Lo + (b.Hi-b.Lo)*r.Float64()})
		}
	}
	return out
}

// String is the load in words, for the scenario's description.
func (b Background) String() string {
	switch b.Kind {
	case BackgroundConstant:
		return fmt.Sprintf("%g cores", b.Lo)
	case BackgroundOnOff:
		return fmt.Sprintf("%g cores for %v of every %v", b.Hi, b.On, b.On+b.Off)
	case BackgroundUniform:
		return fmt.Sprintf("%g to %g cores (uniform, a new level every %v)", b.Lo, b.Hi, b.Period)
	}
	return "no cores"
}
