package main

import (
	"github.com/dustin/go-humanize"
	"github.com/prometheus/procfs"

	"github.com/leasesim/leasesim/spec"
)

// memoryShare is how much of the memory the kernel says is available a
// command may plan to use: the rest is for the estimate's error and the
// machine's other work.
const memoryShare = 0.8

// availableMemory is /proc/meminfo's MemAvailable, or 0 where unknown.
var availableMemory = func() uint64 {
	fs, err := procfs.NewDefaultFS()
	if err != nil {
		return 0
	}
	mi, err := fs.Meminfo()
	if err != nil || mi.MemAvailable == nil {
		return 0
	}
	return *mi.MemAvailable << 10
}

// checkMemory estimates the largest of specs' runs (spec.Resolved.Estimate),
// times the runs that go side by side, against the machine's available
// memory, and refuses a plan that does not fit, naming what to change (hint,
// or --force) instead of letting the kernel's OOM killer end it with every
// result lost.
func checkMemory(specs []spec.Spec, parallel int, force bool, hint string) error {
	var worst spec.Estimate
	for _, s := range specs {
		r, err := s.Resolve()
		if err != nil {
			return usagef("%v", err)
		}
		if e := r.Estimate(); e.Bytes > worst.Bytes {
			worst = e
		}
	}
	need := worst.Bytes * uint64(max(1, parallel))
	avail := availableMemory()
	if force || avail == 0 || float64(need) <= memoryShare*float64(avail) {
		return nil
	}
	return usagef("this needs about %s of memory (%d run(s) side by side, each %v) and the machine has %s available: "+
		"use %s to make it smaller, or --force to run anyway", humanize.IBytes(need), max(1, parallel), worst, humanize.IBytes(avail), hint)
}

// interrupted is the error of a command stopped by SIGINT or SIGTERM (exit 130).
type interruptedError struct{ what string }

func (e interruptedError) Error() string { return "interrupted: " + e.what }

func interrupted(what string) error { return interruptedError{what} }
