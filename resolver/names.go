package resolver

import (
	"net/netip"
	"strings"
)

// looksLiteral is a fast test that host may be an IP literal: it contains a
// colon (IPv6), starts with '[', or is made of digits and dots only (IPv4).
// A host name such as "1password.com" fails it without parsing.
func looksLiteral[S string | []byte](host S) bool {
	if len(host) == 0 {
		return false
	}
	if host[0] == '[' {
		return true
	}
	digitsDots := true
	for i := 0; i < len(host); i++ {
		c := host[i]
		if c == ':' {
			return true
		}
		if (c < '0' || c > '9') && c != '.' {
			digitsDots = false
		}
	}
	return digitsDots
}

// parseLiteral returns the address of an IP literal host: "192.0.2.1",
// "2001:db8::1", "[2001:db8::1]" or "fe80::1%eth0". IPv4-mapped IPv6
// addresses are unmapped, so that "::ffff:127.0.0.1" is seen (by the SSRF
// guard too) as the loopback address it is.
func parseLiteral(host string) (netip.Addr, bool) {
	if !looksLiteral(host) {
		return netip.Addr{}, false
	}
	if len(host) > 2 && host[0] == '[' && host[len(host)-1] == ']' {
		host = host[1 : len(host)-1]
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// validHostName reports whether h is a lower-case DNS host name sluice will
// query: labels of 1 to 63 letters, digits, '-' or '_', not starting or
// ending with '-' (RFC 1123 §2.1), separated by dots, at most 253
// characters, optionally ending in a dot (absolute name). The
// underscore is allowed because real names use it (RFC 2181 §11 allows any
// octet; browsers and curl accept it).
func validHostName(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if len(h) == 0 || len(h) > 253 {
		return false
	}
	label := 0
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case c == '.':
			if label == 0 || h[i-1] == '-' {
				return false
			}
			label = 0
			continue
		case c == '-':
			if label == 0 {
				return false
			}
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '_':
		default:
			return false
		}
		label++
		if label > 63 {
			return false
		}
	}
	return h[len(h)-1] != '-'
}

// lowerASCII returns s in lower case, without allocating when it already is.
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}
