package engine

// splitAuthority splits host[:port] or [v6]:port (RFC 3986 §3.2.2). The host
// comes back without brackets; port is 0 when absent.
func splitAuthority(a []byte) (host []byte, port int, ok bool) {
	if len(a) == 0 {
		return nil, 0, false
	}
	rest := a
	if a[0] == '[' {
		end := -1
		for i, c := range a {
			if c == ']' {
				end = i
				break
			}
		}
		if end < 2 {
			return nil, 0, false
		}
		host, rest = a[1:end], a[end+1:]
		if len(rest) > 0 && rest[0] != ':' {
			return nil, 0, false
		}
	} else {
		i := len(a)
		for j, c := range a {
			if c == ':' {
				i = j
				break
			}
		}
		host, rest = a[:i], a[i:]
		for _, c := range host {
			if !isHostByte(c) {
				return nil, 0, false
			}
		}
	}
	if len(rest) > 1 {
		for _, c := range rest[1:] {
			if c < '0' || c > '9' || port > 65535 {
				return nil, 0, false
			}
			port = port*10 + int(c-'0')
		}
		if port < 1 || port > 65535 {
			return nil, 0, false
		}
	}
	return host, port, len(host) > 0
}

// isHostByte reports whether c may appear in a reg-name or IPv4 address
// (RFC 3986 §3.2.2: unreserved / pct-encoded / sub-delims).
func isHostByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '-', '.', '_', '~', '%', '!', '$', '&', '\'', '(', ')', '*', '+', ',', ';', '=':
		return true
	}
	return false
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
