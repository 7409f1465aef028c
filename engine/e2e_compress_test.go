package engine

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/sluiceproxy/sluice/compression"
)

// textBody is n bytes of compressible text, the same for every n's prefix.
func textBody(n int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "line %d: the quick brown fox jumps over the lazy dog\n", i)
	}
	return b.Bytes()[:n]
}

// compressOrigin serves /t?n=<size>&type=<Content-Type>&chunked=1&ce=<Content-Encoding>&cc=<Cache-Control>
// with textBody(n) and ETag "v1"; with chunked=1 the body is written in
// pieces with flushes (chunked, no Content-Length).
func compressOrigin(t *testing.T) *origin {
	return startOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		var n int
		fmt.Sscan(q.Get("n"), &n)
		body := textBody(n)
		h := w.Header()
		h.Set("Content-Type", "text/plain; charset=utf-8")
		if ct := q.Get("type"); ct != "" {
			h.Set("Content-Type", ct)
		}
		if ce := q.Get("ce"); ce != "" {
			h.Set("Content-Encoding", ce)
		}
		if cc := q.Get("cc"); cc != "" {
			h.Set("Cache-Control", cc)
		}
		h.Set("ETag", `"v1"`)
		if q.Get("chunked") == "" {
			http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body)) // Content-Length, Range
			return
		}
		for len(body) > 0 {
			k := min(len(body), 7000)
			w.Write(body[:k])
			w.(http.Flusher).Flush()
			body = body[k:]
		}
	}))
}

func newCompressEnv(t *testing.T) (*env, *origin, *recorder) {
	z, err := compression.NewCompressor(compression.Compressor{}, compression.DefaultLevels)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	e := newEnv(t, Config{Compress: z, Observer: rec})
	e.dns.Set("z.test", 60, "127.0.0.1")
	return e, compressOrigin(t), rec
}

// decode undoes a Content-Encoding.
func decode(t *testing.T, coding string, b []byte) []byte {
	t.Helper()
	var r io.Reader
	switch coding {
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("gzip: %v", err)
		}
		r = zr
	case "zstd":
		zr, err := zstd.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("zstd: %v", err)
		}
		defer zr.Close()
		r = zr
	case "":
		return b
	default:
		t.Fatalf("coding %q", coding)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("%s decode: %v", coding, err)
	}
	return out
}

// TestCompressGoClient: Go's client asks for gzip by itself and decodes it;
// every body arrives byte-exact, whether compressed on the loop (short, with
// Content-Length), off it (long), or from a chunked origin.
func TestCompressGoClient(t *testing.T) { forEngines(t, testCompressGoClient) }

func testCompressGoClient(t *testing.T) {
	e, o, rec := newCompressEnv(t)
	for i, q := range []string{"n=5000", "n=300000", "n=300000&chunked=1", "n=2000&chunked=1", "n=5000"} {
		resp, err := e.client.Get(fmt.Sprintf("http://z.test:%d/t?%s", o.port, q))
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		var n int
		fmt.Sscan(strings.TrimPrefix(strings.Split(q, "&")[0], "n="), &n)
		if err != nil || !resp.Uncompressed || !bytes.Equal(b, textBody(n)) {
			t.Fatalf("%s: err %v, decoded by the client %v, %d bytes (want %d)", q, err, resp.Uncompressed, len(b), n)
		}
		if r := rec.wait(t, i+1)[i]; r.encoding != "gzip" || r.status != 200 {
			t.Fatalf("%s: record %+v", q, r)
		}
	}
}

// TestCompressZstd: a client that accepts zstd (preferred to gzip) gets it,
// with Vary: Accept-Encoding, a weak ETag, and the framing of its length.
func TestCompressZstd(t *testing.T) { forEngines(t, testCompressZstd) }

func testCompressZstd(t *testing.T) {
	e, o, _ := newCompressEnv(t)
	for _, tc := range []struct {
		q       string
		n       int
		chunked bool
	}{{"n=5000", 5000, false}, {"n=1000000", 1000000, true}, {"n=300000&chunked=1", 300000, true}} {
		_, raw, h := e.getWith(t, fmt.Sprintf("http://z.test:%d/t?%s", o.port, tc.q), "Accept-Encoding", "gzip;q=0.8, zstd")
		body := decode(t, h.Get("Content-Encoding"), []byte(raw))
		if h.Get("Content-Encoding") != "zstd" || !bytes.Equal(body, textBody(tc.n)) {
			t.Fatalf("%s: Content-Encoding %q, %d bytes decoded", tc.q, h.Get("Content-Encoding"), len(body))
		}
		if h.Get("Vary") != "Accept-Encoding" || h.Get("Etag") != `W/"v1"` || len(raw) > tc.n/3 {
			t.Fatalf("%s: Vary %q ETag %q, %d bytes on the wire", tc.q, h.Get("Vary"), h.Get("Etag"), len(raw))
		}
	}
}

// TestCompressNot: responses that must not be compressed are relayed as the
// origin sent them.
func TestCompressNot(t *testing.T) { forEngines(t, testCompressNot) }

func testCompressNot(t *testing.T) {
	e, o, _ := newCompressEnv(t)
	base := fmt.Sprintf("http://z.test:%d/t?n=5000", o.port)
	for _, tc := range []struct {
		name, url string
		hdr       []string
		status    int
	}{
		{"no Accept-Encoding", base, nil, 200},
		{"q=0", base, []string{"Accept-Encoding", "gzip;q=0, zstd;q=0"}, 200},
		{"short", fmt.Sprintf("http://z.test:%d/t?n=500", o.port), []string{"Accept-Encoding", "gzip"}, 200},
		{"image", base + "&type=image/png", []string{"Accept-Encoding", "gzip"}, 200},
		{"no-transform", base + "&cc=no-transform", []string{"Accept-Encoding", "gzip"}, 200},
		{"range", base, []string{"Accept-Encoding", "gzip", "Range", "bytes=0-99"}, 206},
		{"not modified", base, []string{"Accept-Encoding", "gzip", "If-None-Match", `"v1"`}, 304},
	} {
		req, _ := http.NewRequest(http.MethodGet, tc.url, nil)
		for i := 0; i+1 < len(tc.hdr); i += 2 {
			req.Header.Set(tc.hdr[i], tc.hdr[i+1])
		}
		// A transport that does not add Accept-Encoding by itself.
		tr := e.client.Transport.(*http.Transport).Clone()
		tr.DisableCompression = true
		resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		tr.CloseIdleConnections()
		if resp.StatusCode != tc.status || resp.Header.Get("Content-Encoding") != "" || resp.Header.Get("Etag") != `"v1"` {
			t.Fatalf("%s: status %d, Content-Encoding %q, ETag %q", tc.name, resp.StatusCode, resp.Header.Get("Content-Encoding"), resp.Header.Get("Etag"))
		}
		if tc.status == 200 && !bytes.Equal(b, textBody(len(b))) {
			t.Fatalf("%s: body changed", tc.name)
		}
	}
	// Already encoded by the origin: passed through, not encoded twice.
	_, raw, h := e.getWith(t, base+"&ce=br", "Accept-Encoding", "gzip, br")
	if h.Get("Content-Encoding") != "br" || raw != string(textBody(5000)) {
		t.Fatalf("encoded: Content-Encoding %q", h.Get("Content-Encoding"))
	}
	// HEAD: the origin's head, its Content-Length included.
	req, _ := http.NewRequest(http.MethodHead, base, nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Content-Encoding") != "" || resp.ContentLength != 5000 {
		t.Fatalf("HEAD: Content-Encoding %q, length %d", resp.Header.Get("Content-Encoding"), resp.ContentLength)
	}
}

// TestCompressHTTP10: an HTTP/1.0 client gets a long compressed body
// delimited by the connection's close (no chunked), and a short one with
// its Content-Length on a connection that stays open.
func TestCompressHTTP10(t *testing.T) { forEngines(t, testCompressHTTP10) }

func testCompressHTTP10(t *testing.T) {
	e, o, _ := newCompressEnv(t)
	c, br := e.raw()
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET http://z.test:%d/t?n=5000 HTTP/1.0\r\nConnection: keep-alive\r\nAccept-Encoding: gzip\r\n\r\n", o.port)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.Header.Get("Content-Encoding") != "gzip" || resp.ContentLength != int64(len(b)) || resp.Close ||
		!bytes.Equal(decode(t, "gzip", b), textBody(5000)) {
		t.Fatalf("short: Content-Encoding %q, length %d of %d, close %v", resp.Header.Get("Content-Encoding"), resp.ContentLength, len(b), resp.Close)
	}
	fmt.Fprintf(c, "GET http://z.test:%d/t?n=300000&chunked=1 HTTP/1.0\r\nConnection: keep-alive\r\nAccept-Encoding: gzip\r\n\r\n", o.port)
	resp, err = http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err = io.ReadAll(resp.Body)
	if err != nil || len(resp.TransferEncoding) != 0 || !resp.Close || !bytes.Equal(decode(t, "gzip", b), textBody(300000)) {
		t.Fatalf("long: err %v, Transfer-Encoding %v, close %v", err, resp.TransferEncoding, resp.Close)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("connection open after a close-delimited body: %v", err)
	}
}

// TestCompressCurl: curl --compressed decodes what sluice sends, for gzip
// and zstd, short and long, byte-exact.
func TestCompressCurl(t *testing.T) { forEngines(t, testCompressCurl) }

func testCompressCurl(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl not installed")
	}
	e, o, rec := newCompressEnv(t)
	i := 0
	for _, accept := range []string{"gzip", "zstd"} {
		for _, q := range []string{"n=5000", "n=400000", "n=400000&chunked=1"} {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			out, err := exec.CommandContext(ctx, curl, "-sS", "--compressed", "-H", "Accept-Encoding: "+accept,
				"-x", "http://"+e.proxy, fmt.Sprintf("http://z.test:%d/t?%s", o.port, q)).Output()
			cancel()
			var n int
			fmt.Sscan(strings.TrimPrefix(strings.Split(q, "&")[0], "n="), &n)
			if err != nil || !bytes.Equal(out, textBody(n)) {
				t.Fatalf("curl %s %s: %v, %d bytes (want %d)", accept, q, err, len(out), n)
			}
			if r := rec.wait(t, i+1)[i]; r.encoding != accept {
				t.Fatalf("curl %s %s: record %+v", accept, q, r)
			}
			i++
		}
	}
	// curl's own Accept-Encoding (deflate, gzip, br, zstd) gets zstd, the
	// first offered.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, curl, "-sS", "--compressed", "-D", "-", "-x", "http://"+e.proxy,
		fmt.Sprintf("http://z.test:%d/t?n=5000", o.port)).Output()
	hdr, body, _ := bytes.Cut(out, []byte("\r\n\r\n"))
	if err != nil || !bytes.Contains(bytes.ToLower(hdr), []byte("content-encoding: zstd")) || !bytes.Equal(body, textBody(5000)) {
		t.Fatalf("curl --compressed: %v\n%s", err, hdr)
	}
}
