package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluiceproxy/sluice/resolver/dnstest"
)

// netnsClientIP is the non-loopback client address inside the test's network
// namespace (TEST-NET-1, added to the namespace's own lo: an address that is
// not loopback, on an interface that reaches nowhere).
const netnsClientIP = "192.0.2.1"

// netnsRemoteNet stands for remote servers inside the namespace: local to
// it (so a connection there stays inside), but not loopback. netnsRemoteIP
// is one of its addresses.
const (
	netnsRemoteNet  = "203.0.113.0/24"
	netnsRemoteIP   = "203.0.113.10"
	netnsRemoteNet6 = "2001:db8::/64" // the same for IPv6 (documentation prefix)
	netnsRemoteIP6  = "2001:db8::10"
)

// TestLoopbackDeniedToNetwork: when the policy admits clients that are not on
// loopback (a gateway), loopback destinations are denied to them (however
// spelled, and names resolving there) unless allow_addr_hosts names the host,
// while loopback clients (a sidecar's app) keep them. It runs in a network
// namespace of its own (unshare -n) whose lo also holds a non-loopback
// address, so no packet leaves the namespace.
func TestLoopbackDeniedToNetwork(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	if os.Getenv("SLUICE_IN_NETNS") == "" {
		runInNetns(t)
		return
	}
	// Inside the namespace.
	bin := os.Getenv("SLUICE_BIN")
	oport := textOrigin(t, "loopback service")
	dns := dnstest.New(t)
	dns.Set("local.test", 60, "127.0.0.1")
	dns.Set("allowed.test", 60, "127.0.0.1")

	dir := t.TempDir()
	cfg := filepath.Join(dir, "sluice.yaml")
	os.WriteFile(cfg, []byte(`policy:
  client_cidrs: [127.0.0.0/8, 192.0.2.0/24]
  allow_addr_hosts: [allowed.test]
`), 0o600)
	pl, _ := net.Listen("tcp", "0.0.0.0:0")
	pport := pl.Addr().(*net.TCPAddr).Port
	pl.Close()
	cmd := exec.Command(bin, "-config", cfg, "-listen", fmt.Sprintf("0.0.0.0:%d", pport), "-admin", "",
		"-dns", dns.Addr(), "-access-log", "")
	proxy := fmt.Sprintf("127.0.0.1:%d", pport)
	stderr := startListening(t, cmd, proxy)

	get := func(from, target string) int {
		d := net.Dialer{Timeout: 2 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
		c, err := d.Dial("tcp", net.JoinHostPort(from, fmt.Sprint(pport)))
		if err != nil {
			t.Fatalf("dial from %s: %v", from, err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(c, "GET http://%s/ HTTP/1.1\r\nHost: x\r\n\r\n", target)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("from %s to %s: %v\n%s", from, target, err, stderr.String())
		}
		return resp.StatusCode
	}
	for _, tc := range []struct {
		from, target string
		status       int
	}{
		{"127.0.0.1", fmt.Sprintf("127.0.0.1:%d", oport), 200},
		{"127.0.0.2", fmt.Sprintf("local.test:%d", oport), 200},
		{netnsClientIP, fmt.Sprintf("127.0.0.1:%d", oport), 403},
		{netnsClientIP, fmt.Sprintf("[::ffff:127.0.0.1]:%d", oport), 403},
		{netnsClientIP, fmt.Sprintf("[::1]:%d", oport), 403},
		{netnsClientIP, fmt.Sprintf("local.test:%d", oport), 403},
		{netnsClientIP, fmt.Sprintf("allowed.test:%d", oport), 200},
	} {
		if got := get(tc.from, tc.target); got != tc.status {
			t.Errorf("client %s -> %s: %d, want %d", tc.from, tc.target, got, tc.status)
		}
	}
}

// runInNetns runs the calling test again inside a new network namespace with
// loopback up and netnsClientIP on it.
func runInNetns(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a network namespace")
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("unshare (util-linux) not installed")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("ip (iproute2) not installed")
	}
	bin := buildBinary(t)
	// 203.0.113.0/24 (TEST-NET-3) is local to the namespace too: the
	// transparent test's client connects there, and iptables redirects it.
	script := `set -e
ip link set lo up
ip addr add ` + netnsClientIP + `/32 dev lo
ip route add local ` + netnsRemoteNet + ` dev lo
ip -6 route add local ` + netnsRemoteNet6 + ` dev lo 2>/dev/null || true
exec "$@"`
	cmd := exec.Command(unshare, "-n", "sh", "-c", script, "sh", os.Args[0],
		"-test.run", "^"+t.Name()+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "SLUICE_IN_NETNS=1", "SLUICE_BIN="+bin)
	out, err := cmd.CombinedOutput()
	if bytes.Contains(out, []byte("unshare failed")) || bytes.Contains(out, []byte("Operation not permitted")) {
		t.Skipf("the kernel refuses a network namespace here:\n%s", out)
	}
	if err != nil {
		t.Fatalf("in the namespace: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("--- PASS: "+t.Name())) {
		t.Fatalf("the test did not pass in the namespace:\n%s", out)
	}
	t.Logf("ran in a network namespace of its own:\n%s", out)
}
