package parser

// Error is a parse error: a rejection reason and the status a proxy answers it
// with. Every rejection reason is one sentinel value below; compare with ==
// or errors.Is.
//
// Status is the answer to a client whose request head or request body was
// rejected: 400, 414, 431, 501 or 505. An error from ResponseParser means the
// upstream misbehaved and is answered with 502 whatever Status says (the
// header-syntax sentinels are shared with requests and carry 400; the
// response-only ones carry 502). ChunkedDecoder errors carry 400, the answer to
// a malformed chunked request body; a malformed response body is detected after
// the response head went out, so it can only end the connection.
type Error struct {
	Status int
	Reason string
}

// Error returns "parser: " followed by the reason.
func (e *Error) Error() string { return "parser: " + e.Reason }

func newError(status int, reason string) *Error { return &Error{Status: status, Reason: reason} }

// Rejection reasons. The comment of each names the rule it enforces.
var (
	// Request-line (RFC 9112 §3).

	// ErrBadRequestLine: the request-line is not method SP request-target SP
	// HTTP-version, or the version is not "HTTP/" DIGIT "." DIGIT.
	ErrBadRequestLine = newError(400, "malformed request line")
	// ErrBadMethod: the method is not a token (RFC 9110 §9.1).
	ErrBadMethod = newError(400, "method is not a token")
	// ErrRequestLineTooLong: the request-line exceeds Limits.MaxRequestLine.
	ErrRequestLineTooLong = newError(414, "request line too long")
	// ErrVersion: an HTTP major version other than 1 (RFC 9110 §2.5).
	ErrVersion = newError(505, "HTTP version not supported")
	// ErrBadTarget: the request-target matches none of its four forms
	// (RFC 9112 §3.2), has a byte outside visible ASCII, a bad
	// percent-encoding in its path, or an empty host.
	ErrBadTarget = newError(400, "malformed request-target")
	// ErrTargetForm: a form the method may not use: authority-form other than
	// with CONNECT, CONNECT with another form, "*" other than with OPTIONS
	// (RFC 9112 §3.2.3, §3.2.4).
	ErrTargetForm = newError(400, "request-target form not allowed for the method")
	// ErrFragment: the request-target has a fragment (RFC 9112 §3.2).
	ErrFragment = newError(400, "fragment in request-target")
	// ErrBadScheme: an absolute-form scheme other than http or https.
	ErrBadScheme = newError(400, "request-target scheme is not http or https")
	// ErrUserinfo: userinfo in an http(s) URI or authority (RFC 9110 §4.2.4).
	ErrUserinfo = newError(400, "userinfo in request-target")
	// ErrBadPort: a port that is not 1..65535 (RFC 3986 §3.2.3).
	ErrBadPort = newError(400, "invalid port in request-target")

	// Size limits.

	// ErrHeadTooLarge: the head exceeds Limits.MaxHeadBytes.
	ErrHeadTooLarge = newError(431, "header section too large")
	// ErrTooManyHeaders: more than Limits.MaxHeaders field lines.
	ErrTooManyHeaders = newError(431, "too many header fields")
	// ErrTooManyConnectionOptions: the Connection fields list more than
	// MaxConnectionOptions options.
	ErrTooManyConnectionOptions = newError(400, "too many Connection options")

	// Field lines (RFC 9112 §5, RFC 9110 §5), also used for trailer fields.

	// ErrBareLF: a line ending in LF without CR (RFC 9112 §2.2).
	ErrBareLF = newError(400, "line ends in bare LF")
	// ErrSpaceBeforeColon: whitespace between field name and colon
	// (RFC 9112 §5.1: MUST reject).
	ErrSpaceBeforeColon = newError(400, "whitespace between field name and colon")
	// ErrObsFold: a field line starting with SP or HTAB, obs-fold or leading
	// whitespace before the first field (RFC 9112 §5.2, §2.2).
	ErrObsFold = newError(400, "obsolete line folding")
	// ErrBadHeaderName: a field name that is not a token (RFC 9110 §5.1).
	ErrBadHeaderName = newError(400, "field name is not a token")
	// ErrEmptyHeaderName: a field line starting with a colon.
	ErrEmptyHeaderName = newError(400, "empty field name")
	// ErrMissingColon: a field line without a colon.
	ErrMissingColon = newError(400, "field line without colon")
	// ErrBadHeaderValue: NUL, CR or another control byte in a field value
	// (RFC 9110 §5.5).
	ErrBadHeaderValue = newError(400, "invalid byte in field value")

	// Message framing (RFC 9112 §6).

	// ErrTEAndCL: Transfer-Encoding and Content-Length in one message
	// (RFC 9112 §6.3 rule 3; rejected in responses too).
	ErrTEAndCL = newError(400, "both Transfer-Encoding and Content-Length")
	// ErrTENotChunked: a request Transfer-Encoding whose final coding is not
	// chunked (RFC 9112 §6.3 rule 4).
	ErrTENotChunked = newError(400, "request transfer coding does not end in chunked")
	// ErrTEInHTTP10: Transfer-Encoding in an HTTP/1.0 message (RFC 9112 §6.1).
	ErrTEInHTTP10 = newError(400, "Transfer-Encoding in an HTTP/1.0 message")
	// ErrUnknownCoding: a request transfer coding sluice does not know
	// (RFC 9112 §6.1: 501).
	ErrUnknownCoding = newError(501, "unknown transfer coding")
	// ErrBadTransferEncoding: a Transfer-Encoding value that is not a list of
	// transfer-codings, or chunked with parameters (RFC 9112 §7).
	ErrBadTransferEncoding = newError(400, "malformed Transfer-Encoding")
	// ErrChunkedTwice: chunked applied more than once (RFC 9112 §6.1).
	ErrChunkedTwice = newError(400, "chunked applied more than once")
	// ErrBadContentLength: a Content-Length that is not a list of 1*DIGIT or
	// does not fit in int64 (RFC 9110 §8.6).
	ErrBadContentLength = newError(400, "malformed Content-Length")
	// ErrConflictingContentLength: Content-Length values that differ
	// (RFC 9112 §6.3 rule 5).
	ErrConflictingContentLength = newError(400, "conflicting Content-Length values")

	// Host (RFC 9112 §3.2).

	// ErrMultipleHost: more than one Host field.
	ErrMultipleHost = newError(400, "more than one Host field")
	// ErrBadHost: a Host value that is not uri-host [ ":" port ].
	ErrBadHost = newError(400, "invalid Host field")
	// ErrMissingHost: an HTTP/1.1 request in origin-form or asterisk-form
	// without Host.
	ErrMissingHost = newError(400, "missing Host field")

	// Status-line (RFC 9112 §4); upstream errors, 502.

	// ErrBadStatusLine: the status-line is not HTTP-version SP 3DIGIT
	// [SP reason-phrase], or the reason has a control byte.
	ErrBadStatusLine = newError(502, "malformed status line")
	// ErrBadStatusCode: a status code outside 100..599 (RFC 9110 §15).
	ErrBadStatusCode = newError(502, "status code out of range")
	// ErrResponseVersion: a response major version other than 1.
	ErrResponseVersion = newError(502, "response HTTP version not supported")

	// Chunked transfer coding (RFC 9112 §7.1).

	// ErrBadChunkSize: a chunk-size that is not 1*HEXDIG, or a chunk line
	// with a CR not followed by LF.
	ErrBadChunkSize = newError(400, "malformed chunk size")
	// ErrChunkSizeOverflow: a chunk-size of 2^62 or more, or of more than
	// 32 digits.
	ErrChunkSizeOverflow = newError(400, "chunk size too large")
	// ErrBadChunkExt: a chunk extension that is not
	// *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] ).
	ErrBadChunkExt = newError(400, "malformed chunk extension")
	// ErrChunkExtTooLong: chunk extensions longer than MaxChunkExtBytes on
	// one chunk line.
	ErrChunkExtTooLong = newError(400, "chunk extension too long")
	// ErrBadChunkTerminator: chunk-data not followed by CRLF.
	ErrBadChunkTerminator = newError(400, "chunk data not followed by CRLF")
	// ErrTrailerTooLarge: a trailer section longer than MaxTrailerBytes.
	ErrTrailerTooLarge = newError(400, "trailer section too large")
)
