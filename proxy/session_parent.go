package proxy

import (
	"strconv"

	"github.com/sluiceproxy/sluice/parser"
	"github.com/sluiceproxy/sluice/policy"
)

// Parent proxies (policy.Rule.Via). A request a rule with via allows is
// decided by sluice's policy as any other, then sent through the parent:
// the parent's name is resolved and dialed instead of the destination's
// (its addresses are configuration, not the request's: the address guard
// does not apply to them), connections to it are pooled like any upstream,
// an HTTP request goes to it in absolute form with the parent's credentials
// in Proxy-Authorization, and a CONNECT is chained: sluice sends the
// parent a CONNECT to the destination and starts the tunnel once the
// parent answers 2xx. A parent that cannot be reached, or refuses, is a
// 502 whose sluice-error names it.

// dialPort is the port connections for the request go to: the parent's,
// or the destination's.
func (s *Session) dialPort() uint16 {
	if v := s.decision.Via; v != nil {
		return v.Port
	}
	return s.port
}

// parentAuth is the Proxy-Authorization value for the parent, if any.
func (s *Session) parentAuth() string {
	if v := s.decision.Via; v != nil {
		return v.Authorization
	}
	return ""
}

// parentError is err, a failure to reach parent, as the client is told it.
func parentError(parent *policy.Parent, err error) error {
	_, detail := errorResponse(err)
	return &Error{502, "parent proxy " + parent.Authority + ": " + detail}
}

// parentConnect sends the parent the CONNECT for the tunnel; its answer is
// read as a response head (parentAnswered).
func (s *Session) parentConnect() {
	v := s.decision.Via
	s.upAttached = true
	s.upGotBytes = false
	s.phase = respHead
	s.respP.Reset()
	s.st = stExchange
	s.parentWait = true
	s.out = append(append(s.out[:0], s.hostLower...), ':')
	s.out = strconv.AppendUint(s.out, uint64(s.port), 10)
	n := len(s.out)
	s.out = appendConnectHead(s.out, s.out[:n], v.Authorization)
	s.d.WriteUpstream(s.out[n:])
	s.d.SetTimer(s.cfg.ResponseTimeout)
}

// appendConnectHead appends a CONNECT request head for authority, with
// Proxy-Authorization auth unless it is empty. authority may be a prefix
// of dst: appending never writes over it.
func appendConnectHead(dst, authority []byte, auth string) []byte {
	dst = append(dst, "CONNECT "...)
	dst = append(dst, authority...)
	dst = append(dst, " HTTP/1.1\r\nHost: "...)
	dst = append(dst, authority...)
	dst = append(dst, "\r\n"...)
	if auth != "" {
		dst = append(dst, "Proxy-Authorization: "...)
		dst = append(dst, auth...)
		dst = append(dst, "\r\n"...)
	}
	return append(dst, "\r\n"...)
}

// parentAnswered takes the parent's answer to the CONNECT: 2xx starts the
// tunnel (with what the parent sent after its head), anything else is a
// 502 naming the parent's status.
func (s *Session) parentAnswered(resp *parser.Response, n int) int {
	s.parentWait = false
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		s.abortUpstream(&Error{502, "parent proxy " + s.decision.Via.Authority + " refused the CONNECT: " + strconv.Itoa(resp.StatusCode)})
		return n
	}
	s.upAttached = false
	s.rec.Tunnel = true
	s.st = stTunnel
	s.d.SetTimer(0)
	if s.peeked {
		s.d.Tunnel(nil) // answered 200 before the peek, or a transparent tunnel
		return n
	}
	s.rec.Status = 200
	s.rec.BytesOut += int64(len(connectEstablished))
	s.d.Tunnel(connectEstablished)
	return n
}
