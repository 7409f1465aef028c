package parser

import (
	"strings"
	"testing"
)

// base is a valid request-line and Host; cases add fields after it.
const base = "GET / HTTP/1.1\r\nHost: a\r\n"

// rejectCase is one input that must be rejected with exactly err.
type rejectCase struct {
	name string
	rfc  string // the rule that requires (or allows) the rejection
	in   string
	err  *Error
	lim  Limits
}

var requestRejects = []rejectCase{
	// Request-line (RFC 9112 §3).
	{"missing version", "RFC 9112 §3", "GET /\r\n\r\n", ErrBadRequestLine, Limits{}},
	{"missing target and version", "RFC 9112 §3", "GET\r\n\r\n", ErrBadRequestLine, Limits{}},
	{"double space after method", "RFC 9112 §3", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", ErrBadRequestLine, Limits{}},
	{"double space before version", "RFC 9112 §3", "GET /  HTTP/1.1\r\nHost: a\r\n\r\n", ErrBadRequestLine, Limits{}},
	{"trailing space after version", "RFC 9112 §3", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", ErrBadRequestLine, Limits{}},
	{"leading space", "RFC 9112 §3", " GET / HTTP/1.1\r\nHost: a\r\n\r\n", ErrBadRequestLine, Limits{}},
	{"tab as separator", "RFC 9112 §3", "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", ErrBadMethod, Limits{}},
	{"tab inside method", "RFC 9110 §9.1", "G\tET / HTTP/1.1\r\nHost: a\r\n\r\n", ErrBadMethod, Limits{}},
	{"method not a token", "RFC 9110 §9.1", "GE(T / HTTP/1.1\r\nHost: a\r\n\r\n", ErrBadMethod, Limits{}},
	{"method with NUL", "RFC 9110 §9.1", "G\x00T / HTTP/1.1\r\nHost: a\r\n\r\n", ErrBadMethod, Limits{}},
	{"TLS handshake", "RFC 9112 §3", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", ErrBadRequestLine, Limits{}},
	{"lowercase HTTP-name", "RFC 9112 §2.3", "GET / http/1.1\r\nHost: a\r\n\r\n", ErrBadRequestLine, Limits{}},
	{"version without minor", "RFC 9112 §2.3", "GET / HTTP/1\r\nHost: a\r\n\r\n", ErrBadRequestLine, Limits{}},
	{"two-digit minor", "RFC 9112 §2.3", "GET / HTTP/1.10\r\nHost: a\r\n\r\n", ErrBadRequestLine, Limits{}},
	{"two-digit major", "RFC 9112 §2.3", "GET / HTTP/11.1\r\nHost: a\r\n\r\n", ErrBadRequestLine, Limits{}},
	{"HTTP/2.0", "RFC 9110 §2.5", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", ErrVersion, Limits{}},
	{"HTTP/0.9", "RFC 9110 §2.5", "GET / HTTP/0.9\r\nHost: a\r\n\r\n", ErrVersion, Limits{}},
	{"HTTP/3.0", "RFC 9110 §2.5", "GET / HTTP/3.0\r\nHost: a\r\n\r\n", ErrVersion, Limits{}},
	{"bare CR in request-line", "RFC 9112 §2.2", "GET / HTTP/1.1\rX\r\nHost: a\r\n\r\n", ErrBadRequestLine, Limits{}},
	{"CR CR LF request-line", "RFC 9112 §2.2", "\r\r\nGET / HTTP/1.1\r\n\r\n", ErrBadRequestLine, Limits{}},
	{"too many empty lines first", "RFC 9112 §2.2", strings.Repeat("\r\n", 9) + base + "\r\n", ErrBadRequestLine, Limits{}},
	{"request-line too long", "RFC 9112 §3 (414)", "GET /" + strings.Repeat("a", 8192) + " HTTP/1.1\r\nHost: a\r\n\r\n", ErrRequestLineTooLong, Limits{}},
	{"request-line too long, no end", "RFC 9112 §3 (414)", "GET /" + strings.Repeat("a", 8190), ErrRequestLineTooLong, Limits{}},
	{"request-line over custom limit", "RFC 9112 §3 (414)", "GET /abcdefghij HTTP/1.1\r\nHost: a\r\n\r\n", ErrRequestLineTooLong, Limits{MaxRequestLine: 20}},

	// Line ends (RFC 9112 §2.2): bare LF rejected by choice.
	{"bare LF after request-line", "RFC 9112 §2.2", "GET / HTTP/1.1\nHost: a\r\n\r\n", ErrBareLF, Limits{}},
	{"bare LF after field", "RFC 9112 §2.2", "GET / HTTP/1.1\r\nHost: a\n\r\n", ErrBareLF, Limits{}},
	{"bare LF empty line", "RFC 9112 §2.2", base + "\n", ErrBareLF, Limits{}},
	{"bare LF only", "RFC 9112 §2.2", "\n" + base + "\r\n", ErrBareLF, Limits{}},
	{"bare LF everywhere", "RFC 9112 §2.2", "GET / HTTP/1.1\nHost: a\n\n", ErrBareLF, Limits{}},

	// Request-target (RFC 9112 §3.2, RFC 3986).
	{"fragment in origin-form", "RFC 9112 §3.2", "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", ErrFragment, Limits{}},
	{"fragment in absolute-form", "RFC 9112 §3.2", "GET http://a/#x HTTP/1.1\r\n\r\n", ErrFragment, Limits{}},
	{"control byte in target", "RFC 3986 §2", "GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n", ErrBadTarget, Limits{}},
	{"DEL in target", "RFC 3986 §2", "GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n", ErrBadTarget, Limits{}},
	{"non-ASCII in target", "RFC 3986 §2", "GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", ErrBadTarget, Limits{}},
	{"bad percent-encoding", "RFC 3986 §2.1", "GET /a%zz HTTP/1.1\r\nHost: a\r\n\r\n", ErrBadTarget, Limits{}},
	{"truncated percent-encoding", "RFC 3986 §2.1", "GET /a%2 HTTP/1.1\r\nHost: a\r\n\r\n", ErrBadTarget, Limits{}},
	{"relative target", "RFC 9112 §3.2", "GET a/b HTTP/1.1\r\nHost: a\r\n\r\n", ErrBadTarget, Limits{}},
	{"star prefix", "RFC 9112 §3.2.4", "OPTIONS *x HTTP/1.1\r\nHost: a\r\n\r\n", ErrBadTarget, Limits{}},
	{"asterisk with GET", "RFC 9112 §3.2.4", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", ErrTargetForm, Limits{}},
	{"authority-form with GET", "RFC 9112 §3.2.3", "GET example.com:443 HTTP/1.1\r\nHost: a\r\n\r\n", ErrTargetForm, Limits{}},
	{"scheme ftp", "RFC 9112 §3.2.2", "GET ftp://a/ HTTP/1.1\r\n\r\n", ErrBadScheme, Limits{}},
	{"scheme ws", "RFC 9112 §3.2.2", "GET ws://a/ HTTP/1.1\r\n\r\n", ErrBadScheme, Limits{}},
	{"http without slashes", "RFC 9110 §4.2.1", "GET http:a/b HTTP/1.1\r\nHost: a\r\n\r\n", ErrBadTarget, Limits{}},
	{"userinfo in absolute-form", "RFC 9110 §4.2.4", "GET http://u:p@a/ HTTP/1.1\r\n\r\n", ErrUserinfo, Limits{}},
	{"empty userinfo", "RFC 9110 §4.2.4", "GET http://@a/ HTTP/1.1\r\n\r\n", ErrUserinfo, Limits{}},
	{"empty host in absolute-form", "RFC 9110 §4.2.1", "GET http:///x HTTP/1.1\r\n\r\n", ErrBadTarget, Limits{}},
	{"port only in absolute-form", "RFC 9110 §4.2.1", "GET http://:80/x HTTP/1.1\r\n\r\n", ErrBadTarget, Limits{}},
	{"port too large", "RFC 3986 §3.2.3", "GET http://a:65536/ HTTP/1.1\r\n\r\n", ErrBadPort, Limits{}},
	{"port zero", "RFC 3986 §3.2.3", "GET http://a:0/ HTTP/1.1\r\n\r\n", ErrBadPort, Limits{}},
	{"port with six digits", "RFC 3986 §3.2.3", "GET http://a:000080/ HTTP/1.1\r\n\r\n", ErrBadPort, Limits{}},
	{"port not digits", "RFC 3986 §3.2.3", "GET http://a:8x/ HTTP/1.1\r\n\r\n", ErrBadTarget, Limits{}},
	{"unbracketed IPv6", "RFC 3986 §3.2.2", "GET http://::1/ HTTP/1.1\r\n\r\n", ErrBadTarget, Limits{}},
	{"IPv6 zone", "RFC 3986 §3.2.2", "GET http://[fe80::1%25eth0]/ HTTP/1.1\r\n\r\n", ErrBadTarget, Limits{}},
	{"IPvFuture", "RFC 3986 §3.2.2", "GET http://[v1.x]/ HTTP/1.1\r\n\r\n", ErrBadTarget, Limits{}},
	{"IPv6 too many groups", "RFC 3986 §3.2.2", "GET http://[1:2:3:4:5:6:7:8:9]/ HTTP/1.1\r\n\r\n", ErrBadTarget, Limits{}},
	{"IPv6 two elisions", "RFC 3986 §3.2.2", "GET http://[1::2::3]/ HTTP/1.1\r\n\r\n", ErrBadTarget, Limits{}},
	{"unclosed IPv6", "RFC 3986 §3.2.2", "GET http://[::1/ HTTP/1.1\r\n\r\n", ErrBadTarget, Limits{}},
	{"bad pct in absolute path", "RFC 3986 §2.1", "GET http://a/%g0 HTTP/1.1\r\n\r\n", ErrBadTarget, Limits{}},
	{"CONNECT origin-form", "RFC 9112 §3.2.3", "CONNECT /x HTTP/1.1\r\nHost: a\r\n\r\n", ErrTargetForm, Limits{}},
	{"CONNECT absolute-form", "RFC 9112 §3.2.3", "CONNECT http://a:80/ HTTP/1.1\r\n\r\n", ErrTargetForm, Limits{}},
	{"CONNECT asterisk", "RFC 9112 §3.2.3", "CONNECT * HTTP/1.1\r\nHost: a\r\n\r\n", ErrTargetForm, Limits{}},
	{"CONNECT without port", "RFC 9112 §3.2.3", "CONNECT a.com HTTP/1.1\r\n\r\n", ErrBadTarget, Limits{}},
	{"CONNECT empty port", "RFC 9112 §3.2.3", "CONNECT a.com: HTTP/1.1\r\n\r\n", ErrBadTarget, Limits{}},
	{"CONNECT empty host", "RFC 9112 §3.2.3", "CONNECT :443 HTTP/1.1\r\n\r\n", ErrBadTarget, Limits{}},
	{"CONNECT userinfo", "RFC 9110 §4.2.4", "CONNECT u@a.com:443 HTTP/1.1\r\n\r\n", ErrUserinfo, Limits{}},
	{"CONNECT port too large", "RFC 3986 §3.2.3", "CONNECT a.com:70000 HTTP/1.1\r\n\r\n", ErrBadPort, Limits{}},
	{"CONNECT path after port", "RFC 9112 §3.2.3", "CONNECT a.com:443/x HTTP/1.1\r\n\r\n", ErrBadTarget, Limits{}},

	// Field lines (RFC 9112 §5, RFC 9110 §5).
	{"space before colon", "RFC 9112 §5.1", base + "Foo : bar\r\n\r\n", ErrSpaceBeforeColon, Limits{}},
	{"tab before colon", "RFC 9112 §5.1", base + "Foo\t: bar\r\n\r\n", ErrSpaceBeforeColon, Limits{}},
	{"space before colon of TE", "RFC 9112 §5.1", base + "Transfer-Encoding : chunked\r\n\r\n", ErrSpaceBeforeColon, Limits{}},
	{"space before colon of Host", "RFC 9112 §5.1", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", ErrSpaceBeforeColon, Limits{}},
	{"obs-fold space", "RFC 9112 §5.2", base + "Foo: bar\r\n baz\r\n\r\n", ErrObsFold, Limits{}},
	{"obs-fold tab", "RFC 9112 §5.2", base + "Foo: bar\r\n\tbaz\r\n\r\n", ErrObsFold, Limits{}},
	{"obs-fold of TE", "RFC 9112 §5.2", base + "Transfer-Encoding: gzip\r\n chunked\r\n\r\n", ErrObsFold, Limits{}},
	{"whitespace before first field", "RFC 9112 §2.2", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", ErrObsFold, Limits{}},
	{"NUL in value", "RFC 9110 §5.5", base + "Foo: a\x00b\r\n\r\n", ErrBadHeaderValue, Limits{}},
	{"bare CR in value", "RFC 9110 §5.5", base + "Foo: a\rb\r\n\r\n", ErrBadHeaderValue, Limits{}},
	{"CR CR LF after value", "RFC 9112 §2.2", base + "Foo: a\r\r\n\r\n", ErrBadHeaderValue, Limits{}},
	{"control byte in value", "RFC 9110 §5.5", base + "Foo: a\x01b\r\n\r\n", ErrBadHeaderValue, Limits{}},
	{"DEL in value", "RFC 9110 §5.5", base + "Foo: a\x7fb\r\n\r\n", ErrBadHeaderValue, Limits{}},
	{"vertical tab before TE value", "RFC 9110 §5.5", base + "Transfer-Encoding:\x0bchunked\r\n\r\n", ErrBadHeaderValue, Limits{}},
	{"quote in name", "RFC 9110 §5.1", base + "Fo\"o: x\r\n\r\n", ErrBadHeaderName, Limits{}},
	{"NUL in name", "RFC 9110 §5.1", base + "Fo\x00o: x\r\n\r\n", ErrBadHeaderName, Limits{}},
	{"obs-text in name", "RFC 9110 §5.1", base + "F\xc3\xb6: x\r\n\r\n", ErrBadHeaderName, Limits{}},
	{"space inside name", "RFC 9110 §5.1", base + "Foo Bar: x\r\n\r\n", ErrBadHeaderName, Limits{}},
	{"empty name", "RFC 9110 §5.1", base + ": x\r\n\r\n", ErrEmptyHeaderName, Limits{}},
	{"no colon", "RFC 9112 §5", base + "Foo\r\n\r\n", ErrMissingColon, Limits{}},
	{"no colon with space", "RFC 9112 §5", base + "Foo bar\r\n\r\n", ErrMissingColon, Limits{}},
	{"too many fields", "RFC 9110 §5.4 (431)", base + strings.Repeat("X: y\r\n", DefaultMaxHeaders) + "\r\n", ErrTooManyHeaders, Limits{}},
	{"too many Connection options", "the head writer's cost (fields.go)", base + "Connection: " + strings.Repeat("a,", MaxConnectionOptions) + "x\r\n\r\n", ErrTooManyConnectionOptions, Limits{}},
	{"too many Connection options in several fields", "the head writer's cost (fields.go)", base + strings.Repeat("Connection: a, b\r\n", MaxConnectionOptions/2) + "Connection: c\r\n\r\n", ErrTooManyConnectionOptions, Limits{}},
	{"too many fields custom", "RFC 9110 §5.4 (431)", base + "A: 1\r\nB: 2\r\n\r\n", ErrTooManyHeaders, Limits{MaxHeaders: 2}},
	{"head too large", "RFC 9110 §5.4 (431)", base + "X: " + strings.Repeat("y", 70000) + "\r\n\r\n", ErrHeadTooLarge, Limits{}},
	{"head too large custom", "RFC 9110 §5.4 (431)", base + "X: yyyyyyyyyy\r\n\r\n", ErrHeadTooLarge, Limits{MaxHeadBytes: 32}},

	// Framing (RFC 9112 §6, RFC 9110 §8.6).
	{"TE and CL", "RFC 9112 §6.3 rule 3", base + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", ErrTEAndCL, Limits{}},
	{"CL and TE", "RFC 9112 §6.3 rule 3", base + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", ErrTEAndCL, Limits{}},
	{"CL zero and TE", "RFC 9112 §6.3 rule 3", base + "Content-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n", ErrTEAndCL, Limits{}},
	{"TE gzip only", "RFC 9112 §6.3 rule 4", base + "Transfer-Encoding: gzip\r\n\r\n", ErrTENotChunked, Limits{}},
	{"TE chunked then gzip", "RFC 9112 §6.3 rule 4", base + "Transfer-Encoding: chunked, gzip\r\n\r\n", ErrTENotChunked, Limits{}},
	{"TE chunked then gzip fields", "RFC 9112 §6.3 rule 4", base + "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n", ErrTENotChunked, Limits{}},
	{"TE unknown coding", "RFC 9112 §6.1 (501)", base + "Transfer-Encoding: foo, chunked\r\n\r\n", ErrUnknownCoding, Limits{}},
	{"TE identity", "RFC 9112 §6.1 (501)", base + "Transfer-Encoding: identity\r\n\r\n", ErrUnknownCoding, Limits{}},
	{"TE xchunked", "RFC 9112 §6.1 (501)", base + "Transfer-Encoding: xchunked\r\n\r\n", ErrUnknownCoding, Limits{}},
	{"TE chunked twice", "RFC 9112 §6.1", base + "Transfer-Encoding: chunked, chunked\r\n\r\n", ErrChunkedTwice, Limits{}},
	{"TE chunked in two fields", "RFC 9112 §6.1", base + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", ErrChunkedTwice, Limits{}},
	{"TE in HTTP/1.0", "RFC 9112 §6.1", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", ErrTEInHTTP10, Limits{}},
	{"TE empty", "RFC 9112 §6.1", base + "Transfer-Encoding: \r\n\r\n", ErrBadTransferEncoding, Limits{}},
	{"TE trailing comma", "RFC 9112 §6.1", base + "Transfer-Encoding: chunked,\r\n\r\n", ErrBadTransferEncoding, Limits{}},
	{"TE leading comma", "RFC 9112 §6.1", base + "Transfer-Encoding: , chunked\r\n\r\n", ErrBadTransferEncoding, Limits{}},
	{"TE chunked with parameter", "RFC 9112 §7.1", base + "Transfer-Encoding: chunked;q=1\r\n\r\n", ErrBadTransferEncoding, Limits{}},
	{"TE quoted", "RFC 9112 §6.1", base + "Transfer-Encoding: \"chunked\"\r\n\r\n", ErrBadTransferEncoding, Limits{}},
	{"TE two words", "RFC 9112 §6.1", base + "Transfer-Encoding: chunked x\r\n\r\n", ErrBadTransferEncoding, Limits{}},
	{"TE bad parameter", "RFC 9112 §7", base + "Transfer-Encoding: gzip;q, chunked\r\n\r\n", ErrBadTransferEncoding, Limits{}},
	{"CL letters", "RFC 9110 §8.6", base + "Content-Length: abc\r\n\r\n", ErrBadContentLength, Limits{}},
	{"CL negative", "RFC 9110 §8.6", base + "Content-Length: -1\r\n\r\n", ErrBadContentLength, Limits{}},
	{"CL plus sign", "RFC 9110 §8.6", base + "Content-Length: +5\r\n\r\n", ErrBadContentLength, Limits{}},
	{"CL empty", "RFC 9110 §8.6", base + "Content-Length: \r\n\r\n", ErrBadContentLength, Limits{}},
	{"CL inner space", "RFC 9110 §8.6", base + "Content-Length: 1 0\r\n\r\n", ErrBadContentLength, Limits{}},
	{"CL hex", "RFC 9110 §8.6", base + "Content-Length: 0x10\r\n\r\n", ErrBadContentLength, Limits{}},
	{"CL decimal point", "RFC 9110 §8.6", base + "Content-Length: 1.0\r\n\r\n", ErrBadContentLength, Limits{}},
	{"CL overflow", "RFC 9110 §8.6", base + "Content-Length: 9223372036854775808\r\n\r\n", ErrBadContentLength, Limits{}},
	{"CL trailing comma", "RFC 9110 §8.6", base + "Content-Length: 5,\r\n\r\n", ErrBadContentLength, Limits{}},
	{"CL list differs", "RFC 9112 §6.3 rule 5", base + "Content-Length: 5, 6\r\n\r\n", ErrConflictingContentLength, Limits{}},
	{"CL fields differ", "RFC 9112 §6.3 rule 5", base + "Content-Length: 5\r\nContent-Length: 6\r\n\r\n", ErrConflictingContentLength, Limits{}},
	{"CL field and list differ", "RFC 9112 §6.3 rule 5", base + "Content-Length: 5\r\nContent-Length: 5, 6\r\n\r\n", ErrConflictingContentLength, Limits{}},

	// Host (RFC 9112 §3.2, RFC 9110 §7.2).
	{"two Host fields", "RFC 9112 §3.2", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", ErrMultipleHost, Limits{}},
	{"two identical Host fields", "RFC 9112 §3.2", "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", ErrMultipleHost, Limits{}},
	{"two Host fields HTTP/1.0", "RFC 9112 §3.2", "GET / HTTP/1.0\r\nHost: a\r\nhost: a\r\n\r\n", ErrMultipleHost, Limits{}},
	{"two Host absolute-form", "RFC 9112 §3.2", "GET http://a/ HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", ErrMultipleHost, Limits{}},
	{"Host userinfo", "RFC 9110 §4.2.4", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", ErrBadHost, Limits{}},
	{"Host with space", "RFC 9112 §3.2", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", ErrBadHost, Limits{}},
	{"Host with slash", "RFC 9112 §3.2", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", ErrBadHost, Limits{}},
	{"Host bad port", "RFC 3986 §3.2.3", "GET / HTTP/1.1\r\nHost: a:b\r\n\r\n", ErrBadHost, Limits{}},
	{"Host port too large", "RFC 3986 §3.2.3", "GET / HTTP/1.1\r\nHost: a:99999\r\n\r\n", ErrBadHost, Limits{}},
	{"Host port zero", "RFC 3986 §3.2.3", "GET / HTTP/1.1\r\nHost: a:0\r\n\r\n", ErrBadHost, Limits{}},
	{"Host port only", "RFC 3986 §3.2.2", "GET / HTTP/1.1\r\nHost: :80\r\n\r\n", ErrBadHost, Limits{}},
	{"Host unclosed IPv6", "RFC 3986 §3.2.2", "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", ErrBadHost, Limits{}},
	{"Host bad IPv6", "RFC 3986 §3.2.2", "GET / HTTP/1.1\r\nHost: [zz::1]\r\n\r\n", ErrBadHost, Limits{}},
	{"Host IPv4 in IPv6 bad", "RFC 3986 §3.2.2", "GET / HTTP/1.1\r\nHost: [::256.1.1.1]\r\n\r\n", ErrBadHost, Limits{}},
	{"Host bad pct", "RFC 3986 §2.1", "GET / HTTP/1.1\r\nHost: a%zz\r\n\r\n", ErrBadHost, Limits{}},
	{"Host pct-encoded", "RFC 3986 §3.2.2", "GET / HTTP/1.1\r\nHost: a%41\r\n\r\n", ErrBadHost, Limits{}},
	{"absolute-form pct-encoded host", "RFC 3986 §3.2.2", "GET http://a%41/ HTTP/1.1\r\n\r\n", ErrBadTarget, Limits{}},
	{"Host two hosts", "RFC 9112 §3.2", "GET / HTTP/1.1\r\nHost: a, b\r\n\r\n", ErrBadHost, Limits{}},
	{"missing Host", "RFC 9112 §3.2", "GET / HTTP/1.1\r\nFoo: x\r\n\r\n", ErrMissingHost, Limits{}},
	{"missing Host asterisk", "RFC 9112 §3.2", "OPTIONS * HTTP/1.1\r\n\r\n", ErrMissingHost, Limits{}},
	{"missing Host HTTP/1.2", "RFC 9110 §2.5", "GET / HTTP/1.2\r\n\r\n", ErrMissingHost, Limits{}},
}

func TestRequestRejects(t *testing.T) {
	if len(requestRejects) < 80 {
		t.Fatalf("only %d must-reject cases", len(requestRejects))
	}
	seen := map[string]bool{}
	for _, tc := range requestRejects {
		if seen[tc.name] {
			t.Fatalf("duplicate case name %q", tc.name)
		}
		seen[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			if tc.rfc == "" {
				t.Fatal("case names no RFC section")
			}
			_, n, err := parseRequestBoth(t, tc.in, tc.lim)
			if err != tc.err {
				t.Fatalf("%s: got (%d, %v), want %v", tc.rfc, n, err, tc.err)
			}
			// The error sticks until Reset.
			p, _, _ := parseRequestWhole(tc.in, tc.lim)
			if _, err2 := p.Parse([]byte(tc.in)); err2 != tc.err {
				t.Fatalf("second Parse: %v, want %v", err2, tc.err)
			}
		})
	}
}
