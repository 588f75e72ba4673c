package calibrate

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the kernel send the agent SIGKILL when the process
// that started it dies (PR_SET_PDEATHSIG).
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
