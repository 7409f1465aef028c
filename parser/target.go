package parser

import "bytes"

// Request-target parsing, RFC 9112 §3.2:
//
//	request-target = origin-form / absolute-form / authority-form / asterisk-form
//	origin-form    = absolute-path [ "?" query ]
//	absolute-form  = absolute-URI
//	authority-form = uri-host ":" port
//	asterisk-form  = "*"
//
// and the host grammar of RFC 3986 §3.2.2, shared with the Host field:
//
//	host        = IP-literal / IPv4address / reg-name
//	IP-literal  = "[" ( IPv6address / IPvFuture  ) "]"
//	port        = *DIGIT

// hostResult classifies the outcome of parseHostPort.
type hostResult uint8

const (
	hostOK hostResult = iota
	hostBad
	hostBadPort
	hostUserinfo
)

// parseHostPort parses uri-host [ ":" port ] in raw[start:end]. It returns the
// host span (an IPv6 literal without its brackets, possibly empty), the port
// (0 when absent or empty) and whether a non-empty port was given. IPvFuture,
// zone identifiers and pct-encoded reg-names are not accepted.
func parseHostPort(raw []byte, start, end int) (host Span, port int, hasPort bool, res hostResult) {
	host, port, hasPort, res = splitHostPort(raw, start, end)
	if res != hostOK && bytes.IndexByte(raw[start:end], '@') >= 0 {
		// An '@' anywhere means userinfo. A host and port that parse
		// have none (neither reg-name, IPv6address nor port holds one),
		// so only a failure needs the scan.
		return Span{}, 0, false, hostUserinfo
	}
	return host, port, hasPort, res
}

// splitHostPort is parseHostPort but for userinfo, which it reports as
// hostBad.
func splitHostPort(raw []byte, start, end int) (host Span, port int, hasPort bool, res hostResult) {
	b := raw[start:end]
	i := 0
	if len(b) > 0 && b[0] == '[' {
		j := 1
		for j < len(b) && b[j] != ']' {
			j++
		}
		if j == len(b) || !validIPv6(b[1:j]) {
			return Span{}, 0, false, hostBad
		}
		host = span(start+1, start+j)
		i = j + 1
	} else {
		for i < len(b) && b[i] != ':' {
			if !regNameTable[b[i]] {
				return Span{}, 0, false, hostBad
			}
			i++
		}
		host = span(start, start+i)
	}
	if i == len(b) {
		return host, 0, false, hostOK
	}
	if b[i] != ':' {
		return Span{}, 0, false, hostBad
	}
	digits := b[i+1:]
	if len(digits) == 0 {
		// RFC 3986 §3.2.3: an empty port is the same as no port.
		return host, 0, false, hostOK
	}
	if len(digits) > 5 {
		for _, c := range digits {
			if c < '0' || c > '9' {
				return Span{}, 0, false, hostBad
			}
		}
		return Span{}, 0, false, hostBadPort
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return Span{}, 0, false, hostBad
		}
		port = port*10 + int(c-'0')
	}
	if port == 0 || port > 65535 {
		return Span{}, 0, false, hostBadPort
	}
	return host, port, true, hostOK
}

// validIPv6 reports whether b is an RFC 3986 IPv6address: eight 16-bit groups
// of 1 to 4 hex digits separated by colons, at most one "::" standing for one or
// more zero groups, the last two groups optionally written as an IPv4address.
func validIPv6(b []byte) bool {
	groups := 0
	elided := false
	i := 0
	if len(b) >= 2 && b[0] == ':' && b[1] == ':' {
		elided = true
		i = 2
		if i == len(b) {
			return true
		}
	}
	for i < len(b) {
		j := i
		for j < len(b) && j-i < 5 && hexValue[b[j]] >= 0 {
			j++
		}
		if j < len(b) && b[j] == '.' {
			if !validIPv4(b[i:]) {
				return false
			}
			groups += 2
			break
		}
		if j == i || j-i > 4 {
			return false
		}
		groups++
		i = j
		if i == len(b) {
			break
		}
		if b[i] != ':' {
			return false
		}
		i++
		if i == len(b) {
			return false // a single trailing colon
		}
		if b[i] == ':' {
			if elided {
				return false
			}
			elided = true
			i++
		}
	}
	if elided {
		return groups <= 7
	}
	return groups == 8
}

// validIPv4 reports whether b is an RFC 3986 IPv4address: four dec-octets
// 0..255 without leading zeros.
func validIPv4(b []byte) bool {
	octets := 0
	i := 0
	for {
		j := i
		v := 0
		for j < len(b) && j-i < 4 && '0' <= b[j] && b[j] <= '9' {
			v = v*10 + int(b[j]-'0')
			j++
		}
		if j == i || j-i > 3 || v > 255 || (j-i > 1 && b[i] == '0') {
			return false
		}
		octets++
		if j == len(b) {
			return octets == 4
		}
		if b[j] != '.' || octets == 4 {
			return false
		}
		i = j + 1
	}
}

// parseTarget parses the request-target r.Raw[start:end] (end > start) and
// sets Form, Target, Scheme, Authority, Host, Port and Path. r.Method is set.
func (r *Request) parseTarget(start, end int) *Error {
	raw := r.Raw
	t := raw[start:end]
	// One pass: every byte is a target byte, and the path (up to the first
	// "?") has only well-formed percent-encodings (RFC 3986 §2.1).
	q := len(t)
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !targetTable[c] {
			if c == '#' {
				return ErrFragment
			}
			return ErrBadTarget
		}
		if c == '?' && q == len(t) {
			q = i
		} else if c == '%' && q == len(t) &&
			(i+2 >= len(t) || hexValue[t[i+1]] < 0 || hexValue[t[i+2]] < 0) {
			return ErrBadTarget
		}
	}
	r.Target = span(start, end)

	if r.Method == MethodCONNECT {
		// RFC 9112 §3.2.3: CONNECT uses authority-form, uri-host ":" port.
		if t[0] == '/' || t[0] == '*' || hasSchemeSlashes(t) {
			return ErrTargetForm
		}
		if err := r.parseAuthority(start, end); err != nil {
			return err
		}
		if r.Port == 0 {
			return ErrBadTarget // the port is required
		}
		r.Form = FormAuthority
		return nil
	}

	switch {
	case t[0] == '/':
		r.Form = FormOrigin
		r.Path = r.Target
		return nil
	case len(t) == 1 && t[0] == '*':
		// RFC 9112 §3.2.4: asterisk-form is only used with OPTIONS.
		if r.Method != MethodOPTIONS {
			return ErrTargetForm
		}
		r.Form = FormAsterisk
		return nil
	}

	// absolute-URI = scheme ":" hier-part [ "?" query ], with hier-part
	// "//" authority path-abempty for http and https (RFC 9110 §4.2).
	if !('a' <= lower(t[0]) && lower(t[0]) <= 'z') {
		return ErrBadTarget
	}
	i := 1
	for i < len(t) && schemeTable[t[i]] {
		i++
	}
	if i == len(t) || t[i] != ':' {
		return ErrBadTarget
	}
	scheme := t[:i]
	rest := t[i+1:]
	if len(rest) < 2 || rest[0] != '/' || rest[1] != '/' {
		if allDigits(rest) {
			return ErrTargetForm // host:port, authority-form without CONNECT
		}
		return ErrBadTarget
	}
	switch {
	case equalFold(scheme, "http"):
		r.Scheme = SchemeHTTP
	case equalFold(scheme, "https"):
		r.Scheme = SchemeHTTPS
	default:
		return ErrBadScheme
	}
	aStart := start + i + 3
	aEnd := aStart
	for aEnd < end && raw[aEnd] != '/' && raw[aEnd] != '?' {
		aEnd++
	}
	if err := r.parseAuthority(aStart, aEnd); err != nil {
		return err
	}
	r.Form = FormAbsolute
	r.Path = span(aEnd, end)
	return nil
}

// parseAuthority parses raw[start:end] as the authority of the request-target
// into Authority, Host and Port. The host must not be empty (RFC 9110 §4.2.1).
func (r *Request) parseAuthority(start, end int) *Error {
	host, port, _, res := parseHostPort(r.Raw, start, end)
	switch res {
	case hostUserinfo:
		return ErrUserinfo
	case hostBadPort:
		return ErrBadPort
	case hostBad:
		return ErrBadTarget
	}
	if host.Len() == 0 {
		return ErrBadTarget
	}
	r.Authority = span(start, end)
	r.Host = host
	r.Port = port
	return nil
}

// SplitAuthority parses b as uri-host [ ":" port ] with the grammar of a
// request-target's authority (and the Host field): an IPv6 literal must be a
// valid IPv6address in brackets (returned without them), a reg-name has no
// pct-encoding, userinfo is refused, and the port is 1 to 65535 (0 when
// absent). It is for values that name a destination outside the
// request-target, such as a configured host rewrite header. It returns a
// subslice of b.
func SplitAuthority(b []byte) (host []byte, port int, ok bool) {
	h, port, _, res := parseHostPort(b, 0, len(b))
	if res != hostOK || h.Len() == 0 {
		return nil, 0, false
	}
	return b[h.Start:h.End], port, true
}

// hasSchemeSlashes reports whether t contains "://".
func hasSchemeSlashes(t []byte) bool {
	for i := 0; i+2 < len(t); i++ {
		if t[i] == ':' && t[i+1] == '/' && t[i+2] == '/' {
			return true
		}
	}
	return false
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
