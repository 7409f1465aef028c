package proxytest

import (
	"bytes"
	"strings"
	"testing"

	"github.com/sluiceproxy/sluice/cache"
	"github.com/sluiceproxy/sluice/proxy"
)

// newCacheMem is a driver whose session has a response cache.
func newCacheMem(t *testing.T) *MemDriver {
	return newMemConfig(t, proxy.Config{Cache: cache.NewStore(32<<20, 1<<20)})
}

// exchange sends req; if the session goes to the origin, it answers resp
// there. It returns what the client got, and whether the origin was asked.
func exchange(t *testing.T, m *MemDriver, req, resp string) (string, bool) {
	t.Helper()
	send(m, req)
	asked := m.Up != nil && len(m.Up.Out) > 0
	if asked {
		takeUp(m.Up)
		upSend(m, resp)
	}
	return takeOut(m), asked
}

// hitRound returns one keep-alive request of req answered from the cache,
// leaving no output behind (for AllocsPerRun).
func hitRound(t *testing.T, m *MemDriver, req []byte, status string) func() {
	prefix := []byte("HTTP/1.1 " + status + " ")
	return func() {
		m.ClientSend(req)
		if !bytes.HasPrefix(m.ClientOut, prefix) || m.Up != nil {
			t.Fatalf("not a %s hit: %q", status, m.ClientOut)
		}
		m.ClientOut = m.ClientOut[:0]
	}
}

// A hit allocates nothing in the session: a plain one (one Get), and a
// variant (one Get more).
func TestSessionCacheHitAllocs(t *testing.T) {
	for _, tc := range []struct {
		name, req, resp, status string
	}{
		{"plain", "GET /p HTTP/1.1\r\nHost: origin.test\r\n\r\n",
			"HTTP/1.1 200 OK\r\nCache-Control: max-age=600\r\nETag: \"v1\"\r\nContent-Length: 2\r\n\r\nok", "200"},
		{"variant", "GET /p HTTP/1.1\r\nHost: origin.test\r\nAccept-Language: en\r\n\r\n",
			"HTTP/1.1 200 OK\r\nCache-Control: max-age=600\r\nVary: Accept-Language\r\nContent-Length: 2\r\n\r\nok", "200"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newCacheMem(t)
			if _, asked := exchange(t, m, tc.req, tc.resp); !asked {
				t.Fatal("first request not sent to the origin")
			}
			round := hitRound(t, m, []byte(tc.req), tc.status)
			for i := 0; i < 10; i++ {
				round()
			}
			if allocs := testing.AllocsPerRun(200, round); allocs != 0 {
				t.Fatalf("a cache hit allocates %v times in the session", allocs)
			}
		})
	}
}

// Two clients' Accept-Language values alternate: each variant is stored
// once and then served as a hit, and a POST to the URL (RFC 9111 §4.4)
// makes both unreachable.
func TestSessionCacheVariants(t *testing.T) {
	m := newCacheMem(t)
	const resp = "HTTP/1.1 200 OK\r\nCache-Control: max-age=600\r\nVary: Accept-Language\r\nContent-Length: 2\r\n\r\n"
	get := func(lang, body string) (string, bool) {
		return exchange(t, m, "GET /v HTTP/1.1\r\nHost: origin.test\r\nAccept-Language: "+lang+"\r\n\r\n", resp+body)
	}
	for i, tc := range []struct {
		lang, body string
		asked      bool
	}{{"en", "en", true}, {"fr", "fr", true}, {"en", "", false}, {"fr", "", false}, {"en", "", false}} {
		out, asked := get(tc.lang, tc.body)
		if asked != tc.asked || !strings.HasSuffix(out, "\r\n\r\n"+tc.lang) {
			t.Fatalf("request %d (%s): origin asked %v, got %q", i, tc.lang, asked, out)
		}
	}
	if out, _ := exchange(t, m, "POST /v HTTP/1.1\r\nHost: origin.test\r\nContent-Length: 0\r\n\r\n", "HTTP/1.1 204 No Content\r\n\r\n"); !hasStatus(out, "204") {
		t.Fatalf("POST: %q", out)
	}
	if out, asked := get("en", "e2"); !asked || !strings.HasSuffix(out, "e2") {
		t.Fatalf("en after POST: asked %v, %q", asked, out)
	}
	// The index is made again with the same field; fr's old variant must
	// not come back with it.
	if out, asked := get("fr", "f2"); !asked || !strings.HasSuffix(out, "f2") {
		t.Fatalf("fr after POST: asked %v, %q", asked, out)
	}
}
