// Package testtool finds the programs end-to-end tests drive (curl,
// promtool, iptables), installing the Debian package that has one when it
// is missing and the machine allows it: a fresh CI machine has Go and
// little else, and the tests set up what they need themselves.
package testtool

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// installMu serialises installs within a test binary (dpkg takes one at a
// time anyway; its lock is waited for across processes).
var installMu sync.Mutex

// Find returns the path of program, installing the Debian package pkg when
// it is missing and this is a Debian-like system, the test runs as root and
// not with -short. Installing is bounded by a few minutes. It returns "" and
// why when there is no program.
func Find(t testing.TB, program, pkg string) (path, why string) {
	if p, err := lookPath(program); err == nil {
		return p, ""
	}
	aptGet, err := exec.LookPath("apt-get")
	switch {
	case testing.Short():
		return "", program + " is not installed, and -short does not install it"
	case runtime.GOOS != "linux" || err != nil:
		return "", program + " is not installed, and there is no apt-get to install it"
	case os.Geteuid() != 0:
		return "", program + " is not installed, and installing it needs root"
	}
	installMu.Lock()
	defer installMu.Unlock()
	if p, err := lookPath(program); err == nil {
		return p, "" // installed while this one waited
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	apt := func(args ...string) error {
		args = append([]string{"-o", "DPkg::Lock::Timeout=120"}, args...)
		cmd := exec.CommandContext(ctx, aptGet, args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		// On the deadline, ask apt-get to stop (SIGKILL could leave dpkg
		// half done), and kill it if it has not within 30s.
		cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
		cmd.WaitDelay = 30 * time.Second
		out, err := cmd.CombinedOutput()
		if err != nil {
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			return fmt.Errorf("apt-get %s: %v: %s", strings.Join(args[2:], " "), err,
				strings.Join(lines[max(len(lines)-3, 0):], " / "))
		}
		return nil
	}
	install := []string{"install", "-y", "--no-install-recommends", pkg}
	t.Logf("%s is missing: installing Debian's %s package", program, pkg)
	if err := apt(install...); err != nil {
		// Maybe the package lists are missing or stale.
		if err = apt("update"); err == nil {
			err = apt(install...)
		}
		if err != nil {
			return "", "installing " + pkg + " failed: " + err.Error()
		}
	}
	if p, err := lookPath(program); err == nil {
		return p, ""
	}
	return "", "the " + pkg + " package is installed, but has no " + program
}

// Require is Find, skipping the test (with why) when there is no program.
func Require(t testing.TB, program, pkg string) string {
	t.Helper()
	p, why := Find(t, program, pkg)
	if p == "" {
		t.Skip(why)
	}
	return p
}

// lookPath is exec.LookPath, also in the sbin directories a test's PATH may
// lack (iptables lives in /usr/sbin).
func lookPath(program string) (string, error) {
	if p, err := exec.LookPath(program); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin"} {
		p := dir + "/" + program
		if st, err := os.Stat(p); err == nil && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", exec.ErrNotFound
}
