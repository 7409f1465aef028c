package proxy

import (
	"errors"
	"strconv"

	"github.com/sluiceproxy/sluice/compression"
	"github.com/sluiceproxy/sluice/parser"
)

// BodyEncoder re-codes a response body for its client (Config.Compress):
// the body as the origin framed it (Content-Length, chunked, or delimited by
// close) is decoded, compressed with one coding, and framed again, chunked
// or (for an HTTP/1.0 client) delimited by close. It does no I/O: a driver
// moving the body off the loop (StreamSpec.Encode) feeds it what it reads
// and writes what it gives back, and so does the in-memory driver.
//
// Owned by the one goroutine that moves the body.
type BodyEncoder struct {
	framing parser.Framing
	remain  int64 // FramingLength: body bytes left
	chunks  parser.ChunkedDecoder
	w       encodedWriter
	enc     *compression.Encoder
	done    bool
}

// encodedWriter is where the encoder writes: each write becomes a chunk of
// out, or is appended as it is.
type encodedWriter struct {
	out     []byte
	chunked bool
}

func (w *encodedWriter) Write(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	if !w.chunked {
		w.out = append(w.out, b...)
		return len(b), nil
	}
	w.out = strconv.AppendUint(w.out, uint64(len(b)), 16)
	w.out = append(w.out, "\r\n"...)
	w.out = append(w.out, b...)
	w.out = append(w.out, "\r\n"...)
	return len(b), nil
}

// errBodyDone is feeding a body encoder past the body's end.
var errBodyDone = errors.New("proxy: body already ended")

// Start prepares b for the body of spec with encoders, its output chunked
// unless spec.Unframe (close-delimited).
func (b *BodyEncoder) Start(encs *compression.Encoders, spec *StreamSpec) error {
	enc, err := encs.Get(spec.Encode, &b.w)
	if err != nil {
		return err
	}
	b.framing, b.remain, b.chunks = spec.Framing, spec.Remain, spec.Chunks
	b.w = encodedWriter{out: b.w.out[:0], chunked: !spec.Unframe}
	b.enc, b.done = enc, false
	return nil
}

// Feed takes the origin's bytes from in; it returns how many were part of
// the body, and whether the body ended (the output is then complete).
// What it produced is in Output. Bytes after the body's end are not used.
func (b *BodyEncoder) Feed(in []byte) (used int, done bool, err error) {
	if b.done {
		return 0, true, errBodyDone
	}
	switch b.framing {
	case parser.FramingLength:
		k := len(in)
		if int64(k) > b.remain {
			k = int(b.remain)
		}
		if _, err := b.enc.Write(in[:k]); err != nil {
			return 0, false, err
		}
		b.remain -= int64(k)
		used = k
		if b.remain == 0 {
			return used, true, b.finish()
		}
	case parser.FramingChunked:
		for used < len(in) {
			n, data, end, err := b.chunks.Decode(in[used:])
			if err != nil {
				return used, false, err
			}
			if n == 0 {
				break
			}
			if len(data) > 0 {
				if _, err := b.enc.Write(data); err != nil {
					return used, false, err
				}
			}
			used += n
			if end {
				return used, true, b.finish()
			}
		}
	case parser.FramingClose:
		if _, err := b.enc.Write(in); err != nil {
			return 0, false, err
		}
		used = len(in)
	default:
		return 0, false, errors.New("proxy: BUG: encoding a body without framing")
	}
	// The receiver gets everything so far: a slow origin's bytes are not
	// held back until more arrive.
	return used, false, b.enc.Flush()
}

// End is the origin closing: the end of a close-delimited body (the output
// is then complete); for any other framing the body was cut.
func (b *BodyEncoder) End() error {
	if b.done {
		return nil
	}
	if b.framing != parser.FramingClose {
		return errors.New("proxy: connection closed inside an encoded body")
	}
	return b.finish()
}

// finish closes the coding and ends the chunked framing.
func (b *BodyEncoder) finish() error {
	b.done = true
	if err := b.enc.Close(); err != nil {
		return err
	}
	if b.w.chunked {
		b.w.out = append(b.w.out, "0\r\n\r\n"...)
	}
	return nil
}

// Output returns the encoded bytes produced since the last Take.
func (b *BodyEncoder) Output() []byte { return b.w.out }

// Take drops the output (the caller sent it).
func (b *BodyEncoder) Take() { b.w.out = b.w.out[:0] }

// Release gives the encoder back to its pool; b may be started again.
func (b *BodyEncoder) Release() {
	if b.enc != nil {
		b.enc.Release()
		b.enc = nil
	}
}
