package engine

import (
	"crypto/tls"
	"net"
	"time"

	"github.com/sluiceproxy/sluice/engine/eventloop"
	"github.com/sluiceproxy/sluice/proxy"
)

// TLS origination (proxy/tls.go): the session asks for an upstream with a
// server name (pool.Key), and the dial's goroutine, off the loop, connects,
// runs the TLS handshake and makes a bridge (tlsbridge_linux.go) whose
// plain end it enrolls on the loop like any dialed socket. The loop never
// runs TLS: not the handshake, not a record.

// newTLSConfig is the client configuration every origination starts from
// (Server.tlsBase): the configured roots (nil: the system's), TLS 1.2 at
// least, ALPN offering HTTP/1.1 only (the session speaks nothing else), and
// a session cache, so that a new connection to an origin seen lately
// resumes instead of running a full handshake.
func newTLSConfig(t proxy.TLSOrigination) *tls.Config {
	return &tls.Config{
		RootCAs:            t.RootCAs,
		MinVersion:         tls.VersionTLS12,
		NextProtos:         []string{"http/1.1"},
		ClientSessionCache: tls.NewLRUClientSessionCache(tlsSessionCache),
	}
}

// tlsSessionCache is how many origins' TLS sessions are kept for
// resumption (a few hundred bytes each).
const tlsSessionCache = 1024

// originate runs the TLS handshake with up's origin on conn, verifying its
// certificate for up.tlsName (a DNS name, sent as SNI, or an IP literal,
// checked against the certificate's IP addresses and not sent), within the
// connect timeout, and returns the loop's end of a bridge to it. On error
// conn is closed, and a handshake's error is a *proxy.UpstreamTLSError.
func (s *Server) originate(conn *net.TCPConn, up *upConn) (eventloop.Conn, error) {
	cfg := s.tlsBase.Clone()
	cfg.ServerName = up.tlsName
	tc := tls.Client(conn, cfg)
	_ = conn.SetDeadline(time.Now().Add(s.cfg.ConnectTimeout))
	if err := tc.Handshake(); err != nil {
		conn.Close()
		s.ctr.tlsErrors.Add(1)
		s.cfg.Logger.Warn("upstream TLS handshake failed", "host", up.host, "upstream", up.addr.String(), "err", err)
		return nil, &proxy.UpstreamTLSError{Err: err}
	}
	_ = conn.SetDeadline(time.Time{})
	s.ctr.tlsHandshakes.Add(1)
	c, err := s.newTLSBridge(tc)
	if err != nil {
		conn.Close()
		return nil, err
	}
	up.bridged = true
	return c, nil
}
