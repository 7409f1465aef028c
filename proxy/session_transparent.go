package proxy

import (
	"net/netip"
	"strconv"

	"github.com/sluiceproxy/sluice/parser"
)

// Transparent interception (Config.TransparentListen). A connection that
// iptables redirected to sluice carries its original destination
// (SO_ORIGINAL_DST) and no proxy protocol: sluice sniffs its first bytes
// (parser.Sniff) and routes it by what it carries.
//
//   - An HTTP/1.x request is handled as any request, its destination from
//     its Host (whose port defaults to the original destination's port, not
//     80), or the original destination when it has no Host.
//   - A TLS ClientHello is routed by its server name (SNI) to that name at
//     the original destination's port: the name is resolved and checked by
//     the same policy as a CONNECT to it (host rules, the address guard, rate
//     limits), then the connection becomes a tunnel that carries the
//     client's bytes, the ClientHello first, unchanged. Without a server
//     name, the tunnel goes to the original destination address, if the
//     policy allows that address.
//   - Anything else is tunnelled to the original destination address, if
//     the policy allows it.
//
// A tunnel is decided as the CONNECT it stands for would be: the session
// reads a CONNECT head it writes itself, so every check of the CONNECT path
// applies. A refused one closes the connection without an answer (the
// client does not speak HTTP); the access log records it with the method
// TLS or TCP, the server name or address as host, and the resolved address
// and bytes each way as for a CONNECT.

// Record.Method values of transparent tunnels.
var (
	methodTLS = []byte("TLS")
	methodTCP = []byte("TCP")
)

// Transparent makes the session's connection one the transparent listener
// accepted, whose original destination was orig: its first bytes decide
// what it is (sniff). Call it right after Init.
func (s *Session) Transparent(orig netip.AddrPort) {
	s.orig = orig
	s.transparent = true
	s.st = stSniff
	s.d.SetTimer(s.cfg.HeadTimeout)
}

// origPort is the port a Host without one means on this connection: the
// original destination's, unless the connection came to sluice itself.
func (s *Session) origPort() int {
	if s.isSelf(s.orig) {
		return 80
	}
	return int(s.orig.Port())
}

// sniff classifies the first bytes of a transparent connection; it returns
// how many it consumed (a tunnel consumes none: they go to the upstream).
func (s *Session) sniff(b []byte) int {
	switch parser.Sniff(b) {
	case parser.SniffMore:
		return 0
	case parser.SniffHTTP1:
		s.st = stIdle
		return s.readHead(b)
	case parser.SniffTLS:
		name, done, err := parser.ClientHelloSNI(b)
		if err == nil && !done {
			return 0 // the rest of the ClientHello (bounded by HeadTimeout)
		}
		var host []byte
		if err == nil && len(name) > 0 {
			host = name
		}
		s.transparentTunnel(host, methodTLS)
	default:
		s.transparentTunnel(nil, methodTCP)
	}
	return 0
}

// transparentTunnel decides the tunnel to host (nil: the original
// destination address) at the original destination's port, as the CONNECT
// to it would be decided.
func (s *Session) transparentTunnel(host []byte, method []byte) {
	s.transMethod = method
	authority := s.synth[:0]
	if host != nil {
		authority = append(authority, host...)
	} else if a := s.orig.Addr().Unmap(); a.Is6() {
		authority = append(a.AppendTo(append(authority, '[')), ']')
	} else {
		authority = a.AppendTo(authority)
	}
	authority = append(authority, ':')
	authority = strconv.AppendUint(authority, uint64(s.orig.Port()), 10)
	n := len(authority)
	head := appendConnectHead(authority, authority[:n], "")
	s.synth = head
	s.peeked = true // nothing to peek: no 200 is sent, the bytes go as they came
	s.st = stIdle
	s.readHead(head[n:])
}
