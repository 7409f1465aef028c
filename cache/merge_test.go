package cache

import "testing"

func TestMergeHead(t *testing.T) {
	tests := []struct {
		name, update, want string
	}{
		{
			"new and replaced fields",
			"HTTP/1.1 304 Not Modified\r\nDate: Mon, 07 Dec 2026 09:00:00 GMT\r\nCache-Control: max-age=60\r\nX-Version: 2\r\nx-multi: c\r\nX-New: n\r\n\r\n",
			"HTTP/1.1 200 OK\r\n" +
				"Content-Type: text/plain\r\n" +
				"ETag: \"v1\"\r\n" +
				"Last-Modified: Mon, 07 Dec 2026 07:00:00 GMT\r\n" +
				"Content-Location: /doc.en\r\n" +
				"Vary: Accept-Language\r\n" +
				"Content-Encoding: gzip\r\n" +
				"Expires: Mon, 07 Dec 2026 08:00:00 GMT\r\n" +
				"Server: o\r\n" +
				"Content-Length: 4\r\n" +
				"Via: 1.1 sluice\r\n" +
				"Date: Mon, 07 Dec 2026 09:00:00 GMT\r\n" +
				"Cache-Control: max-age=60\r\n" +
				"X-Version: 2\r\n" +
				"x-multi: c\r\n" +
				"X-New: n\r\n" +
				"\r\n",
		},
		{
			"representation, framing and hop-by-hop fields kept",
			"HTTP/1.1 304 Not Modified\r\n" +
				"Content-Length: 99\r\nContent-Type: text/html\r\nContent-Encoding: br\r\nContent-Range: bytes 0-1/2\r\n" +
				"Transfer-Encoding: chunked\r\nConnection: X-Hop, close\r\nX-Hop: 1\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\n" +
				"Trailer: X\r\nUpgrade: h2c\r\nProxy-Connection: keep-alive\r\nProxy-Authenticate: Basic\r\n" +
				"Age: 100\r\nSet-Cookie: s=1\r\nServer: o2\r\n\r\n",
			storedHeadWithout("Server: o\r\n") + "Server: o2\r\n\r\n",
		},
		{"empty 304", "HTTP/1.1 304 Not Modified\r\n\r\n", storedHead},
	}
	for _, tt := range tests {
		if got := string(MergeHead(nil, []byte(storedHead), []byte(tt.update))); got != tt.want {
			t.Errorf("%s:\n got %q\nwant %q", tt.name, got, tt.want)
		}
	}
}

// storedHeadWithout is storedHead without one line and without its empty
// line.
func storedHeadWithout(line string) string {
	h := storedHead[:len(storedHead)-2]
	for i := 0; i+len(line) <= len(h); i++ {
		if h[i:i+len(line)] == line {
			return h[:i] + h[i+len(line):]
		}
	}
	panic("no line " + line)
}
