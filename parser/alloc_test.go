package parser

import (
	"bytes"
	"testing"
)

// The hot paths allocate nothing once their buffers are warm.
func TestZeroAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts")
	}
	reqBuf := []byte(browserGET)
	respBuf := []byte(typicalResponse)
	var rp RequestParser
	var sp ResponseParser
	var d ChunkedDecoder
	chunked := chunkedBody(bytes.Repeat([]byte("x"), 100<<10), 16<<10)
	dst := make([]byte, 0, 4096)
	fr := &ForwardRequest{Authority: []byte("www.example.com"), Via: []byte("1.1 sluice")}
	fs := &ForwardResponse{Via: []byte("1.1 sluice"), Close: true, Unframe: true}
	fk := &ForwardResponse{Via: []byte("1.1 sluice"), Date: []byte("Sun, 06 Nov 1994 08:49:37 GMT")}
	rp.Parse(reqBuf)
	sp.Parse(respBuf)
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"RequestParser.Parse", func() {
			rp.Reset()
			if n, err := rp.Parse(reqBuf); n != len(reqBuf) || err != nil {
				t.Fatal(n, err)
			}
		}},
		{"RequestParser.Parse byte at a time", func() {
			rp.Reset()
			for i := 1; i <= len(reqBuf); i++ {
				if _, err := rp.Parse(reqBuf[:i]); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{"ResponseParser.Parse", func() {
			sp.Reset()
			if n, err := sp.Parse(respBuf); n != len(respBuf) || err != nil {
				t.Fatal(n, err)
			}
		}},
		{"Request.Header", func() {
			if v, ok := rp.Req.Header("if-none-match"); !ok || len(v) == 0 {
				t.Fatal("no If-None-Match")
			}
		}},
		{"Response.Header", func() {
			if _, ok := sp.Resp.Header("VARY"); !ok {
				t.Fatal("no Vary")
			}
		}},
		{"ChunkedDecoder.Decode", func() {
			d.Reset()
			for in := chunked; ; {
				n, _, done, err := d.Decode(in)
				if err != nil {
					t.Fatal(err)
				}
				if in = in[n:]; done {
					break
				}
			}
		}},
		{"AppendRequestHead", func() { dst = AppendRequestHead(dst[:0], &rp.Req, fr) }},
		{"AppendResponseHead", func() { dst = AppendResponseHead(dst[:0], &sp.Resp, fs) }},
		{"AppendResponseHead keeping Content-Length", func() { dst = AppendResponseHead(dst[:0], &sp.Resp, fk) }},
		{"ResponseFraming", func() { ResponseFraming(MethodGET, &sp.Resp) }},
	} {
		if a := testing.AllocsPerRun(100, tc.f); a != 0 {
			t.Errorf("%s: %v allocs per run, want 0", tc.name, a)
		}
	}
}
