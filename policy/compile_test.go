package policy

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCompileErrors(t *testing.T) {
	dir := t.TempDir()
	htpasswd := writeHtpasswd(t, dir, map[string]string{"alice": "a"})
	badHash := filepath.Join(dir, "bad")
	if err := os.WriteFile(badHash, []byte("# users\nalice:$apr1$abc$def\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	noColon := filepath.Join(dir, "nocolon")
	if err := os.WriteFile(noColon, []byte("alice\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	allow := func(r Rule) Config {
		if r.Action == "" {
			r.Action = "allow"
		}
		return Config{Rules: []Rule{{Name: "a", Action: "allow"}, {Name: "b", Action: "deny"}, r}}
	}
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"client cidr", Config{ClientCIDRs: []string{"10.0.0.0/8", "10.0.0.0/33"}},
			`policy.client_cidrs[1]: "10.0.0.0/33": invalid CIDR (want e.g. 10.0.0.0/8, fd00::/8 or an address)`},
		{"client zone", Config{ClientCIDRs: []string{"fe80::1%eth0"}}, `policy.client_cidrs[0]: "fe80::1%eth0": invalid CIDR: IPv6 zone not allowed`},
		{"default action", Config{DefaultAction: "block"}, `policy.default_action: "block": want allow or deny`},
		{"connect ports", Config{ConnectPorts: "443,70000"},
			`policy.connect_ports: "443,70000": invalid port "70000" (want 1-65535 or a range like 1000-2000)`},
		{"connect port range", Config{ConnectPorts: "2000-1000"}, `policy.connect_ports: "2000-1000": invalid port range "2000-1000": start after end`},
		{"rewrite header", Config{RewriteHeader: "X Target"}, `policy.rewrite_header: "X Target": not a header name`},
		{"host pattern", allow(Rule{Hosts: []string{"*."}}),
			`policy.rules[2].hosts[0]: "*.": invalid host pattern (want name, *.name, .name or *)`},
		{"host pattern 2", allow(Rule{Hosts: []string{"ok.test", "a b"}}), `policy.rules[2].hosts[1]: "a b": invalid host pattern`},
		{"action missing", Config{Rules: []Rule{{Hosts: []string{"x.test"}}}}, `policy.rules[0].action: missing (want allow or deny)`},
		{"action bad", Config{Rules: []Rule{{Action: "permit"}}}, `policy.rules[0].action: "permit": want allow or deny`},
		{"rule ports", allow(Rule{Ports: "80,"}), `policy.rules[2].ports: "80,": empty item in port list`},
		{"rule port range", allow(Rule{Ports: "10-5"}), `policy.rules[2].ports: "10-5": invalid port range "10-5": start after end`},
		{"method", allow(Rule{Methods: []string{"GET", "post"}}), `policy.rules[2].methods[1]: "post": methods are case-sensitive (RFC 9110 §9.1): write "POST"`},
		{"method token", allow(Rule{Methods: []string{"GE T"}}), `policy.rules[2].methods[0]: "GE T": not a method name`},
		{"rule client", allow(Rule{Clients: []string{"nope"}}), `policy.rules[2].clients[0]: "nope": invalid CIDR`},
		{"upgrade space", allow(Rule{Upgrades: []string{"websocket", "web socket"}}), `policy.rules[2].upgrades[1]: "web socket": not a protocol`},
		{"upgrade empty", allow(Rule{Upgrades: []string{""}}), `policy.rules[2].upgrades[0]: not a protocol`},
		{"upgrade empty version", allow(Rule{Upgrades: []string{"h2c/"}}), `policy.rules[2].upgrades[0]: "h2c/": not a protocol`},
		{"upgrade empty name", allow(Rule{Upgrades: []string{"/2"}}), `policy.rules[2].upgrades[0]: "/2": not a protocol`},
		{"upgrade two slashes", allow(Rule{Upgrades: []string{"HTTP/2/0"}}), `policy.rules[2].upgrades[0]: "HTTP/2/0": not a protocol`},
		{"upgrade list", allow(Rule{Upgrades: []string{"websocket,h2c"}}), `policy.rules[2].upgrades[0]: "websocket,h2c": not a protocol`},
		{"upgrade star version", allow(Rule{Upgrades: []string{"*/1"}}), `policy.rules[2].upgrades[0]: "*/1": not a protocol`},
		{"users without auth", allow(Rule{Users: []string{"alice"}}), `policy.rules[2].users[0]: "alice": users need policy.auth`},
		{"user name", Config{Auth: &AuthConfig{Htpasswd: htpasswd}, Rules: []Rule{{Users: []string{"a:b"}, Action: "allow"}}},
			`policy.rules[0].users[0]: "a:b": not a user name`},
		{"duplicate name", Config{Rules: []Rule{{Name: "x", Action: "allow"}, {Name: "x", Action: "deny"}}},
			`policy.rules[1].name: "x": duplicate rule name (also rules[0])`},
		{"rule rewrite", allow(Rule{RewriteHeader: "X:Y"}), `policy.rules[2].rewrite_header: "X:Y": not a header name`},
		{"upstream tls on deny", allow(Rule{Action: "deny", UpstreamTLS: true}), `policy.rules[2].upstream_tls: "true": only an allow rule sends requests`},
		{"deny cidr", Config{DenyCIDRs: []string{"1.2.3.4/40"}}, `policy.deny_cidrs[0]: "1.2.3.4/40": invalid CIDR`},
		{"preset", Config{DenyPresets: []string{"loopback", "public"}}, `policy.deny_presets[1]: "public": unknown preset (want loopback, private or reserved)`},
		{"allow addr host", Config{AllowAddrHosts: []string{"*.*.test"}}, `policy.allow_addr_hosts[0]: "*.*.test": invalid host pattern`},
		{"htpasswd missing", Config{Auth: &AuthConfig{}}, `policy.auth.htpasswd: missing: the htpasswd file of users`},
		{"htpasswd absent", Config{Auth: &AuthConfig{Htpasswd: filepath.Join(dir, "absent")}}, `policy.auth.htpasswd: "` + filepath.Join(dir, "absent") + `": open `},
		{"htpasswd hash", Config{Auth: &AuthConfig{Htpasswd: badHash}},
			`policy.auth.htpasswd: "` + badHash + `": line 2: user "alice": not a bcrypt hash (create it with htpasswd -B)`},
		{"htpasswd line", Config{Auth: &AuthConfig{Htpasswd: noColon}}, `policy.auth.htpasswd: "` + noColon + `": line 1: want user:bcrypt-hash`},
		{"auth workers", Config{Auth: &AuthConfig{Htpasswd: htpasswd, Workers: -1}}, `policy.auth.workers: "-1": must not be negative (0: default `},
		{"auth queue", Config{Auth: &AuthConfig{Htpasswd: htpasswd, Queue: -5}}, `policy.auth.queue: "-5": must not be negative (0: default 64)`},
		{"auth max per client", Config{Auth: &AuthConfig{Htpasswd: htpasswd, MaxPerClient: -1}}, `policy.auth.max_per_client: "-1": must not be negative (0: default 4)`},
		{"realm", Config{Auth: &AuthConfig{Htpasswd: htpasswd, Realm: `a"b`}}, `policy.auth.realm: "a\"b": realm may not hold quotes`},
		{"rps", Config{RateLimits: RateLimits{PerClient: RateLimit{RPS: -1}}}, `policy.rate_limits.per_client.rps: "-1": want a positive number (0: off)`},
		{"burst", Config{RateLimits: RateLimits{Global: RateLimit{RPS: 1, Burst: -2}}}, `policy.rate_limits.global.burst: "-2": must not be negative`},
		{"burst without rps", Config{RateLimits: RateLimits{PerHost: RateLimit{Burst: 5}}}, `policy.rate_limits.per_host.burst: "5": burst without rps`},
		{"store scheme", Config{RateLimits: RateLimits{Store: "http://127.0.0.1:6379/0"}},
			`policy.rate_limits.store: "http://127.0.0.1:6379/0": unknown scheme "http": want redis:// or rediss://`},
		{"store unix", Config{RateLimits: RateLimits{Store: "unix:///run/redis.sock"}}, `policy.rate_limits.store: "unix:///run/redis.sock": unknown scheme "unix"`},
		{"store no scheme", Config{RateLimits: RateLimits{Store: "127.0.0.1:6379"}}, `policy.rate_limits.store: "127.0.0.1:6379": `},
		{"store bare host", Config{RateLimits: RateLimits{Store: "redis-host"}}, `policy.rate_limits.store: "redis-host": no scheme: want redis://host:port/db or rediss://`},
		{"store not a URL", Config{RateLimits: RateLimits{Store: "redis://[::1"}}, `policy.rate_limits.store: "redis://[::1": not a URL`},
		{"store no host", Config{RateLimits: RateLimits{Store: "redis:///0"}}, `policy.rate_limits.store: "redis:///0": no host: want redis://host:port/db`},
		{"store port", Config{RateLimits: RateLimits{Store: "redis://127.0.0.1:99999/0"}}, `policy.rate_limits.store: "redis://127.0.0.1:99999/0": port "99999": want 1-65535`},
		{"store db", Config{RateLimits: RateLimits{Store: "rediss://r.test:6380/zero"}}, `policy.rate_limits.store: "rediss://r.test:6380/zero": db "zero": want a number`},
		{"store query", Config{RateLimits: RateLimits{Store: "redis://r.test/0?dial_timeout=5s"}},
			`policy.rate_limits.store: "redis://r.test/0?dial_timeout=5s": query and fragment are not supported`},
		// The password never shows in an error.
		{"store password redacted", Config{RateLimits: RateLimits{Store: "redis://:hunter2@r.test:6379/x"}},
			`policy.rate_limits.store: "redis://:xxxxx@r.test:6379/x": db "x": want a number`},
		{"store password unparsed", Config{RateLimits: RateLimits{Store: "redis://u:hunter2@[::1/0"}}, `policy.rate_limits.store: "…@[::1/0": not a URL`},
		{"on store error", Config{RateLimits: RateLimits{OnStoreError: "open"}}, `policy.rate_limits.on_store_error: "open": want allow, deny or local`},
		{"lease", Config{RateLimits: RateLimits{Lease: -time.Second}}, `policy.rate_limits.lease: "-1s": must not be negative`},
		{"store timeout", Config{RateLimits: RateLimits{StoreTimeout: -time.Millisecond}}, `policy.rate_limits.store_timeout: "-1ms": must not be negative`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compile(tc.cfg)
			if err == nil {
				t.Fatalf("Compile succeeded, want %q", tc.want)
			}
			if got := err.Error(); len(got) < len(tc.want) || got[:len(tc.want)] != tc.want {
				t.Errorf("error\n got %s\nwant %s...", got, tc.want)
			}
			var ce *ConfigError
			if !errors.As(err, &ce) || !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("error %T is not a *ConfigError matching ErrInvalidConfig", err)
			}
		})
	}
}

func TestCompileZeroConfig(t *testing.T) {
	p := mustCompile(t, Config{})
	r := &Request{Client: addr("127.0.0.1"), Method: []byte("GET"), Host: []byte("example.com"), Port: 80}
	if d := p.Check(r); !d.Allow || d.Rule != "" || d.RewriteHeader != "" {
		t.Errorf("zero Config: Check = %+v, want allow by default", d)
	}
	if !p.ConnectPortAllowed(443) || p.ConnectPortAllowed(22) {
		t.Error("zero Config: CONNECT ports are not 443 only")
	}
	if !p.ClientAllowed(addr("127.0.0.1")) || p.ClientAllowed(addr("192.0.2.1")) {
		t.Error("zero Config: clients are not loopback only")
	}
	if ok, _ := p.AllowRate(addr("127.0.0.1"), []byte("x"), time.Now()); !ok {
		t.Error("zero Config: rate limited")
	}
}

// TestCompileReportsEveryError: Compile names every bad field, not only the
// first, so that a config file is fixed in one round.
func TestCompileReportsEveryError(t *testing.T) {
	_, err := Compile(Config{
		ClientCIDRs:   []string{"10.0.0.0/33"},
		DefaultAction: "block",
		Rules: []Rule{
			{Hosts: []string{"*.", "ok.test", "a..b"}, Action: "permit", Ports: "80-"},
			{Methods: []string{"get"}, Action: "allow"},
		},
		DenyPresets: []string{"public"},
		RateLimits:  RateLimits{Global: RateLimit{RPS: -1}},
	})
	var errs ConfigErrors
	if !errors.As(err, &errs) {
		t.Fatalf("error %T %v is not ConfigErrors", err, err)
	}
	var got []string
	for _, e := range errs {
		got = append(got, e.Field)
	}
	want := []string{"policy.client_cidrs[0]", "policy.default_action", "policy.rules[0].action",
		"policy.rules[0].hosts[0]", "policy.rules[0].hosts[2]", "policy.rules[0].ports",
		"policy.rules[1].methods[0]", "policy.deny_presets[0]", "policy.rate_limits.global.rps"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("fields\n got %q\nwant %q", got, want)
	}
	if !errors.Is(err, ErrInvalidConfig) {
		t.Error("not ErrInvalidConfig")
	}
}
