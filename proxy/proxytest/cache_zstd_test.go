package proxytest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sluiceproxy/sluice/cache"
	"github.com/sluiceproxy/sluice/proxy"
)

// A hit on a big kept-compressed entry for a client that does not accept
// zstd waits for its offloaded decode: nothing is sent before it, a
// wake-up meant for something else (a flight the request no longer waits
// on) is not taken for it, and then the decoded body goes out whole.
func TestSessionCacheDecodeOffloaded(t *testing.T) {
	cfg := proxy.Config{Cache: cache.NewStore(32<<20, 4<<20)}
	body := strings.Repeat("a line of compressible text\n", 4000) // 112 KB: over loop_max
	m1 := newMemConfig(t, cfg)
	const req = "GET /z HTTP/1.1\r\nHost: origin.test\r\n\r\n"
	out, asked := exchange(t, m1, req, fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nCache-Control: max-age=600\r\nContent-Length: %d\r\n\r\n%s", len(body), body))
	if !asked || !strings.HasSuffix(out, body) {
		t.Fatal("miss not relayed")
	}

	m2 := newMemConfig(t, proxy.Config{Cache: cfg.Cache})
	m2.DeferOffload, m2.ManualWake = true, true
	send(m2, req)
	if len(m2.ClientOut) != 0 || len(m2.offloads) != 1 || m2.Up != nil {
		t.Fatalf("before the decode: sent %.200q, %d jobs", m2.ClientOut, len(m2.offloads))
	}
	m2.RunOffloads()
	if len(m2.wakes) != 1 {
		t.Fatalf("%d wake-ups after the job", len(m2.wakes))
	}
	// A flight's wake-up for this request (its plain gen) comes first.
	m2.wakes = []uint32{m2.wakes[0] ^ 1<<31, m2.wakes[0]}
	m2.wakeOne()
	if len(m2.ClientOut) != 0 {
		t.Fatalf("sent before the decoded wake-up: %.200q", m2.ClientOut)
	}
	m2.WakeAll()
	got := takeOut(m2)
	if !strings.HasPrefix(got, "HTTP/1.1 200 ") || !strings.HasSuffix(got, "\r\n\r\n"+body) ||
		!strings.Contains(got, fmt.Sprintf("Content-Length: %d\r\n", len(body))) || strings.Contains(got, "Content-Encoding") {
		t.Fatalf("decoded hit: %.300q", got)
	}
	// The connection goes on: the next request is read.
	send(m2, "GET /z HTTP/1.1\r\nHost: origin.test\r\nAccept-Encoding: zstd\r\n\r\n")
	if got := takeOut(m2); !strings.Contains(got, "Content-Encoding: zstd\r\n") {
		t.Fatalf("zstd hit after: %.200q", got)
	}
}
