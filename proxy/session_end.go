package proxy

// How requests and sessions end early: client close, timers, aborts, and
// sluice's own error responses.

import (
	"strconv"

	"github.com/sluiceproxy/sluice/cache"
	"github.com/sluiceproxy/sluice/parser"
)

// ClientClosed reports that the client connection closed.
func (s *Session) ClientClosed() {
	if s.st != stTunnel {
		s.finishRecord(DetailClientClosed)
	}
	s.cacheEnd(cache.Failed)
	s.dropUpstream()
	s.st = stClosed
	s.gen++
	s.d.SetTimer(0)
}

// Timeout is the session's timer firing.
func (s *Session) Timeout() {
	switch s.st {
	case stIdle:
		s.closeClient()
	case stHead:
		s.closeAfter = true
		s.fail(ErrHeadTimeout)
	case stPeek:
		s.finishRecord(ErrHeadTimeout.Detail)
		s.closeClient()
	case stSniff:
		s.closeClient() // nothing, or not enough to route, came in time
	case stCacheWait:
		// The leader took too long (Config.CacheLockTimeout): go on alone.
		s.cacheResume()
	case stAuth:
		// The verifier's queue is bounded, but a credential must not wait
		// on it longer than a request head may take to arrive.
		s.fail(ErrAuthTimeout)
	case stConnecting:
		// Only the total budget arms the timer here: each dial reports
		// its own timeout through ConnectFailed.
		s.fail(ErrConnectBudget)
	case stExchange:
		// Data moving in either direction keeps the exchange alive; a silent
		// upstream is given ResponseTimeout (IdleTimeout once the body flows).
		if s.active {
			s.active = false
			if s.phase == respHead && s.reqDone {
				s.d.SetTimer(s.cfg.ResponseTimeout)
			} else {
				s.d.SetTimer(s.cfg.IdleTimeout)
			}
			return
		}
		s.abortUpstream(ErrResponseTimeout)
	}
}

// Abort ends the session at once (the driver's buffer cap was exceeded).
func (s *Session) Abort() {
	s.dropUpstream()
	s.closeClient()
}

// fail answers the current request with the response err maps to. The client
// connection stays open only when the request was read entirely and nothing
// of a response was sent.
func (s *Session) fail(err error) {
	s.dropUpstream()
	if s.clientSent {
		s.closeClient()
		return
	}
	if !s.reqDone {
		s.closeAfter = true
	}
	keepAlive10 := false
	if s.haveHead {
		// RFC 9112 §9.6: a client that asked to close (Connection: close,
		// or HTTP/1.0 without keep-alive) is answered with Connection:
		// close and the connection closes after the response, as it does
		// for forwarded responses; an HTTP/1.0 keep-alive client is told
		// the connection stays open.
		if !s.rp.Req.KeepAlive() {
			s.closeAfter = true
		} else if s.rp.Req.ProtoMinor == 0 && !s.closeAfter && !s.drain {
			keepAlive10 = true
		}
	}
	status, detail := errorResponse(err)
	s.rec.Status = status
	if s.transMethod != nil {
		// A transparent tunnel refused: its client does not speak HTTP.
		s.finishRecord(detail)
		s.closeClient()
		return
	}
	if keepAlive10 {
		s.extraHdr = append(s.extraHdr, "Connection: keep-alive\r\n"...)
	}
	if status == 407 && s.pol != nil {
		s.extraHdr = append(s.extraHdr, "Proxy-Authenticate: Basic realm=\""...)
		s.extraHdr = append(s.extraHdr, s.pol.Realm()...)
		s.extraHdr = append(s.extraHdr, "\"\r\n"...)
	}
	// RFC 9110 §9.3.2: a response to HEAD has no content.
	head := s.haveHead && s.rp.Req.Method == parser.MethodHEAD
	s.out = appendErrorResponse(s.out[:0], status, detail, s.closeAfter || s.drain, head, s.extraHdr, s.httpDate())
	s.toClient(s.out)
	s.clientSent = true
	s.finishRecord(detail)
	s.endExchange()
}

// dropUpstream closes the attached or dialing upstream connection, if any.
func (s *Session) dropUpstream() {
	if s.upAttached || s.upPending {
		s.upAttached = false
		s.upPending = false
		s.d.ReleaseUpstream(false)
	}
}

func (s *Session) closeClient() {
	if s.st == stClosed {
		return
	}
	s.finishRecord(DetailCutResponse)
	s.cacheEnd(cache.Failed)
	s.st = stClosed
	s.gen++
	s.d.SetTimer(0)
	s.d.CloseClient()
}

// connectEstablished answers a CONNECT whose tunnel is open (RFC 9110 §9.3.6).
var connectEstablished = []byte("HTTP/1.1 200 Connection established\r\n\r\n")

// appendErrorResponse writes sluice's own response for a failure: a short text
// body and the detail in a sluice-error field.
// With headOnly (a HEAD request) the body is left out.
// extra holds whole header lines to add ("Name: value\r\n"); date is the
// Date field's value (RFC 9110 §6.6.1).
func appendErrorResponse(dst []byte, status int, detail string, close, headOnly bool, extra, date []byte) []byte {
	text := statusText(status)
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendInt(dst, int64(status), 10)
	dst = append(dst, ' ')
	dst = append(dst, text...)
	dst = append(dst, "\r\nContent-Type: text/plain; charset=utf-8\r\nsluice-error: "...)
	dst = append(dst, detail...)
	dst = append(dst, "\r\nContent-Length: "...)
	dst = strconv.AppendInt(dst, int64(len(text)+len(detail)+3), 10)
	dst = append(dst, "\r\nDate: "...)
	dst = append(dst, date...)
	if close {
		dst = append(dst, "\r\nConnection: close"...)
	}
	dst = append(dst, "\r\n"...)
	dst = append(dst, extra...)
	dst = append(dst, "\r\n"...)
	if headOnly {
		return dst
	}
	dst = append(dst, text...)
	dst = append(dst, ": "...)
	dst = append(dst, detail...)
	dst = append(dst, '\n')
	return dst
}
