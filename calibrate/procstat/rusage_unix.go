//go:build unix

package procstat

import (
	"fmt"
	"syscall"
	"time"
)

// SelfRusage returns the CPU time consumed by the calling process, from
// getrusage(RUSAGE_SELF). It has microsecond resolution, where /proc/self/stat
// has ClockTicks (10 ms) resolution, so it is the better choice for
// measuring the harness process itself over short intervals.
func SelfRusage() (CPUTimes, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return CPUTimes{}, fmt.Errorf("procstat: getrusage(RUSAGE_SELF): %w", err)
	}
	return CPUTimes{
		User:   time.Duration(ru.Utime.Nano()),
		System: time.Duration(ru.Stime.Nano()),
	}, nil
}
