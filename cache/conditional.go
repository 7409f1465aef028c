package cache

import (
	"bytes"
	"time"

	"github.com/sluiceproxy/sluice/internal/ascii"
)

// NotModified reports whether a request's conditions, evaluated against a
// stored response the cache is about to send (RFC 9111 §4.3.2), say that
// the client has it already, so that it gets 304 (Not Modified) instead.
// ifNoneMatch and ifModifiedSince are the values of the request's field
// lines of those names; If-Modified-Since counts only when there is no
// If-None-Match (RFC 9110 §13.2.2). The caller asks only for a GET or HEAD.
//
//   - If-None-Match: "*", or a list of entity-tags one of which matches the
//     stored ETag by weak comparison (§13.1.2, §8.8.3.2).
//   - If-Modified-Since: one valid HTTP-date (anything else is ignored,
//     §13.1.3) no earlier than the stored Last-Modified, or, without a
//     valid one, the stored Date, or else the time the response was
//     received (RFC 9111 §4.3.2).
//
// Only a 2xx response is evaluated: a server ignores preconditions when it
// would answer otherwise (RFC 9110 §13.2.1).
func NotModified(ifNoneMatch, ifModifiedSince [][]byte, e *Entry) bool {
	switch {
	case e.Status < 200 || e.Status > 299:
		return false
	case len(ifNoneMatch) > 0:
		return etagListMatches(ifNoneMatch, e.ETag)
	case len(ifModifiedSince) != 1:
		return false
	}
	since, ok := ParseHTTPDate(ifModifiedSince[0])
	return ok && !lastModified(e).After(since)
}

// lastModified is when the stored response's representation was last
// changed, as far as the cache can tell (RFC 9111 §4.3.2).
func lastModified(e *Entry) time.Time {
	if t, ok := ParseHTTPDate(e.LastModified); ok {
		return t
	}
	if !e.Times.Date.IsZero() {
		return e.Times.Date
	}
	return e.Times.Response.Truncate(time.Second) // an HTTP-date has whole seconds
}

// etagListMatches reports whether If-None-Match values (RFC 9110 §13.1.2:
// "*" or a list of entity-tags) match the stored ETag field value etag by
// weak comparison: the opaque-tags are equal, whether or not either is
// weak (§8.8.3.2). "*" matches any current representation, and a stored
// response is one. Malformed list members match nothing.
func etagListMatches(values [][]byte, etag []byte) bool {
	stored, _, _ := nextETag(etag)
	for _, v := range values {
		for len(v) > 0 {
			var tag []byte
			var star bool
			tag, star, v = nextETag(v)
			if star || tag != nil && stored != nil && bytes.Equal(tag, stored) {
				return true
			}
		}
	}
	return false
}

// nextETag splits the first member off a list of entity-tags (RFC 9110
// §8.8.3):
//
//	entity-tag = [ weak ] opaque-tag
//	weak       = %s"W/"
//	opaque-tag = DQUOTE *etagc DQUOTE
//	etagc      = %x21 / %x23-7E / obs-text
//
// It returns the opaque-tag with its quotes (nil when the member is
// malformed), whether the member is "*", and the rest of the list. An
// etagc may be a comma: the member ends at its closing quote.
func nextETag(v []byte) (tag []byte, star bool, rest []byte) {
	for len(v) > 0 && (v[0] == ' ' || v[0] == '\t' || v[0] == ',') {
		v = v[1:]
	}
	if len(v) == 0 {
		return nil, false, nil
	}
	i := 0
	switch {
	case v[0] == '*':
		i = 1
		star = true
	case bytes.HasPrefix(v, []byte(`W/"`)) || v[0] == '"':
		open := bytes.IndexByte(v, '"')
		end := open + 1
		for end < len(v) && etagc(v[end]) {
			end++
		}
		if end == len(v) || v[end] != '"' {
			break // no closing quote, or a byte no etagc may be
		}
		i = end + 1
		tag = v[open:i]
	}
	// What follows a member, before the next comma, must be whitespace.
	j := i
	for j < len(v) && v[j] != ',' {
		j++
	}
	if i == 0 || len(ascii.TrimOWS(v[i:j])) > 0 {
		return nil, false, v[j:]
	}
	return tag, star, v[j:]
}

// etagc reports whether c may be in an opaque-tag between its quotes.
func etagc(c byte) bool { return c == 0x21 || c >= 0x23 && c != 0x7f }

// Selects reports whether a 304 whose ETag field value is etag304 (nil when
// it has none) is about the stored response with the ETag value stored, so
// that it may update it (RFC 9111 §4.3.4): a 304 with a strong entity-tag
// selects only a stored response with the same strong one; without one, a
// 304 to the cache's own conditional request is about the one response
// revalidated.
func Selects(etag304, stored []byte) bool {
	tag := strongETag(etag304)
	return tag == nil || bytes.Equal(tag, strongETag(stored))
}

// strongETag is the opaque-tag of an ETag field value if it is a strong
// entity-tag, else nil.
func strongETag(v []byte) []byte {
	v = ascii.TrimOWS(v)
	if len(v) == 0 || v[0] != '"' {
		return nil
	}
	tag, _, _ := nextETag(v)
	return tag
}
