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
// engine feeds it what it learned from the request.
//
// # Order of checks
//
// The engine is expected to apply the checks in this order, answering the
// client with the Status of the *Error named (errors.go):
//
//  1. ClientAllowed, on accept (ErrClientDenied, 403; or refuse the connection).
//  2. AllowRate, once the destination is known (ErrRateLimited, 429 with
//     Retry-After). It comes before authentication so that a client
//     guessing passwords is slowed down before it costs a bcrypt each.
//  3. AuthenticateCached on the loop, Authenticate off it on a miss, when
//     AuthRequired (ErrAuthRequired, 407 with Proxy-Authenticate: Basic
//     realm="<Realm>"). The Proxy-Authorization header is consumed by the
//     proxy and never forwarded.
//  4. ConnectPortAllowed, for CONNECT (ErrConnectPort, 403).
//  5. Check, the destination rules (ErrDestinationDenied, 403), again after
//     a host rewrite.
//  6. CheckAddr on every resolved address, IP literals included, and again
//     at dial time on the address actually dialed (403, and no connection
//     attempt).
//
// # Hot path
//
// Check, ClientAllowed, ConnectPortAllowed, CheckAddr of an allowed address,
// AllowRate of a known key and Authenticate of a cached credential allocate
// nothing. Check does not scan the rules: host patterns are indexed by DNS
// suffix, so its cost grows with the number of labels in the host and the
// number of rules that could match it, not with the number of rules.
package policy
