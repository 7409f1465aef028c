package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluiceproxy/sluice/internal/testtool"
	"github.com/sluiceproxy/sluice/resolver/dnstest"
)

// dualStackOrigin serves body on [::1]:P and 127.0.0.1:P, one port for
// both, and returns P.
func dualStackOrigin(t *testing.T, body string) int {
	t.Helper()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, body) })
	for range 20 {
		ln6, err := net.Listen("tcp6", "[::1]:0")
		if err != nil {
			t.Skipf("no IPv6 loopback here: %v", err)
		}
		port := ln6.Addr().(*net.TCPAddr).Port
		ln4, err := net.Listen("tcp4", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			ln6.Close()
			continue
		}
		for _, ln := range []net.Listener{ln6, ln4} {
			srv := &http.Server{Handler: h}
			go srv.Serve(ln)
			t.Cleanup(func() { srv.Close() })
		}
		return port
	}
	t.Fatal("no port free on both ::1 and 127.0.0.1")
	return 0
}

// TestHappyEyeballs: with resolver.family all, a name with an IPv6 and an
// IPv4 address is reached
// over IPv6 while IPv6 works; when IPv6 packets vanish (an ip6tables DROP
// rule, in a network namespace of the test's own), over IPv4 after the
// connection attempt delay (250 ms), not after the 5 s connect timeout.
func TestHappyEyeballs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	if os.Getenv("SLUICE_IN_NETNS") == "" {
		testtool.Require(t, "ip6tables", "iptables")
		runInNetns(t)
		return
	}
	ip6tables := testtool.Require(t, "ip6tables", "iptables")
	bin := os.Getenv("SLUICE_BIN")
	good := dualStackOrigin(t, "good")
	dropped := dualStackOrigin(t, "dropped")
	dns := dnstest.New(t)
	dns.Set("he.test", 60, "::1", "127.0.0.1")
	if out, err := exec.Command(ip6tables, "-A", "OUTPUT", "-p", "tcp", "-d", "::1", "--dport", fmt.Sprint(dropped), "-j", "DROP").CombinedOutput(); err != nil {
		t.Skipf("ip6tables refuses rules here (%v): %s", err, out)
	}
	dir := t.TempDir()
	logPath := filepath.Join(dir, "access.log")
	cfg := filepath.Join(dir, "sluice.yaml")
	// Both families' addresses (the default, auto, takes IPv6 alone).
	os.WriteFile(cfg, []byte("resolver:\n  family: all\n"), 0o644)
	pport := freePort(t)
	stderr := startListening(t, exec.Command(bin, "-config", cfg, "-listen", fmt.Sprintf("127.0.0.1:%d", pport), "-admin", "", "-dns", dns.Addr(), "-access-log", logPath),
		fmt.Sprintf("127.0.0.1:%d", pport))
	pu, _ := url.Parse(fmt.Sprintf("http://127.0.0.1:%d", pport))
	c := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(pu)}, Timeout: 10 * time.Second}
	get := func(port int) (string, time.Duration) {
		start := time.Now()
		resp, err := c.Get(fmt.Sprintf("http://he.test:%d/", port))
		if err != nil {
			t.Fatalf("%v\n%s", err, stderr.String())
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return string(b), time.Since(start)
	}
	if body, _ := get(good); body != "good" {
		t.Fatalf("good: %q", body)
	}
	body, took := get(dropped)
	if body != "dropped" || took < 200*time.Millisecond || took > 3*time.Second {
		t.Fatalf("IPv6 dropped: %q after %v (want the IPv4 answer after about 250 ms)", body, took)
	}
	want := []string{
		fmt.Sprintf(`"upstream":"[::1]:%d"`, good),
		fmt.Sprintf(`"upstream":"127.0.0.1:%d"`, dropped),
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ := os.ReadFile(logPath)
		if strings.Contains(string(b), want[0]) && strings.Contains(string(b), want[1]) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("access log without %v:\n%s", want, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
