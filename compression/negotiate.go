package compression

import "github.com/sluiceproxy/sluice/internal/ascii"

// Coding is a content-coding sluice can apply.
type Coding uint8

// The codings, and Identity for none.
const (
	Identity Coding = iota
	Gzip
	Zstd
)

var codingNames = [...]string{Identity: "identity", Gzip: "gzip", Zstd: "zstd"}

// String returns the coding's name as in Content-Encoding.
func (c Coding) String() string { return codingNames[c] }

// Negotiate picks the coding for a response from the request's
// Accept-Encoding field values (RFC 9110 §12.5.3): among offered (in the
// server's order of preference), the one with the highest q-value the client
// gives it, by name or through "*"; q=0 refuses a coding. Ties go to the
// earlier in offered. Identity when the client sent no Accept-Encoding, or
// accepts none of offered.
func Negotiate(accept [][]byte, offered []Coding) Coding {
	best, bestQ := Identity, 0
	for _, c := range offered {
		q, named := -1, false
		star := -1
		for _, v := range accept {
			for len(v) > 0 {
				var name []byte
				var cq int
				name, cq, v = nextCoding(v)
				switch {
				case ascii.EqualFold(name, c.String()) || c == Gzip && ascii.EqualFold(name, "x-gzip"):
					if !named || cq > q {
						q = cq
					}
					named = true
				case len(name) == 1 && name[0] == '*':
					star = max(star, cq)
				}
			}
		}
		if !named {
			q = star
		}
		if q > bestQ {
			best, bestQ = c, q
		}
	}
	return best
}

// nextCoding splits the first element off an Accept-Encoding value: the
// coding name and its q-value in thousandths (1000 without one; 0 for an
// unparsable one, which refuses rather than risks a coding the client
// cannot decode).
func nextCoding(v []byte) (name []byte, q int, rest []byte) {
	i := 0
	for i < len(v) && v[i] != ',' {
		i++
	}
	elem := v[:i]
	if i < len(v) {
		i++
	}
	rest = v[i:]
	j := 0
	for j < len(elem) && elem[j] != ';' {
		j++
	}
	name = ascii.TrimOWS(elem[:j])
	q = 1000
	params := elem[j:]
	for len(params) > 0 {
		params = params[1:] // the ';'
		k := 0
		for k < len(params) && params[k] != ';' {
			k++
		}
		p := ascii.TrimOWS(params[:k])
		params = params[k:]
		if len(p) >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=' {
			q = parseQ(ascii.TrimOWS(p[2:]))
		}
	}
	return name, q, rest
}

// parseQ parses a qvalue ("0", "0.5", "1.000") into thousandths; 0 when it
// is not one.
func parseQ(b []byte) int {
	if len(b) == 0 || len(b) > 5 || (b[0] != '0' && b[0] != '1') {
		return 0
	}
	q := int(b[0]-'0') * 1000
	if len(b) == 1 {
		return q
	}
	if b[1] != '.' {
		return 0
	}
	scale := 100
	for _, c := range b[2:] {
		if c < '0' || c > '9' {
			return 0
		}
		q += int(c-'0') * scale
		scale /= 10
	}
	return min(q, 1000)
}
