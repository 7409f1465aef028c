package parser

// Sniffing the first bytes of a byte stream whose protocol is not known yet:
// the inside of a CONNECT to an HTTP port, or (later) a connection redirected
// to the transparent listener. It decides between an HTTP/1.x request, a TLS
// ClientHello and anything else, from as few bytes as each needs, so that a
// caller can decide before it reads a whole message. Sniff only classifies;
// the request parser still validates everything.

// Sniffed is the protocol Sniff recognised.
type Sniffed uint8

const (
	// SniffMore: the bytes so far fit more than one answer; wait for more.
	SniffMore Sniffed = iota
	// SniffHTTP1: a request-line "method SP target SP HTTP/1.x".
	SniffHTTP1
	// SniffTLS: a TLS handshake record (RFC 8446 §5.1: content type 22,
	// legacy version 3.x), such as a ClientHello.
	SniffTLS
	// SniffOther: neither.
	SniffOther
)

// MaxSniff is the most bytes Sniff looks at: a request-line longer than
// this is not classified as HTTP (it would be refused with 414 anyway).
const MaxSniff = DefaultMaxRequestLine + 16

// Sniff classifies the start of a stream (RFC 9112 §3: request-line =
// method SP request-target SP HTTP-version CRLF).
func Sniff(b []byte) Sniffed {
	if len(b) == 0 {
		return SniffMore
	}
	if b[0] == 0x16 {
		if len(b) < 2 {
			return SniffMore
		}
		if b[1] == 0x03 {
			return SniffTLS
		}
		return SniffOther
	}
	if len(b) > MaxSniff {
		b = b[:MaxSniff]
	}
	// method = token
	i := 0
	for i < len(b) && tokenTable[b[i]] {
		i++
	}
	if i == len(b) {
		return more(b)
	}
	if i == 0 || b[i] != ' ' {
		return SniffOther
	}
	i++
	// request-target: visible characters
	j := i
	for j < len(b) && b[j] > ' ' && b[j] < 0x7f {
		j++
	}
	if j == len(b) {
		return more(b)
	}
	if j == i || b[j] != ' ' {
		return SniffOther
	}
	j++
	const version = "HTTP/1."
	for k := 0; k < len(version); k++ {
		if j+k == len(b) {
			return more(b)
		}
		if b[j+k] != version[k] {
			return SniffOther
		}
	}
	return SniffHTTP1
}

// more is SniffMore, or SniffOther once MaxSniff bytes did not decide.
func more(b []byte) Sniffed {
	if len(b) >= MaxSniff {
		return SniffOther
	}
	return SniffMore
}
