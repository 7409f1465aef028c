package parser

import (
	"bytes"
	"strings"
	"testing"
)

// decodeResult is everything a decoding run produces.
type decodeResult struct {
	data     string
	consumed int
	done     bool
	err      error
}

// decodePieces feeds the pieces to a decoder as a caller does: bytes it did
// not consume are passed again, with the next piece appended. It checks the
// Decode contract on every call.
func decodePieces(t testing.TB, pieces []string, maxTrailer int) decodeResult {
	t.Helper()
	d := ChunkedDecoder{MaxTrailerBytes: maxTrailer}
	var res decodeResult
	var pending []byte
	for _, p := range pieces {
		pending = append(pending, p...)
		for len(pending) > 0 {
			n, data, done, err := d.Decode(pending)
			if err != nil {
				// How much was consumed before the error depends on how the
				// input was split; only the error and the data compare.
				res.err, res.consumed = err, -1
				return res
			}
			if n < 0 || n > len(pending) {
				t.Fatalf("Decode consumed %d of %d bytes", n, len(pending))
			}
			if len(data) > 0 && &data[len(data)-1] != &pending[n-1] {
				t.Fatalf("data does not end at in[n-1]")
			}
			if !done && len(data) == 0 && n != len(pending) {
				t.Fatalf("framing-only call left %d of %d bytes", len(pending)-n, len(pending))
			}
			res.data += string(data)
			res.consumed += n
			pending = pending[n:]
			if done {
				res.done = true
				return res
			}
			if n == 0 {
				break
			}
		}
	}
	return res
}

// decodeAllWays decodes in whole, split in two at every boundary, and one byte
// at a time, and fails unless all agree.
func decodeAllWays(t *testing.T, in string, maxTrailer int) decodeResult {
	t.Helper()
	whole := decodePieces(t, []string{in}, maxTrailer)
	step := 1
	if len(in) > 4096 {
		step = 61 // the long limit cases: every boundary would be quadratic
	}
	for i := 1; i < len(in); i += step {
		if got := decodePieces(t, []string{in[:i], in[i:]}, maxTrailer); got != whole {
			t.Fatalf("split at %d: %+v, whole: %+v", i, got, whole)
		}
	}
	bytewise := make([]string, len(in))
	for i := range in {
		bytewise[i] = in[i : i+1]
	}
	if got := decodePieces(t, bytewise, maxTrailer); got != whole {
		t.Fatalf("byte at a time: %+v, whole: %+v", got, whole)
	}
	return whole
}

func TestChunkedAccepts(t *testing.T) {
	for _, tc := range []struct {
		name, in, data string
		rest           int // bytes after the body
	}{
		{"one chunk", "5\r\nhello\r\n0\r\n\r\n", "hello", 0},
		{"empty body", "0\r\n\r\n", "", 0},
		{"several chunks, hex", "3\r\nabc\r\nA\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n", "abc01234567890123456789", 0},
		{"leading zeros", "0005\r\nhello\r\n000\r\n\r\n", "hello", 0},
		{"extensions", "5;a=b;c;d=\"x\\\"y;\" ;e = f\t;g\r\nhello\r\n0;z=\"\"\r\n\r\n", "hello", 0},
		{"BWS before extension", "5 \t;a\r\nhello\r\n0\r\n\r\n", "hello", 0},
		{"trailer fields", "1\r\nx\r\n0\r\nX-T: 1\r\nEmpty:\r\nY: a\tb \xff\r\n\r\n", "x", 0},
		{"pipelined bytes after body", "2\r\nhi\r\n0\r\n\r\nGET / HTTP/1.1\r\n", "hi", len("GET / HTTP/1.1\r\n")},
		{"data with CRLF inside", "4\r\n\r\n\r\n\r\n0\r\n\r\n", "\r\n\r\n", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := decodeAllWays(t, tc.in, 0)
			want := decodeResult{tc.data, len(tc.in) - tc.rest, true, nil}
			if got != want {
				t.Fatalf("got %+v, want %+v", got, want)
			}
		})
	}
}

func TestChunkedRejects(t *testing.T) {
	for _, tc := range []struct {
		name, rfc, in string
		err           *Error
		maxTrailer    int
	}{
		{"no digits", "RFC 9112 §7.1", "\r\n", ErrBadChunkSize, 0},
		{"not hex", "RFC 9112 §7.1", "x\r\n", ErrBadChunkSize, 0},
		{"negative", "RFC 9112 §7.1", "-1\r\n", ErrBadChunkSize, 0},
		{"plus sign", "RFC 9112 §7.1", "+1\r\n", ErrBadChunkSize, 0},
		{"0x prefix", "RFC 9112 §7.1", "0x5\r\n", ErrBadChunkSize, 0},
		{"leading space", "RFC 9112 §7.1", " 5\r\n", ErrBadChunkSize, 0},
		{"bare LF after size", "RFC 9112 §7.1", "5\nhello\r\n", ErrBareLF, 0},
		{"CR without LF after size", "RFC 9112 §7.1", "5\rhello", ErrBadChunkSize, 0},
		{"trailing space after size", "RFC 9112 §7.1.1", "5 \r\nhello\r\n", ErrBadChunkExt, 0},
		{"empty extension name", "RFC 9112 §7.1.1", "5;\r\nhello\r\n", ErrBadChunkExt, 0},
		{"empty extension value", "RFC 9112 §7.1.1", "5;a=\r\nhello\r\n", ErrBadChunkExt, 0},
		{"unterminated quoted value", "RFC 9112 §7.1.1", "5;a=\"x\r\nhello\r\n", ErrBadChunkExt, 0},
		{"two-word value", "RFC 9112 §7.1.1", "5;a=b c\r\nhello\r\n", ErrBadChunkExt, 0},
		{"trailing space after extension", "RFC 9112 §7.1.1", "5;a \r\nhello\r\n", ErrBadChunkExt, 0},
		{"NUL in quoted value", "RFC 9112 §7.1.1", "5;a=\"\x00\"\r\nhello\r\n", ErrBadChunkExt, 0},
		{"bare LF after extension", "RFC 9112 §7.1", "5;a\nhello\r\n", ErrBareLF, 0},
		{"extension too long", "RFC 9112 §7.1.1", "5;a=" + strings.Repeat("b", MaxChunkExtBytes) + "\r\nhello\r\n", ErrChunkExtTooLong, 0},
		{"extensions too long over many", "RFC 9112 §7.1.1", "5" + strings.Repeat(";a", MaxChunkExtBytes/2+1) + "\r\n", ErrChunkExtTooLong, 0},
		{"size 2^62", "RFC 9112 §7.1", "4000000000000000\r\n", ErrChunkSizeOverflow, 0},
		{"size 2^64", "RFC 9112 §7.1", "10000000000000000\r\n", ErrChunkSizeOverflow, 0},
		{"33 zero digits", "RFC 9112 §7.1", strings.Repeat("0", 33) + "\r\n", ErrChunkSizeOverflow, 0},
		{"data not followed by CRLF", "RFC 9112 §7.1", "5\r\nhelloX\r\n", ErrBadChunkTerminator, 0},
		{"data followed by bare LF", "RFC 9112 §7.1", "5\r\nhello\n0\r\n\r\n", ErrBadChunkTerminator, 0},
		{"data followed by CR CR", "RFC 9112 §7.1", "5\r\nhello\r\r\n", ErrBadChunkTerminator, 0},
		{"short chunk (smuggling)", "RFC 9112 §7.1", "3\r\nhello\r\n0\r\n\r\n", ErrBadChunkTerminator, 0},
		{"bare LF ending body", "RFC 9112 §7.1", "0\r\n\n", ErrBareLF, 0},
		{"CR then junk ending body", "RFC 9112 §7.1", "0\r\n\rx", ErrBadChunkTerminator, 0},
		{"trailer space before colon", "RFC 9112 §5.1", "0\r\nX : y\r\n\r\n", ErrSpaceBeforeColon, 0},
		{"trailer obs-fold", "RFC 9112 §5.2", "0\r\nX: y\r\n z\r\n\r\n", ErrObsFold, 0},
		{"trailer NUL", "RFC 9110 §5.5", "0\r\nX: \x00\r\n\r\n", ErrBadHeaderValue, 0},
		{"trailer bare CR", "RFC 9110 §5.5", "0\r\nX: a\rb\r\n\r\n", ErrBadHeaderValue, 0},
		{"trailer bare LF", "RFC 9112 §2.2", "0\r\nX: y\n\r\n", ErrBareLF, 0},
		{"trailer no colon", "RFC 9112 §5", "0\r\nX\r\n\r\n", ErrMissingColon, 0},
		{"trailer empty name", "RFC 9110 §5.1", "0\r\n: y\r\n\r\n", ErrEmptyHeaderName, 0},
		{"trailer bad name", "RFC 9110 §5.1", "0\r\nX(: y\r\n\r\n", ErrBadHeaderName, 0},
		{"trailer too large", "RFC 9112 §7.1.2", "0\r\nX: 0123456789\r\n\r\n", ErrTrailerTooLarge, 10},
		{"trailer too large default", "RFC 9112 §7.1.2", "0\r\nX: " + strings.Repeat("y", DefaultMaxTrailerBytes) + "\r\n\r\n", ErrTrailerTooLarge, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := decodeAllWays(t, tc.in, tc.maxTrailer)
			if got.err != tc.err {
				t.Fatalf("%s: got %+v, want %v", tc.rfc, got, tc.err)
			}
		})
	}
}

func TestChunkedNeedsMore(t *testing.T) {
	in := "5;a=\"b\"\r\nhello\r\n0\r\nX: y\r\n\r\n"
	for i := 0; i < len(in); i++ {
		if got := decodePieces(t, []string{in[:i]}, 0); got.done || got.err != nil || got.consumed != i {
			t.Fatalf("prefix %d: %+v", i, got)
		}
	}
}

func TestChunkedSkipData(t *testing.T) {
	var d ChunkedDecoder
	in := []byte("10\r\n0123456789abcdef\r\n0\r\n\r\n")
	n, data, done, err := d.Decode(in[:4])
	if n != 4 || len(data) != 0 || done || err != nil {
		t.Fatal(n, data, done, err)
	}
	if r := d.DataRemaining(); r != 16 {
		t.Fatalf("DataRemaining = %d", r)
	}
	d.SkipData(10) // spliced elsewhere
	if r := d.DataRemaining(); r != 6 {
		t.Fatalf("DataRemaining = %d", r)
	}
	n, data, done, err = d.Decode(in[14:])
	if n != 6 || string(data) != "abcdef" || done || err != nil {
		t.Fatal(n, string(data), done, err)
	}
	if d.DataRemaining() != 0 {
		t.Fatal("DataRemaining after the data")
	}
	n, _, done, err = d.Decode(in[20:])
	if n != len(in)-20 || !done || err != nil || !d.Done() {
		t.Fatal(n, done, err)
	}
	// Decode after done consumes nothing.
	if n, _, done, _ := d.Decode([]byte("x")); n != 0 || !done {
		t.Fatal("Decode after done", n, done)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("SkipData outside data did not panic")
		}
	}()
	d.SkipData(1)
}

func TestChunkedLargeSize(t *testing.T) {
	var d ChunkedDecoder
	if _, _, _, err := d.Decode([]byte("3fffffffffffffff\r\n")); err != nil {
		t.Fatal(err)
	}
	if r := d.DataRemaining(); r != 1<<62-1 {
		t.Fatalf("DataRemaining = %d", r)
	}
}

// chunkedBody encodes body in chunks of size n.
func chunkedBody(body []byte, n int) []byte {
	var b bytes.Buffer
	for len(body) > 0 {
		k := min(n, len(body))
		b.WriteString(strings.ToLower(strings.TrimLeft(hex(k), "0")) + "\r\n")
		b.Write(body[:k])
		b.WriteString("\r\n")
		body = body[k:]
	}
	b.WriteString("0\r\n\r\n")
	return b.Bytes()
}

func hex(n int) string {
	const digits = "0123456789abcdef"
	var b [16]byte
	for i := 15; i >= 0; i-- {
		b[i] = digits[n&15]
		n >>= 4
	}
	return string(b[:])
}
