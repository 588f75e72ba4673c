//go:build unix

package fidelity

import (
	"syscall"
	"time"
)

// processCPU is the process's CPU time so far, user and system.
func processCPU() time.Duration {
	var u syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &u) != nil {
		return 0
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}
