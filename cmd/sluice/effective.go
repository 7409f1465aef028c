package main

import (
	"fmt"
	"math"
	"slices"

	"github.com/sluiceproxy/sluice/engine"
	"github.com/sluiceproxy/sluice/parser"
	"github.com/sluiceproxy/sluice/policy"
	"github.com/sluiceproxy/sluice/resolver"
)

// defaultClientCIDRs is the client ACL of a policy that names none (policy's
// Config.ClientCIDRs: "Empty means 127.0.0.0/8 and ::1/128"). The policy
// package keeps its list unexported; TestEffectiveClientCIDRs checks that
// this one admits what it admits.
var defaultClientCIDRs = []string{"127.0.0.0/8", "::1/128"}

// effective returns the configuration in force, for /config: c with flags
// applied (run does that first) and every value a component would default
// or derive filled in, so that nothing shows as 0 or "". Engine values come
// from the engine itself (e is engine.Server.Config: its defaults, loops
// from GOMAXPROCS, max_conns from the descriptor budget); resolver, parser
// and policy defaults from their exported Default* constants, by the rules
// their Config documentation states. realm is the compiled policy's
// (policy.Policy.Realm). Listen and Admin are left as configured: run sets
// them to the addresses bound.
//
// Call it before the engine starts: policy.DefaultAuthWorkers depends on
// GOMAXPROCS, which engine.Server.Start raises.
func (c *fileConfig) effective(e engine.Config, realm string) *fileConfig {
	out := &fileConfig{
		Listen:        e.Listen,
		Admin:         new(c.adminAddr()),
		Loops:         e.Loops,
		LogLevel:      c.LogLevel,
		AccessLog:     new(c.accessLogPath()),
		RewriteHeader: c.rewriteHeader(),
		Drain:         c.Drain,
		Timeouts: timeoutsConfig{
			Connect:      e.ConnectTimeout,
			ConnectTotal: e.ConnectTotalTimeout,
			Head:         e.HeadTimeout,
			Idle:         e.IdleTimeout,
			Response:     e.ResponseTimeout,
			UpstreamIdle: e.UpstreamIdle,
			Drain:        e.DrainTimeout,
		},
		Limits: limitsConfig{
			MaxConns:        e.MaxConns,
			MaxConnectTries: e.MaxConnectAttempts,
			MaxConnsPerHost: e.MaxConnsPerHost,
			MaxIdlePerHost:  e.MaxIdlePerHost,
			MaxBuffered:     e.MaxBuffered,
			StreamThreshold: e.StreamThreshold,
			StreamHighWater: e.StreamHighWater,
			SpliceAbove:     e.SpliceAbove,
			MaxRequestLine:  orDefault(e.Limits.MaxRequestLine, parser.DefaultMaxRequestLine),
			MaxHeadBytes:    orDefault(e.Limits.MaxHeadBytes, parser.DefaultMaxHeadBytes),
			MaxHeaders:      orDefault(e.Limits.MaxHeaders, parser.DefaultMaxHeaders),
		},
		Resolver: c.effectiveResolver(),
		Policy:   c.effectivePolicy(realm),
	}
	if out.LogLevel == "" {
		out.LogLevel = "info"
	}
	return out
}

// effectiveResolver is the resolver section with resolver.Config's defaults
// (resolver.Config documents each; resolver.New applies them). Nameservers
// stay empty when none are configured: the resolver then takes
// resolv_conf's, which the section shows.
func (c *fileConfig) effectiveResolver() resolverConfig {
	r := c.Resolver
	r.Nameservers = slices.Clone(r.Nameservers)
	r.Preresolve = slices.Clone(r.Preresolve)
	r.ResolvConf = orDefault(r.ResolvConf, resolver.DefaultResolvConf)
	r.HostsFile = orDefault(r.HostsFile, resolver.DefaultHostsFile)
	r.MinTTL = orDefault(r.MinTTL, resolver.DefaultMinTTL)
	r.MaxTTL = orDefault(r.MaxTTL, resolver.DefaultMaxTTL)
	r.HostTTL = orDefault(r.HostTTL, resolver.DefaultHostTTL)
	r.QueryTimeout = orDefault(r.QueryTimeout, resolver.DefaultQueryTimeout)
	r.FailureBackoffBase = orDefault(r.FailureBackoffBase, resolver.DefaultFailureBackoffBase)
	r.FailureBackoffMax = orDefault(r.FailureBackoffMax, resolver.DefaultFailureBackoffMax)
	r.MaxStale = orDefault(r.MaxStale, resolver.DefaultMaxStale)
	r.MaxHosts = orDefault(r.MaxHosts, resolver.DefaultMaxHosts)
	r.MaxPending = orDefault(r.MaxPending, resolver.DefaultMaxPending)
	r.Workers = orDefault(r.Workers, resolver.DefaultWorkers)
	r.CacheFileInterval = orDefault(r.CacheFileInterval, resolver.DefaultCacheFileInterval)
	if r.MaxNegativeHosts == 0 {
		// "Default MaxHosts/4, at least 1 (DefaultMaxNegativeHosts with
		// the default MaxHosts)".
		const share = resolver.DefaultMaxHosts / resolver.DefaultMaxNegativeHosts // 4
		r.MaxNegativeHosts = max(r.MaxHosts/share, 1)
	}
	return r
}

// effectivePolicy is the policy section with policy.Config's defaults and
// the global rewrite header; realm is the compiled policy's ("" without
// auth).
func (c *fileConfig) effectivePolicy(realm string) policy.Config {
	p := c.policyConfig()
	p.ClientCIDRs = slices.Clone(p.ClientCIDRs)
	if len(p.ClientCIDRs) == 0 {
		p.ClientCIDRs = slices.Clone(defaultClientCIDRs)
	}
	p.DefaultAction = orDefault(p.DefaultAction, policy.DefaultAction)
	p.ConnectPorts = orDefault(p.ConnectPorts, policy.DefaultConnectPorts)
	p.ConnectHTTPPorts = orDefault(p.ConnectHTTPPorts, policy.DefaultConnectHTTPPorts)
	p.Rules = slices.Clone(p.Rules)
	for i := range p.Rules {
		p.Rules[i].Name = orDefault(p.Rules[i].Name, fmt.Sprintf("rules[%d]", i)) // policy.Rule.Name
	}
	if p.Auth != nil {
		a := *p.Auth
		a.Realm = realm
		a.Workers = orDefault(a.Workers, policy.DefaultAuthWorkers())
		a.Queue = orDefault(a.Queue, policy.DefaultAuthQueue)
		a.MaxPerClient = orDefault(a.MaxPerClient, policy.DefaultAuthMaxPerClient)
		p.Auth = &a
	}
	for _, l := range []*policy.RateLimit{&p.RateLimits.PerClient, &p.RateLimits.PerHost, &p.RateLimits.Global} {
		if l.RPS > 0 && l.Burst == 0 { // policy.RateLimit: "Burst 0 means RPS rounded up (at least 1)"
			l.Burst = max(1, int(math.Ceil(l.RPS)))
		}
	}
	return p
}

// orDefault returns v, or def if v is the zero value.
func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
