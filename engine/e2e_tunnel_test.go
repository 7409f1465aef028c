package engine

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// anyPort lets CONNECT reach the kernel-chosen ports of test servers.
func anyPort(uint16) bool { return true }

// tcpServer runs handle for each accepted connection on a loopback port.
func tcpServer(t *testing.T, handle func(*net.TCPConn)) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				handle(c.(*net.TCPConn))
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// connect opens a CONNECT tunnel through the proxy and returns the connection
// after the 200, with any bytes read past it in br.
func connect(t *testing.T, e *env, authority, extra string) (*net.TCPConn, *bufio.Reader) {
	t.Helper()
	c, br := e.raw()
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n%s", authority, authority, extra)
	resp, err := http.ReadResponse(br, &http.Request{Method: "CONNECT"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("CONNECT %s: %d %s", authority, resp.StatusCode, resp.Header.Get("sluice-error"))
	}
	return c.(*net.TCPConn), br
}

func TestTunnelTLSOrigin(t *testing.T) { forEngines(t, testTunnelTLSOrigin) }

func testTunnelTLSOrigin(t *testing.T) {
	e := newEnv(t, Config{ConnectPortAllowed: anyPort})
	origin := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "tls hello %s", r.URL.Path)
	}))
	defer origin.Close()
	port := origin.Listener.Addr().(*net.TCPAddr).Port
	pool := x509.NewCertPool()
	pool.AddCert(origin.Certificate())
	pu, _ := url.Parse("http://" + e.proxy)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		Proxy:           http.ProxyURL(pu),
		TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "example.com"},
	}}
	defer client.CloseIdleConnections()
	for i := 0; i < 3; i++ {
		resp, err := client.Get(fmt.Sprintf("https://origin.test:%d/p%d", port, i))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != fmt.Sprintf("tls hello /p%d", i) {
			t.Fatalf("through CONNECT: %q", b)
		}
	}
}

func TestTunnelPipelinedBytesAndEcho(t *testing.T) { forEngines(t, testTunnelPipelinedBytesAndEcho) }

func testTunnelPipelinedBytesAndEcho(t *testing.T) {
	e := newEnv(t, Config{ConnectPortAllowed: anyPort})
	port := tcpServer(t, func(c *net.TCPConn) { io.Copy(c, c) })
	fds, gs := e.baseline()
	_, upBefore := e.srv.Conns() // the warm-up's pooled upstream
	c, br := connect(t, e, fmt.Sprintf("origin.test:%d", port), "PIPELINED|")
	io.WriteString(c, "after")
	got := make([]byte, len("PIPELINED|after"))
	if _, err := io.ReadFull(br, got); err != nil || string(got) != "PIPELINED|after" {
		t.Fatalf("echo through tunnel: %q %v", got, err)
	}
	// 8 MiB both ways through the splice pair.
	big := strings.Repeat("0123456789abcdef", 512<<10)
	go io.WriteString(c, big)
	back := make([]byte, len(big))
	if _, err := io.ReadFull(br, back); err != nil || string(back) != big {
		t.Fatalf("8 MiB echo: %v", err)
	}
	c.Close()
	settleCounts(t, fds, gs)
	if cl, up := e.srv.Conns(); cl != 0 || up != upBefore {
		t.Fatalf("connections counted after the tunnel ended: client %d upstream %d", cl, up)
	}
}

func TestTunnelHalfClose(t *testing.T) { forEngines(t, testTunnelHalfClose) }

func testTunnelHalfClose(t *testing.T) {
	e := newEnv(t, Config{ConnectPortAllowed: anyPort})
	// Client -> server FIN: the server reads to EOF, then answers.
	port := tcpServer(t, func(c *net.TCPConn) {
		b, _ := io.ReadAll(c)
		fmt.Fprintf(c, "got %d bytes", len(b))
	})
	c, br := connect(t, e, fmt.Sprintf("origin.test:%d", port), "")
	io.WriteString(c, "twelve bytes")
	c.CloseWrite()
	if b, err := io.ReadAll(br); err != nil || string(b) != "got 12 bytes" {
		t.Fatalf("half-close from client: %q %v", b, err)
	}
	// Server -> client FIN: the client reads to EOF, then still writes.
	gotLate := make(chan string, 1)
	port2 := tcpServer(t, func(c *net.TCPConn) {
		io.WriteString(c, "server done")
		c.CloseWrite()
		b, _ := io.ReadAll(c)
		gotLate <- string(b)
	})
	c2, br2 := connect(t, e, fmt.Sprintf("origin.test:%d", port2), "")
	if b, err := io.ReadAll(br2); err != nil || string(b) != "server done" {
		t.Fatalf("half-close from server: %q %v", b, err)
	}
	io.WriteString(c2, "client still talking")
	c2.CloseWrite()
	select {
	case s := <-gotLate:
		if s != "client still talking" {
			t.Fatalf("server got %q after its FIN", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("bytes after the server's FIN never arrived")
	}
}

func TestTunnelRefusedAndDenied(t *testing.T) { forEngines(t, testTunnelRefusedAndDenied) }

func testTunnelRefusedAndDenied(t *testing.T) {
	var allowAll atomic.Bool
	e := newEnv(t, Config{ConnectPortAllowed: func(p uint16) bool { return allowAll.Load() || p == 443 }})
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	port := closed.Addr().(*net.TCPAddr).Port
	closed.Close()
	for _, tc := range []struct {
		name, authority string
		allowAll        bool
		status          int
	}{
		{"denied port 22", "origin.test:22", false, 403},
		{"closed port", fmt.Sprintf("origin.test:%d", port), true, 502},
		{"unresolvable", "nx.invalid:443", false, 503},
	} {
		t.Run(tc.name, func(t *testing.T) {
			allowAll.Store(tc.allowAll)
			c, br := e.raw()
			fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", tc.authority, tc.authority)
			resp, err := http.ReadResponse(br, &http.Request{Method: "CONNECT"})
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status {
				t.Fatalf("got %d (%s), want %d", resp.StatusCode, resp.Header.Get("sluice-error"), tc.status)
			}
			io.Copy(io.Discard, resp.Body)
			if n, err := br.Read(make([]byte, 1)); n != 0 || err == nil {
				t.Fatal("connection kept open after a failed CONNECT")
			}
		})
	}
}

func TestTunnelUpgradeEcho(t *testing.T) { forEngines(t, testTunnelUpgradeEcho) }

func testTunnelUpgradeEcho(t *testing.T) {
	e := newEnv(t, Config{})
	port := tcpServer(t, func(c *net.TCPConn) {
		br := bufio.NewReader(c)
		req, err := http.ReadRequest(br)
		if err != nil || req.Header.Get("Upgrade") != "websocket" || !strings.EqualFold(req.Header.Get("Connection"), "upgrade") {
			io.WriteString(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
			return
		}
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nWELCOME|")
		io.Copy(c, br)
	})
	c, br := e.raw()
	fmt.Fprintf(c, "GET http://origin.test:%d/ws HTTP/1.1\r\nHost: origin.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", port)
	resp, err := http.ReadResponse(br, &http.Request{Method: "GET"})
	if err != nil || resp.StatusCode != 101 || resp.Header.Get("Upgrade") != "websocket" {
		t.Fatalf("upgrade: %v %+v", err, resp)
	}
	io.WriteString(c, "ping")
	got := make([]byte, len("WELCOME|ping"))
	if _, err := io.ReadFull(br, got); err != nil || string(got) != "WELCOME|ping" {
		t.Fatalf("after 101: %q %v", got, err)
	}
}
