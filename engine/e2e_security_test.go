package engine

// Regression tests for the red-team findings, each through real sockets:
// a raw or net/http client, the proxy, a real origin, the test's DNS server.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sluiceproxy/sluice/policy"
	"github.com/sluiceproxy/sluice/proxy"
	"github.com/sluiceproxy/sluice/resolver"
)

// exchange sends req on a new connection and returns the response.
func exchange(t *testing.T, e *env, req string) (*http.Response, string) {
	t.Helper()
	c, br := e.raw()
	io.WriteString(c, req)
	method := strings.Fields(req)[0]
	if strings.EqualFold(method, "CONNECT") {
		method = "CONNECT"
	}
	return readResponse(t, br, method)
}

// TestIPLiteralSpellings (finding 3): a deny rule on an address holds for
// every spelling of it, in absolute-form, CONNECT and the Host header, and
// for a name that resolves to it.
func TestIPLiteralSpellings(t *testing.T) { forEngines(t, testIPLiteralSpellings) }

func testIPLiteralSpellings(t *testing.T) {
	e := newEnv(t, Config{
		ConnectPortAllowed: func(uint16) bool { return true },
		Policy: withPolicy(t, policy.Config{
			ConnectPorts: "*",
			Rules: []policy.Rule{
				{Name: "no-v4", Hosts: []string{"127.0.0.3"}, Action: "deny"},
				{Name: "no-v6", Hosts: []string{"::1"}, Action: "deny"},
			},
		}),
	})
	e.dns.Set("evil.test", 60, "127.0.0.3")
	p := e.origin.port
	for _, target := range []string{
		"127.0.0.3", "[::ffff:127.0.0.3]", "[::ffff:7f00:3]", "[0:0:0:0:0:ffff:7f00:3]",
		"[::1]", "[0:0:0:0:0:0:0:1]", "[0000::0001]", "[::0:1]", "evil.test",
	} {
		for _, form := range []string{"absolute", "connect", "host"} {
			var req string
			switch form {
			case "absolute":
				req = fmt.Sprintf("GET http://%s:%d/ HTTP/1.1\r\nHost: x\r\n\r\n", target, p)
			case "connect":
				req = fmt.Sprintf("CONNECT %s:%d HTTP/1.1\r\nHost: %s:%d\r\n\r\n", target, p, target, p)
			case "host":
				req = fmt.Sprintf("GET / HTTP/1.1\r\nHost: %s:%d\r\n\r\n", target, p)
			}
			resp, _ := exchange(t, e, req)
			if resp.StatusCode != 403 {
				t.Errorf("%s %s: %d %q, want 403", form, target, resp.StatusCode, resp.Header.Get("sluice-error"))
			}
		}
	}
	if n := e.origin.accepts.Load(); n != 0 {
		t.Fatalf("the origin saw %d connections", n)
	}
}

// TestEmbeddedIPv4Denied (finding 9): IPv6 forms that carry a denied IPv4
// address are denied as that address.
func TestEmbeddedIPv4Denied(t *testing.T) { forEngines(t, testEmbeddedIPv4Denied) }

func testEmbeddedIPv4Denied(t *testing.T) {
	e := newEnv(t, Config{Policy: withPolicy(t, policy.Config{DenyPresets: []string{"loopback"}})})
	for _, lit := range []string{
		"[::169.254.169.254]", "[::a9fe:a9fe]", "[64:ff9b::a9fe:a9fe]", "[64:ff9b:1::a9fe:a9fe]",
		"[2002:a9fe:a9fe::1]", "[::127.0.0.1]", "[64:ff9b::7f00:1]",
	} {
		resp, _ := exchange(t, e, fmt.Sprintf("GET http://%s/ HTTP/1.1\r\nHost: x\r\n\r\n", lit))
		if resp.StatusCode != 403 {
			t.Errorf("%s: %d %q, want 403", lit, resp.StatusCode, resp.Header.Get("sluice-error"))
		}
	}
}

// TestMethodCaseBlind (finding 13): a deny rule on DELETE also stops
// "delete", which an origin may treat alike.
func TestMethodCaseBlind(t *testing.T) { forEngines(t, testMethodCaseBlind) }

func testMethodCaseBlind(t *testing.T) {
	e := newEnv(t, Config{Policy: withPolicy(t, policy.Config{
		Rules: []policy.Rule{{Name: "no-delete", Methods: []string{"DELETE"}, Action: "deny"}},
	})})
	for _, m := range []string{"DELETE", "delete", "Delete"} {
		resp, _ := exchange(t, e, fmt.Sprintf("%s http://%s/small HTTP/1.1\r\nHost: x\r\n\r\n", m, e.project))
		if resp.StatusCode != 403 || resp.Header.Get("sluice-error") != policy.ErrDestinationDenied.Reason {
			t.Errorf("%s: %d %q", m, resp.StatusCode, resp.Header.Get("sluice-error"))
		}
	}
	if resp, _ := exchange(t, e, fmt.Sprintf("GET http://%s/small HTTP/1.1\r\nHost: x\r\n\r\n", e.project)); resp.StatusCode != 200 {
		t.Fatalf("GET: %d", resp.StatusCode)
	}
}

// TestUpgradePolicy (finding 5): under a rule allowing only GET and HEAD, an
// h2c upgrade is refused (so no DELETE can follow inside it); websocket is
// allowed by default; a rule naming h2c allows it.
func TestUpgradePolicy(t *testing.T) { forEngines(t, testUpgradePolicy) }

func testUpgradePolicy(t *testing.T) {
	var seen atomic.Int64
	port := tcpServer(t, func(c *net.TCPConn) {
		br := bufio.NewReader(c)
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		seen.Add(1)
		up := req.Header.Get("Upgrade")
		fmt.Fprintf(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: %s\r\nConnection: Upgrade\r\n\r\n", up)
		// Inside the switched protocol, a smuggled request would be read here.
		if r2, err := http.ReadRequest(br); err == nil {
			fmt.Fprintf(c, "SMUGGLED %s", r2.Method)
		}
	})
	e := newEnv(t, Config{Policy: withPolicy(t, policy.Config{
		Rules: []policy.Rule{
			{Name: "ro", Hosts: []string{"origin.test"}, Methods: []string{"GET", "HEAD"}, Action: "allow"},
			{Name: "h2c-ok", Hosts: []string{"h2c.test"}, Upgrades: []string{"h2c"}, Action: "allow"},
		},
		DefaultAction: "allow",
	})})
	e.dns.Set("h2c.test", 60, "127.0.0.1")
	e.dns.Set("ws.test", 60, "127.0.0.1")
	upgrade := func(host, proto string) *http.Response {
		resp, _ := exchange(t, e, fmt.Sprintf("GET http://%s:%d/ HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: %s\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n", host, port, host, proto))
		return resp
	}
	if r := upgrade("origin.test", "h2c"); r.StatusCode != 403 || r.Header.Get("sluice-error") != proxy.ErrUpgradeDenied.Detail {
		t.Fatalf("h2c under a GET-only rule: %d %q", r.StatusCode, r.Header.Get("sluice-error"))
	}
	if r := upgrade("origin.test", "websocket"); r.StatusCode != 403 {
		t.Fatalf("websocket under a method-restricted rule without upgrades: %d", r.StatusCode)
	}
	if n := seen.Load(); n != 0 {
		t.Fatalf("the origin saw %d refused upgrades", n)
	}
	if r := upgrade("ws.test", "websocket"); r.StatusCode != 101 {
		t.Fatalf("websocket by default: %d", r.StatusCode)
	}
	if r := upgrade("ws.test", "h2c"); r.StatusCode != 403 {
		t.Fatalf("h2c by default: %d", r.StatusCode)
	}
	if r := upgrade("h2c.test", "h2c"); r.StatusCode != 101 {
		t.Fatalf("h2c allowed by its rule: %d", r.StatusCode)
	}
}

// TestUpgradeSwitchChecked: an origin that switches to another protocol
// than the allowed one is refused (502), not tunnelled.
func TestUpgradeSwitchChecked(t *testing.T) { forEngines(t, testUpgradeSwitchChecked) }

func testUpgradeSwitchChecked(t *testing.T) {
	port := tcpServer(t, func(c *net.TCPConn) {
		if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n")
	})
	e := newEnv(t, Config{})
	resp, _ := exchange(t, e, fmt.Sprintf("GET http://origin.test:%d/ HTTP/1.1\r\nHost: origin.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", port))
	if resp.StatusCode != 502 {
		t.Fatalf("101 to h2c for a websocket request: %d", resp.StatusCode)
	}
}

// ntlmOrigin emulates connection-bound authentication: a connection on which
// alice completed the handshake answers "hello alice" to every request;
// others get a 401 challenge.
func ntlmOrigin(t *testing.T) (*origin, *atomic.Int64) {
	type connState struct{ user string }
	var connKey struct{}
	o := startOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := r.Context().Value(&connKey).(*connState)
		switch a := r.Header.Get("Authorization"); {
		case a == "NTLM TYPE1":
			w.Header().Set("WWW-Authenticate", "NTLM CHALLENGE")
			w.WriteHeader(401)
			return
		case a == "NTLM TYPE3-alice":
			st.user = "alice"
		}
		if st.user == "" {
			w.Header().Set("WWW-Authenticate", "NTLM")
			w.WriteHeader(401)
			return
		}
		io.WriteString(w, "hello "+st.user)
	}), func(srv *http.Server) {
		srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, &connKey, &connState{})
		}
	})
	return o, &o.accepts
}

// TestNTLMConnectionPinned (finding 4): the connection alice authenticated
// on serves alice's later requests and nobody else's.
func TestNTLMConnectionPinned(t *testing.T) { forEngines(t, testNTLMConnectionPinned) }

func testNTLMConnectionPinned(t *testing.T) {
	o, accepts := ntlmOrigin(t)
	e := newEnv(t, Config{Loops: 1})
	target := fmt.Sprintf("http://origin.test:%d/", o.port)
	req := func(auth string) string {
		s := "GET " + target + " HTTP/1.1\r\nHost: origin.test\r\n"
		if auth != "" {
			s += "Authorization: " + auth + "\r\n"
		}
		return s + "\r\n"
	}
	alice, abr := e.raw()
	io.WriteString(alice, req("NTLM TYPE1"))
	if r, _ := readResponse(t, abr, "GET"); r.StatusCode != 401 {
		t.Fatalf("type 1: %d", r.StatusCode)
	}
	io.WriteString(alice, req("NTLM TYPE3-alice"))
	if _, body := readResponse(t, abr, "GET"); body != "hello alice" {
		t.Fatalf("type 3: %q", body)
	}
	// Six anonymous clients, one after another and at once.
	var wg sync.WaitGroup
	var leaked atomic.Int64
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, body := exchange(t, e, req(""))
			if resp.StatusCode == 200 || strings.Contains(body, "alice") {
				leaked.Add(1)
			}
		}()
		if i%2 == 0 {
			wg.Wait()
		}
	}
	wg.Wait()
	if n := leaked.Load(); n != 0 {
		t.Fatalf("%d of 6 clients without credentials got alice's connection", n)
	}
	// Alice's own keep-alive connection still has hers.
	before := accepts.Load()
	io.WriteString(alice, req(""))
	if _, body := readResponse(t, abr, "GET"); body != "hello alice" {
		t.Fatalf("alice's next request: %q", body)
	}
	if accepts.Load() != before {
		t.Fatal("alice's pinned connection was not reused")
	}
	// It closes with alice's.
	alice.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, up := e.srv.Conns(); up == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Anonymous clients may hold pooled connections; the pinned one is gone
	// when no upstream answers "hello alice" any more.
	if resp, body := exchange(t, e, req("")); resp.StatusCode == 200 || strings.Contains(body, "alice") {
		t.Fatalf("after alice left: %d %q", resp.StatusCode, body)
	}
}

// TestConnectNeverPooled (finding 4): a CONNECT tunnel gets a new upstream
// connection even when one to the same address is idle in the pool.
func TestConnectNeverPooled(t *testing.T) { forEngines(t, testConnectNeverPooled) }

func testConnectNeverPooled(t *testing.T) {
	e := newEnv(t, Config{Loops: 1, ConnectPortAllowed: func(uint16) bool { return true }})
	if resp, _ := e.get("/small"); resp.StatusCode != 200 {
		t.Fatal(resp.Status)
	}
	before := e.origin.accepts.Load()
	c, br := e.raw()
	fmt.Fprintf(c, "CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", e.origin.port, e.origin.port)
	if resp, err := http.ReadResponse(br, &http.Request{Method: "CONNECT"}); err != nil || resp.StatusCode != 200 {
		t.Fatalf("CONNECT: %v", err)
	}
	fmt.Fprintf(c, "GET /small HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, body := readResponse(t, br, "GET"); resp.StatusCode != 200 || len(body) != 100 {
		t.Fatalf("through the tunnel: %d", resp.StatusCode)
	}
	if got := e.origin.accepts.Load() - before; got != 1 {
		t.Fatalf("the tunnel used %d new connections, want 1", got)
	}
	// The pooled connection is still there for HTTP.
	if resp, _ := e.get("/small"); resp.StatusCode != 200 || e.origin.accepts.Load()-before != 1 {
		t.Fatalf("pooled connection: %d, %d accepts", resp.StatusCode, e.origin.accepts.Load()-before)
	}
}

// TestOwnResponsesHonourClose (finding 7): sluice's own answers to a client
// that asked to close say so and close, so a client reading to EOF is not
// kept for the idle timeout; an HTTP/1.0 keep-alive client is kept.
func TestOwnResponsesHonourClose(t *testing.T) { forEngines(t, testOwnResponsesHonourClose) }

func testOwnResponsesHonourClose(t *testing.T) {
	e := newEnv(t, Config{Policy: withPolicy(t, policy.Config{
		Rules: []policy.Rule{{Name: "deny", Hosts: []string{"denied.test"}, Action: "deny"}},
	})})
	closed := freePort(t)
	for _, tc := range []struct{ name, req string }{
		{"403 HTTP/1.0", "GET http://denied.test/ HTTP/1.0\r\n\r\n"},
		{"403 close", "GET http://denied.test/ HTTP/1.1\r\nHost: denied.test\r\nConnection: close\r\n\r\n"},
		{"502 close", fmt.Sprintf("GET http://127.0.0.1:%d/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", closed)},
		{"503 HTTP/1.0", "GET http://nxdomain.test/ HTTP/1.0\r\n\r\n"},
		{"400 close", "GET / HTTP/1.1\r\nConnection: close\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := e.raw()
			c.SetDeadline(time.Now().Add(3 * time.Second))
			io.WriteString(c, tc.req)
			b, err := io.ReadAll(c) // to EOF
			if err != nil {
				t.Fatalf("reading to EOF: %v (got %q)", err, b)
			}
			resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(string(b))), nil)
			if err != nil || !resp.Close {
				t.Fatalf("%v: %q", err, b)
			}
		})
	}
	// HTTP/1.0 with keep-alive: told so, and the connection serves again.
	c, br := e.raw()
	for i := 0; i < 2; i++ {
		io.WriteString(c, "GET http://denied.test/ HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
		resp, _ := readResponse(t, br, "GET")
		if resp.StatusCode != 403 || !strings.EqualFold(resp.Header.Get("Connection"), "keep-alive") {
			t.Fatalf("HTTP/1.0 keep-alive #%d: %d %q", i, resp.StatusCode, resp.Header.Get("Connection"))
		}
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestRewriteHeaderAuthorityGrammar (finding 10): the rewrite header's value
// must be an authority as a request line's would be.
func TestRewriteHeaderAuthorityGrammar(t *testing.T) {
	forEngines(t, testRewriteHeaderAuthorityGrammar)
}

func testRewriteHeaderAuthorityGrammar(t *testing.T) {
	e := newEnv(t, Config{RewriteHeader: "X-Sluice-Host"})
	for _, v := range []string{"[ok.test]:%d", "[ok.test]", "ok.test:%d@evil.test", "ok%%2etest:%d", "[::1%%25lo]:%d", "ok.test:%d/x"} {
		val := v
		if strings.Contains(v, "%d") {
			val = fmt.Sprintf(v, e.origin.port)
		} else {
			val = strings.ReplaceAll(v, "%%", "%")
		}
		resp, _ := exchange(t, e, "GET /small HTTP/1.1\r\nHost: x\r\nX-Sluice-Host: "+val+"\r\n\r\n")
		if resp.StatusCode != 400 {
			t.Errorf("X-Sluice-Host %q: %d, want 400", val, resp.StatusCode)
		}
	}
	if resp, _ := exchange(t, e, fmt.Sprintf("GET /small HTTP/1.1\r\nHost: x\r\nX-Sluice-Host: origin.test:%d\r\n\r\n", e.origin.port)); resp.StatusCode != 200 {
		t.Fatalf("valid rewrite: %d", resp.StatusCode)
	}
	if n := e.origin.accepts.Load(); n != 1 {
		t.Fatalf("the origin saw %d connections, want 1", n)
	}
}

// TestInterimResponses (finding 12): a flood of 1xx ends with 502, and a
// trickle of 1xx does not keep the response timeout from firing.
func TestInterimResponses(t *testing.T) { forEngines(t, testInterimResponses) }

func testInterimResponses(t *testing.T) {
	flood := tcpServer(t, func(c *net.TCPConn) {
		if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
			return
		}
		for {
			if _, err := io.WriteString(c, "HTTP/1.1 102 Processing\r\n\r\n"); err != nil {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
	trickle := tcpServer(t, func(c *net.TCPConn) {
		if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
			return
		}
		for i := 0; i < 8; i++ {
			if _, err := io.WriteString(c, "HTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\n"); err != nil {
				return
			}
			time.Sleep(150 * time.Millisecond)
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	})
	e := newEnv(t, Config{ResponseTimeout: 400 * time.Millisecond})
	// final reads past the interim responses to the final one.
	final := func(port int) *http.Response {
		c, br := e.raw()
		fmt.Fprintf(c, "GET http://origin.test:%d/ HTTP/1.1\r\nHost: origin.test\r\n\r\n", port)
		for n := 0; ; n++ {
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("after %d interim responses: %v", n, err)
			}
			if resp.StatusCode >= 200 {
				return resp
			}
			if n > proxy.MaxInterim {
				t.Fatalf("%d interim responses relayed", n)
			}
		}
	}
	start := time.Now()
	resp := final(flood)
	if resp.StatusCode != 502 || resp.Header.Get("sluice-error") != proxy.ErrTooManyInterim.Detail {
		t.Fatalf("1xx flood: %d %q", resp.StatusCode, resp.Header.Get("sluice-error"))
	}
	resp = final(trickle)
	if resp.StatusCode != 504 {
		t.Fatalf("1xx trickle past the response timeout: %d", resp.StatusCode)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %v", d)
	}
}

// blackhole listens on ip:port with a full accept queue, so that connects
// to it hang until they time out (SYNs are dropped).
func blackhole(t *testing.T, ip string, port int) int {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	a := netip.MustParseAddr(ip).As4()
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: a, Port: port}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, _ := unix.Getsockname(fd)
	port = sa.(*unix.SockaddrInet4).Port
	// Fill the accept queue (backlog 0 holds one).
	for i := 0; i < 2; i++ {
		d := net.Dialer{Timeout: 200 * time.Millisecond}
		if c, err := d.Dial("tcp", net.JoinHostPort(ip, fmt.Sprint(port))); err == nil {
			t.Cleanup(func() { c.Close() })
		}
	}
	return port
}

// TestConnectAttemptsBounded (finding 8): an answer with 40 addresses that
// refuse, or that never answer, ends in a 504 after at most
// MaxConnectAttempts tries and ConnectTotalTimeout.
func TestConnectAttemptsBounded(t *testing.T) { forEngines(t, testConnectAttemptsBounded) }

func testConnectAttemptsBounded(t *testing.T) {
	var dials atomic.Int64
	e := newEnv(t, Config{
		ConnectTimeout:      300 * time.Millisecond,
		ConnectTotalTimeout: 800 * time.Millisecond,
		MaxConnectAttempts:  5,
		DialAddrCheck:       func(netip.AddrPort) error { dials.Add(1); return nil },
	})
	var refused, dead []string
	for i := 0; i < 40; i++ {
		refused = append(refused, fmt.Sprintf("127.0.1.%d", 10+i))
	}
	port := blackhole(t, "127.0.2.10", 0)
	for i := 0; i < 4; i++ {
		ip := fmt.Sprintf("127.0.2.%d", 10+i)
		if i > 0 {
			blackhole(t, ip, port)
		}
		dead = append(dead, ip)
	}
	e.dns.Set("refusing.test", 60, refused...)
	e.dns.Set("dead.test", 60, dead...)

	resp, _ := exchange(t, e, fmt.Sprintf("GET http://refusing.test:%d/ HTTP/1.1\r\nHost: x\r\n\r\n", port))
	if resp.StatusCode != 504 || resp.Header.Get("sluice-error") != proxy.ErrConnectAttempts.Detail || dials.Load() != 5 {
		t.Fatalf("40 refusing addresses: %d %q after %d dials", resp.StatusCode, resp.Header.Get("sluice-error"), dials.Load())
	}
	dials.Store(0)
	start := time.Now()
	resp, _ = exchange(t, e, fmt.Sprintf("GET http://dead.test:%d/ HTTP/1.1\r\nHost: x\r\n\r\n", port))
	took := time.Since(start)
	if resp.StatusCode != 504 || resp.Header.Get("sluice-error") != proxy.ErrConnectBudget.Detail {
		t.Fatalf("silent addresses: %d %q", resp.StatusCode, resp.Header.Get("sluice-error"))
	}
	if n := dials.Load(); n > 3 || took > 3*time.Second {
		t.Fatalf("silent addresses: %d dials in %v", n, took)
	}
}

// TestAdminRefused (finding 6): the admin listener (Protected) is refused
// through the proxy (508) however the request names it.
func TestAdminRefused(t *testing.T) { forEngines(t, testAdminRefused) }

func testAdminRefused(t *testing.T) {
	admin := startOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "admin secrets")
	}))
	ap := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(admin.port))
	e := newEnv(t, Config{RewriteHeader: "X-Sluice-Host", Protected: []netip.AddrPort{ap}})
	e.dns.Set("admin.test", 60, "127.0.0.1")
	for _, req := range []string{
		fmt.Sprintf("GET http://127.0.0.1:%d/config HTTP/1.1\r\nHost: x\r\n\r\n", admin.port),
		fmt.Sprintf("GET http://admin.test:%d/debug/pprof/ HTTP/1.1\r\nHost: x\r\n\r\n", admin.port),
		fmt.Sprintf("GET /config HTTP/1.1\r\nHost: x\r\nX-Sluice-Host: 127.0.0.1:%d\r\n\r\n", admin.port),
		fmt.Sprintf("GET /config HTTP/1.1\r\nHost: [::ffff:127.0.0.1]:%d\r\n\r\n", admin.port),
	} {
		if resp, body := exchange(t, e, req); resp.StatusCode != 508 || strings.Contains(body, "secrets") {
			t.Errorf("%q: %d", req, resp.StatusCode)
		}
	}
	if n := admin.accepts.Load(); n != 0 {
		t.Fatalf("admin saw %d connections", n)
	}
}

// TestNegativeAnswersDoNotCrowdOut (finding 11): nonexistent names filling
// max_hosts do not keep a real host out.
func TestNegativeAnswersDoNotCrowdOut(t *testing.T) { forEngines(t, testNegativeAnswersDoNotCrowdOut) }

func testNegativeAnswersDoNotCrowdOut(t *testing.T) {
	e := newEnv(t, Config{}, func(c *resolver.Config) { c.MaxHosts = 20 })
	for i := 0; i < 20; i++ {
		resp, _ := exchange(t, e, fmt.Sprintf("GET http://nx%d.test/ HTTP/1.1\r\nHost: x\r\n\r\n", i))
		if resp.StatusCode != 503 {
			t.Fatalf("nx%d: %d", i, resp.StatusCode)
		}
	}
	for i := 0; i < 5; i++ {
		name := fmt.Sprintf("real%d.test", i)
		e.dns.Set(name, 60, "127.0.0.1")
		resp, _ := exchange(t, e, fmt.Sprintf("GET http://%s:%d/small HTTP/1.1\r\nHost: x\r\n\r\n", name, e.origin.port))
		if resp.StatusCode != 200 {
			t.Fatalf("%s after 20 negative answers: %d %q", name, resp.StatusCode, resp.Header.Get("sluice-error"))
		}
	}
}
