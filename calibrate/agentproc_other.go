//go:build !linux

package calibrate

import (
	"fmt"
	"os/exec"
)

// dieWithParent: only Linux can tie a child's life to its parent's; the agent
// still exits when its standard input (the parent's pipe) closes.
func dieWithParent(cmd *exec.Cmd) {}

// setNice: the busy loop's nice value is set on Linux only.
func setNice(v string) error { return fmt.Errorf("nice %s: only on Linux", v) }
