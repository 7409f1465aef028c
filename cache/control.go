package cache

import "github.com/sluiceproxy/sluice/internal/ascii"

// Absent is a Directives delta-seconds value that was not given.
const Absent = -1

// maxDelta is the largest delta-seconds value kept: RFC 9111 §1.2.2 says a
// cache must take a greater value, or one whose calculations overflow, as
// 2147483648 (68 years).
const maxDelta = 1 << 31

// Directives are the Cache-Control directives (RFC 9111 §5.2) a shared cache
// acts on, from all of a message's Cache-Control field lines. The
// delta-seconds ones are Absent when not given. A directive given with a
// value it cannot have (max-age=soon) makes Invalid true: the response is
// then stale (§4.2.1 encourages that), and a request's is ignored.
//
// A value; the zero value is not meaningful (use ParseCacheControl).
type Directives struct {
	NoStore         bool
	NoCache         bool // unqualified, or with field names: a shared cache may treat both alike (§5.2.2.4)
	Private         bool // likewise (§5.2.2.7)
	Public          bool
	MustRevalidate  bool
	ProxyRevalidate bool
	NoTransform     bool
	OnlyIfCached    bool
	MaxStaleAny     bool // max-stale without a value: any staleness

	MaxAge   int64 // seconds
	SMaxAge  int64
	MaxStale int64
	MinFresh int64

	Invalid bool
}

// ParseCacheControl parses the values of a message's Cache-Control field
// lines (RFC 9111 §5.2: a comma-separated list of token or token=value,
// value a token or a quoted string; names are case-insensitive). Unknown
// directives are ignored (§5.2.3). When a delta-seconds directive appears
// twice, the first one counts, and the response is considered stale
// (Invalid), as §4.2.1 allows.
func ParseCacheControl(values ...[]byte) Directives {
	d := Directives{MaxAge: Absent, SMaxAge: Absent, MaxStale: Absent, MinFresh: Absent}
	for _, v := range values {
		for len(v) > 0 {
			var name, val []byte
			name, val, v = nextDirective(v)
			d.apply(name, val)
		}
	}
	return d
}

// apply records one directive.
func (d *Directives) apply(name, val []byte) {
	switch {
	case ascii.EqualFold(name, "no-store"):
		d.NoStore = true
	case ascii.EqualFold(name, "no-cache"):
		d.NoCache = true
	case ascii.EqualFold(name, "private"):
		d.Private = true
	case ascii.EqualFold(name, "public"):
		d.Public = true
	case ascii.EqualFold(name, "must-revalidate"):
		d.MustRevalidate = true
	case ascii.EqualFold(name, "proxy-revalidate"):
		d.ProxyRevalidate = true
	case ascii.EqualFold(name, "no-transform"):
		d.NoTransform = true
	case ascii.EqualFold(name, "only-if-cached"):
		d.OnlyIfCached = true
	case ascii.EqualFold(name, "max-age"):
		d.setDelta(&d.MaxAge, val)
	case ascii.EqualFold(name, "s-maxage"):
		d.setDelta(&d.SMaxAge, val)
	case ascii.EqualFold(name, "min-fresh"):
		d.setDelta(&d.MinFresh, val)
	case ascii.EqualFold(name, "max-stale"):
		if val == nil {
			d.MaxStaleAny = true
			return
		}
		d.setDelta(&d.MaxStale, val)
	}
}

// setDelta sets a delta-seconds directive. The first occurrence counts; a
// second one, or a value that is not delta-seconds, marks d Invalid. The
// quoted form (max-age="60") is not the grammar's but is common, and is
// accepted, as most caches do.
func (d *Directives) setDelta(dst *int64, val []byte) {
	n, ok := parseDelta(val)
	switch {
	case *dst != Absent || !ok:
		d.Invalid = true
	default:
		*dst = n
	}
}

// parseDelta parses delta-seconds (1*DIGIT), clamping at maxDelta.
func parseDelta(b []byte) (int64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		if n < maxDelta {
			n = n*10 + int64(c-'0')
		}
	}
	return min(n, maxDelta), true
}

// nextDirective splits the first directive off a Cache-Control value: its
// name, its value (nil when there is no "="; unquoted when it was a quoted
// string), and the rest of the list after the comma.
func nextDirective(v []byte) (name, val, rest []byte) {
	v = trimLeft(v)
	i := 0
	for i < len(v) && v[i] != '=' && v[i] != ',' {
		i++
	}
	name = ascii.TrimOWS(v[:i])
	if i == len(v) || v[i] == ',' {
		if i < len(v) {
			i++
		}
		return name, nil, v[i:]
	}
	v = trimLeftOWS(v[i+1:]) // after '=': a comma here ends an empty value
	if len(v) > 0 && v[0] == '"' {
		// quoted-string: up to the closing quote; a backslash escapes one
		// byte (then, rarely, the value is copied without the escapes).
		j, escaped := 1, false
		for j < len(v) && v[j] != '"' {
			if v[j] == '\\' && j+1 < len(v) {
				escaped = true
				j++
			}
			j++
		}
		out := v[1:j]
		if escaped {
			out = unescape(out)
		}
		if j < len(v) {
			j++ // the closing quote
		}
		for j < len(v) && v[j] != ',' {
			j++ // garbage after the quoted string is dropped
		}
		if j < len(v) {
			j++
		}
		return name, out, v[j:]
	}
	j := 0
	for j < len(v) && v[j] != ',' {
		j++
	}
	val = ascii.TrimOWS(v[:j])
	if j < len(v) {
		j++
	}
	return name, val, v[j:]
}

// unescape removes the backslashes of a quoted-string's quoted-pairs.
func unescape(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] == '\\' && i+1 < len(b) {
			i++
		}
		out = append(out, b[i])
	}
	return out
}

func trimLeft(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == ',') {
		b = b[1:]
	}
	return b
}
