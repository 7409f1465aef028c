package policy

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strings"
	"time"

	"golang.org/x/time/rate"
)

// Policy is a compiled Config. It is immutable after Compile and safe for
// concurrent use by every event loop; its only mutable parts, the rate-limit
// buckets and leases and the credential cache, synchronize themselves.
type Policy struct {
	// Set once by Compile, read-only afterwards.
	clients        []netip.Prefix
	ruleList       []rule
	rules          *hostIndex // host patterns -> indexes into ruleList
	defaultAllow   bool
	rewrite        string
	connectPorts   portSet
	connectHTTP    portSet
	denied4        []deniedRange // built-in, presets, DenyCIDRs: IPv4
	denied6        []deniedRange // and IPv6
	allowAddrHosts *hostIndex    // nil if none

	auth *authenticator // nil: no authentication

	// Rate limits; nil when off. Each synchronizes itself.
	global    *rate.Limiter
	perClient *buckets
	perHost   *buckets
	// The same limits shared through a store (CompileShared); nil
	// without one. The local ones above then serve on_store_error: local.
	shared *sharedLimits
}

// Compile validates cfg and compiles it. Its error is a ConfigErrors holding
// every error of cfg, each a *ConfigError naming the field by its path in the
// config file ("policy.rules[2].hosts[0]") and the bad value. With Auth set,
// Compile reads the htpasswd file.
func Compile(cfg Config) (*Policy, error) {
	p := &Policy{rules: newHostIndex(true), rewrite: cfg.RewriteHeader}
	var errs ConfigErrors

	cidrs := cfg.ClientCIDRs
	if len(cidrs) == 0 {
		cidrs = defaultClientCIDRs
	}
	for i, s := range cidrs {
		pfx, reason := parsePrefix(s)
		if reason != "" {
			errs = append(errs, configErrorf(fmt.Sprintf("policy.client_cidrs[%d]", i), s, "%s", reason))
			continue
		}
		p.clients = append(p.clients, pfx)
	}

	switch cfg.DefaultAction {
	case "", ActionAllow:
		p.defaultAllow = true
	case ActionDeny:
	default:
		errs = append(errs, configErrorf("policy.default_action", cfg.DefaultAction, "want allow or deny"))
	}

	ports := cfg.ConnectPorts
	if ports == "" {
		ports = DefaultConnectPorts
	}
	var reason string
	if p.connectPorts, reason = parsePorts(ports); reason != "" {
		errs = append(errs, configErrorf("policy.connect_ports", ports, "%s", reason))
	}
	switch hp := cfg.ConnectHTTPPorts; hp {
	case "-":
	default:
		if hp == "" {
			hp = DefaultConnectHTTPPorts
		}
		if p.connectHTTP, reason = parsePorts(hp); reason != "" {
			errs = append(errs, configErrorf("policy.connect_http_ports", hp, "%s", reason))
		}
	}

	if h := cfg.RewriteHeader; h != "" && !isToken(h) {
		errs = append(errs, configErrorf("policy.rewrite_header", h, "not a header name"))
	}

	errs = p.compileRules(errs, cfg)
	errs = p.compileAddrGuard(errs, cfg)
	if cfg.Auth != nil {
		a, err := newAuthenticator(*cfg.Auth, time.Now)
		var many ConfigErrors
		if errors.As(err, &many) {
			errs = append(errs, many...)
			err = nil
		}
		if err != nil {
			errs = append(errs, asConfigError("policy.auth", err))
		}
		p.auth = a
	}
	errs = p.compileRateLimits(errs, cfg.RateLimits)
	errs = compileStore(errs, cfg.RateLimits)
	if len(errs) > 0 {
		return nil, errs
	}
	return p, nil
}

// CompileShared is Compile, with the rate limits shared through store
// when cfg.RateLimits.Store names one: store must then be the RedisStore
// of that URL (NewRedisStore), started. Compile alone keeps every limit in
// the process, whatever Store says (it is validated, never dialed), which
// is what checking a config file wants.
func CompileShared(cfg Config, store *RedisStore) (*Policy, error) {
	p, err := Compile(cfg)
	if err != nil || cfg.RateLimits.Store == "" {
		return p, err
	}
	if store == nil || store.url != redactURL(cfg.RateLimits.Store) {
		return nil, fmt.Errorf("policy: CompileShared: the store given is not policy.rate_limits.store %s", redactURL(cfg.RateLimits.Store))
	}
	p.shared = newSharedLimits(cfg.RateLimits, store)
	return p, nil
}

// compileStore validates the store settings of rl, appending their errors
// to errs.
func compileStore(errs ConfigErrors, rl RateLimits) ConfigErrors {
	const field = "policy.rate_limits."
	if rl.Store != "" {
		if _, reason := parseStoreURL(rl.Store); reason != "" {
			errs = append(errs, configErrorf(field+"store", redactURL(rl.Store), "%s", reason))
		}
	}
	switch rl.OnStoreError {
	case "", StoreErrorAllow, StoreErrorDeny, StoreErrorLocal:
	default:
		errs = append(errs, configErrorf(field+"on_store_error", rl.OnStoreError, "want allow, deny or local"))
	}
	if rl.Lease < 0 {
		errs = append(errs, configErrorf(field+"lease", rl.Lease.String(), "must not be negative"))
	}
	if rl.StoreTimeout < 0 {
		errs = append(errs, configErrorf(field+"store_timeout", rl.StoreTimeout.String(), "must not be negative"))
	}
	return errs
}

// compileRules compiles cfg.Rules, appending their errors to errs.
func (p *Policy) compileRules(errs ConfigErrors, cfg Config) ConfigErrors {
	names := make(map[string]int, len(cfg.Rules))
	for i, r := range cfg.Rules {
		field := fmt.Sprintf("policy.rules[%d]", i)
		ru := rule{name: r.Name, rewrite: r.RewriteHeader, tls: r.UpstreamTLS}
		if r.Via != "" {
			var err error
			if ru.via, err = ParseParent(r.Via); err != nil {
				errs = append(errs, configErrorf(field+".via", redactURL(r.Via), "%v", err))
			} else if r.UpstreamTLS {
				errs = append(errs, configErrorf(field+".via", redactURL(r.Via), "not with upstream_tls: the parent makes the connection"))
			}
		}
		if ru.name == "" {
			ru.name = fmt.Sprintf("rules[%d]", i)
		}
		if j, dup := names[ru.name]; dup {
			errs = append(errs, configErrorf(field+".name", ru.name, "duplicate rule name (also rules[%d])", j))
		}
		names[ru.name] = i

		switch r.Action {
		case ActionAllow:
			ru.allow = true
		case ActionDeny:
			if r.UpstreamTLS {
				errs = append(errs, configErrorf(field+".upstream_tls", "true", "only an allow rule sends requests"))
			}
			if r.Via != "" {
				errs = append(errs, configErrorf(field+".via", r.Via, "only an allow rule sends requests"))
			}
		case "":
			errs = append(errs, configErrorf(field+".action", "", "missing (want allow or deny)"))
		default:
			errs = append(errs, configErrorf(field+".action", r.Action, "want allow or deny"))
		}

		if len(r.Hosts) == 0 {
			p.rules.add(hostPattern{kind: patAny}, int32(i))
		}
		for j, h := range r.Hosts {
			hp, reason := parseHostPattern(h)
			if reason != "" {
				errs = append(errs, configErrorf(fmt.Sprintf("%s.hosts[%d]", field, j), h, "%s", reason))
				continue
			}
			p.rules.add(hp, int32(i))
		}

		ru.anyPort = r.Ports == ""
		if !ru.anyPort {
			var reason string
			if ru.ports, reason = parsePorts(r.Ports); reason != "" {
				errs = append(errs, configErrorf(field+".ports", r.Ports, "%s", reason))
			}
			ru.anyPort = ru.ports.any
		}

		for j, m := range r.Methods {
			f := fmt.Sprintf("%s.methods[%d]", field, j)
			if !isToken(m) {
				errs = append(errs, configErrorf(f, m, "not a method name"))
				continue
			}
			if strings.ToUpper(m) != m {
				// Matching ignores case (Rule.Methods), but the file says
				// what is meant, as RFC 9110 §9.1 spells methods.
				errs = append(errs, configErrorf(f, m, "methods are case-sensitive (RFC 9110 §9.1): write %q", strings.ToUpper(m)))
				continue
			}
			ru.methods = append(ru.methods, m)
		}

		var err error
		if ru.upgrades, err = compileUpgrades(field, r); err != nil {
			var many ConfigErrors
			if errors.As(err, &many) {
				errs = append(errs, many...)
			} else {
				errs = append(errs, asConfigError(field+".upgrades", err))
			}
		}

		for j, c := range r.Clients {
			pfx, reason := parsePrefix(c)
			if reason != "" {
				errs = append(errs, configErrorf(fmt.Sprintf("%s.clients[%d]", field, j), c, "%s", reason))
				continue
			}
			ru.clients = append(ru.clients, pfx)
		}

		for j, u := range r.Users {
			f := fmt.Sprintf("%s.users[%d]", field, j)
			if cfg.Auth == nil {
				errs = append(errs, configErrorf(f, u, "users need policy.auth"))
				continue
			}
			switch {
			case u == "*":
				ru.anyUser = true
			case u == "" || strings.ContainsAny(u, ":\r\n"):
				errs = append(errs, configErrorf(f, u, "not a user name"))
			default:
				ru.users = append(ru.users, u)
			}
		}

		if h := r.RewriteHeader; h != "" && !isToken(h) {
			errs = append(errs, configErrorf(field+".rewrite_header", h, "not a header name"))
		}
		if ru.rewrite == "" {
			ru.rewrite = cfg.RewriteHeader
		}
		p.ruleList = append(p.ruleList, ru)
	}
	return errs
}

// compileAddrGuard compiles the address guard, appending its errors to errs.
func (p *Policy) compileAddrGuard(errs ConfigErrors, cfg Config) ConfigErrors {
	add := func(r deniedRange) {
		if r.prefix.Addr().Is4() {
			p.denied4 = append(p.denied4, r)
		} else {
			p.denied6 = append(p.denied6, r)
		}
	}
	for _, r := range builtinDenied {
		add(r)
	}
	for i, name := range cfg.DenyPresets {
		rs, ok := presets[name]
		if !ok {
			errs = append(errs, configErrorf(fmt.Sprintf("policy.deny_presets[%d]", i), name,
				"unknown preset (want %s, %s or %s)", PresetLoopback, PresetPrivate, PresetReserved))
			continue
		}
		for _, r := range rs {
			add(r)
		}
	}
	for i, s := range cfg.DenyCIDRs {
		pfx, reason := parsePrefix(s)
		if reason != "" {
			errs = append(errs, configErrorf(fmt.Sprintf("policy.deny_cidrs[%d]", i), s, "%s", reason))
			continue
		}
		add(deniedRange{pfx, "deny_cidrs " + pfx.String()})
	}
	if len(cfg.AllowAddrHosts) > 0 {
		p.allowAddrHosts = newHostIndex(false)
		for i, h := range cfg.AllowAddrHosts {
			hp, reason := parseHostPattern(h)
			if reason != "" {
				errs = append(errs, configErrorf(fmt.Sprintf("policy.allow_addr_hosts[%d]", i), h, "%s", reason))
				continue
			}
			p.allowAddrHosts.add(hp, 0)
		}
	}
	return errs
}

// compileRateLimits compiles the rate limits, appending their errors to errs.
func (p *Policy) compileRateLimits(errs ConfigErrors, rl RateLimits) ConfigErrors {
	for _, l := range []struct {
		name string
		lim  RateLimit
		set  func(rate.Limit, int)
	}{
		{"global", rl.Global, func(r rate.Limit, b int) { p.global = rate.NewLimiter(r, b) }},
		{"per_client", rl.PerClient, func(r rate.Limit, b int) { p.perClient = newBuckets(r, b, DefaultMaxRateKeys) }},
		{"per_host", rl.PerHost, func(r rate.Limit, b int) { p.perHost = newBuckets(r, b, DefaultMaxRateKeys) }},
	} {
		field := "policy.rate_limits." + l.name
		rps, burst := l.lim.RPS, l.lim.Burst
		if rps < 0 || math.IsNaN(rps) || math.IsInf(rps, 0) {
			errs = append(errs, configErrorf(field+".rps", fmt.Sprint(rps), "want a positive number (0: off)"))
			continue
		}
		if burst < 0 {
			errs = append(errs, configErrorf(field+".burst", fmt.Sprint(burst), "must not be negative"))
			continue
		}
		if rps == 0 {
			if burst != 0 {
				errs = append(errs, configErrorf(field+".burst", fmt.Sprint(burst), "burst without rps"))
				continue
			}
			continue
		}
		if burst == 0 {
			burst = max(1, int(math.Ceil(rps)))
		}
		l.set(rate.Limit(rps), burst)
	}
	return errs
}

// AuthRequired reports whether requests must carry proxy credentials.
func (p *Policy) AuthRequired() bool { return p.auth != nil }

// Realm is the realm of the Proxy-Authenticate challenge ("" without auth).
func (p *Policy) Realm() string {
	if p.auth == nil {
		return ""
	}
	return p.auth.realm
}

// tokenBytes marks the bytes of a token (RFC 9110 §5.6.2):
//
//	token = 1*tchar
//	tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
//	        "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
var tokenBytes = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// isToken reports whether s is a token: a method or a header name.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tokenBytes[s[i]] {
			return false
		}
	}
	return true
}
