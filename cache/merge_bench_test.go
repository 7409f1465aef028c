package cache

import (
	"fmt"
	"testing"
)

// BenchmarkMergeHeadLarge: a 304 and a stored head of 256 fields each
// (the parser's MaxHeaders), all of other names: the worst case.
func BenchmarkMergeHeadLarge(b *testing.B) {
	stored, update := []byte("HTTP/1.1 200 OK\r\n"), []byte("HTTP/1.1 304 Not Modified\r\n")
	for i := range 256 {
		stored = fmt.Appendf(stored, "X-Stored-Field-%d: some value\r\n", i)
		update = fmt.Appendf(update, "X-Update-Field-%d: some value\r\n", i)
	}
	stored, update = append(stored, "\r\n"...), append(update, "\r\n"...)
	var dst []byte
	b.ReportAllocs()
	for range b.N {
		dst = MergeHead(dst[:0], stored, update)
	}
}
