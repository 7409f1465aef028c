package cache

import (
	"bytes"

	"github.com/sluiceproxy/sluice/internal/ascii"
)

// Stored heads are as sluice writes them (parser.AppendResponseHead): a
// status line, field lines "Name: value", and the empty line, each ending
// in CRLF; no obs-fold (the parser refuses it).

// notModified304 are the stored fields a 304 (Not Modified) made from a
// stored response carries: those RFC 9110 §15.4.5 requires when a 200
// would have sent them (Cache-Control, Content-Location, Date, ETag,
// Expires, Vary), Last-Modified, which it allows and which serves a client
// without ETags, and Via, which this proxy's hop adds to every response.
// Other representation metadata is left out, as §15.4.5 asks.
var notModified304 = [...]string{
	"cache-control", "content-location", "date", "etag", "expires", "vary", "last-modified", "via",
}

// AppendNotModified appends to dst a 304 (Not Modified) head built from a
// stored response's head: the status line, the fields of the stored head
// that a 304 carries (notModified304), and the empty line. It has no
// Content-Length (a 304 has no content, and its Content-Length would be the
// 200's, RFC 9110 §8.6) and no Age: the caller adds the current one.
func AppendNotModified(dst, head []byte) []byte {
	dst = append(dst, "HTTP/1.1 304 Not Modified\r\n"...)
	_, fields := splitHead(head)
	for len(fields) > 0 {
		var name, line []byte
		name, line, fields = nextField(fields)
		if nameIn(name, notModified304[:]) {
			dst = append(dst, line...)
		}
	}
	return append(dst, "\r\n"...)
}

// splitHead splits a head into its status line (with its CRLF) and its
// field lines (without the empty line).
func splitHead(head []byte) (status, fields []byte) {
	i := bytes.IndexByte(head, '\n')
	if i < 0 {
		return head, nil
	}
	status, fields = head[:i+1], head[i+1:]
	fields = bytes.TrimSuffix(fields, []byte("\r\n"))
	return status, fields
}

// nextField splits the first line off field lines: the field's name, the
// whole line with its CRLF, and the lines after it.
func nextField(fields []byte) (name, line, rest []byte) {
	i := bytes.IndexByte(fields, '\n')
	if i < 0 {
		i = len(fields) - 1
	}
	line, rest = fields[:i+1], fields[i+1:]
	name = line
	if j := bytes.IndexByte(line, ':'); j >= 0 {
		name = line[:j]
	}
	return name, line, rest
}

// nameIn reports whether name is one of the lower-case names, ignoring its
// case.
func nameIn(name []byte, names []string) bool {
	for _, n := range names {
		if ascii.EqualFold(name, n) {
			return true
		}
	}
	return false
}
