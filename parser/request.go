package parser

import "bytes"

// TargetForm is the form of a request-target (RFC 9112 §3.2).
type TargetForm uint8

// The four forms of a request-target.
const (
	FormOrigin    TargetForm = iota // "/path?query"
	FormAbsolute                    // "http://host:port/path?query"
	FormAuthority                   // "host:port", CONNECT only
	FormAsterisk                    // "*", OPTIONS only
)

// Scheme is the scheme of an absolute-form request-target.
type Scheme uint8

// The schemes sluice accepts in absolute-form.
const (
	SchemeNone Scheme = iota
	SchemeHTTP
	SchemeHTTPS
)

// Request is a parsed request head. Its spans index Raw; the slices its
// methods return point into Raw and are valid as long as the bytes of Raw are
// unchanged. A Request is reused through Reset, which keeps the capacity of
// Headers.
type Request struct {
	// Raw is the whole head, request-line through the empty line, a subslice
	// of the parser's input (any empty lines skipped before the request-line
	// included).
	Raw []byte

	Method     Method // MethodOther for a method sluice does not name
	MethodName Span   // the method as sent
	Form       TargetForm
	Target     Span   // request-target as sent
	Scheme     Scheme // absolute-form only
	// Authority is the absolute-form authority or the CONNECT target as sent,
	// host[:port]; empty otherwise.
	Authority Span
	Host      Span // host of Authority, an IPv6 literal without brackets; empty otherwise
	Port      int  // port of Authority, 0 if absent
	// Path is the origin-form target; in absolute-form the path and query
	// after the authority (an empty span means "/", a span starting with "?"
	// lacks the "/"); empty for authority-form and asterisk-form.
	Path       Span
	ProtoMinor int // 0 or 1: HTTP/1.0 or HTTP/1.1 (and HTTP/1.x, x > 1)

	Headers        []Header
	HostIndex      int  // index in Headers of the single Host field, -1 if none
	HostHeaderHost Span // host of the Host field value, an IPv6 literal without brackets
	HostHeaderPort int  // port of the Host field, 0 if absent

	ContentLength int64 // -1 if absent
	Chunked       bool  // Transfer-Encoding ends in chunked
	ConnClose     bool  // Connection: close
	ConnKeepAlive bool  // Connection: keep-alive
	ConnUpgrade   bool  // Connection has the upgrade option and an Upgrade field is present
	Expect100     bool  // Expect: 100-continue
}

// Reset empties r for reuse, keeping the capacity of Headers.
func (r *Request) Reset() {
	*r = Request{Headers: r.Headers[:0], HostIndex: -1, ContentLength: -1}
}

// Bytes returns the bytes of s in Raw.
func (r *Request) Bytes(s Span) []byte { return r.Raw[s.Start:s.End] }

// Header returns the value of the first field named name (case-insensitive),
// without allocating.
func (r *Request) Header(name string) ([]byte, bool) { return lookupHeader(r.Raw, r.Headers, name) }

// KeepAlive reports whether the client's connection persists after this
// request (RFC 9112 §9.3): for HTTP/1.1 unless Connection: close, for HTTP/1.0
// only with Connection: keep-alive.
func (r *Request) KeepAlive() bool {
	if r.ConnClose {
		return false
	}
	return r.ProtoMinor >= 1 || r.ConnKeepAlive
}

// Rebase sets Raw to raw, a copy of the same bytes, so that the spans stay
// valid after the caller copied the head out of a transient buffer.
func (r *Request) Rebase(raw []byte) { r.Raw = raw }

// Parser states.
const (
	stateFirstLine uint8 = iota
	stateFields
	stateDone
	stateFailed
)

// RequestParser parses request heads incrementally. Its zero value is ready
// to use. It is owned by one goroutine (the connection's event loop).
type RequestParser struct {
	// Limits may be set before the first Parse after Reset.
	Limits Limits
	// Req is the request being parsed; complete once Parse returned n > 0.
	Req Request

	// Resume state, owned by Parse.
	state      uint8
	emptyLines int   // empty lines skipped before the request-line
	lineStart  int   // offset of the line being read
	scanned    int   // offset up to which the line was searched for LF
	n          int   // the head's length, once done
	err        error // the error, once failed
	ff         framingFields
	ready      bool // Reset ran
}

// Reset prepares p for a new head, keeping the capacity of p.Req.Headers.
func (p *RequestParser) Reset() {
	p.Req.Reset()
	p.state = stateFirstLine
	p.emptyLines, p.lineStart, p.scanned, p.n = 0, 0, 0, 0
	p.err = nil
	p.ff.reset()
	p.ready = true
}

// Parse parses the request head at the start of buf. buf holds every byte
// passed since Reset plus any new ones (the caller appends; the buffer may
// move between calls). It returns n > 0, the head's length, when the head is
// complete (p.Req.Raw is then buf[:n]); 0, nil when more bytes are needed; or
// a *Error, which it returns again on later calls until Reset. It resumes
// where it stopped, so a head fed one byte at a time costs linear time, and it
// enforces the limits before the head is complete.
func (p *RequestParser) Parse(buf []byte) (n int, err error) {
	switch p.state {
	case stateDone:
		return p.n, nil
	case stateFailed:
		return 0, p.err
	case stateFirstLine:
		if !p.ready {
			p.Reset() // the zero value
		}
	}
	p.Req.Raw = buf
	end := len(buf)
	if max := p.Limits.headBytes(); end > max {
		end = max
	}
	for {
		if p.state == stateFields && p.scanned == p.lineStart {
			// Fast path: fresh field lines that are valid and complete.
			old := len(p.Req.Headers)
			var ls int
			p.Req.Headers, ls = scanFieldLines(p.Req.Headers, buf, p.lineStart, end, p.Limits.headers())
			for k := old; k < len(p.Req.Headers); k++ {
				if e := p.applyField(buf, k); e != nil {
					return p.fail(e)
				}
			}
			p.lineStart, p.scanned = ls, ls
		}
		i := bytes.IndexByte(buf[p.scanned:end], '\n')
		if i < 0 {
			p.scanned = end
			if e := p.incomplete(buf, end); e != nil {
				return p.fail(e)
			}
			return 0, nil
		}
		lf := p.scanned + i
		var e *Error
		done := false
		if p.state == stateFirstLine {
			e = p.requestLine(buf, lf)
		} else {
			done, e = p.fieldLine(buf, lf)
		}
		if e != nil {
			return p.fail(e)
		}
		p.lineStart, p.scanned = lf+1, lf+1
		if done {
			p.state = stateDone
			p.n = lf + 1
			p.Req.Raw = buf[:p.n]
			return p.n, nil
		}
	}
}

func (p *RequestParser) fail(e *Error) (int, error) {
	p.state = stateFailed
	p.err = e
	return 0, e
}

// incomplete checks the limits and the first byte of an incomplete line
// buf[p.lineStart:end], so that an oversized or hopeless head fails without
// waiting for its end. It must agree with what requestLine and fieldLine
// decide once the line is complete.
func (p *RequestParser) incomplete(buf []byte, end int) *Error {
	if p.state == stateFirstLine {
		if e := firstLineStart(buf, p.lineStart, end); e != nil {
			return e
		}
		a := end - p.lineStart
		max := p.Limits.requestLine()
		if a > max+1 || (a == max+1 && buf[end-1] != '\r') {
			return ErrRequestLineTooLong
		}
	}
	if end == p.Limits.headBytes() {
		return ErrHeadTooLarge
	}
	return nil
}

// firstLineStart rejects a request-line that cannot be one from its first
// bytes buf[start:end]: it starts with a byte that is not a token byte (a TLS
// handshake sent to a plain proxy, for instance), or with a CR not followed by
// LF.
func firstLineStart(buf []byte, start, end int) *Error {
	if end == start {
		return nil
	}
	c := buf[start]
	if c == '\r' {
		if end-start >= 2 && buf[start+1] != '\n' {
			return ErrBadRequestLine
		}
		return nil
	}
	if !tokenTable[c] && c != '\n' {
		return ErrBadRequestLine
	}
	return nil
}

// requestLine parses the complete line buf[p.lineStart:lf]: an empty line to
// skip or the request-line (RFC 9112 §3):
//
//	request-line = method SP request-target SP HTTP-version
//	HTTP-version = HTTP-name "/" DIGIT "." DIGIT
func (p *RequestParser) requestLine(buf []byte, lf int) *Error {
	start := p.lineStart
	if lf == start {
		return ErrBareLF
	}
	if e := firstLineStart(buf, start, lf); e != nil {
		return e
	}
	end := lf
	if buf[end-1] == '\r' {
		end--
	}
	if end == start {
		// RFC 9112 §2.2: a server SHOULD ignore at least one empty line
		// received before the request-line.
		p.emptyLines++
		if p.emptyLines > maxLeadingEmptyLines {
			return ErrBadRequestLine
		}
		return nil
	}
	if end-start > p.Limits.requestLine() {
		return ErrRequestLineTooLong
	}
	if end == lf {
		return ErrBareLF
	}
	line := buf[start:end]
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 < 0 {
		return ErrBadRequestLine
	}
	if !isToken(line[:sp1]) {
		return ErrBadMethod
	}
	rest := line[sp1+1:]
	sp2 := bytes.IndexByte(rest, ' ')
	if sp2 <= 0 {
		return ErrBadRequestLine
	}
	minor, e := parseVersion(rest[sp2+1:], ErrBadRequestLine, ErrVersion)
	if e != nil {
		return e
	}
	r := &p.Req
	r.MethodName = span(start, start+sp1)
	r.Method = lookupMethod(line[:sp1])
	r.ProtoMinor = minor
	tStart := start + sp1 + 1
	if e := r.parseTarget(tStart, tStart+sp2); e != nil {
		return e
	}
	p.state = stateFields
	return nil
}

// parseVersion parses HTTP-version = "HTTP/" DIGIT "." DIGIT and returns the
// minor version, 1 for any minor above 1 (RFC 9110 §2.5: process as the
// highest minor version the recipient implements).
func parseVersion(v []byte, malformed, unsupported *Error) (int, *Error) {
	if len(v) != 8 || string(v[:5]) != "HTTP/" || v[6] != '.' ||
		v[5] < '0' || v[5] > '9' || v[7] < '0' || v[7] > '9' {
		return 0, malformed
	}
	if v[5] != '1' {
		return 0, unsupported
	}
	if v[7] == '0' {
		return 0, nil
	}
	return 1, nil
}

// fieldLine parses the complete line buf[p.lineStart:lf]: a field line, or
// the empty line that ends the head.
func (p *RequestParser) fieldLine(buf []byte, lf int) (done bool, e *Error) {
	start := p.lineStart
	r := &p.Req
	if lf == start {
		return false, ErrBareLF
	}
	if lf == start+1 && buf[start] == '\r' {
		return true, p.finish()
	}
	if len(r.Headers) >= p.Limits.headers() {
		return false, ErrTooManyHeaders
	}
	h, e := parseFieldLine(buf, start, lf)
	if e != nil {
		return false, e
	}
	r.Headers = append(r.Headers, h)
	return false, p.applyField(buf, len(r.Headers)-1)
}

// applyField interprets the field line r.Headers[k], just added.
func (p *RequestParser) applyField(buf []byte, k int) *Error {
	r := &p.Req
	h := &r.Headers[k]
	kind := classifyField(buf[h.Name.Start:h.Name.End])
	h.kind = kind
	switch kind {
	case fieldHost, fieldExpect, fieldContentLength, fieldTransferEncoding, fieldConnection, fieldUpgrade:
	default:
		return nil
	}
	v := buf[h.Value.Start:h.Value.End]
	switch kind {
	case fieldHost:
		if r.HostIndex >= 0 {
			return ErrMultipleHost
		}
		host, port, _, res := parseHostPort(buf, int(h.Value.Start), int(h.Value.End))
		if res != hostOK || (host.Len() == 0 && h.Value.Len() > 0) {
			return ErrBadHost
		}
		r.HostIndex = k
		r.HostHeaderHost = host
		r.HostHeaderPort = port
	case fieldExpect:
		if equalFold(v, "100-continue") {
			r.Expect100 = true
		}
	case fieldTransferEncoding:
		if r.ProtoMinor == 0 {
			return ErrTEInHTTP10 // RFC 9112 §6.1
		}
		if e := p.ff.apply(kind, v); e != nil {
			return e
		}
		if p.ff.teUnknown {
			return ErrUnknownCoding // RFC 9112 §6.1: 501
		}
	default:
		if e := p.ff.apply(kind, v); e != nil {
			return e
		}
	}
	return nil
}

// finish checks the head as a whole once its empty line arrived.
func (p *RequestParser) finish() *Error {
	r := &p.Req
	f := &p.ff
	if f.te && f.contentLength >= 0 {
		// RFC 9112 §6.3 rule 3: "ought to be handled as an error"; §6.1: a
		// server MAY reject; a proxy that forwarded both would smuggle.
		return ErrTEAndCL
	}
	if f.te && !f.teFinalChunked {
		// RFC 9112 §6.3 rule 4: the server MUST respond with 400 and close.
		return ErrTENotChunked
	}
	if r.ProtoMinor >= 1 && r.HostIndex < 0 && (r.Form == FormOrigin || r.Form == FormAsterisk) {
		// RFC 9112 §3.2: a server MUST respond 400 to an HTTP/1.1 request
		// lacking Host (absolute-form and CONNECT carry the authority).
		return ErrMissingHost
	}
	r.ContentLength = f.contentLength
	r.Chunked = f.te
	r.ConnClose = f.connClose
	r.ConnKeepAlive = f.connKeepAlive
	r.ConnUpgrade = f.connUpgradeToken && f.upgradeField
	return nil
}
