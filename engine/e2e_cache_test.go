package engine

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluiceproxy/sluice/cache"
	"github.com/sluiceproxy/sluice/proxy"
)

// cacheOrigin serves /c?cc=<Cache-Control>&vary=<Vary>&age=<Age>&cookie=1&n=<size>
// (with &reval=1, a request with If-None-Match: "v1" gets 304 and the
// Cache-Control cc304; with &delay=<ms> it answers that late; with &cut=1
// its first answer is the connection closing):
// a body naming how many requests the origin has answered, with the given
// Cache-Control and Vary, ETag "v1"; POST to any path answers 204.
func cacheOrigin(t *testing.T) (*origin, *atomic.Int64) {
	var n atomic.Int64
	o := startOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k := n.Add(1)
		if r.Method == http.MethodPost {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		q := r.URL.Query()
		if d := q.Get("delay"); d != "" {
			var ms int
			fmt.Sscan(d, &ms)
			time.Sleep(time.Duration(ms) * time.Millisecond)
		}
		if q.Get("cut") != "" && k == 1 {
			panic(http.ErrAbortHandler) // the connection closes, no response
		}
		if q.Get("reval") != "" && r.Header.Get("If-None-Match") == `"v1"` {
			// Unchanged: confirm, with the freshness cc304 gives.
			if cc := q.Get("cc304"); cc != "" {
				w.Header().Set("Cache-Control", cc)
			}
			w.WriteHeader(http.StatusNotModified)
			return
		}
		if cc := q.Get("cc"); cc != "" {
			w.Header().Set("Cache-Control", cc)
		}
		if v := q.Get("vary"); v != "" {
			w.Header().Set("Vary", v)
		}
		if q.Get("cookie") != "" {
			w.Header().Set("Set-Cookie", "s=1")
		}
		w.Header().Set("ETag", `"v1"`)
		if a := q.Get("age"); a != "" {
			w.Header().Set("Age", a) // the age it had already: a hit's Age counts it
		}
		body := fmt.Sprintf("answer %d", k)
		if size := q.Get("n"); size != "" {
			var sz int
			fmt.Sscan(size, &sz)
			body = strings.Repeat("b", sz)
		}
		io.WriteString(w, body)
	}))
	return o, &n
}

func newCacheEnv(t *testing.T) (*env, *origin, *atomic.Int64, *recorder) {
	o, n := cacheOrigin(t)
	rec := &recorder{}
	e := newEnv(t, Config{Cache: cache.NewStore(32<<20, 1<<20), Observer: rec})
	e.dns.Set("cache.test", 60, "127.0.0.1")
	return e, o, n, rec
}

// getWith sends a GET through the proxy with the given request fields and
// returns the status, body and response fields.
func (e *env) getWith(t *testing.T, url string, hdr ...string) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func TestCacheFreshHit(t *testing.T) { forEngines(t, testCacheFreshHit) }

func testCacheFreshHit(t *testing.T) {
	e, o, n, rec := newCacheEnv(t)
	url := fmt.Sprintf("http://cache.test:%d/c?cc=max-age=60&age=7", o.port)
	_, b1, h1 := e.getWith(t, url)
	_, b2, h2 := e.getWith(t, url)
	if n.Load() != 1 || b1 != "answer 1" || b2 != "answer 1" {
		t.Fatalf("origin asked %d times; bodies %q %q", n.Load(), b1, b2)
	}
	// The hit's Age is the cache's own (RFC 9111 §4.2.3): the origin's 7 s
	// plus the time since, one field.
	var age int
	if _, err := fmt.Sscan(h2.Get("Age"), &age); err != nil || age < 7 || age > 9 || len(h2.Values("Age")) != 1 {
		t.Fatalf("hit Age %q", h2.Values("Age"))
	}
	if h1.Get("Age") != "7" || h2.Get("Etag") != `"v1"` || strings.Count(h2.Get("Via"), "sluice") != 1 {
		t.Fatalf("miss Age %q; hit ETag %q Via %q", h1.Get("Age"), h2.Get("Etag"), h2.Get("Via"))
	}
	recs := rec.wait(t, 2)
	if recs[0].cache != proxy.CacheMiss || recs[1].cache != proxy.CacheHit || recs[1].status != 200 {
		t.Fatalf("records: %+v", recs)
	}
	// HEAD is answered from the GET's entry, without a body.
	req, _ := http.NewRequest(http.MethodHead, url, nil)
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if n.Load() != 1 || resp.StatusCode != 200 || resp.ContentLength != int64(len("answer 1")) {
		t.Fatalf("HEAD: origin asked %d times, status %d, length %d", n.Load(), resp.StatusCode, resp.ContentLength)
	}
}

func TestCacheNotStored(t *testing.T) { forEngines(t, testCacheNotStored) }

func testCacheNotStored(t *testing.T) {
	e, o, n, _ := newCacheEnv(t)
	base := fmt.Sprintf("http://cache.test:%d/c", o.port)
	for _, tc := range []struct {
		name string
		url  string
		hdr  []string
	}{
		{"no lifetime", base + "?x=1", nil},
		{"no-store", base + "?cc=no-store,max-age=60", nil},
		{"private", base + "?cc=private,max-age=60", nil},
		{"vary star", base + "?cc=max-age=60&vary=*", nil},
		{"set-cookie", base + "?cc=max-age=60&cookie=1", nil},
		{"authorization", base + "?cc=max-age=60&a=1", []string{"Authorization", "Basic eDp5"}},
		{"request no-store", base + "?cc=max-age=60&r=1", []string{"Cache-Control", "no-store"}},
		{"too big", base + "?cc=max-age=60&n=2000000", nil},
	} {
		before := n.Load()
		e.getWith(t, tc.url, tc.hdr...)
		e.getWith(t, tc.url, tc.hdr...)
		if got := n.Load() - before; got != 2 {
			t.Errorf("%s: origin asked %d times for two requests, want 2 (not stored)", tc.name, got)
		}
	}
	// Authorization with public is stored (RFC 9111 §3.5).
	before := n.Load()
	u := base + "?cc=public,max-age=60&a=2"
	e.getWith(t, u, "Authorization", "Basic eDp5")
	e.getWith(t, u, "Authorization", "Basic eDp5")
	if got := n.Load() - before; got != 1 {
		t.Errorf("public with Authorization: origin asked %d times, want 1", got)
	}
}

func TestCacheRequestDirectives(t *testing.T) { forEngines(t, testCacheRequestDirectives) }

func testCacheRequestDirectives(t *testing.T) {
	e, o, n, rec := newCacheEnv(t)
	url := fmt.Sprintf("http://cache.test:%d/c?cc=max-age=60", o.port)
	e.getWith(t, url)
	if _, b, _ := e.getWith(t, url, "Cache-Control", "no-cache"); b != "answer 2" || n.Load() != 2 {
		t.Fatalf("no-cache: %q, origin asked %d times", b, n.Load())
	}
	if _, b, _ := e.getWith(t, url); b != "answer 2" || n.Load() != 2 {
		t.Fatalf("after no-cache the new response is served: %q, origin %d", b, n.Load())
	}
	if _, _, _ = e.getWith(t, url, "Cache-Control", "max-age=0"); n.Load() != 3 {
		t.Fatalf("max-age=0 went to the cache: origin %d", n.Load())
	}
	if _, _, _ = e.getWith(t, url, "Pragma", "no-cache"); n.Load() != 4 {
		t.Fatalf("Pragma: no-cache went to the cache: origin %d", n.Load())
	}
	missing := fmt.Sprintf("http://cache.test:%d/c?cc=max-age=60&none=1", o.port)
	if st, _, h := e.getWith(t, missing, "Cache-Control", "only-if-cached"); st != 504 || h.Get("Sluice-Error") != "not in cache" || n.Load() != 4 {
		t.Fatalf("only-if-cached miss: %d %q, origin %d", st, h.Get("Sluice-Error"), n.Load())
	}
	recs := rec.wait(t, 6)
	if recs[1].cache != proxy.CacheBypass || recs[5].status != 504 {
		t.Fatalf("records: %+v", recs)
	}
}

func TestCacheVary(t *testing.T) { forEngines(t, testCacheVary) }

func testCacheVary(t *testing.T) {
	e, o, n, _ := newCacheEnv(t)
	url := fmt.Sprintf("http://cache.test:%d/c?cc=max-age=60&vary=Accept-Language", o.port)
	_, b1, _ := e.getWith(t, url, "Accept-Language", "en")
	_, b2, _ := e.getWith(t, url, "Accept-Language", "en")
	_, b3, _ := e.getWith(t, url, "Accept-Language", "fr")
	if b1 != "answer 1" || b2 != "answer 1" || b3 != "answer 2" || n.Load() != 2 {
		t.Fatalf("bodies %q %q %q, origin %d", b1, b2, b3, n.Load())
	}
}

func TestCacheInvalidationAndExpiry(t *testing.T) { forEngines(t, testCacheInvalidationAndExpiry) }

func testCacheInvalidationAndExpiry(t *testing.T) {
	e, o, n, _ := newCacheEnv(t)
	url := fmt.Sprintf("http://cache.test:%d/c?cc=max-age=60", o.port)
	e.getWith(t, url)
	e.getWith(t, url)
	resp, err := e.client.Post(url, "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if _, b, _ := e.getWith(t, url); b != "answer 3" || n.Load() != 3 {
		t.Fatalf("after POST: %q, origin %d (the entry was not invalidated)", b, n.Load())
	}
	short := fmt.Sprintf("http://cache.test:%d/c?cc=max-age=1", o.port)
	e.getWith(t, short)
	e.getWith(t, short)
	if n.Load() != 4 {
		t.Fatalf("origin %d before expiry", n.Load())
	}
	time.Sleep(1100 * time.Millisecond)
	if _, b, _ := e.getWith(t, short); b != "answer 5" {
		t.Fatalf("stale entry served: %q", b)
	}
}

func TestCacheRevalidation(t *testing.T) { forEngines(t, testCacheRevalidation) }

// A stale entry with a validator is revalidated: the origin sees
// If-None-Match, answers 304, and the client gets the stored response; the
// 304's freshness renews the entry.
func testCacheRevalidation(t *testing.T) {
	e, o, n, rec := newCacheEnv(t)
	// no-cache: stored, but revalidated every time.
	always := fmt.Sprintf("http://cache.test:%d/c?cc=no-cache,max-age=60&reval=1", o.port)
	_, b1, _ := e.getWith(t, always)
	st, b2, h2 := e.getWith(t, always)
	if b1 != "answer 1" || st != 200 || b2 != "answer 1" || n.Load() != 2 || h2.Get("Age") == "" {
		t.Fatalf("revalidated: %d %q (first %q), origin %d, Age %q", st, b2, b1, n.Load(), h2.Get("Age"))
	}
	recs := rec.wait(t, 2)
	if recs[1].cache != proxy.CacheRevalidated || recs[1].status != 200 {
		t.Fatalf("records: %+v", recs)
	}
	// Stale after a second; the 304 gives it a minute more, so the next
	// request is a hit.
	short := fmt.Sprintf("http://cache.test:%d/c?cc=max-age=1&reval=1&cc304=max-age=60", o.port)
	_, b3, _ := e.getWith(t, short)
	time.Sleep(1100 * time.Millisecond)
	_, b4, _ := e.getWith(t, short)
	_, b5, _ := e.getWith(t, short)
	if b4 != b3 || b5 != b3 || n.Load() != 4 {
		t.Fatalf("bodies %q %q %q, origin %d (want 4: one miss, one 304)", b3, b4, b5, n.Load())
	}
	// A changed resource: the origin answers 200 and it replaces the entry.
	changed := fmt.Sprintf("http://cache.test:%d/c?cc=no-cache,max-age=60", o.port)
	_, b6, _ := e.getWith(t, changed)
	_, b7, _ := e.getWith(t, changed)
	if b6 == b7 || n.Load() != 6 {
		t.Fatalf("changed: %q then %q, origin %d", b6, b7, n.Load())
	}
}
