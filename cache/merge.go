package cache

import (
	"bytes"

	"github.com/sluiceproxy/sluice/internal/ascii"
)

// notMerged are the fields of a 304 that do not replace the stored ones
// (RFC 9111 §3.2): the framing of the stored content (Content-Length,
// Transfer-Encoding), Connection and the hop-by-hop fields (§3.1), the
// metadata of the stored representation, which a 304 must not change
// (Content-Encoding, Content-Type, Content-Range), Age, which a stored head
// does not hold (the cache sends its own), and Set-Cookie, which sluice
// never stores (Decide).
var notMerged = [...]string{
	"content-length", "transfer-encoding", "connection", "keep-alive", "proxy-connection",
	"te", "trailer", "upgrade", "proxy-authenticate", "proxy-authorization",
	"content-encoding", "content-type", "content-range", "age", "set-cookie",
}

// MergeHead appends to dst the stored head updated with update, the head of
// the 304 (Not Modified) that revalidated it (RFC 9111 §4.3.4): each field
// of update replaces every stored line of its name, except the fields
// notMerged lists and those update's Connection names (hop-by-hop, §3.1).
// The result is the stored status line, the stored lines left, the lines
// taken from update in their order, and the empty line.
//
// Its time is linear in the two heads' lines (a map of the replaced names):
// it runs on an event loop, and a 304 may have MaxHeaders fields.
func MergeHead(dst, stored, update []byte) []byte {
	status, fields := splitHead(stored)
	_, updates := splitHead(update)
	var conn [][]byte // update's Connection values
	for rest := updates; len(rest) > 0; {
		var name, line []byte
		name, line, rest = nextField(rest)
		if ascii.EqualFold(name, "connection") {
			conn = append(conn, bytes.TrimRight(line[len(name)+1:], "\r\n"))
		}
	}
	taken := make(map[string]bool) // the lower-case names update replaces
	var lower []byte
	for rest := updates; len(rest) > 0; {
		var name []byte
		name, _, rest = nextField(rest)
		if !nameIn(name, notMerged[:]) && !listed(conn, name) {
			lower = ascii.AppendLower(lower[:0], name)
			taken[string(lower)] = true
		}
	}
	dst = append(dst, status...)
	for rest := fields; len(rest) > 0; {
		var name, line []byte
		name, line, rest = nextField(rest)
		if lower = ascii.AppendLower(lower[:0], name); !taken[string(lower)] {
			dst = append(dst, line...)
		}
	}
	for rest := updates; len(rest) > 0; {
		var name, line []byte
		name, line, rest = nextField(rest)
		if lower = ascii.AppendLower(lower[:0], name); taken[string(lower)] {
			dst = append(dst, line...)
		}
	}
	return append(dst, "\r\n"...)
}

// listed reports whether Connection values name the field name.
func listed(conn [][]byte, name []byte) bool {
	for _, v := range conn {
		for len(v) > 0 {
			var opt []byte
			opt, _, v = nextDirective(v) // the same list grammar
			if bytes.EqualFold(opt, name) {
				return true
			}
		}
	}
	return false
}
