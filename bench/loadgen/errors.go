package loadgen

import "errors"

// Sentinel errors of the package. Errors returned by Run and counted in
// Result.FirstError wrap one of these, or a net or os error from the socket.
var (
	// ErrConfig is wrapped by every error of Config validation; the message names
	// the field and the bad value.
	ErrConfig = errors.New("loadgen: invalid config")

	// ErrMalformedResponse is wrapped by every error for a response whose bytes
	// break HTTP/1.1 framing (RFC 9112): bad status line, bad header line, bad
	// Content-Length, bad chunk size.
	ErrMalformedResponse = errors.New("loadgen: malformed response")

	// ErrHeadTooLarge means a response head (or a chunk-size or trailer line) did
	// not fit in the read buffer (Config.ReadBufferSize).
	ErrHeadTooLarge = errors.New("loadgen: response head larger than read buffer")

	// ErrUnsupported means the response uses a feature the load client does not
	// implement, such as 101 Switching Protocols.
	ErrUnsupported = errors.New("loadgen: unsupported response")
)
