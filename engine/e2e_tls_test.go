package engine

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluiceproxy/sluice/internal/testcert"
	"github.com/sluiceproxy/sluice/policy"
	"github.com/sluiceproxy/sluice/proxy"
)

// TLS origination end to end: plain HTTP from the client, TLS from the
// proxy to an origin whose certificate a CA of the test's own issued
// (tlsorigin_test.go), over real sockets, on both engines.

// tlsEnv is a proxy that originates TLS to o's port, verifying against ca.
func tlsEnv(t *testing.T, ca *testcert.CA, o *tlsOrigin, cfg Config) *env {
	t.Helper()
	cfg.TLSOrigination.RootCAs = ca.Pool()
	if cfg.TLSOrigination.Ports == nil {
		cfg.TLSOrigination.Ports = []uint16{uint16(o.port)}
	}
	e := newEnv(t, cfg)
	for _, n := range []string{"other.test", "alias.test", "plain.test", "secure.test"} {
		e.dns.Set(n, 60, "127.0.0.1")
	}
	return e
}

// simpleTLS starts an origin with a valid certificate for names, and a
// proxy originating TLS to its port, and returns a client connection to
// the proxy.
func simpleTLS(t *testing.T, names ...string) (*tlsOrigin, *env, net.Conn, *bufio.Reader) {
	t.Helper()
	ca := testcert.NewCA(t)
	o := startTLSOrigin(t, ca.Leaf(t, names...), tlsHandler())
	e := tlsEnv(t, ca, o, Config{})
	c, br := e.raw()
	return o, e, c, br
}

// do sends req on conn c and reads the response.
func do(t *testing.T, c net.Conn, br *bufio.Reader, req string) (*http.Response, string) {
	t.Helper()
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	return readResponse(t, br, strings.Fields(req)[0])
}

// TestTLSOriginationGood: an https absolute-form request to a port TLS
// origination covers goes out over TLS, with the destination as SNI, ALPN
// http/1.1 and TLS 1.2 at least, and is answered 200 with the origin's body.
func TestTLSOriginationGood(t *testing.T) { forEngines(t, testTLSOriginationGood) }

func testTLSOriginationGood(t *testing.T) {
	o, e, c, br := simpleTLS(t, "origin.test")
	resp, body := do(t, c, br, fmt.Sprintf("GET https://origin.test:%d/tls HTTP/1.1\r\nHost: origin.test:%d\r\n\r\n", o.port, o.port))
	want := fmt.Sprintf("tls=true sni=origin.test alpn=http/1.1 version=304 host=origin.test:%d", o.port)
	if resp.StatusCode != 200 || body != want {
		t.Fatalf("%d %q, want 200 %q", resp.StatusCode, body, want)
	}
	if h := o.hello(); len(h.SupportedProtos) != 1 || h.SupportedProtos[0] != "http/1.1" || h.SupportedVersions[len(h.SupportedVersions)-1] < 0x0303 {
		t.Fatalf("ClientHello offered ALPN %q, versions %x", h.SupportedProtos, h.SupportedVersions)
	}
	// A plain-HTTP request to the same port is originated as well, and
	// rides the same (pooled) connection.
	resp, body = do(t, c, br, fmt.Sprintf("GET http://origin.test:%d/small HTTP/1.1\r\nHost: origin.test:%d\r\n\r\n", o.port, o.port))
	if resp.StatusCode != 200 || body != strings.Repeat("s", 100) {
		t.Fatalf("plain request to the TLS port: %d %q", resp.StatusCode, body)
	}
	if n := o.tlsIn.Load(); n != 1 || o.plain.Load() != 0 {
		t.Fatalf("origin saw %d TLS and %d plain connections, want 1 and 0", n, o.plain.Load())
	}
	if ctr := e.srv.Counters(); ctr.TLSHandshakes != 1 || ctr.TLSErrors != 0 {
		t.Fatalf("counters: %d handshakes, %d errors", ctr.TLSHandshakes, ctr.TLSErrors)
	}
}

// TestTLSOriginationVerifyFails: a certificate for another name, an
// expired one, or one from a CA the proxy does not trust is a 502 whose
// sluice-error says why; the access log's record and the proxy's log say
// it too, and nothing reaches the origin's handler.
func TestTLSOriginationVerifyFails(t *testing.T) { forEngines(t, testTLSOriginationVerifyFails) }

func testTLSOriginationVerifyFails(t *testing.T) {
	ca := testcert.NewCA(t)
	stranger := testcert.NewCA(t)
	past := time.Now().Add(-48 * time.Hour)
	for _, tc := range []struct {
		name   string
		cert   tls.Certificate
		detail string // the start of sluice-error
	}{
		{"wrong host", ca.Leaf(t, "other.test"), "upstream TLS: x509: certificate is valid for other.test, not origin.test"},
		{"expired", ca.LeafValid(t, past, past.Add(time.Hour), "origin.test"), "upstream TLS: x509: certificate has expired or is not yet valid: "},
		{"unknown CA", stranger.Leaf(t, "origin.test"), "upstream TLS: x509: certificate signed by unknown authority"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var handled atomic.Int64
			o := startTLSOrigin(t, tc.cert, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { handled.Add(1) }))
			obs := &recorder{}
			var logBuf syncBuffer
			e := tlsEnv(t, ca, o, Config{Observer: obs, Logger: slog.New(slog.NewTextHandler(&logBuf, nil))})
			c, br := e.raw()
			resp, body := do(t, c, br, fmt.Sprintf("GET https://origin.test:%d/ HTTP/1.1\r\n\r\n", o.port))
			detail := resp.Header.Get("sluice-error")
			if resp.StatusCode != 502 || !strings.HasPrefix(detail, tc.detail) || !strings.Contains(body, tc.detail) {
				t.Fatalf("%d %q (body %q), want 502 %q", resp.StatusCode, detail, body, tc.detail)
			}
			if recs := obs.wait(t, 1); recs[0].errDetail != detail || recs[0].status != 502 {
				t.Fatalf("access record %+v, want error %q", recs[0], detail)
			}
			if log := logBuf.String(); !strings.Contains(log, "upstream TLS handshake failed") || !strings.Contains(log, "host=origin.test") {
				t.Fatalf("log: %s", log)
			}
			if handled.Load() != 0 {
				t.Fatal("the origin's handler ran")
			}
			if ctr := e.srv.Counters(); ctr.TLSErrors != 1 || ctr.TLSHandshakes != 0 || ctr.FDsUsed != 1 {
				t.Fatalf("counters: %d errors, %d handshakes, %d fds used (want 1: the client)", ctr.TLSErrors, ctr.TLSHandshakes, ctr.FDsUsed)
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe for a logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestTLSOriginationPooled: sequential keep-alive requests share one TLS
// connection (one handshake at the origin), also those of later clients of
// the same loop (the pool is per loop), and the fd budget counts what it
// holds: the loop's socket, the bridge's end and the TCP socket.
func TestTLSOriginationPooled(t *testing.T) { forEngines(t, testTLSOriginationPooled) }

func testTLSOriginationPooled(t *testing.T) {
	ca := testcert.NewCA(t)
	o := startTLSOrigin(t, ca.Leaf(t, "origin.test"), tlsHandler())
	e := tlsEnv(t, ca, o, Config{Loops: 1})
	const n = 50
	req := fmt.Sprintf("GET http://origin.test:%d/small HTTP/1.1\r\n\r\n", o.port)
	c, br := e.raw()
	for i := range n {
		resp, body := do(t, c, br, req)
		if resp.StatusCode != 200 || len(body) != 100 {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, body)
		}
		if i == 0 {
			if used := e.srv.Counters().FDsUsed; used != 1+1+bridgeFDs {
				t.Fatalf("fds used %d with one client and one TLS upstream, want %d", used, 1+1+bridgeFDs)
			}
		}
	}
	c.Close()
	for i := range 5 {
		c, br := e.raw()
		if resp, _ := do(t, c, br, req); resp.StatusCode != 200 {
			t.Fatalf("client %d: %d", i, resp.StatusCode)
		}
		c.Close()
	}
	if h := o.hellos.Load(); h != 1 || o.tlsIn.Load() != 1 {
		t.Fatalf("%d requests: %d handshakes, %d TLS connections at the origin; want 1 and 1", n+5, h, o.tlsIn.Load())
	}
	if ctr := e.srv.Counters(); ctr.PoolHits != n+5-1 || ctr.TLSHandshakes != 1 {
		t.Fatalf("pool hits %d, handshakes %d", ctr.PoolHits, ctr.TLSHandshakes)
	}
}

// TestTLSOriginationPoolKeys: plain and TLS connections to one address are
// never mixed, nor TLS connections verified for different names: a rule
// sends origin.test and alias.test over TLS, plain.test (the same address)
// goes plain, and each kind reuses only its own connection.
func TestTLSOriginationPoolKeys(t *testing.T) { forEngines(t, testTLSOriginationPoolKeys) }

func testTLSOriginationPoolKeys(t *testing.T) {
	ca := testcert.NewCA(t)
	o := startTLSOrigin(t, ca.Leaf(t, "origin.test", "alias.test"), tlsHandler())
	e := tlsEnv(t, ca, o, Config{
		TLSOrigination: proxy.TLSOrigination{Ports: []uint16{}},
		Policy: withPolicy(t, policy.Config{Rules: []policy.Rule{
			{Name: "tls", Hosts: []string{"origin.test", "alias.test"}, UpstreamTLS: true, Action: "allow"},
		}}),
	})
	c, br := e.raw()
	for round := range 2 {
		for _, tc := range []struct{ host, want string }{
			{"origin.test", "tls=true sni=origin.test"},
			{"plain.test", "tls=false host=plain.test"},
			{"alias.test", "tls=true sni=alias.test"},
		} {
			resp, body := do(t, c, br, fmt.Sprintf("GET http://%s:%d/tls HTTP/1.1\r\n\r\n", tc.host, o.port))
			if resp.StatusCode != 200 || !strings.HasPrefix(body, tc.want) {
				t.Fatalf("round %d, %s: %d %q, want %q", round, tc.host, resp.StatusCode, body, tc.want)
			}
		}
	}
	if o.tlsIn.Load() != 2 || o.plain.Load() != 1 {
		t.Fatalf("origin saw %d TLS connections (want 2: one per name) and %d plain (want 1)", o.tlsIn.Load(), o.plain.Load())
	}
}

// TestTLSOriginationRefused: without origination for its port, an https
// absolute-form request is still 501, and nothing is dialed.
func TestTLSOriginationRefused(t *testing.T) { forEngines(t, testTLSOriginationRefused) }

func testTLSOriginationRefused(t *testing.T) {
	ca := testcert.NewCA(t)
	o := startTLSOrigin(t, ca.Leaf(t, "origin.test"), tlsHandler())
	e := tlsEnv(t, ca, o, Config{TLSOrigination: proxy.TLSOrigination{Ports: []uint16{443}}})
	c, br := e.raw()
	resp, _ := do(t, c, br, fmt.Sprintf("GET https://origin.test:%d/tls HTTP/1.1\r\n\r\n", o.port))
	if resp.StatusCode != 501 || resp.Header.Get("sluice-error") != proxy.ErrTLSOrigination.Detail {
		t.Fatalf("%d %q", resp.StatusCode, resp.Header.Get("sluice-error"))
	}
	if o.tlsIn.Load()+o.plain.Load() != 0 || e.srv.Counters().Dials != 0 {
		t.Fatal("a refused request was dialed")
	}
}

// TestTLSOriginationRule: a rule with upstream_tls sends the requests it
// allows over TLS to the port they name; another rule's requests to the
// same origin go plain.
func TestTLSOriginationRule(t *testing.T) { forEngines(t, testTLSOriginationRule) }

func testTLSOriginationRule(t *testing.T) {
	ca := testcert.NewCA(t)
	o := startTLSOrigin(t, ca.Leaf(t, "secure.test"), tlsHandler())
	e := tlsEnv(t, ca, o, Config{
		TLSOrigination: proxy.TLSOrigination{Ports: []uint16{}},
		Policy: withPolicy(t, policy.Config{Rules: []policy.Rule{
			{Name: "secure", Hosts: []string{"secure.test"}, UpstreamTLS: true, Action: "allow"},
			{Name: "rest", Action: "allow"},
		}}),
	})
	for _, tc := range []struct{ host, want string }{
		{"secure.test", "tls=true sni=secure.test"},
		{"plain.test", "tls=false"},
	} {
		r, got := e.getURL(fmt.Sprintf("http://%s:%d/tls", tc.host, o.port))
		if r.StatusCode != 200 || !strings.HasPrefix(got, tc.want) {
			t.Fatalf("%s: %d %q, want %q", tc.host, r.StatusCode, got, tc.want)
		}
	}
}

// TestTLSOriginationIPLiteral: an IP literal destination is verified
// against the certificate's IP addresses and sends no SNI.
func TestTLSOriginationIPLiteral(t *testing.T) { forEngines(t, testTLSOriginationIPLiteral) }

func testTLSOriginationIPLiteral(t *testing.T) {
	o, _, c, br := simpleTLS(t, "127.0.0.1")
	resp, body := do(t, c, br, fmt.Sprintf("GET https://127.0.0.1:%d/tls HTTP/1.1\r\n\r\n", o.port))
	if want := "tls=true sni= alpn=http/1.1"; resp.StatusCode != 200 || !strings.HasPrefix(body, want) {
		t.Fatalf("%d %q, want %q", resp.StatusCode, body, want)
	}
	// The same address by a name the certificate does not hold is refused.
	resp, _ = do(t, c, br, fmt.Sprintf("GET https://origin.test:%d/tls HTTP/1.1\r\n\r\n", o.port))
	if d := resp.Header.Get("sluice-error"); resp.StatusCode != 502 || !strings.Contains(d, "x509: certificate is not valid for any names, but wanted to match origin.test") {
		t.Fatalf("%d %q", resp.StatusCode, d)
	}
}

// TestTLSOriginationStream: bodies too big for loop mode go to stream
// mode through the bridge's socket (splice on a Unix socket) and arrive
// whole, both ways, and the connection is pooled again afterwards.
func TestTLSOriginationStream(t *testing.T) { forEngines(t, testTLSOriginationStream) }

func testTLSOriginationStream(t *testing.T) {
	ca := testcert.NewCA(t)
	big := bytes.Repeat([]byte("0123456789abcdef"), 256<<10) // 4 MiB
	mux := tlsHandler().(*http.ServeMux)
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(len(big)))
		_, _ = w.Write(big)
	})
	o := startTLSOrigin(t, ca.Leaf(t, "origin.test"), mux)
	e := tlsEnv(t, ca, o, Config{Loops: 1})
	base := fmt.Sprintf("http://origin.test:%d", o.port)
	for i := range 3 {
		r, err := e.client.Get(base + "/big")
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil || !bytes.Equal(got, big) {
			t.Fatalf("download %d: %d bytes, err %v", i, len(got), err)
		}
		r, err = e.client.Post(base+"/echo", "application/octet-stream", bytes.NewReader(big))
		if err != nil {
			t.Fatal(err)
		}
		got, err = io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil || !bytes.Equal(got, big) {
			t.Fatalf("upload %d: echoed %d bytes, err %v", i, len(got), err)
		}
	}
	if ctr := e.srv.Counters(); ctr.StreamsStarted == 0 || ctr.TLSHandshakes != 1 {
		t.Fatalf("streams %d, handshakes %d: want streams, and one connection throughout", ctr.StreamsStarted, ctr.TLSHandshakes)
	}
}

// TestTLSOriginationCloseDelimited: a response whose body ends with the
// connection (no length) arrives whole: the origin's close reaches the
// loop as EOF after the last byte.
func TestTLSOriginationCloseDelimited(t *testing.T) { forEngines(t, testTLSOriginationCloseDelimited) }

func testTLSOriginationCloseDelimited(t *testing.T) {
	ca := testcert.NewCA(t)
	body := strings.Repeat("close-delimited;", 10000)
	mux := tlsHandler().(*http.ServeMux)
	mux.HandleFunc("/close", func(w http.ResponseWriter, r *http.Request) {
		c, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		brw.WriteString("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + body)
		brw.Flush()
	})
	o := startTLSOrigin(t, ca.Leaf(t, "origin.test"), mux)
	e := tlsEnv(t, ca, o, Config{})
	c, br := e.raw()
	resp, got := do(t, c, br, fmt.Sprintf("GET http://origin.test:%d/close HTTP/1.1\r\n\r\n", o.port))
	if resp.StatusCode != 200 || got != body {
		t.Fatalf("%d, %d bytes of %d", resp.StatusCode, len(got), len(body))
	}
}

// TestTLSOriginationCloses: when the origin closes an idle pooled TLS
// connection, and when the proxy does (its idle timeout), the other side
// learns of it and the bridge ends: its goroutines and descriptors are
// gone, and the fd budget is back where it was.
func TestTLSOriginationCloses(t *testing.T) { forEngines(t, testTLSOriginationCloses) }

func testTLSOriginationCloses(t *testing.T) {
	ca := testcert.NewCA(t)
	cert := ca.Leaf(t, "origin.test")
	t.Run("origin closes", func(t *testing.T) {
		o := startTLSOrigin(t, cert, tlsHandler(), func(s *http.Server) { s.IdleTimeout = 200 * time.Millisecond })
		e := tlsEnv(t, ca, o, Config{})
		fds, goroutines := e.baseline()
		used := e.srv.Counters().FDsUsed
		if _, body := e.getURL(fmt.Sprintf("http://origin.test:%d/small", o.port)); len(body) != 100 {
			t.Fatalf("body %q", body)
		}
		e.client.CloseIdleConnections()
		waitFor(t, "the origin to close its idle connection", func() bool { return o.closed.Load() == 1 })
		settleCounts(t, fds, goroutines)
		waitFor(t, "the fd budget to come back", func() bool { return e.srv.Counters().FDsUsed == used })
	})
	t.Run("proxy closes", func(t *testing.T) {
		o := startTLSOrigin(t, cert, tlsHandler())
		e := tlsEnv(t, ca, o, Config{UpstreamIdle: 300 * time.Millisecond})
		fds, goroutines := e.baseline()
		if _, body := e.getURL(fmt.Sprintf("http://origin.test:%d/small", o.port)); len(body) != 100 {
			t.Fatalf("body %q", body)
		}
		e.client.CloseIdleConnections()
		waitFor(t, "the origin to see the connection close", func() bool { return o.closed.Load() == 1 })
		settleCounts(t, fds, goroutines)
		waitFor(t, "the fd budget to come back", func() bool { return e.srv.Counters().FDsUsed == 0 })
	})
}

// waitFor polls cond for up to 5 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestTLSOriginationTunnelHalfClose: an upgraded connection over TLS
// origination is a tunnel through the bridge; the client's half-close
// reaches the origin (close_notify and FIN), whose last bytes and close
// come back to the client.
func TestTLSOriginationTunnelHalfClose(t *testing.T) {
	forEngines(t, testTLSOriginationTunnelHalfClose)
}

func testTLSOriginationTunnelHalfClose(t *testing.T) {
	ca := testcert.NewCA(t)
	mux := tlsHandler().(*http.ServeMux)
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		c, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		brw.Flush()
		got, err := io.ReadAll(brw) // until the client's half-close
		if err != nil {
			return
		}
		brw.WriteString("got:" + string(got))
		brw.Flush()
	})
	o := startTLSOrigin(t, ca.Leaf(t, "origin.test"), mux)
	e := tlsEnv(t, ca, o, Config{})
	c, br := e.raw()
	io.WriteString(c, fmt.Sprintf("GET http://origin.test:%d/ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", o.port))
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	io.WriteString(c, "hello")
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(br)
	if err != nil || string(rest) != "got:hello" {
		t.Fatalf("after the half-close: %q %v", rest, err)
	}
}
