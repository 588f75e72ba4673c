package procstat

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"time"
)

// HostCPU is the machine's CPU time since boot, all CPUs together, from the
// aggregate "cpu" line of /proc/stat (proc(5), /proc/stat; fields in USER_HZ
// ticks: user nice system idle iowait irq softirq steal guest guest_nice).
type HostCPU struct {
	// Busy: user + nice + system + irq + softirq + steal. guest and
	// guest_nice are already inside user and nice (proc(5)), so they are not
	// added again.
	Busy time.Duration
	// Idle: idle + iowait.
	Idle time.Duration
}

// ParseProcStat parses the aggregate "cpu" line of /proc/stat.
func ParseProcStat(data []byte) (HostCPU, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) == 0 || string(f[0]) != "cpu" {
			continue
		}
		// Kernels before 2.6.11 had no steal field; every kernel Go supports has
		// at least user..steal (8 values).
		if len(f) < 9 {
			return HostCPU{}, fmt.Errorf("malformed /proc/stat: the cpu line has %d values, need at least 8 (user..steal)", len(f)-1)
		}
		var v [8]time.Duration
		for i := range v {
			n, err := strconv.ParseUint(string(f[i+1]), 10, 63)
			if err != nil {
				return HostCPU{}, fmt.Errorf("malformed /proc/stat: cpu value %d %q is not a tick count", i+1, f[i+1])
			}
			v[i] = time.Duration(n) * tick
		}
		const user, nice, system, idle, iowait, irq, softirq, steal = 0, 1, 2, 3, 4, 5, 6, 7
		return HostCPU{
			Busy: v[user] + v[nice] + v[system] + v[irq] + v[softirq] + v[steal],
			Idle: v[idle] + v[iowait],
		}, nil
	}
	return HostCPU{}, fmt.Errorf("malformed /proc/stat: no aggregate cpu line")
}

// HostCPU reads the machine's CPU time from Root/stat.
func (fsys FS) HostCPU() (HostCPU, error) {
	b, err := os.ReadFile(fsys.path("stat"))
	if err != nil {
		return HostCPU{}, fmt.Errorf("procstat: %w", err)
	}
	return ParseProcStat(b)
}
