package proxy

import (
	"net/netip"
	"time"
)

// Record describes one finished request or tunnel, for access logs and
// metrics. Byte slices point into the session's buffers: valid only during
// the Observer call.
type Record struct {
	Start    time.Time      // the request head was complete
	Client   netip.AddrPort // the client's address
	User     string         // the authenticated proxy user, if any
	Method   []byte
	Scheme   string // "http", or "" for CONNECT and origin-form requests
	Host     []byte // destination host (lower-case)
	Port     uint16
	Path     []byte // origin-form target forwarded; empty for CONNECT
	Proto    string // "HTTP/1.1" or "HTTP/1.0"
	Status   int    // status sent to the client; 0 if none was sent
	BytesIn  int64  // bytes received from the client (head and body; tunnel bytes)
	BytesOut int64  // bytes sent to the client (head and body; tunnel bytes)

	Duration time.Duration // start to the end of the response (or tunnel)
	DNS      time.Duration // waiting for the resolver (0 on a cache hit)
	Connect  time.Duration // waiting for an upstream connection (0 if pooled)
	TTFB     time.Duration // start to the first upstream response byte

	Upstream netip.AddrPort // the upstream address used, if any
	Reused   bool           // the upstream connection came from the pool
	Tunnel   bool           // a CONNECT or Upgrade tunnel
	Error    string         // sluice-error detail, empty on success
	Rule     string         // the policy rule that matched, if any
	Cache    string         // the response cache's part: CacheHit, CacheMiss, CacheBypass, CacheRevalidated, CacheUncacheable; empty when off or not involved
	Encoding string         // the content-coding sluice applied to the response (gzip, zstd), empty for none

	// Shard is the event loop that served the request (Session.SetShard).
	// An observer may keep a set of counters per shard, so that loops on
	// different CPUs never write the same cache line for every request.
	Shard int
}

// Record.Error details of requests that end without a response of sluice's
// own (the other details are those of the errors errorResponse maps).
const (
	DetailClientClosed = "client closed the connection"
	DetailCutResponse  = "connection closed before the response ended"
)

// Observer receives a Record for every request and tunnel. It may be called
// from any goroutine, concurrently, and must not block: an event loop calls it.
type Observer interface {
	Observe(r *Record)
}
