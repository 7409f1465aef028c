package proxy

import (
	"math"

	"github.com/sluiceproxy/sluice/internal/ascii"
	"github.com/sluiceproxy/sluice/parser"
	"github.com/sluiceproxy/sluice/policy"
)

// policyBeforeDNS applies the egress policy to a routed request before its
// destination is resolved, in the order package policy documents: proxy
// authentication, rate limits, then the CONNECT port and the destination
// rules (the client ACL ran at accept). Authentication comes first so that a
// client without credentials learns nothing about the rules (which CONNECT
// ports are open) from a 403. It reports false when the request was refused
// or waits for a credential check.
func (s *Session) policyBeforeDNS() bool {
	p := s.pol
	if p.AuthRequired() && s.bound == nil {
		// (Inside a CONNECT-bound connection the CONNECT's user holds.)
		cred, _ := s.rp.Req.Header("Proxy-Authorization")
		if len(cred) == 0 {
			s.fail(policy.ErrAuthRequired)
			return false
		}
		user, ok, cached := p.AuthenticateCached(cred)
		if !cached {
			// A credential not seen lately costs a bcrypt: off the loop,
			// on the policy's bounded verifier.
			s.st = stAuth
			s.d.SetTimer(s.cfg.HeadTimeout)
			if err := s.d.Authenticate(cred, s.gen); err != nil {
				s.fail(err)
			}
			return false
		}
		if !ok {
			s.fail(policy.ErrAuthRequired)
			return false
		}
		s.user = append(s.user[:0], user...)
		s.rec.User = user
	}
	return s.policyAfterAuth()
}

// policyAfterAuth applies the rate limits, then the destination rules.
func (s *Session) policyAfterAuth() bool {
	p := s.pol
	if ok, retry := p.AllowRate(s.client.Addr(), s.hostLower, s.d.Now()); !ok {
		secs := int64(math.Ceil(retry.Seconds()))
		if secs < 1 {
			secs = 1
		}
		s.extraHdr = append(s.extraHdr, "Retry-After: "...)
		s.extraHdr = appendInt(s.extraHdr, secs)
		s.extraHdr = append(s.extraHdr, "\r\n"...)
		s.fail(policy.ErrRateLimited)
		return false
	}
	return s.policyRules()
}

// Authenticated delivers the result of Driver.Authenticate.
func (s *Session) Authenticated(gen uint32, user string, ok bool) {
	if s.st != stAuth || gen != s.gen {
		return
	}
	if !ok {
		s.fail(policy.ErrAuthRequired)
		return
	}
	s.user = append(s.user[:0], user...)
	s.rec.User = user
	if s.policyAfterAuth() && s.originate() {
		s.lookup()
	}
}

// RuleDefault is the access log's rule for a request decided by the policy's
// default action (no rule matched).
const RuleDefault = "default"

// policyRules checks the destination rules, applying a matching rule's host
// rewrite header (and checking the new destination again).
func (s *Session) policyRules() bool {
	p := s.pol
	req := &s.rp.Req
	if s.tunnel && !p.ConnectPortAllowed(s.port) && !p.ConnectHTTPPort(s.port) {
		s.fail(policy.ErrConnectPort)
		return false
	}
	for {
		r := s.policyRequest()
		d := p.Check(&r)
		s.rec.Rule = d.Rule
		if d.Rule == "" {
			s.rec.Rule = RuleDefault
		}
		s.decision = d
		if !d.Allow {
			s.fail(policy.ErrDestinationDenied)
			return false
		}
		if d.RewriteHeader == "" || s.rewritten || s.tunnel {
			return s.checkUpgrade()
		}
		s.rewritten = true
		v, ok := req.Header(d.RewriteHeader)
		if !ok {
			return s.checkUpgrade()
		}
		if err := s.retarget(v); err != nil {
			s.fail(err)
			return false
		}
		s.rec.Host, s.rec.Port = s.hostLower, s.port
	}
}

// policyRequest returns the request the policy is asked about. Callers pass
// its address to the policy, which does not keep it: it stays on the stack.
func (s *Session) policyRequest() policy.Request {
	req := &s.rp.Req
	return policy.Request{
		Client:  s.client.Addr(),
		Method:  req.Bytes(req.MethodName),
		Host:    s.hostLower,
		Port:    s.port,
		User:    s.user,
		Connect: s.tunnel,
	}
}

// retarget makes the first value of a rewrite header the destination and the
// forwarded Host.
func (s *Session) retarget(v []byte) error {
	v = firstValue(v)
	host, port, ok := parser.SplitAuthority(v)
	if !ok || len(v) == 0 {
		return ErrBadDestination
	}
	if port == 0 {
		port = 80
	}
	s.authority = v
	s.port = uint16(port)
	s.hostLower = ascii.AppendLower(s.hostLower[:0], host)
	return nil
}

// firstValue returns the first comma-separated element of a field value,
// without surrounding whitespace.
func firstValue(v []byte) []byte {
	for i, c := range v {
		if c == ',' {
			v = v[:i]
			break
		}
	}
	return ascii.TrimOWS(v)
}

func appendInt(dst []byte, n int64) []byte {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	return append(dst, b[i:]...)
}
