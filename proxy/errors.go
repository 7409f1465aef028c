package proxy

import (
	"crypto/tls"
	"errors"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/sluiceproxy/sluice/parser"
	"github.com/sluiceproxy/sluice/policy"
	"github.com/sluiceproxy/sluice/resolver"
)

// Error is a failure of the proxy itself, with the status and sluice-error
// detail the client is answered with.
type Error struct {
	Status int
	Detail string
}

func (e *Error) Error() string { return "engine: " + e.Detail }

// ErrInvalidConfig is matched (errors.Is) by every error of Config.Check.
var ErrInvalidConfig = errors.New("engine: invalid configuration")

// MaxInterim is how many interim (1xx) responses one request may get before
// the upstream is dropped with ErrTooManyInterim.
const MaxInterim = 10

// Failures the session detects itself. Failures from other packages are
// mapped by errorResponse.
var (
	ErrNoDestination  = &Error{400, "no destination in request"}
	ErrBadDestination = &Error{400, "invalid destination"}
	ErrHeadTimeout    = &Error{408, "request head timeout"}
	ErrLoop           = &Error{508, "forwarding loop: destination is sluice itself"}
	ErrTLSOrigination = &Error{501, "https absolute-form needs TLS origination"}
	ErrConnectPort    = &Error{403, "CONNECT to this port is denied"}
	ErrUpstreamReset  = &Error{502, "upstream connection reset"}
	// ErrCacheCorrupt: a revalidated entry whose stored body does not
	// decode (it is dropped).
	ErrCacheCorrupt     = &Error{500, "cached response corrupt"}
	ErrUpstreamClosed   = &Error{502, "upstream closed before responding"}
	ErrUpstreamRefused  = &Error{502, "upstream connect refused"}
	ErrUpstreamConnect  = &Error{502, "upstream connect failure"}
	ErrUpstreamProtocol = &Error{502, "malformed upstream response"}
	ErrTooManyInterim   = &Error{502, "too many interim (1xx) responses from upstream"}
	ErrUpstreamCap      = &Error{503, "upstream connection limit"}
	ErrTooManyConns     = &Error{503, "too many client connections"}
	ErrDNSFailure       = &Error{503, "DNS resolution failure"}
	ErrDNSNotFound      = &Error{503, "DNS name not found"}
	ErrDNSOverflow      = &Error{503, "DNS cache overflow"}
	ErrDNSPending       = &Error{503, "DNS pending overflow"}
	ErrDNSTimeout       = &Error{504, "DNS resolution timeout"}
	ErrConnectTimeout   = &Error{504, "upstream connect timeout"}
	ErrConnectAttempts  = &Error{504, "upstream connect attempts exhausted"}
	ErrConnectBudget    = &Error{504, "upstream connect time budget exhausted"}
	ErrResponseTimeout  = &Error{504, "upstream response timeout"}
	// ErrNotCached answers only-if-cached when the cache has no entry the
	// request accepts (RFC 9111 §5.2.1.7).
	ErrNotCached   = &Error{504, "not in cache"}
	ErrAuthTimeout = &Error{503, "proxy authentication timeout"}
	ErrNoFDs       = &Error{503, "proxy out of file descriptors"}

	// ErrTLSHandshakeTimeout answers an UpstreamTLSError that is a timeout.
	ErrTLSHandshakeTimeout = &Error{504, "upstream TLS handshake timeout"}
)

// UpstreamTLSError is a failed TLS handshake with an origin (TLS
// origination): its certificate not verified (unknown authority, another
// name, expired), no protocol version or cipher in common, an alert. The
// client gets 502 with the reason in sluice-error ("upstream TLS: x509:
// certificate signed by unknown authority"); a handshake that timed out
// gets 504.
type UpstreamTLSError struct {
	Err error // the handshake's error
}

// Error is the sluice-error detail: "upstream TLS: " and the reason.
func (e *UpstreamTLSError) Error() string { return "upstream TLS: " + tlsReason(e.Err) }

// Unwrap returns the handshake's error.
func (e *UpstreamTLSError) Unwrap() error { return e.Err }

// tlsReason is why a handshake failed, in words fit for a header field: a
// certificate's verification error without crypto/tls's preamble, control
// and non-ASCII bytes (a certificate's names are the origin's to choose)
// replaced, at most maxTLSReason bytes.
func tlsReason(err error) string {
	var cve *tls.CertificateVerificationError
	if errors.As(err, &cve) && cve.Err != nil {
		err = cve.Err
	}
	s := []byte(err.Error())
	if len(s) > maxTLSReason {
		s = append(s[:maxTLSReason-3], "..."...)
	}
	for i, c := range s {
		if c < ' ' || c >= 0x7f {
			s[i] = '?'
		}
	}
	return string(s)
}

// maxTLSReason bounds the reason an UpstreamTLSError gives.
const maxTLSReason = 256

// errorResponse maps any failure to the status and detail the client gets.
// It is the one place that does so (STYLE.md, Errors).
func errorResponse(err error) (status int, detail string) {
	var e *Error
	var pe *parser.Error
	var pol *policy.Error
	var te *UpstreamTLSError
	switch {
	case errors.As(err, &e):
		return e.Status, e.Detail
	case errors.As(err, &te):
		if isTimeout(te.Err) {
			return ErrTLSHandshakeTimeout.Status, ErrTLSHandshakeTimeout.Detail
		}
		return 502, te.Error()
	case errors.As(err, &pol):
		return pol.Status, pol.Reason
	case errors.As(err, &pe):
		return pe.Status, pe.Reason
	case errors.Is(err, resolver.ErrNotFound):
		return ErrDNSNotFound.Status, ErrDNSNotFound.Detail
	case errors.Is(err, resolver.ErrTimeout):
		return ErrDNSTimeout.Status, ErrDNSTimeout.Detail
	case errors.Is(err, resolver.ErrCacheOverflow):
		return ErrDNSOverflow.Status, ErrDNSOverflow.Detail
	case errors.Is(err, resolver.ErrPendingOverflow):
		return ErrDNSPending.Status, ErrDNSPending.Detail
	case errors.Is(err, resolver.ErrServerFailure), errors.Is(err, resolver.ErrStopped):
		return ErrDNSFailure.Status, ErrDNSFailure.Detail
	case isResourceErr(err):
		return ErrNoFDs.Status, ErrNoFDs.Detail
	case errors.Is(err, syscall.ECONNREFUSED):
		return ErrUpstreamRefused.Status, ErrUpstreamRefused.Detail
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return ErrUpstreamReset.Status, ErrUpstreamReset.Detail
	case errors.Is(err, os.ErrDeadlineExceeded), isTimeout(err):
		return ErrConnectTimeout.Status, ErrConnectTimeout.Detail
	}
	return ErrUpstreamConnect.Status, ErrUpstreamConnect.Detail
}

// isResourceErr reports whether err is a shortage of descriptors or memory
// (the process's, not the upstream's fault).
func isResourceErr(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.ENOMEM)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// statusText is the reason phrase sluice sends with its own responses.
func statusText(code int) string {
	switch code {
	case 400:
		return "Bad Request"
	case 403:
		return "Forbidden"
	case 405:
		return "Method Not Allowed"
	case 407:
		return "Proxy Authentication Required"
	case 408:
		return "Request Timeout"
	case 414:
		return "URI Too Long"
	case 429:
		return "Too Many Requests"
	case 431:
		return "Request Header Fields Too Large"
	case 501:
		return "Not Implemented"
	case 502:
		return "Bad Gateway"
	case 503:
		return "Service Unavailable"
	case 504:
		return "Gateway Timeout"
	case 505:
		return "HTTP Version Not Supported"
	case 508:
		return "Loop Detected"
	}
	return "Error"
}

// AppendRefusal appends the whole response (closing the connection) that
// refuses a client for err before any session exists: the accept loop's
// answer to a client beyond the connection cap or outside the client ACL.
func AppendRefusal(dst []byte, err error, now time.Time) []byte {
	status, detail := errorResponse(err)
	return appendErrorResponse(dst, status, detail, true, false, nil, now.UTC().AppendFormat(nil, imfFixdate))
}
