package policy

import (
	"bytes"
	"net/netip"
	"strings"
)

// hostIndex finds the patterns (Rule.Hosts, Config.AllowAddrHosts) that match
// a host without scanning them: name patterns are keyed by the name they are
// anchored to, and a host is looked up once per DNS suffix ("a.b.c", "b.c",
// "c"); IP-literal patterns are keyed by their canonical address, and an IP
// literal host is looked up by its own (see addrKeys), never by name. Each
// list holds the ids (rule indexes) of its patterns in increasing order, so a
// caller looking for the first matching rule can stop a list early. It is
// built by Compile and read-only afterwards.
type hostIndex struct {
	byName map[string]*hostEntry
	byAddr map[netip.Addr][]int32 // IP-literal patterns, unmapped, no zone; nil if none
	any    []int32                // ids with "*" (or no host condition at all)
	// embedded: an IPv6 address also matches the patterns of the IPv4
	// address it embeds (embeddedIPv4). Set for the rules, where it makes
	// a deny rule hold for every spelling of its address; not for
	// AllowAddrHosts, whose exemptions are not widened.
	embedded bool
}

// hostEntry holds the ids of the patterns anchored at one name.
type hostEntry struct {
	self []int32 // patterns matching the name itself: "x.com", ".x.com"
	subs []int32 // patterns matching its subdomains: "*.x.com", ".x.com"
}

func newHostIndex(embedded bool) *hostIndex {
	return &hostIndex{byName: make(map[string]*hostEntry), embedded: embedded}
}

// add indexes pattern p for id; ids must be added in increasing order.
func (ix *hostIndex) add(p hostPattern, id int32) {
	switch p.kind {
	case patAny:
		ix.any = appendID(ix.any, id)
		return
	case patAddr:
		if ix.byAddr == nil {
			ix.byAddr = make(map[netip.Addr][]int32)
		}
		ix.byAddr[p.addr] = appendID(ix.byAddr[p.addr], id)
		return
	}
	e := ix.byName[p.name]
	if e == nil {
		e = &hostEntry{}
		ix.byName[p.name] = e
	}
	if p.kind == patExact || p.kind == patSuffix {
		e.self = appendID(e.self, id)
	}
	if p.kind == patSubdomains || p.kind == patSuffix {
		e.subs = appendID(e.subs, id)
	}
}

// appendID appends id unless it is already last (a rule listing two patterns
// for one name).
func appendID(l []int32, id int32) []int32 {
	if n := len(l); n > 0 && l[n-1] == id {
		return l
	}
	return append(l, id)
}

// contains reports whether any pattern matches host.
func (ix *hostIndex) contains(host []byte) bool {
	it := ix.iter(host)
	for {
		l, ok := it.next()
		if !ok {
			return false
		}
		if len(l) > 0 {
			return true
		}
	}
}

// iter returns an iterator over the id lists that match host (lower case,
// no trailing dot, no brackets). An IP literal host is matched by "*" and
// by the IP-literal patterns of its keys (addrKeys); a host with a colon
// that is not an address by "*" only; any other host as a name.
func (ix *hostIndex) iter(host []byte) hostIter {
	it := hostIter{ix: ix, host: host, pos: -2, naddr: -1}
	if a, ok := parseIPLiteral(host); ok {
		it.addrs, it.naddr = ix.addrKeys(a)
	} else if bytes.IndexByte(host, ':') >= 0 {
		it.naddr = 0
	}
	return it
}

// addrIter returns an iterator over the id lists of the IP-literal patterns
// matching address a: not "*", not names.
func (ix *hostIndex) addrIter(a netip.Addr) hostIter {
	it := hostIter{ix: ix, pos: -1}
	it.addrs, it.naddr = ix.addrKeys(a)
	return it
}

// addrKeys returns the keys of byAddr that address a is looked up by: its
// canonical form (IPv4-mapped unmapped, zone dropped) and, if ix.embedded,
// the IPv4 addresses it embeds. The first rule matching any key wins.
func (ix *hostIndex) addrKeys(a netip.Addr) (keys [5]netip.Addr, n int) {
	keys[0] = a.Unmap().WithZone("")
	if !ix.embedded {
		return keys, 1
	}
	v4, m := embeddedIPv4(keys[0], false)
	copy(keys[1:], v4[:m])
	return keys, 1 + m
}

// hostIter yields the id lists of the patterns matching a host: the "*"
// list, then, for a name, the patterns of the host itself and the subdomain
// patterns of each of its parent names, or, for an IP literal, the
// patterns of each of its address keys. It does not allocate.
type hostIter struct {
	ix   *hostIndex
	host []byte
	pos  int // -2: "*" list next; -1: the host itself (first address) next; else next dot to search from (address index)
	// An IP literal host: its address keys; naddr -1 for a name.
	addrs [5]netip.Addr
	naddr int
}

// next returns the next list (possibly empty) and false when there is none.
func (it *hostIter) next() ([]int32, bool) {
	if it.pos == -2 {
		it.pos = -1
		return it.ix.any, true
	}
	if it.naddr >= 0 {
		if it.pos+1 >= it.naddr {
			return nil, false
		}
		it.pos++
		return it.ix.byAddr[it.addrs[it.pos]], true
	}
	switch it.pos {
	case -1:
		it.pos = 0
		if len(it.host) == 0 {
			it.pos = len(it.host)
			return nil, true
		}
		if e := it.ix.byName[string(it.host)]; e != nil {
			return e.self, true
		}
		return nil, true
	}
	for i := it.pos; i < len(it.host); i++ {
		if it.host[i] == '.' {
			it.pos = i + 1
			if e := it.ix.byName[string(it.host[i+1:])]; e != nil {
				return e.subs, true
			}
			return nil, true
		}
	}
	it.pos = len(it.host)
	return nil, false
}

// Kinds of hostPattern.
const (
	patExact      = iota // "example.com": the name
	patSubdomains        // "*.example.com": strict subdomains
	patSuffix            // ".example.com": the name and its subdomains
	patAny               // "*"
	patAddr              // "192.0.2.1", "::1": an IP literal
)

// hostPattern is a parsed host pattern: its kind and the name it is anchored
// to (lower case, no trailing dot; an IP literal in canonical form, with
// addr the address, IPv4-mapped unmapped).
type hostPattern struct {
	kind int
	name string
	addr netip.Addr
}

// parseHostPattern parses one entry of Rule.Hosts or Config.AllowAddrHosts.
// It returns a reason on failure.
func parseHostPattern(s string) (hostPattern, string) {
	if s == "*" {
		return hostPattern{kind: patAny}, ""
	}
	kind := patExact
	name := s
	switch {
	case strings.HasPrefix(s, "*."):
		kind, name = patSubdomains, s[2:]
	case strings.HasPrefix(s, "."):
		kind, name = patSuffix, s[1:]
	}
	if kind == patExact {
		lit := strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
		if a, err := netip.ParseAddr(lit); err == nil {
			if a.Zone() != "" {
				return hostPattern{}, "invalid host pattern: IPv6 zone not allowed"
			}
			// "::ffff:192.0.2.1" is 192.0.2.1: one address, one key.
			a = a.Unmap()
			return hostPattern{kind: patAddr, name: a.String(), addr: a}, ""
		}
	}
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	if !validHostName(name) {
		return hostPattern{}, "invalid host pattern (want name, *.name, .name or *)"
	}
	if kind != patExact {
		if _, err := netip.ParseAddr(name); err == nil {
			return hostPattern{}, "invalid host pattern: wildcard of an IP address"
		}
	}
	return hostPattern{kind: kind, name: name}, ""
}

// validHostName reports whether s (lower case, no trailing dot) is a DNS
// name: dot-separated labels of 1 to 63 letters, digits, '-' and '_' (the
// underscore appears in real names, such as SRV-style ones), 253 bytes at
// most (RFC 1035 §2.3.4).
func validHostName(s string) bool {
	if len(s) == 0 || len(s) > 253 {
		return false
	}
	label := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.':
			if label == 0 {
				return false
			}
			label = 0
			continue
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			return false
		}
		label++
		if label > 63 {
			return false
		}
	}
	return label > 0
}

// normHost strips what may differ between spellings of one destination
// host: one trailing dot ("example.com." is example.com, RFC 1034 §3.1) and
// the brackets of an IPv6 literal. It returns a subslice; host is already in
// lower case.
func normHost(h []byte) []byte {
	if n := len(h); n > 0 && h[n-1] == '.' {
		h = h[:n-1]
	}
	if n := len(h); n >= 2 && h[0] == '[' && h[n-1] == ']' {
		h = h[1 : n-1]
	}
	return h
}
