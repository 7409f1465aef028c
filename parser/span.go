package parser

// Span is a half-open range [Start, End) of the bytes of a parsed head
// (Request.Raw or Response.Raw). The zero Span is empty.
type Span struct{ Start, End int32 }

// Len returns the number of bytes in s.
func (s Span) Len() int { return int(s.End - s.Start) }

func span(start, end int) Span { return Span{int32(start), int32(end)} }

// Header is one field line of a head: its name as sent and its value with the
// surrounding OWS trimmed.
type Header struct {
	Name, Value Span
	// kind is the field's name classified once by the parser, so that the
	// writers need not compare names again; fieldUnclassified in a Header
	// that no parser made.
	kind fieldKind
}

// kindIn returns the kind of h, a field line of raw.
func (h *Header) kindIn(raw []byte) fieldKind {
	if h.kind != fieldUnclassified {
		return h.kind
	}
	return classifyField(raw[h.Name.Start:h.Name.End])
}

// Default limits, used where a Limits field is zero.
const (
	// DefaultMaxRequestLine bounds the request-line, CRLF excluded (414).
	DefaultMaxRequestLine = 8 << 10
	// DefaultMaxHeadBytes bounds a whole head, request-line or status-line
	// through the empty line (431 for requests).
	DefaultMaxHeadBytes = 64 << 10
	// DefaultMaxHeaders bounds the number of field lines of a head (431).
	// Real clients send more than 100 (cookies, tracing, custom fields);
	// nginx and Go bound heads by bytes, not count, so the count limit is
	// generous and MaxHeadBytes is the real bound.
	DefaultMaxHeaders = 256
	// DefaultMaxTrailerBytes bounds a chunked body's trailer section.
	DefaultMaxTrailerBytes = 16 << 10
	// MaxChunkExtBytes bounds the chunk extensions of one chunk line.
	MaxChunkExtBytes = 4 << 10
	// maxLeadingEmptyLines bounds the empty lines skipped before a
	// request-line (RFC 9112 §2.2 asks to skip "at least one").
	maxLeadingEmptyLines = 8
)

// Limits bounds what a parser accepts. The zero value means the defaults; a
// zero field means its default. It is read by Parse and may be set before the
// first call after Reset.
type Limits struct {
	MaxRequestLine int // request-line length, CRLF excluded; default DefaultMaxRequestLine
	MaxHeadBytes   int // head length; also bounds response heads; default DefaultMaxHeadBytes
	MaxHeaders     int // field lines per head; default DefaultMaxHeaders
}

func (l *Limits) requestLine() int {
	if l.MaxRequestLine > 0 {
		return l.MaxRequestLine
	}
	return DefaultMaxRequestLine
}

func (l *Limits) headBytes() int {
	if l.MaxHeadBytes > 0 {
		return l.MaxHeadBytes
	}
	return DefaultMaxHeadBytes
}

func (l *Limits) headers() int {
	if l.MaxHeaders > 0 {
		return l.MaxHeaders
	}
	return DefaultMaxHeaders
}
