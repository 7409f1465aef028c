// Package ascii holds the ASCII helpers HTTP field handling needs in several
// packages (proxy, policy, cache, compression): case-insensitive comparison
// and lower-casing of tokens, and trimming of optional whitespace (RFC 9110
// §5.6.3). The parser keeps its own table-driven versions on its hot path.
package ascii

// Lower returns c lower-cased if it is an ASCII upper-case letter.
func Lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// EqualFold reports whether b and s are equal ignoring the case of ASCII
// letters; other bytes must be equal.
func EqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		if Lower(b[i]) != Lower(s[i]) {
			return false
		}
	}
	return true
}

// AppendLower appends b lower-cased (ASCII) to dst.
func AppendLower(dst, b []byte) []byte {
	for _, c := range b {
		dst = append(dst, Lower(c))
	}
	return dst
}

// TrimOWS removes optional whitespace (SP, HTAB) at both ends of b.
func TrimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}
