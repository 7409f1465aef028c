package compression

import (
	"bytes"
	stdgzip "compress/gzip"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

func TestNegotiate(t *testing.T) {
	both := []Coding{Zstd, Gzip}
	tests := []struct {
		accept []string
		offer  []Coding
		want   Coding
	}{
		{nil, both, Identity},
		{[]string{"gzip"}, both, Gzip},
		{[]string{"gzip, deflate, br, zstd"}, both, Zstd},
		{[]string{"gzip;q=1.0, zstd;q=0.5"}, both, Gzip},
		{[]string{"GZIP; Q=0.8", "Zstd;q=0.9"}, both, Zstd},
		{[]string{"*"}, both, Zstd},
		{[]string{"*;q=0.5, zstd;q=0"}, both, Gzip},
		{[]string{"gzip;q=0"}, both, Identity},
		{[]string{"x-gzip"}, both, Gzip},
		{[]string{"identity"}, both, Identity},
		{[]string{"gzip;q=bad"}, both, Identity},
		{[]string{"zstd;q=1, gzip;q=1"}, []Coding{Gzip, Zstd}, Gzip},
		{[]string{" , ,gzip ;q=0.001"}, both, Gzip},
	}
	for _, tt := range tests {
		var vs [][]byte
		for _, s := range tt.accept {
			vs = append(vs, []byte(s))
		}
		if got := Negotiate(vs, tt.offer); got != tt.want {
			t.Errorf("%q offering %v: %v, want %v", tt.accept, tt.offer, got, tt.want)
		}
	}
}

func TestDecide(t *testing.T) {
	p := Policy{Types: DefaultTypes, MinLength: DefaultMinLength}
	ok := Exchange{Status: 200, ContentType: []byte("application/json; charset=utf-8"), Length: 5000, Coding: Gzip}
	tests := []struct {
		name string
		edit func(*Exchange)
		want Reason
	}{
		{"json", func(*Exchange) {}, Compress},
		{"text/html", func(x *Exchange) { x.ContentType = []byte("Text/HTML") }, Compress},
		{"+json", func(x *Exchange) { x.ContentType = []byte("application/vnd.api+json") }, Compress},
		{"svg", func(x *Exchange) { x.ContentType = []byte("image/svg+xml") }, Compress},
		{"png", func(x *Exchange) { x.ContentType = []byte("image/png") }, ReasonType},
		{"no type", func(x *Exchange) { x.ContentType = nil }, ReasonType},
		{"bare slash", func(x *Exchange) { x.ContentType = []byte("text/") }, ReasonType},
		{"unknown length", func(x *Exchange) { x.Length = -1 }, Compress},
		{"short", func(x *Exchange) { x.Length = 100 }, ReasonShort},
		{"HEAD", func(x *Exchange) { x.Head = true }, ReasonHead},
		{"204", func(x *Exchange) { x.Status = 204 }, ReasonStatus},
		{"304", func(x *Exchange) { x.Status = 304 }, ReasonStatus},
		{"206", func(x *Exchange) { x.Status = 206 }, ReasonStatus},
		{"range", func(x *Exchange) { x.Range = true }, ReasonRange},
		{"no-transform", func(x *Exchange) { x.NoTransform = true }, ReasonNoTransform},
		{"encoded", func(x *Exchange) { x.Encoded = true }, ReasonEncoded},
		{"identity", func(x *Exchange) { x.Coding = Identity }, ReasonNotAccepted},
	}
	for _, tt := range tests {
		x := ok
		tt.edit(&x)
		if got := p.Decide(x); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

// corpus is a deterministic JSON API answer of about n bytes: the kind of
// body an egress proxy compresses.
func corpus(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	words := strings.Fields("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau upsilon phi chi psi omega artifact schema release build status ready pending failed region zone")
	var b bytes.Buffer
	b.WriteString(`{"items":[`)
	for i := 0; b.Len() < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":%d,"name":"%s-%s-%d","status":"%s","size":%d,"sha256":"%016x%016x","tags":["%s","%s"],"created":"2026-%02d-%02dT%02d:%02d:%02dZ"}`,
			i, words[r.IntN(len(words))], words[r.IntN(len(words))], r.IntN(1000), words[r.IntN(len(words))], r.IntN(1<<24),
			r.Uint64(), r.Uint64(), words[r.IntN(len(words))], words[r.IntN(len(words))],
			1+r.IntN(12), 1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60))
	}
	b.WriteString("]}")
	return b.Bytes()
}

// TestRoundTrip: what the pooled encoders write decodes to the input, byte
// for byte, with the standard library's gzip reader and a zstd decoder,
// also from a reused encoder and in pieces with Flush between them.
func TestRoundTrip(t *testing.T) {
	in := corpus(300 << 10)
	enc, err := NewEncoders(DefaultLevels)
	if err != nil {
		t.Fatal(err)
	}
	for round := range 2 { // the second round reuses the pooled encoders
		for _, c := range []Coding{Gzip, Zstd} {
			var out bytes.Buffer
			e, err := enc.Get(c, &out)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < len(in); i += 7000 {
				if _, err := e.Write(in[i:min(i+7000, len(in))]); err != nil {
					t.Fatal(err)
				}
				if i%70000 == 0 {
					if err := e.Flush(); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			e.Release()
			var got []byte
			switch c {
			case Gzip:
				zr, err := stdgzip.NewReader(&out)
				if err != nil {
					t.Fatal(err)
				}
				got, err = io.ReadAll(zr)
				if err != nil {
					t.Fatal(err)
				}
			case Zstd:
				zr, err := zstd.NewReader(&out, zstd.WithDecoderMaxWindow(ZstdWindow))
				if err != nil {
					t.Fatal(err)
				}
				got, err = io.ReadAll(zr)
				zr.Close()
				if err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(got, in) {
				t.Fatalf("round %d %v: decoded %d bytes, want the %d written", round, c, len(got), len(in))
			}
		}
	}
	if _, err := NewEncoders(Levels{Gzip: 0, Zstd: zstd.SpeedDefault}); err == nil {
		t.Error("gzip level 0 accepted")
	}
}

func TestFrame(t *testing.T) {
	in := corpus(100 << 10)
	z := AppendFrame([]byte("prefix"), in)
	if string(z[:6]) != "prefix" || len(z) > len(in)/2 {
		t.Fatalf("frame of %d bytes", len(z)-6)
	}
	out, err := AppendUnframed([]byte("x"), z[6:], len(in))
	if err != nil || string(out[:1]) != "x" || !bytes.Equal(out[1:], in) {
		t.Fatalf("unframed: %v, %d bytes", err, len(out))
	}
	if _, err := AppendUnframed(nil, z[6:], len(in)-1); err != ErrFrameSize {
		t.Fatalf("wrong size: %v", err)
	}
	if _, err := AppendUnframed(nil, z[6:len(z)-5], len(in)); err == nil {
		t.Fatal("a cut frame decoded")
	}
	// The frame is what an HTTP client's zstd decoder reads.
	r, _ := zstd.NewReader(bytes.NewReader(z[6:]))
	defer r.Close()
	if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, in) {
		t.Fatalf("stream decode: %v", err)
	}
}
