package proxy

// CONNECT to an HTTP port (policy.Config.ConnectHTTPPorts, 80 by default).
// Node's undici ProxyAgent and the common WebSocket proxy agents tunnel plain
// http:// and ws:// through CONNECT. A blind tunnel would let such a client
// pass method rules, upgrade rules and every per-request control, so sluice
// answers 200 at once, sniffs the first bytes (parser.Sniff, which the
// transparent listener can share), and:
//
//   - an HTTP/1.x request: the connection becomes bound to the CONNECT's
//     destination, and each request inside is handled like an origin-form
//     request to it, with the CONNECT's authenticated user: rate limits,
//     destination rules (with its method), upgrade rules, access log and
//     metrics, per request;
//   - anything else (TLS, another protocol): tunnelled as usual only where
//     the port is also a raw CONNECT port (ConnectPortAllowed); otherwise the
//     connection closes.

import (
	"github.com/sluiceproxy/sluice/parser"

	"github.com/sluiceproxy/sluice/internal/ascii"
)

// ErrRawTunnelDenied ends a CONNECT to an HTTP port whose bytes are not HTTP,
// where raw tunnels to that port are not allowed. The client is not answered
// (it already got 200 and does not speak HTTP): the connection closes, and
// the detail goes to the access log.
var ErrRawTunnelDenied = &Error{403, "raw tunnel to this port denied: not HTTP"}

// ErrBoundDestination refuses a request inside a CONNECT-bound connection that
// names another destination than the CONNECT.
var ErrBoundDestination = &Error{403, "request names another destination than its CONNECT"}

// boundTo is the CONNECT a connection is bound to. Owned by the session;
// immutable once made.
type boundTo struct {
	host      []byte // lower case
	port      uint16
	authority []byte // the CONNECT's authority, the Host to forward when a request has none
	user      []byte // the CONNECT's authenticated user
	userName  string
}

// connectHTTPPort reports whether a CONNECT to port carries inspected HTTP.
func (s *Session) connectHTTPPort(port uint16) bool {
	if p := s.pol; p != nil {
		return p.ConnectHTTPPort(port)
	}
	return port == 80
}

// connectRawAllowed reports whether a CONNECT to port may be a raw tunnel.
func (s *Session) connectRawAllowed(port uint16) bool {
	if p := s.pol; p != nil {
		return p.ConnectPortAllowed(port)
	}
	return s.connectPortAllowed(port)
}

// startPeek answers a CONNECT to an HTTP port and waits for its first bytes.
func (s *Session) startPeek() {
	s.toClient(connectEstablished)
	s.rec.Status = 200
	s.rec.BytesOut += int64(len(connectEstablished))
	s.clientSent = true // from here a failure closes the connection
	s.st = stPeek
	s.d.SetTimer(s.cfg.HeadTimeout)
}

// peek classifies the first bytes after the 200; it returns how many it
// consumed.
func (s *Session) peek(b []byte) int {
	switch parser.Sniff(b) {
	case parser.SniffMore:
		return 0
	case parser.SniffHTTP1:
		s.bindTo()
		return s.readHead(b)
	}
	if !s.connectRawAllowed(s.port) {
		s.rec.Status = ErrRawTunnelDenied.Status
		s.finishRecord(ErrRawTunnelDenied.Detail)
		s.closeClient()
		return 0
	}
	// A raw tunnel after all: resolve, connect, and relay what the client
	// sent (left unconsumed) once the tunnel starts.
	s.peeked = true
	s.lookup()
	return 0
}

// bindTo makes the CONNECT's destination the fixed destination of every
// request that follows on this connection, and ends the CONNECT's record.
func (s *Session) bindTo() {
	s.bound = &boundTo{
		host:      append([]byte(nil), s.hostLower...),
		port:      s.port,
		authority: append([]byte(nil), s.authority...),
		user:      append([]byte(nil), s.user...),
		userName:  s.rec.User,
	}
	s.finishRecord("")
	s.st = stIdle
	s.resetRequest()
}

// boundTarget routes a request inside a CONNECT-bound connection: always to
// the CONNECT's destination. An absolute-form target must name it too. The
// forwarded Host is the request's own, else the CONNECT authority.
func (s *Session) boundTarget(req *parser.Request) error {
	if req.Method == parser.MethodCONNECT {
		return ErrBoundDestination
	}
	if req.Form == parser.FormAbsolute {
		port := req.Port
		if port == 0 {
			port = 80
		}
		h := ascii.AppendLower(s.hostLower[:0], req.Bytes(req.Host))
		if string(h) != string(s.bound.host) || uint16(port) != s.bound.port {
			return ErrBoundDestination
		}
	}
	b := s.bound
	s.hostLower = append(s.hostLower[:0], b.host...)
	s.port = b.port
	s.authority = b.authority
	if req.HostIndex >= 0 {
		s.authority = req.Bytes(req.Headers[req.HostIndex].Value)
	}
	s.rewritten = true // the destination is fixed: no rewrite header applies
	s.user = append(s.user[:0], b.user...)
	s.rec.User = b.userName
	s.rec.Scheme = "http"
	return nil
}
