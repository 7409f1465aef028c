package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Set at link time by `make build`:
//
//	go build -ldflags "-X main.version=$(git describe --always --dirty) -X main.commit=$(git rev-parse --short HEAD)"
//
// Empty (a plain go build or go install) means: ask the build info.
var (
	version string
	commit  string
)

// buildVersion returns the version and commit sluice was built from: those
// stamped at link time, else what the Go toolchain recorded
// (debug.ReadBuildInfo: the module version of `go install ...@v1.2.3`, or
// the pseudo-version go build derives from the repository; vcs.revision,
// with "-dirty" when vcs.modified says the tree had uncommitted changes).
// What is known from neither is "devel" and "unknown".
func buildVersion() (ver, rev string) {
	ver, rev = version, commit
	if bi, ok := debug.ReadBuildInfo(); ok {
		if ver == "" && bi.Main.Version != "(devel)" {
			ver = bi.Main.Version
		}
		if rev == "" {
			rev = vcsRevision(bi)
		}
	}
	if ver == "" {
		ver = "devel"
	}
	if rev == "" {
		rev = "unknown"
	}
	return ver, rev
}

// vcsRevision is the commit in bi's VCS settings, shortened to 12 digits
// and marked "-dirty" for a modified tree; "" if go build stamped none
// (-buildvcs=false, no git, no repository).
func vcsRevision(bi *debug.BuildInfo) string {
	var rev string
	var modified bool
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
			if len(rev) > 12 {
				rev = rev[:12]
			}
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if rev != "" && modified {
		rev += "-dirty"
	}
	return rev
}

// versionLine is what -version prints: "sluice VERSION commit COMMIT
// GOVERSION GOOS/GOARCH".
func versionLine() string {
	ver, rev := buildVersion()
	return fmt.Sprintf("sluice %s commit %s %s %s/%s", ver, rev, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
