package proxy

import (
	"time"

	"github.com/sluiceproxy/sluice/cache"
	"github.com/sluiceproxy/sluice/compression"
	"github.com/sluiceproxy/sluice/internal/ascii"
	"github.com/sluiceproxy/sluice/parser"
)

// Compressed entries. A response the compression policy would compress
// (Config.Compress's, or compression's defaults when compression is off) is
// stored as one zstd frame when that makes it at least a tenth smaller
// (cache.Entry.Zstd). A hit for a client that accepts zstd gets the frame as
// it is, with the stored zstd head (Content-Encoding: zstd, a weak ETag); any
// other client gets it decoded. Both carry Vary: Accept-Encoding.
//
// Neither side blocks the loop for long: a body up to the compressor's
// LoopMax is compressed (when stored) and decoded (when hit) on the loop;
// longer ones in an offloaded job (Driver.Offload). A stored body's job
// stores it and ends the flight; a hit's decodes it and wakes the session
// (CacheWake), which then sends it.

// defaultStorePolicy decides which entries are kept compressed when
// responses are not compressed (Config.Compress nil).
var defaultStorePolicy = compression.Policy{Types: compression.DefaultTypes, MinLength: compression.DefaultMinLength}

// storePolicy returns the policy and the on-loop limit for compressed
// entries.
func (s *Session) storePolicy() (compression.Policy, int) {
	if z := s.cfg.Compress; z != nil {
		return z.Policy, z.LoopMax
	}
	return defaultStorePolicy, compression.DefaultLoopMax
}

// cacheCompressible reports whether a response being stored may be kept
// compressed (a transformation: not for no-transform, not for an encoded
// body).
func (s *Session) cacheCompressible(resp *parser.Response, rcc cache.Directives) bool {
	pol, _ := s.storePolicy()
	ct, _ := resp.Header("content-type")
	ce, hasCE := resp.Header("content-encoding")
	length := int64(-1)
	if s.respFrame == parser.FramingLength {
		length = s.respRemain
	}
	return pol.Decide(compression.Exchange{
		Status: resp.StatusCode, NoTransform: rcc.NoTransform,
		Encoded:     hasCE && !(len(ce) == 0 || ascii.EqualFold(ce, "identity")),
		ContentType: ct, Length: length, Coding: compression.Zstd,
	}) == compression.Compress
}

// cacheCompress stores the entry in c.ent (the response just ended)
// compressed: on the loop when its body is short, and reports false (the
// caller stores c.ent, as it is if compressing did not pay); otherwise in an
// offloaded job that also ends the flight, and reports true. A body too
// short to compress is stored as it is, and so is one when no job can start.
func (s *Session) cacheCompress() bool {
	c := s.cache
	pol, loopMax := s.storePolicy()
	if int64(len(c.body)) < pol.MinLength {
		return false
	}
	if len(c.body) <= loopMax {
		c.zbody = compression.AppendFrame(c.zbody[:0], c.body)
		c.zhead = zstdHead(c.zhead[:0], c.head, &c.zp, s.cfg.Limits)
		useFrame(&c.ent, c.zbody, c.zhead, len(c.body))
		return false
	}
	// The job owns copies of everything it stores; the body is handed over.
	e := c.ent
	e.ETag, e.LastModified = clone(e.ETag), clone(e.LastModified)
	e.Vary, e.Head, e.Body = clone(e.Vary), clone(e.Head), c.body
	key, lead, store, limits := clone(c.key), c.lead, s.cfg.Cache, s.cfg.Limits
	job := func() {
		var zp parser.ResponseParser
		useFrame(&e, compression.AppendFrame(nil, e.Body), zstdHead(nil, e.Head, &zp, limits), len(e.Body))
		_, stored := store.Put(key, &e, nil)
		if lead {
			store.Flights().End(key, time.Now(), outcome(stored))
		}
	}
	if !s.d.Offload(job) {
		return false
	}
	c.lead = false // the job ends the flight
	c.body = nil
	c.ent = cache.Entry{}
	return true
}

// useFrame makes e keep frame in place of its body of size bytes, if the
// frame is at least a tenth smaller.
func useFrame(e *cache.Entry, frame, zhead []byte, size int) {
	if len(frame) > size-size/10 {
		return
	}
	e.Body, e.Zstd, e.Size, e.ZHead = frame, true, int64(size), zhead
}

// zstdHead appends the head of the zstd representation of a stored response
// whose head is head (Content-Encoding: zstd, a weak ETag, Vary:
// Accept-Encoding), parsed with p. A head that does not parse (it always
// does: sluice wrote it) gives nothing.
func zstdHead(dst, head []byte, p *parser.ResponseParser, limits parser.Limits) []byte {
	p.Reset()
	p.Limits = limits
	if n, err := p.Parse(head); err != nil || n != len(head) {
		return dst
	}
	return parser.AppendResponseHead(dst, &p.Resp, &parser.ForwardResponse{Encoding: "zstd"})
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }

// acceptsZstd reports whether the request accepts the zstd coding.
func (s *Session) acceptsZstd() bool {
	c, req := s.cache, &s.rp.Req
	c.vals = fieldValues(req.Raw, req.Headers, []byte("accept-encoding"), c.vals[:0])
	return len(c.vals) > 0 && compression.Negotiate(c.vals, zstdOnly) == compression.Zstd
}

var zstdOnly = []compression.Coding{compression.Zstd}

// cacheRepresentation returns what a hit on e sends: the head, the body
// and its length. A kept-compressed body goes as it is to a client that
// accepts zstd, decoded (cacheDecode) to any other.
func (s *Session) cacheRepresentation(e *cache.Entry) (head, body []byte, length int64) {
	if !e.Zstd {
		return e.Head, e.Body, int64(len(e.Body))
	}
	if s.acceptsZstd() {
		s.rec.Encoding = "zstd"
		return e.ZHead, e.Body, int64(len(e.Body))
	}
	if s.rp.Req.Method == parser.MethodHEAD {
		return e.Head, nil, e.Size
	}
	return e.Head, s.cache.dec, e.Size
}

// decodeResult is what cacheDecode did.
type decodeResult uint8

const (
	decodeDone   decodeResult = iota // nothing to decode, or decoded into c.dec
	decodeLater                      // an offloaded job decodes; CacheWoken sends
	decodeFailed                     // the entry does not decode: it was dropped
)

// cacheDecode decodes a hit's kept-compressed body into c.dec, if the
// client gets it decoded: on the loop when it is short (or no job can
// start), else in an offloaded job while the session waits (stCacheWait;
// cacheDecoded sends it, as of age).
func (s *Session) cacheDecode(e *cache.Entry, age time.Duration) decodeResult {
	c := s.cache
	if !e.Zstd || s.rp.Req.Method == parser.MethodHEAD || s.acceptsZstd() || s.cacheNotModified(e) {
		return decodeDone
	}
	_, loopMax := s.storePolicy()
	if e.Size > int64(loopMax) {
		// c.buf (where e points) and c.dec are the job's until it wakes us.
		frame, size, dec, gen, d := e.Body, int(e.Size), c.dec[:0], s.gen^decodedWake, s.d
		if s.d.Offload(func() {
			c.dec, c.decErr = compression.AppendUnframed(dec, frame, size)
			d.CacheWake(gen)
		}) {
			c.decoding, c.age = true, age
			s.st = stCacheWait
			s.d.SetTimer(0)
			return decodeLater
		}
	}
	c.dec, c.decErr = compression.AppendUnframed(c.dec[:0], e.Body, int(e.Size))
	if c.decErr != nil {
		s.cacheCorrupt()
		return decodeFailed
	}
	return decodeDone
}

// cacheCorrupt drops the entry of the current request, whose stored body
// does not decode.
func (s *Session) cacheCorrupt() {
	c := s.cache
	s.cfg.Logger.Error("cache: a stored body does not decode; entry dropped", "err", c.decErr)
	s.cfg.Cache.Delete(c.key)
}

// cacheDecoded sends the hit whose body an offloaded job decoded; a body
// that did not decode sends the request to the origin.
func (s *Session) cacheDecoded() {
	c := s.cache
	c.decoding = false
	s.st = stHead
	if c.decErr != nil {
		s.cacheCorrupt()
		s.rec.Cache = CacheMiss
		c.reqTime = s.d.Now()
		s.lookup()
		return
	}
	s.cacheSend(&c.ent, c.age)
	s.finishRecord("")
	s.endExchange()
}
