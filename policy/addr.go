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
// egress destination and are the targets of SSRF. Their IPv4-mapped forms
// (::ffff:a.b.c.d) are denied too: CheckAddr unmaps before matching.
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

// nat64 is the well-known NAT64 prefix (RFC 6052 §2.1): on a network with a
// NAT64 gateway, 64:ff9b::a9fe:a9fe reaches 169.254.169.254, so the embedded
// IPv4 address is checked too.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// CheckAddr is the resolved-address (SSRF, DNS rebinding) guard: it returns
// nil if the destination host may be reached at address a, else an *Error
// with Status 403 and a Reason such as "destination address 169.254.169.254
// denied (link-local)". Call it on each resolved address before using it, and
// again at dial time on the address actually dialed (a name can be rebound in
// between).
//
// Denied are the built-in ranges 169.254.0.0/16 and fe80::/10 (link-local,
// cloud metadata), fd00:ec2::254 (EC2 metadata over IPv6), 0.0.0.0/8, ::/128, 224.0.0.0/4 and ff00::/8 (multicast),
// the DenyPresets ranges and DenyCIDRs; an IPv4-mapped address
// (::ffff:169.254.169.254) and a NAT64 one (64:ff9b::/96) are also checked as
// the IPv4 address they carry; an IPv6 zone is ignored. Hosts matching
// AllowAddrHosts are not checked. An invalid address is denied. CheckAddr
// does not allocate unless it denies.
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
	} else if a.Is6() && nat64.Contains(a) {
		b := a.As16()
		if r := p.deniedRange(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})); r != nil {
			return addrDenied(orig, r)
		}
	}
	return nil
}

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
