package parser

import "bytes"

// Response is a parsed response head. Its spans index Raw; the slices its
// methods return point into Raw and are valid as long as the bytes of Raw are
// unchanged. A Response is reused through Reset, which keeps the capacity of
// Headers.
type Response struct {
	Raw        []byte // the whole head, status-line through the empty line
	ProtoMinor int    // 0 or 1: HTTP/1.0 or HTTP/1.1 (and HTTP/1.x, x > 1)
	StatusCode int    // 100..599
	Reason     Span   // reason-phrase, possibly empty
	Headers    []Header

	ContentLength int64 // -1 if absent
	Chunked       bool  // Transfer-Encoding ends in chunked
	// TransferEncoding reports a Transfer-Encoding field. Without Chunked the
	// body is delimited by the connection's close (RFC 9112 §6.3 rule 4).
	TransferEncoding bool
	ConnClose        bool // Connection: close
	ConnKeepAlive    bool // Connection: keep-alive
	ConnUpgrade      bool // Connection has the upgrade option and an Upgrade field is present
	HasDate          bool // a Date field is present
}

// Reset empties r for reuse, keeping the capacity of Headers.
func (r *Response) Reset() {
	*r = Response{Headers: r.Headers[:0], ContentLength: -1}
}

// Bytes returns the bytes of s in Raw.
func (r *Response) Bytes(s Span) []byte { return r.Raw[s.Start:s.End] }

// Header returns the value of the first field named name (case-insensitive),
// without allocating.
func (r *Response) Header(name string) ([]byte, bool) { return lookupHeader(r.Raw, r.Headers, name) }

// KeepAlive reports whether the upstream connection persists after this
// response as far as its head tells (RFC 9112 §9.3); the framing may still
// require a close (FramingClose).
func (r *Response) KeepAlive() bool {
	if r.ConnClose {
		return false
	}
	return r.ProtoMinor >= 1 || r.ConnKeepAlive
}

// Rebase sets Raw to raw, a copy of the same bytes, so that the spans stay
// valid after the caller copied the head out of a transient buffer.
func (r *Response) Rebase(raw []byte) { r.Raw = raw }

// ResponseParser parses response heads incrementally. Its zero value is ready
// to use. It is owned by one goroutine (the connection's event loop). Every
// error it returns means a malformed upstream response: answer 502.
type ResponseParser struct {
	// Limits may be set before the first Parse after Reset; MaxRequestLine
	// does not apply, MaxHeadBytes and MaxHeaders do.
	Limits Limits
	// Resp is the response being parsed; complete once Parse returned n > 0.
	Resp Response

	// Resume state, owned by Parse.
	state     uint8
	lineStart int
	scanned   int
	n         int
	err       error
	ff        framingFields
	ready     bool // Reset ran
}

// Reset prepares p for a new head, keeping the capacity of p.Resp.Headers.
func (p *ResponseParser) Reset() {
	p.Resp.Reset()
	p.state = stateFirstLine
	p.lineStart, p.scanned, p.n = 0, 0, 0
	p.err = nil
	p.ff.reset()
	p.ready = true
}

// Parse parses the response head at the start of buf, with the contract of
// RequestParser.Parse: n > 0 when the head is complete (p.Resp.Raw is then
// buf[:n]), 0, nil when more bytes are needed, or a *Error.
func (p *ResponseParser) Parse(buf []byte) (n int, err error) {
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
	p.Resp.Raw = buf
	end := len(buf)
	if max := p.Limits.headBytes(); end > max {
		end = max
	}
	for {
		if p.state == stateFields && p.scanned == p.lineStart {
			// Fast path: fresh field lines that are valid and complete.
			old := len(p.Resp.Headers)
			var ls int
			p.Resp.Headers, ls = scanFieldLines(p.Resp.Headers, buf, p.lineStart, end, p.Limits.headers())
			for k := old; k < len(p.Resp.Headers); k++ {
				if e := p.applyField(buf, k); e != nil {
					return p.fail(e)
				}
			}
			p.lineStart, p.scanned = ls, ls
		}
		i := bytes.IndexByte(buf[p.scanned:end], '\n')
		if i < 0 {
			p.scanned = end
			if p.state == stateFirstLine && end > 0 && buf[0] != 'H' {
				return p.fail(ErrBadStatusLine) // not "HTTP/": fail early
			}
			if end == p.Limits.headBytes() {
				return p.fail(ErrHeadTooLarge)
			}
			return 0, nil
		}
		lf := p.scanned + i
		var e *Error
		done := false
		if p.state == stateFirstLine {
			e = p.statusLine(buf, lf)
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
			p.Resp.Raw = buf[:p.n]
			return p.n, nil
		}
	}
}

func (p *ResponseParser) fail(e *Error) (int, error) {
	p.state = stateFailed
	p.err = e
	return 0, e
}

// statusLine parses the status-line buf[0:lf] (RFC 9112 §4):
//
//	status-line = HTTP-version SP status-code SP [ reason-phrase ]
//	status-code = 3DIGIT
//
// The SP before an empty reason-phrase may be missing, as RFC 9112 §4 asks a
// client to accept.
func (p *ResponseParser) statusLine(buf []byte, lf int) *Error {
	if lf == 0 || buf[0] != 'H' {
		return ErrBadStatusLine
	}
	end := lf
	if buf[end-1] == '\r' {
		end--
	} else {
		return ErrBareLF
	}
	line := buf[:end]
	if len(line) < 12 || line[8] != ' ' {
		return ErrBadStatusLine
	}
	minor, e := parseVersion(line[:8], ErrBadStatusLine, ErrResponseVersion)
	if e != nil {
		return e
	}
	code := 0
	for _, c := range line[9:12] {
		if c < '0' || c > '9' {
			return ErrBadStatusLine
		}
		code = code*10 + int(c-'0')
	}
	if code < 100 || code > 599 {
		// RFC 9110 §15: the first digit defines the class; there are five.
		return ErrBadStatusCode
	}
	r := &p.Resp
	r.ProtoMinor = minor
	r.StatusCode = code
	r.Reason = span(12, 12)
	if len(line) > 12 {
		if line[12] != ' ' {
			return ErrBadStatusLine
		}
		for _, c := range line[13:] {
			if !fieldValueTable[c] {
				return ErrBadStatusLine
			}
		}
		r.Reason = span(13, end)
	}
	p.state = stateFields
	return nil
}

// fieldLine parses the complete line buf[p.lineStart:lf]: a field line, or
// the empty line that ends the head.
func (p *ResponseParser) fieldLine(buf []byte, lf int) (done bool, e *Error) {
	start := p.lineStart
	r := &p.Resp
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
func (p *ResponseParser) applyField(buf []byte, k int) *Error {
	r := &p.Resp
	h := &r.Headers[k]
	kind := classifyField(buf[h.Name.Start:h.Name.End])
	h.kind = kind
	if kind == fieldTransferEncoding && r.ProtoMinor == 0 {
		// RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message means the
		// framing is faulty.
		return ErrTEInHTTP10
	}
	if kind == fieldDate {
		r.HasDate = true
		return nil
	}
	switch kind {
	case fieldContentLength, fieldTransferEncoding, fieldConnection, fieldUpgrade:
		return p.ff.apply(kind, buf[h.Value.Start:h.Value.End])
	}
	return nil
}

// finish checks the head as a whole once its empty line arrived.
func (p *ResponseParser) finish() *Error {
	r := &p.Resp
	f := &p.ff
	if f.te && f.contentLength >= 0 {
		// RFC 9112 §6.3 rule 3: "ought to be handled as an error"; rejected as
		// a response-splitting and smuggling defence.
		return ErrTEAndCL
	}
	r.ContentLength = f.contentLength
	r.TransferEncoding = f.te
	r.Chunked = f.te && f.teFinalChunked
	r.ConnClose = f.connClose
	r.ConnKeepAlive = f.connKeepAlive
	r.ConnUpgrade = f.connUpgradeToken && f.upgradeField
	return nil
}
