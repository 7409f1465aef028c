package policy

import (
	"net/netip"
	"strings"
)

// hostIndex finds the patterns (Rule.Hosts, Config.AllowAddrHosts) that match
// a host without scanning them: patterns are keyed by the name they are
// anchored to, and a host is looked up once per DNS suffix ("a.b.c", "b.c",
// "c"). Each list holds the ids (rule indexes) of its patterns in increasing
// order, so a caller looking for the first matching rule can stop a list
// early. It is built by Compile and read-only afterwards.
type hostIndex struct {
	byName map[string]*hostEntry
	any    []int32 // ids with "*" (or no host condition at all)
}

// hostEntry holds the ids of the patterns anchored at one name.
type hostEntry struct {
	self []int32 // patterns matching the name itself: "x.com", ".x.com"
	subs []int32 // patterns matching its subdomains: "*.x.com", ".x.com"
}

func newHostIndex() *hostIndex { return &hostIndex{byName: make(map[string]*hostEntry)} }

// add indexes pattern p for id; ids must be added in increasing order.
func (ix *hostIndex) add(p hostPattern, id int32) {
	if p.kind == patAny {
		ix.any = appendID(ix.any, id)
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
// no trailing dot).
func (ix *hostIndex) iter(host []byte) hostIter {
	return hostIter{ix: ix, host: host, pos: -2}
}

// hostIter yields the id lists of the patterns matching a host: the "*"
// list, the patterns of the host itself, then the subdomain patterns of
// each of its parent names. It does not allocate.
type hostIter struct {
	ix   *hostIndex
	host []byte
	pos  int // -2: "*" list next; -1: the host itself next; else next dot to search from
}

// next returns the next list (possibly empty) and false when there is none.
func (it *hostIter) next() ([]int32, bool) {
	switch it.pos {
	case -2:
		it.pos = -1
		return it.ix.any, true
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
)

// hostPattern is a parsed host pattern: its kind and the name it is anchored
// to (lower case, no trailing dot; an IP literal in canonical form).
type hostPattern struct {
	kind int
	name string
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
			return hostPattern{kind: patExact, name: a.String()}, ""
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
