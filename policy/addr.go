package policy

import (
	"net/netip"
)

// deniedRange is one denied address range and the reason given for it.
type deniedRange struct {
	prefix netip.Prefix
	reason string
}

// builtinDenied are always denied, whatever the configuration (only
// AllowAddrHosts exempts a host): addresses that are never a legitimate
// egress destination and are the targets of SSRF. The IPv6 forms of the
// IPv4 ranges (::ffff:a.b.c.d, NAT64, ...) are denied too: CheckAddr checks
// the IPv4 address they carry.
var builtinDenied = []deniedRange{
	// Cloud metadata (169.254.169.254) and other link-local services
	// (RFC 3927, RFC 4291 §2.5.6).
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local"},
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
	// The IPv6 endpoint of the EC2 instance metadata service, outside
	// link-local, so it is named here.
	{netip.MustParsePrefix("fd00:ec2::254/128"), "cloud metadata"},
	// "This network" (RFC 791, RFC 1122 §3.2.1.3): 0.0.0.0 connects to the
	// local host on Linux.
	{netip.MustParsePrefix("0.0.0.0/8"), "this network"},
	// The unspecified address, which also connects to the local host.
	{netip.MustParsePrefix("::/128"), "unspecified"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast"},
	{netip.MustParsePrefix("ff00::/8"), "multicast"},
}

// presets are the ranges of each Config.DenyPresets name.
var presets = map[string][]deniedRange{
	PresetLoopback: {
		{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
		{netip.MustParsePrefix("::1/128"), "loopback"},
	},
	PresetPrivate: {
		{netip.MustParsePrefix("10.0.0.0/8"), "private"},
		{netip.MustParsePrefix("172.16.0.0/12"), "private"},
		{netip.MustParsePrefix("192.168.0.0/16"), "private"},
		{netip.MustParsePrefix("100.64.0.0/10"), "shared address space"},
		{netip.MustParsePrefix("fc00::/7"), "unique local"},
	},
	PresetReserved: {
		{netip.MustParsePrefix("192.0.0.0/24"), "reserved"},
		{netip.MustParsePrefix("192.0.2.0/24"), "documentation"},
		{netip.MustParsePrefix("198.51.100.0/24"), "documentation"},
		{netip.MustParsePrefix("203.0.113.0/24"), "documentation"},
		{netip.MustParsePrefix("2001:db8::/32"), "documentation"},
		{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
		{netip.MustParsePrefix("240.0.0.0/4"), "reserved"}, // includes 255.255.255.255
		{netip.MustParsePrefix("100::/64"), "discard"},
	},
}

// CheckAddr is the resolved-address (SSRF, DNS rebinding) guard: it returns
// nil if the destination host may be reached at address a, else an *Error
// with Status 403 and a Reason such as "destination address 169.254.169.254
// denied (link-local)". Call it on each resolved address before using it, and
// again at dial time on the address actually dialed (a name can be rebound in
// between).
//
// Denied are the built-in ranges 169.254.0.0/16 and fe80::/10 (link-local,
// cloud metadata), fd00:ec2::254 (EC2 metadata over IPv6), 0.0.0.0/8,
// ::/128, 224.0.0.0/4 and ff00::/8 (multicast), the DenyPresets ranges and
// DenyCIDRs. An IPv6 address that carries an IPv4 address is also checked
// as that IPv4 address, denied if any candidate is: IPv4-mapped
// ::ffff:a.b.c.d, IPv4-compatible ::a.b.c.d (::/96 but :: and ::1), NAT64
// 64:ff9b::/96, local-use NAT64 64:ff9b:1::/48 with the IPv4 address at each
// place RFC 6052 §2.2 puts it for a /48, /56, /64 or /96, and 6to4
// 2002:a.b.c.d::/48. So ::169.254.169.254, 64:ff9b:1::a9fe:a9fe and
// 2002:a9fe:a9fe::1 are link-local here. As the zero bytes of one NAT64
// layout read as 0.0.0.0/8 in another, an address of 64:ff9b:1::/48 is in
// practice denied unless AllowAddrHosts exempts its host. An IPv6 zone is ignored. Hosts
// matching AllowAddrHosts are not checked. An invalid address is denied.
// CheckAddr does not allocate unless it denies.
func (p *Policy) CheckAddr(host []byte, a netip.Addr) error {
	if !a.IsValid() {
		return &Error{Status: 403, Reason: "invalid destination address"}
	}
	if p.allowAddrHosts != nil && p.allowAddrHosts.contains(normHost(host)) {
		return nil
	}
	orig := a
	a = a.WithZone("") // Prefix.Contains never matches a zoned address
	if r := p.deniedRange(a); r != nil {
		return addrDenied(orig, r)
	}
	if a.Is4In6() {
		if r := p.deniedRange(a.Unmap()); r != nil {
			return addrDenied(orig, r)
		}
		return nil
	}
	// Deny if any candidate is denied: which RFC 6052 layout a local-use
	// NAT64 network uses is not known here. The zero bytes around the
	// IPv4 address of one layout read as 0.0.0.0/8 in another, so the
	// reason names a denial outside "this network" when there is one.
	v4, n := embeddedIPv4(a, true)
	var first *deniedRange
	for _, e := range v4[:n] {
		r := p.deniedRange(e)
		if r == nil {
			continue
		}
		if !thisNetwork.Contains(e) {
			return addrDenied(orig, r)
		}
		if first == nil {
			first = r
		}
	}
	if first != nil {
		return addrDenied(orig, first)
	}
	return nil
}

// thisNetwork is 0.0.0.0/8, the first built-in range.
var thisNetwork = netip.MustParsePrefix("0.0.0.0/8")

// deniedRange returns the first denied range holding a, or nil.
func (p *Policy) deniedRange(a netip.Addr) *deniedRange {
	list := p.denied6
	if a.Is4() {
		list = p.denied4
	}
	for i := range list {
		if list[i].prefix.Contains(a) {
			return &list[i]
		}
	}
	return nil
}

func addrDenied(a netip.Addr, r *deniedRange) *Error {
	return &Error{Status: 403, Reason: "destination address " + a.String() + " denied (" + r.reason + ")"}
}

// ClientAllowed reports whether a client at address a may use the proxy
// (Config.ClientCIDRs). An IPv4-mapped address is checked as IPv4 (a
// dual-stack listener reports IPv4 clients that way).
func (p *Policy) ClientAllowed(a netip.Addr) bool {
	return prefixesContain(p.clients, a)
}

// prefixesContain reports whether any of ps contains a, unmapped and without
// its zone.
func prefixesContain(ps []netip.Prefix, a netip.Addr) bool {
	a = a.Unmap().WithZone("")
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parsePrefix parses a CIDR or a bare address (a single host) into its
// canonical masked form; an IPv4-mapped IPv6 prefix of at least 96 bits
// ("::ffff:10.0.0.0/104") becomes the IPv4 prefix it denotes, since
// addresses are unmapped before they are matched. It returns a reason on
// failure.
func parsePrefix(s string) (netip.Prefix, string) {
	var p netip.Prefix
	if a, err := netip.ParseAddr(s); err == nil {
		if a.Zone() != "" {
			return p, "invalid CIDR: IPv6 zone not allowed"
		}
		p = netip.PrefixFrom(a, a.BitLen())
	} else {
		p, err = netip.ParsePrefix(s)
		if err != nil {
			return p, "invalid CIDR (want e.g. 10.0.0.0/8, fd00::/8 or an address)"
		}
	}
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked(), ""
}

// CheckAddrFor is CheckAddr for a request from client. Besides CheckAddr's
// ranges, it denies the loopback addresses (127.0.0.0/8, ::1, and the IPv6
// forms that carry 127.0.0.0/8) to a client that is not itself on loopback:
// a gateway that admits the network must not hand it its own host's
// loopback services (its admin port, a local database, the kubelet's
// read-only port). A host listed in AllowAddrHosts is exempt, as from
// every address check: that is how a rule-set allows loopback explicitly.
// It does not allocate unless it denies.
func (p *Policy) CheckAddrFor(client netip.Addr, host []byte, a netip.Addr) error {
	if err := p.CheckAddr(host, a); err != nil {
		return err
	}
	if client.Unmap().IsLoopback() || !isLoopbackForm(a) {
		return nil
	}
	if p.allowAddrHosts != nil && p.allowAddrHosts.contains(normHost(host)) {
		return nil
	}
	return &Error{Status: 403, Reason: "destination address " + a.String() + " denied (loopback, to a client not on loopback)"}
}

// isLoopbackForm reports whether a is a loopback address or an IPv6 form
// that carries one (mapped, IPv4-compatible, NAT64, 6to4).
func isLoopbackForm(a netip.Addr) bool {
	a = a.WithZone("")
	if a.Unmap().IsLoopback() {
		return true
	}
	v4, n := embeddedIPv4(a, true)
	for _, e := range v4[:n] {
		if e.IsLoopback() {
			return true
		}
	}
	return false
}
