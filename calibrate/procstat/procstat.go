// Package procstat reads the few Linux /proc files the calibration harness
// needs to measure a real etcd cluster from the outside: the CPU time of a
// process (/proc/PID/stat), the TCP socket table (/proc/net/tcp and
// /proc/net/tcp6) and the kernel's TCP counters (/proc/net/snmp).
//
// Every file has a pure parser (ParseStat, ParseNetTCP, ParseSNMP) that takes
// the file's bytes, and a reader method on FS that finds the file under a
// configurable root, so that tests can point FS at fixture directories
// instead of the live /proc.
//
// ProcessCPU reads through prometheus/procfs. The socket table and the TCP
// counters keep their own parsers, because procfs lacks what they need:
// its NetTCP decodes addresses as little-endian whatever the host (these
// parsers use the host's byte order, tested both ways) and reports errors
// without line or column; its Snmp is per process only and holds counters
// as float64, inexact above 2^53 (the kernel's are 64-bit).
//
// Field positions follow the kernel's own documentation:
// Documentation/filesystems/proc.rst (Table 1-4 for /proc/PID/stat),
// Documentation/networking/proc_net_tcp.rst (for /proc/net/tcp{,6}) and
// proc(5) (split into proc_pid_stat(5) and friends in man-pages 6.x).
package procstat

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/prometheus/procfs"
)

// FS is a proc filesystem mounted at Root. The zero value reads the live
// /proc. The harness and the cluster it measures share a network namespace,
// so the socket table and TCP counters it reads are the cluster's too.
type FS struct {
	// Root is the mount point; "" means "/proc".
	Root string
}

func (fsys FS) path(elem ...string) string {
	root := fsys.Root
	if root == "" {
		root = "/proc"
	}
	return filepath.Join(append([]string{root}, elem...)...)
}

// ProcessCPU returns the user and system CPU time consumed so far by process
// pid, all of its threads included. pid 0 means the calling process
// ("/proc/self", a symbolic link to its pid's directory).
//
// It reads /proc/PID/stat with prometheus/procfs (ProcStat's UTime and
// STime, in USER_HZ ticks); ParseStat is the same reading for callers that
// hold the file's bytes, and a test checks that the two agree.
func (fsys FS) ProcessCPU(pid int) (CPUTimes, error) {
	if pid < 0 {
		return CPUTimes{}, fmt.Errorf("procstat: invalid pid %d", pid)
	}
	pfs, err := procfs.NewFS(fsys.path())
	if err != nil {
		return CPUTimes{}, fmt.Errorf("procstat: %w", err)
	}
	var proc procfs.Proc
	if pid == 0 {
		proc, err = pfs.Self()
	} else {
		proc, err = pfs.Proc(pid)
	}
	if err != nil {
		return CPUTimes{}, fmt.Errorf("procstat: %w", err)
	}
	st, err := proc.Stat()
	if err != nil {
		return CPUTimes{}, fmt.Errorf("%s: %w", fsys.path(strconv.Itoa(proc.PID), "stat"), err)
	}
	return CPUTimes{User: time.Duration(st.UTime) * tick, System: time.Duration(st.STime) * tick}, nil
}

// Sockets returns every TCP socket in the network namespace: the IPv4 table
// followed by the IPv6 one. A kernel built or booted without IPv6 has no
// net/tcp6, which is not an error.
//
// The kernel renders these files a page at a time, so a read is not an atomic
// snapshot: a socket that changes state while the file is being read can be
// missed or listed twice. Callers that count connections should tolerate
// that (ConnTracker does, by keying on the connection).
func (fsys FS) Sockets() ([]Socket, error) {
	var all []Socket
	for _, name := range []string{"tcp", "tcp6"} {
		p := fsys.path("net", name)
		data, err := os.ReadFile(p)
		if name == "tcp6" && errors.Is(err, fs.ErrNotExist) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("procstat: %w", err)
		}
		socks, err := ParseNetTCP(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		all = append(all, socks...)
	}
	return all, nil
}

// SNMP returns the namespace-wide TCP counters from net/snmp.
func (fsys FS) SNMP() (TCPCounters, error) {
	p := fsys.path("net", "snmp")
	data, err := os.ReadFile(p)
	if err != nil {
		return TCPCounters{}, fmt.Errorf("procstat: %w", err)
	}
	c, err := ParseSNMP(data)
	if err != nil {
		return TCPCounters{}, fmt.Errorf("%s: %w", p, err)
	}
	return c, nil
}
