package parser

import "testing"

func TestAppendRequestHead(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		f    ForwardRequest
		want string
	}{
		{"origin-form, Host replaced, Via added",
			"GET /a?b HTTP/1.1\r\nHost: client.example\r\nAccept: */*\r\n\r\n",
			ForwardRequest{Authority: []byte("origin:8080"), Via: []byte("1.1 sluice")},
			"GET /a?b HTTP/1.1\r\nHost: origin:8080\r\nAccept: */*\r\nVia: 1.1 sluice\r\n\r\n"},
		{"to a parent proxy: absolute form, its credentials, not the client's",
			"GET /a?b HTTP/1.1\r\nHost: o.test:8080\r\nProxy-Authorization: Basic Y2xpZW50\r\n\r\n",
			ForwardRequest{Authority: []byte("o.test:8080"), AbsoluteForm: true, ProxyAuthorization: "Basic cGFyZW50"},
			"GET http://o.test:8080/a?b HTTP/1.1\r\nHost: o.test:8080\r\nProxy-Authorization: Basic cGFyZW50\r\n\r\n"},
		{"to a parent proxy from absolute form without a path",
			"GET http://o.test HTTP/1.1\r\nHost: x\r\n\r\n",
			ForwardRequest{Authority: []byte("o.test"), AbsoluteForm: true},
			"GET http://o.test/ HTTP/1.1\r\nHost: o.test\r\n\r\n"},
		{"absolute-form to origin-form",
			"GET http://example.com/x?y=1 HTTP/1.1\r\nHost: ignored\r\nUser-Agent: t\r\n\r\n",
			ForwardRequest{Authority: []byte("example.com")},
			"GET /x?y=1 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\n\r\n"},
		{"absolute-form empty path",
			"GET http://example.com HTTP/1.1\r\n\r\n",
			ForwardRequest{Authority: []byte("example.com")},
			"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"},
		{"absolute-form query without path",
			"GET http://example.com?q HTTP/1.0\r\n\r\n",
			ForwardRequest{Authority: []byte("example.com")},
			"GET /?q HTTP/1.1\r\nHost: example.com\r\n\r\n"},
		{"hop-by-hop removed",
			"POST / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, X-Hop\r\nKeep-Alive: 300\r\nProxy-Connection: keep-alive\r\n" +
				"Proxy-Authorization: Basic eA==\r\nTE: trailers\r\nTrailer: X-T\r\nUpgrade: websocket\r\nx-hop: 1\r\n" +
				"Content-Length: 3\r\nX-End: 2\r\n\r\n",
			ForwardRequest{Authority: []byte("a")},
			"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nX-End: 2\r\n\r\n"},
		{"Connection cannot remove framing",
			"POST / HTTP/1.1\r\nHost: a\r\nConnection: Content-Length, Transfer-Encoding, Via\r\nContent-Length: 3\r\nVia: 1.0 p\r\n\r\n",
			ForwardRequest{Authority: []byte("a"), Via: []byte("1.1 sluice")},
			"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nVia: 1.0 p, 1.1 sluice\r\n\r\n"},
		{"Content-Length sent once",
			"POST / HTTP/1.1\r\nHost: a\r\ncontent-length: 5, 005\r\nX: y\r\nContent-Length: 5\r\n\r\n",
			ForwardRequest{Authority: []byte("a")},
			"POST / HTTP/1.1\r\nHost: a\r\ncontent-length: 5\r\nX: y\r\n\r\n"},
		{"Via appended to the last",
			"GET / HTTP/1.1\r\nHost: a\r\nVia: 1.0 one\r\nX: y\r\nvia: 1.1 two\r\n\r\n",
			ForwardRequest{Authority: []byte("a"), Via: []byte("1.1 sluice")},
			"GET / HTTP/1.1\r\nHost: a\r\nVia: 1.0 one\r\nX: y\r\nvia: 1.1 two, 1.1 sluice\r\n\r\n"},
		{"upgrade kept",
			"GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: k\r\n\r\n",
			ForwardRequest{Authority: []byte("a"), Upgrade: true},
			"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nSec-WebSocket-Key: k\r\nConnection: upgrade\r\n\r\n"},
		{"CONNECT keeps authority",
			"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nProxy-Authorization: x\r\n\r\n",
			ForwardRequest{Authority: []byte("example.com:443")},
			"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"},
		{"OPTIONS asterisk, HTTP/1.0 to 1.1, values trimmed",
			"OPTIONS * HTTP/1.0\r\nX:   v  \r\n\r\n",
			ForwardRequest{Authority: []byte("h")},
			"OPTIONS * HTTP/1.1\r\nHost: h\r\nX: v\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p RequestParser
			if _, err := p.Parse([]byte(tc.in)); err != nil {
				t.Fatal(err)
			}
			got := AppendRequestHead([]byte("prefix"), &p.Req, &tc.f)
			if string(got) != "prefix"+tc.want {
				t.Fatalf("got\n%q\nwant\n%q", got, "prefix"+tc.want)
			}
			// What sluice writes, sluice parses.
			var q RequestParser
			if n, err := q.Parse(got[len("prefix"):]); err != nil || n != len(tc.want) {
				t.Fatalf("reparse: (%d, %v)", n, err)
			}
		})
	}
}

func TestAppendResponseHead(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		f    ForwardResponse
		want string
	}{
		{"plain, Via added",
			"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n",
			ForwardResponse{Via: []byte("1.1 sluice")},
			"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nVia: 1.1 sluice\r\n\r\n"},
		{"HTTP/1.0 upstream, empty reason, Close",
			"HTTP/1.0 404\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nX: y\r\n\r\n",
			ForwardResponse{Close: true},
			"HTTP/1.1 404 \r\nX: y\r\nConnection: close\r\n\r\n"},
		{"KeepAlive for an HTTP/1.0 client",
			"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
			ForwardResponse{KeepAlive: true},
			"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n"},
		{"Unframe drops framing",
			"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\nX: y\r\n\r\n",
			ForwardResponse{Unframe: true, Close: true},
			"HTTP/1.1 200 OK\r\nX: y\r\nConnection: close\r\n\r\n"},
		{"Connection-listed fields removed",
			"HTTP/1.1 200 OK\r\nConnection: x-a, close\r\nX-A: 1\r\nProxy-Connection: close\r\nContent-Length: 0\r\n\r\n",
			ForwardResponse{},
			"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"},
		{"101 upgrade",
			"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\nVia: 1.1 o\r\n\r\n",
			ForwardResponse{Upgrade: true, Via: []byte("1.1 sluice")},
			"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nVia: 1.1 o, 1.1 sluice\r\nConnection: upgrade\r\n\r\n"},
		{"all Connection options",
			"HTTP/1.1 200 OK\r\nUpgrade: h2c\r\n\r\n",
			ForwardResponse{Upgrade: true, Close: true, KeepAlive: true},
			"HTTP/1.1 200 OK\r\nUpgrade: h2c\r\nConnection: upgrade, close, keep-alive\r\n\r\n"},
		{"Encoding: strong ETag weakened, Vary added, framing replaced",
			"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\nETag: \"v1\"\r\nContent-Type: text/plain\r\n\r\n",
			ForwardResponse{Encoding: "zstd", Chunked: true},
			"HTTP/1.1 200 OK\r\nETag: W/\"v1\"\r\nContent-Type: text/plain\r\nVary: Accept-Encoding\r\nContent-Encoding: zstd\r\nTransfer-Encoding: chunked\r\n\r\n"},
		{"Encoding: weak ETag kept, Accept-Encoding added to the last Vary",
			"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nETag: W/\"v1\"\r\nVary: Accept-Language\r\nVary: Origin\r\n\r\n",
			ForwardResponse{Encoding: "gzip", Close: true},
			"HTTP/1.1 200 OK\r\nETag: W/\"v1\"\r\nVary: Accept-Language\r\nVary: Origin, Accept-Encoding\r\nContent-Encoding: gzip\r\nConnection: close\r\n\r\n"},
		{"VaryEncoding alone: Vary only",
			"HTTP/1.1 200 OK\r\nETag: \"v1\"\r\nContent-Length: 9\r\n\r\n",
			ForwardResponse{VaryEncoding: true},
			"HTTP/1.1 200 OK\r\nETag: \"v1\"\r\nContent-Length: 9\r\nVary: Accept-Encoding\r\n\r\n"},
		{"Encoding: a Vary that lists Accept-Encoding, or is *, is kept",
			"HTTP/1.1 200 OK\r\nVary: accept-encoding\r\nVary: *\r\nContent-Length: 9\r\n\r\n",
			ForwardResponse{Encoding: "gzip", Chunked: true},
			"HTTP/1.1 200 OK\r\nVary: accept-encoding\r\nVary: *\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p ResponseParser
			if _, err := p.Parse([]byte(tc.in)); err != nil {
				t.Fatal(err)
			}
			got := AppendResponseHead(nil, &p.Resp, &tc.f)
			if string(got) != tc.want {
				t.Fatalf("got\n%q\nwant\n%q", got, tc.want)
			}
			var q ResponseParser
			if n, err := q.Parse(got); err != nil || n != len(got) {
				t.Fatalf("reparse: (%d, %v)", n, err)
			}
		})
	}
}
