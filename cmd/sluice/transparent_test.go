package main

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluiceproxy/sluice/internal/testcert"
	"github.com/sluiceproxy/sluice/internal/testtool"
	"github.com/sluiceproxy/sluice/resolver/dnstest"
)

// sluiceUID is the user sluice runs as in the transparent test: the
// iptables rules exempt its connections from the redirect, as deploy/
// does for the sidecar.
const sluiceUID = 65532

// TestTransparent: in a network namespace of its own, iptables redirects
// every outbound TCP connection to sluice's transparent listener, except
// sluice's own (by UID) and loopback destinations. curl, with no proxy
// settings, reaches an HTTP origin and an HTTPS origin by name through
// sluice; a host the policy denies gets 403 over HTTP and a closed
// connection over TLS; the access log records all four.
func TestTransparent(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	if os.Getenv("SLUICE_IN_NETNS") == "" {
		// Before entering the namespace: the tools it needs.
		testtool.Require(t, "iptables", "iptables")
		testtool.Require(t, "curl", "curl")
		runInNetns(t)
		return
	}
	iptables := testtool.Require(t, "iptables", "iptables")
	curl := testtool.Require(t, "curl", "curl")
	bin := os.Getenv("SLUICE_BIN")
	// sluice runs as another user: its binary and files must be reachable.
	if err := os.Chmod(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	oport := textOrigin(t, "plain origin")
	ca := testcert.NewCA(t)
	tlsPort := tlsOrigin(t, ca, "origin.test", "tls origin")
	dns := dnstest.New(t)
	dns.Set("origin.test", 60, "127.0.0.1")
	dns.Set("denied.test", 60, "127.0.0.1")

	// Not t.TempDir: its parent is private to root, and sluice is not root.
	dir, err := os.MkdirTemp("", "sluice-transparent")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o777)
	caFile := filepath.Join(dir, "ca.pem")
	os.WriteFile(caFile, ca.PEM(), 0o644)
	logPath := filepath.Join(dir, "access.log")
	tport := freePort(t)
	cfg := filepath.Join(dir, "sluice.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`transparent_listen: ":%d"
policy:
  client_cidrs: [127.0.0.0/8, "::1/128", %s, %q]
  connect_ports: "*"
  allow_addr_hosts: [origin.test]
  rules:
    - name: no-denied
      hosts: [denied.test]
      action: deny
`, tport, netnsRemoteNet, netnsRemoteNet6)), 0o644)
	pport := freePort(t)
	cmd := exec.Command(bin, "-config", cfg, "-listen", fmt.Sprintf("127.0.0.1:%d", pport), "-admin", "",
		"-dns", dns.Addr(), "-access-log", logPath)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: sluiceUID, Gid: sluiceUID}}
	stderr := startListening(t, cmd, fmt.Sprintf("127.0.0.1:%d", pport))

	// The sidecar's rules (deploy/iptables.sh): sluice's own connections
	// and loopback destinations go out as they are, the rest to sluice.
	if err := redirectRules(iptables, "127.0.0.0/8", tport); err != nil {
		t.Skipf("iptables refuses nat rules here: %v", err)
	}
	// The same for IPv6, where the kernel has it (IP6T_SO_ORIGINAL_DST).
	ipv6 := false
	if ip6tables, why := testtool.Find(t, "ip6tables", "iptables"); ip6tables == "" {
		t.Logf("no IPv6 part: %s", why)
	} else if err := redirectRules(ip6tables, "::1/128", tport); err != nil {
		t.Logf("no IPv6 part: ip6tables refuses nat rules here: %v", err)
	} else {
		ipv6 = true
	}

	run := func(args ...string) (string, error) {
		c := exec.Command(curl, append([]string{"-sS", "-m", "5"}, args...)...)
		c.Env = []string{"PATH=/usr/bin:/bin"} // no proxy settings of any kind
		out, err := c.CombinedOutput()
		return string(out), err
	}
	resolve := func(host string, port int) string {
		return fmt.Sprintf("%s:%d:%s", host, port, netnsRemoteIP)
	}
	// HTTP: routed by Host.
	if out, err := run("--resolve", resolve("origin.test", oport), fmt.Sprintf("http://origin.test:%d/", oport)); err != nil || out != "plain origin" {
		t.Fatalf("http: %v %q\n%s", err, out, stderr.String())
	}
	// HTTPS: routed by SNI, verified end to end by curl against the CA.
	if out, err := run("--cacert", caFile, "--resolve", resolve("origin.test", tlsPort), fmt.Sprintf("https://origin.test:%d/", tlsPort)); err != nil || out != "tls origin" {
		t.Fatalf("https: %v %q\n%s", err, out, stderr.String())
	}
	if ipv6 {
		r6 := func(host string, port int) string { return fmt.Sprintf("%s:%d:[%s]", host, port, netnsRemoteIP6) }
		if out, err := run("--resolve", r6("origin.test", oport), fmt.Sprintf("http://origin.test:%d/", oport)); err != nil || out != "plain origin" {
			t.Fatalf("http over IPv6: %v %q\n%s", err, out, stderr.String())
		}
		if out, err := run("--cacert", caFile, "--resolve", r6("origin.test", tlsPort), fmt.Sprintf("https://origin.test:%d/", tlsPort)); err != nil || out != "tls origin" {
			t.Fatalf("https over IPv6: %v %q\n%s", err, out, stderr.String())
		}
	}
	// Denied: 403 over HTTP, the connection closed over TLS.
	if out, _ := run("-o", "/dev/null", "-w", "%{http_code}", "--resolve", resolve("denied.test", oport), fmt.Sprintf("http://denied.test:%d/", oport)); out != "403" {
		t.Fatalf("denied http: %q", out)
	}
	if out, err := run("--cacert", caFile, "--resolve", resolve("denied.test", tlsPort), fmt.Sprintf("https://denied.test:%d/", tlsPort)); err == nil {
		t.Fatalf("denied https reached something: %q", out)
	}
	// The access log has all four.
	want := []string{
		fmt.Sprintf(`"method":"GET","scheme":"","host":"origin.test","port":%d`, oport),
		fmt.Sprintf(`"method":"TLS","scheme":"","host":"origin.test","port":%d`, tlsPort),
		fmt.Sprintf(`"method":"GET","scheme":"","host":"denied.test","port":%d`, oport),
		fmt.Sprintf(`"method":"TLS","scheme":"","host":"denied.test","port":%d`, tlsPort),
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ := os.ReadFile(logPath)
		missing := ""
		for _, w := range want {
			if !strings.Contains(string(b), w) {
				missing = w
			}
		}
		tlsLine := lineWith(string(b), want[1])
		if missing == "" && strings.Contains(tlsLine, fmt.Sprintf(`"upstream":"127.0.0.1:%d"`, tlsPort)) &&
			!strings.Contains(tlsLine, `"bytes_in":0,`) && !strings.Contains(tlsLine, `"bytes_out":0,`) &&
			strings.Contains(lineWith(string(b), want[3]), `"rule":"no-denied"`) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("access log: missing %q or the tunnel's addresses and bytes:\n%s", missing, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// lineWith returns the first line of s that contains sub.
func lineWith(s, sub string) string {
	for line := range strings.SplitSeq(s, "\n") {
		if strings.Contains(line, sub) {
			return line
		}
	}
	return ""
}

// tlsOrigin serves body over TLS on 127.0.0.1 with a certificate for name
// issued by ca, and returns its port.
func tlsOrigin(t *testing.T, ca *testcert.CA, name, body string) int {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{ca.Leaf(t, name)}})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, body) })}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

// redirectRules appends the sidecar's redirect to the nat table with ipt
// (iptables or ip6tables): sluice's UID and loopback exempt, every other
// TCP connection to port.
func redirectRules(ipt, loopback string, port int) error {
	for _, rule := range [][]string{
		{"-p", "tcp", "-m", "owner", "--uid-owner", fmt.Sprint(sluiceUID), "-j", "RETURN"},
		{"-p", "tcp", "-d", loopback, "-j", "RETURN"},
		{"-p", "tcp", "-j", "REDIRECT", "--to-ports", fmt.Sprint(port)},
	} {
		args := append([]string{"-t", "nat", "-A", "OUTPUT"}, rule...)
		if out, err := exec.Command(ipt, args...).CombinedOutput(); err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
	}
	return nil
}
