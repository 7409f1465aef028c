package fuzz

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// TestFuzzChunkedLinear holds FuzzChunked's body to its O(len(data)) cost
// (README.md, Throughput): the bytes it allocates per input byte must not
// grow with the input, as they did when it concatenated the decoded data as
// strings (then 16 times more per byte at 16 times the size). Bytes
// allocated, unlike time, do not depend on the load of the machine.
func TestFuzzChunkedLinear(t *testing.T) {
	const small, big = 16 << 10, 256 << 10
	for _, tc := range []struct {
		name string
		gen  func(n int) []byte
	}{
		{"one chunk", func(n int) []byte { return []byte(fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", n, strings.Repeat("x", n))) }},
		{"one-byte chunks", func(n int) []byte { return []byte(strings.Repeat("1\r\nx\r\n", n/6) + "0\r\n\r\n") }},
		{"truncated chunk", func(n int) []byte { return []byte(fmt.Sprintf("%x\r\n%s", 2*n, strings.Repeat("x", n))) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, b := allocatedPerByte(t, tc.gen(small)), allocatedPerByte(t, tc.gen(big))
			if b > 2*s {
				t.Fatalf("%.1f bytes allocated per input byte at %d bytes, %.1f at %d: not linear", b, big, s, small)
			}
			t.Logf("%.1f bytes allocated per input byte at %d bytes, %.1f at %d", s, small, b, big)
		})
	}
}

// allocatedPerByte returns the bytes checkChunked allocates on data, per byte
// of data.
func allocatedPerByte(t *testing.T, data []byte) float64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	checkChunked(t, data, 1234)
	runtime.ReadMemStats(&after)
	return float64(after.TotalAlloc-before.TotalAlloc) / float64(len(data))
}
