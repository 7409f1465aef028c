package main

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sluiceproxy/sluice/engine"
	"github.com/sluiceproxy/sluice/internal/testcert"
	"github.com/sluiceproxy/sluice/policy"
	"github.com/sluiceproxy/sluice/resolver"
)

const examplePath = "../../examples/sluice.yaml"

// writeConfig writes body as c.yaml in a new directory and returns its path.
func writeConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestExampleConfig(t *testing.T) {
	c, err := loadConfigFile(examplePath)
	if err != nil {
		t.Fatalf("examples/sluice.yaml: %v", err)
	}
	ec := c.engineConfig()
	if ec.Listen != "127.0.0.1:3128" || ec.Loops != 2 || ec.ConnectTimeout != 5*time.Second ||
		ec.UpstreamIdle != 30*time.Second || ec.MaxConnsPerHost != 512 || ec.Limits.MaxHeaders != 256 ||
		ec.RewriteHeader != "X-Sluice-Host" {
		t.Errorf("engineConfig = %+v", ec)
	}
	rc := c.resolverConfig()
	if rc.Family != resolver.FamilyV4Preferred || rc.MaxHosts != 4096 || rc.HostTTL != 5*time.Minute ||
		len(rc.Nameservers) != 2 || len(rc.Preresolve) != 2 {
		t.Errorf("resolverConfig = %+v", rc)
	}
	if c.adminAddr() != "127.0.0.1:9901" || c.accessLogPath() != "-" {
		t.Errorf("admin %q access_log %q", c.adminAddr(), c.accessLogPath())
	}
	pc := c.policyConfig()
	if pc.RewriteHeader != "X-Sluice-Host" || len(pc.Rules) != 5 || pc.DefaultAction != "deny" ||
		pc.Auth == nil || pc.RateLimits.PerHost.Burst != 400 {
		t.Errorf("policyConfig = %+v", pc)
	}
	p, err := policy.Compile(pc)
	if err != nil {
		t.Fatal(err)
	}
	req := &policy.Request{Client: netip.MustParseAddr("127.0.0.1"), Method: []byte("GET"),
		Host: []byte("api.partner.example"), Port: 443}
	if d := p.Check(req); !d.Allow || d.Rule != "partner-api" || d.RewriteHeader != "X-Sluice-Host" {
		t.Errorf("Check(api.partner.example) = %+v", d)
	}
	req.Host = []byte("elsewhere.example")
	if d := p.Check(req); d.Allow {
		t.Errorf("Check(elsewhere.example) = %+v, want the default deny", d)
	}
	if !p.ConnectPortAllowed(8443) || p.ConnectPortAllowed(22) {
		t.Error("connect_ports not applied")
	}
	if !p.AuthRequired() {
		t.Error("auth not required")
	}
}

// TestExampleConfigNames checks that the example names only loopback
// addresses and .test or .example domains.
func TestExampleConfigNames(t *testing.T) {
	c, err := loadConfigFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	reserved := func(h string) bool {
		h = strings.TrimPrefix(strings.TrimPrefix(h, "*"), ".")
		return strings.HasSuffix(h, ".test") || strings.HasSuffix(h, ".example")
	}
	loopback := func(s string) bool {
		if ap, err := netip.ParseAddrPort(s); err == nil {
			return ap.Addr().IsLoopback()
		}
		if p, err := netip.ParsePrefix(s); err == nil {
			return p.Addr().IsLoopback()
		}
		a, err := netip.ParseAddr(s)
		return err == nil && a.IsLoopback()
	}
	var hosts []string
	for _, r := range c.Policy.Rules {
		hosts = append(hosts, r.Hosts...)
		for _, cl := range r.Clients {
			if !loopback(cl) {
				t.Errorf("rule %s: client %q is not loopback", r.Name, cl)
			}
		}
	}
	hosts = append(hosts, c.Policy.AllowAddrHosts...)
	hosts = append(hosts, c.Resolver.Preresolve...)
	for _, h := range hosts {
		if !reserved(h) {
			t.Errorf("host %q is not a .test or .example name", h)
		}
	}
	addrs := append([]string{c.Listen, c.adminAddr()}, c.Resolver.Nameservers...)
	addrs = append(addrs, c.Policy.ClientCIDRs...)
	addrs = append(addrs, c.Policy.DenyCIDRs...)
	for _, a := range addrs {
		if !loopback(a) {
			t.Errorf("address %q is not loopback", a)
		}
	}
}

func TestConfigGood(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		check func(t *testing.T, c *fileConfig)
	}{
		{"empty", "", func(t *testing.T, c *fileConfig) {
			if !reflect.DeepEqual(c.engineConfig(), engine.Config{}) || !reflect.DeepEqual(c.resolverConfig(), resolver.Config{}) ||
				!reflect.DeepEqual(c.policyConfig(), policy.Config{}) || c.adminAddr() != defaultAdmin || c.logLevel().String() != "INFO" {
				t.Errorf("empty file is not all defaults: %+v", c)
			}
		}},
		{"comments only", "# nothing\n", nil},
		{"null document", "~\n", nil},
		{"empty sections", "timeouts:\nlimits:\nresolver:\npolicy:\n", nil},
		{"listen on every address", "listen: \":3128\"\n", func(t *testing.T, c *fileConfig) {
			if c.engineConfig().Listen != ":3128" {
				t.Errorf("listen %q", c.engineConfig().Listen)
			}
		}},
		{"listen on IPv6", "listen: \"[::1]:0\"\n", nil},
		{"listen on a zoned address", "listen: \"[fe80::1%lo]:3128\"\n", nil},
		{"listen on every IPv4 address", "listen: 0.0.0.0:65535\n", nil},
		{"admin disabled", "admin: \"\"\n", func(t *testing.T, c *fileConfig) {
			if c.adminAddr() != "" {
				t.Errorf("admin %q, want disabled", c.adminAddr())
			}
		}},
		{"connect_ports as a number", "policy:\n  connect_ports: 8443\n", func(t *testing.T, c *fileConfig) {
			if c.Policy.ConnectPorts != "8443" {
				t.Errorf("connect_ports %q", c.Policy.ConnectPorts)
			}
		}},
		{"anchors and merge keys", `
timeouts: &t
  connect: 2s
policy:
  rules:
    - &base
      hosts: [a.test]
      ports: "443"
      action: allow
    - <<: *base
      name: second
      hosts: [b.test]
`, func(t *testing.T, c *fileConfig) {
			r := c.Policy.Rules
			if len(r) != 2 || r[1].Ports != "443" || r[1].Action != "allow" || r[1].Hosts[0] != "b.test" {
				t.Errorf("rules %+v", r)
			}
		}},
		{"policy rewrite header", "policy:\n  rewrite_header: X-To\n", func(t *testing.T, c *fileConfig) {
			if c.engineConfig().RewriteHeader != "X-To" || c.policyConfig().RewriteHeader != "X-To" {
				t.Error("policy.rewrite_header not used as the global one")
			}
		}},
		{"log level", "log_level: debug\n", func(t *testing.T, c *fileConfig) {
			if c.logLevel().String() != "DEBUG" {
				t.Errorf("log level %v", c.logLevel())
			}
		}},
		{"resolver family case", "resolver:\n  family: V6_ONLY\n  resolv_conf: \"-\"\n", func(t *testing.T, c *fileConfig) {
			if c.resolverConfig().Family != resolver.FamilyV6Only {
				t.Error("family")
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := loadConfigFile(writeConfig(t, tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if tc.check != nil {
				tc.check(t, c)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		body string
		want string // substring of the error, from the file name on
	}{
		{"unknown field", "listen: 127.0.0.1:3128\nlistn: 127.0.0.1:3129\n",
			`c.yaml:2: listn: unknown field (want one of listen, transparent_listen, loops, engine, rewrite_header, timeouts, limits, admin, log_level, access_log, resolver, policy, drain, cache, compression, tls_origination)`},
		{"unknown nested field", "timeouts:\n  connect: 5s\n  conect: 5s\n", `c.yaml:3: timeouts.conect: unknown field (want one of connect, connect_total, head,`},
		{"unknown rule field", "policy:\n  rules:\n    - hosts: [a.test]\n      acton: allow\n", `c.yaml:4: policy.rules[0].acton: unknown field`},
		{"unknown in merged mapping", "x: &m {bogus: 1}\n", `c.yaml:1: x: unknown field`},
		{"bad duration", "timeouts:\n  head: 10s\n  connect: 5x\n", `c.yaml:3: timeouts.connect: "5x": want a duration such as 5s, 250ms or 1m30s`},
		{"duration without unit", "timeouts:\n  idle: 60\n", `c.yaml:2: timeouts.idle: "60": want a duration`},
		{"duration list", "timeouts:\n  idle: [1s]\n", `c.yaml:2: timeouts.idle: want a duration, got a list`},
		{"negative duration", "timeouts:\n  drain: -1s\n", `c.yaml:2: timeouts.drain: "-1s": must not be negative`},
		{"bad resolver duration", "resolver:\n  query_timeout: soon\n", `c.yaml:2: resolver.query_timeout: "soon": want a duration`},
		{"bad integer", "limits:\n  max_conns: many\n", `c.yaml:2: limits.max_conns: "many": want an integer`},
		{"float for integer", "limits:\n  max_headers: 1.5\n", `c.yaml:2: limits.max_headers: "1.5": want an integer`},
		{"negative limit", "limits:\n  max_headers: -1\n", `c.yaml:2: limits.max_headers: "-1": must not be negative`},
		{"negative engine limit", "limits:\n  max_idle_per_host: -4\n", `c.yaml:2: limits.max_idle_per_host: "-4": must not be negative`},
		{"negative loops", "loops: -2\n", `c.yaml:1: loops: "-2": must not be negative`},
		{"unknown engine", "engine: epoll\n", `c.yaml:1: engine: "epoll": unknown engine: want gnet or netpoll`},
		{"cache too small", "cache:\n  max_bytes: 1000\n", `c.yaml:2: cache.max_bytes: "1000": must be 0 (off) or at least 33554432 (32 MiB)`},
		{"cache object too big", "cache:\n  max_bytes: 33554432\n  max_object_bytes: 10000000\n", `c.yaml:3: cache.max_object_bytes: "10000000": must be 1 to a quarter of cache.max_bytes (8388608)`},
		{"compression coding unknown", "compression:\n  enabled: true\n  codings: [zstd, br]\n", `c.yaml:3: compression.codings[1]: "br": want gzip or zstd`},
		{"compression gzip level", "compression:\n  enabled: true\n  gzip_level: 11\n", `c.yaml:3: compression.gzip_level: "11": must be 1 (fastest) to 9 (smallest)`},
		{"compression zstd level", "compression:\n  enabled: true\n  zstd_level: ultra\n", `c.yaml:3: compression.zstd_level: "ultra": want fastest, default, better or best`},
		{"compression type", "compression:\n  enabled: true\n  types: [json]\n", `c.yaml:3: compression.types[0]: "json": want type/subtype, type/* or +suffix`},
		{"cache lock timeout negative", "cache:\n  lock_timeout: -1s\n", `c.yaml:2: cache.lock_timeout: "-1s": is negative`},
		{"tls port zero", "tls_origination:\n  ports: [443, 0]\n", `c.yaml:2: tls_origination.ports[1]: "0": not a port (want 1-65535)`},
		{"tls port too big", "tls_origination:\n  ports:\n    - 443\n    - 70000\n", `c.yaml:4: tls_origination.ports[1]: "70000": not a port (want 1-65535)`},
		{"tls port not a number", "tls_origination:\n  ports: [https]\n", `c.yaml:2: tls_origination.ports[0]: "https": want an integer`},
		{"tls ca_file missing", "tls_origination:\n  ca_file: /nonexistent/ca.pem\n", `c.yaml:2: tls_origination.ca_file: "/nonexistent/ca.pem": cannot read: no such file or directory`},
		{"upstream_tls on a deny rule", "policy:\n  rules:\n    - action: deny\n      upstream_tls: true\n", `c.yaml:4: policy.rules[0].upstream_tls: "true": only an allow rule sends requests`},
		{"splice_above below -1", "limits:\n  splice_above: -2\n", `c.yaml:2: limits.splice_above: "-2": neither a size nor -1 (never)`},
		{"bad listen", "listen: localhost\n", `c.yaml:1: listen: "localhost": want IP:port or :port`},
		{"listen on a name", "listen: localhost:3128\n", `c.yaml:1: listen: "localhost:3128": host "localhost" is not an IP address (use :port for every address)`},
		{"listen port too big", "listen: \":65536\"\n", `c.yaml:1: listen: ":65536": port "65536" is not a number 0-65535`},
		{"listen port by name", "listen: 127.0.0.1:http\n", `c.yaml:1: listen: "127.0.0.1:http": port "http" is not a number 0-65535`},
		{"listen bare IPv6", "listen: \"::1:3128\"\n", `c.yaml:1: listen: "::1:3128": want IP:port or :port`},
		{"bad admin", "admin: nowhere\n", `c.yaml:1: admin: "nowhere": want host:port`},
		{"bad log level", "log_level: loud\n", `c.yaml:1: log_level: "loud": want debug, info, warn or error`},
		{"bad rewrite header", "rewrite_header: X Host\n", `c.yaml:1: rewrite_header: "X Host": not a header name`},
		{"rewrite headers disagree", "rewrite_header: X-A\npolicy:\n  rewrite_header: X-B\n",
			`c.yaml:3: policy.rewrite_header: "X-B": differs from rewrite_header "X-A": set one of them`},
		{"bad family", "resolver:\n  family: v5_only\n",
			`c.yaml:2: resolver.family: "v5_only": resolver: unknown address family "v5_only" (want auto, v4_only, v6_only, v4_preferred or all)`},
		{"bad nameserver", "resolver:\n  nameservers:\n    - 127.0.0.1\n    - dns.test\n",
			`c.yaml:4: resolver.nameservers[1]: "dns.test": not an IP address or IP:port`},
		{"bad preresolve", "resolver:\n  preresolve: [a.test, \"bad host\"]\n", `c.yaml:2: resolver.preresolve[1]: "bad host": not a host name`},
		{"min ttl", "resolver:\n  min_ttl: 500ms\n", `c.yaml:2: resolver.min_ttl: "500ms": must be at least 1s`},
		{"ttl order", "resolver:\n  min_ttl: 10s\n  max_ttl: 5s\n", `c.yaml:3: resolver.max_ttl: "5s": must be at least resolver.min_ttl (10s)`},
		{"missing resolv.conf", "resolver:\n  resolv_conf: /nonexistent/resolv.conf\n", `c.yaml:2: resolver.resolv_conf: open /nonexistent/resolv.conf: no such file or directory`},
		{"bad client cidr", "policy:\n  client_cidrs:\n    - 10.0.0.0/8\n    - 10.0.0.0/33\n",
			`c.yaml:4: policy.client_cidrs[1]: "10.0.0.0/33": invalid CIDR (want e.g. 10.0.0.0/8, fd00::/8 or an address)`},
		{"bad deny cidr", "policy:\n  deny_cidrs: [\"10.0.0.0/8\", \"300.0.0.0/8\"]\n", `c.yaml:2: policy.deny_cidrs[1]: "300.0.0.0/8": invalid CIDR`},
		{"bad rule client", "policy:\n  rules:\n    - action: allow\n      clients:\n        - 10.0.0.0/8\n        - 10.0.0.0.0/8\n",
			`c.yaml:6: policy.rules[0].clients[1]: "10.0.0.0.0/8": invalid CIDR`},
		{"bad rule host", "policy:\n  rules:\n    - hosts: [a.test]\n      action: allow\n    - action: deny\n      hosts:\n        - \"*.\"\n",
			`c.yaml:7: policy.rules[1].hosts[0]: "*.": invalid host pattern (want name, *.name, .name or *)`},
		{"bad allow_addr_hosts", "policy:\n  allow_addr_hosts: [\"a..test\"]\n", `c.yaml:2: policy.allow_addr_hosts[0]: "a..test": invalid host pattern`},
		{"bad connect port range", "policy:\n  connect_ports: 2000-1000\n", `c.yaml:2: policy.connect_ports: "2000-1000": invalid port range "2000-1000": start after end`},
		{"bad connect port", "policy:\n  connect_ports: 443,70000\n", `c.yaml:2: policy.connect_ports: "443,70000": invalid port "70000"`},
		{"bad rule ports", "policy:\n  rules:\n    - action: allow\n      ports: \"80-\"\n", `c.yaml:4: policy.rules[0].ports: "80-": invalid port "80-"`},
		{"missing action", "policy:\n  rules:\n    - hosts: [a.test]\n", `c.yaml:3: policy.rules[0].action: missing (want allow or deny)`},
		{"bad action", "policy:\n  rules:\n    - action: permit\n", `c.yaml:3: policy.rules[0].action: "permit": want allow or deny`},
		{"bad default action", "policy:\n  default_action: block\n", `c.yaml:2: policy.default_action: "block": want allow or deny`},
		{"bad preset", "policy:\n  deny_presets: [loopback, public]\n", `c.yaml:2: policy.deny_presets[1]: "public": unknown preset`},
		{"users without auth", "policy:\n  rules:\n    - action: allow\n      users: [alice]\n", `c.yaml:4: policy.rules[0].users[0]: "alice": users need policy.auth`},
		{"missing htpasswd", "policy:\n  auth:\n    htpasswd: nope\n", `c.yaml:3: policy.auth.htpasswd: "`},
		{"bad rps", "policy:\n  rate_limits:\n    per_client: {rps: -5}\n", `c.yaml:3: policy.rate_limits.per_client.rps: "-5": want a positive number (0: off)`},
		{"rps not a number", "policy:\n  rate_limits:\n    global:\n      rps: fast\n", `c.yaml:4: policy.rate_limits.global.rps: "fast": want a number`},
		{"store scheme", "policy:\n  rate_limits:\n    store: memcached://127.0.0.1:11211\n",
			`c.yaml:3: policy.rate_limits.store: "memcached://127.0.0.1:11211": unknown scheme "memcached": want redis:// or rediss://`},
		{"store URL", "policy:\n  rate_limits:\n    store: \"redis://:secret@127.0.0.1:6379/db0\"\n",
			`c.yaml:3: policy.rate_limits.store: "redis://:xxxxx@127.0.0.1:6379/db0": db "db0": want a number`},
		{"on store error", "policy:\n  rate_limits:\n    on_store_error: fail\n", `c.yaml:3: policy.rate_limits.on_store_error: "fail": want allow, deny or local`},
		{"store timeout", "policy:\n  rate_limits:\n    store_timeout: 50\n", `c.yaml:3: policy.rate_limits.store_timeout: "50": `},
		{"list for a string", "listen: [a, b]\n", `c.yaml:1: listen: want a string, got a list`},
		{"scalar for a list", "policy:\n  rules: allow-all\n", `c.yaml:2: policy.rules: want a list, got "allow-all"`},
		{"scalar for a section", "timeouts: 5s\n", `c.yaml:1: timeouts: want a mapping of fields, got "5s"`},
		{"scalar document", "hello\n", `c.yaml:1: want a mapping of fields, got "hello"`},
		{"duplicate key", "listen: 127.0.0.1:1\nloops: 1\nlisten: 127.0.0.1:2\n", `c.yaml:3: listen: set twice (first at line 1)`},
		{"syntax error", "listen: [unclosed\n", `c.yaml: yaml: line 1:`},
		{"two documents", "loops: 1\n---\nloops: 2\n", `c.yaml:2: more than one YAML document`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadConfigFile(writeConfig(t, tc.body))
			if err == nil {
				t.Fatalf("loaded; want error %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error\n got %s\nwant …%s…", err, tc.want)
			}
			var ce *configError
			if !errors.As(err, &ce) {
				t.Errorf("error %T is not a *configError", err)
			}
		})
	}
}

// TestConfigTLSOrigination: the tls_origination section's CA file is read
// relative to the config file and must hold a PEM certificate; the engine
// gets the ports and the roots, and /config shows the section.
func TestConfigTLSOrigination(t *testing.T) {
	dir := t.TempDir()
	ca := testcert.NewCA(t)
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), ca.PEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "junk.pem"), []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(path, []byte("tls_origination:\n  ports: [443, 8443]\n  ca_file: ca.pem\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := loadConfigFile(path)
	if err != nil {
		t.Fatal(err)
	}
	o, fields := c.TLS.origination()
	if fields != nil || len(o.Ports) != 2 || o.Ports[0] != 443 || o.Ports[1] != 8443 || o.RootCAs == nil || !o.RootCAs.Equal(ca.Pool()) {
		t.Fatalf("origination %+v, fields %v", o, fields)
	}
	if eff := c.effective(engine.Config{}, ""); eff.TLS.CAFile != filepath.Join(dir, "ca.pem") || len(eff.TLS.Ports) != 2 {
		t.Fatalf("effective %+v", eff.TLS)
	}
	if err := os.WriteFile(path, []byte("tls_origination:\n  ca_file: junk.pem\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = loadConfigFile(path)
	if want := `c.yaml:2: tls_origination.ca_file: "` + filepath.Join(dir, "junk.pem") + `": no PEM certificate in the file`; err == nil || !strings.HasSuffix(err.Error(), want) {
		t.Fatalf("junk CA file: %v, want …%s", err, want)
	}
}

func TestConfigPolicyErrorUnwraps(t *testing.T) {
	_, err := loadConfigFile(writeConfig(t, "policy:\n  default_action: maybe\n"))
	var pe *policy.ConfigError
	if !errors.As(err, &pe) || pe.Field != "policy.default_action" || !errors.Is(err, policy.ErrInvalidConfig) {
		t.Errorf("error %v does not unwrap to a policy.ConfigError", err)
	}
}

func TestConfigHtpasswdRelative(t *testing.T) {
	// The example's htpasswd is relative to the config file, not the working
	// directory; loading from another directory works.
	c, err := loadConfigFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := filepath.Abs(filepath.Join(filepath.Dir(examplePath), "htpasswd"))
	got, _ := filepath.Abs(c.Policy.Auth.Htpasswd)
	if got != want {
		t.Errorf("htpasswd %q, want %q", got, want)
	}
}

func TestCheckConfigFile(t *testing.T) {
	var out bytes.Buffer
	if code := checkConfigFile(examplePath, &out); code != 0 {
		t.Errorf("example: exit %d: %s", code, out.String())
	}
	if !strings.Contains(out.String(), "configuration valid") {
		t.Errorf("output %q", out.String())
	}
	out.Reset()
	path := writeConfig(t, "timeouts:\n  connect: soon\n")
	if code := checkConfigFile(path, &out); code != 1 {
		t.Errorf("bad config: exit %d", code)
	}
	if !strings.Contains(out.String(), `c.yaml:2: timeouts.connect: "soon"`) {
		t.Errorf("output %q", out.String())
	}
	out.Reset()
	if code := checkConfigFile(filepath.Join(t.TempDir(), "absent.yaml"), &out); code != 1 {
		t.Errorf("missing file: exit %d", code)
	}
}

func TestApplyFlags(t *testing.T) {
	c, err := loadConfigFile(writeConfig(t, "listen: 127.0.0.1:1\nloops: 3\nrewrite_header: X-File\ntimeouts:\n  connect: 1s\n  idle: 2s\nresolver:\n  nameservers: [127.0.0.1]\n"))
	if err != nil {
		t.Fatal(err)
	}
	o := &options{listen: "127.0.0.1:2", admin: "", dns: "127.0.0.2, 127.0.0.3:5353", loops: 9,
		logLevel: "warn", rewriteHeader: "X-Flag", connectTimeout: 7 * time.Second, idleTimeout: 8 * time.Second}
	c.applyFlags(o, map[string]bool{"listen": true, "admin": true, "dns": true, "log-level": true, "rewrite-header": true, "connect-timeout": true})
	ec := c.engineConfig()
	if ec.Listen != "127.0.0.1:2" || ec.Loops != 3 || ec.ConnectTimeout != 7*time.Second || ec.IdleTimeout != 2*time.Second ||
		ec.RewriteHeader != "X-Flag" || c.adminAddr() != "" || c.logLevel().String() != "WARN" {
		t.Errorf("after flags: %+v admin %q", ec, c.adminAddr())
	}
	if ns := c.resolverConfig().Nameservers; len(ns) != 2 || ns[0] != "127.0.0.2" || ns[1] != "127.0.0.3:5353" {
		t.Errorf("nameservers %q", ns)
	}
	if err := c.validate(); err != nil {
		t.Errorf("validate after flags: %v", err)
	}
}

// TestConfigEveryErrorBinary: a file with several mistakes gets every one
// reported, each at its line, by -check-config and at start, through the
// real binary.
func TestConfigEveryErrorBinary(t *testing.T) {
	bin := buildBinary(t)
	path := writeConfig(t, `listen: 127.0.0.1:0
listn: 127.0.0.1:1
loops: many
limits:
  max_headers: 1.5
timeouts:
  connect: 5x
resolver:
  resolv_conf: "-"
  min_ttl: 10s
  max_ttl: 5s
policy:
  rules:
    - hosts: [ok.test, "*."]
      action: allow
`)
	want := []string{
		`c.yaml:2: listn: unknown field`,
		`c.yaml:3: loops: "many": want an integer`,
		`c.yaml:5: limits.max_headers: "1.5": want an integer`,
		`c.yaml:7: timeouts.connect: "5x": want a duration such as 5s, 250ms or 1m30s`,
		`c.yaml:11: resolver.max_ttl: "5s": must be at least resolver.min_ttl (10s)`,
		`c.yaml:14: policy.rules[0].hosts[1]: "*.": invalid host pattern`,
	}
	for _, args := range [][]string{{"-check-config", path}, {"-config", path, "-admin", ""}} {
		out, err := exec.Command(bin, args...).CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() == 0 {
			t.Fatalf("%v: %v, want a failure exit\n%s", args, err, out)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) != len(want) {
			t.Errorf("%v: %d lines, want %d:\n%s", args, len(lines), len(want), out)
			continue
		}
		for i, w := range want {
			if !strings.HasPrefix(lines[i], "sluice: ") || !strings.Contains(lines[i], w) {
				t.Errorf("%v: line %d\n got %s\nwant …%s…", args, i+1, lines[i], w)
			}
		}
	}
}

// TestCheckConfigStart: -check-config catches what would fail at start (an
// access log in a directory that does not exist) and warns, exit 0, about a
// listen address in use.
func TestCheckConfigStart(t *testing.T) {
	var out bytes.Buffer
	path := writeConfig(t, "access_log: /nonexistent/dir/access.log\n")
	if code := checkConfigFile(path, &out); code != 1 ||
		!strings.Contains(out.String(), `c.yaml:1: access_log: "/nonexistent/dir/access.log": directory /nonexistent/dir does not exist`) {
		t.Errorf("exit %d: %s", code, out.String())
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	out.Reset()
	path = writeConfig(t, "admin: \"\"\nlisten: "+ln.Addr().String()+"\n")
	if code := checkConfigFile(path, &out); code != 0 ||
		!strings.Contains(out.String(), "sluice: warning: ") || !strings.Contains(out.String(), `c.yaml:2: listen: "`+ln.Addr().String()+`": cannot listen now`) ||
		!strings.Contains(out.String(), "configuration valid") {
		t.Errorf("exit %d: %s", code, out.String())
	}
}
