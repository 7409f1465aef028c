package loadgen

import (
	"fmt"
	"math"
	"net"
	"net/url"
	"strings"
	"time"
)

// Defaults for the zero values of Config fields.
const (
	DefaultMethod         = "GET"
	DefaultConnections    = 1
	DefaultPipeline       = 1
	DefaultTimeout        = 5 * time.Second
	DefaultReadBufferSize = 64 << 10
)

// Latency histogram range and precision: 1 µs to 60 s at 3 significant digits.
// Latencies outside the range are clamped into it.
const (
	histMinMicros = 1
	histMaxMicros = 60_000_000
	histSigDigits = 3
)

// Config describes one load run. The zero value of every field but URL means the
// documented default. Run reads it once at start and never again; it does not
// retain Body or Headers.
type Config struct {
	// Target is the "host:port" to connect to: the proxy, or the origin itself.
	// Empty means the host and port of URL (port 80 if URL has none).
	Target string

	// URL is the resource to request, e.g. "http://origin.test:8080/small". Only
	// the http scheme is supported. With Proxy the request-target is this URL in
	// absolute-form (RFC 9112 §3.2.2); otherwise it is the origin-form path and
	// query (RFC 9112 §3.2.1). Either way the Host header is URL's host.
	URL string

	// Proxy selects absolute-form request-targets, as a client of a forward proxy
	// sends them.
	Proxy bool

	// Method is the request method; empty means DefaultMethod. A HEAD response is
	// read without a body (RFC 9112 §6.3).
	Method string

	// Body is sent with every request, framed by Content-Length. A nil Body sends
	// no Content-Length (a non-nil empty one sends "Content-Length: 0").
	Body []byte

	// Headers are extra header lines, each "Name: value". A Host line replaces the
	// generated Host header.
	Headers []string

	// Connections is the number of concurrent connections; 0 means
	// DefaultConnections.
	Connections int

	// Pipeline is the number of requests in flight per connection, written in one
	// write and then answered in order; 0 means DefaultPipeline (no pipelining).
	Pipeline int

	// Duration stops the run after this long. 0 means no time limit: the run ends
	// when Requests are done or the context is cancelled.
	Duration time.Duration

	// Requests is the total number of requests to send across all connections;
	// 0 means no limit (until Duration or cancellation). A request counts against
	// it whether it ends in a response or an error.
	Requests int64

	// Rate limits the total request rate in requests per second, paced on one
	// timetable shared by all connections; 0 means as fast as possible.
	Rate float64

	// Timeout bounds each dial, each write and the wait for each response; 0 means
	// DefaultTimeout.
	Timeout time.Duration

	// ReadBufferSize is the size of each connection's read buffer, which also
	// caps the size of a response head; 0 means DefaultReadBufferSize.
	ReadBufferSize int

	// Progress, if set, is called about once a second from a single goroutine
	// while the run lasts, with totals so far. It must return quickly.
	Progress func(Snapshot)
}

// plan is a validated Config with defaults applied and the request bytes built.
// It is built once by Config.plan and read-only afterwards, shared by every
// connection of the run.
type plan struct {
	target   string
	head     bool   // HEAD request: responses have no body
	request  []byte // one request, head and body
	batch    []byte // Pipeline copies of request, for one write
	conns    int
	pipeline int
	duration time.Duration
	requests int64
	interval float64 // nanoseconds between scheduled requests; 0 without Rate
	timeout  time.Duration
	bufSize  int
	progress func(Snapshot)
}

// plan validates c and applies defaults. Every error wraps ErrConfig and names
// the field at fault.
func (c *Config) plan() (*plan, error) {
	p := &plan{
		conns:    c.Connections,
		pipeline: c.Pipeline,
		duration: c.Duration,
		requests: c.Requests,
		timeout:  c.Timeout,
		bufSize:  c.ReadBufferSize,
		progress: c.Progress,
	}
	bad := func(field string, v any) error {
		return fmt.Errorf("%w: %s %s", ErrConfig, field, capQuote(fmt.Sprint(v)))
	}
	switch {
	case p.conns < 0:
		return nil, bad("Connections", p.conns)
	case p.pipeline < 0:
		return nil, bad("Pipeline", p.pipeline)
	case p.duration < 0:
		return nil, bad("Duration", p.duration)
	case p.requests < 0:
		return nil, bad("Requests", p.requests)
	case c.Rate < 0 || math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0):
		return nil, bad("Rate", c.Rate)
	case p.timeout < 0:
		return nil, bad("Timeout", p.timeout)
	case p.bufSize < 0 || (p.bufSize > 0 && p.bufSize < 512):
		return nil, fmt.Errorf("%w: ReadBufferSize %d (want 0 or at least 512)", ErrConfig, p.bufSize)
	}
	if p.conns == 0 {
		p.conns = DefaultConnections
	}
	if p.pipeline == 0 {
		p.pipeline = DefaultPipeline
	}
	if p.timeout == 0 {
		p.timeout = DefaultTimeout
	}
	if p.bufSize == 0 {
		p.bufSize = DefaultReadBufferSize
	}
	if c.Rate > 0 {
		p.interval = 1e9 / c.Rate
	}

	u, err := url.Parse(c.URL)
	if err != nil {
		return nil, fmt.Errorf("%w: URL: %w", ErrConfig, err)
	}
	if u.Scheme != "http" || u.Host == "" || u.User != nil || u.Opaque != "" {
		return nil, fmt.Errorf("%w: URL %s (want http://host[:port]/path)", ErrConfig, capQuote(c.URL))
	}
	p.target = c.Target
	if p.target == "" {
		port := u.Port()
		if port == "" {
			port = "80"
		}
		p.target = net.JoinHostPort(u.Hostname(), port)
	}
	if _, _, err := net.SplitHostPort(p.target); err != nil {
		return nil, bad("Target", p.target)
	}

	method := c.Method
	if method == "" {
		method = DefaultMethod
	}
	if !isToken(method) || method == "CONNECT" {
		return nil, bad("Method", method)
	}
	p.head = method == "HEAD"
	for _, h := range c.Headers {
		if !validHeaderLine(h) {
			return nil, bad("Headers", h)
		}
	}
	p.request = appendRequest(nil, method, u, c.Proxy, c.Headers, c.Body)
	p.batch = make([]byte, 0, len(p.request)*p.pipeline)
	for range p.pipeline {
		p.batch = append(p.batch, p.request...)
	}
	return p, nil
}

// validHeaderLine reports whether h is "Name: value" with a token name and a
// value free of CR, LF and NUL (RFC 9110 §5.5).
func validHeaderLine(h string) bool {
	name, value, ok := strings.Cut(h, ":")
	if !ok || !isToken(name) {
		return false
	}
	return !strings.ContainsAny(value, "\r\n\x00")
}

// isToken reports whether s is a non-empty RFC 9110 §5.6.2 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tokenByte[s[i]] {
			return false
		}
	}
	return true
}

// tokenByte holds the tchar set of RFC 9110 §5.6.2:
//
//	tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
//	        "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
var tokenByte = [256]bool{
	'!': true, '#': true, '$': true, '%': true, '&': true, '\'': true, '*': true,
	'+': true, '-': true, '.': true, '^': true, '_': true, '`': true, '|': true, '~': true,
	'0': true, '1': true, '2': true, '3': true, '4': true, '5': true, '6': true, '7': true, '8': true, '9': true,
	'A': true, 'B': true, 'C': true, 'D': true, 'E': true, 'F': true, 'G': true, 'H': true, 'I': true,
	'J': true, 'K': true, 'L': true, 'M': true, 'N': true, 'O': true, 'P': true, 'Q': true, 'R': true,
	'S': true, 'T': true, 'U': true, 'V': true, 'W': true, 'X': true, 'Y': true, 'Z': true,
	'a': true, 'b': true, 'c': true, 'd': true, 'e': true, 'f': true, 'g': true, 'h': true, 'i': true,
	'j': true, 'k': true, 'l': true, 'm': true, 'n': true, 'o': true, 'p': true, 'q': true, 'r': true,
	's': true, 't': true, 'u': true, 'v': true, 'w': true, 'x': true, 'y': true, 'z': true,
}

// capQuote quotes s for an error message, cut to 64 bytes.
func capQuote(s string) string {
	const max = 64
	if len(s) > max {
		return fmt.Sprintf("%q...", s[:max])
	}
	return fmt.Sprintf("%q", s)
}
