package policy

import (
	"bytes"
	"net/netip"
)

// parseIPLiteral parses a destination host (brackets and trailing dot
// already stripped by normHost) as an IP address, in the grammar of
// netip.ParseAddr, without allocating: netip.ParseAddr allocates its error,
// and Check sees every host, most of them names. A zone ("fe80::1%eth0",
// or "%25eth0" as RFC 6874 writes it in a URI) is dropped: it names the
// interface the dialer leaves by, not another destination, so "2001:db8::1%x"
// is matched as 2001:db8::1 (a rule could otherwise be passed by adding a
// zone that the dialer ignores). The address is returned as parsed: the
// caller unmaps it.
func parseIPLiteral(b []byte) (netip.Addr, bool) {
	if i := bytes.IndexByte(b, '%'); i >= 0 {
		b = b[:i]
	}
	for _, c := range b {
		switch c {
		case '.':
			ip, ok := parseIPv4(b)
			if !ok {
				return netip.Addr{}, false
			}
			return netip.AddrFrom4(ip), true
		case ':':
			ip, ok := parseIPv6(b)
			if !ok {
				return netip.Addr{}, false
			}
			return netip.AddrFrom16(ip), true
		}
	}
	return netip.Addr{}, false
}

// parseIPv4 parses dotted-decimal IPv4 as netip.ParseAddr does: four
// decimal fields of at most 255, no leading zeros (an octal "010" is
// ambiguous, so it is not an address here; the resolver guard sees
// whatever a resolver makes of it).
func parseIPv4(b []byte) (ip [4]byte, ok bool) {
	field, val, digits := 0, 0, 0
	for _, c := range b {
		switch {
		case '0' <= c && c <= '9':
			if digits == 1 && val == 0 {
				return ip, false // leading zero
			}
			val = val*10 + int(c-'0')
			digits++
			if val > 255 {
				return ip, false
			}
		case c == '.':
			if digits == 0 || field == 3 {
				return ip, false
			}
			ip[field] = byte(val)
			field++
			val, digits = 0, 0
		default:
			return ip, false
		}
	}
	if field != 3 || digits == 0 {
		return ip, false
	}
	ip[3] = byte(val)
	return ip, true
}

// parseIPv6 parses an IPv6 address (RFC 4291 §2.2) as netip.ParseAddr does:
// eight groups of one to four hex digits, at most one "::" standing for at
// least one zero group, and optionally a dotted IPv4 address in place of
// the last two groups.
func parseIPv6(b []byte) (ip [16]byte, ok bool) {
	ellipsis := -1 // byte position of "::", -1 if none
	if len(b) >= 2 && b[0] == ':' && b[1] == ':' {
		ellipsis = 0
		b = b[2:]
		if len(b) == 0 {
			return ip, true // "::"
		}
	}
	i := 0
	for i < 16 {
		off, acc := 0, 0
		for ; off < len(b); off++ {
			d := hexValue(b[off])
			if d < 0 {
				break
			}
			if off == 4 {
				return ip, false // more than four hex digits
			}
			acc = acc<<4 | d
		}
		if off == 0 {
			return ip, false
		}
		if off < len(b) && b[off] == '.' {
			// A trailing IPv4 address: the last 4 bytes, or wherever "::"
			// leaves room.
			if (ellipsis < 0 && i != 12) || i+4 > 16 {
				return ip, false
			}
			ip4, ok := parseIPv4(b)
			if !ok {
				return ip, false
			}
			copy(ip[i:], ip4[:])
			i += 4
			b = nil
			break
		}
		ip[i], ip[i+1] = byte(acc>>8), byte(acc)
		i += 2
		b = b[off:]
		if len(b) == 0 {
			break
		}
		if b[0] != ':' || len(b) == 1 {
			return ip, false
		}
		b = b[1:]
		if b[0] == ':' {
			if ellipsis >= 0 {
				return ip, false // a second "::"
			}
			ellipsis = i
			b = b[1:]
			if len(b) == 0 {
				break
			}
		}
	}
	if len(b) != 0 {
		return ip, false
	}
	if i < 16 {
		if ellipsis < 0 {
			return ip, false
		}
		n := 16 - i
		copy(ip[ellipsis+n:], ip[ellipsis:i])
		clear(ip[ellipsis : ellipsis+n])
	} else if ellipsis >= 0 {
		return ip, false // "::" must stand for at least one group
	}
	return ip, true
}

func hexValue(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c - 'a' + 10)
	case 'A' <= c && c <= 'F':
		return int(c - 'A' + 10)
	}
	return -1
}

// Prefixes of IPv6 addresses that carry an IPv4 address.
var (
	// ipv4Compatible is the deprecated IPv4-compatible form ::a.b.c.d
	// (RFC 4291 §2.5.5.1); :: and ::1 are not IPv4 (ipv4CompatibleNot).
	ipv4Compatible    = netip.MustParsePrefix("::/96")
	ipv4CompatibleNot = netip.MustParsePrefix("::/127")
	// nat64 is the well-known NAT64 prefix (RFC 6052 §2.1): on a network
	// with a NAT64 gateway, 64:ff9b::a9fe:a9fe reaches 169.254.169.254.
	nat64 = netip.MustParsePrefix("64:ff9b::/96")
	// nat64Local is the local-use NAT64 prefix (RFC 8215). A network may
	// use it, or a part of it, with any RFC 6052 prefix length, so the
	// IPv4 address may sit at the place of a /48, /56, /64 or /96.
	nat64Local = netip.MustParsePrefix("64:ff9b:1::/48")
	// sixToFour is 6to4 (RFC 3056 §2): 2002:V4ADDR::/48, which a 6to4
	// router sends over IPv4 to V4ADDR.
	sixToFour = netip.MustParsePrefix("2002::/16")
)

// embeddedIPv4 returns the IPv4 addresses that IPv6 address a (unmapped,
// without a zone) stands for: the one of the IPv4-compatible form and of
// well-known NAT64, each RFC 6052 placement (RFC 6052 §2.2) in the local-use
// NAT64 prefix, and, if with6to4, the one of a 6to4 prefix. The IPv4-mapped
// form is not handled here: callers unmap.
func embeddedIPv4(a netip.Addr, with6to4 bool) (v4 [4]netip.Addr, n int) {
	if !a.Is6() {
		return v4, 0
	}
	b := a.As16()
	at := func(i, j, k, l int) netip.Addr { return netip.AddrFrom4([4]byte{b[i], b[j], b[k], b[l]}) }
	switch {
	case ipv4Compatible.Contains(a):
		if ipv4CompatibleNot.Contains(a) {
			return v4, 0
		}
		v4[0] = at(12, 13, 14, 15)
		return v4, 1
	case nat64.Contains(a):
		v4[0] = at(12, 13, 14, 15)
		return v4, 1
	case nat64Local.Contains(a):
		// RFC 6052 §2.2: bits 64-71 (byte 8) are skipped.
		v4[0] = at(6, 7, 9, 10)    // /48
		v4[1] = at(7, 9, 10, 11)   // /56
		v4[2] = at(9, 10, 11, 12)  // /64
		v4[3] = at(12, 13, 14, 15) // /96
		return v4, 4
	case with6to4 && sixToFour.Contains(a):
		v4[0] = at(2, 3, 4, 5)
		return v4, 1
	}
	return v4, 0
}
