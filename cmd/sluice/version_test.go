package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

// versionRE is -version's line: sluice VERSION commit COMMIT GOVERSION OS/ARCH.
var versionRE = regexp.MustCompile(`^sluice (\S+) commit (\S+) (go\S+) (\S+/\S+)\n$`)

// runVersion runs bin -version and returns its parts: version, commit.
func runVersion(t *testing.T, bin string) (ver, rev string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, "-version")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("-version: %v\n%s", err, stderr.Bytes())
	}
	if stderr.Len() != 0 {
		t.Errorf("-version wrote to stderr: %q", stderr.Bytes())
	}
	m := versionRE.FindStringSubmatch(stdout.String())
	if m == nil {
		t.Fatalf("-version printed %q, want one line %q", stdout.String(), versionRE)
	}
	if m[3] != runtime.Version() || m[4] != runtime.GOOS+"/"+runtime.GOARCH {
		t.Errorf("-version: Go %q %q, want %q %s/%s", m[3], m[4], runtime.Version(), runtime.GOOS, runtime.GOARCH)
	}
	return m[1], m[2]
}

// TestVersionFlag: the binary as go build makes it (no -ldflags) prints a
// commit from the build info, or says devel when there is none (GOFLAGS
// -buildvcs=false, no git, no repository), and exits 0.
func TestVersionFlag(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	ver, rev := runVersion(t, buildBinary(t))
	hexCommit := regexp.MustCompile(`^[0-9a-f]{7,12}(-dirty)?$`).MatchString(rev)
	if !hexCommit && !(ver == "devel" && rev == "unknown") {
		t.Errorf("-version: version %q commit %q: want a commit, or devel", ver, rev)
	}
	t.Logf("version %s commit %s", ver, rev)
}

// TestVersionMakeBuild runs the build command of the Makefile's build
// target (make -n build) into a temporary file: the binary says the
// version and commit git gives for the tree.
func TestVersionMakeBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	for _, tool := range []string{"make", "git", "sh"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s", tool)
		}
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	git := func(args ...string) string {
		out, err := exec.Command("git", append([]string{"-C", root}, args...)...).Output()
		if err != nil {
			t.Skipf("git %v: %v (not a repository?)", args, err)
		}
		return strings.TrimSpace(string(out))
	}
	wantVer, wantRev := git("describe", "--always", "--dirty"), git("rev-parse", "--short", "HEAD")

	out, err := exec.Command("make", "-s", "-n", "-C", root, "build", "GO=go").Output()
	if err != nil {
		t.Fatalf("make -n build: %v", err)
	}
	line := strings.TrimSpace(string(out))
	const target = " -o bin/sluice "
	if strings.Count(line, "\n") != 0 || !strings.Contains(line, target) {
		t.Fatalf("make -n build: %q, want one go build command with%q", line, target)
	}
	bin := filepath.Join(t.TempDir(), "sluice")
	build := exec.Command("sh", "-c", strings.Replace(line, target, " -o '"+bin+"' ", 1))
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", line, err, out)
	}
	ver, rev := runVersion(t, bin)
	// The tree may change between git describe and the build (another
	// writer): compare without the -dirty mark.
	if strings.TrimSuffix(ver, "-dirty") != strings.TrimSuffix(wantVer, "-dirty") || rev != wantRev {
		t.Errorf("make build: version %q commit %q, want %q %q", ver, rev, wantVer, wantRev)
	}
}

// TestVersionInProcess: -version exits 0 before reading any configuration,
// and writes to stdout.
func TestVersionInProcess(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-version", "-config", "/nonexistent.yaml"}, &stdout, &stderr, nil); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if !versionRE.MatchString(stdout.String()) || stderr.Len() != 0 {
		t.Errorf("stdout %q stderr %q", stdout.String(), stderr.String())
	}
}

// TestVersionBuildInfo: go build with VCS stamping (GOFLAGS may turn it
// off; -buildvcs=true turns it on) and no -ldflags: the commit comes from
// the build info's vcs.revision, shortened to 12 digits.
func TestVersionBuildInfo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("git rev-parse: %v (not a repository?)", err)
	}
	if top, err := exec.Command("git", "rev-parse", "--show-toplevel").Output(); err == nil {
		if fi, err := os.Stat(filepath.Join(strings.TrimSpace(string(top)), ".git")); err == nil && !fi.IsDir() {
			// go build finds no VCS information in a linked worktree (its
			// .git is a file), so there is nothing to stamp.
			t.Skip("a git worktree: go build stamps no VCS information in one")
		}
	}
	bin := filepath.Join(t.TempDir(), "sluice")
	if out, err := exec.Command("go", "build", "-buildvcs=true", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build -buildvcs=true: %v\n%s", err, out)
	}
	ver, rev := runVersion(t, bin)
	if want := string(head[:12]); strings.TrimSuffix(rev, "-dirty") != want || ver == "devel" {
		t.Errorf("version %q commit %q, want a module version and commit %s", ver, rev, want)
	}
}

func TestVCSRevision(t *testing.T) {
	set := func(kv ...string) *debug.BuildInfo {
		bi := &debug.BuildInfo{}
		for i := 0; i+1 < len(kv); i += 2 {
			bi.Settings = append(bi.Settings, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return bi
	}
	for _, tc := range []struct {
		name string
		bi   *debug.BuildInfo
		want string
	}{
		{"none", set(), ""},
		{"clean", set("vcs.revision", "ee298d47891fcdee4914adab0df79670bf9f5337", "vcs.modified", "false"), "ee298d47891f"},
		{"modified", set("vcs", "git", "vcs.revision", "ee298d47891fcdee4914adab0df79670bf9f5337", "vcs.modified", "true"), "ee298d47891f-dirty"},
		{"short", set("vcs.revision", "abc123"), "abc123"},
		{"modified without revision", set("vcs.modified", "true"), ""},
	} {
		if got := vcsRevision(tc.bi); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
