package proxy

// The response side of an exchange: response heads, body relay, the end of
// an exchange, and an upstream that closes.

import (
	"errors"
	"io"

	"github.com/sluiceproxy/sluice/parser"
)

// UpstreamData offers the upstream's buffered bytes; it returns how many it
// consumed. Bytes that arrive when no response is expected make the upstream
// connection unusable.
func (s *Session) UpstreamData(b []byte) int {
	if s.streaming {
		return 0
	}
	if s.st != stExchange || !s.upAttached {
		return len(b)
	}
	if !s.upGotBytes && s.rec.TTFB == 0 {
		s.rec.TTFB = s.d.Now().Sub(s.rec.Start)
	}
	s.upGotBytes = true
	if s.phase == respBody {
		// Only body bytes keep an exchange alive: interim responses (1xx)
		// do not stop the clock of ResponseTimeout, which runs until the
		// final response head.
		s.active = true
	}
	used := 0
	for used < len(b) && s.st == stExchange && s.upAttached && !s.streaming {
		var n int
		if s.phase == respHead {
			n = s.readResponseHead(b[used:])
			if n == 0 {
				break
			}
		} else {
			n = s.relayBody(b[used:])
		}
		used += n
	}
	return used
}

func (s *Session) readResponseHead(b []byte) int {
	n, err := s.respP.Parse(b)
	if err != nil {
		s.abortUpstream(ErrUpstreamProtocol)
		return len(b)
	}
	if n == 0 {
		return 0
	}
	resp := &s.respP.Resp
	req := &s.rp.Req
	if s.parentWait && resp.StatusCode >= 200 {
		return s.parentAnswered(resp, n)
	}
	if resp.StatusCode < 200 {
		if resp.StatusCode == 101 {
			if !req.ConnUpgrade || !s.reqDone {
				// RFC 9110 §15.2.2: 101 only answers a request with Upgrade.
				s.abortUpstream(ErrUpstreamProtocol)
				return len(b)
			}
			if !s.upgradeAllowed(resp.Raw, resp.Headers) {
				// The origin switched to a protocol the policy does
				// not allow (not the one the client asked for).
				s.abortUpstream(ErrUpstreamProtocol)
				return len(b)
			}
			// The protocol switches: from here both connections carry the
			// new protocol's bytes, relayed as a tunnel.
			s.out = parser.AppendResponseHead(s.out[:0], resp, &parser.ForwardResponse{Via: s.via, Upgrade: true})
			s.rec.Status = 101
			s.rec.Tunnel = true
			s.rec.BytesOut += int64(len(s.out))
			s.upAttached = false
			s.st = stTunnel
			s.d.SetTimer(0)
			s.d.Tunnel(s.out)
			return n
		}
		// A flood of interim responses would be relayed forever: past
		// MaxInterim the upstream is broken (Go's Transport allows 5).
		if s.interim++; s.interim > MaxInterim {
			s.abortUpstream(ErrTooManyInterim)
			return len(b)
		}
		// RFC 9110 §15.2: a 1xx is forwarded, except to an HTTP/1.0 client.
		if req.ProtoMinor >= 1 {
			s.out = parser.AppendResponseHead(s.out[:0], resp, &parser.ForwardResponse{Via: s.via})
			s.toClient(s.out)
		}
		s.respP.Reset()
		return n
	}
	if !s.connAuth && s.responseConnAuth() {
		s.connAuth = true
	}
	s.respFrame, s.respRemain = parser.ResponseFraming(req.Method, resp)
	if s.respFrame == parser.FramingTunnel {
		s.abortUpstream(ErrUpstreamProtocol)
		return len(b)
	}
	s.respChunks.Reset()
	s.closeAfter = s.closeAfter || s.drain || !req.KeepAlive() || !s.reqDone ||
		s.respFrame == parser.FramingClose
	if s.cacheRevalidated(resp) {
		// The 304 went no further: the client got the stored response
		// (or, if it was corrupt, an error that ended the exchange).
		if s.upAttached {
			s.responseDone(n == len(b))
		}
		return n
	}
	s.cacheResponse(resp)
	if s.compressStart(resp) {
		return n
	}
	fr := parser.ForwardResponse{Via: s.via, Date: s.httpDate()}
	if s.respFrame == parser.FramingChunked && req.ProtoMinor == 0 {
		// RFC 9112 §7: no chunked to an HTTP/1.0 client; the end of the body
		// is then signalled by closing the connection.
		s.unframe = true
		s.closeAfter = true
		fr.Unframe = true
	}
	if s.closeAfter {
		fr.Close = true
	} else if req.ProtoMinor == 0 {
		fr.KeepAlive = true
	}
	s.out = parser.AppendResponseHead(s.out[:0], resp, &fr)
	s.rec.Status = resp.StatusCode
	s.toClient(s.out)
	s.clientSent = true
	s.phase = respBody
	s.d.SetTimer(s.cfg.IdleTimeout)
	if s.respFrame == parser.FramingNone || (s.respFrame == parser.FramingLength && s.respRemain == 0) {
		s.responseDone(n == len(b))
	}
	return n
}

// relayBody forwards response body bytes from b; it returns how many it used.
func (s *Session) relayBody(b []byte) int {
	switch s.respFrame {
	case parser.FramingLength:
		k := len(b)
		if int64(k) > s.respRemain {
			k = int(s.respRemain)
		}
		if s.compressing() {
			s.compressBody(b[:k])
		} else {
			s.toClient(b[:k])
		}
		s.cacheBody(b[:k])
		s.respRemain -= int64(k)
		if s.respRemain == 0 {
			s.responseDone(k == len(b))
		} else {
			s.maybeStream(true)
		}
		return k
	case parser.FramingChunked:
		used := 0
		for used < len(b) {
			n, data, done, err := s.respChunks.Decode(b[used:])
			if err != nil {
				s.abortUpstream(ErrUpstreamProtocol)
				return len(b)
			}
			if n == 0 {
				break
			}
			if s.unframe {
				if len(data) > 0 {
					s.toClient(data)
				}
			} else {
				s.toClient(b[used : used+n])
			}
			s.cacheBody(data)
			used += n
			if done {
				s.responseDone(used == len(b))
				return used
			}
		}
		s.maybeStream(true)
		return used
	case parser.FramingClose:
		s.toClient(b)
		s.maybeStream(true)
		return len(b)
	}
	return len(b)
}

// responseDone ends the exchange after a complete response. clean is false when
// the upstream sent bytes beyond the response, which makes it unusable.
func (s *Session) responseDone(clean bool) {
	if s.compressing() {
		s.compressDone()
	}
	s.cacheDone()
	resp := &s.respP.Resp
	reusable := clean && s.reqDone && !resp.ConnClose && s.respFrame != parser.FramingClose &&
		(resp.ProtoMinor >= 1 || resp.ConnKeepAlive)
	s.upAttached = false
	switch {
	case reusable && (s.connAuth || s.pinned && s.upKey == s.pinKey):
		// Connection-bound authentication (session_guard.go): the
		// connection stays this client's alone.
		s.pinned, s.pinKey = true, s.upKey
		s.d.PinUpstream()
	default:
		if s.pinned && s.upKey == s.pinKey {
			s.pinned = false
		}
		s.d.ReleaseUpstream(reusable)
	}
	s.finishRecord("")
	s.endExchange()
}

// endExchange returns to reading the next request, or closes the client.
func (s *Session) endExchange() {
	if s.closeAfter || s.drain {
		s.closeClient()
		return
	}
	s.st = stIdle
	s.resetRequest()
	s.d.SetTimer(s.cfg.IdleTimeout)
}

// UpstreamClosed reports that the attached upstream connection closed (EOF or
// error). The driver has already forgotten the connection.
func (s *Session) UpstreamClosed(err error) {
	if !s.upAttached {
		return
	}
	s.upAttached = false
	switch {
	case s.st != stExchange:
	case s.phase == respBody && s.respFrame == parser.FramingClose:
		s.finishRecord("") // the close ends a close-delimited body
		s.endExchange()
	case s.phase == respHead && !s.upGotBytes && s.upReused && !s.retried &&
		s.rp.Req.Method.Idempotent() && s.reqFrame == parser.FramingNone:
		// A reused connection closed before any response byte: the upstream
		// may have timed it out as we picked it. Retry once on a fresh
		// connection, as Go's Transport does for idempotent requests.
		s.retried = true
		s.connect(true)
	case s.phase == respHead && !s.clientSent:
		if err == nil || errors.Is(err, io.EOF) {
			s.fail(ErrUpstreamClosed)
		} else {
			s.fail(ErrUpstreamReset)
		}
	default:
		s.closeClient() // the response was cut: the client sees the connection close
	}
}

// abortUpstream drops the upstream connection after a protocol error and
// answers the client if nothing of the response was sent yet.
func (s *Session) abortUpstream(err error) {
	s.dropUpstream()
	if s.clientSent {
		s.closeClient()
		return
	}
	s.fail(err)
}
