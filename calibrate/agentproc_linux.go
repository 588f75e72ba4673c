package calibrate

import (
	"fmt"
	"os/exec"
	"strconv"
	"syscall"
)

// dieWithParent makes the kernel send the agent SIGKILL when the process
// that started it dies (PR_SET_PDEATHSIG).
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// setNice sets the calling thread's nice value to v (setpriority(2) with
// PRIO_PROCESS and who 0 acts on the calling thread on Linux).
func setNice(v string) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < -20 || n > 19 {
		return fmt.Errorf("nice %q: allowed a whole number from -20 to 19", v)
	}
	if err := syscall.Setpriority(syscall.PRIO_PROCESS, 0, n); err != nil {
		return fmt.Errorf("setting nice %d: %w", n, err)
	}
	return nil
}
