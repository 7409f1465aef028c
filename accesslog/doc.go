// Package accesslog writes sluice's access log: one JSON object per line for
// every request and tunnel the engine reports through proxy.Observer.
//
// The engine calls Observe on an event loop, so Observe never blocks and, in
// steady state, allocates nothing: it encodes the record into a pooled buffer
// and hands it to a bounded queue served by one writer goroutine. When the
// queue is full the line is dropped and counted (Logger.Drops); the event loop
// never waits on the disk.
//
// # Fields
//
// Every line has every key, always in this order (strings are "" and numbers
// 0 when unknown):
//
//	time         string  when the request head was complete, RFC 3339 UTC with
//	                     milliseconds: "2025-01-02T15:04:05.123Z"
//	client       string  the client's address, "ip:port" ("[v6]:port")
//	user         string  the authenticated proxy user
//	method       string  the request method ("CONNECT" for a tunnel)
//	scheme       string  "http" or "https" for an absolute-form target, else ""
//	host         string  the destination host, lower-case
//	port         number  the destination port
//	path         string  the origin-form target forwarded; "" for CONNECT
//	protocol     string  "HTTP/1.1" or "HTTP/1.0"
//	status       number  the status sent to the client; 0 if none was sent
//	bytes_in     number  bytes received from the client (head, body, tunnel)
//	bytes_out    number  bytes sent to the client (head, body, tunnel)
//	duration_ms  number  from the head to the end of the response or tunnel
//	dns_ms       number  waiting for the resolver (0 on a cache hit)
//	connect_ms   number  waiting for an upstream connection (0 if pooled)
//	ttfb_ms      number  from the head to the first upstream response byte
//	upstream     string  the upstream address used, "ip:port"
//	reused       bool    the upstream connection came from the pool
//	tunnel       bool    a CONNECT or Upgrade tunnel
//	error        string  the sluice-error detail (Envoy's response flag); "" on success
//	rule         string  the policy rule that matched
//	cache        string  the response cache's part: "hit", "miss", "bypass"
//	                     (the request skipped the lookup), "revalidated" (a
//	                     stale entry the origin confirmed with 304),
//	                     "uncacheable"; "" when the cache is off or had no part
//
// Durations are milliseconds with microsecond precision (three decimals).
// Strings are JSON strings: quotes, backslashes and control bytes are
// escaped, and bytes that are not valid UTF-8 become U+FFFD, so every line is
// valid JSON whatever the client sent.
package accesslog
