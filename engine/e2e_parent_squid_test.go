package engine

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluiceproxy/sluice/internal/testtool"
)

// startSquid runs Squid (Debian's package, installed when missing) on a
// loopback port as a plain forward proxy that resolves names from hosts
// (lines of the hosts file), and returns its address.
func startSquid(t *testing.T, hosts string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("starts Squid")
	}
	squid := testtool.Require(t, "squid", "squid")
	dir, err := os.MkdirTemp("", "sluice-squid")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o777) // Squid drops to its own user
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	os.WriteFile(filepath.Join(dir, "hosts"), []byte(hosts), 0o644)
	conf := filepath.Join(dir, "squid.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf(`http_port 127.0.0.1:%d
workers 1
pid_filename %[2]s/squid.pid
cache_log %[2]s/cache.log
access_log none
cache_store_log none
coredump_dir %[2]s
shutdown_lifetime 0 seconds
cache deny all
cache_mem 0 MB
acl localnet src 127.0.0.0/8
http_access allow localnet
http_access deny all
hosts_file %[2]s/hosts
dns_nameservers 127.0.0.1
pinger_enable off
`, port, dir)), 0o644)
	cmd := exec.Command(squid, "-N", "-f", conf)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "cache.log"))
			t.Fatalf("Squid did not listen on %s:\n%s", addr, log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestParentSquid: sluice chained to Squid, for HTTP and CONNECT. far.test
// is known to Squid's hosts file only.
func TestParentSquid(t *testing.T) { forEngines(t, testParentSquid) }

func testParentSquid(t *testing.T) {
	parent := startSquid(t, "127.0.0.1 far.test\n")
	e := viaEnv(t, "http://"+parent)
	far := fmt.Sprintf("far.test:%d", e.origin.port)
	resp, err := e.client.Get("http://" + far + "/head")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(string(b), "host="+far+" via=1.1 sluice, 1.1 ") || !strings.Contains(string(b), "squid") {
		t.Fatalf("through Squid: %d %q", resp.StatusCode, b)
	}
	c, br := e.raw()
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", far, far)
	if resp, err := http.ReadResponse(br, &http.Request{Method: "CONNECT"}); err != nil || resp.StatusCode != 200 {
		t.Fatalf("chained CONNECT through Squid: %v %v", resp, err)
	}
	fmt.Fprintf(c, "GET /small HTTP/1.1\r\nHost: %s\r\n\r\n", far)
	if resp, body := readResponse(t, br, "GET"); resp.StatusCode != 200 || len(body) != 100 {
		t.Fatalf("inside the tunnel through Squid: %d, %d bytes", resp.StatusCode, len(body))
	}
}
