package main

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/sluiceproxy/sluice/compression"
	"github.com/sluiceproxy/sluice/engine"
	"github.com/sluiceproxy/sluice/policy"
	"github.com/sluiceproxy/sluice/proxy"
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
// GOMAXPROCS, which engine.Server.Start raises on the gnet engine.
func (c *fileConfig) effective(e engine.Config, realm string) *fileConfig {
	out := &fileConfig{
		Settings:  engine.SettingsOf(e),
		Admin:     new(c.adminAddr()),
		LogLevel:  cmp.Or(c.LogLevel, "info"),
		AccessLog: new(c.accessLogPath()),
		Drain:     c.Drain,
		Cache: cacheConfig{MaxBytes: c.Cache.MaxBytes, MaxObjectBytes: c.Cache.maxObject(),
			LockTimeout: cmp.Or(c.Cache.LockTimeout, proxy.DefaultCacheLockTimeout)},
		Compress: c.effectiveCompress(),
		TLS:      tlsOriginationConfig{Ports: append([]int{}, c.TLS.Ports...), CAFile: c.TLS.CAFile},
		Resolver: c.effectiveResolver(),
		Policy:   c.effectivePolicy(realm),
	}
	out.RewriteHeader = c.rewriteHeader() // e's is the one at start; a reload may change it
	return out
}

// effectiveResolver is the resolver section with resolver.Config's defaults
// (resolver.Config.WithDefaults). Nameservers and preresolve hosts stay as
// configured; nameservers stay empty when none are configured: the
// resolver then takes resolv_conf's, which the section shows.
func (c *fileConfig) effectiveResolver() resolver.Config {
	r, _ := c.Resolver.WithDefaults() // validated at load
	r.Nameservers = slices.Clone(c.Resolver.Nameservers)
	r.Preresolve = slices.Clone(c.Resolver.Preresolve)
	r.Logger, r.Clock = nil, nil
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
	// The store's settings, with or without a store (they are inert then).
	p.RateLimits.OnStoreError = orDefault(p.RateLimits.OnStoreError, policy.DefaultOnStoreError)
	p.RateLimits.Lease = orDefault(p.RateLimits.Lease, policy.DefaultLease)
	p.RateLimits.StoreTimeout = orDefault(p.RateLimits.StoreTimeout, policy.DefaultStoreTimeout)
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

// effectiveCompress is the compression section with its defaults filled
// in (those it would have when enabled, if it is not).
func (c *fileConfig) effectiveCompress() compressConfig {
	on := c.Compress
	on.Enabled = true
	z, _ := on.compressor()
	if z == nil {
		return c.Compress
	}
	out := compressConfig{Enabled: c.Compress.Enabled, Types: z.Policy.Types, MinLength: int(z.Policy.MinLength),
		GzipLevel: cmp.Or(c.Compress.GzipLevel, compression.DefaultLevels.Gzip),
		ZstdLevel: cmp.Or(c.Compress.ZstdLevel, compression.DefaultLevels.Zstd.String()), LoopMax: z.LoopMax}
	for _, cd := range z.Offered {
		out.Codings = append(out.Codings, cd.String())
	}
	return out
}
