package proxy

// Per-request guards that are neither routing nor relaying: connection-
// oriented authentication (pinning), and Upgrade as a policy decision.

import (
	"github.com/sluiceproxy/sluice/internal/ascii"
	"github.com/sluiceproxy/sluice/parser"
	"github.com/sluiceproxy/sluice/policy"
)

// Connection-oriented authentication (NTLM, Negotiate: RFC 4559) makes an
// upstream connection belong to whoever authenticated on it: the origin
// treats every later request on that connection as the authenticated user.
// Pooled reuse would hand alice's connection to the next client (a red-team
// finding: 3 of 6 anonymous clients got "hello alice"). So an exchange that
// carries such a credential or challenge pins its upstream connection to the
// client connection (Squid pins it; HAProxy marks it private): it never
// enters the shared pool, only this client's requests to the same address
// reuse it, and it closes with the client.

// connAuthSchemes are the authentication schemes bound to a connection.
var connAuthSchemes = []string{"ntlm", "negotiate"}

// isConnAuth reports whether a credentials or challenge value (Authorization,
// WWW-Authenticate) uses a connection-bound scheme. Only the first
// challenge's scheme is looked at in a list; the rest are found by scanning
// for the scheme names after commas.
func isConnAuth(v []byte) bool {
	for len(v) > 0 {
		v = ascii.TrimOWS(v)
		for _, s := range connAuthSchemes {
			if len(v) >= len(s) && ascii.EqualFold(v[:len(s)], s) &&
				(len(v) == len(s) || v[len(s)] == ' ' || v[len(s)] == ',') {
				return true
			}
		}
		i := 0
		for i < len(v) && v[i] != ',' {
			i++
		}
		if i == len(v) {
			return false
		}
		v = v[i+1:]
	}
	return false
}

// anyHeader reports whether any field named name satisfies f.
func anyHeader(raw []byte, hs []parser.Header, name string, f func([]byte) bool) bool {
	for i := range hs {
		h := &hs[i]
		if h.Name.Len() == len(name) && ascii.EqualFold(raw[h.Name.Start:h.Name.End], name) &&
			f(raw[h.Value.Start:h.Value.End]) {
			return true
		}
	}
	return false
}

// requestConnAuth reports whether the request carries a connection-bound
// credential.
func (s *Session) requestConnAuth() bool {
	req := &s.rp.Req
	return anyHeader(req.Raw, req.Headers, "Authorization", isConnAuth)
}

// responseConnAuth reports whether the final response challenges for a
// connection-bound scheme.
func (s *Session) responseConnAuth() bool {
	resp := &s.respP.Resp
	if resp.StatusCode != 401 {
		return false
	}
	return anyHeader(resp.Raw, resp.Headers, "WWW-Authenticate", isConnAuth)
}

// Upgrade (RFC 9110 §7.8) turns an HTTP exchange into a tunnel the proxy no
// longer reads: a client allowed only GET could switch to h2c and send any
// method inside it (h2c smuggling). So the protocols a request may switch to
// are a policy decision (policy.Decision.AllowsUpgrade): websocket by
// default, nothing else unless a rule allows it, nothing at all under a rule
// that restricts methods without naming upgrades. Without a Policy, only
// websocket.

// ErrUpgradeDenied refuses a request asking to switch to a protocol the
// policy does not allow.
var ErrUpgradeDenied = &Error{403, "upgrade to this protocol denied by policy"}

// upgradeAllowed reports whether every protocol in the Upgrade field values
// of h (a request's or a 101 response's) is allowed.
func (s *Session) upgradeAllowed(raw []byte, hs []parser.Header) bool {
	ok := true
	anyHeader(raw, hs, "Upgrade", func(v []byte) bool {
		for len(v) > 0 {
			i := 0
			for i < len(v) && v[i] != ',' {
				i++
			}
			proto := ascii.TrimOWS(v[:i])
			if len(proto) > 0 && !s.allowsUpgrade(proto) {
				ok = false
				return true // stop
			}
			if i == len(v) {
				break
			}
			v = v[i+1:]
		}
		return false
	})
	return ok
}

func (s *Session) allowsUpgrade(proto []byte) bool {
	if s.pol == nil {
		return policy.DefaultDecision().AllowsUpgrade(proto)
	}
	return s.decision.AllowsUpgrade(proto)
}

// checkUpgrade refuses a request whose Upgrade asks for a protocol the
// policy does not allow. It reports false when it did.
func (s *Session) checkUpgrade() bool {
	req := &s.rp.Req
	if !req.ConnUpgrade || s.tunnel {
		return true
	}
	if !s.upgradeAllowed(req.Raw, req.Headers) {
		s.fail(ErrUpgradeDenied)
		return false
	}
	return true
}
