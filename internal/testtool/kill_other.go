//go:build !linux

package testtool

import "os/exec"

// killWithParent does nothing here: only Linux has PR_SET_PDEATHSIG.
func killWithParent(*exec.Cmd) {}
