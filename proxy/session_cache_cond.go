package proxy

import (
	"github.com/sluiceproxy/sluice/cache"
)

// cacheNotModified reports whether the request's conditions say the client
// has the stored response e already, which the cache is about to send: then
// it gets 304 (RFC 9111 §4.3.2, cache.NotModified).
func (s *Session) cacheNotModified(e *cache.Entry) bool {
	c, req := s.cache, &s.rp.Req
	c.vals = fieldValues(req.Raw, req.Headers, []byte("if-none-match"), c.vals[:0])
	n := len(c.vals)
	c.vals = fieldValues(req.Raw, req.Headers, []byte("if-modified-since"), c.vals)
	return len(c.vals) > 0 && cache.NotModified(c.vals[:n], c.vals[n:], e)
}
