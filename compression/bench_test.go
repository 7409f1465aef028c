package compression

import (
	"bytes"
	stdgzip "compress/gzip"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
)

// BenchmarkCompress compresses 1 MiB bodies with the standard library's
// gzip (level 6, its default) and with klauspost/compress's gzip and zstd at
// several levels, one body per op on one goroutine: MB/s per core
// (b.SetBytes) and the compressed size as a share of the input ("ratio",
// lower is better). Two bodies: "json", an API answer with a hash per
// record (corpus), and "text", Go source (net/http's, from GOROOT).
func BenchmarkCompress(b *testing.B) {
	b.Run("json", func(b *testing.B) { benchCompress(b, corpus(1<<20)) })
	b.Run("text", func(b *testing.B) { benchCompress(b, goSource(b, 1<<20)) })
}

// goSource returns n bytes of the Go standard library's net/http source.
func goSource(b *testing.B, n int) []byte {
	files, _ := filepath.Glob(filepath.Join(runtime.GOROOT(), "src", "net", "http", "*.go"))
	sort.Strings(files)
	var out []byte
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		out = append(out, data...)
		if len(out) >= n {
			return out[:n]
		}
	}
	b.Skipf("only %d bytes of Go source under GOROOT", len(out))
	return nil
}

func benchCompress(b *testing.B, in []byte) {
	run := func(b *testing.B, newW func(w io.Writer) io.WriteCloser) {
		var out bytes.Buffer
		b.SetBytes(int64(len(in)))
		b.ReportAllocs()
		for b.Loop() {
			out.Reset()
			w := newW(&out)
			if _, err := w.Write(in); err != nil {
				b.Fatal(err)
			}
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(out.Len())/float64(len(in)), "ratio")
	}
	// The standard library at its default (6), and at the levels whose
	// ratio is nearest klauspost's defaults, for a comparison at equal ratio.
	for _, level := range []int{4, 5, 6} {
		b.Run("stdlib-gzip-"+string(rune('0'+level)), func(b *testing.B) {
			zw, _ := stdgzip.NewWriterLevel(io.Discard, level)
			run(b, func(w io.Writer) io.WriteCloser { zw.Reset(w); return zw })
		})
	}
	for _, level := range []int{1, 5, 6, 7, 9} {
		b.Run("gzip-"+string(rune('0'+level)), func(b *testing.B) {
			zw, _ := gzip.NewWriterLevel(io.Discard, level)
			run(b, func(w io.Writer) io.WriteCloser { zw.Reset(w); return zw })
		})
	}
	for _, level := range []zstd.EncoderLevel{zstd.SpeedFastest, zstd.SpeedDefault, zstd.SpeedBetterCompression} {
		b.Run("zstd-"+level.String(), func(b *testing.B) {
			enc, _ := NewEncoders(Levels{Gzip: 5, Zstd: level})
			run(b, func(w io.Writer) io.WriteCloser {
				e, err := enc.Get(Zstd, w)
				if err != nil {
					b.Fatal(err)
				}
				return releasing{e}
			})
		})
	}
}

// releasing returns an Encoder to its pool when closed.
type releasing struct{ *Encoder }

func (r releasing) Close() error {
	err := r.Encoder.Close()
	r.Encoder.Release()
	return err
}

// BenchmarkStoreCodec measures the codecs a cache could keep its entries
// in: zstd (an HTTP content-coding, so a hit can go to a client that
// accepts it as stored) and S2 (faster, but no HTTP coding, so every hit
// would be decoded). "encode" is paid once per stored response, "decode" by
// every hit for a client that does not accept the stored coding.
func BenchmarkStoreCodec(b *testing.B) {
	for _, body := range []struct {
		name string
		in   []byte
	}{{"json", corpus(1 << 20)}, {"text", goSource(b, 1<<20)}, {"json-16k", corpus(16 << 10)}} {
		b.Run(body.name, func(b *testing.B) {
			in := body.in
			for _, level := range []zstd.EncoderLevel{zstd.SpeedFastest, zstd.SpeedDefault} {
				enc, _ := zstd.NewWriter(nil, zstd.WithEncoderLevel(level), zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(ZstdWindow))
				dec, _ := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
				z := enc.EncodeAll(in, nil)
				b.Run("zstd-"+level.String()+"/encode", func(b *testing.B) {
					b.SetBytes(int64(len(in)))
					var out []byte
					for b.Loop() {
						out = enc.EncodeAll(in, out[:0])
					}
					b.ReportMetric(float64(len(out))/float64(len(in)), "ratio")
				})
				b.Run("zstd-"+level.String()+"/decode", func(b *testing.B) {
					b.SetBytes(int64(len(in)))
					var out []byte
					for b.Loop() {
						var err error
						if out, err = dec.DecodeAll(z, out[:0]); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
			s := s2.Encode(nil, in)
			b.Run("s2/encode", func(b *testing.B) {
				b.SetBytes(int64(len(in)))
				out := make([]byte, s2.MaxEncodedLen(len(in)))
				var n int
				for b.Loop() {
					n = len(s2.Encode(out, in))
				}
				b.ReportMetric(float64(n)/float64(len(in)), "ratio")
			})
			b.Run("s2/decode", func(b *testing.B) {
				b.SetBytes(int64(len(in)))
				out := make([]byte, len(in))
				for b.Loop() {
					if _, err := s2.Decode(out, s); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
