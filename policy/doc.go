// Package policy decides what may leave through sluice: which clients may use
// the proxy, which destinations they may reach, which resolved addresses may be
// dialed, which ports a CONNECT tunnel may open, who the client is (proxy
// authentication) and how fast it may go (rate limits).
//
// It is the model of Squid's http_access, ATS's ip_allow, Envoy's RBAC and
// resolved_address_filter, and Stripe's Smokescreen, made small: a Config (the
// `policy:` section of the config file) is compiled once by Compile into an
// immutable *Policy that every event loop consults concurrently. The package is
// pure: it knows nothing of sockets, event loops or HTTP parsing, and the
// engine feeds it what it learned from the request. The one exception is the
// store of shared rate limits (RateLimits.Store, RedisStore): a Redis client
// on a goroutine of its own, which the event loops never wait for.
//
// # Order of checks
//
// The engine is expected to apply the checks in this order, answering the
// client with the Status of the *Error named (errors.go):
//
//  1. ClientAllowed, on accept (ErrClientDenied, 403; or refuse the connection).
//  2. Verify, when AuthRequired: a credential in the cache (or a malformed
//     one) is answered at once, done being called before Verify returns;
//     any other costs a bcrypt, run by at most AuthConfig.Workers
//     goroutines, which call done when it is finished. Verify refuses to
//     queue past AuthConfig.Queue (ErrAuthOverloaded, 503) or past
//     AuthConfig.MaxPerClient verifications of one client address
//     (ErrAuthClientBusy, 429); one credential is never verified twice at
//     once. A refused credential is answered ErrAuthRequired (407 with
//     Proxy-Authenticate: Basic realm="<Realm>"). The Proxy-Authorization
//     header is consumed by the proxy and never forwarded.
//     (AuthenticateCached and Authenticate remain: the latter runs bcrypt
//     on the caller's goroutine, unbounded, so its caller must bound it.)
//     Authentication comes before everything that depends on the
//     request, so that a client without credentials learns nothing of
//     the rules (such as which CONNECT ports are open) from a 403.
//  3. AllowRate, once the client is known (ErrRateLimited, 429 with
//     Retry-After). Password guessing is bounded by Verify's pool, queue
//     and per-client cap, not by the rate limits. With a store
//     (CompileShared) the buckets are shared by every sluice process
//     using it, and AllowRate decides from this process's leases of them.
//  4. ConnectPortAllowed, for CONNECT (ErrConnectPort, 403).
//  5. Check, the destination rules (ErrDestinationDenied, 403), again after
//     a host rewrite. A rule's methods match the request method ignoring
//     ASCII case (Rule.Methods: a deny rule on DELETE also stops
//     "delete"); an IP literal host is matched by its address, whatever
//     its spelling, and an IPv6 one also by the IPv4 address it embeds.
//     If the request asks to switch protocols, Decision.AllowsUpgrade on
//     each protocol of its Upgrade field: only what the deciding rule
//     allows is forwarded (Rule.Upgrades; websocket only by default, none
//     under a rule that restricts methods).
//     An allow rule may send the request over TLS (Rule.UpstreamTLS,
//     Decision.UpstreamTLS).
//  6. For a named destination, AddrRuleDenies on every resolved address
//     (ErrDestinationDenied, 403): a rule naming an address stops the
//     names that resolve to it. Then CheckAddr on every resolved address,
//     IP literals included, and again at dial time on the address
//     actually dialed (403, and no connection attempt). CheckAddr sees
//     through the IPv6 forms of IPv4 addresses: mapped, IPv4-compatible,
//     NAT64 (well-known and local-use) and 6to4.
//
// # Hot path
//
// Check, AddrRuleDenies, Decision.AllowsUpgrade, ClientAllowed,
// ConnectPortAllowed, CheckAddr of an allowed address, AllowRate of a known
// key (shared or not), and Verify and Authenticate of a cached credential
// allocate nothing.
// Check does not scan the rules: name patterns are indexed by DNS suffix
// and IP-literal patterns by address, so its cost grows with the number of
// labels in the host and the number of rules that could match it, not with
// the number of rules. An IP literal host is parsed in place, without
// netip.ParseAddr (whose error allocates); name patterns never match it.
package policy
