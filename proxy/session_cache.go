package proxy

import (
	"bytes"
	"strconv"
	"time"

	"github.com/sluiceproxy/sluice/cache"
	"github.com/sluiceproxy/sluice/compression"
	"github.com/sluiceproxy/sluice/internal/ascii"
	"github.com/sluiceproxy/sluice/parser"
)

// The response cache (Config.Cache, RFC 9111; the cache package decides).
// A GET or HEAD to a plain-HTTP destination, once the policy allowed it, is
// looked up before DNS: a fresh entry whose Vary fields match is sent at once
// with its Age. A URL whose responses vary has a variant index under its
// primary key, and each variant under a secondary key built from the
// request's values of the Vary fields (cacheVariant, cache.GetVariant).
// Otherwise the request goes to the origin, and a storable response to a
// GET is kept while it is relayed in loop mode (a body that goes to stream
// mode, or grows past the store's object limit, is not) and stored when it
// ends. A non-error response to an unsafe method deletes the entry of its
// target (§4.4).
//
// A stale entry with a validator is revalidated: the request goes on with
// If-None-Match / If-Modified-Since, and a 304 is answered from the entry,
// renewed.
//
// Concurrent misses for one key are collapsed (cache.Flights): the first
// GET goes to the origin and leads; the others wait (stCacheWait, at most
// Config.CacheLockTimeout) and look the key up again when it ends. A leader
// ends its flight exactly once (cacheEnd): stored, not storable (the waiters
// go to the origin themselves), or failed.
//
// A GET or HEAD whose If-None-Match or If-Modified-Since says the client
// has the response the cache would send gets 304 (cacheNotModified).
// Client validators are not merged with the entry's: a request that has
// them and finds only a stale entry goes to the origin unchanged, and the
// origin's 304 for it is relayed, not stored.
//
// Compressible responses are kept as zstd frames (session_cache_zstd.go).

// Record.Cache values.
const (
	CacheHit         = "hit"
	CacheMiss        = "miss"
	CacheBypass      = "bypass"      // the request's no-cache or max-age=0 skipped the lookup
	CacheUncacheable = "uncacheable" // the response may not be stored
	CacheRevalidated = "revalidated" // a stale entry the origin confirmed (304)
)

// sessionCache is the cache state of a session's current request, made on
// the first request when the cache is on. Owned by the session.
type sessionCache struct {
	key          []byte           // the target's primary key; empty when the cache has no part in the request
	store        bool             // the response may be stored, if it allows
	invalidate   bool             // an unsafe method: a non-error response deletes key
	caching      bool             // the response is being kept to be stored
	lead         bool             // the request leads the key's flight: cacheEnd must end it
	zstd         bool             // the response being stored is kept zstd-compressed if that pays
	decoding     bool             // with stCacheWait: an offloaded job decodes ent's body into dec
	waited       bool             // the request waited for a flight already
	revalidating bool             // ent (in stale) is being revalidated with the origin
	reqCC        cache.Directives // the request's Cache-Control
	reqTime      time.Time        // when the request was sent on (Times.Request)
	auth         bool             // the request had Authorization

	ent   cache.Entry
	vary  []byte // the request's values for the response's Vary names (cache.AppendVaryValue records)
	head  []byte
	body  []byte
	val   []byte // ETag, then Last-Modified, copied out of the response head
	buf   []byte // the store's encoding buffer
	stale []byte // the encoded entry being revalidated (ent's slices point into it)
	vals  [][]byte
	names []byte

	// Compressed entries (session_cache_zstd.go).
	zbody  []byte                // the stored frame of a body compressed on the loop
	zhead  []byte                // the stored zstd representation's head
	dec    []byte                // a hit's body decoded; written by an offloaded job while decoding
	decErr error                 // with dec
	age    time.Duration         // with decoding: the hit's age when found
	zp     parser.ResponseParser // parses a stored head to derive its zstd head
}

// cacheStart gives the cache its part in a request whose destination the
// policy allowed: it answers the request from a fresh entry (true), or with
// 504 for only-if-cached when there is none (true), or prepares to store
// the response (false: the request goes on).
func (s *Session) cacheStart() bool {
	req := &s.rp.Req
	if s.cfg.Cache == nil || s.tunnel || s.bound != nil ||
		req.Form == parser.FormAbsolute && req.Scheme != parser.SchemeHTTP {
		return false
	}
	c := s.cache
	if c == nil {
		c = new(sessionCache)
		s.cache = c
	}
	c.key = c.key[:0]
	c.store, c.invalidate, c.caching, c.revalidating, c.waited = false, false, false, false, false
	path := req.Bytes(req.Path)
	var auth [6 + 255 + 1 + 5]byte
	authority := strconv.AppendUint(append(append(auth[:0], s.hostLower...), ':'), uint64(s.port), 10)
	c.key = cache.AppendKey(c.key, []byte("http"), authority, path)

	switch req.Method {
	case parser.MethodGET, parser.MethodHEAD:
	case parser.MethodOPTIONS, parser.MethodTRACE:
		c.key = c.key[:0]
		return false
	default:
		c.invalidate = true
		return false
	}
	if s.reqFrame != parser.FramingNone {
		c.key = c.key[:0] // a GET with a body is not a plain GET
		return false
	}
	c.vals = fieldValues(req.Raw, req.Headers, []byte("cache-control"), c.vals[:0])
	c.reqCC = cache.ParseCacheControl(c.vals...)
	if len(c.vals) == 0 && hasField(req.Raw, req.Headers, "pragma", "no-cache") {
		c.reqCC.NoCache = true // RFC 9111 §5.4: HTTP/1.0's no-cache
	}
	c.auth = hasField(req.Raw, req.Headers, "authorization", "")
	c.store = req.Method == parser.MethodGET && !c.reqCC.NoStore
	if c.reqCC.NoCache || c.reqCC.MaxAge == 0 {
		s.rec.Cache = CacheBypass
	} else if s.cacheServe() {
		return true
	} else if c.reqCC.OnlyIfCached {
		s.fail(ErrNotCached)
		return true
	} else {
		s.rec.Cache = CacheMiss
		if s.cacheJoin() {
			return true
		}
	}
	c.reqTime = s.d.Now()
	return false
}

// cacheJoin enters a GET's miss into its key's flight: it leads (false: it
// goes on to the origin), passes (false), or waits for the leader (true).
func (s *Session) cacheJoin() bool {
	c := s.cache
	if !c.store || c.waited || s.rp.Req.ConnUpgrade {
		return false
	}
	switch s.cfg.Cache.Flights().Join(c.key, s.d.Now(), s.d, s.gen) {
	case cache.Lead:
		c.lead = true
	case cache.Wait:
		c.waited = true
		s.st = stCacheWait
		s.d.SetTimer(s.cfg.CacheLockTimeout)
		return true
	}
	return false
}

// CacheWoken reports that the flight the session waited on (with gen)
// ended: the key is looked up again.
//
// The job decoding a hit's body (cacheDecode) wakes the session with
// gen^decodedWake: a flight the request stopped waiting for may still end
// while the body decodes, and its wake-up must not be taken for the job's.
func (s *Session) CacheWoken(gen uint32) {
	if s.st != stCacheWait {
		return
	}
	switch {
	case s.cache.decoding && gen == s.gen^decodedWake:
		s.cacheDecoded()
	case !s.cache.decoding && gen == s.gen:
		s.cacheResume()
	}
}

// decodedWake marks the wake-up of a decoding job (CacheWoken).
const decodedWake = 1 << 31

// cacheResume ends a wait for a flight, woken or timed out: a hit is
// served, anything else goes to the origin.
func (s *Session) cacheResume() {
	s.st = stHead
	s.d.SetTimer(0)
	if s.cacheServe() {
		return
	}
	s.cache.reqTime = s.d.Now()
	s.lookup()
}

// cacheEnd ends the flight the request leads, if it does, with outcome o.
func (s *Session) cacheEnd(o cache.Outcome) {
	if c := s.cache; c != nil && c.lead {
		c.lead = false
		s.cfg.Cache.Flights().End(c.key, s.d.Now(), o)
	}
}

// cacheServe answers the request from the store if it holds an entry the
// request accepts (for a URL that varies, the variant the request selects). An entry it does not accept only for its age (or its
// no-cache), that has a validator, is kept for revalidation: the request
// goes to the origin with If-None-Match / If-Modified-Since, and a 304 is
// answered from the entry (cacheRevalidated).
func (s *Session) cacheServe() bool {
	c := s.cache
	var ok bool
	c.buf, ok = s.cfg.Cache.Get(c.buf[:0], c.key, &c.ent)
	if !ok {
		return false
	}
	e := &c.ent
	if e.Variants != 0 && !s.cacheVariant() {
		return false
	}
	if len(e.Vary) > 0 && !s.varyMatches(e.Vary) {
		return false
	}
	now := s.d.Now()
	age := cache.CurrentAge(e.Times, now)
	rcc := &c.reqCC
	fresh := age < e.Lifetime && !e.NoCache
	acceptable := true
	switch {
	case rcc.MaxAge != cache.Absent && age > time.Duration(rcc.MaxAge)*time.Second:
		acceptable = false
	case rcc.MinFresh != cache.Absent && e.Lifetime-age < time.Duration(rcc.MinFresh)*time.Second:
		acceptable = false
	case !fresh:
		acceptable = !e.Revalidate && !e.NoCache &&
			(rcc.MaxStaleAny || rcc.MaxStale != cache.Absent && age-e.Lifetime <= time.Duration(rcc.MaxStale)*time.Second)
	}
	if !acceptable {
		req := &s.rp.Req
		if (len(e.ETag) > 0 || len(e.LastModified) > 0) && !rcc.OnlyIfCached &&
			!hasField(req.Raw, req.Headers, "if-none-match", "") && !hasField(req.Raw, req.Headers, "if-modified-since", "") &&
			!hasField(req.Raw, req.Headers, "if-range", "") && !hasField(req.Raw, req.Headers, "range", "") {
			// The entry stays in c.stale (its slices point there) while
			// the request goes to the origin.
			c.stale, c.buf = c.buf, c.stale[:0]
			c.revalidating = true
		}
		return false
	}
	switch s.cacheDecode(e, age) {
	case decodeLater:
		s.rec.Cache = CacheHit
		return true // sent once decoded (CacheWoken)
	case decodeFailed:
		return false // a corrupt entry, dropped: a miss
	}
	s.rec.Cache = CacheHit
	s.cacheSend(e, age)
	s.finishRecord("")
	s.endExchange()
	return true
}

// cacheSend answers the request with a stored response of the given age,
// and ends the exchange: 304 (Not Modified) with the stored fields a 304
// carries when the request's conditions say the client has it
// (cacheNotModified), the whole response otherwise.
func (s *Session) cacheSend(e *cache.Entry, age time.Duration) {
	req := &s.rp.Req
	if !req.KeepAlive() {
		s.closeAfter = true
	}
	notModified := s.cacheNotModified(e)
	var body []byte
	if notModified {
		s.out = cache.AppendNotModified(s.out[:0], e.Head)
		s.out = s.out[:len(s.out)-2] // the empty line: fields follow
		s.rec.Status = 304
	} else {
		var head []byte
		var length int64
		head, body, length = s.cacheRepresentation(e)
		if len(head) >= 2 {
			head = head[:len(head)-2] // the empty line: fields follow
		}
		s.out = append(s.out[:0], head...)
		s.out = append(s.out, "Content-Length: "...)
		s.out = strconv.AppendInt(s.out, length, 10)
		s.out = append(s.out, "\r\n"...)
		s.rec.Status = e.Status
	}
	s.out = append(s.out, "Age: "...)
	s.out = strconv.AppendInt(s.out, int64(age/time.Second), 10)
	s.out = append(s.out, "\r\n"...)
	switch {
	case s.closeAfter || s.drain:
		s.out = append(s.out, "Connection: close\r\n"...)
	case req.ProtoMinor == 0:
		s.out = append(s.out, "Connection: keep-alive\r\n"...)
	}
	s.out = append(s.out, "\r\n"...)
	s.toClient(s.out)
	if !notModified && req.Method != parser.MethodHEAD {
		s.toClient(body)
	}
	s.clientSent = true
}

// cacheConditional adds to a forwarded request head the validators of the
// entry being revalidated.
func (s *Session) cacheConditional(head []byte) []byte {
	c := s.cache
	if c == nil || !c.revalidating || len(head) < 2 {
		return head
	}
	head = head[:len(head)-2]
	if len(c.ent.ETag) > 0 {
		head = append(append(append(head, "If-None-Match: "...), c.ent.ETag...), "\r\n"...)
	}
	if len(c.ent.LastModified) > 0 {
		head = append(append(append(head, "If-Modified-Since: "...), c.ent.LastModified...), "\r\n"...)
	}
	return append(head, "\r\n"...)
}

// cacheRevalidated answers a revalidation's 304 (RFC 9111 §4.3.3): the
// stored response, updated from the 304 (§4.3.4: its fields merged into
// the stored head, cacheMerge, and its freshness renewed from its Date,
// Age, Cache-Control and Expires), goes to the client and back into the
// store. It reports false for any other status:
// that response is relayed, and stored if it may be, as on a miss.
func (s *Session) cacheRevalidated(resp *parser.Response) bool {
	c := s.cache
	if c == nil || !c.revalidating {
		return false
	}
	c.revalidating = false
	if resp.StatusCode != 304 {
		return false
	}
	e := &c.ent
	s.cacheMerge(resp)
	now := s.d.Now()
	t := cache.Times{Request: c.reqTime, Response: now}
	if v, ok := resp.Header("date"); ok {
		t.Date, _ = cache.ParseHTTPDate(v)
	}
	if v, ok := resp.Header("age"); ok {
		if n, ok := parseDecimal(ascii.TrimOWS(v)); ok {
			t.Age = n
		}
	}
	c.vals = fieldValues(resp.Raw, resp.Headers, []byte("cache-control"), c.vals[:0])
	_, hasExpires := resp.Header("expires")
	if len(c.vals) > 0 || hasExpires {
		rcc := cache.ParseCacheControl(c.vals...)
		if v, ok := resp.Header("expires"); ok {
			t.ExpiresOK = true
			t.Expires, _ = cache.ParseHTTPDate(v)
		}
		e.Lifetime = cache.Lifetime(rcc, t)
		e.Revalidate = rcc.MustRevalidate || rcc.ProxyRevalidate || rcc.SMaxAge != cache.Absent
		e.NoCache = rcc.NoCache
	} else {
		t.Expires, t.ExpiresOK = e.Times.Expires, e.Times.ExpiresOK
	}
	e.Times = t
	s.rec.Cache = CacheRevalidated
	if e.Zstd && s.rp.Req.Method != parser.MethodHEAD && !s.acceptsZstd() && !s.cacheNotModified(e) {
		// Decoded on the loop, even when long: revalidations are rare
		// next to hits.
		c.dec, c.decErr = compression.AppendUnframed(c.dec[:0], e.Body, int(e.Size))
		if c.decErr != nil {
			s.cacheCorrupt()
			s.fail(ErrCacheCorrupt)
			return true
		}
	}
	s.cacheSend(e, cache.CurrentAge(t, now))
	var stored bool
	c.buf, stored = s.cfg.Cache.Put(c.key, e, c.buf)
	s.cacheEnd(outcome(stored))
	return true
}

// varyMatches reports whether the request has the values the stored
// response was selected with (RFC 9111 §4.1).
func (s *Session) varyMatches(stored []byte) bool {
	c := s.cache
	for len(stored) > 0 {
		i := bytes.IndexByte(stored, 0)
		if i < 0 {
			return false
		}
		name := stored[:i]
		j := bytes.IndexByte(stored[i+1:], 0)
		if j < 0 {
			return false
		}
		rec := stored[:i+1+j+1]
		stored = stored[len(rec):]
		c.names = s.appendVaryValue(c.names[:0], name)
		if string(c.names) != string(rec) {
			return false
		}
	}
	return true
}

// cacheResponse sees a final response head: an unsafe method's non-error
// response invalidates its target; a GET's storable response is kept from
// here to its end.
func (s *Session) cacheResponse(resp *parser.Response) {
	c := s.cache
	if c == nil || len(c.key) == 0 {
		return
	}
	if c.invalidate {
		if resp.StatusCode < 400 {
			s.cfg.Cache.Delete(c.key)
		}
		return
	}
	if !c.store {
		return
	}
	req := &s.rp.Req
	c.vals = fieldValues(resp.Raw, resp.Headers, []byte("cache-control"), c.vals[:0])
	rcc := cache.ParseCacheControl(c.vals...)
	now := s.d.Now()
	t := cache.Times{Request: c.reqTime, Response: now}
	if v, ok := resp.Header("date"); ok {
		t.Date, _ = cache.ParseHTTPDate(v)
	}
	if v, ok := resp.Header("expires"); ok {
		t.ExpiresOK = true
		t.Expires, _ = cache.ParseHTTPDate(v) // invalid: zero, already expired
	}
	if v, ok := resp.Header("age"); ok {
		if n, ok := parseDecimal(ascii.TrimOWS(v)); ok {
			t.Age = n
		}
	}
	c.vals = fieldValues(resp.Raw, resp.Headers, []byte("vary"), c.vals[:0])
	c.vary = c.vary[:0]
	star := cache.VaryNames(c.vals, c.names[:0], func(name []byte) {
		vals := fieldValues(req.Raw, req.Headers, name, nil)
		c.vary = cache.AppendVaryValue(c.vary, name, vals)
	})
	x := cache.Exchange{
		GET: true, Request: c.reqCC, Authorization: c.auth,
		Status: resp.StatusCode, Response: rcc, Times: t,
		SetCookie: hasField(resp.Raw, resp.Headers, "set-cookie", ""), VaryStar: star,
	}
	if cache.Decide(x) != cache.Storable || s.respFrame == parser.FramingClose ||
		s.respFrame == parser.FramingLength && s.respRemain > int64(s.cfg.Cache.MaxObject()) {
		s.rec.Cache = CacheUncacheable
		s.cacheEnd(cache.NotStored) // the waiters need not wait for the body
		return
	}
	c.val = c.val[:0]
	etag, _ := resp.Header("etag")
	lastMod, _ := resp.Header("last-modified")
	c.val = append(append(c.val, etag...), lastMod...)
	c.ent = cache.Entry{
		Status: resp.StatusCode, Lifetime: cache.Lifetime(rcc, t), Times: t,
		Revalidate: rcc.MustRevalidate || rcc.ProxyRevalidate || rcc.SMaxAge != cache.Absent,
		NoCache:    rcc.NoCache,
		ETag:       c.val[:len(etag)], LastModified: c.val[len(etag):],
	}
	c.zstd = s.cacheCompressible(resp, rcc)
	c.head = parser.AppendResponseHead(c.head[:0], resp, &parser.ForwardResponse{
		Via: s.via, Unframe: true, Date: s.httpDate(), Skip: "age",
		VaryEncoding: c.zstd, // a hit may go zstd-encoded
	})
	c.body = c.body[:0]
	c.caching = true
}

// cacheBody keeps body bytes of a response being stored; past the store's
// object limit the response is not stored.
func (s *Session) cacheBody(b []byte) {
	c := s.cache
	if c == nil || !c.caching {
		return
	}
	if len(c.body)+len(b) > s.cfg.Cache.MaxObject() {
		s.cacheStop()
		return
	}
	c.body = append(c.body, b...)
}

// cacheStop gives up storing the current response (it left loop mode, or
// grew too big, or was cut).
func (s *Session) cacheStop() {
	if c := s.cache; c != nil && c.caching {
		c.caching = false
		c.body = c.body[:0]
		if cap(c.body) > 64<<10 {
			c.body = nil // an idle connection keeps no big buffer
		}
		s.rec.Cache = CacheUncacheable
		s.cacheEnd(cache.NotStored)
	}
}

// cacheDone stores the response that just ended.
func (s *Session) cacheDone() {
	c := s.cache
	if c == nil || !c.caching {
		return
	}
	c.caching = false
	c.ent.Vary, c.ent.Head, c.ent.Body = c.vary, c.head, c.body
	if c.zstd && s.cacheCompress() {
		return // stored off the loop
	}
	var stored bool
	c.buf, stored = s.cfg.Cache.Put(c.key, &c.ent, c.buf)
	s.cacheEnd(outcome(stored))
	c.ent = cache.Entry{}
	if cap(c.body) > 64<<10 {
		c.body = nil
	}
	if cap(c.buf) > 64<<10 {
		c.buf = nil
	}
}

// fieldValues appends to dst the values of every field line called name
// (lower-case) in a parsed head.
func fieldValues(raw []byte, hs []parser.Header, name []byte, dst [][]byte) [][]byte {
	for i := range hs {
		h := &hs[i]
		if n := raw[h.Name.Start:h.Name.End]; bytes.EqualFold(n, name) {
			dst = append(dst, raw[h.Value.Start:h.Value.End])
		}
	}
	return dst
}

// hasField reports whether a field called name is present, and, if value
// is not empty, has that value (ignoring case and surrounding whitespace).
func hasField(raw []byte, hs []parser.Header, name, value string) bool {
	for i := range hs {
		h := &hs[i]
		if n := raw[h.Name.Start:h.Name.End]; len(n) == len(name) && ascii.EqualFold(n, name) {
			v := ascii.TrimOWS(raw[h.Value.Start:h.Value.End])
			if value == "" || len(v) == len(value) && ascii.EqualFold(v, value) {
				return true
			}
		}
	}
	return false
}

// outcome is a flight's outcome for a Put that stored or did not.
func outcome(stored bool) cache.Outcome {
	if stored {
		return cache.Stored
	}
	return cache.NotStored
}
