package parser

// Framing is how a message body is delimited (RFC 9112 §6.3).
type Framing uint8

// The framings of a message body.
const (
	FramingNone    Framing = iota // no body
	FramingLength                 // Content-Length bytes, n > 0
	FramingChunked                // the chunked transfer coding; see ChunkedDecoder
	FramingClose                  // everything until the upstream closes (responses only)
	FramingTunnel                 // the connection becomes a tunnel (CONNECT 2xx, 101)
)

// String returns the framing's name.
func (f Framing) String() string {
	switch f {
	case FramingNone:
		return "none"
	case FramingLength:
		return "length"
	case FramingChunked:
		return "chunked"
	case FramingClose:
		return "close"
	case FramingTunnel:
		return "tunnel"
	}
	return "invalid"
}

// BodyFraming returns how the body of the request is delimited (RFC 9112 §6.3
// rules 4 to 7): FramingChunked, FramingLength with the length n > 0, or
// FramingNone (n = 0) when there is no Transfer-Encoding and no Content-Length
// or Content-Length is 0. A request is never close-delimited.
func (r *Request) BodyFraming() (Framing, int64) {
	switch {
	case r.Chunked:
		return FramingChunked, 0
	case r.ContentLength > 0:
		return FramingLength, r.ContentLength
	}
	return FramingNone, 0
}

// ResponseFraming returns how the body of r, the response to a request with
// method reqMethod, is delimited (RFC 9112 §6.3), with the length n for
// FramingLength (n > 0; a Content-Length of 0 gives FramingNone):
//
//   - 101 Switching Protocols: FramingTunnel (the engine checks that the
//     request asked for the upgrade);
//   - other 1xx, 204, 304, and any response to HEAD: FramingNone (rules 1);
//   - 2xx to CONNECT: FramingTunnel (rule 2);
//   - Transfer-Encoding ending in chunked: FramingChunked; other
//     Transfer-Encoding: FramingClose (rule 4);
//   - Content-Length: FramingLength (rule 6);
//   - otherwise FramingClose (rule 8).
func ResponseFraming(reqMethod Method, r *Response) (Framing, int64) {
	code := r.StatusCode
	switch {
	case code == 101:
		return FramingTunnel, 0
	case code < 200, code == 204, code == 304, reqMethod == MethodHEAD:
		return FramingNone, 0
	case reqMethod == MethodCONNECT && code < 300:
		return FramingTunnel, 0
	case r.Chunked:
		return FramingChunked, 0
	case r.TransferEncoding:
		return FramingClose, 0
	case r.ContentLength > 0:
		return FramingLength, r.ContentLength
	case r.ContentLength == 0:
		return FramingNone, 0
	}
	return FramingClose, 0
}
