package cache

import (
	"errors"
	"net/url"
	"strconv"
	"strings"

	"github.com/sluiceproxy/sluice/internal/ascii"
)

// AppendKey appends the primary cache key of a request (RFC 9111 §2): the
// method class (GET and HEAD share entries: a HEAD is answered from a GET's),
// the scheme, the authority with its host lower-cased, and the target as
// sent ("/" before it when it has no path). Parts are separated by a byte that none of them can contain.
func AppendKey(dst, scheme, authority, target []byte) []byte {
	dst = append(dst, "GET\x00"...)
	dst = append(dst, scheme...)
	dst = append(dst, 0)
	dst = ascii.AppendLower(dst, authority)
	dst = append(dst, 0)
	if len(target) == 0 || target[0] == '?' {
		dst = append(dst, '/') // an absolute-form target without a path
	}
	return append(dst, target...)
}

// VaryNames calls f with each field name a response's Vary values list,
// lower-cased into buf (reused between calls); star reports "*" (RFC 9110
// §12.5.5: the response never matches a later request).
func VaryNames(values [][]byte, buf []byte, f func(name []byte)) (star bool) {
	for _, v := range values {
		for len(v) > 0 {
			var name []byte
			name, _, v = nextDirective(v) // the same list grammar, without values
			if len(name) == 0 {
				continue
			}
			if len(name) == 1 && name[0] == '*' {
				star = true
				continue
			}
			buf = ascii.AppendLower(buf[:0], name)
			f(buf)
		}
	}
	return star
}

// AppendVaryValue appends, for the secondary key, a request's values of one
// field the response varies on (RFC 9111 §4.1), normalised so that requests
// that differ only in insignificant whitespace share an entry: the field
// lines joined with ", ", each list element trimmed of optional whitespace,
// runs of whitespace inside an element collapsed to one space. An absent
// field and an empty one are told apart. The record is name, NUL, value,
// NUL (the value is the byte 0x01 for an absent field).
func AppendVaryValue(dst []byte, name []byte, values [][]byte) []byte {
	dst = append(dst, name...)
	if values == nil {
		return append(dst, 0, 1, 0) // absent
	}
	dst = append(dst, 0)
	first := true
	for _, v := range values {
		for len(v) > 0 {
			i := 0
			for i < len(v) && v[i] != ',' {
				i++
			}
			elem := ascii.TrimOWS(v[:i])
			if i < len(v) {
				i++
			}
			v = v[i:]
			if len(elem) == 0 {
				continue
			}
			if !first {
				dst = append(dst, ", "...)
			}
			first = false
			space := false
			for _, c := range elem {
				if c == ' ' || c == '\t' {
					space = true
					continue
				}
				if space {
					dst = append(dst, ' ')
					space = false
				}
				dst = append(dst, c)
			}
		}
	}
	return append(dst, 0)
}

func trimLeftOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}

// KeyOfURL appends the primary key of a GET of an absolute http URL, as the
// proxy session builds it for a request of that URL: the host lower-cased,
// the port (80 if absent), the path and query as a client sends them ("/"
// when empty). For purging one URL from the admin API.
func KeyOfURL(dst []byte, raw string) ([]byte, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return dst, err
	}
	if !strings.EqualFold(u.Scheme, "http") || u.Host == "" {
		return dst, errors.New("cache: want an absolute http URL")
	}
	port := u.Port()
	if port == "" {
		port = "80"
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return dst, errors.New("cache: bad port " + strconv.Quote(port))
	}
	authority := strings.ToLower(u.Hostname()) + ":" + port
	return AppendKey(dst, []byte("http"), []byte(authority), []byte(u.RequestURI())), nil
}
