package engine

import (
	"bytes"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/sluiceproxy/sluice/cache"
	"github.com/sluiceproxy/sluice/proxy"
)

// storedEntry waits for url's entry in the store (a body compressed off the
// loop is stored a moment after the response ends) and returns it.
func storedEntry(t *testing.T, st *cache.Store, url string) cache.Entry {
	t.Helper()
	key, err := cache.KeyOfURL(nil, url)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		var e cache.Entry
		if _, ok := st.Get(nil, key, &e); ok {
			return e
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not stored", url)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestCacheStoredCompressed: a compressible response is kept as a zstd
// frame; a hit goes to a zstd client as it is, and decoded, byte-exact, to
// any other, for a body compressed on the loop and one compressed off it.
func TestCacheStoredCompressed(t *testing.T) { forEngines(t, testCacheStoredCompressed) }

func testCacheStoredCompressed(t *testing.T) {
	o := compressOrigin(t)
	rec := &recorder{}
	store := cache.NewStore(32<<20, 4<<20)
	e := newEnv(t, Config{Cache: store, Observer: rec})
	e.dns.Set("z.test", 60, "127.0.0.1")
	nrec := 0
	for _, n := range []int{5000, 300000} {
		url := fmt.Sprintf("http://z.test:%d/t?n=%d&cc=max-age=60", o.port, n)
		want := textBody(n)
		// The miss: as the origin sent it (compression is off).
		_, b, h := e.getWith(t, url, "Accept-Encoding", "identity")
		if b != string(want) || h.Get("Content-Encoding") != "" {
			t.Fatalf("%d: miss: %d bytes, Content-Encoding %q", n, len(b), h.Get("Content-Encoding"))
		}
		ent := storedEntry(t, store, url)
		if !ent.Zstd || ent.Size != int64(n) || len(ent.Body) > n/3 {
			t.Fatalf("%d: stored zstd %v, size %d, %d bytes kept", n, ent.Zstd, ent.Size, len(ent.Body))
		}
		// A zstd client: the frame as stored.
		_, b, h = e.getWith(t, url, "Accept-Encoding", "zstd")
		if h.Get("Content-Encoding") != "zstd" || len(b) != len(ent.Body) || !bytes.Equal(decode(t, "zstd", []byte(b)), want) ||
			h.Get("Vary") != "Accept-Encoding" || h.Get("Etag") != `W/"v1"` || h.Get("Age") == "" {
			t.Fatalf("%d: zstd hit: Content-Encoding %q, %d bytes, Vary %q, ETag %q", n, h.Get("Content-Encoding"), len(b), h.Get("Vary"), h.Get("Etag"))
		}
		// Go's client (gzip only) and an identity client: decoded.
		resp, err := e.client.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		gb := readAll(t, resp)
		if resp.Header.Get("Content-Encoding") != "" || resp.ContentLength != int64(n) || !bytes.Equal(gb, want) ||
			resp.Header.Get("Etag") != `"v1"` || resp.Header.Get("Vary") != "Accept-Encoding" {
			t.Fatalf("%d: decoded hit: Content-Encoding %q, length %d, %d bytes, ETag %q", n, resp.Header.Get("Content-Encoding"), resp.ContentLength, len(gb), resp.Header.Get("Etag"))
		}
		// HEAD: the decoded length, no body.
		req, _ := http.NewRequest(http.MethodHead, url, nil)
		resp, err = e.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.ContentLength != int64(n) {
			t.Fatalf("%d: HEAD length %d", n, resp.ContentLength)
		}
		recs := rec.wait(t, nrec+4)[nrec:]
		nrec += 4
		if recs[0].cache != proxy.CacheMiss || recs[1].cache != proxy.CacheHit || recs[1].encoding != "zstd" ||
			recs[2].cache != proxy.CacheHit || recs[2].encoding != "" || recs[3].cache != proxy.CacheHit {
			t.Fatalf("%d: records %+v", n, recs)
		}
	}
	// Not compressible, or no-transform: kept as sent, and a zstd client
	// gets it so.
	for _, q := range []string{"cc=max-age=60&type=image/png", "cc=max-age=60,no-transform"} {
		url := fmt.Sprintf("http://z.test:%d/t?n=5000&%s", o.port, q)
		e.getWith(t, url)
		if ent := storedEntry(t, store, url); ent.Zstd {
			t.Fatalf("%s: stored compressed", q)
		}
		if _, b, h := e.getWith(t, url, "Accept-Encoding", "zstd"); h.Get("Content-Encoding") != "" || b != string(textBody(5000)) {
			t.Fatalf("%s: hit Content-Encoding %q", q, h.Get("Content-Encoding"))
		}
	}
}

func readAll(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	defer resp.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
