package compression

import (
	"errors"
	"io"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// ZstdWindow bounds a zstd stream's window, and with it the memory one
// stream holds (and asks of its decoder): 1 MiB, plenty for HTTP bodies.
const ZstdWindow = 1 << 20

// Levels are the compression levels of the encoders: gzip's from
// gzip.BestSpeed (1) to gzip.BestCompression (9), zstd's a zstd.EncoderLevel.
type Levels struct {
	Gzip int
	Zstd zstd.EncoderLevel
}

// DefaultLevels are gzip level 6 and zstd's default. In BenchmarkCompress
// (BENCHMARKS.md, "Compression") they ran at 2.6-4.6x the standard
// library's gzip (level 6) with output 2-7% larger; of the levels that match
// its ratio, only zstd better was twice as fast, and on Go source only.
var DefaultLevels = Levels{Gzip: 6, Zstd: zstd.SpeedDefault}

// Encoders hands out pooled encoders of one set of levels. Safe for
// concurrent use; an Encoder is used by one goroutine at a time.
type Encoders struct {
	levels Levels
	gz, zs sync.Pool
}

// NewEncoders returns a pool of encoders at levels.
func NewEncoders(levels Levels) (*Encoders, error) {
	if levels.Gzip < gzip.BestSpeed || levels.Gzip > gzip.BestCompression {
		return nil, errors.New("compression: gzip level must be 1-9")
	}
	if levels.Zstd < zstd.SpeedFastest || levels.Zstd > zstd.SpeedBestCompression {
		return nil, errors.New("compression: unknown zstd level")
	}
	return &Encoders{levels: levels}, nil
}

// Encoder compresses one stream. Write compresses; Close finishes the
// stream (the coding's trailer is written); Release gives the encoder back
// to its pool, after Close or instead of it (the stream is then abandoned).
type Encoder struct {
	pool *Encoders
	gz   *gzip.Writer
	zs   *zstd.Encoder
}

// Get returns an encoder writing coding c to w.
func (p *Encoders) Get(c Coding, w io.Writer) (*Encoder, error) {
	switch c {
	case Gzip:
		if v, ok := p.gz.Get().(*Encoder); ok {
			v.gz.Reset(w)
			return v, nil
		}
		gz, err := gzip.NewWriterLevel(w, p.levels.Gzip)
		if err != nil {
			return nil, err
		}
		return &Encoder{pool: p, gz: gz}, nil
	case Zstd:
		if v, ok := p.zs.Get().(*Encoder); ok {
			v.zs.Reset(w)
			return v, nil
		}
		zs, err := zstd.NewWriter(w,
			zstd.WithEncoderLevel(p.levels.Zstd),
			zstd.WithEncoderConcurrency(1), // no goroutines of its own: the caller's is the one
			zstd.WithWindowSize(ZstdWindow),
			zstd.WithLowerEncoderMem(true))
		if err != nil {
			return nil, err
		}
		return &Encoder{pool: p, zs: zs}, nil
	}
	return nil, errors.New("compression: no encoder for " + c.String())
}

// Write compresses b.
func (e *Encoder) Write(b []byte) (int, error) {
	if e.gz != nil {
		return e.gz.Write(b)
	}
	return e.zs.Write(b)
}

// Flush writes what is buffered so that the receiver can decode everything
// written so far (a slow origin's bytes are not held back).
func (e *Encoder) Flush() error {
	if e.gz != nil {
		return e.gz.Flush()
	}
	return e.zs.Flush()
}

// Close finishes the stream.
func (e *Encoder) Close() error {
	if e.gz != nil {
		return e.gz.Close()
	}
	return e.zs.Close()
}

// Release returns the encoder to its pool; it must not be used afterwards.
func (e *Encoder) Release() {
	if e.gz != nil {
		e.gz.Reset(io.Discard)
		e.pool.gz.Put(e)
		return
	}
	e.zs.Reset(io.Discard)
	e.pool.zs.Put(e)
}
