package policy

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

// hundredRules is a policy of 100 allow rules, one per host, with ports and
// methods, and a default deny; the request matches only the last rule.
func hundredRules(t testing.TB) (*Policy, *Request) {
	rules := make([]Rule, 100)
	for i := range rules {
		rules[i] = Rule{
			Name:    fmt.Sprintf("svc-%d", i),
			Hosts:   []string{fmt.Sprintf("svc%d.example.test", i), fmt.Sprintf("*.svc%d.example.test", i)},
			Ports:   "80,443,8000-8100",
			Methods: []string{"GET", "HEAD", "POST"},
			Clients: []string{"127.0.0.0/8", "10.0.0.0/8"},
			Action:  "allow",
		}
	}
	p := mustCompile(t, Config{Rules: rules, DefaultAction: "deny"})
	r := &Request{
		Client: netip.MustParseAddr("10.1.2.3"),
		Method: []byte("GET"),
		Host:   []byte("api.svc99.example.test"),
		Port:   443,
	}
	if d := p.Check(r); !d.Allow || d.Rule != "svc-99" {
		t.Fatalf("Check = %+v, want allow by svc-99", d)
	}
	return p, r
}

// hundredScannedRules is the worst case for the index: 100 rules whose host
// pattern matches the request, so each is tried in turn, and only the last
// one's client condition holds.
func hundredScannedRules(t testing.TB) (*Policy, *Request) {
	rules := make([]Rule, 100)
	for i := range rules {
		rules[i] = Rule{
			Name:    fmt.Sprintf("net-%d", i),
			Hosts:   []string{".example.test"},
			Ports:   "80,443",
			Methods: []string{"GET", "HEAD"},
			Clients: []string{fmt.Sprintf("10.%d.0.0/16", i)},
			Action:  "allow",
		}
	}
	p := mustCompile(t, Config{Rules: rules, DefaultAction: "deny"})
	r := &Request{
		Client: netip.MustParseAddr("10.99.2.3"),
		Method: []byte("GET"),
		Host:   []byte("api.svc.example.test"),
		Port:   443,
	}
	if d := p.Check(r); !d.Allow || d.Rule != "net-99" {
		t.Fatalf("Check = %+v, want allow by net-99", d)
	}
	return p, r
}

// BenchmarkPolicyAllow checks an allowed request against 100 rules where the
// last rule matches.
func BenchmarkPolicyAllow(b *testing.B) {
	p, r := hundredRules(b)
	b.ReportAllocs()
	for b.Loop() {
		if !p.Check(r).Allow {
			b.Fatal("denied")
		}
	}
}

// BenchmarkPolicyAllowScan is the same with every rule a candidate: the
// linear-scan cost the index avoids in BenchmarkPolicyAllow.
func BenchmarkPolicyAllowScan(b *testing.B) {
	p, r := hundredScannedRules(b)
	b.ReportAllocs()
	for b.Loop() {
		if !p.Check(r).Allow {
			b.Fatal("denied")
		}
	}
}

// BenchmarkPolicyRequest is the whole per-request policy of an allowed
// request: client ACL, cached auth, rules, rate limits, address guard.
func BenchmarkPolicyRequest(b *testing.B) {
	_, r := hundredRules(b)
	rules := make([]Rule, 100)
	for i := range rules {
		rules[i] = Rule{Name: fmt.Sprint(i), Hosts: []string{fmt.Sprintf("*.svc%d.example.test", i)}, Action: "allow"}
	}
	path := writeHtpasswd(b, b.TempDir(), map[string]string{"alice": "a"})
	full := mustCompile(b, Config{
		ClientCIDRs: []string{"10.0.0.0/8"}, Rules: rules, DefaultAction: "deny",
		DenyPresets: []string{"loopback", "private", "reserved"},
		Auth:        &AuthConfig{Htpasswd: path},
		RateLimits:  RateLimits{PerClient: RateLimit{RPS: 1e9}, PerHost: RateLimit{RPS: 1e9}, Global: RateLimit{RPS: 1e9}},
	})
	h := basic("alice", "a")
	full.Authenticate(h)
	dst := netip.MustParseAddr("93.184.215.14")
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if !full.ClientAllowed(r.Client) {
			b.Fatal("client")
		}
		user, ok, cached := full.AuthenticateCached(h)
		if !ok || !cached {
			b.Fatal("auth")
		}
		_ = user
		if !full.Check(r).Allow {
			b.Fatal("check")
		}
		if ok, _ := full.AllowRate(r.Client, r.Host, now); !ok {
			b.Fatal("rate")
		}
		if full.CheckAddr(r.Host, dst) != nil {
			b.Fatal("addr")
		}
	}
}

func TestPolicyAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts")
	}
	p, r := hundredRules(t)
	ps, rs := hundredScannedRules(t)
	path := writeHtpasswd(t, t.TempDir(), map[string]string{"alice": "a"})
	full := mustCompile(t, Config{
		Auth:           &AuthConfig{Htpasswd: path},
		DenyPresets:    []string{"private"},
		AllowAddrHosts: []string{".corp.test"},
		RateLimits:     RateLimits{PerClient: RateLimit{RPS: 1e9}, PerHost: RateLimit{RPS: 1e9}, Global: RateLimit{RPS: 1e9}},
	})
	h := basic("alice", "a")
	if _, ok := full.Authenticate(h); !ok {
		t.Fatal("auth")
	}
	now := time.Now()
	full.AllowRate(r.Client, r.Host, now)
	ip := ipRules(t)
	ipReq := func(host string) *Request {
		return &Request{Client: addr("127.0.0.1"), Method: []byte("GET"), Host: []byte(host), Port: 80}
	}
	mapped, long, nat64Local, zoned := ipReq("[::ffff:127.0.0.3]"), ipReq("[0000:0:0:0:0:0:0:0001]"),
		ipReq("[64:ff9b:1:7f00:0:300::]"), ipReq("[::1%25lo]")
	name, badV6 := ipReq("www.example.test"), ipReq("[1:2::3::4]")
	folded := *r
	folded.Method = []byte("get")
	resolved := &Request{Client: addr("127.0.0.1"), Method: []byte("GET"), Host: []byte("evil.test"), Port: 80}
	upgrade := p.Check(r)
	verifyDone := func(string, bool) {}
	tests := []struct {
		name string
		f    func()
	}{
		{"Check", func() { p.Check(r) }},
		{"Check scan", func() { ps.Check(rs) }},
		{"Check default", func() {
			r2 := *r
			r2.Host = []byte("nowhere.test")
			p.Check(&r2)
		}},
		{"ClientAllowed", func() { p.ClientAllowed(r.Client) }},
		{"ConnectPortAllowed", func() { p.ConnectPortAllowed(443) }},
		{"CheckAddr allowed", func() { full.CheckAddr(r.Host, netip.MustParseAddr("2606:2800:21f:cb07::1")) }},
		{"CheckAddr exempt", func() { full.CheckAddr([]byte("db.corp.test"), netip.MustParseAddr("10.0.0.1")) }},
		{"AuthenticateCached", func() { full.AuthenticateCached(h) }},
		{"Authenticate cached", func() { full.Authenticate(h) }},
		{"AllowRate", func() { full.AllowRate(r.Client, r.Host, now) }},
		{"Check IP mapped", func() { ip.Check(mapped) }},
		{"Check IP long", func() { ip.Check(long) }},
		{"Check IP NAT64 local", func() { ip.Check(nat64Local) }},
		{"Check IP zoned", func() { ip.Check(zoned) }},
		{"Check IP bad", func() { ip.Check(badV6) }},
		{"Check name with IP rules", func() { ip.Check(name) }},
		{"Check method folded", func() { p.Check(&folded) }},
		{"AddrRuleDenies denied", func() { ip.AddrRuleDenies(resolved, netip.MustParseAddr("64:ff9b::7f00:3")) }},
		{"AddrRuleDenies allowed", func() { ip.AddrRuleDenies(resolved, netip.MustParseAddr("93.184.215.14")) }},
		{"AddrRuleDenies no-op", func() { p.AddrRuleDenies(resolved, netip.MustParseAddr("127.0.0.3")) }},
		{"AllowsUpgrade", func() { upgrade.AllowsUpgrade([]byte(" WebSocket/13 ")) }},
		{"CheckAddr 6to4 allowed", func() { full.CheckAddr(r.Host, netip.MustParseAddr("2002:5db8:d70e::1")) }},
		{"CheckAddr compatible allowed", func() { full.CheckAddr(r.Host, netip.MustParseAddr("::5db8:d70e")) }},
		{"Verify cached", func() { full.Verify(r.Client, h, verifyDone) }},
	}
	for _, tc := range tests {
		if n := testing.AllocsPerRun(200, tc.f); n != 0 {
			t.Errorf("%s: %v allocations, want 0", tc.name, n)
		}
	}
}

// BenchmarkCheckIPLiteral checks an IPv4-mapped IPv6 literal against rules
// naming addresses; BenchmarkPolicyAllow is the name baseline.
func BenchmarkCheckIPLiteral(b *testing.B) {
	p := ipRules(b)
	r := &Request{Client: netip.MustParseAddr("127.0.0.1"), Method: []byte("GET"), Host: []byte("[::ffff:127.0.0.3]"), Port: 80}
	b.ReportAllocs()
	for b.Loop() {
		if p.Check(r).Allow {
			b.Fatal("allowed")
		}
	}
}

// BenchmarkAddrRuleDenies checks a resolved NAT64 address (two keys)
// against rules naming addresses.
func BenchmarkAddrRuleDenies(b *testing.B) {
	p := ipRules(b)
	r := &Request{Client: netip.MustParseAddr("127.0.0.1"), Method: []byte("GET"), Host: []byte("evil.test"), Port: 80}
	a := netip.MustParseAddr("64:ff9b::7f00:3")
	b.ReportAllocs()
	for b.Loop() {
		if _, denied := p.AddrRuleDenies(r, a); !denied {
			b.Fatal("not denied")
		}
	}
}

// BenchmarkVerifyCached is Verify of a cached credential, beside
// AuthenticateCached in the same run.
func BenchmarkVerifyCached(b *testing.B) {
	path := writeHtpasswd(b, b.TempDir(), map[string]string{"alice": "a"})
	p := mustCompile(b, Config{Auth: &AuthConfig{Htpasswd: path}})
	h := basic("alice", "a")
	p.Authenticate(h)
	client := netip.MustParseAddr("10.1.2.3")
	var ok bool
	done := func(_ string, v bool) { ok = v }
	b.Run("Verify", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if p.Verify(client, h, done); !ok {
				b.Fatal("refused")
			}
		}
	})
	b.Run("AuthenticateCached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok, cached := p.AuthenticateCached(h); !ok || !cached {
				b.Fatal("refused")
			}
		}
	})
}
