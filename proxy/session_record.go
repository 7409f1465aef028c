package proxy

// Observation: the Record of each request, for Config.Observer.

import (
	"github.com/sluiceproxy/sluice/parser"
)

// toClient writes b to the client, counting it.
func (s *Session) toClient(b []byte) {
	s.rec.BytesOut += int64(len(b))
	s.d.WriteClient(b)
}

// beginRecord starts the record of a request whose head (n bytes) is complete.
func (s *Session) beginRecord(n int) {
	if s.cfg.Observer == nil {
		return
	}
	req := &s.rp.Req
	s.rec = Record{
		Start:   s.d.Now(),
		Client:  s.client,
		Method:  req.Bytes(req.MethodName),
		BytesIn: int64(n),
		Proto:   "HTTP/1.1",
	}
	if req.ProtoMinor == 0 {
		s.rec.Proto = "HTTP/1.0"
	}
	if s.transMethod != nil {
		// A transparent tunnel: the CONNECT head is sluice's own.
		s.rec.Method, s.rec.BytesIn, s.rec.Proto = s.transMethod, 0, ""
	}
	if req.Form == parser.FormAbsolute {
		s.rec.Scheme = "http"
		if req.Scheme == parser.SchemeHTTPS {
			s.rec.Scheme = "https"
		}
	}
	if req.Form == parser.FormAbsolute || req.Form == parser.FormOrigin {
		s.rec.Path = req.Bytes(req.Path)
		if len(s.rec.Path) == 0 {
			s.rec.Path = slash
		}
	}
	s.recOpen = true
}

var slash = []byte("/")

// finishRecord hands the current request's record to the observer, once.
// A tunnel's record is finished by the driver when the tunnel ends.
func (s *Session) finishRecord(errDetail string) {
	if !s.recOpen {
		return
	}
	s.recOpen = false
	if s.rec.Error == "" {
		s.rec.Error = errDetail
	}
	s.rec.Duration = s.d.Now().Sub(s.rec.Start)
	s.rec.Shard = s.shard
	s.cfg.Observer.Observe(&s.rec)
}

// TunnelRecord returns the record of the request that became a tunnel, for
// the driver to complete (bytes, duration) and observe when the tunnel ends.
// It reports false when nothing is being recorded.
func (s *Session) TunnelRecord() (Record, bool) {
	if !s.recOpen {
		return Record{}, false
	}
	s.recOpen = false
	s.rec.Shard = s.shard
	return s.rec, true
}
