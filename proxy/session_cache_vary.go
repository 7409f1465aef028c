package proxy

import (
	"bytes"

	"github.com/sluiceproxy/sluice/cache"
)

// cacheVariant replaces the variant index just found under the request's
// primary key (c.ent, RFC 9111 §4.1) with the stored response its Vary
// fields select for this request, and reports whether there is one.
func (s *Session) cacheVariant() bool {
	c := s.cache
	variants, names := c.ent.Variants, c.ent.Vary
	c.vary = c.vary[:0] // free until the response: cacheResponse fills it anew
	for len(names) > 0 {
		i := bytes.IndexByte(names, 0)
		if i < 0 {
			return false
		}
		c.vary = s.appendVaryValue(c.vary, names[:i])
		names = names[i+1:]
	}
	// names pointed into c.buf: done with them before it is reused.
	var ok bool
	c.buf, ok = s.cfg.Cache.GetVariant(c.buf[:0], c.key, variants, c.vary, &c.ent)
	return ok
}

// appendVaryValue appends the request's cache.AppendVaryValue record for
// the field name (lower-case).
func (s *Session) appendVaryValue(dst, name []byte) []byte {
	c, req := s.cache, &s.rp.Req
	c.vals = fieldValues(req.Raw, req.Headers, name, c.vals[:0])
	var vs [][]byte // nil: the field is absent
	if len(c.vals) > 0 {
		vs = c.vals
	}
	return cache.AppendVaryValue(dst, name, vs)
}
