package proxytest

import (
	"bytes"
	"strings"
	"testing"
	"time"

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

// A hit allocates nothing in the session: a plain one (one Get), one
// answered 304 for If-None-Match, and a variant (one Get more).
func TestSessionCacheHitAllocs(t *testing.T) {
	for _, tc := range []struct {
		name, req, resp, status string
	}{
		{"plain", "GET /p HTTP/1.1\r\nHost: origin.test\r\n\r\n",
			"HTTP/1.1 200 OK\r\nCache-Control: max-age=600\r\nETag: \"v1\"\r\nContent-Length: 2\r\n\r\nok", "200"},
		{"if-none-match", "GET /p HTTP/1.1\r\nHost: origin.test\r\nIf-None-Match: \"v0\", \"v1\"\r\n\r\n",
			"HTTP/1.1 200 OK\r\nCache-Control: max-age=600\r\nETag: \"v1\"\r\nContent-Length: 2\r\n\r\nok", "304"},
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

// A fresh hit answers a conditional GET or HEAD itself (RFC 9111 §4.3.2):
// 304 with the stored fields a 304 carries and the Age, no body and no
// Content-Length; a condition that fails gets the whole response.
func TestSessionCacheConditionalHit(t *testing.T) {
	m := newCacheMem(t)
	const stored = "HTTP/1.1 200 OK\r\nCache-Control: max-age=600\r\nETag: W/\"v1\"\r\n" +
		"Last-Modified: Mon, 13 Nov 2023 00:00:00 GMT\r\nContent-Type: text/plain\r\nX-Other: o\r\n" +
		"Content-Length: 4\r\n\r\nbody"
	if _, asked := exchange(t, m, "GET /c HTTP/1.1\r\nHost: origin.test\r\n\r\n", stored); !asked {
		t.Fatal("first request not sent to the origin")
	}
	m.Advance(3 * time.Second)
	const want304 = "HTTP/1.1 304 Not Modified\r\nCache-Control: max-age=600\r\nETag: W/\"v1\"\r\n" +
		"Last-Modified: Mon, 13 Nov 2023 00:00:00 GMT\r\nVia: 1.1 sluice\r\nDate: Tue, 14 Nov 2023 22:13:20 GMT\r\nAge: 3\r\n\r\n"
	for _, tc := range []struct {
		name, fields string
		want         string // the status, or the whole answer for 304
	}{
		{"if-none-match", "If-None-Match: \"x\", \"v1\"\r\n", want304},
		{"if-none-match star", "If-None-Match: *\r\n", want304},
		{"if-modified-since", "If-Modified-Since: Mon, 13 Nov 2023 00:00:00 GMT\r\n", want304},
		{"if-none-match fails", "If-None-Match: \"v2\"\r\n", "200"},
		{"if-modified-since fails", "If-Modified-Since: Sun, 12 Nov 2023 23:59:59 GMT\r\n", "200"},
		{"if-none-match first", "If-None-Match: \"v2\"\r\nIf-Modified-Since: Mon, 13 Nov 2023 00:00:00 GMT\r\n", "200"},
		{"if-modified-since not a date", "If-Modified-Since: now\r\n", "200"},
	} {
		for _, method := range []string{"GET", "HEAD"} {
			out, asked := exchange(t, m, method+" /c HTTP/1.1\r\nHost: origin.test\r\n"+tc.fields+"\r\n", "")
			switch {
			case asked:
				t.Errorf("%s %s: sent to the origin", method, tc.name)
			case len(tc.want) > 3 && out != tc.want:
				t.Errorf("%s %s:\n got %q\nwant %q", method, tc.name, out, tc.want)
			case len(tc.want) == 3 && (!hasStatus(out, tc.want) || !strings.Contains(out, "Content-Length: 4\r\n") ||
				method == "GET" && !strings.HasSuffix(out, "\r\n\r\nbody") || method == "HEAD" && !strings.HasSuffix(out, "\r\n\r\n")):
				t.Errorf("%s %s: %q", method, tc.name, out)
			}
		}
	}
	// An HTTP/1.0 client that keeps its connection is told so on a 304 too.
	if out, _ := exchange(t, m, "GET /c HTTP/1.0\r\nHost: origin.test\r\nConnection: keep-alive\r\nIf-None-Match: W/\"v1\"\r\n\r\n", ""); !hasStatus(out, "304") ||
		!strings.HasSuffix(out, "Age: 3\r\nConnection: keep-alive\r\n\r\n") || m.ClientClosed {
		t.Fatalf("HTTP/1.0 304: %q closed %v", out, m.ClientClosed)
	}
}

// A stale entry and a request with its own validators: the request goes to
// the origin as the client sent it (the cache adds none of its own), and
// the origin's 304, meant for the client, is relayed and not stored.
func TestSessionCacheStaleWithClientValidators(t *testing.T) {
	m := newCacheMem(t)
	const stored = "HTTP/1.1 200 OK\r\nCache-Control: max-age=10\r\nETag: \"v1\"\r\nContent-Length: 4\r\n\r\nbody"
	exchange(t, m, "GET /s HTTP/1.1\r\nHost: origin.test\r\n\r\n", stored)
	m.Advance(20 * time.Second) // stale; the client's keep-alive is not over
	send(m, "GET /s HTTP/1.1\r\nHost: origin.test\r\nIf-None-Match: \"v0\"\r\n\r\n")
	if m.Up == nil {
		t.Fatalf("stale entry served: %q", m.ClientOut)
	}
	if up := takeUp(m.Up); !strings.Contains(up, "If-None-Match: \"v0\"\r\n") || strings.Contains(up, "\"v1\"") {
		t.Fatalf("forwarded: %q", up)
	}
	upSend(m, "HTTP/1.1 304 Not Modified\r\nETag: \"v0\"\r\nCache-Control: max-age=600\r\n\r\n")
	if out := takeOut(m); !hasStatus(out, "304") || !strings.Contains(out, "ETag: \"v0\"") {
		t.Fatalf("client got %q", out)
	}
	// The entry is the stale one still: the next plain request revalidates
	// it with the cache's own validator.
	send(m, "GET /s HTTP/1.1\r\nHost: origin.test\r\n\r\n")
	if m.Up == nil {
		t.Fatal("the client's 304 renewed the entry")
	}
	if up := takeUp(m.Up); !strings.Contains(up, "If-None-Match: \"v1\"\r\n") {
		t.Fatalf("revalidation: %q", up)
	}
}

// A revalidation's 304 is merged into the stored head (RFC 9111 §4.3.4):
// its fields replace the stored ones, but for the framing, the
// representation's metadata, hop-by-hop fields and Set-Cookie; the client
// and the next hits get the merged head. A 304 with another strong ETag
// changes no field.
func TestSessionCacheMerge304(t *testing.T) {
	m := newCacheMem(t)
	const stored = "HTTP/1.1 200 OK\r\nCache-Control: max-age=1\r\nETag: \"v1\"\r\nX-Version: 1\r\nX-Keep: k\r\n" +
		"Content-Type: text/plain\r\nContent-Length: 4\r\n\r\nbody"
	exchange(t, m, "GET /m HTTP/1.1\r\nHost: origin.test\r\n\r\n", stored)
	m.Advance(2 * time.Second)
	const notModified = "HTTP/1.1 304 Not Modified\r\nCache-Control: max-age=600\r\nETag: \"v1\"\r\nX-Version: 2\r\nX-New: n\r\n" +
		"Content-Type: text/html\r\nContent-Length: 99\r\nSet-Cookie: s=1\r\nConnection: X-Hop\r\nX-Hop: h\r\nAge: 5\r\n\r\n"
	out, asked := exchange(t, m, "GET /m HTTP/1.1\r\nHost: origin.test\r\n\r\n", notModified)
	// The stored fields left, then the 304's in their order; the Date is the
	// 304's (sluice's, as it had none); the Age counts the 304's.
	want := "HTTP/1.1 200 OK\r\nX-Keep: k\r\nContent-Type: text/plain\r\nVia: 1.1 sluice\r\n" +
		"Cache-Control: max-age=600\r\nETag: \"v1\"\r\nX-Version: 2\r\nX-New: n\r\nDate: Tue, 14 Nov 2023 22:13:22 GMT\r\n" +
		"Content-Length: 4\r\nAge: 5\r\n\r\nbody"
	if !asked || out != want {
		t.Fatalf("revalidated (asked %v):\n got %q\nwant %q", asked, out, want)
	}
	m.Advance(time.Second)
	out, asked = exchange(t, m, "GET /m HTTP/1.1\r\nHost: origin.test\r\n\r\n", "")
	if asked || out != strings.Replace(want, "Age: 5", "Age: 6", 1) {
		t.Fatalf("hit after the merge (asked %v):\n got %q", asked, out)
	}

	// Another strong ETag: the stored fields stay. (The request's max-age
	// has the fresh entry revalidated.)
	m.Advance(5 * time.Second)
	out, asked = exchange(t, m, "GET /m HTTP/1.1\r\nHost: origin.test\r\nCache-Control: max-age=1\r\n\r\n",
		"HTTP/1.1 304 Not Modified\r\nCache-Control: max-age=600\r\nETag: \"v9\"\r\nX-Version: 3\r\n\r\n")
	if !asked || !strings.Contains(out, "X-Version: 2\r\n") || strings.Contains(out, "v9") {
		t.Fatalf("304 for another ETag merged (asked %v): %q", asked, out)
	}
}
