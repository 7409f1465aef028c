package main

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRestartBindsAtOnce: a sluice that closed client connections itself
// leaves them in TIME_WAIT on its listening ports; a sluice restarted on
// the same ports must bind them at once anyway. Both listeners are made by
// net.Listen, which sets SO_REUSEADDR on Linux (net/sockopt_linux.go,
// setDefaultListenerSockopts); this checks the outcome through the binary,
// for the proxy port and the admin port, and checks first that the
// TIME_WAIT entries are really there and would stop a listener without
// SO_REUSEADDR.
func TestRestartBindsAtOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	origin := startOrigin(t, "hello from origin")
	proxy := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	admin := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	args := []string{"-listen", proxy, "-admin", admin, "-dns", "127.0.0.1:1", "-access-log", ""}

	p := startProc(t, "", args...)
	p.waitListening(t, proxy, admin)
	// HTTP/1.0 without keep-alive: sluice, and net/http on the admin
	// listener, close the connection after the response.
	if resp := closedByPeer(t, proxy, proxyGet1_0(origin, "/")); !strings.HasSuffix(resp, "hello from origin") {
		t.Fatalf("through the proxy: %q", resp)
	}
	if resp := closedByPeer(t, admin, "GET /healthz HTTP/1.0\r\n\r\n"); !strings.HasSuffix(resp, "ok\n") {
		t.Fatalf("admin: %q", resp)
	}
	for _, addr := range []string{proxy, admin} {
		waitTimeWait(t, addr)
	}
	p.stop(t)

	// The condition is real: with the old process gone, a socket without
	// SO_REUSEADDR cannot bind either port.
	for _, addr := range []string{proxy, admin} {
		if err := bindWithoutReuseAddr(addr); !errors.Is(err, syscall.EADDRINUSE) {
			t.Fatalf("bind %s without SO_REUSEADDR: %v, want EADDRINUSE (is the TIME_WAIT gone?)", addr, err)
		}
	}

	p = startProc(t, "", args...)
	p.waitListening(t, proxy, admin)
	if strings.Contains(string(p.stderr.Bytes()), "address already in use") {
		t.Fatalf("restart:\n%s", p.stderr.Bytes())
	}
	if resp, body := exchange(t, proxy, proxyGet1_0(origin, "/")); resp.StatusCode != 200 || body != "hello from origin" {
		t.Fatalf("after restart, through the proxy: %d %q", resp.StatusCode, body)
	}
	if resp, body := exchange(t, admin, "GET /healthz HTTP/1.0\r\n\r\n"); resp.StatusCode != 200 || body != "ok\n" {
		t.Fatalf("after restart, admin: %d %q", resp.StatusCode, body)
	}
	p.stop(t)
}

// waitTimeWait waits until a TCP socket in TIME_WAIT has addr as its local
// address (/proc/net/tcp, /proc/net/tcp6: it takes the peer's last FIN to
// get there).
func waitTimeWait(t *testing.T, addr string) {
	t.Helper()
	ap, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !hasTimeWait(t, ap.Port) {
		if time.Now().After(deadline) {
			t.Fatalf("no TIME_WAIT socket on local port %d: the server did not close first", ap.Port)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// hasTimeWait reports whether a TCP socket in TIME_WAIT has local port port.
func hasTimeWait(t *testing.T, port int) bool {
	const timeWait = "06" // include/net/tcp_states.h: TCP_TIME_WAIT
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(file)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // the header
		for sc.Scan() {
			// sl local_address rem_address st ...; an address is HEXIP:HEXPORT.
			fields := strings.Fields(sc.Text())
			if len(fields) < 4 || fields[3] != timeWait {
				continue
			}
			_, hexPort, _ := strings.Cut(fields[1], ":")
			if p, err := strconv.ParseUint(hexPort, 16, 16); err == nil && int(p) == port {
				f.Close()
				return true
			}
		}
		f.Close()
	}
	return false
}

// bindWithoutReuseAddr binds a TCP socket to the IPv4 address addr without
// SO_REUSEADDR, listens, and closes it; it returns the error of bind(2).
func bindWithoutReuseAddr(addr string) error {
	ap, err := net.ResolveTCPAddr("tcp4", addr)
	if err != nil {
		return err
	}
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	sa := &syscall.SockaddrInet4{Port: ap.Port}
	copy(sa.Addr[:], ap.IP.To4())
	if err := syscall.Bind(fd, sa); err != nil {
		return err
	}
	return syscall.Listen(fd, 1)
}
