package policy

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
)

// TestCheckUpstreamTLS: the deciding allow rule says whether the request
// goes out over TLS; a rule that does not decide, or the default action,
// does not.
func TestCheckUpstreamTLS(t *testing.T) {
	p := mustCompile(t, Config{Rules: []Rule{
		{Name: "tls", Hosts: []string{"secure.test"}, Ports: "443", UpstreamTLS: true, Action: "allow"},
		{Name: "plain", Hosts: []string{".test"}, Action: "allow"},
	}})
	for _, tc := range []struct {
		host string
		port uint16
		rule string
		tls  bool
	}{
		{"secure.test", 443, "tls", true},
		{"secure.test", 80, "plain", false},
		{"other.test", 443, "plain", false},
		{"example.com", 443, "", false},
	} {
		d := p.Check(&Request{Client: addr("127.0.0.1"), Method: []byte("GET"), Host: []byte(tc.host), Port: tc.port})
		if !d.Allow || d.Rule != tc.rule || d.UpstreamTLS != tc.tls {
			t.Errorf("%s:%d: %+v, want rule %q upstream TLS %v", tc.host, tc.port, d, tc.rule, tc.tls)
		}
	}
}

func TestCheck(t *testing.T) {
	htpasswd := writeHtpasswd(t, t.TempDir(), map[string]string{"alice": "a", "bob": "b"})
	p := mustCompile(t, Config{
		Auth:          &AuthConfig{Htpasswd: htpasswd},
		RewriteHeader: "X-Global",
		Rules: []Rule{
			{Name: "deny-admin", Hosts: []string{"admin.example.com"}, Action: "deny"},
			{Name: "wild", Hosts: []string{"*.wild.test"}, Action: "allow"},
			{Name: "suffix", Hosts: []string{".suffix.test"}, Ports: "80,8000-8100", Action: "allow"},
			{Name: "methods", Hosts: []string{"api.test"}, Methods: []string{"GET", "HEAD"}, Action: "allow"},
			{Name: "api-deny", Hosts: []string{"api.test"}, Action: "deny"},
			{Name: "clients", Hosts: []string{"internal.test"}, Clients: []string{"10.0.0.0/8", "2001:db8::/32"}, Action: "allow"},
			{Name: "users", Hosts: []string{"secret.test"}, Users: []string{"alice"}, Action: "allow"},
			{Name: "any-user", Hosts: []string{"members.test"}, Users: []string{"*"}, Action: "allow"},
			{Name: "ip", Hosts: []string{"192.0.2.7", "[2001:db8::1]"}, Action: "deny"},
			{Name: "rewrite", Hosts: []string{"gw.test"}, RewriteHeader: "X-Target", Action: "allow"},
			{Name: "connect", Hosts: []string{"tunnel.test"}, Methods: []string{"CONNECT"}, Action: "allow"},
			{Name: "catch-deny", Hosts: []string{".test"}, Action: "deny"},
			{Name: "any-8443", Ports: "8443", Action: "deny"},
			{Name: "star", Hosts: []string{"*"}, Methods: []string{"DELETE"}, Action: "deny"},
		},
	})
	type want struct {
		allow   bool
		rule    string
		rewrite string
	}
	allow := func(rule, rewrite string) want { return want{true, rule, rewrite} }
	deny := func(rule string) want { return want{false, rule, ""} }
	tests := []struct {
		name   string
		method string
		host   string
		port   uint16
		client string
		user   string
		want   want
	}{
		{"exact", "GET", "admin.example.com", 80, "", "", deny("deny-admin")},
		{"exact trailing dot", "GET", "admin.example.com.", 80, "", "", deny("deny-admin")},
		{"exact not subdomain", "GET", "x.admin.example.com", 80, "", "", allow("", "X-Global")},
		{"exact not parent", "GET", "example.com", 80, "", "", allow("", "X-Global")},
		{"wildcard one level", "GET", "a.wild.test", 80, "", "", allow("wild", "X-Global")},
		{"wildcard deep", "GET", "a.b.c.wild.test", 80, "", "", allow("wild", "X-Global")},
		{"wildcard not apex", "GET", "wild.test", 80, "", "", deny("catch-deny")},
		{"wildcard not lookalike", "GET", "notwild.test", 80, "", "", deny("catch-deny")},
		{"suffix apex", "GET", "suffix.test", 80, "", "", allow("suffix", "X-Global")},
		{"suffix sub", "GET", "x.y.suffix.test", 8050, "", "", allow("suffix", "X-Global")},
		{"suffix range end", "GET", "x.suffix.test", 8100, "", "", allow("suffix", "X-Global")},
		{"suffix wrong port", "GET", "x.suffix.test", 443, "", "", deny("catch-deny")},
		{"suffix port past range", "GET", "x.suffix.test", 8101, "", "", deny("catch-deny")},
		{"method allowed", "GET", "api.test", 80, "", "", allow("methods", "X-Global")},
		{"method HEAD", "HEAD", "api.test", 80, "", "", allow("methods", "X-Global")},
		{"method other", "POST", "api.test", 80, "", "", deny("api-deny")},
		{"method case folded", "get", "api.test", 80, "", "", allow("methods", "X-Global")},
		{"client in", "GET", "internal.test", 80, "10.1.2.3", "", allow("clients", "X-Global")},
		{"client mapped", "GET", "internal.test", 80, "::ffff:10.1.2.3", "", allow("clients", "X-Global")},
		{"client v6", "GET", "internal.test", 80, "2001:db8::5", "", allow("clients", "X-Global")},
		{"client out", "GET", "internal.test", 80, "192.168.1.1", "", deny("catch-deny")},
		{"user listed", "GET", "secret.test", 80, "", "alice", allow("users", "X-Global")},
		{"user not listed", "GET", "secret.test", 80, "", "bob", deny("catch-deny")},
		{"no user", "GET", "secret.test", 80, "", "", deny("catch-deny")},
		{"any user", "GET", "members.test", 80, "", "bob", allow("any-user", "X-Global")},
		{"any user needs one", "GET", "members.test", 80, "", "", deny("catch-deny")},
		{"ipv4 literal", "GET", "192.0.2.7", 80, "", "", deny("ip")},
		{"ipv6 literal", "GET", "2001:db8::1", 80, "", "", deny("ip")},
		{"ipv6 literal brackets", "GET", "[2001:db8::1]", 80, "", "", deny("ip")},
		{"other ip", "GET", "192.0.2.8", 80, "", "", allow("", "X-Global")},
		{"rule rewrite", "GET", "gw.test", 80, "", "", allow("rewrite", "X-Target")},
		{"connect method", "CONNECT", "tunnel.test", 443, "", "", allow("connect", "X-Global")},
		{"connect method only", "GET", "tunnel.test", 443, "", "", deny("catch-deny")},
		{"port rule any host", "GET", "example.org", 8443, "", "", deny("any-8443")},
		{"star rule", "DELETE", "example.org", 80, "", "", deny("star")},
		{"earlier rule wins over star", "DELETE", "a.wild.test", 80, "", "", allow("wild", "X-Global")},
		{"default", "GET", "example.org", 80, "", "", allow("", "X-Global")},
		{"empty host", "GET", "", 80, "", "", allow("", "X-Global")},
		{"empty host star", "DELETE", "", 80, "", "", deny("star")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client := netip.MustParseAddr("127.0.0.1")
			if tc.client != "" {
				client = netip.MustParseAddr(tc.client)
			}
			r := &Request{Client: client, Method: []byte(tc.method), Host: []byte(tc.host), Port: tc.port,
				User: []byte(tc.user), Connect: tc.method == "CONNECT"}
			d := p.Check(r)
			if got := (want{d.Allow, d.Rule, d.RewriteHeader}); got != tc.want {
				t.Errorf("Check = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestCheckFirstMatchWins(t *testing.T) {
	// The same request matches both rules; order decides.
	a := Rule{Name: "a", Hosts: []string{".example.test"}, Action: "allow"}
	b := Rule{Name: "b", Hosts: []string{"www.example.test"}, Action: "deny"}
	r := &Request{Client: addr("127.0.0.1"), Method: []byte("GET"), Host: []byte("www.example.test"), Port: 80}
	if d := mustCompile(t, Config{Rules: []Rule{a, b}}).Check(r); !d.Allow || d.Rule != "a" {
		t.Errorf("a, b: %+v, want allow by a", d)
	}
	if d := mustCompile(t, Config{Rules: []Rule{b, a}}).Check(r); d.Allow || d.Rule != "b" {
		t.Errorf("b, a: %+v, want deny by b", d)
	}
}

func TestCheckDefaultAction(t *testing.T) {
	rules := []Rule{{Name: "ok", Hosts: []string{"ok.test"}, Action: "allow"}}
	r := &Request{Client: addr("127.0.0.1"), Method: []byte("GET"), Host: []byte("other.test"), Port: 80}
	for action, allow := range map[string]bool{"": true, "allow": true, "deny": false} {
		p := mustCompile(t, Config{Rules: rules, DefaultAction: action})
		if d := p.Check(r); d.Allow != allow || d.Rule != "" {
			t.Errorf("default_action %q: %+v, want allow=%v by default", action, d, allow)
		}
		r2 := *r
		r2.Host = []byte("ok.test")
		if d := p.Check(&r2); !d.Allow || d.Rule != "ok" {
			t.Errorf("default_action %q: ok.test %+v", action, d)
		}
	}
	// Rules without names are named by position.
	p := mustCompile(t, Config{Rules: []Rule{{Hosts: []string{"x.test"}, Action: "deny"}, {Action: "deny"}}})
	if d := p.Check(r); d.Rule != "rules[1]" {
		t.Errorf("unnamed rule: %+v", d)
	}
}

// TestCheckMatchesLinearScan compares the indexed matcher with a naive scan
// of the rules in order, on random rule sets and hosts.
func TestCheckMatchesLinearScan(t *testing.T) {
	labels := []string{"a", "b", "c", "ab", "test", "example"}
	rng := rand.New(rand.NewPCG(1, 2))
	name := func() string {
		n := 1 + rng.IntN(3)
		parts := make([]string, n)
		for i := range parts {
			parts[i] = labels[rng.IntN(len(labels))]
		}
		return strings.Join(parts, ".")
	}
	pattern := func() string {
		switch rng.IntN(8) {
		case 0:
			return "*"
		case 1, 2:
			return "*." + name()
		case 3, 4:
			return "." + name()
		default:
			return name()
		}
	}
	for iter := 0; iter < 300; iter++ {
		var rules []Rule
		for i := 0; i < 1+rng.IntN(12); i++ {
			r := Rule{Name: fmt.Sprint(i), Action: []string{"allow", "deny"}[rng.IntN(2)]}
			for j := 0; j < rng.IntN(3); j++ {
				r.Hosts = append(r.Hosts, pattern())
			}
			if rng.IntN(3) == 0 {
				r.Ports = []string{"80", "443", "80,443", "1-100"}[rng.IntN(4)]
			}
			rules = append(rules, r)
		}
		p := mustCompile(t, Config{Rules: rules, DefaultAction: "deny"})
		for k := 0; k < 30; k++ {
			host := name()
			port := []uint16{80, 443, 8080}[rng.IntN(3)]
			want := Decision{}
			for _, r := range rules {
				if naiveRuleMatch(r, host, port) {
					want = Decision{Allow: r.Action == "allow", Rule: r.Name}
					break
				}
			}
			got := p.Check(&Request{Client: addr("127.0.0.1"), Method: []byte("GET"), Host: []byte(host), Port: port})
			if got.Allow != want.Allow || got.Rule != want.Rule {
				t.Fatalf("rules %+v, host %q port %d: Check %+v, scan %+v", rules, host, port, got, want)
			}
		}
	}
}

// naiveRuleMatch is an independent reading of the Rule.Hosts and Rule.Ports
// documentation.
func naiveRuleMatch(r Rule, host string, port uint16) bool {
	if r.Ports != "" {
		ok := false
		for item := range strings.SplitSeq(r.Ports, ",") {
			var lo, hi uint16
			if _, err := fmt.Sscanf(item, "%d-%d", &lo, &hi); err != nil {
				fmt.Sscanf(item, "%d", &lo)
				hi = lo
			}
			ok = ok || (lo <= port && port <= hi)
		}
		if !ok {
			return false
		}
	}
	if len(r.Hosts) == 0 {
		return true
	}
	for _, h := range r.Hosts {
		switch {
		case h == "*":
			return true
		case strings.HasPrefix(h, "*."):
			if strings.HasSuffix(host, h[1:]) {
				return true
			}
		case strings.HasPrefix(h, "."):
			if host == h[1:] || strings.HasSuffix(host, h) {
				return true
			}
		case host == h:
			return true
		}
	}
	return false
}

func TestCheckConnectFlag(t *testing.T) {
	p := mustCompile(t, Config{DefaultAction: "deny", Rules: []Rule{
		{Name: "tunnels", Methods: []string{"CONNECT"}, Ports: "443", Action: "allow"},
	}})
	r := &Request{Client: addr("127.0.0.1"), Host: []byte("x.test"), Port: 443, Connect: true}
	if d := p.Check(r); !d.Allow || d.Rule != "tunnels" {
		t.Errorf("Connect without Method: %+v", d)
	}
	r.Connect, r.Method = false, []byte("GET")
	if d := p.Check(r); d.Allow {
		t.Errorf("GET matched a CONNECT rule: %+v", d)
	}
}
