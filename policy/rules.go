package policy

import (
	"net/netip"

	"github.com/sluiceproxy/sluice/internal/ascii"
)

// Request is what the engine knows about a request when it asks Check. All
// slices are only read during the call, so they may point into a parse
// buffer.
type Request struct {
	Client  netip.Addr // the client's address
	Method  []byte     // request method, as sent (matched ignoring ASCII case, see Rule.Methods)
	Host    []byte     // destination host, lower case, no port; a trailing dot and IPv6 brackets are ignored, an IP literal is matched by its address
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
	// UpstreamTLS: the deciding rule sends the request to its destination
	// over TLS (Rule.UpstreamTLS). After a rewrite, the Decision for the
	// new destination says.
	UpstreamTLS bool
	// Via is the parent proxy the deciding rule sends the request through
	// (Rule.Via); nil: straight to the destination. Shared, read-only.
	Via *Parent

	// upgrades are the protocols the request may switch to (AllowsUpgrade):
	// the deciding rule's, shared, read-only; nil when nothing is allowed.
	upgrades *upgradeSet
}

// rule is a compiled Rule. Built by Compile, read-only afterwards.
type rule struct {
	name     string
	ports    portSet
	anyPort  bool
	methods  []string       // empty: any; upper case, matched ignoring ASCII case
	clients  []netip.Prefix // empty: any
	users    []string       // empty: no user condition
	anyUser  bool           // users has "*"
	allow    bool
	rewrite  string      // Decision.RewriteHeader when this rule decides
	upgrades *upgradeSet // Decision.upgrades when this rule allows
	tls      bool        // Decision.UpstreamTLS when this rule allows
	via      *Parent     // Decision.Via when this rule allows
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
			if ascii.EqualFold(method, m) {
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
// An IP literal host is matched by its address, however it is spelled:
// "[::ffff:7f00:3]" and "127.0.0.3" are the same destination, so are
// "0:0:0:0:0:0:0:1" and "::1"; a zone is ignored. An IPv6 literal that
// embeds an IPv4 address (IPv4-compatible ::a.b.c.d, NAT64 64:ff9b::/96, and
// local-use NAT64 64:ff9b:1::/48 at each RFC 6052 position) is also matched
// by the patterns of that IPv4 address, the lowest rule over all of them
// winning. Name patterns ("*.example", ".example") never match an IP literal.
//
// Check matches the destination as chosen before any rewrite. If the
// Decision names a RewriteHeader and the request carries it, the engine
// re-targets the request and must call Check again with the new host (and
// ignore the second Decision's RewriteHeader), so a rewrite cannot reach a
// destination the rules deny. Check does not allocate.
func (p *Policy) Check(r *Request) Decision {
	it := p.rules.iter(normHost(r.Host))
	best := p.firstMatch(&it, r)
	if best < 0 {
		if !p.defaultAllow {
			return Decision{}
		}
		return Decision{Allow: true, RewriteHeader: p.rewrite, upgrades: websocketOnly}
	}
	ru := &p.ruleList[best]
	d := Decision{Allow: ru.allow, Rule: ru.name}
	if ru.allow {
		d.RewriteHeader = ru.rewrite
		d.upgrades = ru.upgrades
		d.UpstreamTLS = ru.tls
		d.Via = ru.via
	}
	return d
}

// AddrRuleDenies is the destination rules applied to an address that a
// named destination resolved to: it reports whether the first rule that
// names a (an IP-literal pattern equal to a, compared as Check compares an
// IP literal host, embedded IPv4 included) and whose other conditions
// (ports, methods, clients, users) hold for r is a deny rule, and names it.
// Only IP-literal patterns take part: not "*", not names, and an allow
// rule matching first means not denied (rule ""). So `hosts: ["127.0.0.3"]`
// with action deny also stops a name that resolves to 127.0.0.3. Call it on
// every resolved address, after Check allowed r; a denied address is
// answered with ErrDestinationDenied.
//
// It does not allocate, and without IP-literal patterns in the rules it
// returns at once.
func (p *Policy) AddrRuleDenies(r *Request, a netip.Addr) (rule string, denied bool) {
	if len(p.rules.byAddr) == 0 || !a.IsValid() {
		return "", false
	}
	it := p.rules.addrIter(a)
	best := p.firstMatch(&it, r)
	if best < 0 || p.ruleList[best].allow {
		return "", false
	}
	return p.ruleList[best].name, true
}

// firstMatch returns the lowest id of the lists of it whose rule matches
// r, or -1.
func (p *Policy) firstMatch(it *hostIter, r *Request) int32 {
	client := r.Client.Unmap().WithZone("")
	best := int32(-1)
	for {
		ids, ok := it.next()
		if !ok {
			return best
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
}

// ConnectPortAllowed reports whether a CONNECT tunnel may open port
// (Config.ConnectPorts); if not, answer ErrConnectPort.
func (p *Policy) ConnectPortAllowed(port uint16) bool {
	return p.connectPorts.contains(port)
}

// ConnectHTTPPort reports whether a CONNECT to port may carry HTTP, which
// the engine then inspects request by request (Config.ConnectHTTPPorts).
// A CONNECT to a port that is neither this nor ConnectPortAllowed is
// answered ErrConnectPort.
func (p *Policy) ConnectHTTPPort(port uint16) bool {
	return p.connectHTTP.contains(port)
}
