package parser

import (
	"bytes"
	"fmt"
	"math"
	"runtime"
	"strings"
	"testing"
	"time"
)

// A proxy parses whatever its peers send, so every parser here must cost time
// linear in its input, however the input is shaped and however it arrives
// (whole, or a byte at a time): a quadratic one gives a peer CPU time in
// proportion to the square of what it sends, and stalls the fuzzer on the
// megabyte inputs it builds.
//
// TestLinearChunked and TestLinearHeads check the chunked decoder and the
// head parsers on inputs of linearSmall to linearBig bytes, each shaped to
// repeat one element of the grammar, fed whole and a byte at a time, with two
// measures:
//   - exact ones: every Decode call consumes at least one byte, so no byte is
//     consumed twice; a head fed a byte at a time is complete exactly at its
//     last byte; and no call allocates (growing or copying a buffer would);
//   - time per byte, at 4 and 16 times linearSmall against linearSmall:
//     linear code spends about the same, a quadratic one 4 and 16 times as
//     much. The bound, maxPerByteRatio, leaves room for cache effects; each
//     time is the fastest of linearRuns runs, and a measurement over the bound
//     is taken again, so that another process on a shared machine (which only
//     adds time) does not fail the test. -short skips the timing.
const (
	maxPerByteRatio = 3
	linearRuns      = 3 // runs of each measurement; the fastest counts
	linearAttempts  = 3 // measurements before a ratio above the bound fails
)

// The input sizes; a quarter of them under the race detector (race_test.go).
var (
	linearSmall = 64 << 10
	linearBig   = 1 << 20
)

// repeatTo returns head, then unit repeated, then tail, about n bytes in all.
func repeatTo(head, unit, tail string, n int) []byte {
	k := max(1, (n-len(head)-len(tail))/len(unit))
	return []byte(head + strings.Repeat(unit, k) + tail)
}

// chunkedShapes are chunked bodies of about n bytes.
var chunkedShapes = []struct {
	name string
	gen  func(n int) []byte
}{
	{"one-byte chunks", func(n int) []byte { return repeatTo("", "1\r\nx\r\n", "0\r\n\r\n", n) }},
	{"zero-padded sizes", func(n int) []byte {
		return repeatTo("", strings.Repeat("0", maxChunkDigits-1)+"1\r\nx\r\n", "0\r\n\r\n", n)
	}},
	{"chunk extensions", func(n int) []byte {
		return repeatTo("", "1 ; a = b ;c;d=\"e\\\"f\"\r\nx\r\n", "0\r\n\r\n", n)
	}},
	{"longest extensions", func(n int) []byte {
		ext := ";a=\"" + strings.Repeat("\\\"", (MaxChunkExtBytes-5)/2) + "\""
		return repeatTo("", "1"+ext+"\r\nx\r\n", "0\r\n\r\n", n)
	}},
	{"one chunk", func(n int) []byte {
		return []byte(fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", n, bytes.Repeat([]byte("x"), n)))
	}},
	{"trailer fields", func(n int) []byte { return repeatTo("0\r\n", "X-Trailer: v\r\n", "\r\n", n) }},
}

// decodeInPieces decodes the body in, handing the decoder at most piece new
// bytes at a time as a reader does. It fails unless every call consumes at
// least one byte and the body ends exactly at the end of in.
func decodeInPieces(t testing.TB, d *ChunkedDecoder, in []byte, piece int) {
	d.Reset()
	off := 0 // consumed
	for end := 0; end < len(in); {
		end += min(piece, len(in)-end)
		for off < end {
			n, _, done, err := d.Decode(in[off:end])
			if err != nil {
				t.Fatalf("at byte %d: %v", off, err)
			}
			if n <= 0 {
				t.Fatalf("Decode consumed %d bytes at byte %d of %d", n, off, end)
			}
			off += n
			if done {
				if off != len(in) {
					t.Fatalf("body ended at byte %d of %d", off, len(in))
				}
				return
			}
		}
	}
	t.Fatalf("body not done after %d bytes", len(in))
}

func TestLinearChunked(t *testing.T) {
	d := ChunkedDecoder{MaxTrailerBytes: 2 * linearBig}
	for _, sh := range chunkedShapes {
		big := sh.gen(linearBig)
		for _, piece := range []int{len(big), 1} {
			t.Run(fmt.Sprintf("%s/%s", sh.name, pieceName(piece)), func(t *testing.T) {
				// AllocsPerRun runs it twice: the checks, then the count.
				if a := testing.AllocsPerRun(1, func() { decodeInPieces(t, &d, big, piece) }); a != 0 {
					t.Fatalf("%v allocations", a)
				}
				checkLinear(t, sh.gen, func(in []byte) { decodeInPieces(t, &d, in, piece) })
			})
		}
	}
}

func pieceName(piece int) string {
	if piece == 1 {
		return "byte at a time"
	}
	return "whole"
}

// headShapes are request (resp false) or response heads of about n bytes.
var headShapes = []struct {
	name string
	resp bool
	gen  func(n int) []byte
}{
	{"request fields", false, func(n int) []byte {
		return repeatTo("GET / HTTP/1.1\r\nHost: a\r\n", "X-Field: value\r\n", "\r\n", n)
	}},
	{"request fields, HTAB and obs-text", false, func(n int) []byte {
		return repeatTo("GET / HTTP/1.1\r\nHost: a\r\n", "X:\ta\tb\x80c\r\n", "\r\n", n)
	}},
	{"request long field value", false, func(n int) []byte {
		return repeatTo("GET / HTTP/1.1\r\nHost: a\r\nX: ", "v", "\r\n\r\n", n)
	}},
	{"request long target", false, func(n int) []byte {
		return repeatTo("GET /", "a", " HTTP/1.1\r\nHost: a\r\n\r\n", n)
	}},
	{"request long lists", false, func(n int) []byte {
		// (Connection options are capped at MaxConnectionOptions: a
		// long list of them is refused, see TestRequestRejects.)
		return repeatTo("POST / HTTP/1.1\r\nHost: a\r\n", "Content-Length: 5, 5\r\nAccept: a, b, c\r\n", "\r\n", n)
	}},
	{"request long Transfer-Encoding", false, func(n int) []byte {
		return repeatTo("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ", "gzip;q=\"\\\"\", ", "chunked\r\n\r\n", n)
	}},
	{"response fields", true, func(n int) []byte {
		return repeatTo("HTTP/1.1 200 OK\r\n", "X-Field: value\r\n", "\r\n", n)
	}},
	{"response long reason", true, func(n int) []byte {
		return repeatTo("HTTP/1.1 200 ", "r", "\r\n\r\n", n)
	}},
}

// bigHeads lets a head grow to linearBig bytes and more.
var bigHeads = Limits{MaxRequestLine: 1 << 30, MaxHeadBytes: 1 << 30, MaxHeaders: 1 << 30}

// parseInPieces parses the head in with p, whole or one more byte at a time
// (in[:1], in[:2], ...), and fails unless it is complete exactly at its end.
func parseInPieces(t testing.TB, p interface{ Parse([]byte) (int, error) }, reset func(), in []byte, piece int) {
	reset()
	for end := 0; end < len(in); {
		end += min(piece, len(in)-end)
		n, err := p.Parse(in[:end])
		if err != nil {
			t.Fatalf("at byte %d: %v", end, err)
		}
		want := 0
		if end == len(in) {
			want = len(in)
		}
		if n != want {
			t.Fatalf("Parse(in[:%d]) = %d, want %d", end, n, want)
		}
	}
}

func TestLinearHeads(t *testing.T) {
	rp := RequestParser{Limits: bigHeads}
	sp := ResponseParser{Limits: bigHeads}
	for _, sh := range headShapes {
		big := sh.gen(linearBig)
		var p interface{ Parse([]byte) (int, error) } = &rp
		reset := rp.Reset
		if sh.resp {
			p, reset = &sp, sp.Reset
		}
		for _, piece := range []int{len(big), 1} {
			t.Run(fmt.Sprintf("%s/%s", sh.name, pieceName(piece)), func(t *testing.T) {
				// AllocsPerRun runs it once with the checks, Headers
				// growing, then counts over 4 runs: its integer mean
				// ignores an allocation or two that another goroutine of
				// the process makes meanwhile (the race detector's, a
				// timer's; it failed CI once with 1 over 1 run), while an
				// allocation per parse still counts 1.
				if a := testing.AllocsPerRun(4, func() { parseInPieces(t, p, reset, big, piece) }); a != 0 {
					t.Fatalf("%v allocations", a)
				}
				checkLinear(t, sh.gen, func(in []byte) { parseInPieces(t, p, reset, in, piece) })
			})
		}
	}
}

// checkLinear fails unless run, on inputs from gen of linearSmall bytes to
// linearBig, spends at most maxPerByteRatio times as long per byte as on the
// linearSmall one. The sizes grow four times at each step, so that a quadratic
// run fails at the first step, before it takes long.
func checkLinear(t *testing.T, gen func(n int) []byte, run func(in []byte)) {
	t.Helper()
	if testing.Short() {
		return
	}
	small := gen(linearSmall)
	for n := 4 * linearSmall; n <= linearBig; n *= 4 {
		in := gen(n)
		for attempt := 1; ; attempt++ {
			base, per := perByte(small, in, run)
			// Under a millisecond (a run that costs O(1) per chunk, not per
			// byte) is within the timer's granularity and the noise.
			if per <= maxPerByteRatio*base || per*float64(len(in)) < 1e6 {
				t.Logf("%.2f ns/byte at %d bytes, %.2f at %d bytes", base, len(small), per, len(in))
				break
			}
			if attempt == linearAttempts {
				t.Errorf("%.2f ns/byte at %d bytes, %.1f times the %.2f at %d bytes: not linear",
					per, len(in), per/base, base, len(small))
				return
			}
		}
	}
}

// perByte times run on a and on b, alternately so that both see the same load
// on the machine, and returns the fastest of linearRuns runs of each in
// nanoseconds per byte.
func perByte(a, b []byte, run func(in []byte)) (nsA, nsB float64) {
	runtime.GC()
	bestA, bestB := time.Duration(math.MaxInt64), time.Duration(math.MaxInt64)
	for range linearRuns {
		start := time.Now()
		run(a)
		mid := time.Now()
		run(b)
		bestA, bestB = min(bestA, mid.Sub(start)), min(bestB, time.Since(mid))
	}
	return float64(bestA.Nanoseconds()) / float64(len(a)), float64(bestB.Nanoseconds()) / float64(len(b))
}
