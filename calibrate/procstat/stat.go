package procstat

import (
	"bytes"
	"fmt"
	"strconv"
	"time"
)

// ClockTicks is USER_HZ, the unit of the CPU-time fields in /proc/PID/stat.
//
// The portable way to learn it is sysconf(_SC_CLK_TCK), which needs cgo. We
// hard-code it instead because the kernel fixes USER_HZ at 100 in the ABI of
// every architecture Go supports on Linux: it is independent of the kernel's
// internal CONFIG_HZ, and only the Alpha and IA-64 ABIs, which Go never
// supported, use another value (1024). glibc and musl answer 100 from sysconf
// on these architectures for the same reason.
const ClockTicks = 100

// tick is the duration of one clock tick.
const tick = time.Second / ClockTicks

// CPUTimes is CPU time consumed by a process.
type CPUTimes struct {
	User   time.Duration // time spent in user mode
	System time.Duration // time spent in the kernel on the process's behalf
}

// Total is User + System.
func (c CPUTimes) Total() time.Duration { return c.User + c.System }

// Positions of the fields ParseStat needs, numbered from 1 as in proc.rst
// Table 1-4 ("Contents of the stat fields") and proc(5):
// (1) pid, (2) comm, (3) state, ..., (14) utime, (15) stime.
const (
	statFieldState = 3
	statFieldUtime = 14
	statFieldStime = 15
)

// ParseStat parses the contents of /proc/PID/stat and returns the process's
// utime and stime (fields 14 and 15, in clock ticks).
//
// Field 2, comm, is the executable name in parentheses, and the name may
// itself contain spaces and parentheses (a program called "a) b (c" is
// legal). Splitting on spaces is therefore wrong. comm is the only
// free-text field, so the LAST ')' in the line is always the one closing it,
// and the fixed-format fields start after it.
func ParseStat(data []byte) (CPUTimes, error) {
	line := bytes.TrimSpace(data)
	open := bytes.IndexByte(line, '(')
	end := bytes.LastIndexByte(line, ')')
	if open < 0 || end < open {
		return CPUTimes{}, fmt.Errorf("malformed stat: no parenthesised comm field (2) in %q", abbrev(line))
	}
	if _, err := strconv.Atoi(string(bytes.TrimSpace(line[:open]))); err != nil {
		return CPUTimes{}, fmt.Errorf("malformed stat: pid field (1) %q is not a number", line[:open])
	}
	rest := bytes.Fields(line[end+1:]) // rest[0] is field 3
	if need := statFieldStime - statFieldState + 1; len(rest) < need {
		return CPUTimes{}, fmt.Errorf("malformed stat: %d fields after comm, need at least %d to reach stime (field %d)",
			len(rest), need, statFieldStime)
	}
	field := func(n int, name string) (time.Duration, error) {
		s := rest[n-statFieldState]
		ticks, err := strconv.ParseUint(string(s), 10, 63)
		if err != nil {
			return 0, fmt.Errorf("malformed stat: %s (field %d) %q is not a tick count", name, n, s)
		}
		return time.Duration(ticks) * tick, nil
	}
	user, err := field(statFieldUtime, "utime")
	if err != nil {
		return CPUTimes{}, err
	}
	sys, err := field(statFieldStime, "stime")
	if err != nil {
		return CPUTimes{}, err
	}
	return CPUTimes{User: user, System: sys}, nil
}

// abbrev shortens b for inclusion in an error message.
func abbrev(b []byte) string {
	const max = 80
	if len(b) <= max {
		return string(b)
	}
	return string(b[:max]) + "..."
}
