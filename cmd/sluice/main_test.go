package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sluiceproxy/sluice/resolver/dnstest"
)

func TestHelpDocumentsEveryFlag(t *testing.T) {
	var out bytes.Buffer
	if code := run([]string{"-h"}, &out, &out, nil); code != 0 {
		t.Fatalf("-h exit %d", code)
	}
	for _, f := range []string{"-listen", "-admin", "-dns", "-loops", "-log-level", "-rewrite-header", "-connect-timeout", "-idle-timeout", "-drain-timeout", "-connect-ports", "-config", "-check-config", "-access-log", "-version"} {
		if !strings.Contains(out.String(), f) {
			t.Errorf("-h does not document %s:\n%s", f, out.String())
		}
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-listen", "nonsense"},
		{"-dns", "dns.example:53"},
		{"-log-level", "loud"},
		{"-loops", "-1"},
		{"extra"},
	} {
		var out bytes.Buffer
		if code := run(args, &out, &out, nil); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, out.String())
		}
		if !strings.Contains(out.String(), "sluice:") {
			t.Errorf("%v: no clear error: %q", args, out.String())
		}
	}
}

// TestBinarySIGTERMDrains builds the real binary, proxies a request through
// it, sends SIGTERM while a slow request is in flight, and checks that the
// request completes and the process exits 0.
func TestBinarySIGTERMDrains(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	slow := make(chan struct{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	osrv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-slow
		}
		io.WriteString(w, "hello from origin")
	})}
	go osrv.Serve(ln)
	defer osrv.Close()
	port := ln.Addr().(*net.TCPAddr).Port

	dns := dnstest.New(t)
	dns.Set("origin.test", 60, "127.0.0.1")

	pl, _ := net.Listen("tcp", "127.0.0.1:0")
	proxyAddr := pl.Addr().String()
	pl.Close()
	cmd := exec.Command(bin, "-listen", proxyAddr, "-admin", "127.0.0.1:0", "-dns", dns.Addr(), "-log-level", "debug")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", proxyAddr)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("proxy never listened: %s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	pu, _ := url.Parse("http://" + proxyAddr)
	client := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(pu)}, Timeout: 10 * time.Second}
	resp, err := client.Get(fmt.Sprintf("http://origin.test:%d/", port))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "hello from origin" {
		t.Fatalf("through the binary: %q", b)
	}

	// A slow request in flight, then SIGTERM.
	c, err := net.Dial("tcp", proxyAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET http://origin.test:%d/slow HTTP/1.1\r\nHost: origin.test\r\n\r\n", port)
	time.Sleep(200 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if c2, err := net.DialTimeout("tcp", proxyAddr, time.Second); err == nil {
		// Accepted connections are closed at once while draining.
		c2.SetDeadline(time.Now().Add(2 * time.Second))
		if n, _ := c2.Read(make([]byte, 1)); n != 0 {
			t.Fatal("a new connection was served while draining")
		}
		c2.Close()
	}
	close(slow)
	r, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("in-flight request during drain: %v\n%s", err, stderr.String())
	}
	b, _ = io.ReadAll(r.Body)
	if string(b) != "hello from origin" || !r.Close {
		t.Fatalf("in-flight response %q close=%v", b, r.Close)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("did not exit after drain\n%s", stderr.String())
	}
	if !strings.Contains(stderr.String(), "draining") {
		t.Errorf("no drain log line:\n%s", stderr.String())
	}
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// buildBinary builds the sluice command once per test run.
func buildBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sluice-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "sluice")
		if out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// startBinary runs the binary with args plus a kernel-chosen listen address
// and returns that address; the process is killed at the end of the test.
func startBinary(t *testing.T, args ...string) (addr string, stderr *bytes.Buffer) {
	addr, stderr, _ = startBinaryCmd(t, args...)
	return addr, stderr
}

// pids maps the address of each binary started to its process id.
var pids sync.Map

func pidListening(t *testing.T, addr string) int {
	v, ok := pids.Load(addr)
	if !ok {
		t.Fatalf("no process for %s", addr)
	}
	return v.(int)
}

func startBinaryCmd(t *testing.T, args ...string) (addr string, stderr *bytes.Buffer, cmd *exec.Cmd) {
	t.Helper()
	pl, _ := net.Listen("tcp", "127.0.0.1:0")
	addr = pl.Addr().String()
	pl.Close()
	cmd = exec.Command(buildBinary(t), append(args, "-listen", addr, "-admin", "")...)
	stderr = &bytes.Buffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pids.Store(addr, cmd.Process.Pid)
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr, stderr, cmd
		}
		if time.Now().After(deadline) {
			t.Fatalf("proxy never listened: %s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestExampleConfigApplies runs the binary with examples/sluice.yaml: its
// policy (proxy auth, default deny) is in force.
func TestExampleConfigApplies(t *testing.T) {
	dns := dnstest.New(t)
	dns.Set("docs.partner.example", 60, "127.0.0.1")
	logPath := filepath.Join(t.TempDir(), "access.log")
	addr, stderr := startBinary(t, "-config", "../../examples/sluice.yaml", "-dns", dns.Addr(), "-access-log", logPath)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET http://docs.partner.example/ HTTP/1.1\r\nHost: docs.partner.example\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if resp.StatusCode != 407 || resp.Header.Get("Proxy-Authenticate") != `Basic realm="sluice"` {
		t.Fatalf("example config: %d %q", resp.StatusCode, resp.Header.Get("Proxy-Authenticate"))
	}
	// The access log gets the line (it flushes within 100 ms).
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ := os.ReadFile(logPath)
		if strings.Contains(string(b), `"status":407`) && strings.Contains(string(b), `"host":"docs.partner.example"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("access log: %q", b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSIGHUPReopensAccessLog: after logrotate renames the file, SIGHUP makes
// sluice write to a new one.
func TestSIGHUPReopensAccessLog(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "access.log")
	addr, stderr := startBinary(t, "-access-log", logPath, "-dns", "127.0.0.1:1")
	get := func() {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(c, "GET http://127.0.0.1:1/ HTTP/1.1\r\nHost: x\r\n\r\n")
		http.ReadResponse(bufio.NewReader(c), nil)
	}
	waitLines := func(path string, n int) {
		deadline := time.Now().Add(5 * time.Second)
		for {
			b, _ := os.ReadFile(path)
			if strings.Count(string(b), "\n") >= n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %q\n%s", path, b, stderr)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	get()
	waitLines(logPath, 1)
	os.Rename(logPath, logPath+".1")
	pid := pidListening(t, addr)
	syscall.Kill(pid, syscall.SIGHUP)
	time.Sleep(200 * time.Millisecond)
	get()
	waitLines(logPath, 1)
	waitLines(logPath+".1", 1)
}

func TestCheckConfig(t *testing.T) {
	var out bytes.Buffer
	if code := run([]string{"-check-config", "../../examples/sluice.yaml"}, &out, &out, nil); code != 0 {
		t.Fatalf("example config: exit %d: %s", code, out.String())
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("listen: 127.0.0.1:3128\ntimeouts:\n  connect: soon\n"), 0o644)
	out.Reset()
	if code := run([]string{"-check-config", bad}, &out, &out, nil); code != 1 || !strings.Contains(out.String(), ":3:") || !strings.Contains(out.String(), "timeouts.connect") {
		t.Fatalf("bad config: exit %d: %s", code, out.String())
	}
}

// TestConnectPortsFlag: -connect-ports replaces the default (443 only).
func TestConnectPortsFlag(t *testing.T) {
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	port := closed.Addr().(*net.TCPAddr).Port
	closed.Close()
	addr, _ := startBinary(t, "-connect-ports", fmt.Sprint(port), "-dns", "127.0.0.1:1")
	for _, tc := range []struct {
		target string
		status int
	}{{"127.0.0.1:443", 403}, {"127.0.0.1:22", 403}, {fmt.Sprintf("127.0.0.1:%d", port), 502}} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", tc.target, tc.target)
		resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: "CONNECT"})
		c.Close()
		if err != nil || resp.StatusCode != tc.status {
			t.Fatalf("CONNECT %s: %v %v", tc.target, err, resp)
		}
	}
}

// textOrigin is startOrigin's port.
func textOrigin(t *testing.T, body string) int {
	t.Helper()
	_, port, _ := net.SplitHostPort(startOrigin(t, body))
	n, _ := strconv.Atoi(port)
	return n
}
