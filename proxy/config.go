package proxy

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/sluiceproxy/sluice/cache"
	"github.com/sluiceproxy/sluice/compression"
	"github.com/sluiceproxy/sluice/internal/fielderr"
	"github.com/sluiceproxy/sluice/parser"
	"github.com/sluiceproxy/sluice/policy"
)

// Defaults for Config (DESIGN.md, Timeouts).
const (
	DefaultListen = "127.0.0.1:3128"
	// DefaultEngine is the engine a Config without one runs on.
	DefaultEngine         = "gnet"
	DefaultVia            = "1.1 sluice"
	DefaultConnectTimeout = 5 * time.Second
	// DefaultHappyEyeballsDelay is RFC 8305's recommended Connection
	// Attempt Delay.
	DefaultHappyEyeballsDelay = 250 * time.Millisecond
	DefaultHeadTimeout        = 10 * time.Second
	DefaultIdleTimeout        = 60 * time.Second
	DefaultResponseTimeout    = 30 * time.Second
	DefaultUpstreamIdle       = 30 * time.Second
	DefaultDrainTimeout       = 30 * time.Second
	// DefaultCacheLockTimeout is nginx's proxy_cache_lock_timeout.
	DefaultCacheLockTimeout = 5 * time.Second
	// DefaultMaxConnectAttempts bounds the upstream connection attempts of
	// one request across its addresses (Squid's forward_max_tries).
	DefaultMaxConnectAttempts = 25
	// DefaultConnectTotalTimeout bounds the time one request spends
	// connecting, all attempts together: three connect timeouts.
	DefaultConnectTotalTimeout = 3 * DefaultConnectTimeout
	DefaultMaxIdlePerHost      = 1024 // as many as the per-host cap: a busy origin keeps its connections
	DefaultMaxConnsPerHost     = 1024
	// DefaultMaxBuffered caps the bytes buffered for a client and its
	// upstream in loop mode (inbound not yet consumed plus outbound not yet
	// sent). A large body leaves the loop before that (stream mode); a client
	// that sends past it while its request waits is parked, and anything
	// else past it aborts the pair.
	DefaultMaxBuffered = 256 << 10
	// DefaultReadBuffer is what an event loop reads at once (gnet's read
	// buffer, one per loop).
	DefaultReadBuffer = 256 << 10
	// DefaultTick is the resolution of the per-loop timing wheel.
	DefaultTick = 100 * time.Millisecond
)

// Config configures a Server and its sessions. The zero value of every field
// means its documented default. Validate it with Check before use; the running
// code never re-checks it.
type Config struct {
	Listen string // address to listen on, IP:port or :port (every address); DefaultListen
	// TransparentListen, if set, is a second listener for connections
	// redirected to it by iptables (REDIRECT): each gets its original
	// destination (SO_ORIGINAL_DST) and is routed by what it carries
	// (Session.Transparent): HTTP by its Host, TLS by its SNI.
	TransparentListen string
	Loops             int // event loops (gnet) or shards (netpoll); 0 means GOMAXPROCS
	// Engine names the event-loop library: "gnet" (engine/gnetengine) or
	// "netpoll" (engine/netpollengine); DefaultEngine if empty.
	Engine string

	// RewriteHeader, if set, names a request header whose first value becomes
	// the destination and the forwarded Host (Gloo's autoHostRewriteHeader,
	// Envoy's host_rewrite_header).
	RewriteHeader string
	Via           string        // Via value appended to forwarded messages; DefaultVia
	Limits        parser.Limits // request and response head limits

	ConnectTimeout time.Duration // dialing one upstream address
	// HappyEyeballsDelay is how long a connection attempt to an IPv6
	// address runs alone before one to an IPv4 address of the same name
	// starts beside it (RFC 8305 §5, the Connection Attempt Delay); the
	// first to connect is used. 0 means DefaultHappyEyeballsDelay.
	HappyEyeballsDelay time.Duration
	// ConnectTotalTimeout bounds all the connect attempts of one request;
	// 0 means DefaultConnectTotalTimeout, or three ConnectTimeouts when
	// ConnectTimeout is set. Beyond it: 504.
	ConnectTotalTimeout time.Duration
	// MaxConnectAttempts bounds the connect attempts of one request across
	// the destination's addresses; 0 means DefaultMaxConnectAttempts.
	// Beyond it: 504.
	MaxConnectAttempts int
	HeadTimeout        time.Duration // receiving a whole request head (slowloris)
	IdleTimeout        time.Duration // client keep-alive idle; also body inactivity
	ResponseTimeout    time.Duration // request sent -> response head received
	UpstreamIdle       time.Duration // idle upstream connection kept in the pool
	DrainTimeout       time.Duration // SIGTERM: time for in-flight requests

	MaxIdlePerHost  int // idle upstream connections kept per address per loop
	MaxConnsPerHost int // open upstream connections per address, all loops; beyond: 503
	MaxConns        int // client connections; 0 means derived from RLIMIT_NOFILE
	MaxBuffered     int // bytes buffered per connection pair in loop mode; beyond: stream mode or abort

	ReadBuffer      int // bytes an event loop reads per read(2); DefaultReadBuffer
	StreamThreshold int // a body with more than this left (or unknown length) may stream
	StreamHighWater int // ... when its receiver has more than this queued
	// SpliceAbove: a response body (Content-Length) with more than this
	// left also moves in stream mode when the client keeps up, as soon as
	// it has taken what was relayed: splice(2) then spares the proxy
	// copying it (HAProxy's splice-response). 0 means DefaultSpliceAbove
	// (never); -1: never.
	SpliceAbove int

	// Policy is the egress policy (client ACL, rules, resolved-address
	// guard, proxy auth, rate limits); nil applies none of it.
	Policy *policy.Policy

	// ConnectPortAllowed decides which ports CONNECT may reach when there is
	// no Policy; nil means 443 only (Squid's SSL_ports). A denied port gets 403.
	ConnectPortAllowed func(port uint16) bool

	// Protected are the addresses of the process's other listeners (the
	// admin server): a request whose destination is one of them is refused
	// like one to the proxy itself (508), whichever way it names it.
	Protected []netip.AddrPort

	// DialAddrCheck, if set, is called with every address just before it is
	// dialed (the SSRF guard's hook); an error refuses the connection with 403.
	DialAddrCheck func(netip.AddrPort) error

	Logger   *slog.Logger // nil means slog.Default()
	Observer Observer     // receives a Record per request and tunnel; nil: none

	// Cache, if not nil, is the response cache sessions look up and store
	// into (session_cache.go); shared by every loop.
	Cache *cache.Store
	// CacheLockTimeout bounds how long a miss waits for another request
	// for the same key to bring the response (collapsed forwarding); past
	// it, it goes to the origin itself. 0 means DefaultCacheLockTimeout.
	CacheLockTimeout time.Duration

	// Compress, if not nil, compresses the responses it allows for clients
	// that accept its codings (session_compress.go).
	Compress *compression.Compressor

	// TLSOrigination sends requests to their origins over verified TLS:
	// those to its Ports and those a policy rule marks (tls.go).
	TLSOrigination TLSOrigination

	// dyn holds the settings a reload may change (Server.Reload); made by
	// WithDefaults from Policy and RewriteHeader.
	dyn *atomic.Pointer[Dynamic]
}

// Dynamic are the settings a running server can change (Server.Reload): each
// request is decided by the ones in force when its head arrived.
type Dynamic struct {
	Policy        *policy.Policy // nil: none
	RewriteHeader string         // as Config.RewriteHeader
}

// dynamic returns the settings in force.
// Current returns the Dynamic settings in force (WithDefaults made them from
// Policy and RewriteHeader; SetDynamic swaps them).
func (cfg *Config) Current() *Dynamic { return cfg.dyn.Load() }

// SetDynamic swaps in new Dynamic settings: the next request of every
// session sharing cfg is decided by them (a reload).
func (cfg *Config) SetDynamic(d Dynamic) { cfg.dyn.Store(&d) }

// WithDefaults returns cfg with every zero field set to its default.
func (cfg Config) WithDefaults() Config {
	set := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if cfg.Engine == "" {
		cfg.Engine = DefaultEngine
	}
	if cfg.Via == "" {
		cfg.Via = DefaultVia
	}
	set(&cfg.ConnectTimeout, DefaultConnectTimeout)
	set(&cfg.HappyEyeballsDelay, DefaultHappyEyeballsDelay)
	set(&cfg.ConnectTotalTimeout, 3*cfg.ConnectTimeout)
	if cfg.MaxConnectAttempts == 0 {
		cfg.MaxConnectAttempts = DefaultMaxConnectAttempts
	}
	set(&cfg.HeadTimeout, DefaultHeadTimeout)
	set(&cfg.IdleTimeout, DefaultIdleTimeout)
	set(&cfg.ResponseTimeout, DefaultResponseTimeout)
	set(&cfg.UpstreamIdle, DefaultUpstreamIdle)
	set(&cfg.DrainTimeout, DefaultDrainTimeout)
	set(&cfg.CacheLockTimeout, DefaultCacheLockTimeout)
	if cfg.MaxIdlePerHost == 0 {
		cfg.MaxIdlePerHost = DefaultMaxIdlePerHost
	}
	if cfg.MaxConnsPerHost == 0 {
		cfg.MaxConnsPerHost = DefaultMaxConnsPerHost
	}
	if cfg.MaxBuffered == 0 {
		cfg.MaxBuffered = DefaultMaxBuffered
	}
	if cfg.ReadBuffer == 0 {
		cfg.ReadBuffer = DefaultReadBuffer
	}
	if cfg.StreamThreshold == 0 {
		cfg.StreamThreshold = DefaultStreamThreshold
	}
	if cfg.StreamHighWater == 0 {
		cfg.StreamHighWater = DefaultStreamHighWater
	}
	if cfg.SpliceAbove == 0 {
		cfg.SpliceAbove = DefaultSpliceAbove
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.dyn = new(atomic.Pointer[Dynamic])
	cfg.dyn.Store(&Dynamic{Policy: cfg.Policy, RewriteHeader: cfg.RewriteHeader})
	return cfg
}

// Check validates cfg. Its error is ConfigErrors, every bad field, each
// named by its key in the config file (Settings) and with its value.
func (cfg Config) Check() error {
	var errs ConfigErrors
	bad := func(field, value, format string, args ...any) {
		errs = append(errs, &ConfigError{Field: field, Value: value, Reason: fmt.Sprintf(format, args...), Kind: ErrInvalidConfig})
	}
	switch cfg.Engine {
	case "", "gnet", "netpoll":
	default:
		bad("engine", cfg.Engine, "unknown engine: want gnet or netpoll")
	}
	if cfg.Listen != "" {
		if err := checkListen(cfg.Listen); err != nil {
			bad("listen", cfg.Listen, "%v", err)
		}
	}
	if cfg.TransparentListen != "" {
		if err := checkListen(cfg.TransparentListen); err != nil {
			bad("transparent_listen", cfg.TransparentListen, "%v", err)
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"timeouts.connect", cfg.ConnectTimeout}, {"timeouts.connect_total", cfg.ConnectTotalTimeout},
		{"timeouts.happy_eyeballs", cfg.HappyEyeballsDelay},
		{"timeouts.head", cfg.HeadTimeout},
		{"timeouts.idle", cfg.IdleTimeout}, {"timeouts.response", cfg.ResponseTimeout},
		{"timeouts.upstream_idle", cfg.UpstreamIdle}, {"timeouts.drain", cfg.DrainTimeout},
	} {
		if d.v < 0 {
			bad(d.name, d.v.String(), "must not be negative")
		}
	}
	for _, n := range []struct {
		name string
		v    int
	}{
		{"loops", cfg.Loops}, {"limits.max_idle_per_host", cfg.MaxIdlePerHost},
		{"limits.max_connect_attempts", cfg.MaxConnectAttempts},
		{"limits.max_conns_per_host", cfg.MaxConnsPerHost}, {"limits.max_conns", cfg.MaxConns},
		{"limits.max_buffered", cfg.MaxBuffered}, {"limits.stream_threshold", cfg.StreamThreshold},
		{"limits.stream_high_water", cfg.StreamHighWater}, {"read_buffer", cfg.ReadBuffer},
		// parser.Limits takes any value; a negative one is a mistake.
		{"limits.max_request_line", cfg.Limits.MaxRequestLine},
		{"limits.max_head_bytes", cfg.Limits.MaxHeadBytes},
		{"limits.max_headers", cfg.Limits.MaxHeaders},
	} {
		if n.v < 0 {
			bad(n.name, strconv.Itoa(n.v), "must not be negative")
		}
	}
	for i, p := range cfg.TLSOrigination.Ports {
		if p == 0 {
			bad(fmt.Sprintf("tls_origination.ports[%d]", i), "0", "not a port (want 1-65535)")
		}
	}
	if cfg.SpliceAbove < -1 {
		bad("limits.splice_above", strconv.Itoa(cfg.SpliceAbove), "neither a size nor -1 (never)")
	}
	if h := cfg.RewriteHeader; h != "" {
		for i := 0; i < len(h); i++ {
			if !isTokenByte(h[i]) {
				bad("rewrite_header", h, "not a header name")
				break
			}
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// checkListen checks a listen address: "IP:port", "[IPv6]:port", or ":port"
// for every address (as net.Listen takes it). A host name is refused: which
// addresses it would bind depends on DNS at start. The port is a number,
// 0-65535 (0: the kernel chooses).
func checkListen(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return errors.New("want IP:port or :port")
	}
	if host != "" {
		if _, err := netip.ParseAddr(host); err != nil {
			return fmt.Errorf("host %q is not an IP address (use :port for every address)", host)
		}
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("port %q is not a number 0-65535", port)
	}
	return nil
}

// isTokenByte reports whether c may appear in a token (RFC 9110 §5.6.2):
//
//	tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
//	        "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
func isTokenByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}

// ConfigError is a bad field of Config: its key in the config file
// ("timeouts.connect", "listen"), the bad value, and what is wrong with it.
// Its Kind is ErrInvalidConfig.
type ConfigError = fielderr.Error

// ConfigErrors are all the errors of a Config, in the order of its fields.
type ConfigErrors = fielderr.List
