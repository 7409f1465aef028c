package proxy

// Responses sluice gives as the final recipient of a request (not errors),
// and the fields it adds to what it forwards.

import (
	"github.com/sluiceproxy/sluice/parser"

	"github.com/sluiceproxy/sluice/internal/ascii"
)

// allowedMethods is the Allow field of sluice's own answers to OPTIONS and
// TRACE: the methods it forwards.
const allowedMethods = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, CONNECT"

// ErrTraceNotForwarded answers a TRACE whose Max-Forwards is 0: sluice is then
// its final recipient, and it does not echo requests (a reflected TRACE hands
// a page's cookies and credentials to a script: cross-site tracing).
var ErrTraceNotForwarded = &Error{405, "TRACE not echoed (Max-Forwards: 0)"}

// maxForwards applies RFC 9110 §7.6.2 to an OPTIONS or TRACE request: with
// Max-Forwards 0 sluice answers as the final recipient (OPTIONS: 200 with
// Allow; TRACE: 405) and reports true; otherwise the value is decremented
// for forwarding. Other methods, and a Max-Forwards that is not a number,
// leave the field alone.
func (s *Session) maxForwards() bool {
	req := &s.rp.Req
	if req.Method != parser.MethodOPTIONS && req.Method != parser.MethodTRACE {
		return false
	}
	v, ok := req.Header("Max-Forwards")
	if !ok {
		return false
	}
	n, ok := parseDecimal(ascii.TrimOWS(v))
	if !ok {
		return false
	}
	if n > 0 {
		s.fwdMaxForwards, s.setMaxForwards = n-1, true
		return false
	}
	s.extraHdr = append(s.extraHdr, "Allow: "+allowedMethods+"\r\n"...)
	if req.Method == parser.MethodTRACE {
		s.fail(ErrTraceNotForwarded)
		return true
	}
	s.respondSelf(200, "OK")
	return true
}

// respondSelf answers the current request with an empty response of sluice's
// own (not an error) and ends the exchange like a forwarded one.
func (s *Session) respondSelf(status int, reason string) {
	if !s.reqDone {
		s.closeAfter = true // the body is not read
	}
	if !s.rp.Req.KeepAlive() {
		s.closeAfter = true
	}
	s.out = append(s.out[:0], "HTTP/1.1 "...)
	s.out = appendInt(s.out, int64(status))
	s.out = append(s.out, ' ')
	s.out = append(s.out, reason...)
	s.out = append(s.out, "\r\nContent-Length: 0\r\nDate: "...)
	s.out = append(s.out, s.httpDate()...)
	s.out = append(s.out, "\r\n"...)
	s.out = append(s.out, s.extraHdr...)
	switch {
	case s.closeAfter || s.drain:
		s.out = append(s.out, "Connection: close\r\n"...)
	case s.rp.Req.ProtoMinor == 0:
		s.out = append(s.out, "Connection: keep-alive\r\n"...)
	}
	s.out = append(s.out, "\r\n"...)
	s.rec.Status = status
	s.toClient(s.out)
	s.clientSent = true
	s.finishRecord("")
	s.endExchange()
}

// parseDecimal parses 1*DIGIT (at most 18 digits).
func parseDecimal(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// httpDate returns the driver's clock as an IMF-fixdate (RFC 9110 §5.6.7),
// formatted at most once a second per session. Valid until the next call.
func (s *Session) httpDate() []byte {
	now := s.d.Now()
	if sec := now.Unix(); sec != s.dateSec || len(s.date) == 0 {
		s.dateSec = sec
		s.date = now.UTC().AppendFormat(s.date[:0], imfFixdate)
	}
	return s.date
}

// imfFixdate is the layout of HTTP dates ("Sun, 06 Nov 1994 08:49:37 GMT").
const imfFixdate = "Mon, 02 Jan 2006 15:04:05 GMT"
