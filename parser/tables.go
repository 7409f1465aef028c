package parser

// Byte classes, each a 256-entry table built once at package initialisation
// from the grammar quoted above it. A table lookup is one load per byte on the
// parsing paths, with no branches on ranges.

// tokenTable: RFC 9110 §5.6.2
//
//	token  = 1*tchar
//	tchar  = "!" / "#" / "$" / "%" / "&" / "'" / "*"
//	       / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~"
//	       / DIGIT / ALPHA
var tokenTable = makeTable(alpha, digit, "!#$%&'*+-.^_`|~")

// fieldValueTable: RFC 9110 §5.5, the bytes a field value may hold once its
// line end is removed (also the reason-phrase bytes of RFC 9112 §4)
//
//	field-value    = *field-content
//	field-content  = field-vchar [ 1*( SP / HTAB / field-vchar ) field-vchar ]
//	field-vchar    = VCHAR / obs-text
//	obs-text       = %x80-FF
//	reason-phrase  = 1*( HTAB / SP / VCHAR / obs-text )
var fieldValueTable = makeRangeTable(0x21, 0x7e, 0x80, 0xff, ' ', ' ', '\t', '\t')

// targetTable: the bytes a request-target may hold: the RFC 3986 §2 URI
// characters (unreserved, reserved, "%"), and, as most servers do, the other
// visible ASCII bytes browsers leave unencoded (" < > \ ^ ` { | }). "#" is
// excluded: it starts a fragment, which a request-target never has
// (RFC 9112 §3.2).
//
//	VCHAR = %x21-7E
var targetTable = func() (t [256]bool) {
	t = makeRangeTable(0x21, 0x7e)
	t['#'] = false
	return t
}()

// regNameTable: RFC 3986 §3.2.2, the bytes of a host that is not an IP literal,
// without pct-encoded: a percent-encoded host name cannot be resolved through
// DNS, and net/url rejects most of them.
//
//	reg-name    = *( unreserved / pct-encoded / sub-delims )
//	unreserved  = ALPHA / DIGIT / "-" / "." / "_" / "~"
//	sub-delims  = "!" / "$" / "&" / "'" / "(" / ")"
//	            / "*" / "+" / "," / ";" / "="
var regNameTable = makeTable(alpha, digit, "-._~!$&'()*+,;=")

// schemeTable: RFC 3986 §3.1, the bytes after the first of a scheme
//
//	scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
var schemeTable = makeTable(alpha, digit, "+-.")

// qdtextTable: RFC 9110 §5.6.4, the bytes of a quoted-string between the
// quotes other than a quoted-pair
//
//	quoted-string  = DQUOTE *( qdtext / quoted-pair ) DQUOTE
//	qdtext         = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
//	quoted-pair    = "\" ( HTAB / SP / VCHAR / obs-text )
var qdtextTable = makeRangeTable('\t', '\t', ' ', ' ', 0x21, 0x21, 0x23, 0x5b, 0x5d, 0x7e, 0x80, 0xff)

// hexValue: RFC 5234 HEXDIG (case-insensitive, as RFC 5234 §2.3 makes quoted
// letters); -1 for a byte that is not a hex digit.
//
//	HEXDIG = DIGIT / "A" / "B" / "C" / "D" / "E" / "F"
var hexValue = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = int8(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = int8(c - 'a' + 10)
		t[c-'a'+'A'] = int8(c - 'a' + 10)
	}
	return t
}()

const (
	alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	digit = "0123456789"
)

func makeTable(sets ...string) (t [256]bool) {
	for _, s := range sets {
		for i := 0; i < len(s); i++ {
			t[s[i]] = true
		}
	}
	return t
}

// makeRangeTable marks the inclusive ranges given as lo, hi pairs.
func makeRangeTable(bounds ...int) (t [256]bool) {
	for i := 0; i+1 < len(bounds); i += 2 {
		for c := bounds[i]; c <= bounds[i+1]; c++ {
			t[c] = true
		}
	}
	return t
}

// lowerTable maps ASCII upper-case letters to lower case and every other
// byte to itself.
var lowerTable = func() (t [256]byte) {
	for i := range t {
		t[i] = byte(i)
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = byte(c + 'a' - 'A')
	}
	return t
}()

// lower returns c in lower case if it is an ASCII upper-case letter.
func lower(c byte) byte { return lowerTable[c] }

// equalFold reports whether b and s are equal under ASCII case folding.
// s must be lower case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if lower(b[i]) != s[i] {
			return false
		}
	}
	return true
}

// equalFoldBytes reports whether a and b are equal under ASCII case folding.
func equalFoldBytes(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

// isToken reports whether b is a non-empty token.
func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !tokenTable[c] {
			return false
		}
	}
	return true
}

// trimOWS removes leading and trailing SP and HTAB (RFC 9110 §5.6.3 OWS).
func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}
