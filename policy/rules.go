package policy

import "net/netip"

// Request is what the engine knows about a request when it asks Check. All
// slices are only read during the call, so they may point into a parse
// buffer.
type Request struct {
	Client  netip.Addr // the client's address
	Method  []byte     // request method, as sent (case-sensitive)
	Host    []byte     // destination host, lower case, no port; a trailing dot and IPv6 brackets are ignored
	Port    uint16     // destination port
	User    []byte     // authenticated user, empty if none
	Connect bool       // a CONNECT tunnel: matched as method "CONNECT" whatever Method says
}

var connectMethod = []byte("CONNECT")

// Decision is the answer of Check.
type Decision struct {
	Allow bool
	// Rule is the Name of the rule that decided, "" for the default action.
	Rule string
	// RewriteHeader is the header whose first value becomes the destination
	// and Host, "" for none: the deciding rule's, else Config.RewriteHeader.
	RewriteHeader string
}

// rule is a compiled Rule. Built by Compile, read-only afterwards.
type rule struct {
	name    string
	ports   portSet
	anyPort bool
	methods []string       // empty: any
	clients []netip.Prefix // empty: any
	users   []string       // empty: no user condition
	anyUser bool           // users has "*"
	allow   bool
	rewrite string // Decision.RewriteHeader when this rule decides
}

// matches reports whether r meets every condition of ru but the host, which
// the index has checked. client is r.Client unmapped.
func (ru *rule) matches(r *Request, client netip.Addr) bool {
	if !ru.anyPort && !ru.ports.contains(r.Port) {
		return false
	}
	if len(ru.methods) > 0 {
		method := r.Method
		if r.Connect {
			method = connectMethod
		}
		ok := false
		for _, m := range ru.methods {
			if string(method) == m {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if len(ru.clients) > 0 {
		ok := false
		for _, pfx := range ru.clients {
			if pfx.Contains(client) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if len(ru.users) > 0 || ru.anyUser {
		if len(r.User) == 0 {
			return false
		}
		if !ru.anyUser {
			ok := false
			for _, u := range ru.users {
				if string(r.User) == u {
					ok = true
					break
				}
			}
			if !ok {
				return false
			}
		}
	}
	return true
}

// Check applies the destination rules to r: the first rule (in Config order)
// whose conditions all hold decides; if none does, the default action. A
// denied Decision is answered with ErrDestinationDenied.
//
// Check matches the destination as chosen before any rewrite. If the
// Decision names a RewriteHeader and the request carries it, the engine
// re-targets the request and must call Check again with the new host (and
// ignore the second Decision's RewriteHeader), so a rewrite cannot reach a
// destination the rules deny. Check does not allocate.
func (p *Policy) Check(r *Request) Decision {
	host := normHost(r.Host)
	client := r.Client.Unmap().WithZone("")
	best := int32(-1)
	it := p.rules.iter(host)
	for {
		ids, ok := it.next()
		if !ok {
			break
		}
		for _, id := range ids {
			if best >= 0 && id >= best {
				break
			}
			if p.ruleList[id].matches(r, client) {
				best = id
				break
			}
		}
	}
	if best < 0 {
		if !p.defaultAllow {
			return Decision{}
		}
		return Decision{Allow: true, RewriteHeader: p.rewrite}
	}
	ru := &p.ruleList[best]
	d := Decision{Allow: ru.allow, Rule: ru.name}
	if ru.allow {
		d.RewriteHeader = ru.rewrite
	}
	return d
}

// ConnectPortAllowed reports whether a CONNECT tunnel may open port
// (Config.ConnectPorts); if not, answer ErrConnectPort.
func (p *Policy) ConnectPortAllowed(port uint16) bool {
	return p.connectPorts.contains(port)
}
