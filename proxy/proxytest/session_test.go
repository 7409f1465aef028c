package proxytest

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/sluiceproxy/sluice/parser"
	"github.com/sluiceproxy/sluice/policy"
	"github.com/sluiceproxy/sluice/proxy"
)

var originAddr = netip.MustParseAddr("192.0.2.10")

func newMem(t *testing.T) *MemDriver { return newMemConfig(t, proxy.Config{}) }

// newMemConfig is newMem with cfg.
func newMemConfig(t *testing.T, cfg proxy.Config) *MemDriver {
	t.Helper()
	m := NewMemDriver(cfg, netip.MustParseAddrPort("127.0.0.1:3128"))
	m.Names["origin.test"] = []netip.Addr{originAddr}
	return m
}

func send(m *MemDriver, s string)   { m.ClientSend([]byte(s)) }
func upSend(m *MemDriver, s string) { m.UpstreamSend([]byte(s)) }
func takeOut(m *MemDriver) string   { s := string(m.ClientOut); m.ClientOut = nil; return s }
func takeUp(up *MemUpstream) string { s := string(up.Out); up.Out = nil; return s }
func hasStatus(out string, code string) bool {
	return strings.HasPrefix(out, "HTTP/1.1 "+code+" ")
}

func TestSessionAbsoluteFormRewritten(t *testing.T) {
	m := newMem(t)
	send(m, "GET http://origin.test:8080/a?b=c HTTP/1.1\r\nHost: other.test\r\nProxy-Connection: keep-alive\r\nUser-Agent: t\r\n\r\n")
	if m.Up == nil || m.Up.Addr != netip.AddrPortFrom(originAddr, 8080) {
		t.Fatalf("upstream = %+v, want %v:8080", m.Up, originAddr)
	}
	got := takeUp(m.Up)
	if !strings.HasPrefix(got, "GET /a?b=c HTTP/1.1\r\n") || !strings.Contains(got, "\r\nHost: origin.test:8080\r\n") ||
		strings.Contains(got, "other.test") || strings.Contains(got, "Proxy-Connection") || !strings.Contains(got, "Via: 1.1 sluice") {
		t.Fatalf("forwarded head:\n%s", got)
	}
	upSend(m, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
	out := takeOut(m)
	if !hasStatus(out, "200") || !strings.HasSuffix(out, "\r\n\r\nhello") || m.ClientClosed {
		t.Fatalf("client got %q closed=%v", out, m.ClientClosed)
	}
	if len(m.Idle) != 1 || m.Up != nil {
		t.Fatalf("upstream not pooled: idle=%d up=%v", len(m.Idle), m.Up)
	}
}

func TestSessionKeepAliveReusesUpstream(t *testing.T) {
	m := newMem(t)
	for i := 0; i < 100; i++ {
		send(m, "GET /x HTTP/1.1\r\nHost: origin.test\r\n\r\n")
		upSend(m, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		if out := takeOut(m); !strings.HasSuffix(out, "ok") {
			t.Fatalf("request %d: %q", i, out)
		}
	}
	if len(m.Upstreams) != 1 || m.Upstreams[0].Reused != 99 {
		t.Fatalf("dialed %d upstreams, reused %d times", len(m.Upstreams), m.Upstreams[0].Reused)
	}
}

func TestSessionPipelinedInOrder(t *testing.T) {
	m := newMem(t)
	send(m, "GET /1 HTTP/1.1\r\nHost: origin.test\r\n\r\nGET /2 HTTP/1.1\r\nHost: origin.test\r\n\r\n")
	if got := takeUp(m.Up); !strings.HasPrefix(got, "GET /1 ") || strings.Contains(got, "/2") {
		t.Fatalf("second request forwarded before the first response: %q", got)
	}
	upSend(m, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1")
	if got := takeUp(m.Up); !strings.HasPrefix(got, "GET /2 ") {
		t.Fatalf("second request not forwarded after the first response: %q", got)
	}
	upSend(m, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n2")
	out := takeOut(m)
	if i1, i2 := strings.Index(out, "\r\n\r\n1"), strings.Index(out, "\r\n\r\n2"); i1 < 0 || i2 < i1 {
		t.Fatalf("responses out of order: %q", out)
	}
}

func TestSessionChunkedBothWays(t *testing.T) {
	m := newMem(t)
	send(m, "POST /up HTTP/1.1\r\nHost: origin.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
	send(m, "0\r\n\r\n")
	got := takeUp(m.Up)
	if !strings.HasSuffix(got, "\r\n\r\n5\r\nhello\r\n0\r\n\r\n") || !strings.Contains(got, "Transfer-Encoding: chunked") {
		t.Fatalf("forwarded: %q", got)
	}
	upSend(m, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
	if out := takeOut(m); !strings.HasSuffix(out, "3\r\nabc\r\n0\r\n\r\n") || m.ClientClosed {
		t.Fatalf("client got %q", out)
	}
	if len(m.Idle) != 1 {
		t.Fatal("upstream not pooled after chunked exchange")
	}
}

func TestSessionHTTP10ClientGetsNoChunked(t *testing.T) {
	m := newMem(t)
	send(m, "GET http://origin.test/ HTTP/1.0\r\n\r\n")
	upSend(m, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
	out := takeOut(m)
	if strings.Contains(strings.ToLower(out), "chunked") || !strings.HasSuffix(out, "\r\n\r\nabcde") || !m.ClientClosed {
		t.Fatalf("HTTP/1.0 client got %q (closed=%v)", out, m.ClientClosed)
	}
}

func TestSessionHTTP10KeepAlive(t *testing.T) {
	m := newMem(t)
	send(m, "GET http://origin.test/ HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
	upSend(m, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx")
	out := takeOut(m)
	if !strings.Contains(out, "Connection: keep-alive\r\n") || m.ClientClosed {
		t.Fatalf("HTTP/1.0 keep-alive client got %q closed=%v", out, m.ClientClosed)
	}
}

func TestSessionHeadAnd204And304(t *testing.T) {
	m := newMem(t)
	send(m, "HEAD / HTTP/1.1\r\nHost: origin.test\r\n\r\n")
	upSend(m, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
	if out := takeOut(m); !strings.Contains(out, "Content-Length: 1000") || len(m.Idle) != 1 {
		t.Fatalf("HEAD: %q idle=%d", out, len(m.Idle))
	}
	for _, st := range []string{"204 No Content", "304 Not Modified"} {
		send(m, "GET / HTTP/1.1\r\nHost: origin.test\r\n\r\n")
		upSend(m, "HTTP/1.1 "+st+"\r\n\r\n")
		if out := takeOut(m); !strings.HasPrefix(out, "HTTP/1.1 "+st) || m.ClientClosed || len(m.Idle) != 1 {
			t.Fatalf("%s: %q", st, out)
		}
	}
}

func TestSessionInterimResponses(t *testing.T) {
	m := newMem(t)
	send(m, "POST / HTTP/1.1\r\nHost: origin.test\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n")
	upSend(m, "HTTP/1.1 100 Continue\r\n\r\n")
	if out := takeOut(m); !hasStatus(out, "100") {
		t.Fatalf("100 not relayed: %q", out)
	}
	send(m, "abc")
	if got := takeUp(m.Up); !strings.HasSuffix(got, "\r\n\r\nabc") {
		t.Fatalf("body not forwarded: %q", got)
	}
	upSend(m, "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
	out := takeOut(m)
	if !hasStatus(out, "103") || !strings.Contains(out, "HTTP/1.1 201 Created") {
		t.Fatalf("103 + 201: %q", out)
	}
}

func TestSessionErrors(t *testing.T) {
	cases := []struct {
		name, req, status, detail string
		setup                     func(*MemDriver)
	}{
		{"malformed", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", "400", "", nil},
		{"version", "GET / HTTP/2.0\r\nHost: origin.test\r\n\r\n", "505", "", nil},
		{"unresolvable", "GET http://nx.invalid/ HTTP/1.1\r\nHost: nx.invalid\r\n\r\n", "503", "DNS name not found", nil},
		{"no host", "GET / HTTP/1.0\r\n\r\n", "400", "no destination", nil},
		{"refused", "GET http://origin.test/ HTTP/1.1\r\n\r\n", "502", "refused", func(m *MemDriver) {
			m.RefuseDial[netip.AddrPortFrom(originAddr, 80)] = true
		}},
		{"loop", "GET http://127.0.0.1:3128/ HTTP/1.1\r\n\r\n", "508", "loop", nil},
		{"https absolute", "GET https://origin.test/ HTTP/1.1\r\n\r\n", "501", "TLS", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := newMem(t)
			if tc.setup != nil {
				tc.setup(m)
			}
			send(m, tc.req)
			out := takeOut(m)
			if !hasStatus(out, tc.status) || !strings.Contains(out, "sluice-error: ") || !strings.Contains(out, tc.detail) {
				t.Fatalf("got %q, want %s with %q", out, tc.status, tc.detail)
			}
			for _, up := range m.Upstreams {
				if len(up.Out) > 0 {
					t.Fatalf("a rejected request reached the upstream: %q", up.Out)
				}
			}
		})
	}
}

func TestSessionTriesNextAddress(t *testing.T) {
	m := newMem(t)
	second := netip.MustParseAddr("192.0.2.11")
	m.Names["multi.test"] = []netip.Addr{originAddr, second}
	m.RefuseDial[netip.AddrPortFrom(originAddr, 80)] = true
	send(m, "GET http://multi.test/ HTTP/1.1\r\n\r\n")
	if m.Up == nil || m.Up.Addr.Addr() != second || !strings.HasPrefix(string(m.Up.Out), "GET / ") {
		t.Fatalf("did not fall over to the second address: %+v", m.Up)
	}
}

func TestSessionAsyncDNS(t *testing.T) {
	m := newMem(t)
	m.AsyncDNS = true
	send(m, "GET http://origin.test/ HTTP/1.1\r\n\r\nGET http://origin.test/2 HTTP/1.1\r\n\r\n")
	if m.Up != nil || m.Resolves != 1 {
		t.Fatalf("connected before DNS answered (resolves=%d)", m.Resolves)
	}
	m.ResolveAll()
	if m.Up == nil || !strings.HasPrefix(string(m.Up.Out), "GET / ") {
		t.Fatal("no request after DNS answered")
	}
}

func TestSessionRetryIdempotentOnReusedConn(t *testing.T) {
	m := newMem(t)
	send(m, "GET / HTTP/1.1\r\nHost: origin.test\r\n\r\n")
	upSend(m, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	takeOut(m)
	send(m, "GET /again HTTP/1.1\r\nHost: origin.test\r\n\r\n")
	if m.Up == nil || m.Up.Reused != 1 {
		t.Fatal("second request did not reuse the pooled connection")
	}
	m.UpstreamHangup() // the stale connection closes before answering
	if len(m.Upstreams) != 2 || m.Up == nil || !strings.HasPrefix(string(m.Up.Out), "GET /again ") {
		t.Fatalf("not retried on a fresh connection: %d upstreams", len(m.Upstreams))
	}
	upSend(m, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	if out := takeOut(m); !hasStatus(out, "200") {
		t.Fatalf("after retry: %q", out)
	}
	// A POST is not retried.
	send(m, "POST / HTTP/1.1\r\nHost: origin.test\r\nContent-Length: 1\r\n\r\nx")
	m.UpstreamHangup()
	if out := takeOut(m); !hasStatus(out, "502") || len(m.Upstreams) != 2 {
		t.Fatalf("POST on a closed reused connection: %q (%d upstreams)", out, len(m.Upstreams))
	}
}

func TestSessionUpstreamResetMidResponse(t *testing.T) {
	m := newMem(t)
	send(m, "GET / HTTP/1.1\r\nHost: origin.test\r\n\r\n")
	upSend(m, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
	m.UpstreamHangup()
	if !m.ClientClosed {
		t.Fatal("client kept open after a cut response")
	}
}

func TestSessionCloseDelimitedResponse(t *testing.T) {
	m := newMem(t)
	send(m, "GET / HTTP/1.1\r\nHost: origin.test\r\n\r\n")
	upSend(m, "HTTP/1.1 200 OK\r\n\r\nsome bytes")
	m.UpstreamHangup()
	out := takeOut(m)
	if !strings.HasSuffix(out, "some bytes") || !strings.Contains(out, "Connection: close") || !m.ClientClosed {
		t.Fatalf("close-delimited: %q closed=%v", out, m.ClientClosed)
	}
}

func TestSessionTimeouts(t *testing.T) {
	t.Run("idle", func(t *testing.T) {
		m := newMem(t)
		m.Advance(proxy.DefaultIdleTimeout)
		if !m.ClientClosed || len(m.ClientOut) != 0 {
			t.Fatal("idle client not closed silently")
		}
	})
	t.Run("head", func(t *testing.T) {
		m := newMem(t)
		send(m, "GET / HTTP/1.1\r\nHost: ori")
		m.Advance(proxy.DefaultHeadTimeout)
		if out := takeOut(m); !hasStatus(out, "408") || !m.ClientClosed {
			t.Fatalf("slow head: %q", out)
		}
	})
	t.Run("response", func(t *testing.T) {
		m := newMem(t)
		send(m, "GET / HTTP/1.1\r\nHost: origin.test\r\n\r\n")
		m.Advance(proxy.DefaultResponseTimeout)
		if out := takeOut(m); !hasStatus(out, "504") {
			t.Fatalf("silent upstream: %q", out)
		}
		if len(m.Idle) != 0 {
			t.Fatal("timed-out upstream pooled")
		}
	})
}

func TestSessionRewriteHeader(t *testing.T) {
	m := NewMemDriver(proxy.Config{RewriteHeader: "X-Target"})
	m.Names["origin.test"] = []netip.Addr{originAddr}
	send(m, "GET /p HTTP/1.1\r\nHost: front.test\r\nX-Target: origin.test:9000, ignored.test\r\n\r\n")
	if m.Up == nil || m.Up.Addr != netip.AddrPortFrom(originAddr, 9000) {
		t.Fatalf("rewrite header ignored: %+v", m.Up)
	}
	if got := string(m.Up.Out); !strings.Contains(got, "\r\nHost: origin.test:9000\r\n") {
		t.Fatalf("Host not rewritten: %q", got)
	}
}

func TestSessionClientHangupDropsUpstream(t *testing.T) {
	m := newMem(t)
	send(m, "POST / HTTP/1.1\r\nHost: origin.test\r\nContent-Length: 10\r\n\r\nabc")
	up := m.Up
	m.ClientHangup()
	if !up.Closed || len(m.Idle) != 0 {
		t.Fatal("upstream of an abandoned request was not closed")
	}
}

// steadyRound returns one keep-alive exchange of req and a 2-byte response
// over m's pooled upstream, leaving no output behind (for AllocsPerRun).
func steadyRound(t *testing.T, m *MemDriver, req []byte) func() {
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	return func() {
		m.ClientSend(req)
		m.UpstreamSend(resp)
		if !bytes.HasSuffix(m.ClientOut, []byte("ok")) {
			t.Fatalf("bad response %q", m.ClientOut)
		}
		m.ClientOut = m.ClientOut[:0]
		m.Idle[0].Out = m.Idle[0].Out[:0]
	}
}

func TestSessionSteadyStateAllocs(t *testing.T) {
	m := newMem(t)
	req := []byte("GET /x HTTP/1.1\r\nHost: origin.test\r\nUser-Agent: bench\r\n\r\n")
	round := steadyRound(t, m, req)
	for i := 0; i < 10; i++ {
		round()
	}
	if len(m.Upstreams) != 1 {
		t.Fatal("warm-up did not reuse the connection")
	}
	if allocs := testing.AllocsPerRun(200, round); allocs != 0 {
		t.Fatalf("a proxied request allocates %v times in the session", allocs)
	}
}

func TestSessionConnectTunnel(t *testing.T) {
	m := newMem(t)
	m.Config.ConnectPortAllowed = func(p uint16) bool { return p == 443 || p == 8443 }
	send(m, "CONNECT origin.test:8443 HTTP/1.1\r\nHost: origin.test:8443\r\n\r\nPIPELINED")
	tn := m.Tunneled
	if tn == nil || tn.Up == nil || tn.Up.Addr != netip.AddrPortFrom(originAddr, 8443) {
		t.Fatalf("no tunnel to origin.test:8443: %+v", tn)
	}
	if string(tn.ToClient) != "HTTP/1.1 200 Connection established\r\n\r\n" || string(tn.ToUpstream) != "PIPELINED" {
		t.Fatalf("tunnel carries %q / %q", tn.ToClient, tn.ToUpstream)
	}
	if len(tn.Up.Out) != 0 {
		t.Fatalf("bytes written upstream before the tunnel: %q", tn.Up.Out)
	}
}

func TestSessionConnectDenied(t *testing.T) {
	m := newMem(t)
	send(m, "CONNECT origin.test:22 HTTP/1.1\r\nHost: origin.test:22\r\n\r\nSSH-2.0")
	if out := takeOut(m); !hasStatus(out, "403") || !m.ClientClosed || len(m.Upstreams) != 0 {
		t.Fatalf("CONNECT to port 22: %q closed=%v dials=%d", out, m.ClientClosed, len(m.Upstreams))
	}
}

func TestSessionUpgrade(t *testing.T) {
	m := newMem(t)
	send(m, "GET /ws HTTP/1.1\r\nHost: origin.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
	if got := takeUp(m.Up); !strings.Contains(got, "Upgrade: websocket") || !strings.Contains(strings.ToLower(got), "connection: upgrade") {
		t.Fatalf("Upgrade not forwarded: %q", got)
	}
	upSend(m, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nFRAME")
	tn := m.Tunneled
	if tn == nil || !strings.HasPrefix(string(tn.ToClient), "HTTP/1.1 101 ") || !strings.HasSuffix(string(tn.ToClient), "\r\n\r\nFRAME") {
		t.Fatalf("101 did not start a tunnel: %+v", tn)
	}
	// Without Upgrade in the request a 101 is a protocol error.
	m2 := newMem(t)
	send(m2, "GET / HTTP/1.1\r\nHost: origin.test\r\n\r\n")
	upSend(m2, "HTTP/1.1 101 Switching Protocols\r\n\r\n")
	if out := takeOut(m2); !hasStatus(out, "502") || m2.Tunneled != nil {
		t.Fatalf("unsolicited 101: %q", out)
	}
}

// TestSessionSteadyStateAllocsWithPolicy: the policy checks of an allowed
// request (100 rules, rate limits) add no allocation to a proxied request.
func TestSessionSteadyStateAllocsWithPolicy(t *testing.T) {
	var rules []policy.Rule
	for i := 0; i < 99; i++ {
		rules = append(rules, policy.Rule{Hosts: []string{fmt.Sprintf("h%d.example", i)}, Action: "deny"})
	}
	rules = append(rules, policy.Rule{Name: "origin", Hosts: []string{".test"}, Ports: "80", Action: "allow"})
	p, err := policy.Compile(policy.Config{
		Rules: rules, DefaultAction: "deny",
		RateLimits: policy.RateLimits{PerClient: policy.RateLimit{RPS: 1e9, Burst: 1e6}},
	})
	if err != nil {
		t.Fatal(err)
	}
	m := NewMemDriver(proxy.Config{Policy: p})
	m.Names["origin.test"] = []netip.Addr{originAddr}
	req := []byte("GET /x HTTP/1.1\r\nHost: origin.test\r\n\r\n")
	round := steadyRound(t, m, req)
	for i := 0; i < 10; i++ {
		round()
	}
	if allocs := testing.AllocsPerRun(200, round); allocs != 0 {
		t.Fatalf("a proxied request with the policy allocates %v times", allocs)
	}
}

// TestSessionSpliceAbove: a response body with more than SpliceAbove left
// goes to stream mode once the client has drained what was relayed, and not
// before; a smaller one, or with SpliceAbove -1, stays in loop mode.
func TestSessionSpliceAbove(t *testing.T) {
	for _, tc := range []struct {
		name        string
		spliceAbove int
		length      int
		drained     bool
		want        bool
	}{
		{"large drained", 1000, 5000, true, true},
		{"large, client not drained", 1000, 5000, false, false},
		{"small", 1000, 900, true, false},
		{"off", -1, 5000, true, false},
		{"default: never", 0, 64 << 20, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newMemConfig(t, proxy.Config{SpliceAbove: tc.spliceAbove, StreamThreshold: 10})
			m.ClientDrained = tc.drained
			send(m, "GET http://origin.test/big HTTP/1.1\r\nHost: origin.test\r\n\r\n")
			upSend(m, fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n0123456789", tc.length))
			if got := len(m.Streams) == 1; got != tc.want {
				t.Fatalf("streamed: %v, want %v (streams %+v)", got, tc.want, m.Streams)
			}
			if !tc.want {
				return
			}
			if s := m.Streams[0]; !s.ToClient || s.Framing != parser.FramingLength || s.Remain != int64(tc.length-10) {
				t.Fatalf("stream spec %+v, want the response's last %d bytes", s, tc.length-10)
			}
			if out := takeOut(m); !hasStatus(out, "200") || !strings.HasSuffix(out, "\r\n\r\n0123456789") {
				t.Fatalf("client got %q before the stream", out)
			}
		})
	}
}

// TestMemDriverAutoStream: with AutoStream the in-memory driver moves a
// streamed body as the stream job does: a response body and a chunked
// request body in stream mode arrive whole, the request pipelined behind the
// upload stays with the client, and the pooled upstream is reused.
func TestMemDriverAutoStream(t *testing.T) {
	m := newMemConfig(t, proxy.Config{StreamThreshold: 4})
	m.AutoStream = true
	m.BehindClient, m.BehindUpstream = true, true
	send(m, "GET http://origin.test/a HTTP/1.1\r\nHost: origin.test\r\n\r\n")
	up := m.Up
	upSend(m, "HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n0123456")
	upSend(m, "789abcdefghij")
	if out := takeOut(m); !hasStatus(out, "200") || !strings.HasSuffix(out, "0123456789abcdefghij") || len(m.Streams) != 1 {
		t.Fatalf("streamed response: %q (streams %d)", out, len(m.Streams))
	}
	takeUp(up)
	send(m, "POST http://origin.test/u HTTP/1.1\r\nHost: origin.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
	send(m, "6\r\n world\r\n0\r\n\r\nGET http://origin.test/next HTTP/1.1\r\nHost: origin.test\r\n\r\n")
	if got := takeUp(up); !strings.HasSuffix(got, "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n") || len(m.Streams) != 2 || m.Streams[1].ToClient {
		t.Fatalf("streamed upload: %q (streams %d)", got, len(m.Streams))
	}
	upSend(m, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
	if out := takeOut(m); !hasStatus(out, "201") {
		t.Fatalf("response to the upload: %q", out)
	}
	if got := takeUp(up); !strings.HasPrefix(got, "GET /next HTTP/1.1\r\n") || up.Reused != 2 {
		t.Fatalf("pipelined request after the upload: %q (reused %d)", got, up.Reused)
	}
}
