package engine

// Hardening behaviours a strict client or a careful operator hits first, each
// through real sockets.

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/sluiceproxy/sluice/policy"
	"github.com/sluiceproxy/sluice/proxy"
)

// obsRec is a Record copied out of the Observer call.
type obsRec struct {
	method, host, rule, errDetail, user string
	port                                uint16
	status                              int
	tunnel                              bool
	cache                               string
	encoding                            string
}

// recorder is an Observer that keeps copies of every record.
type recorder struct {
	mu   sync.Mutex
	recs []obsRec
}

func (o *recorder) Observe(r *proxy.Record) {
	o.mu.Lock()
	o.recs = append(o.recs, obsRec{string(r.Method), string(r.Host), r.Rule, r.Error, r.User, r.Port, r.Status, r.Tunnel, r.Cache, r.Encoding})
	o.mu.Unlock()
}

// wait returns the records once there are n of them.
func (o *recorder) wait(t *testing.T, n int) []obsRec {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		o.mu.Lock()
		recs := append([]obsRec(nil), o.recs...)
		o.mu.Unlock()
		if len(recs) >= n {
			return recs
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d records, want %d: %+v", len(recs), n, recs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestConnectHTTPPort: a CONNECT to an HTTP port is answered 200, and the
// HTTP inside is handled request by request under the same rules as an
// absolute-form request (a DELETE denied by a method rule is refused inside
// the tunnel), logged per request; a WebSocket upgrade inside works; bytes
// that are not HTTP close the connection unless raw tunnels to the port are
// allowed.
func TestConnectHTTPPort(t *testing.T) { forEngines(t, testConnectHTTPPort) }

func testConnectHTTPPort(t *testing.T) {
	obs := &recorder{}
	o := startOrigin(t, originHandler())
	port := fmt.Sprint(o.port)
	ws := tcpServer(t, func(c *net.TCPConn) {
		br := bufio.NewReader(c)
		if _, err := http.ReadRequest(br); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nWS|")
		io.Copy(c, br)
	})
	echo := tcpServer(t, func(c *net.TCPConn) { io.Copy(c, c) })
	e := newEnv(t, Config{Observer: obs, Policy: withPolicy(t, policy.Config{
		ConnectHTTPPorts: fmt.Sprintf("%s,%d,%d", port, ws, echo),
		ConnectPorts:     fmt.Sprint(echo), // raw tunnels only there
		Rules: []policy.Rule{
			{Name: "no-delete", Methods: []string{"DELETE"}, Action: "deny"},
		},
	})})
	connectTo := func(p string) (net.Conn, *bufio.Reader) {
		c, br := e.raw()
		fmt.Fprintf(c, "CONNECT origin.test:%s HTTP/1.1\r\nHost: origin.test:%s\r\n\r\n", p, p)
		resp, err := http.ReadResponse(br, &http.Request{Method: "CONNECT"})
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("CONNECT :%s: %v %v", p, err, resp)
		}
		return c, br
	}
	c, br := connectTo(port)
	fmt.Fprintf(c, "GET /head HTTP/1.1\r\nHost: origin.test:%s\r\n\r\n", port)
	if resp, body := readResponse(t, br, "GET"); resp.StatusCode != 200 || !strings.Contains(body, "host=origin.test:"+port) {
		t.Fatalf("GET inside: %d %q", resp.StatusCode, body)
	}
	fmt.Fprintf(c, "DELETE /head HTTP/1.1\r\nHost: origin.test:%s\r\n\r\n", port)
	if resp, _ := readResponse(t, br, "DELETE"); resp.StatusCode != 403 {
		t.Fatalf("DELETE inside: %d", resp.StatusCode)
	}
	fmt.Fprintf(c, "GET http://other.test:%s/ HTTP/1.1\r\nHost: other.test\r\n\r\n", port)
	if resp, _ := readResponse(t, br, "GET"); resp.StatusCode != 403 || resp.Header.Get("sluice-error") != proxy.ErrBoundDestination.Detail {
		t.Fatalf("another destination inside: %d %q", resp.StatusCode, resp.Header.Get("sluice-error"))
	}
	recs := obs.wait(t, 4)
	want := []struct {
		method string
		status int
	}{{"CONNECT", 200}, {"GET", 200}, {"DELETE", 403}, {"GET", 403}}
	for i, w := range want {
		if recs[i].method != w.method || recs[i].status != w.status || recs[i].host != "origin.test" && i < 3 {
			t.Errorf("record %d: %+v, want %s %d", i, recs[i], w.method, w.status)
		}
	}

	// WebSocket through CONNECT (ws:// via a proxy agent).
	c, br = connectTo(fmt.Sprint(ws))
	fmt.Fprintf(c, "GET /chat HTTP/1.1\r\nHost: origin.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
	if resp, err := http.ReadResponse(br, &http.Request{Method: "GET"}); err != nil || resp.StatusCode != 101 {
		t.Fatalf("websocket inside: %v %v", err, resp)
	}
	io.WriteString(c, "hi")
	got := make([]byte, 5)
	if _, err := io.ReadFull(br, got); err != nil || string(got) != "WS|hi" {
		t.Fatalf("websocket bytes: %q %v", got, err)
	}

	// A TLS ClientHello where raw tunnels are not allowed: closed.
	c, br = connectTo(port)
	c.Write([]byte{0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5})
	if b, err := io.ReadAll(br); err != nil || len(b) != 0 {
		t.Fatalf("raw bytes to an HTTP-only port: %q %v", b, err)
	}
	// Where they are, tunnelled.
	c, br = connectTo(fmt.Sprint(echo))
	c.Write([]byte{0x16, 0x03, 0x01, 'x'})
	got = make([]byte, 4)
	if _, err := io.ReadFull(br, got); err != nil || got[3] != 'x' {
		t.Fatalf("raw tunnel: %q %v", got, err)
	}
}

// TestCheckOrder: proxy authentication comes before the CONNECT port and the
// rules, so a client without credentials learns nothing of them; a denied
// CONNECT logs what it asked for; a default-action decision names "default".
func TestCheckOrder(t *testing.T) { forEngines(t, testCheckOrder) }

func testCheckOrder(t *testing.T) {
	dir := t.TempDir()
	hash, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	htpasswd := filepath.Join(dir, "htpasswd")
	os.WriteFile(htpasswd, []byte("alice:"+string(hash)+"\n"), 0o600)
	obs := &recorder{}
	e := newEnv(t, Config{Observer: obs, Policy: withPolicy(t, policy.Config{
		Auth:          &policy.AuthConfig{Htpasswd: htpasswd},
		DefaultAction: "deny",
	})})
	auth := "Proxy-Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("alice:pw")) + "\r\n"
	if resp, _ := exchange(t, e, "CONNECT secret.test:22 HTTP/1.1\r\nHost: secret.test:22\r\n\r\n"); resp.StatusCode != 407 {
		t.Fatalf("unauthenticated CONNECT to a closed port: %d, want 407", resp.StatusCode)
	}
	if resp, _ := exchange(t, e, "CONNECT secret.test:22 HTTP/1.1\r\nHost: secret.test:22\r\n"+auth+"\r\n"); resp.StatusCode != 403 {
		t.Fatalf("authenticated CONNECT to a closed port: %d, want 403", resp.StatusCode)
	}
	if resp, _ := exchange(t, e, "GET http://other.test/ HTTP/1.1\r\nHost: other.test\r\n"+auth+"\r\n"); resp.StatusCode != 403 {
		t.Fatalf("default deny: %d", resp.StatusCode)
	}
	recs := obs.wait(t, 3)
	if r := recs[0]; r.status != 407 || r.host != "secret.test" || r.port != 22 {
		t.Errorf("407 record: %+v", r)
	}
	if r := recs[1]; r.status != 403 || r.host != "secret.test" || r.port != 22 || r.user != "alice" {
		t.Errorf("denied CONNECT record: %+v", r)
	}
	if r := recs[2]; r.status != 403 || r.rule != proxy.RuleDefault {
		t.Errorf("default-action record: %+v", r)
	}
}

// TestMaxForwards (RFC 9110 §7.6.2) and OPTIONS * (RFC 9112 §3.2.4), and the
// Date field added to a response that lacks one (RFC 9110 §6.6.1).
func TestMaxForwards(t *testing.T) { forEngines(t, testMaxForwards) }

func testMaxForwards(t *testing.T) {
	lines := make(chan string, 10)
	port := tcpServer(t, func(c *net.TCPConn) {
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			lines <- req.Method + " " + req.RequestURI + " mf=" + strings.Join(req.Header.Values("Max-Forwards"), ",")
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok") // no Date
		}
	})
	e := newEnv(t, Config{})
	target := fmt.Sprintf("origin.test:%d", port)
	for _, tc := range []struct {
		req, line string
		status    int
	}{
		{"OPTIONS http://" + target + "/x HTTP/1.1\r\nHost: x\r\nMax-Forwards: 0\r\n\r\n", "", 200},
		{"TRACE http://" + target + "/x HTTP/1.1\r\nHost: x\r\nMax-Forwards: 0\r\n\r\n", "", 405},
		{"OPTIONS http://" + target + "/x HTTP/1.1\r\nHost: x\r\nMax-Forwards: 5\r\n\r\n", "OPTIONS /x mf=4", 200},
		{"TRACE http://" + target + "/x HTTP/1.1\r\nHost: x\r\nMax-Forwards: 1\r\n\r\n", "TRACE /x mf=0", 200},
		{"GET http://" + target + "/x HTTP/1.1\r\nHost: x\r\nMax-Forwards: 0\r\n\r\n", "GET /x mf=0", 200},
		{"OPTIONS http://" + target + " HTTP/1.1\r\nHost: x\r\n\r\n", "OPTIONS * mf=", 200},
	} {
		resp, _ := exchange(t, e, tc.req)
		if resp.StatusCode != tc.status {
			t.Errorf("%q: %d, want %d", tc.req, resp.StatusCode, tc.status)
			continue
		}
		if resp.Header.Get("Date") == "" {
			t.Errorf("%q: no Date", tc.req)
		}
		if tc.line == "" {
			if a := resp.Header.Get("Allow"); !strings.Contains(a, "OPTIONS") {
				t.Errorf("%q: Allow %q", tc.req, a)
			}
			continue
		}
		select {
		case l := <-lines:
			if l != tc.line {
				t.Errorf("%q: origin got %q, want %q", tc.req, l, tc.line)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%q: not forwarded", tc.req)
		}
	}
	select {
	case l := <-lines:
		t.Fatalf("the origin got an extra request: %q", l)
	default:
	}
}

// TestManyHeaderLines: 200 field lines are a real request, not a 431.
func TestManyHeaderLines(t *testing.T) { forEngines(t, testManyHeaderLines) }

func testManyHeaderLines(t *testing.T) {
	e := newEnv(t, Config{})
	var b strings.Builder
	fmt.Fprintf(&b, "GET http://%s/small HTTP/1.1\r\nHost: x\r\n", e.project)
	for i := 0; i < 200; i++ {
		fmt.Fprintf(&b, "X-Field-%d: %d\r\n", i, i)
	}
	b.WriteString("\r\n")
	if resp, _ := exchange(t, e, b.String()); resp.StatusCode != 200 {
		t.Fatalf("200 field lines: %d", resp.StatusCode)
	}
}

// TestCurlProxyTunnelHTTP: curl's --proxytunnel sends plain http:// through
// CONNECT, as Node's undici ProxyAgent does; the requests inside are served.
func TestCurlProxyTunnelHTTP(t *testing.T) { forEngines(t, testCurlProxyTunnelHTTP) }

func testCurlProxyTunnelHTTP(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl not installed")
	}
	e := newEnv(t, Config{Policy: withPolicy(t, policy.Config{ConnectHTTPPorts: "*"})})
	out, err := exec.Command(curl, "-sS", "--max-time", "10", "-p", "-x", "http://"+e.proxy,
		"http://"+e.project+"/small", "http://"+e.project+"/head").CombinedOutput()
	if err != nil {
		t.Fatalf("curl: %v\n%s", err, out)
	}
	if !strings.HasPrefix(string(out), strings.Repeat("s", 100)) || !strings.Contains(string(out), "host="+e.project) {
		t.Fatalf("curl through CONNECT: %q", out)
	}
}

// TestReloadSwapsPolicy: Reload changes the decision of the next request,
// also on a kept-alive connection, and a request in flight finishes under
// the policy it started with.
func TestReloadSwapsPolicy(t *testing.T) { forEngines(t, testReloadSwapsPolicy) }

func testReloadSwapsPolicy(t *testing.T) {
	deny := withPolicy(t, policy.Config{Rules: []policy.Rule{{Name: "no-origin", Hosts: []string{"origin.test"}, Action: "deny"}}})
	allow := withPolicy(t, policy.Config{})
	e := newEnv(t, Config{Policy: deny})
	c, br := e.raw()
	get := func(path string) int {
		fmt.Fprintf(c, "GET http://%s%s HTTP/1.1\r\nHost: x\r\n\r\n", e.project, path)
		resp, _ := readResponse(t, br, "GET")
		return resp.StatusCode
	}
	if got := get("/small"); got != 403 {
		t.Fatalf("before: %d", got)
	}
	if err := e.srv.Reload(Dynamic{Policy: allow}); err != nil {
		t.Fatal(err)
	}
	if got := get("/small"); got != 200 {
		t.Fatalf("after the reload: %d", got)
	}
	// In flight across a reload back to deny: the request started allowed.
	fmt.Fprintf(c, "GET http://%s/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nab", e.project)
	time.Sleep(50 * time.Millisecond)
	if err := e.srv.Reload(Dynamic{Policy: deny}); err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "cde")
	if resp, body := readResponse(t, br, "GET"); resp.StatusCode != 200 || body != "abcde" {
		t.Fatalf("in flight: %d %q", resp.StatusCode, body)
	}
	if got := get("/small"); got != 403 {
		t.Fatalf("after reloading back: %d", got)
	}
	if err := e.srv.Reload(Dynamic{RewriteHeader: "bad header"}); err == nil {
		t.Fatal("an invalid rewrite header was accepted")
	}
	if got := get("/small"); got != 403 {
		t.Fatalf("after a refused reload: %d", got)
	}
}
