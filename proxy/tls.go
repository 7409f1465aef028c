package proxy

import (
	"crypto/x509"
	"slices"

	"github.com/sluiceproxy/sluice/parser"
)

// TLS origination: plain HTTP from the client, verified TLS to the origin
// (DESIGN.md, Sidecar). The session decides which requests it applies to,
// after the policy: those the deciding rule marks (policy.Rule.UpstreamTLS)
// and those to one of TLSOrigination.Ports. It then asks the driver for an
// upstream keyed by address and server name (pool.Key), which the driver
// dials, handshakes and pools off the loop; the session sees a plain byte
// stream either way. An https absolute-form request (which clients send
// only to a proxy they expect to originate TLS) is refused with
// ErrTLSOrigination unless origination covers it.

// TLSOrigination configures TLS origination. The zero value originates
// only for the requests a policy rule marks, and verifies origins against
// the system roots.
type TLSOrigination struct {
	// Ports are destination ports whose requests go out over TLS,
	// whatever their rule: http://host:443/ and https://host/ (absolute
	// form) with 443 here. Empty: only rules originate TLS.
	Ports []uint16
	// RootCAs verifies the origins' certificates; nil means the system
	// roots.
	RootCAs *x509.CertPool
}

// covers reports whether port is one of Ports.
func (t *TLSOrigination) covers(port uint16) bool { return slices.Contains(t.Ports, port) }

// originate decides whether the current request goes to its origin over
// TLS, and for which server name: the destination host (an IP literal is
// not sent as SNI but verified against the certificate's IP addresses).
// A CONNECT tunnel never is, nor a request sent through a parent proxy
// (policy.Rule.Via: sluice's connection is to the parent, in plain HTTP).
// An https absolute-form request that origination does not cover fails
// with ErrTLSOrigination: originate then reports false.
func (s *Session) originate() bool {
	s.upTLS = false
	if s.tunnel {
		return true
	}
	if s.decision.Via != nil || !s.decision.UpstreamTLS && !s.cfg.TLSOrigination.covers(s.port) {
		req := &s.rp.Req
		if req.Form == parser.FormAbsolute && req.Scheme == parser.SchemeHTTPS {
			s.fail(ErrTLSOrigination)
			return false
		}
		return true
	}
	s.upTLS = true
	name := s.hostLower
	if n := len(name); n > 1 && name[n-1] == '.' {
		name = name[:n-1] // RFC 6066 §3: SNI has no trailing dot
	}
	if s.tlsName != string(name) {
		s.tlsName = string(name)
	}
	return true
}
