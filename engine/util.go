package engine

import "github.com/sluiceproxy/sluice/parser"

// splitAuthority splits host[:port] or [v6]:port with the grammar of a
// request-target's authority (parser.SplitAuthority): a rewrite header's value
// must name a destination as strictly as a request line does. The host comes
// back without brackets; port is 0 when absent.
func splitAuthority(a []byte) (host []byte, port int, ok bool) {
	return parser.SplitAuthority(a)
}

// appendLower appends b lower-cased (ASCII) to dst.
func appendLower(dst, b []byte) []byte {
	for _, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// trimOWS removes optional whitespace (SP, HTAB) at both ends of b.
func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}
