package parser

import (
	"strings"
	"testing"
)

var responseRejects = []rejectCase{
	{"not HTTP", "RFC 9112 §4", "FOO 200 OK\r\n\r\n", ErrBadStatusLine, Limits{}},
	{"lowercase HTTP-name", "RFC 9112 §2.3", "http/1.1 200 OK\r\n\r\n", ErrBadStatusLine, Limits{}},
	{"HTTP/2", "RFC 9110 §2.5", "HTTP/2.0 200 OK\r\n\r\n", ErrResponseVersion, Limits{}},
	{"HTTP/0.9", "RFC 9110 §2.5", "HTTP/0.9 200 OK\r\n\r\n", ErrResponseVersion, Limits{}},
	{"malformed version", "RFC 9112 §2.3", "HTTP/1.x 200 OK\r\n\r\n", ErrBadStatusLine, Limits{}},
	{"two-digit status", "RFC 9112 §4", "HTTP/1.1 20 OK\r\n\r\n", ErrBadStatusLine, Limits{}},
	{"four-digit status", "RFC 9112 §4", "HTTP/1.1 2000 OK\r\n\r\n", ErrBadStatusLine, Limits{}},
	{"status letters", "RFC 9112 §4", "HTTP/1.1 2x0 OK\r\n\r\n", ErrBadStatusLine, Limits{}},
	{"status 099", "RFC 9110 §15", "HTTP/1.1 099 X\r\n\r\n", ErrBadStatusCode, Limits{}},
	{"status 600", "RFC 9110 §15", "HTTP/1.1 600 X\r\n\r\n", ErrBadStatusCode, Limits{}},
	{"double space", "RFC 9112 §4", "HTTP/1.1  200 OK\r\n\r\n", ErrBadStatusLine, Limits{}},
	{"tab before reason", "RFC 9112 §4", "HTTP/1.1 200\tOK\r\n\r\n", ErrBadStatusLine, Limits{}},
	{"NUL in reason", "RFC 9112 §4", "HTTP/1.1 200 O\x00K\r\n\r\n", ErrBadStatusLine, Limits{}},
	{"bare CR in reason", "RFC 9112 §4", "HTTP/1.1 200 O\rK\r\n\r\n", ErrBadStatusLine, Limits{}},
	{"bare LF status-line", "RFC 9112 §2.2", "HTTP/1.1 200 OK\n\r\n", ErrBareLF, Limits{}},
	{"bare LF field", "RFC 9112 §2.2", "HTTP/1.1 200 OK\r\nA: b\n\r\n", ErrBareLF, Limits{}},
	{"bare LF end", "RFC 9112 §2.2", "HTTP/1.1 200 OK\r\n\n", ErrBareLF, Limits{}},
	{"space before colon", "RFC 9112 §5.1", "HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\n", ErrSpaceBeforeColon, Limits{}},
	{"obs-fold", "RFC 9112 §5.2", "HTTP/1.1 200 OK\r\nA: b\r\n c\r\n\r\n", ErrObsFold, Limits{}},
	{"NUL in value", "RFC 9110 §5.5", "HTTP/1.1 200 OK\r\nA: \x00\r\n\r\n", ErrBadHeaderValue, Limits{}},
	{"bad name", "RFC 9110 §5.1", "HTTP/1.1 200 OK\r\nA(: b\r\n\r\n", ErrBadHeaderName, Limits{}},
	{"TE and CL", "RFC 9112 §6.3 rule 3", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", ErrTEAndCL, Limits{}},
	{"CL conflict", "RFC 9112 §6.3 rule 5", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", ErrConflictingContentLength, Limits{}},
	{"CL malformed", "RFC 9110 §8.6", "HTTP/1.1 200 OK\r\nContent-Length: 3a\r\n\r\n", ErrBadContentLength, Limits{}},
	{"chunked twice", "RFC 9112 §6.1", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", ErrChunkedTwice, Limits{}},
	{"TE malformed", "RFC 9112 §6.1", "HTTP/1.1 200 OK\r\nTransfer-Encoding: ,\r\n\r\n", ErrBadTransferEncoding, Limits{}},
	{"TE in HTTP/1.0", "RFC 9112 §6.1", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", ErrTEInHTTP10, Limits{}},
	{"too many fields", "RFC 9110 §5.4", "HTTP/1.1 200 OK\r\n" + strings.Repeat("A: b\r\n", DefaultMaxHeaders+1) + "\r\n", ErrTooManyHeaders, Limits{}},
	{"head too large", "RFC 9110 §5.4", "HTTP/1.1 200 OK\r\nA: " + strings.Repeat("b", 1<<16) + "\r\n\r\n", ErrHeadTooLarge, Limits{}},
}

func TestResponseRejects(t *testing.T) {
	for _, tc := range responseRejects {
		t.Run(tc.name, func(t *testing.T) {
			_, n, err := parseResponseBoth(t, tc.in, tc.lim)
			if err != tc.err {
				t.Fatalf("%s: got (%d, %v), want %v", tc.rfc, n, err, tc.err)
			}
		})
	}
}

func TestResponseAccepts(t *testing.T) {
	type want struct {
		minor, code        int
		reason             string
		cl                 int64
		chunked, te        bool
		close, ka, upgrade bool
		framing            Framing
		length             int64
		headers            int
	}
	for _, tc := range []struct {
		name   string
		in     string
		method Method
		want   want
	}{
		{"200 with length", "HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n", MethodGET,
			want{1, 200, "OK", 12, false, false, false, true, false, FramingLength, 12, 1}},
		{"empty reason", "HTTP/1.1 204 \r\n\r\n", MethodGET,
			want{1, 204, "", -1, false, false, false, true, false, FramingNone, 0, 0}},
		{"missing SP before empty reason", "HTTP/1.1 200\r\n\r\n", MethodGET,
			want{1, 200, "", -1, false, false, false, true, false, FramingClose, 0, 0}},
		{"reason with obs-text and tab", "HTTP/1.1 404 Not\tFound \xe9\r\nContent-Length: 0\r\n\r\n", MethodGET,
			want{1, 404, "Not\tFound \xe9", 0, false, false, false, true, false, FramingNone, 0, 1}},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", MethodGET,
			want{1, 200, "OK", -1, true, true, false, true, false, FramingChunked, 0, 1}},
		{"TE not chunked: close-delimited", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", MethodGET,
			want{1, 200, "OK", -1, false, true, false, true, false, FramingClose, 0, 1}},
		{"unknown coding passes", "HTTP/1.1 200 OK\r\nTransfer-Encoding: br, chunked\r\n\r\n", MethodGET,
			want{1, 200, "OK", -1, true, true, false, true, false, FramingChunked, 0, 1}},
		{"HTTP/1.0 close-delimited", "HTTP/1.0 200 OK\r\n\r\n", MethodGET,
			want{0, 200, "OK", -1, false, false, false, false, false, FramingClose, 0, 0}},
		{"HTTP/1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n", MethodGET,
			want{0, 200, "OK", 1, false, false, false, true, false, FramingLength, 1, 2}},
		{"HEAD response", "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", MethodHEAD,
			want{1, 200, "OK", 99, false, false, false, true, false, FramingNone, 0, 1}},
		{"304", "HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n", MethodGET,
			want{1, 304, "Not Modified", 99, false, false, false, true, false, FramingNone, 0, 1}},
		{"100 continue", "HTTP/1.1 100 Continue\r\n\r\n", MethodPOST,
			want{1, 100, "Continue", -1, false, false, false, true, false, FramingNone, 0, 0}},
		{"101 upgrade", "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n", MethodGET,
			want{1, 101, "Switching Protocols", -1, false, false, false, true, true, FramingTunnel, 0, 2}},
		{"CONNECT 200", "HTTP/1.1 200 Connection established\r\n\r\n", MethodCONNECT,
			want{1, 200, "Connection established", -1, false, false, false, true, false, FramingTunnel, 0, 0}},
		{"CONNECT 407 has a body", "HTTP/1.1 407 Proxy Auth\r\nContent-Length: 3\r\n\r\n", MethodCONNECT,
			want{1, 407, "Proxy Auth", 3, false, false, false, true, false, FramingLength, 3, 1}},
		{"close", "HTTP/1.1 500 Oops\r\nConnection: close\r\nContent-Length: 5, 5\r\n\r\n", MethodGET,
			want{1, 500, "Oops", 5, false, false, true, false, false, FramingLength, 5, 2}},
		{"HTTP/1.1 no framing", "HTTP/1.1 200 OK\r\nX: y\r\n\r\n", MethodGET,
			want{1, 200, "OK", -1, false, false, false, true, false, FramingClose, 0, 1}},
		{"status 599", "HTTP/1.1 599 x\r\n\r\n", MethodGET,
			want{1, 599, "x", -1, false, false, false, true, false, FramingClose, 0, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, n, err := parseResponseBoth(t, tc.in, Limits{})
			if err != nil || n != len(tc.in) {
				t.Fatalf("Parse: (%d, %v)", n, err)
			}
			f, l := ResponseFraming(tc.method, r)
			got := want{r.ProtoMinor, r.StatusCode, string(r.Bytes(r.Reason)), r.ContentLength, r.Chunked,
				r.TransferEncoding, r.ConnClose, r.KeepAlive(), r.ConnUpgrade, f, l, len(r.Headers)}
			if got != tc.want {
				t.Fatalf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestRequestBodyFraming(t *testing.T) {
	for _, tc := range []struct {
		in string
		f  Framing
		n  int64
	}{
		{"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 7\r\n\r\n", FramingLength, 7},
		{"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", FramingNone, 0},
		{"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", FramingChunked, 0},
		{"POST / HTTP/1.1\r\nHost: a\r\n\r\n", FramingNone, 0},
	} {
		var p RequestParser
		if _, err := p.Parse([]byte(tc.in)); err != nil {
			t.Fatal(err)
		}
		if f, n := p.Req.BodyFraming(); f != tc.f || n != tc.n {
			t.Errorf("%q: (%v, %d), want (%v, %d)", tc.in, f, n, tc.f, tc.n)
		}
	}
}

func TestResponseParseContract(t *testing.T) {
	head := "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A:  a \r\n\r\n"
	in := head + "hello"
	var p ResponseParser
	for i := 0; i < len(head); i++ {
		if n, err := p.Parse([]byte(in[:i])); n != 0 || err != nil {
			t.Fatalf("prefix %d: (%d, %v)", i, n, err)
		}
	}
	n, err := p.Parse([]byte(in))
	if n != len(head) || err != nil || string(p.Resp.Raw) != head {
		t.Fatalf("(%d, %v), Raw %q", n, err, p.Resp.Raw)
	}
	// Parse after done returns the same length; Reset starts over.
	if n2, err := p.Parse([]byte(in)); n2 != n || err != nil {
		t.Fatalf("after done: (%d, %v)", n2, err)
	}
	if v, ok := p.Resp.Header("x-a"); !ok || string(v) != "a" {
		t.Fatalf("x-a = %q", v)
	}
	p.Reset()
	if n, err := p.Parse([]byte("HTTP/1.1 204 No Content\r\n\r\n")); n == 0 || err != nil || p.Resp.StatusCode != 204 || len(p.Resp.Headers) != 0 {
		t.Fatalf("after Reset: (%d, %v) %+v", n, err, p.Resp)
	}
	// A byte that cannot start "HTTP/" fails at once.
	p.Reset()
	if _, err := p.Parse([]byte("<")); err != ErrBadStatusLine {
		t.Fatalf("'<': %v", err)
	}
}
