// Package etcd34 measures etcd v3.4.13's real code (go.etcd.io/etcd at
// v3.4.13's commit ae9734ed278b, the release of the events etcd of
// kubernetes PR #98257's 5,000-node test, February 2021). It is a module of
// its own because etcd 3.4 needs gRPC 1.26, which the main module's etcd
// v3.7.3 cannot share. Every test here is a measurement: each skips unless
// LEASESIM_MEASURE names it (make measure WHAT=...), and saves its result
// under ../testdata, where the main module's calibrate tests replay it.
package etcd34

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// processCPU is the CPU time of every thread of this process.
func processCPU() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// threadTimed runs f on a locked OS thread and returns its wall and thread CPU time.
func threadTimed(f func()) (wall, cpu time.Duration) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var before, after unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &before); err != nil {
		panic(err)
	}
	start := time.Now()
	f()
	wall = time.Since(start)
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &after); err != nil {
		panic(err)
	}
	return wall, time.Duration(after.Nano() - before.Nano())
}

func machine() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, line := range strings.Split(string(b), "\n") {
		if name, ok := strings.CutPrefix(line, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(name), ":"))
		}
	}
	return runtime.GOARCH
}

func save(t *testing.T, path string, m any) {
	t.Helper()
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.FromSlash(path), append(data, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

func gate(t *testing.T, what string) {
	if os.Getenv("LEASESIM_MEASURE") != what {
		t.Skip("a measurement: set LEASESIM_MEASURE=" + what + " to run it")
	}
}

// eventKey is the i-th event's key, as kube-apiserver names an event object
// (the same as the main module's calibrate.eventKey).
func eventKey(i int) string {
	return fmt.Sprintf("/registry/events/namespace-%04d/pod-%08d.%016x", i%1000, i, uint64(i)*0x9e3779b97f4a7c15)
}
