package cache

import "testing"

const storedHead = "HTTP/1.1 200 OK\r\n" +
	"Content-Type: text/plain\r\n" +
	"Cache-Control: max-age=0\r\n" +
	"ETag: \"v1\"\r\n" +
	"Last-Modified: Mon, 07 Dec 2026 07:00:00 GMT\r\n" +
	"X-Version: 1\r\n" +
	"X-Multi: a\r\n" +
	"X-Multi: b\r\n" +
	"Content-Location: /doc.en\r\n" +
	"Vary: Accept-Language\r\n" +
	"Content-Encoding: gzip\r\n" +
	"Date: Mon, 07 Dec 2026 08:00:00 GMT\r\n" +
	"Expires: Mon, 07 Dec 2026 08:00:00 GMT\r\n" +
	"Server: o\r\n" +
	"Content-Length: 4\r\n" +
	"Via: 1.1 sluice\r\n" +
	"\r\n"

func TestAppendNotModified(t *testing.T) {
	want := "HTTP/1.1 304 Not Modified\r\n" +
		"Cache-Control: max-age=0\r\n" +
		"ETag: \"v1\"\r\n" +
		"Last-Modified: Mon, 07 Dec 2026 07:00:00 GMT\r\n" +
		"Content-Location: /doc.en\r\n" +
		"Vary: Accept-Language\r\n" +
		"Date: Mon, 07 Dec 2026 08:00:00 GMT\r\n" +
		"Expires: Mon, 07 Dec 2026 08:00:00 GMT\r\n" +
		"Via: 1.1 sluice\r\n" +
		"\r\n"
	if got := string(AppendNotModified([]byte("x"), []byte(storedHead))); got != "x"+want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	if got := string(AppendNotModified(nil, []byte("HTTP/1.1 200 OK\r\n\r\n"))); got != "HTTP/1.1 304 Not Modified\r\n\r\n" {
		t.Fatalf("no fields: %q", got)
	}
}
