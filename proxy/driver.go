package proxy

import (
	"net/netip"
	"time"

	"github.com/sluiceproxy/sluice/compression"
	"github.com/sluiceproxy/sluice/parser"
	"github.com/sluiceproxy/sluice/pool"
	"github.com/sluiceproxy/sluice/resolver"
)

// Driver is how a Session acts on the world. Package engine implements it on
// either engine's loops, proxytest.MemDriver in memory. Every method is
// called on the goroutine that owns the session (its event loop) and must
// not block. None of them calls back into the session: results of
// asynchronous work arrive later as events, through the driver's Pump
// (Pump.Resolved, Pump.Connected, Pump.ConnectFailed, Pump.Timeout).
type Driver interface {
	// WriteClient queues b for the client. b is valid only during the call.
	WriteClient(b []byte)
	// CloseClient closes the client connection once everything queued for it
	// has been sent. The session receives no further client events.
	CloseClient()

	// Lookup returns the cached answer for host (lower-case, no port), or nil.
	Lookup(host []byte) *resolver.Answer
	// Resolve starts resolving host; the driver later calls Resolved with gen.
	Resolve(host string, gen uint32)

	// Connect attaches an upstream connection for key: to key.Addr, plain,
	// or with key.ServerName set, over TLS verified for that name (TLS
	// origination, tls.go). With fresh false an idle pooled connection for
	// the same key may be used: ready is then true and the connection is
	// attached before Connect returns. Otherwise a dial (and handshake)
	// starts and the driver later calls Connected or ConnectFailed with gen.
	// A non-nil err (such as the per-host cap) means nothing was started.
	// host is the destination name, for the dial-time address check; nil
	// for a parent proxy (policy.Rule.Via), whose address is not checked.
	//
	// fallback, when valid (an IPv4 address of a name whose key.Addr is
	// IPv6), races key.Addr once HappyEyeballsDelay has passed without a
	// connection, or at once if key.Addr fails sooner (RFC 8305): the first
	// to connect is attached (UpstreamAddr says which), the other closed.
	Connect(key pool.Key, fallback netip.AddrPort, host []byte, fresh bool, gen uint32) (ready bool, err error)
	// UpstreamAddr is the address of the attached upstream connection.
	UpstreamAddr() netip.AddrPort
	// PickAddr chooses which of a destination's addresses (allowed, at
	// port, for TLS server name serverName, "" for plain) the session tries
	// first: one with an idle pooled connection (unless fresh), else the one
	// with the fewest open connections, ties in turn, avoiding addresses
	// that recently failed to connect. It returns an index into addrs.
	PickAddr(addrs []netip.Addr, port uint16, serverName string, fresh bool) int
	// WriteUpstream queues b for the attached upstream. b is valid only during the call.
	WriteUpstream(b []byte)
	// ReleaseUpstream detaches the upstream connection: into the idle pool when
	// reusable, else closed. It is not called after UpstreamClosed.
	ReleaseUpstream(reusable bool)
	// PinUpstream detaches the (reusable) upstream connection from the
	// exchange but keeps it for this client connection alone: it never
	// enters the shared pool; the client's next Connect with the same
	// key and fresh false gets it back, any other Connect closes it,
	// and it closes with the client (connection-bound authentication).
	PinUpstream()

	// Authenticate verifies a Proxy-Authorization credential off the loop
	// (Policy.Verify); the driver later calls Authenticated with gen. A
	// non-nil error (verification overloaded) means nothing was started.
	// cred is valid only during the call.
	Authenticate(cred []byte, gen uint32) error

	// Tunnel hands the client connection and the attached upstream to the
	// driver as a byte tunnel: first preface then the upstream's unconsumed
	// bytes go to the client, the client's unconsumed bytes go to the
	// upstream, then bytes flow both ways until both directions end. The
	// session is finished; preface is valid only during the call.
	Tunnel(preface []byte)

	// Behind reports whether the receiver of a body (the client, or the
	// upstream) has fallen behind: more queued than the high-water mark.
	Behind(toClient bool) bool
	// Drained reports whether the client has nothing queued and could
	// take a response body in stream mode at once (Config.SpliceAbove).
	Drained() bool
	// StreamBody hands the rest of a body to stream mode; the driver later
	// calls StreamDone, or ClientClosed if the stream failed.
	StreamBody(spec StreamSpec)

	// Offload runs f off the session's goroutine (CPU work too long for
	// an event loop: compressing or decompressing a big body). f must not
	// touch the session; it reports back, if it must, with CacheWake. False
	// means f was not started (too many run already): the caller does
	// without, or does the work itself.
	Offload(f func()) bool

	// CacheWake wakes the session from waiting for another request's
	// response (collapsed forwarding, cache.Flights): it may be called from
	// any goroutine, and the driver later calls Pump.CacheWoken with gen on
	// the session's own goroutine. It satisfies cache.Waiter.
	CacheWake(gen uint32)

	// SetTimer arms the session's one timer to fire Timeout after d; 0 disarms it.
	SetTimer(d time.Duration)
	// Now is the driver's clock.
	Now() time.Time
}

// Defaults for stream mode (DESIGN.md, Loop mode and stream mode).
const (
	// DefaultStreamThreshold: a body with more than this left to move, or of
	// unknown length, may leave the loop.
	DefaultStreamThreshold = 64 << 10
	// DefaultStreamHighWater: it leaves when its receiver has more than this
	// queued and unsent.
	DefaultStreamHighWater = 64 << 10
	// DefaultSpliceAbove: never, unless configured. Splicing a body whose
	// client keeps up saves the proxy's copy (0.65-0.70x loop mode's CPU
	// per MiB with 50 concurrent 1 MiB downloads) but costs every body a detach and
	// re-enroll of two sockets, and with wrk as the client (8 KiB reads) it
	// raised p99 of a lone 4 MiB download from ~4 ms to ~15 ms
	// (BENCHMARKS.md): a throughput setting, not a default.
	DefaultSpliceAbove = -1
)

// StreamSpec is a message body the session hands to stream mode: the rest of
// it moves between the two sockets off the loop, with splice(2), in exact
// lengths so that the framing of what follows stays intact.
type StreamSpec struct {
	ToClient bool                  // a response body; else a request body
	Framing  parser.Framing        // FramingLength, FramingChunked or FramingClose
	Remain   int64                 // FramingLength: body bytes left
	Chunks   parser.ChunkedDecoder // FramingChunked: the decoder's state so far
	Unframe  bool                  // send only chunk data (chunked to an HTTP/1.0 client)
	// Encode, unless Identity, compresses the response body on its way
	// (Config.Compress, BodyEncoder): sent chunked, or close-delimited
	// with Unframe.
	Encode compression.Coding
}
