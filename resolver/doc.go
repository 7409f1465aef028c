// Package resolver is sluice's DNS cache: it turns a host name into
// addresses at request time without ever blocking an event loop.
//
// The engine calls Lookup on every request. A hit is a lock-free read of a
// cache shared by all loops (atomic loads, no allocation). On a miss the
// engine parks the request and calls Resolve, whose callback resumes it, on
// its own loop, with the answer or a typed error (errors.go). Misses for one
// host share one resolution; resolutions run on a fixed pool of goroutines
// fed by a bounded queue; no lock is held across a DNS query.
//
// The DNS client is a stub resolver on github.com/miekg/dns: /etc/hosts
// first, then the nameservers of /etc/resolv.conf (search list, ndots,
// timeout, attempts, rotate), A and AAAA queried in parallel, TCP when a UDP
// answer is truncated. IP literals never touch DNS. It matches Envoy's
// dynamic forward proxy DNS cache (DnsCacheConfig):
//
//   - Record TTLs are honoured, clamped to [MinTTL, MaxTTL].
//   - A host in use (looked up since its current answer was published) is
//     refreshed in the background once 80% of its TTL has passed; Lookup
//     keeps returning the current answer until the new one is published, so
//     a hot host never makes a request wait.
//   - When a refresh fails the last good answer is kept (marked Stale) and
//     the refresh retried after max(backoff, MinTTL), for up to MaxStale past
//     its expiry (RFC 8767).
//   - A failed first resolution (NXDOMAIN, NODATA, SERVFAIL, timeout) is
//     cached negatively for a jittered exponential backoff; Lookup returns
//     an Answer with Err until it ends, then the next Resolve queries again.
//   - Hosts unused for HostTTL are evicted; at most MaxHosts hosts are
//     cached and at most MaxPending callbacks wait, beyond which Resolve
//     fails at once with ErrCacheOverflow or ErrPendingOverflow.
//   - Negative entries never keep a new host out (anyone can make them by
//     asking for made-up names): at most MaxNegativeHosts are cached, a
//     new failure evicting the least recently used other one (or, if all
//     are being resolved again, not cached), and a new host that finds
//     MaxHosts reached evicts one before it is refused. Good, stale and
//     pending entries and Preresolve hosts are never evicted for room
//     (negative.go; Stats.NegativeEvicted counts these evictions).
//   - Preresolve hosts are resolved at Start and kept fresh.
//   - With CacheFile set, good answers survive a restart (Envoy's
//     key_value_config): they are written to the file every
//     CacheFileInterval and at Stop, atomically, and loaded by Start as
//     Stale answers served at once and refreshed on first use, so a
//     restart while every nameserver is down still serves the hosts it
//     knew, for up to MaxStale past the saved answer's expiry
//     (cachefile.go describes the format). A missing file is normal; a
//     bad file or entry is ignored with a warning to Logger.
//
// # Settings
//
// Every setting is a field of Config; the zero value means the default.
//
//	Field               Default             Meaning
//	Nameservers         from ResolvConf     servers to query, "ip" or "ip:port"
//	ResolvConf          /etc/resolv.conf    nameserver, search/domain, options ndots, timeout,
//	                                        attempts, rotate; "-" reads none. A missing or
//	                                        silent file means glibc's defaults: 127.0.0.1 and
//	                                        ::1, no search list, ndots 1, timeout 5s,
//	                                        attempts 2, no rotate
//	HostsFile           /etc/hosts          consulted first, re-read on change; "-": none
//	Family              auto                auto, v4_only, v6_only, v4_preferred, all
//	MinTTL              5s                  TTL floor (at least 1s), and TTL of hosts-file answers
//	MaxTTL              1h                  TTL ceiling
//	HostTTL             5m                  evict hosts unused this long
//	MaxHosts            1024                hosts cached, pending and failed ones included
//	MaxNegativeHosts    MaxHosts/4          failed (negatively cached) hosts, at least 1
//	MaxPending          1024                Resolve callbacks waiting
//	QueryTimeout        5s                  one resolution of one host, queue wait included
//	Workers             32                  resolver goroutines
//	FailureBackoffBase  1s                  first negative-caching time (jittered down to half)
//	FailureBackoffMax   60s                 negative-caching time ceiling
//	MaxStale            24h                 serve-stale limit past expiry; negative: off
//	Preresolve          none                hosts resolved at Start, pinned and kept fresh
//	CacheFile           none (off)          good answers saved here and loaded by Start
//	CacheFileInterval   1m                  how often CacheFile is written (and at Stop)
//	Logger              slog.Default()      warnings (cache file problems)
//	Clock               SystemClock()       time source for TTLs (tests: NewFakeClock)
//
// Fixed policy: refresh at 80% of the TTL (at least 500 ms before expiry);
// a janitor tick every 250 ms, which is also the resolution of the coarse
// clock Lookup checks expiry against; EDNS(0) buffer size 1232.
//
// # Time
//
// TTLs, backoff, refresh, eviction, the cache file's writes and the
// resolution times it saves follow Config.Clock; network deadlines
// (per-attempt timeout, QueryTimeout) follow real time. Tests inject a
// FakeClock and a real in-process DNS server (package dnstest).
package resolver
