package proxytest

import (
	"net/netip"
	"strconv"
	"testing"

	"github.com/sluiceproxy/sluice/metrics"
	"github.com/sluiceproxy/sluice/policy"
	"github.com/sluiceproxy/sluice/proxy"
)

// BenchmarkSessionSmall is the user-space work of one keep-alive /small
// request through the session, without sockets: the peers run's request
// (wrk's absolute-form GET) and nginx's response head and 100-byte body,
// with the default policy and the metrics observer, over a pooled upstream.
// It is what sluice does per request beyond a plain relay (bench/gnetrelay),
// less the engine's own bookkeeping.
func BenchmarkSessionSmall(b *testing.B) {
	pol, err := policy.Compile(policy.Config{})
	if err != nil {
		b.Fatal(err)
	}
	m := NewMemDriver(proxy.Config{
		Policy:   pol,
		Observer: metrics.New(metrics.Sources{}),
	}, netip.MustParseAddrPort("127.0.0.1:3128"))
	m.Names["origin.test"] = []netip.Addr{netip.MustParseAddr("192.0.2.10")}
	req := []byte("GET http://origin.test:18080/small HTTP/1.1\r\nHost: origin.test:18080\r\n\r\n")
	body := "origin small response: 0123456789abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWX\n"
	resp := []byte("HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Mon, 07 Dec 2026 12:00:00 GMT\r\n" +
		"Content-Type: text/plain\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\nConnection: keep-alive\r\n\r\n" + body)
	round := func() {
		m.ClientSend(req)
		if m.Up == nil {
			b.Fatalf("no upstream attached; client got %q", m.ClientOut)
		}
		m.Up.Out = m.Up.Out[:0]
		m.UpstreamSend(resp)
		if len(m.ClientOut) == 0 || m.ClientClosed {
			b.Fatalf("client got %q, closed %v", m.ClientOut, m.ClientClosed)
		}
		m.ClientOut = m.ClientOut[:0]
		if len(m.Idle) != 1 || len(m.ClientIn) != 0 {
			b.Fatalf("response not completed: %d idle upstreams, %d client bytes left", len(m.Idle), len(m.ClientIn))
		}
	}
	for range 3 { // the upstream is dialled once, then pooled
		round()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		round()
	}
}
