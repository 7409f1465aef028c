package parser

// The fields sluice interprets: those that decide a message's framing
// (Content-Length, Transfer-Encoding), its connection handling (Connection,
// Upgrade), in requests Host and Expect, and in responses Date.

// Field names sluice interprets, and those the head writers single out.
type fieldKind uint8

const (
	fieldUnclassified fieldKind = iota // the zero Header's: not classified yet
	fieldOther
	fieldHost
	fieldContentLength
	fieldTransferEncoding
	fieldConnection
	fieldUpgrade
	fieldExpect
	fieldDate
	// Names only the writers look at: hop-by-hop fields they drop
	// (RFC 9110 §7.6.1) and fields they amend.
	fieldVia
	fieldVary
	fieldETag
	fieldTE
	fieldTrailer
	fieldKeepAlive
	fieldProxyConnection
	fieldProxyAuthorization
)

// classifyField returns the kind of the field named name (case-insensitive).
func classifyField(name []byte) fieldKind {
	if len(name) == 0 {
		return fieldOther
	}
	e := &fieldNames[fieldNameSlot(name[0], len(name))]
	if len(e.name) == len(name) && equalFold(name, e.name) {
		return e.kind
	}
	return fieldOther
}

// fieldNameSlot hashes a field name by its first byte and length into
// fieldNames, where the names classifyField knows do not collide
// (TestFieldNameSlots). OR 0x20 lower-cases a letter.
func fieldNameSlot(first byte, n int) int { return (int(first|0x20) + n) & 31 }

// fieldNames holds the lower-case names classifyField knows, each in its
// fieldNameSlot.
var fieldNames = func() (t [32]struct {
	name string
	kind fieldKind
}) {
	for _, f := range knownFields {
		t[fieldNameSlot(f.name[0], len(f.name))] = f
	}
	return t
}()

var knownFields = [...]struct {
	name string
	kind fieldKind
}{
	{"host", fieldHost}, {"content-length", fieldContentLength},
	{"transfer-encoding", fieldTransferEncoding}, {"connection", fieldConnection},
	{"upgrade", fieldUpgrade}, {"expect", fieldExpect}, {"date", fieldDate},
	{"via", fieldVia}, {"vary", fieldVary}, {"etag", fieldETag}, {"te", fieldTE},
	{"trailer", fieldTrailer}, {"keep-alive", fieldKeepAlive},
	{"proxy-connection", fieldProxyConnection},
	{"proxy-authorization", fieldProxyAuthorization},
}

// framingFields accumulates, across the field lines of one head, the fields
// that decide its framing and connection handling. Owned by its parser.
type framingFields struct {
	contentLength    int64 // -1 when absent
	te               bool  // a Transfer-Encoding field was seen
	teChunked        bool  // chunked was applied
	teFinalChunked   bool  // the last coding so far is chunked
	teUnknown        bool  // a coding other than the ones sluice knows
	connClose        bool
	connKeepAlive    bool
	connUpgradeToken bool
	upgradeField     bool
	connOptions      int // Connection options seen so far
}

func (f *framingFields) reset() { *f = framingFields{contentLength: -1} }

// apply records one field. It returns an error for a malformed or conflicting
// Content-Length or Transfer-Encoding value.
func (f *framingFields) apply(kind fieldKind, v []byte) *Error {
	switch kind {
	case fieldContentLength:
		n, err := parseContentLength(v)
		if err != nil {
			return err
		}
		if f.contentLength >= 0 && f.contentLength != n {
			return ErrConflictingContentLength
		}
		f.contentLength = n
	case fieldTransferEncoding:
		f.te = true
		return f.addCodings(v)
	case fieldConnection:
		return f.addConnection(v)
	case fieldUpgrade:
		f.upgradeField = true
	}
	return nil
}

// parseContentLength parses a Content-Length value. RFC 9110 §8.6:
//
//	Content-Length = 1*DIGIT
//
// A list of identical values ("5, 5", from a combined duplicate) is accepted
// as that value; differing values are an error; empty elements are rejected.
func parseContentLength(v []byte) (int64, *Error) {
	n := int64(-1)
	i := 0
	for {
		for i < len(v) && (v[i] == ' ' || v[i] == '\t') {
			i++
		}
		j := i
		var x int64
		for j < len(v) && '0' <= v[j] && v[j] <= '9' {
			d := int64(v[j] - '0')
			if x > (1<<63-1-d)/10 {
				return 0, ErrBadContentLength // overflows int64
			}
			x = x*10 + d
			j++
		}
		if j == i {
			return 0, ErrBadContentLength
		}
		if n >= 0 && x != n {
			return 0, ErrConflictingContentLength
		}
		n = x
		for j < len(v) && (v[j] == ' ' || v[j] == '\t') {
			j++
		}
		if j == len(v) {
			return n, nil
		}
		if v[j] != ',' {
			return 0, ErrBadContentLength
		}
		i = j + 1
	}
}

// addCodings records the codings of a Transfer-Encoding value. RFC 9112 §6.1,
// §7, RFC 9110 §5.6.6:
//
//	Transfer-Encoding  = #transfer-coding
//	transfer-coding    = token *( OWS ";" OWS transfer-parameter )
//	transfer-parameter = token BWS "=" BWS ( token / quoted-string )
func (f *framingFields) addCodings(v []byte) *Error {
	i := 0
	for {
		i = skipOWS(v, i)
		j := i
		for j < len(v) && tokenTable[v[j]] {
			j++
		}
		if j == i {
			return ErrBadTransferEncoding // empty element or not a token
		}
		name := v[i:j]
		i = skipOWS(v, j)
		params := false
		for i < len(v) && v[i] == ';' {
			params = true
			var ok bool
			if i, ok = skipParameter(v, i+1); !ok {
				return ErrBadTransferEncoding
			}
			i = skipOWS(v, i)
		}
		switch {
		case equalFold(name, "chunked"):
			if params {
				return ErrBadTransferEncoding // chunked has no parameters
			}
			if f.teChunked {
				return ErrChunkedTwice // RFC 9112 §6.1: MUST NOT apply chunked more than once
			}
			f.teChunked = true
			f.teFinalChunked = true
		case equalFold(name, "gzip"), equalFold(name, "deflate"), equalFold(name, "compress"),
			equalFold(name, "x-gzip"), equalFold(name, "x-compress"):
			f.teFinalChunked = false
		default:
			f.teUnknown = true
			f.teFinalChunked = false
		}
		if i == len(v) {
			return nil
		}
		if v[i] != ',' {
			return ErrBadTransferEncoding
		}
		i++
	}
}

// skipParameter skips OWS transfer-parameter starting at v[i], just after a
// ";", and returns the index after it.
func skipParameter(v []byte, i int) (int, bool) {
	i = skipOWS(v, i)
	j := i
	for j < len(v) && tokenTable[v[j]] {
		j++
	}
	if j == i {
		return 0, false
	}
	i = skipOWS(v, j)
	if i == len(v) || v[i] != '=' {
		return 0, false
	}
	i = skipOWS(v, i+1)
	if i < len(v) && v[i] == '"' {
		return skipQuotedString(v, i)
	}
	j = i
	for j < len(v) && tokenTable[v[j]] {
		j++
	}
	return j, j > i
}

// skipQuotedString skips the quoted-string starting at v[i] == '"' and returns
// the index after its closing quote.
func skipQuotedString(v []byte, i int) (int, bool) {
	for i++; i < len(v); i++ {
		switch c := v[i]; {
		case c == '"':
			return i + 1, true
		case c == '\\':
			i++
			if i == len(v) || !fieldValueTable[v[i]] {
				return 0, false
			}
		case !qdtextTable[c]:
			return 0, false
		}
	}
	return 0, false
}

func skipOWS(v []byte, i int) int {
	for i < len(v) && (v[i] == ' ' || v[i] == '\t') {
		i++
	}
	return i
}

// addConnection records the options of a Connection value (RFC 9110 §7.6.1,
// Connection = #connection-option). Elements that are not tokens are ignored.
//
// The options of all Connection fields of a head are capped at
// MaxConnectionOptions: each option names a field to drop, and the head
// writer looks every field up among them, so an unbounded list ("a,a,a,...",
// 30,000 of them in a 64 KiB head) made forwarding one request cost 46 times
// its parsing, on the event loop. Real clients send one to three.
func (f *framingFields) addConnection(v []byte) *Error {
	for len(v) > 0 {
		var e []byte
		e, v = nextElement(v)
		if len(e) == 0 {
			continue
		}
		if f.connOptions++; f.connOptions > MaxConnectionOptions {
			return ErrTooManyConnectionOptions
		}
		switch len(e) {
		case 5:
			if equalFold(e, "close") {
				f.connClose = true
			}
		case 7:
			if equalFold(e, "upgrade") {
				f.connUpgradeToken = true
			}
		case 10:
			if equalFold(e, "keep-alive") {
				f.connKeepAlive = true
			}
		}
	}
	return nil
}

// MaxConnectionOptions bounds the options of the Connection fields of one
// head (ErrTooManyConnectionOptions beyond).
const MaxConnectionOptions = 32

// nextElement splits the first element off a comma-separated list, trimmed of
// OWS; the element may be empty.
func nextElement(v []byte) (elem, rest []byte) {
	for i, c := range v {
		if c == ',' {
			return trimOWS(v[:i]), v[i+1:]
		}
	}
	return trimOWS(v), nil
}

// connectionListed reports whether name is listed in any Connection field of hs.
func connectionListed(raw []byte, hs []Header, name []byte) bool {
	for i := range hs {
		h := &hs[i]
		if h.kindIn(raw) != fieldConnection {
			continue
		}
		v := raw[h.Value.Start:h.Value.End]
		for len(v) > 0 {
			var e []byte
			e, v = nextElement(v)
			if equalFoldBytes(e, name) {
				return true
			}
		}
	}
	return false
}
