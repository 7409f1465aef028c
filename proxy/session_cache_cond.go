package proxy

import (
	"github.com/sluiceproxy/sluice/cache"
	"github.com/sluiceproxy/sluice/parser"
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

// cacheMerge updates the entry being revalidated (c.ent) with the 304 that
// confirmed it (RFC 9111 §4.3.4): the 304's fields, as sluice forwards them,
// replace the stored ones of the same names (cache.MergeHead says which do
// not), and its validators replace the entry's. A 304 with another strong
// ETag is not about this response (cache.Selects) and changes no field. The
// merged head is kept in c.head, free while no response is being stored.
func (s *Session) cacheMerge(resp *parser.Response) {
	c := s.cache
	etag, hasETag := resp.Header("etag")
	if !cache.Selects(etag, c.ent.ETag) {
		return
	}
	fr := parser.ForwardResponse{Date: s.httpDate(), Skip: "age"}
	if _, ok := resp.Header("via"); ok {
		fr.Via = s.via // a stored Via already holds this hop's entry
	}
	// s.out is free until cacheSend writes the answer into it.
	s.out = parser.AppendResponseHead(s.out[:0], resp, &fr)
	c.head = cache.MergeHead(c.head[:0], c.ent.Head, s.out)
	c.ent.Head = c.head
	if c.ent.Zstd {
		c.zhead = zstdHead(c.zhead[:0], c.head, &c.zp, s.cfg.Limits)
		c.ent.ZHead = c.zhead
	}
	lastMod, hasLastMod := resp.Header("last-modified")
	c.val = append(append(c.val[:0], etag...), lastMod...)
	if hasETag {
		c.ent.ETag = c.val[:len(etag)]
	}
	if hasLastMod {
		c.ent.LastModified = c.val[len(etag):]
	}
}
