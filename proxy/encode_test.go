package proxy

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"io"
	"net/http/httputil"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/sluiceproxy/sluice/compression"
	"github.com/sluiceproxy/sluice/parser"
)

// TestBodyEncoder feeds bodies of every framing to a BodyEncoder in pieces
// of every size, and decodes what it produced: the framing is valid, the
// body byte-exact, and bytes past the body are not used.
func TestBodyEncoder(t *testing.T) {
	encs, err := compression.NewEncoders(compression.DefaultLevels)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(strings.Repeat("compressible text, again and again. ", 300))
	var chunked bytes.Buffer
	cw := httputil.NewChunkedWriter(&chunked)
	cw.Write(body[:5000])
	cw.Write(body[5000:])
	cw.Close()
	chunked.WriteString("\r\n")
	for _, tc := range []struct {
		name string
		spec StreamSpec
		in   []byte
	}{
		{"length", StreamSpec{Framing: parser.FramingLength, Remain: int64(len(body))}, body},
		{"chunked", StreamSpec{Framing: parser.FramingChunked}, chunked.Bytes()},
		{"close", StreamSpec{Framing: parser.FramingClose}, body},
	} {
		for _, coding := range []compression.Coding{compression.Gzip, compression.Zstd} {
			for _, unframe := range []bool{false, true} {
				for _, step := range []int{1, 7, 4096, len(tc.in)} {
					spec := tc.spec
					spec.Encode, spec.Unframe = coding, unframe
					var be BodyEncoder
					if err := be.Start(encs, &spec); err != nil {
						t.Fatal(err)
					}
					var out []byte
					in := append(append([]byte(nil), tc.in...), "NEXT"...)
					done := false
					for len(in) > 0 && !done {
						k := min(step, len(in))
						used, fin, err := be.Feed(in[:k])
						if err != nil {
							t.Fatalf("%s %v: %v", tc.name, coding, err)
						}
						out = append(out, be.Output()...)
						be.Take()
						in, done = in[used:], fin
					}
					if tc.spec.Framing == parser.FramingClose {
						in = in[:0] // "NEXT" was body too: the close ends it
						if err := be.End(); err != nil {
							t.Fatal(err)
						}
						out = append(out, be.Output()...)
						body := append(append([]byte(nil), body...), "NEXT"...)
						checkEncoded(t, coding, unframe, out, body)
					} else {
						if string(in) != "NEXT" {
							t.Fatalf("%s %v step %d: left %q", tc.name, coding, step, in)
						}
						checkEncoded(t, coding, unframe, out, body)
					}
					be.Release()
				}
			}
		}
	}
}

func checkEncoded(t *testing.T, coding compression.Coding, unframe bool, out, want []byte) {
	t.Helper()
	var r io.Reader = bytes.NewReader(out)
	if !unframe {
		r = httputil.NewChunkedReader(bufio.NewReader(r))
	}
	switch coding {
	case compression.Gzip:
		zr, err := gzip.NewReader(r)
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	case compression.Zstd:
		zr, err := zstd.NewReader(r)
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		r = zr
	}
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("%v unframe %v: %v, %d bytes decoded, want %d", coding, unframe, err, len(got), len(want))
	}
}
