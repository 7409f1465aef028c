package engine

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/sluiceproxy/sluice/cache"
	"github.com/sluiceproxy/sluice/proxy"
)

// docModified is the Last-Modified of condOrigin's /doc.
const docModified = "Mon, 07 Dec 2026 07:00:00 GMT"

// condOrigin serves, counting its answers in n:
//   - /lang: Vary: Accept-Language, fresh for a minute; the body names the
//     request's Accept-Language and the answer's number.
//   - /doc: ETag "d1", Last-Modified docModified, fresh for a minute.
//   - /merge: ETag "m1", X-Version: 1, max-age=0 (stale at once, so every
//     request revalidates); a request with If-None-Match "m1" gets 304 with
//     X-Version: 2 and Cache-Control: max-age=60.
func condOrigin(t *testing.T) (*origin, *atomic.Int64) {
	var n atomic.Int64
	o := startOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k := n.Add(1)
		h := w.Header()
		switch r.URL.Path {
		case "/lang":
			h.Set("Cache-Control", "max-age=60")
			h.Set("Vary", "Accept-Language")
			fmt.Fprintf(w, "%s %d", r.Header.Get("Accept-Language"), k)
		case "/doc":
			h.Set("Cache-Control", "max-age=60")
			h.Set("ETag", `"d1"`)
			h.Set("Last-Modified", docModified)
			fmt.Fprintf(w, "doc %d", k)
		case "/merge":
			h.Set("ETag", `"m1"`)
			if r.Header.Get("If-None-Match") == `"m1"` {
				h.Set("Cache-Control", "max-age=60")
				h.Set("X-Version", "2")
				w.WriteHeader(http.StatusNotModified)
				return
			}
			h.Set("Cache-Control", "max-age=0")
			h.Set("X-Version", "1")
			h.Set("Content-Type", "text/plain; charset=utf-8")
			fmt.Fprintf(w, "merge %d", k)
		default:
			http.NotFound(w, r)
		}
	}))
	return o, &n
}

func newCondEnv(t *testing.T) (*env, string, *atomic.Int64, *recorder) {
	o, n := condOrigin(t)
	rec := &recorder{}
	e := newEnv(t, Config{Cache: cache.NewStore(32<<20, 1<<20), Observer: rec})
	e.dns.Set("cond.test", 60, "127.0.0.1")
	return e, fmt.Sprintf("http://cond.test:%d", o.port), n, rec
}

func TestCacheVariantsAlternate(t *testing.T) { forEngines(t, testCacheVariantsAlternate) }

// Clients alternating two Accept-Language values each get their variant
// from the cache: the origin answers each value once (RFC 9111 §4.1).
func testCacheVariantsAlternate(t *testing.T) {
	e, base, n, rec := newCondEnv(t)
	want := map[string]string{"en": "en 1", "fr": "fr 2"}
	langs := []string{"en", "fr", "en", "fr", "en", "fr"}
	for i, lang := range langs {
		st, body, _ := e.getWith(t, base+"/lang", "Accept-Language", lang)
		if st != 200 || body != want[lang] {
			t.Fatalf("request %d (%s): %d %q, want %q", i, lang, st, body, want[lang])
		}
	}
	if n.Load() != 2 {
		t.Fatalf("origin asked %d times, want 2", n.Load())
	}
	recs := rec.wait(t, len(langs))
	for i, r := range recs {
		if want := proxy.CacheHit; i >= 2 && r.cache != want {
			t.Fatalf("record %d: cache %q, want %q (%+v)", i, r.cache, want, recs)
		}
	}
}

func TestCacheConditionalHit(t *testing.T) { forEngines(t, testCacheConditionalHit) }

// A conditional request for a fresh entry is answered by the cache (RFC
// 9111 §4.3.2): 304 when If-None-Match or If-Modified-Since says the client
// has it, the whole response when not; the origin answers only the first
// request.
func testCacheConditionalHit(t *testing.T) {
	e, base, n, rec := newCondEnv(t)
	url := base + "/doc"
	if st, body, _ := e.getWith(t, url); st != 200 || body != "doc 1" {
		t.Fatalf("miss: %d %q", st, body)
	}
	for _, tc := range []struct {
		name   string
		hdr    []string
		status int
		body   string
	}{
		{"if-none-match", []string{"If-None-Match", `"x", "d1"`}, 304, ""},
		{"if-none-match weak", []string{"If-None-Match", `W/"d1"`}, 304, ""},
		{"if-modified-since", []string{"If-Modified-Since", docModified}, 304, ""},
		{"if-none-match fails", []string{"If-None-Match", `"d0"`}, 200, "doc 1"},
		{"if-modified-since fails", []string{"If-Modified-Since", "Mon, 07 Dec 2026 06:59:59 GMT"}, 200, "doc 1"},
	} {
		st, body, h := e.getWith(t, url, tc.hdr...)
		if st != tc.status || body != tc.body {
			t.Fatalf("%s: %d %q, want %d %q", tc.name, st, body, tc.status, tc.body)
		}
		if st == 304 && (h.Get("Etag") != `"d1"` || h.Get("Cache-Control") != "max-age=60" || h.Get("Last-Modified") != docModified ||
			h.Get("Age") == "" || h.Get("Date") == "" || h.Get("Content-Length") != "" || h.Get("Content-Type") != "") {
			t.Fatalf("%s: 304 fields %v", tc.name, h)
		}
	}
	if n.Load() != 1 {
		t.Fatalf("origin asked %d times, want 1", n.Load())
	}
	recs := rec.wait(t, 6)
	if recs[1].cache != proxy.CacheHit || recs[1].status != 304 || recs[4].status != 200 {
		t.Fatalf("records: %+v", recs)
	}
	// A 304 has no body: what follows it on the connection is the next
	// answer, whole.
	if st, body, _ := e.getWith(t, url); st != 200 || body != "doc 1" {
		t.Fatalf("after the 304s: %d %q", st, body)
	}
}

func TestCacheMerge304(t *testing.T) { forEngines(t, testCacheMerge304) }

// The origin's 304 to a revalidation carries X-Version: 2 and a new
// Cache-Control; both are merged into the stored head (RFC 9111 §4.3.4), so
// the client that revalidated and the next hit see them, and the origin is
// not asked again.
func testCacheMerge304(t *testing.T) {
	e, base, n, rec := newCondEnv(t)
	url := base + "/merge"
	_, b1, h1 := e.getWith(t, url)
	if b1 != "merge 1" || h1.Get("X-Version") != "1" {
		t.Fatalf("miss: %q X-Version %q", b1, h1.Get("X-Version"))
	}
	for i := 2; i <= 3; i++ {
		st, b, h := e.getWith(t, url)
		if st != 200 || b != "merge 1" || h.Get("X-Version") != "2" || h.Get("Cache-Control") != "max-age=60" ||
			h.Get("Content-Type") != "text/plain; charset=utf-8" || len(h.Values("X-Version")) != 1 {
			t.Fatalf("request %d: %d %q, fields %v", i, st, b, h)
		}
	}
	if n.Load() != 2 {
		t.Fatalf("origin asked %d times, want 2 (a miss, a 304)", n.Load())
	}
	recs := rec.wait(t, 3)
	if recs[1].cache != proxy.CacheRevalidated || recs[2].cache != proxy.CacheHit {
		t.Fatalf("records: %+v", recs)
	}
}
