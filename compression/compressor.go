package compression

// DefaultLoopMax is the longest body (of known length) compressed on the
// event loop: at the default levels' 60-80 MB/s (BENCHMARKS.md) 32 KiB
// takes about half a millisecond, about what relaying it costs the loop
// anyway. Longer bodies, and those of unknown length, are compressed off
// the loop.
const DefaultLoopMax = 32 << 10

// DefaultOffered are the codings offered, in order of preference: zstd
// first (in BenchmarkCompress faster than gzip at a smaller output), then
// gzip, which every client decodes.
var DefaultOffered = []Coding{Zstd, Gzip}

// Compressor is the compression of responses a proxy applies
// (proxy.Config.Compress): which responses (Policy), with which codings
// (Offered, Encoders), and where (LoopMax). Read-only once in use; safe for
// concurrent use.
type Compressor struct {
	Policy   Policy
	Offered  []Coding // in order of preference
	Encoders *Encoders
	// LoopMax: a body of known length up to this is compressed whole on the
	// event loop and sent with its Content-Length; a longer one, or one of
	// unknown length, is compressed off the loop as it streams, chunked.
	LoopMax int
}

// NewCompressor returns a Compressor with the defaults for every zero field
// of c and encoders at levels.
func NewCompressor(c Compressor, levels Levels) (*Compressor, error) {
	encs, err := NewEncoders(levels)
	if err != nil {
		return nil, err
	}
	c.Encoders = encs
	if c.Policy.Types == nil {
		c.Policy.Types = DefaultTypes
	}
	if c.Policy.MinLength == 0 {
		c.Policy.MinLength = DefaultMinLength
	}
	if len(c.Offered) == 0 {
		c.Offered = DefaultOffered
	}
	if c.LoopMax == 0 {
		c.LoopMax = DefaultLoopMax
	}
	return &c, nil
}
