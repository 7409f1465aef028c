package deploy

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
)

// TestSidecarEndToEnd runs the sidecar as sidecar.yaml describes it, in a
// network namespace of its own: the init container's script with the init
// container's environment, then sluice as UID 65532 with the ConfigMap's
// config (one rule added, for the namespace's origin) and the container's
// arguments. An app's plain request to an allowed origin goes through
// sluice, one to any other host gets sluice's 403, the admin port answers on
// the "pod IP", and SIGTERM ends sluice with exit 0 within the grace period.
func TestSidecarEndToEnd(t *testing.T) {
	if os.Getenv("DEPLOY_IN_NETNS") == "" {
		runInNetns(t, "DEPLOY_SLUICE_BIN="+sluiceBinary(t)) // built here: the namespace has no network for modules
		return
	}
	objs := loadManifest(t, "kubernetes/sidecar.yaml")
	pod := &only[*appsv1.Deployment](t, objs).Spec.Template.Spec
	_, ipt := container(t, pod.InitContainers, "sluice-iptables")
	_, sc := container(t, pod.InitContainers, "sluice")
	raw, cfg := mountedConfig(t, objs, pod, sc)

	// Origins on the namespace's own addresses: one the policy allows, one
	// it does not name (default_action: deny).
	for _, addr := range []string{nsLocal + ":8080", nsExcluded + ":8080"} {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "origin "+addr)
		})}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
	}

	// sluice, as the sidecar runs it: its binary and config readable by
	// UID 65532, its arguments with the config's path moved.
	bin := sluiceBinary(t)
	dir, err := os.MkdirTemp("", "sluice-sidecar")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	for _, d := range []string{dir, filepath.Dir(bin)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	withRule := strings.Replace(raw, "\n  rules:\n", "\n  rules:\n    - name: e2e-origin\n      hosts: [\""+nsLocal+"\"]\n      action: allow\n", 1)
	if withRule == raw {
		t.Fatalf("the sidecar's config has no policy.rules to add the test's origin to:\n%s", raw)
	}
	cfgPath := filepath.Join(dir, "sluice.yaml")
	if err := os.WriteFile(cfgPath, []byte(withRule), 0o644); err != nil {
		t.Fatal(err)
	}
	args := slices.Clone(sc.Args)
	args[slices.Index(args, "-config")+1] = cfgPath
	cmd := exec.Command(bin, args...)
	uid := uint32(*sc.SecurityContext.RunAsUser)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var waitErr error
	exited := make(chan struct{})
	go func() { waitErr = cmd.Wait(); close(exited) }()
	// output is sluice's log and access log, read once it has exited (the
	// access log is written off the loop, and flushed at exit).
	output := func() string {
		cmd.Process.Kill()
		<-exited
		return out.String()
	}
	t.Cleanup(func() { cmd.Process.Kill() })

	// The init container's work, with its environment.
	script := exec.Command("bash", iptablesScript)
	script.Env = os.Environ()
	for _, e := range ipt.Env {
		script.Env = append(script.Env, e.Name+"="+e.Value)
	}
	if b, err := script.CombinedOutput(); err != nil {
		t.Fatalf("iptables.sh: %v\n%s", err, b)
	}

	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: nil}}
	get := func(url string) (int, string) {
		resp, err := client.Get(url)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	// The startupProbe's wait: /readyz on the admin port, by the "pod IP".
	admin := fmt.Sprintf("http://%s:%d", nsLocal, port(t, "admin", cfg.Admin))
	deadline := time.Now().Add(15 * time.Second)
	for {
		if code, _ := get(admin + "/readyz"); code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz not ready within 15s:\n%s", output())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, body := get(admin + "/livez"); code != http.StatusOK {
		t.Errorf("/livez: %d %s", code, body)
	}

	// The app: plain requests, no proxy settings, as root (not sluice's UID).
	if code, body := get("http://" + nsLocal + ":8080/"); code != http.StatusOK || body != "origin "+nsLocal+":8080" {
		t.Errorf("allowed origin: %d %q", code, body)
	}
	if code, body := get("http://" + nsExcluded + ":8080/"); code != http.StatusForbidden {
		t.Errorf("origin the policy does not allow: %d %q, want sluice's 403", code, body)
	}
	// Kubernetes stops the sidecar with SIGTERM and kills it at the end of
	// the grace period.
	cmd.Process.Signal(syscall.SIGTERM)
	grace := time.Duration(*pod.TerminationGracePeriodSeconds) * time.Second
	select {
	case <-exited:
		if waitErr != nil {
			t.Errorf("sluice after SIGTERM: %v\n%s", waitErr, output())
		}
	case <-time.After(grace):
		t.Errorf("sluice still running %v after SIGTERM:\n%s", grace, output())
	}
	log := output()
	if !strings.Contains(log, `"host":"`+nsLocal+`"`) || !strings.Contains(log, `"status":403`) {
		t.Errorf("the access log lacks the two requests:\n%s", log)
	}
	t.Logf("sluice's output:\n%s", log)
}
