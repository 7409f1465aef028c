package parser

import (
	"bufio"
	"crypto/sha256"
	hexenc "encoding/hex"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestGoldenHeads pins what the parsers make of a deterministic set of
// random heads and what the writers write for them, byte for byte, so that a
// change made for speed cannot change behaviour: each case's parse result and
// forwarded heads are digested and compared with testdata/golden_heads.txt,
// written by the code before the change (go test -run TestGoldenHeads
// -update-golden).
var updateGolden = flag.Bool("update-golden", false, "rewrite testdata/golden_heads.txt")

const goldenFile = "testdata/golden_heads.txt"

// goldenCases is the number of request and of response heads.
const goldenCases = 4000

// Field names the parsers and writers treat specially, in assorted cases,
// and some they do not.
var goldenNames = []string{
	"Host", "host", "HOST", "Content-Length", "content-length", "CONTENT-LENGTH",
	"Transfer-Encoding", "transfer-encoding", "Connection", "connection", "CONNECTION",
	"Upgrade", "upgrade", "Expect", "expect", "Date", "date", "Via", "via", "VIA",
	"Vary", "vary", "ETag", "etag", "TE", "te", "Trailer", "trailer", "Keep-Alive",
	"keep-alive", "Proxy-Connection", "proxy-connection", "Proxy-Authorization",
	"proxy-authorization", "Max-Forwards", "max-forwards", "Age", "age",
	"X-Hop", "x-hop", "Accept", "User-Agent", "Cookie", "Server", "Content-Type",
	"X", "Hostx", "Dat", "Conn", "Connectio", "Content-Lengths", "Vias", "Etag2",
	"Keep-Alivex", "Proxy-Authorizatio", "T", "Tee", "Trailers", "Upgrades",
}

// goldenValues are values by field, picked at random; the empty string key
// holds the values any field may get. goldenBad are values that fail to
// parse, picked less often.
var goldenValues = map[string][]string{
	"":                  {"", "v", "1", "a b", "x\ty", "*", "close", "keep-alive", "upgrade", "Accept-Encoding", "\xc3\xa9t\xc3\xa9", "W/\"e\"", "\"e\""},
	"host":              {"origin.test", "origin.test:18080", "[::1]:8080", "h:", "", "1.2.3.4:80"},
	"content-length":    {"0", "5", "5, 5", "005", " 7 "},
	"transfer-encoding": {"chunked", "gzip, chunked", "gzip", "identity"},
	"connection":        {"close", "keep-alive", "Upgrade", "x-hop, Keep-Alive", "X-HOP", "te, via", "content-length", "age, vary", "", ",", "close, upgrade, x-hop"},
	"upgrade":           {"websocket", "h2c"},
	"expect":            {"100-continue", "100-CONTINUE", "x"},
	"vary":              {"Accept-Encoding", "accept-encoding, cookie", "*", "", "Cookie", "User-Agent , origin"},
	"etag":              {"\"abc\"", "W/\"abc\"", "w/\"x\"", "", "W"},
	"via":               {"1.0 a", "", "1.1 b, 1.1 c"},
	"max-forwards":      {"3", "0", "x"},
}

var goldenBad = map[string][]string{
	"host":              {"a@b", "h:0", "h:99999", "x y", "[::1", "h:12x", "h:123456", "h%41"},
	"content-length":    {"5, 6", "", "x", "99999999999999999999"},
	"transfer-encoding": {"chunked, chunked", "chunked;q=1", ""},
}

var goldenTargets = []string{
	"/", "/small", "/a?b", "/p%20q", "/?%zz", "*", "http://origin.test:18080/small",
	"http://origin.test", "HTTP://Origin.Test/x?y", "https://h:443/", "http://[::1]:8080/p",
	"http://h:65535?q", "http://h:/", "http://1.2.3.4:8/", "http://[::ffff:1.2.3.4]/",
	"http://a.b.c.example/p/q/r?s=t&u=v",
}

var goldenBadTargets = []string{
	"/p%2", "http://a@b/", "http://[::1/", "http://h:0/", "http://h:65536/", "ftp://h/",
	"http://h/#f", "/a b", "http://:80/", "x:y@h:1", "http://h%41/", "mailto:x", "h:443",
}

var goldenConnectTargets = []string{
	"origin.test:443", "[2001:db8::1]:443", "h:0", "h", "a@h:443", "/x", "http://h:443",
}

var goldenMethods = []string{"GET", "GET", "POST", "HEAD", "OPTIONS", "CONNECT", "PUT", "TRACE", "get"}

// goldenPick picks from good, or from bad one time in n.
func goldenPick(rng *rand.Rand, good, bad []string, n int) string {
	if len(bad) > 0 && rng.IntN(n) == 0 {
		return bad[rng.IntN(len(bad))]
	}
	return good[rng.IntN(len(good))]
}

// goldenOWS returns optional whitespace, most often none or one space.
func goldenOWS(rng *rand.Rand) string {
	return [...]string{"", "", "", " ", " ", " ", "  ", "\t", " \t"}[rng.IntN(9)]
}

// goldenFieldLines appends random field lines.
func goldenFieldLines(rng *rand.Rand, b *strings.Builder) {
	for n := rng.IntN(10); n > 0; n-- {
		name := goldenNames[rng.IntN(len(goldenNames))]
		if rng.IntN(3) == 0 {
			name = [...]string{"Accept", "User-Agent", "Cookie", "Server", "Content-Type", "X-Request-Id"}[rng.IntN(6)]
		}
		key := strings.ToLower(name)
		vals, bad := goldenValues[key], goldenBad[key]
		if len(vals) == 0 || rng.IntN(6) == 0 {
			vals, bad = goldenValues[""], nil
		}
		b.WriteString(name)
		b.WriteString(":")
		// Mostly the normal form "Name: value", else other whitespace.
		if rng.IntN(3) == 0 {
			b.WriteString(goldenOWS(rng))
		} else {
			b.WriteString(" ")
		}
		b.WriteString(goldenPick(rng, vals, bad, 12))
		if rng.IntN(4) == 0 {
			b.WriteString(goldenOWS(rng))
		}
		b.WriteString("\r\n")
	}
	b.WriteString("\r\n")
}

func goldenRequest(rng *rand.Rand) string {
	var b strings.Builder
	m := goldenMethods[rng.IntN(len(goldenMethods))]
	b.WriteString(m)
	b.WriteString(" ")
	if m == "CONNECT" {
		b.WriteString(goldenConnectTargets[rng.IntN(len(goldenConnectTargets))])
	} else {
		b.WriteString(goldenPick(rng, goldenTargets, goldenBadTargets, 6))
	}
	b.WriteString([...]string{" HTTP/1.1\r\n", " HTTP/1.1\r\n", " HTTP/1.0\r\n", " HTTP/1.2\r\n"}[rng.IntN(4)])
	if rng.IntN(3) > 0 {
		b.WriteString("Host: origin.test\r\n")
	}
	goldenFieldLines(rng, &b)
	return b.String()
}

func goldenResponse(rng *rand.Rand) string {
	var b strings.Builder
	b.WriteString([...]string{"HTTP/1.1 ", "HTTP/1.1 ", "HTTP/1.0 "}[rng.IntN(3)])
	b.WriteString([...]string{"200 OK", "204 No Content", "304 Not Modified", "101 Switching", "404", "500 x y"}[rng.IntN(6)])
	b.WriteString("\r\n")
	goldenFieldLines(rng, &b)
	return b.String()
}

// goldenFields appends the formatted args and the spans of hs.
func goldenFields(dst []byte, hs []Header, format string, args ...any) []byte {
	dst = fmt.Appendf(dst, format, args...)
	for _, h := range hs {
		dst = fmt.Appendf(dst, "%v%v", h.Name, h.Value)
	}
	return dst
}

// goldenRequestCase returns the parse result of a random request head and
// the heads written for it with random options.
func goldenRequestCase(rng *rand.Rand, dst []byte) (in string, out []byte) {
	in = goldenRequest(rng)
	var p RequestParser
	n, err := p.Parse([]byte(in))
	r := &p.Req
	out = fmt.Appendf(dst, "%d %v", n, err)
	if n == 0 {
		return in, out
	}
	out = goldenFields(out, r.Headers, " m%d %v f%d %v s%d %v %v %d %v %d|", r.Method, r.MethodName, r.Form, r.Target, r.Scheme,
		r.Authority, r.Host, r.Port, r.Path, r.ProtoMinor)
	out = fmt.Appendf(out, "|%d %v %d %d %v %v %v %v %v|", r.HostIndex, r.HostHeaderHost, r.HostHeaderPort,
		r.ContentLength, r.Chunked, r.ConnClose, r.ConnKeepAlive, r.ConnUpgrade, r.Expect100)
	for k := 0; k < 4; k++ {
		f := ForwardRequest{Authority: []byte("up.test:8080")}
		if rng.IntN(2) == 0 {
			f.Via = []byte("1.1 sluice")
		}
		f.Upgrade = rng.IntN(4) == 0
		if rng.IntN(4) == 0 {
			f.SetMaxForwards, f.MaxForwards = true, rng.Int64N(10)
		}
		f.AbsoluteForm = rng.IntN(4) == 0
		if rng.IntN(4) == 0 {
			f.ProxyAuthorization = "Basic cA=="
		}
		out = AppendRequestHead(append(out, '|'), r, &f)
	}
	return in, out
}

// goldenResponseCase is goldenRequestCase for a response head.
func goldenResponseCase(rng *rand.Rand, dst []byte) (in string, out []byte) {
	in = goldenResponse(rng)
	var p ResponseParser
	n, err := p.Parse([]byte(in))
	r := &p.Resp
	out = fmt.Appendf(dst, "%d %v", n, err)
	if n == 0 {
		return in, out
	}
	out = goldenFields(out, r.Headers, " %d %d %v|", r.ProtoMinor, r.StatusCode, r.Reason)
	out = fmt.Appendf(out, "|%d %v %v %v %v %v %v|", r.ContentLength, r.Chunked, r.TransferEncoding,
		r.ConnClose, r.ConnKeepAlive, r.ConnUpgrade, r.HasDate)
	for k := 0; k < 4; k++ {
		var f ForwardResponse
		if rng.IntN(2) == 0 {
			f.Via = []byte("1.1 sluice")
		}
		f.Close = rng.IntN(3) == 0
		f.KeepAlive = rng.IntN(3) == 0
		f.Unframe = rng.IntN(4) == 0
		f.Upgrade = rng.IntN(4) == 0
		if rng.IntN(2) == 0 {
			f.Date = []byte("Sun, 06 Nov 1994 08:49:37 GMT")
		}
		f.Skip = [...]string{"", "", "age", "via", "vary", "content-length", "x"}[rng.IntN(7)]
		f.Encoding = [...]string{"", "", "", "gzip", "zstd"}[rng.IntN(5)]
		f.VaryEncoding = rng.IntN(4) == 0
		f.Chunked = rng.IntN(4) == 0
		out = AppendResponseHead(append(out, '|'), r, &f)
	}
	return in, out
}

func TestGoldenHeads(t *testing.T) {
	rng := rand.New(rand.NewPCG(9112, 9110))
	var got []string
	var out []byte
	var in string
	var parsed [2]int
	for i := 0; i < 2*goldenCases; i++ {
		if i%2 == 0 {
			in, out = goldenRequestCase(rng, out[:0])
		} else {
			in, out = goldenResponseCase(rng, out[:0])
		}
		if out[0] != '0' {
			parsed[i%2]++
		}
		sum := sha256.Sum256(out)
		got = append(got, hexenc.EncodeToString(sum[:8]))
		if testing.Verbose() && i < 20 {
			t.Logf("case %d: %q\n-> %q", i, in, out)
		}
	}
	t.Logf("%d of %d requests and %d of %d responses parse", parsed[0], goldenCases, parsed[1], goldenCases)
	if *updateGolden {
		if err := os.WriteFile(goldenFile, []byte(strings.Join(got, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	f, err := os.Open(goldenFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var want []string
	for sc.Scan() {
		want = append(want, sc.Text())
	}
	if len(want) != len(got) {
		t.Fatalf("%s has %d cases, want %d", goldenFile, len(want), len(got))
	}
	bad := 0
	rng = rand.New(rand.NewPCG(9112, 9110))
	for i := range got {
		if i%2 == 0 {
			in, out = goldenRequestCase(rng, out[:0])
		} else {
			in, out = goldenResponseCase(rng, out[:0])
		}
		if got[i] != want[i] {
			t.Errorf("case %d changed: input %q\noutput now %q", i, in, out)
			if bad++; bad == 5 {
				t.Fatal("more cases changed")
			}
		}
	}
	t.Logf("%d cases, %s", len(got), strconv.Itoa(bad)+" changed")
}
