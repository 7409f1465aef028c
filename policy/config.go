package policy

import (
	"runtime"
	"time"
)

// Defaults for Config. A zero field of Config means its default.
const (
	// DefaultConnectPorts are the ports CONNECT may reach (Squid's SSL_ports
	// minus its legacy entries).
	DefaultConnectPorts = "443"
	// DefaultConnectHTTPPorts are the ports CONNECT may reach to carry plain
	// HTTP, inspected: Node's undici and the common WebSocket proxy agents
	// tunnel http:// and ws:// through CONNECT to port 80.
	DefaultConnectHTTPPorts = "80"
	// DefaultAction applies to a request no rule matches.
	DefaultAction = ActionAllow
	// DefaultRealm is the realm of Proxy-Authenticate.
	DefaultRealm = "sluice"

	// DefaultAuthCacheSize bounds the verified-credential cache.
	DefaultAuthCacheSize = 1024
	// DefaultAuthCacheTTL is how long a verified (or refused) credential is
	// trusted without running bcrypt again. A change of the htpasswd file
	// empties the cache sooner (it is looked at at most every
	// authStatInterval).
	DefaultAuthCacheTTL = 5 * time.Minute
	// DefaultAuthQueue is how many bcrypt verifications may wait for a
	// worker (AuthConfig.Queue); those running are not counted.
	DefaultAuthQueue = 64
	// DefaultAuthMaxPerClient is how many verifications one client address
	// may have waiting or running (AuthConfig.MaxPerClient).
	DefaultAuthMaxPerClient = 4

	// DefaultMaxRateKeys bounds each per-key bucket map (clients, hosts).
	DefaultMaxRateKeys = 65536

	// DefaultLease is RateLimits.Lease: with a store, each process takes
	// a tenth of a second's worth of a bucket's tokens at a time.
	DefaultLease = 100 * time.Millisecond
	// DefaultStoreTimeout is RateLimits.StoreTimeout: the longest a call
	// to the store may take, dial included.
	DefaultStoreTimeout = 50 * time.Millisecond
	// DefaultOnStoreError is RateLimits.OnStoreError: fail open.
	DefaultOnStoreError = StoreErrorAllow
)

// What a request gets while the rate-limit store cannot be reached
// (RateLimits.OnStoreError).
const (
	// StoreErrorAllow lets every request through the shared limits: a
	// Redis outage does not become a proxy outage.
	StoreErrorAllow = "allow"
	// StoreErrorDeny refuses every request the shared limits apply to
	// (429): fail closed.
	StoreErrorDeny = "deny"
	// StoreErrorLocal applies each limit in this process alone, as if
	// there were no store: P processes then admit up to P times the limit.
	StoreErrorLocal = "local"
)

// DefaultAuthWorkers is the default of AuthConfig.Workers, taken by
// Compile: half the Ps (GOMAXPROCS), at least one, so that a flood of
// unknown credentials leaves CPU to the event loops.
func DefaultAuthWorkers() int { return max(1, runtime.GOMAXPROCS(0)/2) }

// defaultClientCIDRs is the client ACL of a Config that sets none: loopback
// only, so a default sluice is never an open proxy.
var defaultClientCIDRs = []string{"127.0.0.0/8", "::1/128"}

// Actions of a Rule and of Config.DefaultAction.
const (
	ActionAllow = "allow"
	ActionDeny  = "deny"
)

// Names of Config.DenyPresets.
const (
	// PresetLoopback denies 127.0.0.0/8 and ::1/128: the proxy's own host.
	PresetLoopback = "loopback"
	// PresetPrivate denies RFC 1918 (10/8, 172.16/12, 192.168/16), shared
	// address space 100.64/10 (RFC 6598) and unique local fc00::/7 (RFC 4193).
	PresetPrivate = "private"
	// PresetReserved denies the special-purpose ranges that are not reachable
	// on the internet (RFC 6890): 192.0.0.0/24, the documentation networks
	// 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24 and 2001:db8::/32,
	// benchmarking 198.18.0.0/15, 240.0.0.0/4 (reserved) and broadcast, the
	// discard prefix 100::/64.
	PresetReserved = "reserved"
)

// Config is the `policy:` section of the config file. The zero value is the
// documented default of every field: loopback clients only, every destination
// allowed, CONNECT to 443 only, the built-in address guard, no
// authentication, no rate limits. Compile validates it.
type Config struct {
	// ClientCIDRs are the networks allowed to use the proxy ("10.0.0.0/8";
	// a bare address is a single host). Empty means 127.0.0.0/8 and ::1/128.
	// "0.0.0.0/0" and "::/0" together admit every client.
	ClientCIDRs []string `yaml:"client_cidrs"`

	// Rules decide on destinations; the first rule that matches wins.
	Rules []Rule `yaml:"rules"`

	// DefaultAction applies when no rule matches: "allow" (default) or "deny".
	DefaultAction string `yaml:"default_action"`

	// ConnectPorts are the ports a CONNECT tunnel may open: a comma-separated
	// list of ports and ranges ("443,8443,1000-2000") or "*" for any.
	// Default "443".
	ConnectPorts string `yaml:"connect_ports"`

	// ConnectHTTPPorts are ports a CONNECT may reach when what it carries
	// is HTTP/1.x: sluice answers 200, reads the first bytes, and handles
	// each request inside as HTTP to the CONNECT's destination (every
	// request gets the rules, method and upgrade checks, access log and
	// metrics of an absolute-form request). Bytes that are not HTTP are
	// tunnelled only if the port is also in ConnectPorts; else the
	// connection closes. Same syntax as ConnectPorts; default "80"; "-"
	// for none.
	ConnectHTTPPorts string `yaml:"connect_http_ports"`

	// DenyCIDRs are resolved-address ranges denied in addition to the
	// built-in ones (see CheckAddr) and DenyPresets.
	DenyCIDRs []string `yaml:"deny_cidrs"`

	// DenyPresets name groups of ranges to deny: "loopback", "private",
	// "reserved". Internet-only egress denies all three.
	DenyPresets []string `yaml:"deny_presets"`

	// AllowAddrHosts are host patterns (as in Rule.Hosts) whose resolved
	// addresses are not checked at all: the exceptions to the address guard,
	// such as an internal service that resolves to a private address.
	AllowAddrHosts []string `yaml:"allow_addr_hosts"`

	// Auth, if set, requires every request to carry valid proxy credentials.
	Auth *AuthConfig `yaml:"auth"`

	// RateLimits are token buckets; each one is off unless it has an rps.
	RateLimits RateLimits `yaml:"rate_limits"`

	// RewriteHeader names the request header whose first value becomes the
	// destination and Host, for requests whose rule does not name one.
	RewriteHeader string `yaml:"rewrite_header"`
}

// Rule is one destination rule. Every condition that is set must hold for
// the rule to match; an empty condition matches everything.
type Rule struct {
	// Name identifies the rule in Decisions and the access log. Default
	// "rules[i]". Names are unique.
	Name string `yaml:"name"`

	// Hosts are destination host patterns, compared case-insensitively:
	//
	//	"api.example.com"  the host itself
	//	"*.example.com"    any subdomain of example.com, at any depth, not example.com
	//	".example.com"     example.com and any subdomain
	//	"*"                every host
	//	"192.0.2.1", "::1" an IP literal destination (brackets optional)
	//
	// Empty means every host. An IP literal is matched by address, not by
	// spelling: "::ffff:192.0.2.1" is 192.0.2.1, "0:0::1" is ::1, and an
	// IPv4 pattern also matches the IPv6 literals that embed its address
	// (IPv4-compatible, NAT64; see Policy.Check) and, through
	// Policy.AddrRuleDenies, the names that resolve to it. Name patterns
	// never match an IP literal.
	Hosts []string `yaml:"hosts"`

	// Ports are destination ports, in the syntax of Config.ConnectPorts.
	// Empty means every port.
	Ports string `yaml:"ports"`

	// Methods are request methods, written in upper case as RFC 9110 §9.1
	// spells them: "GET", "CONNECT". Methods are case-sensitive, yet a
	// request's method is matched ignoring ASCII case: origins exist that
	// treat "delete" as DELETE, and a deny rule on DELETE must not be
	// passed by spelling it in lower case (an allow rule on GET then also
	// allows "get", which such an origin takes for GET anyway).
	Methods []string `yaml:"methods"`

	// Upgrades are the protocols a request this rule allows may switch to
	// with Upgrade (RFC 9110 §7.8): "websocket", "h2c", a name/version such
	// as "HTTP/2.0" (only that version), or "*" for any. Names are compared
	// ignoring ASCII case. Without Upgrades, a rule that has no Methods
	// allows websocket only, and a rule that has Methods allows none; the
	// default action allows websocket only. See Decision.AllowsUpgrade.
	Upgrades []string `yaml:"upgrades"`

	// Clients are client networks (CIDRs or addresses).
	Clients []string `yaml:"clients"`

	// Users are authenticated user names; "*" is any authenticated user.
	// Only valid with Config.Auth. A request without a user never matches a
	// rule that has Users.
	Users []string `yaml:"users"`

	// Action is "allow" or "deny"; required.
	Action string `yaml:"action"`

	// RewriteHeader overrides Config.RewriteHeader for requests this rule
	// allows.
	RewriteHeader string `yaml:"rewrite_header"`

	// UpstreamTLS sends the requests this rule allows to their destination
	// over TLS (TLS origination: plain HTTP from the client, verified TLS to
	// the origin, at the port the request names). Only on an allow rule. A
	// CONNECT tunnel is never originated: its bytes are the client's.
	UpstreamTLS bool `yaml:"upstream_tls"`

	// Via sends the requests this rule allows through a parent proxy:
	// "http://[user:password@]host:port". HTTP requests go to it in
	// absolute form, CONNECT tunnels are chained (a CONNECT to the parent,
	// then the bytes); the rules are still applied by sluice. Only on an
	// allow rule; not with upstream_tls.
	Via string `yaml:"via"`
}

// AuthConfig turns on proxy authentication (Proxy-Authorization: Basic).
type AuthConfig struct {
	// Htpasswd is a file of "user:bcrypt-hash" lines (htpasswd -B), '#'
	// comments and blank lines. It is re-read when it changes.
	Htpasswd string `yaml:"htpasswd"`
	// Realm is sent in Proxy-Authenticate. Default "sluice".
	Realm string `yaml:"realm"`

	// Verify's bounds: bcrypt costs milliseconds of CPU by design, so the
	// credentials not in the cache are verified by at most Workers
	// goroutines, Queue more wait for one, and one client address may have
	// at most MaxPerClient verifications waiting or running.
	//
	// Workers defaults to DefaultAuthWorkers(), Queue to DefaultAuthQueue,
	// MaxPerClient to DefaultAuthMaxPerClient.
	Workers      int `yaml:"workers"`
	Queue        int `yaml:"queue"`
	MaxPerClient int `yaml:"max_per_client"`
}

// RateLimits are the token buckets a request takes a token from: one per
// client address, one per destination host, one for the whole proxy. A
// request is refused if any of them is empty, and then takes from none.
//
// Without Store each process has buckets of its own. With Store every
// sluice process that names the same store shares them: the buckets live
// in Redis, and each process leases tokens from them in batches, off the
// event loop (see RedisStore for how, and how far the total may exceed a
// limit).
type RateLimits struct {
	PerClient RateLimit `yaml:"per_client"`
	PerHost   RateLimit `yaml:"per_host"`
	Global    RateLimit `yaml:"global"`

	// Store is the Redis server that holds the shared buckets:
	// "redis://[[user]:password@]host[:port][/db]", or "rediss://" for
	// TLS (port 6379 by default, db 0). Empty: the buckets are this
	// process's own. Sluice deployments with different limits use
	// different dbs: the keys are named by limit kind and key only
	// ("sluice:rl:global", "sluice:rl:client:192.0.2.1",
	// "sluice:rl:host:example.com").
	Store string `yaml:"store"`

	// OnStoreError is what requests get while the store cannot be
	// reached (after a failed or timed-out call, until it answers a
	// ping again): "allow" (default: fail open), "deny" (429: fail
	// closed) or "local" (each process applies the limits alone).
	OnStoreError string `yaml:"on_store_error"`

	// Lease is how much of a bucket's rate a process takes from the
	// store at a time, as a duration: a lease is Lease × rps tokens (at
	// least 1, at most the burst). A process may also run up to one
	// lease ahead of the store on credit, so that no request waits for
	// Redis. Smaller leases are more exact and cost more calls.
	// Default 100ms.
	Lease time.Duration `yaml:"lease"`

	// StoreTimeout bounds each call to the store, dial included; a call
	// that takes longer counts as the store being down. Default 50ms.
	StoreTimeout time.Duration `yaml:"store_timeout"`
}

// RateLimit is a token bucket: RPS tokens a second, up to Burst saved. RPS 0
// turns it off; Burst 0 means RPS rounded up (at least 1).
type RateLimit struct {
	RPS   float64 `yaml:"rps"`
	Burst int     `yaml:"burst"`
}
