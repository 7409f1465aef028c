package parser

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// reqWant is what a must-accept case checks of the parsed request. Spans are
// given as the strings they cover.
type reqWant struct {
	method         Method
	methodName     string
	form           TargetForm
	target         string
	scheme         Scheme
	authority      string
	host           string
	port           int
	path           string
	minor          int
	hostIndex      int
	hostHeaderHost string
	hostHeaderPort int
	cl             int64
	chunked        bool
	close          bool
	keepAlive      bool // KeepAlive()
	upgrade        bool
	expect100      bool
	headers        []string // "name: value"
	n              int      // head length; 0 means the whole input
}

func (r *Request) got() reqWant {
	w := reqWant{
		method: r.Method, methodName: string(r.Bytes(r.MethodName)), form: r.Form,
		target: string(r.Bytes(r.Target)), scheme: r.Scheme, authority: string(r.Bytes(r.Authority)),
		host: string(r.Bytes(r.Host)), port: r.Port, path: string(r.Bytes(r.Path)), minor: r.ProtoMinor,
		hostIndex: r.HostIndex, hostHeaderHost: string(r.Bytes(r.HostHeaderHost)), hostHeaderPort: r.HostHeaderPort,
		cl: r.ContentLength, chunked: r.Chunked, close: r.ConnClose, keepAlive: r.KeepAlive(),
		upgrade: r.ConnUpgrade, expect100: r.Expect100,
	}
	for _, h := range r.Headers {
		w.headers = append(w.headers, string(r.Bytes(h.Name))+": "+string(r.Bytes(h.Value)))
	}
	return w
}

type acceptCase struct {
	name string
	in   string
	want reqWant
}

func get(target, host string) reqWant {
	return reqWant{method: MethodGET, methodName: "GET", target: target, path: target, minor: 1,
		hostIndex: 0, hostHeaderHost: host, cl: -1, keepAlive: true, headers: []string{"Host: " + host}}
}

var requestAccepts = []acceptCase{
	{"simple GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", get("/", "a")},
	{"origin-form with query", "GET /p/a%2Fb?q=1&r=%zz HTTP/1.1\r\nHost: a\r\n\r\n", get("/p/a%2Fb?q=1&r=%zz", "a")},
	{"unwise bytes in target", "GET /a|b{c}^`\\\"<> HTTP/1.1\r\nHost: a\r\n\r\n", get("/a|b{c}^`\\\"<>", "a")},
	{"double slash origin-form", "GET //x HTTP/1.1\r\nHost: a\r\n\r\n", get("//x", "a")},
	{"Host with port", "GET / HTTP/1.1\r\nHost: example.com:8080\r\n\r\n", func() reqWant {
		w := get("/", "example.com")
		w.hostHeaderPort = 8080
		w.headers = []string{"Host: example.com:8080"}
		return w
	}()},
	{"Host IPv6", "GET / HTTP/1.1\r\nHost: [2001:db8::1]:443\r\n\r\n", func() reqWant {
		w := get("/", "2001:db8::1")
		w.hostHeaderPort = 443
		w.headers = []string{"Host: [2001:db8::1]:443"}
		return w
	}()},
	{"Host IPv4-mapped IPv6", "GET / HTTP/1.1\r\nHost: [::ffff:10.0.0.1]\r\n\r\n", func() reqWant {
		w := get("/", "::ffff:10.0.0.1")
		w.headers = []string{"Host: [::ffff:10.0.0.1]"}
		return w
	}()},
	{"Host empty port", "GET / HTTP/1.1\r\nHost: a:\r\n\r\n", func() reqWant {
		w := get("/", "a")
		w.headers = []string{"Host: a:"}
		return w
	}()},
	{"Host empty value", "GET / HTTP/1.1\r\nHost:\r\n\r\n", func() reqWant {
		w := get("/", "")
		w.headers = []string{"Host: "}
		return w
	}()},
	{"Host OWS trimmed", "GET / HTTP/1.1\r\nHost: \t a.b \t\r\n\r\n", func() reqWant {
		w := get("/", "a.b")
		w.headers = []string{"Host: a.b"}
		return w
	}()},
	{"Host lowercase name", "GET / HTTP/1.1\r\nhOsT: a\r\n\r\n", func() reqWant {
		w := get("/", "a")
		w.headers = []string{"hOsT: a"}
		return w
	}()},
	{"Host reg-name sub-delims", "GET / HTTP/1.1\r\nHost: a-b_c~d!$\r\n\r\n", func() reqWant {
		w := get("/", "a-b_c~d!$")
		w.headers = []string{"Host: a-b_c~d!$"}
		return w
	}()},
	{"empty lines before request-line", "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", get("/", "a")},
	{"body bytes after head", "GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\n", func() reqWant {
		w := get("/", "a")
		w.n = len("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
		return w
	}()},
	{"absolute-form", "GET http://example.com/x?y HTTP/1.1\r\nHost: other\r\n\r\n", reqWant{
		method: MethodGET, methodName: "GET", form: FormAbsolute, target: "http://example.com/x?y", scheme: SchemeHTTP,
		authority: "example.com", host: "example.com", path: "/x?y", minor: 1, hostIndex: 0, hostHeaderHost: "other",
		cl: -1, keepAlive: true, headers: []string{"Host: other"}}},
	{"absolute-form no Host", "GET HTTP://Example.com:8080 HTTP/1.1\r\n\r\n", reqWant{
		method: MethodGET, methodName: "GET", form: FormAbsolute, target: "HTTP://Example.com:8080", scheme: SchemeHTTP,
		authority: "Example.com:8080", host: "Example.com", port: 8080, minor: 1, hostIndex: -1,
		cl: -1, keepAlive: true}},
	{"absolute-form https IPv6 query only", "GET https://[::1]:8443?q HTTP/1.1\r\n\r\n", reqWant{
		method: MethodGET, methodName: "GET", form: FormAbsolute, target: "https://[::1]:8443?q", scheme: SchemeHTTPS,
		authority: "[::1]:8443", host: "::1", port: 8443, path: "?q", minor: 1, hostIndex: -1,
		cl: -1, keepAlive: true}},
	{"absolute-form empty port", "GET http://a:/ HTTP/1.1\r\n\r\n", reqWant{
		method: MethodGET, methodName: "GET", form: FormAbsolute, target: "http://a:/", scheme: SchemeHTTP,
		authority: "a:", host: "a", path: "/", minor: 1, hostIndex: -1, cl: -1, keepAlive: true}},
	{"CONNECT", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", reqWant{
		method: MethodCONNECT, methodName: "CONNECT", form: FormAuthority, target: "example.com:443",
		authority: "example.com:443", host: "example.com", port: 443, minor: 1, hostIndex: 0,
		hostHeaderHost: "example.com", hostHeaderPort: 443, cl: -1, keepAlive: true,
		headers: []string{"Host: example.com:443"}}},
	{"CONNECT IPv6 no Host", "CONNECT [2001:db8::1]:443 HTTP/1.1\r\n\r\n", reqWant{
		method: MethodCONNECT, methodName: "CONNECT", form: FormAuthority, target: "[2001:db8::1]:443",
		authority: "[2001:db8::1]:443", host: "2001:db8::1", port: 443, minor: 1, hostIndex: -1, cl: -1, keepAlive: true}},
	{"OPTIONS asterisk", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", reqWant{
		method: MethodOPTIONS, methodName: "OPTIONS", form: FormAsterisk, target: "*", minor: 1, hostIndex: 0,
		hostHeaderHost: "a", cl: -1, keepAlive: true, headers: []string{"Host: a"}}},
	{"HTTP/1.0 without Host", "GET / HTTP/1.0\r\n\r\n", reqWant{
		method: MethodGET, methodName: "GET", target: "/", path: "/", hostIndex: -1, cl: -1}},
	{"HTTP/1.0 keep-alive", "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", reqWant{
		method: MethodGET, methodName: "GET", target: "/", path: "/", hostIndex: -1, cl: -1, keepAlive: true,
		headers: []string{"Connection: Keep-Alive"}}},
	{"HTTP/1.2 as 1.1", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", get("/", "a")},
	{"unknown method", "FOO / HTTP/1.1\r\nHost: a\r\n\r\n", func() reqWant {
		w := get("/", "a")
		w.method, w.methodName = MethodOther, "FOO"
		return w
	}()},
	{"lowercase method is other", "get / HTTP/1.1\r\nHost: a\r\n\r\n", func() reqWant {
		w := get("/", "a")
		w.method, w.methodName = MethodOther, "get"
		return w
	}()},
	{"Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 42\r\n\r\n", func() reqWant {
		w := get("/", "a")
		w.method, w.methodName, w.cl = MethodPOST, "POST", 42
		w.headers = append(w.headers, "Content-Length: 42")
		return w
	}()},
	{"Content-Length list of equal values", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n", func() reqWant {
		w := get("/", "a")
		w.method, w.methodName, w.cl = MethodPOST, "POST", 5
		w.headers = append(w.headers, "Content-Length: 5, 5")
		return w
	}()},
	{"Content-Length repeated fields", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\ncontent-length: 005\r\n\r\n", func() reqWant {
		w := get("/", "a")
		w.method, w.methodName, w.cl = MethodPOST, "POST", 5
		w.headers = append(w.headers, "Content-Length: 5", "content-length: 005")
		return w
	}()},
	{"Content-Length max int64", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775807\r\n\r\n", func() reqWant {
		w := get("/", "a")
		w.method, w.methodName, w.cl = MethodPOST, "POST", 1<<63-1
		w.headers = append(w.headers, "Content-Length: 9223372036854775807")
		return w
	}()},
	{"chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", func() reqWant {
		w := get("/", "a")
		w.method, w.methodName, w.chunked = MethodPOST, "POST", true
		w.headers = append(w.headers, "Transfer-Encoding: chunked")
		return w
	}()},
	{"chunked mixed case", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ChUnKeD\r\n\r\n", func() reqWant {
		w := get("/", "a")
		w.method, w.methodName, w.chunked = MethodPOST, "POST", true
		w.headers = append(w.headers, "Transfer-Encoding: ChUnKeD")
		return w
	}()},
	{"gzip then chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip;level=\"9\" , x-gzip\r\nTransfer-Encoding: chunked\r\n\r\n", func() reqWant {
		w := get("/", "a")
		w.method, w.methodName, w.chunked = MethodPOST, "POST", true
		w.headers = append(w.headers, "Transfer-Encoding: gzip;level=\"9\" , x-gzip", "Transfer-Encoding: chunked")
		return w
	}()},
	{"connection options", "GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, CLOSE ,,Upgrade\r\nUpgrade: websocket\r\n\r\n", func() reqWant {
		w := get("/", "a")
		w.close, w.keepAlive, w.upgrade = true, false, true
		w.headers = append(w.headers, "Connection: foo, CLOSE ,,Upgrade", "Upgrade: websocket")
		return w
	}()},
	{"upgrade token without Upgrade field", "GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\n\r\n", func() reqWant {
		w := get("/", "a")
		w.headers = append(w.headers, "Connection: upgrade")
		return w
	}()},
	{"expect 100-continue", "PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n", func() reqWant {
		w := get("/", "a")
		w.method, w.methodName, w.cl, w.expect100 = MethodPUT, "PUT", 1, true
		w.headers = append(w.headers, "Expect: 100-Continue", "Content-Length: 1")
		return w
	}()},
	{"obs-text and tabs in value", "GET / HTTP/1.1\r\nHost: a\r\nX-A: \t\xc3\xa9 b\tc\t \r\nX-Empty:\r\n\r\n", func() reqWant {
		w := get("/", "a")
		w.headers = append(w.headers, "X-A: \xc3\xa9 b\tc", "X-Empty: ")
		return w
	}()},
	{"token punctuation in name", "GET / HTTP/1.1\r\nHost: a\r\n!#$%&'*+-.^_`|~09aZ: v\r\n\r\n", func() reqWant {
		w := get("/", "a")
		w.headers = append(w.headers, "!#$%&'*+-.^_`|~09aZ: v")
		return w
	}()},
	{"100 fields", "GET / HTTP/1.1\r\nHost: a\r\n" + strings.Repeat("X: y\r\n", 99) + "\r\n", func() reqWant {
		w := get("/", "a")
		for i := 0; i < 99; i++ {
			w.headers = append(w.headers, "X: y")
		}
		return w
	}()},
	{"request-line at the limit", "GET /" + strings.Repeat("a", 8192-len("GET / HTTP/1.1")) + " HTTP/1.1\r\nHost: a\r\n\r\n",
		get("/"+strings.Repeat("a", 8192-len("GET / HTTP/1.1")), "a")},
}

func TestRequestAccepts(t *testing.T) {
	for _, tc := range requestAccepts {
		t.Run(tc.name, func(t *testing.T) {
			r, n, err := parseRequestBoth(t, tc.in, Limits{})
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			want := tc.want
			if want.n == 0 {
				want.n = len(tc.in)
			}
			if n != want.n || string(r.Raw) != tc.in[:n] {
				t.Fatalf("n = %d, Raw %q; want %d", n, r.Raw, want.n)
			}
			got := r.got()
			got.n = n
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("got  %s\nwant %s", fmt.Sprintf("%+v", got), fmt.Sprintf("%+v", want))
			}
		})
	}
}

// TestRequestNeedMore checks that every proper prefix of a valid head asks
// for more bytes.
func TestRequestNeedMore(t *testing.T) {
	for _, tc := range requestAccepts {
		var p RequestParser
		in := tc.in[:len(tc.in)-1]
		if tc.want.n != 0 {
			in = tc.in[:tc.want.n-1]
		}
		for i := 0; i <= len(in); i++ {
			p.Reset()
			if n, err := p.Parse([]byte(in[:i])); n != 0 || err != nil {
				t.Fatalf("%s: prefix of %d bytes: (%d, %v)", tc.name, i, n, err)
			}
		}
	}
}

func TestRequestHeadLimitExact(t *testing.T) {
	in := base + "X: " + strings.Repeat("y", 100) + "\r\n\r\n"
	if _, n, err := parseRequestBoth(t, in, Limits{MaxHeadBytes: len(in)}); err != nil || n != len(in) {
		t.Fatalf("head of exactly MaxHeadBytes: (%d, %v)", n, err)
	}
	if _, _, err := parseRequestBoth(t, in, Limits{MaxHeadBytes: len(in) - 1}); err != ErrHeadTooLarge {
		t.Fatalf("head of MaxHeadBytes+1: %v", err)
	}
	// A request-line of MaxRequestLine+1 bytes fails before its CRLF.
	var p RequestParser
	if _, err := p.Parse([]byte("GET /" + strings.Repeat("a", DefaultMaxRequestLine-4))); err != ErrRequestLineTooLong {
		t.Fatalf("8 KiB + 1 request line without CRLF: %v", err)
	}
	p.Reset()
	if n, err := p.Parse([]byte("GET /" + strings.Repeat("a", DefaultMaxRequestLine-5) + "\r")); n != 0 || err != nil {
		t.Fatalf("8 KiB request line + CR: (%d, %v)", n, err)
	}
}

func TestRequestHeaderLookup(t *testing.T) {
	var p RequestParser
	in := "GET / HTTP/1.1\r\nHost: a\r\nX-Foo:  one \r\nx-foo: two\r\n\r\n"
	if n, err := p.Parse([]byte(in)); err != nil || n != len(in) {
		t.Fatal(n, err)
	}
	if v, ok := p.Req.Header("X-FOO"); !ok || string(v) != "one" {
		t.Fatalf("X-FOO = %q, %v", v, ok)
	}
	if v, ok := p.Req.Header("host"); !ok || string(v) != "a" {
		t.Fatalf("host = %q, %v", v, ok)
	}
	if _, ok := p.Req.Header("X-Bar"); ok {
		t.Fatal("X-Bar found")
	}
	// Rebase onto a copy; the spans stay valid after the original changes.
	cp := append([]byte(nil), p.Req.Raw...)
	orig := p.Req.Raw
	p.Req.Rebase(cp)
	for i := range orig {
		orig[i] = 'z'
	}
	if v, _ := p.Req.Header("x-foo"); string(v) != "one" {
		t.Fatalf("after Rebase: %q", v)
	}
}

func TestMethodIdempotent(t *testing.T) {
	for m, want := range map[Method]bool{
		MethodGET: true, MethodHEAD: true, MethodPUT: true, MethodDELETE: true, MethodOPTIONS: true, MethodTRACE: true,
		MethodPOST: false, MethodPATCH: false, MethodCONNECT: false, MethodOther: false,
	} {
		if m.Idempotent() != want {
			t.Errorf("%v.Idempotent() = %v", m, !want)
		}
	}
}
