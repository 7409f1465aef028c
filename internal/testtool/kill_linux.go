package testtool

import (
	"os/exec"
	"syscall"
)

// killWithParent has the kernel kill cmd's process when the test process
// dies (a panic on -timeout runs no Cleanup), so that no server outlives
// the test.
func killWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
