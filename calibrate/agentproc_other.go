//go:build !linux

package calibrate

import "os/exec"

// dieWithParent: only Linux can tie a child's life to its parent's; the agent
// still exits when its standard input (the parent's pipe) closes.
func dieWithParent(cmd *exec.Cmd) {}
