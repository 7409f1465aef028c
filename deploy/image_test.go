package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// iptablesInImage is where the sluice-iptables image keeps deploy/iptables.sh
// (the Dockerfile's COPY), which the sidecar's init container runs.
const iptablesInImage = "/usr/local/bin/sluice-iptables"

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd, args string
	stage     string // the stage it belongs to (FROM ... AS stage)
}

func dockerfile(t *testing.T) []instruction {
	t.Helper()
	data, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var out []instruction
	var cur strings.Builder
	stage := ""
	for line := range strings.Lines(string(data)) {
		line = strings.TrimSpace(line)
		if cur.Len() == 0 && (line == "" || line[0] == '#') {
			continue
		}
		if strings.HasPrefix(line, "#") { // a comment inside a continued instruction
			continue
		}
		if s, ok := strings.CutSuffix(line, "\\"); ok {
			cur.WriteString(s)
			cur.WriteString(" ")
			continue
		}
		cur.WriteString(line)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		cur.Reset()
		cmd = strings.ToUpper(cmd)
		if cmd == "FROM" {
			f := strings.Fields(args)
			stage = ""
			if len(f) >= 2 && strings.EqualFold(f[len(f)-2], "AS") {
				stage = f[len(f)-1]
			}
		}
		out = append(out, instruction{cmd, strings.Join(strings.Fields(args), " "), stage})
	}
	return out
}

// TestDockerfile: a static, version-stamped binary from a golang:1.26
// builder, in a shell-less final image as UID 65532, with the ports and the
// entrypoint the manifests expect.
func TestDockerfile(t *testing.T) {
	ins := dockerfile(t)
	var froms []instruction
	for _, in := range ins {
		if in.cmd == "FROM" {
			froms = append(froms, in)
		}
	}
	if len(froms) < 2 {
		t.Fatalf("%d stages: want a builder and a final image", len(froms))
	}
	if !strings.Contains(froms[0].args, "golang:1.26") {
		t.Errorf("builder FROM %s: want golang:1.26", froms[0].args)
	}
	final := froms[len(froms)-1]
	if !strings.Contains(final.args, "distroless/static") && !strings.HasPrefix(final.args, "scratch") {
		t.Errorf("final FROM %s: want distroless/static or scratch (no shell, no libc)", final.args)
	}
	in := func(stage, cmd string) []string {
		var args []string
		for _, i := range ins {
			if i.stage == stage && i.cmd == cmd {
				args = append(args, i.args)
			}
		}
		return args
	}

	// The build: static, stamped like `make build`, from build arguments.
	var build string
	for _, run := range in(froms[0].stage, "RUN") {
		if strings.Contains(run, "go build") {
			build = run
		}
	}
	for _, want := range []string{"CGO_ENABLED=0", "-X main.version=$VERSION", "-X main.commit=$COMMIT", "./cmd/sluice"} {
		if !strings.Contains(build, want) {
			t.Errorf("the go build step lacks %q: %s", want, build)
		}
	}
	for _, arg := range []string{"VERSION", "COMMIT"} {
		if !slices.ContainsFunc(in(froms[0].stage, "ARG"), func(a string) bool { return a == arg || strings.HasPrefix(a, arg+"=") }) {
			t.Errorf("no ARG %s in the build stage", arg)
		}
	}
	// What the -X flags set must exist, and `make build` must set the same.
	version, _ := os.ReadFile("../cmd/sluice/version.go")
	makefile, _ := os.ReadFile("../Makefile")
	for _, v := range []string{"version", "commit"} {
		if !regexp.MustCompile(`(?m)^\s+` + v + `\s+string`).Match(version) {
			t.Errorf("cmd/sluice/version.go declares no %s string: -X main.%s sets nothing", v, v)
		}
		if !strings.Contains(string(makefile), "-X main."+v+"=") {
			t.Errorf("the Makefile's build no longer stamps main.%s: the image and make build disagree", v)
		}
	}

	// The final image.
	fs := final.stage
	if got := in(fs, "USER"); !slices.Equal(got, []string{"65532:65532"}) {
		t.Errorf("final USER %q, want [65532:65532] (numeric: runAsNonRoot checks it)", got)
	}
	if got := strings.Join(in(fs, "EXPOSE"), " "); !strings.Contains(got, "3128") || !strings.Contains(got, "9901") {
		t.Errorf("final EXPOSE %q, want 3128 and 9901", got)
	}
	if got := in(fs, "ENTRYPOINT"); !slices.Equal(got, []string{`["/usr/local/bin/sluice"]`}) {
		t.Errorf("final ENTRYPOINT %q, want the binary, exec form", got)
	}
	if !slices.ContainsFunc(in(fs, "COPY"), func(a string) bool { return strings.HasPrefix(a, "--from="+froms[0].stage+" ") }) {
		t.Errorf("the final stage copies nothing from the builder")
	}
	if runs := in(fs, "RUN"); len(runs) > 0 {
		t.Errorf("RUN in the final stage %q: it has no shell", runs)
	}

	// The init container's image runs deploy/iptables.sh.
	if !slices.Contains(in("iptables", "COPY"), "deploy/iptables.sh "+iptablesInImage) {
		t.Errorf("no stage iptables with COPY deploy/iptables.sh %s", iptablesInImage)
	}
}

// TestDockerignore: the context leaves out what the build does not need and
// keeps what it does.
func TestDockerignore(t *testing.T) {
	data, err := os.ReadFile("../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for line := range strings.Lines(string(data)) {
		if line = strings.TrimSpace(line); line != "" && line[0] != '#' {
			patterns = append(patterns, line)
		}
	}
	for _, p := range []string{".git", "bin"} {
		if !slices.Contains(patterns, p) {
			t.Errorf(".dockerignore does not exclude %s", p)
		}
	}
	if !slices.Contains(patterns, "!deploy/iptables.sh") {
		t.Errorf(".dockerignore must keep deploy/iptables.sh (the iptables stage copies it)")
	}
	// Every package the binary is built from stays in the context.
	out, err := exec.Command("go", "-C", "..", "list", "-deps", "-f", "{{if not .Standard}}{{.Dir}}{{end}}", "./cmd/sluice").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	root, _ := filepath.Abs("..")
	for _, dir := range strings.Fields(string(out)) {
		rel, err := filepath.Rel(root, dir)
		if err != nil || strings.HasPrefix(rel, "..") {
			continue // a module dependency, downloaded in the build
		}
		for _, p := range patterns {
			if p[0] == '!' || strings.Contains(p, "*") {
				continue
			}
			if rel == p || strings.HasPrefix(rel, p+"/") {
				t.Errorf(".dockerignore's %s leaves out %s, which cmd/sluice needs", p, rel)
			}
		}
	}
	for _, f := range []string{"go.mod", "go.sum"} {
		if slices.Contains(patterns, f) {
			t.Errorf(".dockerignore excludes %s", f)
		}
	}
}

// fakeBuilder writes an executable NAME into dir that logs its arguments to
// dir/NAME.log and answers `info` with status infoStatus.
func fakeBuilder(t *testing.T, dir, name string, infoStatus int) {
	t.Helper()
	script := "#!/bin/sh\necho \"$*\" >> \"" + filepath.Join(dir, name+".log") + "\"\n" +
		"if [ \"$1\" = info ]; then echo 'Cannot connect to the daemon' >&2; exit " + strconv.Itoa(infoStatus) + "; fi\n"
	if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
}

func runImageScript(t *testing.T, dir string, env ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("bash", "image.sh")
	cmd.Env = append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"))
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestImageScript: make image's script picks a builder that works, builds
// both images with the version stamped, and fails with a reason when none
// works.
func TestImageScript(t *testing.T) {
	t.Run("no builder works", func(t *testing.T) {
		dir := t.TempDir()
		fakeBuilder(t, dir, "docker", 1) // a client without a daemon
		out, err := runImageScript(t, dir, "IMAGE_BUILDER=docker nosuchbuilder")
		if err == nil {
			t.Fatalf("exit 0 without a builder:\n%s", out)
		}
		for _, want := range []string{"no container builder works", "docker: installed, but `docker info` fails: Cannot connect", "nosuchbuilder: not installed"} {
			if !strings.Contains(out, want) {
				t.Errorf("the message lacks %q:\n%s", want, out)
			}
		}
	})
	t.Run("builds both images", func(t *testing.T) {
		dir := t.TempDir()
		fakeBuilder(t, dir, "docker", 1)
		fakeBuilder(t, dir, "podman", 0)
		out, err := runImageScript(t, dir, "IMAGE_BUILDER=docker podman", "IMAGE=registry.test/sluice", "IMAGE_TAG=v1",
			"VERSION=v1.2.3", "COMMIT=abc1234")
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		log, _ := os.ReadFile(filepath.Join(dir, "podman.log"))
		want := "info\n" +
			"build --target sluice -t registry.test/sluice:v1 --build-arg VERSION=v1.2.3 --build-arg COMMIT=abc1234 -f Dockerfile .\n" +
			"build --target iptables -t registry.test/sluice-iptables:v1 --build-arg VERSION=v1.2.3 --build-arg COMMIT=abc1234 -f Dockerfile .\n"
		if string(log) != want {
			t.Errorf("podman ran:\n%s\nwant:\n%s", log, want)
		}
	})
}
