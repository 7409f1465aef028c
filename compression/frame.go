package compression

import (
	"errors"
	"runtime"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// Whole-body zstd frames, for bodies kept compressed (the response cache's
// entries). zstd rather than S2: BenchmarkStoreCodec (BENCHMARKS.md)
// measured S2 decoding 2.5-7x faster, but its output 1.3-1.7x larger, and S2
// is no HTTP content-coding, so every hit would pay a decode; a zstd frame
// goes as it is to a client that accepts zstd. Encoding runs at
// SpeedFastest: it is paid once per stored body, and bought a ratio within
// 3% of the default level in that benchmark.

var (
	frameOnce sync.Once
	frameEnc  *zstd.Encoder
	frameDec  *zstd.Decoder
	frameErr  error
)

func frameCodec() (*zstd.Encoder, *zstd.Decoder, error) {
	frameOnce.Do(func() {
		n := runtime.GOMAXPROCS(0)
		frameEnc, frameErr = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest),
			zstd.WithEncoderConcurrency(n), zstd.WithWindowSize(ZstdWindow), zstd.WithLowerEncoderMem(true))
		if frameErr != nil {
			return
		}
		frameDec, frameErr = zstd.NewReader(nil, zstd.WithDecoderConcurrency(n),
			zstd.WithDecoderMaxWindow(ZstdWindow*8), zstd.WithDecoderLowmem(true))
	})
	return frameEnc, frameDec, frameErr
}

// AppendFrame appends src compressed as one zstd frame (with its content
// size) to dst. Safe for concurrent use.
func AppendFrame(dst, src []byte) []byte {
	enc, _, err := frameCodec()
	if err != nil {
		panic(err) // fixed options: cannot fail
	}
	return enc.EncodeAll(src, dst)
}

// ErrFrameSize is a frame that does not decode to the size it was said to
// have.
var ErrFrameSize = errors.New("compression: frame decodes to another size")

// AppendUnframed appends the content of the zstd frame src, which must be
// size bytes, to dst. Safe for concurrent use.
func AppendUnframed(dst, src []byte, size int) ([]byte, error) {
	_, dec, err := frameCodec()
	if err != nil {
		return dst, err
	}
	start := len(dst)
	dst = growCap(dst, size)
	out, err := dec.DecodeAll(src, dst)
	if err != nil {
		return dst[:start], err
	}
	if len(out)-start != size {
		return out[:start], ErrFrameSize
	}
	return out, nil
}

// growCap returns dst with room for n more bytes.
func growCap(dst []byte, n int) []byte {
	if cap(dst)-len(dst) >= n {
		return dst
	}
	b := make([]byte, len(dst), len(dst)+n)
	copy(b, dst)
	return b
}
