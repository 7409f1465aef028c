package loadgen

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// respReader reads HTTP/1.1 responses from one connection into a reused buffer
// and discards them, keeping only the status code and what framing needs
// (RFC 9112 §6.3). It parses by offsets into its buffer and allocates nothing
// unless a response is malformed.
//
// A respReader is owned by one connection worker; reset binds it to a new
// connection and drops any bytes left from the old one.
type respReader struct {
	src   io.Reader
	buf   []byte // fixed size, allocated once
	r, w  int    // buf[r:w] is read from src and not yet consumed
	nread int64  // bytes read from src since the reader was created
}

// newRespReader returns a respReader with a buffer of size bytes.
func newRespReader(size int) *respReader {
	return &respReader{buf: make([]byte, size)}
}

// reset binds rr to src and discards buffered bytes.
func (rr *respReader) reset(src io.Reader) {
	rr.src = src
	rr.r, rr.w = 0, 0
}

// bodyKind is how a response body is delimited (RFC 9112 §6.3).
type bodyKind uint8

const (
	bodyNone    bodyKind = iota // HEAD, 1xx, 204, 304
	bodyLength                  // Content-Length
	bodyChunked                 // Transfer-Encoding ending in chunked
	bodyClose                   // until the server closes the connection
)

// readResponse reads one whole response, skipping interim 1xx responses, and
// discards its body. head says the request was HEAD, so the response has no
// body whatever its headers say. It reports the final status code and whether
// the server closes the connection after this response (Connection: close,
// HTTP/1.0 without keep-alive, or a close-delimited body, which it has then
// read to EOF). An EOF before the first byte of the response is io.EOF; an EOF
// inside it is io.ErrUnexpectedEOF.
func (rr *respReader) readResponse(head bool) (status int, closeConn bool, err error) {
	var kind bodyKind
	var length int64
	for {
		status, kind, length, closeConn, err = rr.readHead()
		if err != nil {
			return 0, false, err
		}
		if status == 101 {
			return status, true, fmt.Errorf("%w: 101 Switching Protocols", ErrUnsupported)
		}
		if status >= 200 {
			break
		}
		// 1xx interim responses have no body and precede the final one
		// (RFC 9110 §15.2).
	}
	if head || status == 204 || status == 304 {
		kind = bodyNone
	}
	switch kind {
	case bodyLength:
		err = rr.discard(length)
	case bodyChunked:
		err = rr.discardChunked()
	case bodyClose:
		closeConn = true
		err = rr.discardToEOF()
	}
	if err != nil {
		return 0, false, err
	}
	return status, closeConn, nil
}

// readHead reads a status line and header fields up to the empty line.
func (rr *respReader) readHead() (status int, kind bodyKind, length int64, closeConn bool, err error) {
	line, err := rr.readLine()
	if err != nil {
		if err == io.ErrUnexpectedEOF && rr.r == rr.w {
			// Nothing of a response arrived: the server closed an idle connection.
			err = io.EOF
		}
		return 0, 0, 0, false, err
	}
	status, http10, err := parseStatusLine(line)
	if err != nil {
		return 0, 0, 0, false, err
	}
	keepAlive := false
	length = -1
	teSeen, teChunked := false, false
	for {
		line, err = rr.readLine()
		if err != nil {
			return 0, 0, 0, false, unexpected(err)
		}
		if len(line) == 0 {
			break
		}
		name, value, err := parseFieldLine(line)
		if err != nil {
			return 0, 0, 0, false, err
		}
		switch {
		case equalFoldLower(name, "content-length"):
			n, ok := parseDecimal(value)
			if !ok || (length >= 0 && n != length) {
				// RFC 9112 §6.3 rule 5: an invalid or conflicting length is
				// unrecoverable.
				return 0, 0, 0, false, fmt.Errorf("%w: Content-Length %s", ErrMalformedResponse, capQuote(string(value)))
			}
			length = n
		case equalFoldLower(name, "transfer-encoding"):
			teSeen = true
			teChunked = equalFoldLower(lastToken(value), "chunked")
		case equalFoldLower(name, "connection"):
			for v := value; len(v) > 0; {
				var tok []byte
				tok, v = nextToken(v)
				if equalFoldLower(tok, "close") {
					closeConn = true
				} else if equalFoldLower(tok, "keep-alive") {
					keepAlive = true
				}
			}
		}
	}
	if http10 && !keepAlive {
		closeConn = true // RFC 9112 §9.3: HTTP/1.0 is not persistent by default.
	}
	switch {
	case teSeen && teChunked:
		kind = bodyChunked // RFC 9112 §6.3 rule 3: Transfer-Encoding wins over Content-Length.
	case teSeen:
		kind = bodyClose
	case length >= 0:
		kind = bodyLength
	default:
		kind = bodyClose
	}
	return status, kind, length, closeConn, nil
}

// parseFieldLine splits a header or trailer line into name and value
// (RFC 9112 §5: field-line = field-name ":" OWS field-value OWS).
func parseFieldLine(line []byte) (name, value []byte, err error) {
	if line[0] == ' ' || line[0] == '\t' {
		// RFC 9112 §5.2: obs-fold is deprecated; a measuring client has no
		// reason to accept it.
		return nil, nil, fmt.Errorf("%w: obsolete line folding %s", ErrMalformedResponse, capQuote(string(line)))
	}
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 || !isTokenBytes(line[:colon]) {
		return nil, nil, fmt.Errorf("%w: field line %s", ErrMalformedResponse, capQuote(string(line)))
	}
	name, value = line[:colon], trimOWS(line[colon+1:])
	if !isFieldValue(value) {
		return nil, nil, fmt.Errorf("%w: field value %s", ErrMalformedResponse, capQuote(string(line)))
	}
	return name, value, nil
}

// parseStatusLine parses "HTTP/1.x SSS[ reason]" (RFC 9112 §4), tolerating a
// missing reason phrase.
func parseStatusLine(line []byte) (status int, http10 bool, err error) {
	if len(line) < 12 || string(line[:7]) != "HTTP/1." || line[7] < '0' || line[7] > '9' ||
		line[8] != ' ' || (len(line) > 12 && line[12] != ' ') {
		return 0, false, fmt.Errorf("%w: status line %s", ErrMalformedResponse, capQuote(string(line)))
	}
	for _, c := range line[9:12] {
		if c < '0' || c > '9' {
			return 0, false, fmt.Errorf("%w: status line %s", ErrMalformedResponse, capQuote(string(line)))
		}
		status = status*10 + int(c-'0')
	}
	if status < 100 {
		return 0, false, fmt.Errorf("%w: status line %s", ErrMalformedResponse, capQuote(string(line)))
	}
	return status, line[7] == '0', nil
}

// discardChunked reads and drops a chunked body and its trailer section
// (RFC 9112 §7.1), every line of it ended by CRLF.
func (rr *respReader) discardChunked() error {
	for {
		line, err := rr.readChunkLine()
		if err != nil {
			return unexpected(err)
		}
		size, err := parseChunkSize(line)
		if err != nil {
			return err
		}
		if size == 0 {
			break
		}
		if err := rr.discard(size); err != nil {
			return err
		}
		line, err = rr.readChunkLine()
		if err != nil {
			return unexpected(err)
		}
		if len(line) != 0 {
			return fmt.Errorf("%w: chunk data not followed by CRLF: %s", ErrMalformedResponse, capQuote(string(line)))
		}
	}
	for {
		line, err := rr.readChunkLine()
		if err != nil {
			return unexpected(err)
		}
		if len(line) == 0 {
			return nil
		}
		if _, _, err := parseFieldLine(line); err != nil {
			return err
		}
	}
}

// parseChunkSize parses "chunk-size [ BWS ; chunk-ext ]" (RFC 9112 §7.1.1).
// Chunk extensions are ignored, as the RFC allows.
func parseChunkSize(line []byte) (int64, error) {
	var n int64
	i := 0
	for ; i < len(line); i++ {
		v := unhex[line[i]]
		if v < 0 {
			break
		}
		if i == 15 {
			return 0, fmt.Errorf("%w: chunk size too large %s", ErrMalformedResponse, capQuote(string(line)))
		}
		n = n<<4 | int64(v)
	}
	if i == 0 || (i < len(line) && line[i] != ';' && line[i] != ' ' && line[i] != '\t') {
		return 0, fmt.Errorf("%w: chunk size %s", ErrMalformedResponse, capQuote(string(line)))
	}
	return n, nil
}

// unhex maps HEXDIG (RFC 5234 §B.1, either case) to its value and every other
// byte to -1.
var unhex = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = int8(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = int8(c - 'a' + 10)
		t[c-'a'+'A'] = int8(c - 'a' + 10)
	}
	return t
}()

// discard drops the next n body bytes.
func (rr *respReader) discard(n int64) error {
	for n > 0 {
		if rr.r == rr.w {
			if err := rr.fill(); err != nil {
				return unexpected(err)
			}
		}
		k := int64(rr.w - rr.r)
		if k > n {
			k = n
		}
		rr.r += int(k)
		n -= k
	}
	return nil
}

// discardToEOF drops everything up to the end of the connection.
func (rr *respReader) discardToEOF() error {
	for {
		rr.r = rr.w
		if err := rr.fill(); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
	}
}

// readLine returns the next line without its line terminator. It accepts a
// bare LF as a terminator (RFC 9112 §2.2). The line is valid until the next
// call of any method of rr. A line longer than the buffer is ErrHeadTooLarge;
// an EOF before the terminator is io.ErrUnexpectedEOF.
func (rr *respReader) readLine() ([]byte, error) {
	line, err := rr.readRawLine()
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, err
}

// readChunkLine is readLine for the lines of the chunked coding, which must end
// in CRLF and hold no other CR: RFC 9112 §7.1 spells out CRLF, and erratum 7633
// rejects a bare LF there (as net/http/internal/chunked.go does), since
// disagreement on chunk boundaries is how requests get smuggled.
func (rr *respReader) readChunkLine() ([]byte, error) {
	line, err := rr.readRawLine()
	if err != nil {
		return nil, err
	}
	if i := bytes.IndexByte(line, '\r'); i < 0 || i != len(line)-1 {
		return nil, fmt.Errorf("%w: chunked line not ended by CRLF: %s", ErrMalformedResponse, capQuote(string(line)))
	}
	return line[:len(line)-1], nil
}

// readRawLine returns the next line up to, not including, its LF.
func (rr *respReader) readRawLine() ([]byte, error) {
	scanned := 0 // bytes from rr.r already known to hold no LF
	for {
		if i := bytes.IndexByte(rr.buf[rr.r+scanned:rr.w], '\n'); i >= 0 {
			end := rr.r + scanned + i
			line := rr.buf[rr.r:end]
			rr.r = end + 1
			return line, nil
		}
		scanned = rr.w - rr.r
		if err := rr.fill(); err != nil {
			return nil, unexpected(err)
		}
	}
}

// fill reads at least one more byte into the buffer, moving the unconsumed
// bytes to the front first if the buffer is full. It invalidates slices of the
// buffer returned earlier.
func (rr *respReader) fill() error {
	if rr.r == rr.w {
		rr.r, rr.w = 0, 0
	}
	if rr.w == len(rr.buf) {
		if rr.r == 0 {
			return ErrHeadTooLarge
		}
		rr.w = copy(rr.buf, rr.buf[rr.r:rr.w])
		rr.r = 0
	}
	for {
		n, err := rr.src.Read(rr.buf[rr.w:])
		rr.w += n
		rr.nread += int64(n)
		if n > 0 {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// unexpected turns io.EOF into io.ErrUnexpectedEOF, for an EOF inside a
// response.
func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// isEOF reports whether err is a clean or unexpected end of the connection.
func isEOF(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// parseDecimal parses a non-empty string of at most 18 ASCII digits
// (RFC 9110 §8.6 Content-Length = 1*DIGIT), small enough never to overflow.
func parseDecimal(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// trimOWS trims optional whitespace (SP, HTAB; RFC 9110 §5.6.3) at both ends.
func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// nextToken splits the first element off a comma-separated list
// (RFC 9110 §5.6.1), returning it trimmed and the rest.
func nextToken(v []byte) (tok, rest []byte) {
	if i := bytes.IndexByte(v, ','); i >= 0 {
		return trimOWS(v[:i]), v[i+1:]
	}
	return trimOWS(v), nil
}

// lastToken returns the last element of a comma-separated list, trimmed.
func lastToken(v []byte) []byte {
	if i := bytes.LastIndexByte(v, ','); i >= 0 {
		v = v[i+1:]
	}
	return trimOWS(v)
}

// equalFoldLower reports whether b equals lower, which must be lower-case
// ASCII, ignoring ASCII case in b.
func equalFoldLower(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// isFieldValue reports whether every byte of b may appear in a field value.
func isFieldValue(b []byte) bool {
	for _, c := range b {
		if !fieldValueByte[c] {
			return false
		}
	}
	return true
}

// fieldValueByte holds the bytes of a field value (RFC 9110 §5.5), which
// excludes every control character but HTAB:
//
//	field-value   = *field-content
//	field-content = field-vchar [ 1*( SP / HTAB / field-vchar ) field-vchar ]
//	field-vchar   = VCHAR / obs-text
//	VCHAR         = %x21-7E
//	obs-text      = %x80-FF
var fieldValueByte = func() (t [256]bool) {
	for c := 0x20; c < 0x100; c++ {
		t[c] = c != 0x7f
	}
	t['\t'] = true
	return t
}()

// isTokenBytes is isToken for a byte slice.
func isTokenBytes(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !tokenByte[c] {
			return false
		}
	}
	return true
}
