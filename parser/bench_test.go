package parser

import (
	"bufio"
	"bytes"
	"net/http"
	"testing"
)

// browserGET is a typical browser request head, about 500 bytes.
const browserGET = "GET /static/js/app.3f9c2b.js?v=20240611 HTTP/1.1\r\n" +
	"Host: www.example.com\r\n" +
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0\r\n" +
	"Accept: */*\r\n" +
	"Accept-Language: en-US,en;q=0.5\r\n" +
	"Accept-Encoding: gzip, deflate, br, zstd\r\n" +
	"Referer: https://www.example.com/products/index.html\r\n" +
	"Connection: keep-alive\r\n" +
	"Cookie: session=8f14e45fceea167a5a36dedd4bea2543; theme=dark; _ga=GA1.2.1234567890\r\n" +
	"Sec-Fetch-Dest: script\r\n" +
	"Sec-Fetch-Mode: no-cors\r\n" +
	"Sec-Fetch-Site: same-origin\r\n" +
	"If-None-Match: \"5d8c72a5edda8\"\r\n" +
	"\r\n"

const typicalResponse = "HTTP/1.1 200 OK\r\n" +
	"Date: Tue, 11 Jun 2024 10:00:00 GMT\r\n" +
	"Content-Type: application/javascript; charset=utf-8\r\n" +
	"Content-Length: 48213\r\n" +
	"Cache-Control: public, max-age=31536000, immutable\r\n" +
	"ETag: \"5d8c72a5edda9\"\r\n" +
	"Last-Modified: Mon, 10 Jun 2024 08:00:00 GMT\r\n" +
	"Server: nginx\r\n" +
	"Vary: Accept-Encoding\r\n" +
	"\r\n"

func BenchmarkParseRequest(b *testing.B) {
	buf := []byte(browserGET)
	var p RequestParser
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		p.Reset()
		if n, err := p.Parse(buf); n != len(buf) || err != nil {
			b.Fatal(n, err)
		}
	}
}

// BenchmarkParseRequestNetHTTP is the baseline: the same bytes through
// net/http.ReadRequest with a reused bufio.Reader.
func BenchmarkParseRequestNetHTTP(b *testing.B) {
	buf := []byte(browserGET)
	rd := bytes.NewReader(buf)
	br := bufio.NewReader(rd)
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		rd.Reset(buf)
		br.Reset(rd)
		if _, err := http.ReadRequest(br); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseResponse(b *testing.B) {
	buf := []byte(typicalResponse)
	var p ResponseParser
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		p.Reset()
		if n, err := p.Parse(buf); n != len(buf) || err != nil {
			b.Fatal(n, err)
		}
	}
}

// BenchmarkChunked decodes a 1 MiB body in 16 KiB chunks.
func BenchmarkChunked(b *testing.B) {
	body := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
	enc := chunkedBody(body, 16<<10)
	var d ChunkedDecoder
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		d.Reset()
		in := enc
		total := 0
		for {
			n, data, done, err := d.Decode(in)
			if err != nil {
				b.Fatal(err)
			}
			total += len(data)
			in = in[n:]
			if done {
				break
			}
		}
		if total != len(body) {
			b.Fatal(total)
		}
	}
}

// BenchmarkAppendRequestHead writes the forwarded head of browserGET.
func BenchmarkAppendRequestHead(b *testing.B) {
	var p RequestParser
	if _, err := p.Parse([]byte(browserGET)); err != nil {
		b.Fatal(err)
	}
	f := &ForwardRequest{Authority: []byte("www.example.com"), Via: []byte("1.1 sluice")}
	dst := make([]byte, 0, 1024)
	b.ReportAllocs()
	b.SetBytes(int64(len(browserGET)))
	for b.Loop() {
		dst = AppendRequestHead(dst[:0], &p.Req, f)
	}
}
