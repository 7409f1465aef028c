package main

import (
	"fmt"
	"net"
	"testing"
)

// TestListenEveryAddress: -listen :PORT binds every address, like -admin
// :PORT; the proxy answers on 127.0.0.1 (and ::1 where there is IPv6), and
// /config shows the address bound.
func TestListenEveryAddress(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	origin := startOrigin(t, "hello from origin")
	port := freePort(t)
	admin := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	p := startProc(t, "", "-listen", fmt.Sprintf(":%d", port), "-admin", admin, "-dns", "127.0.0.1:1", "-access-log", "")
	proxy := fmt.Sprintf("127.0.0.1:%d", port)
	p.waitListening(t, proxy, admin)
	if resp, body := exchange(t, proxy, proxyGet1_0(origin, "/")); resp.StatusCode != 200 || body != "hello from origin" {
		t.Fatalf("through 127.0.0.1:%d: %d %q", port, resp.StatusCode, body)
	}
	if ln, err := net.Listen("tcp", "[::1]:0"); err == nil { // IPv6 loopback present
		ln.Close()
		v6 := fmt.Sprintf("[::1]:%d", port)
		if resp, body := exchange(t, v6, proxyGet1_0(origin, "/")); resp.StatusCode != 200 || body != "hello from origin" {
			t.Fatalf("through %s: %d %q", v6, resp.StatusCode, body)
		}
	}
	// Bound to every address, it still knows itself: a request to any of
	// its addresses is a loop.
	if resp, _ := exchange(t, proxy, proxyGet1_0(proxy, "/")); resp.StatusCode != 508 {
		t.Errorf("request to itself: %d, want 508", resp.StatusCode)
	}
	doc, _ := getConfig(t, admin)
	if got := yamlPath(doc, "listen"); got != fmt.Sprintf("[::]:%d", port) && got != fmt.Sprintf("0.0.0.0:%d", port) {
		t.Errorf("/config listen = %s, want every address, port %d", got, port)
	}
}
