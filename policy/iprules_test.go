package policy

import (
	"net/netip"
	"testing"
)

// ipRules is a policy whose rules name addresses, in several spellings.
func ipRules(t testing.TB) *Policy {
	return mustCompile(t, Config{Rules: []Rule{
		{Name: "deny-127.0.0.3", Hosts: []string{"127.0.0.3"}, Action: "deny"},
		{Name: "deny-v6-loopback", Hosts: []string{"::1"}, Action: "deny"},
		{Name: "deny-mapped-spelling", Hosts: []string{"::ffff:10.9.9.9"}, Action: "deny"},
		{Name: "deny-meta", Hosts: []string{"169.254.169.254"}, Ports: "80", Action: "deny"},
		{Name: "allow-10.1.1.1", Hosts: []string{"10.1.1.1"}, Action: "allow"},
		{Name: "deny-10.1.1.1-later", Hosts: []string{"[::ffff:10.1.1.1]"}, Action: "deny"},
		{Name: "deny-nat64-v6", Hosts: []string{"64:ff9b::a00:202"}, Action: "deny"},
		{Name: "allow-10.2.2.2", Hosts: []string{"10.2.2.2"}, Action: "allow"},
		{Name: "deny-post-10.3.3.3", Hosts: []string{"10.3.3.3"}, Methods: []string{"POST"}, Action: "deny"},
		{Name: "names", Hosts: []string{".0.3", "*.0.0.3", "3"}, Action: "allow"},
		{Name: "deny-2001:db8::7", Hosts: []string{"2001:db8:0::7"}, Action: "deny"},
		{Name: "deny-nat64-of-10.1.1.1", Hosts: []string{"64:ff9b::a01:101"}, Action: "deny"},
		{Name: "allow-10.0.2.2-later", Hosts: []string{"10.0.2.2"}, Action: "allow"},
	}})
}

func TestCheckIPLiteralCanonical(t *testing.T) {
	p := ipRules(t)
	tests := []struct {
		name   string
		method string
		host   string
		port   uint16
		rule   string // "" for the default action (allow)
	}{
		// must-deny: every spelling of a denied address.
		{"v4", "GET", "127.0.0.3", 80, "deny-127.0.0.3"},
		{"v4 trailing dot", "GET", "127.0.0.3.", 80, "deny-127.0.0.3"},
		{"v4 brackets", "GET", "[127.0.0.3]", 80, "deny-127.0.0.3"},
		{"mapped dotted", "GET", "[::ffff:127.0.0.3]", 80, "deny-127.0.0.3"},
		{"mapped hex", "GET", "[::ffff:7f00:3]", 80, "deny-127.0.0.3"},
		{"mapped long", "GET", "[0:0:0:0:0:ffff:7f00:0003]", 80, "deny-127.0.0.3"},
		{"mapped no brackets", "GET", "::ffff:127.0.0.3", 80, "deny-127.0.0.3"},
		{"mapped zone", "GET", "[::ffff:127.0.0.3%25eth0]", 80, "deny-127.0.0.3"},
		{"compatible", "GET", "[::127.0.0.3]", 80, "deny-127.0.0.3"},
		{"compatible hex", "GET", "[::7f00:3]", 80, "deny-127.0.0.3"},
		{"nat64", "GET", "[64:ff9b::7f00:3]", 80, "deny-127.0.0.3"},
		{"nat64 dotted", "GET", "[64:ff9b::127.0.0.3]", 80, "deny-127.0.0.3"},
		{"nat64 local /96", "GET", "[64:ff9b:1::7f00:3]", 80, "deny-127.0.0.3"},
		{"nat64 local /48", "GET", "[64:ff9b:1:7f00:0:300::]", 80, "deny-127.0.0.3"},
		{"nat64 local /56", "GET", "[64:ff9b:1:7f:0:3::]", 80, "deny-127.0.0.3"},
		{"nat64 local /64", "GET", "[64:ff9b:1:0:7f:0:300:0]", 80, "deny-127.0.0.3"},
		{"v6 loopback", "GET", "::1", 80, "deny-v6-loopback"},
		{"v6 loopback long", "GET", "0:0:0:0:0:0:0:1", 80, "deny-v6-loopback"},
		{"v6 loopback zeros", "GET", "[0000::0001]", 80, "deny-v6-loopback"},
		{"v6 loopback zone", "GET", "[::1%25lo]", 80, "deny-v6-loopback"},
		{"pattern mapped, host v4", "GET", "10.9.9.9", 80, "deny-mapped-spelling"},
		{"pattern mapped, host mapped", "GET", "[::ffff:a09:909]", 80, "deny-mapped-spelling"},
		{"v6 upper case", "GET", "[2001:DB8::7]", 80, "deny-2001:db8::7"},
		{"v6 long", "GET", "[2001:0db8:0000:0000:0000:0000:0000:0007]", 80, "deny-2001:db8::7"},
		{"meta on its port", "GET", "[::ffff:169.254.169.254]", 80, "deny-meta"},
		// The first rule over all keys wins.
		{"allow first", "GET", "10.1.1.1", 80, "allow-10.1.1.1"},
		{"allow first, mapped", "GET", "[::ffff:10.1.1.1]", 80, "allow-10.1.1.1"},
		{"v4 rule before v6 rule", "GET", "[64:ff9b::a01:101]", 80, "allow-10.1.1.1"},
		{"v6 rule before v4 rule", "GET", "[64:ff9b::a00:202]", 80, "deny-nat64-v6"},
		{"v6 pattern is not matched by its v4", "GET", "10.0.2.2", 80, "allow-10.0.2.2-later"},
		{"embedded v4 allow", "GET", "[64:ff9b::a02:202]", 80, "allow-10.2.2.2"},
		{"other conditions", "POST", "[::ffff:10.3.3.3]", 80, "deny-post-10.3.3.3"},
		{"other conditions fail", "GET", "[::ffff:10.3.3.3]", 80, ""},
		// must-not-match
		{"meta other port", "GET", "169.254.169.254", 443, ""},
		{"neighbour", "GET", "127.0.0.4", 80, ""},
		{"v6 ::3 is not 127.0.0.3", "GET", "[::3]", 80, ""},
		{"6to4 is not a rule key", "GET", "[2002:7f00:3::1]", 80, ""},
		{"nat64 outside prefix", "GET", "[64:ff9b:2::7f00:3]", 80, ""},
		{"names do not match addresses", "GET", "10.0.0.3", 80, ""},
		{"leading zero is a name", "GET", "127.0.0.03", 80, ""},
		{"short form is a name", "GET", "127.3", 80, ""},
		{"garbage v6", "GET", "[::ffff:127.0.0.3:1]", 80, ""},
		// Names still match name patterns.
		{"name suffix", "GET", "x.0.3", 80, "names"},
		{"name exact", "GET", "3", 80, "names"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &Request{Client: addr("127.0.0.1"), Method: []byte(tc.method), Host: []byte(tc.host), Port: tc.port}
			d := p.Check(r)
			wantAllow := tc.rule == "" || tc.rule[:5] == "allow" || tc.rule == "names"
			if d.Rule != tc.rule || d.Allow != wantAllow {
				t.Errorf("Check(%s %s:%d) = %+v, want rule %q allow=%v", tc.method, tc.host, tc.port, d, tc.rule, wantAllow)
			}
		})
	}
}

func TestAddrRuleDenies(t *testing.T) {
	p := ipRules(t)
	tests := []struct {
		name   string
		method string
		addr   string
		port   uint16
		denied string // the denying rule, "" if not denied
	}{
		// must-deny
		{"v4", "GET", "127.0.0.3", 80, "deny-127.0.0.3"},
		{"mapped", "GET", "::ffff:127.0.0.3", 80, "deny-127.0.0.3"},
		{"compatible", "GET", "::7f00:3", 80, "deny-127.0.0.3"},
		{"nat64", "GET", "64:ff9b::7f00:3", 80, "deny-127.0.0.3"},
		{"nat64 local /48", "GET", "64:ff9b:1:7f00:0:300::", 80, "deny-127.0.0.3"},
		{"v6 loopback", "GET", "::1", 80, "deny-v6-loopback"},
		{"zone dropped", "GET", "::1%lo", 80, "deny-v6-loopback"},
		{"mapped pattern", "GET", "10.9.9.9", 80, "deny-mapped-spelling"},
		{"ports hold", "GET", "169.254.169.254", 80, "deny-meta"},
		{"v6 rule before v4 rule", "GET", "64:ff9b::a00:202", 80, "deny-nat64-v6"},
		{"methods hold", "POST", "10.3.3.3", 80, "deny-post-10.3.3.3"},
		{"methods fold", "post", "10.3.3.3", 80, "deny-post-10.3.3.3"},
		// must-not-deny
		{"ports fail", "GET", "169.254.169.254", 443, ""},
		{"methods fail", "GET", "10.3.3.3", 80, ""},
		{"allow rule first", "GET", "10.1.1.1", 80, ""},
		{"allow rule first, mapped", "GET", "::ffff:10.1.1.1", 80, ""},
		{"v4 allow rule before v6 deny rule", "GET", "64:ff9b::a01:101", 80, ""},
		{"not named", "GET", "127.0.0.4", 80, ""},
		{"names do not take part", "GET", "10.0.0.3", 80, ""},
		{"6to4 is not a rule key", "GET", "2002:7f00:3::1", 80, ""},
		{"invalid", "GET", "", 80, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var a netip.Addr
			if tc.addr != "" {
				a = netip.MustParseAddr(tc.addr)
			}
			r := &Request{Client: addr("127.0.0.1"), Method: []byte(tc.method), Host: []byte("evil.test"), Port: tc.port}
			rule, denied := p.AddrRuleDenies(r, a)
			if rule != tc.denied || denied != (tc.denied != "") {
				t.Errorf("AddrRuleDenies(%s) = %q %v, want %q", tc.addr, rule, denied, tc.denied)
			}
		})
	}

	// Clients and users are conditions too.
	path := writeHtpasswd(t, t.TempDir(), map[string]string{"alice": "a"})
	q := mustCompile(t, Config{Auth: &AuthConfig{Htpasswd: path}, Rules: []Rule{
		{Name: "alice-ok", Hosts: []string{"127.0.0.3"}, Users: []string{"alice"}, Action: "allow"},
		{Name: "lab-deny", Hosts: []string{"127.0.0.3"}, Clients: []string{"10.0.0.0/8"}, Action: "deny"},
		{Name: "everyone", Hosts: []string{"*"}, Action: "deny"},
	}})
	for _, tc := range []struct {
		client, user, denied string
	}{
		{"10.0.0.1", "", "lab-deny"},
		{"::ffff:10.0.0.1", "", "lab-deny"},
		{"10.0.0.1", "alice", ""},
		{"192.0.2.1", "", ""}, // "*" does not take part
	} {
		r := &Request{Client: addr(tc.client), Method: []byte("GET"), Host: []byte("x.test"), Port: 80, User: []byte(tc.user)}
		if rule, _ := q.AddrRuleDenies(r, addr("127.0.0.3")); rule != tc.denied {
			t.Errorf("client %s user %q: %q, want %q", tc.client, tc.user, rule, tc.denied)
		}
	}

	// Without IP-literal patterns it is a no-op.
	none := mustCompile(t, Config{Rules: []Rule{{Hosts: []string{"*"}, Action: "deny"}, {Hosts: []string{"a.test"}, Action: "deny"}}})
	if none.rules.byAddr != nil {
		t.Error("byAddr built without IP-literal patterns")
	}
	r := &Request{Client: addr("127.0.0.1"), Method: []byte("GET"), Host: []byte("a.test"), Port: 80}
	if rule, denied := none.AddrRuleDenies(r, addr("127.0.0.3")); denied || rule != "" {
		t.Errorf("no IP rules: %q %v", rule, denied)
	}
}

func TestCheckMethodFold(t *testing.T) {
	p := mustCompile(t, Config{Rules: []Rule{
		{Name: "no-delete", Methods: []string{"DELETE", "PATCH"}, Action: "deny"},
		{Name: "get-only", Hosts: []string{"ro.test"}, Methods: []string{"GET"}, Action: "allow"},
		{Name: "ro-rest", Hosts: []string{"ro.test"}, Action: "deny"},
	}})
	tests := []struct {
		method, host, rule string
	}{
		// must-deny
		{"DELETE", "x.test", "no-delete"},
		{"delete", "x.test", "no-delete"},
		{"Delete", "x.test", "no-delete"},
		{"dElEtE", "x.test", "no-delete"},
		{"patch", "x.test", "no-delete"},
		{"POST", "ro.test", "ro-rest"},
		{"GETX", "ro.test", "ro-rest"},
		{"GE", "ro.test", "ro-rest"},
		{"G\xc9T", "ro.test", "ro-rest"}, // only ASCII letters fold
		{"", "ro.test", "ro-rest"},
		// not matched by the deny rule
		{"DELETEX", "x.test", ""},
		{"DELET", "x.test", ""},
		{"DELETE ", "x.test", ""},
		{"get", "ro.test", "get-only"},
		{"Get", "ro.test", "get-only"},
	}
	for _, tc := range tests {
		d := p.Check(&Request{Client: addr("127.0.0.1"), Method: []byte(tc.method), Host: []byte(tc.host), Port: 80})
		if d.Rule != tc.rule {
			t.Errorf("%q %s: rule %q, want %q", tc.method, tc.host, d.Rule, tc.rule)
		}
	}
}

func TestAllowAddrHostsCanonical(t *testing.T) {
	p := mustCompile(t, Config{DenyPresets: []string{"private"}, AllowAddrHosts: []string{"::ffff:10.0.0.1"}})
	for host, exempt := range map[string]bool{
		"10.0.0.1":             true,
		"[::ffff:a00:1]":       true,
		"0:0:0:0:0:ffff:a00:1": true,
		"[64:ff9b::a00:1]":     false, // exemptions are not widened to embedded forms
		"[::a00:1]":            false,
		"10.0.0.2":             false,
	} {
		err := p.CheckAddr([]byte(host), addr("10.0.0.1"))
		if (err == nil) != exempt {
			t.Errorf("CheckAddr(%q) = %v, want exempt=%v", host, err, exempt)
		}
	}
}
