package engine

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestProxyPerHostCap(t *testing.T) { forEngines(t, testProxyPerHostCap) }

func testProxyPerHostCap(t *testing.T) {
	e := newEnv(t, Config{MaxConnsPerHost: 1})
	release := make(chan struct{})
	slow := startOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		io.WriteString(w, "ok")
	}))
	defer close(release)
	c1, _ := e.raw()
	fmt.Fprintf(c1, "GET http://origin.test:%d/ HTTP/1.1\r\n\r\n", slow.port)
	deadline := time.Now().Add(5 * time.Second)
	for slow.accepts.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("first request never reached the origin")
		}
		time.Sleep(5 * time.Millisecond)
	}
	c2, br2 := e.raw()
	fmt.Fprintf(c2, "GET http://origin.test:%d/ HTTP/1.1\r\n\r\n", slow.port)
	resp, _ := readResponse(t, br2, "GET")
	if resp.StatusCode != 503 || resp.Header.Get("sluice-error") != "upstream connection limit" {
		t.Fatalf("second connection to a capped host: %d %q", resp.StatusCode, resp.Header.Get("sluice-error"))
	}
}

func TestProxyPerHostCapReclaimsIdle(t *testing.T) {
	forEngines(t, testProxyPerHostCapReclaimsIdle)
}

// The per-host cap counts the idle connections of every loop. With the cap
// taken by idle connections spread over both loops, a loop whose clients
// need two at once used to answer 503 while the other loop kept one it did
// not use; it now has that one closed and dials.
func testProxyPerHostCapReclaimsIdle(t *testing.T) {
	e := newEnv(t, Config{MaxConnsPerHost: 2, Loops: 2})
	o := startOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(150 * time.Millisecond)
		}
		io.WriteString(w, "ok")
	}))
	get := func(c net.Conn, br *bufio.Reader, path string) (int, string) {
		fmt.Fprintf(c, "GET http://origin.test:%d%s HTTP/1.1\r\n\r\n", o.port, path)
		resp, body := readResponse(t, br, "GET")
		return resp.StatusCode, resp.Header.Get("sluice-error") + body
	}
	// Three clients, one request each in turn: two of them share a loop,
	// and the cap's two connections end up idle, one on each loop or both
	// on one.
	type client struct {
		c  net.Conn
		br *bufio.Reader
	}
	var cs []client
	for range 3 {
		c, br := e.raw()
		cs = append(cs, client{c, br})
		if code, msg := get(c, br, "/fast"); code != 200 {
			t.Fatalf("warm-up request: %d %s", code, msg)
		}
	}
	// Every pair asks for two connections at once; the pair on one loop
	// needs both on that loop.
	for _, pair := range [][2]int{{0, 1}, {0, 2}, {1, 2}, {0, 1}} {
		var wg sync.WaitGroup
		codes := make([]string, 2)
		for k, i := range pair {
			wg.Add(1)
			go func() {
				defer wg.Done()
				code, msg := get(cs[i].c, cs[i].br, "/slow")
				codes[k] = fmt.Sprintf("%d %s", code, msg)
			}()
		}
		wg.Wait()
		for k, got := range codes {
			if got != "200 ok" {
				t.Fatalf("clients %v at once, client %d: %s (origin accepted %d connections)", pair, pair[k], got, o.accepts.Load())
			}
		}
	}
	if a := o.accepts.Load(); a <= 2 {
		t.Fatalf("origin accepted %d connections: no pair needed a reclaimed slot, the test proves nothing", a)
	}
}

func TestProxyTriesNextAddress(t *testing.T) { forEngines(t, testProxyTriesNextAddress) }

func testProxyTriesNextAddress(t *testing.T) {
	e := newEnv(t, Config{})
	// 127.0.0.2 has nothing listening on the origin's port: refused, then 127.0.0.1.
	e.dns.Set("two.test", 60, "127.0.0.2", "127.0.0.1")
	resp, err := e.client.Get(fmt.Sprintf("http://two.test:%d/small", e.origin.port))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(b) != 100 {
		t.Fatalf("failover: %d %q", resp.StatusCode, b)
	}
}

func TestProxySlowlorisHeadTimeout(t *testing.T) { forEngines(t, testProxySlowlorisHeadTimeout) }

func testProxySlowlorisHeadTimeout(t *testing.T) {
	e := newEnv(t, Config{HeadTimeout: 300 * time.Millisecond})
	c, br := e.raw()
	io.WriteString(c, "GET http://origin.test/ HTTP/1.1\r\nHost: orig")
	start := time.Now()
	resp, _ := readResponse(t, br, "GET")
	if resp.StatusCode != 408 || time.Since(start) > 5*time.Second {
		t.Fatalf("slow head: %d after %v", resp.StatusCode, time.Since(start))
	}
	if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Fatal("connection left open after 408")
	}
}

func TestProxyIdleClientClosed(t *testing.T) { forEngines(t, testProxyIdleClientClosed) }

func testProxyIdleClientClosed(t *testing.T) {
	e := newEnv(t, Config{IdleTimeout: 300 * time.Millisecond})
	c, _ := e.raw()
	start := time.Now()
	if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Fatal("idle connection got bytes")
	}
	if d := time.Since(start); d < 200*time.Millisecond || d > 5*time.Second {
		t.Fatalf("idle connection closed after %v, want about 300ms", d)
	}
}

func TestProxyConnectionCap(t *testing.T) { forEngines(t, testProxyConnectionCap) }

func testProxyConnectionCap(t *testing.T) {
	e := newEnv(t, Config{MaxConns: 2, Loops: 1})
	e.raw()
	e.raw()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if cl, _ := e.srv.Conns(); cl == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("two connections never counted")
		}
		time.Sleep(5 * time.Millisecond)
	}
	_, br := e.raw()
	resp, _ := readResponse(t, br, "GET")
	if resp.StatusCode != 503 || resp.Header.Get("sluice-error") != "too many client connections" {
		t.Fatalf("connection over the cap: %d %q", resp.StatusCode, resp.Header.Get("sluice-error"))
	}
}

// TestProxyBufferCap: an upload to an origin that never reads fills the
// upstream socket; loop mode must abort the pair instead of buffering without
// bound.
func TestProxyBufferCap(t *testing.T) { forEngines(t, testProxyBufferCap) }

func testProxyBufferCap(t *testing.T) {
	e := newEnv(t, Config{MaxBuffered: 256 << 10})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // never reads
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	c, err := net.Dial("tcp", e.proxy)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const size = 64 << 20
	fmt.Fprintf(c, "POST http://origin.test:%d/ HTTP/1.1\r\nContent-Length: %d\r\n\r\n", port, size)
	chunk := []byte(strings.Repeat("u", 64<<10))
	c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	sent := 0
	for sent < size {
		n, err := c.Write(chunk)
		sent += n
		if err != nil {
			break
		}
	}
	if sent >= size {
		t.Fatalf("all %d bytes accepted by a proxy in front of an origin that never reads", size)
	}
}

func TestProxyExpectContinue(t *testing.T) { forEngines(t, testProxyExpectContinue) }

func testProxyExpectContinue(t *testing.T) {
	e := newEnv(t, Config{})
	tr := e.client.Transport.(*http.Transport)
	tr.ExpectContinueTimeout = 5 * time.Second
	req, _ := http.NewRequest("POST", "http://"+e.project+"/echo", strings.NewReader("continued body"))
	req.Header.Set("Expect", "100-continue")
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "continued body" {
		t.Fatalf("100-continue echo: %q", b)
	}
}
