package main

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
	"golang.org/x/crypto/bcrypt"

	"github.com/sluiceproxy/sluice/engine"
	"github.com/sluiceproxy/sluice/parser"
	"github.com/sluiceproxy/sluice/policy"
	"github.com/sluiceproxy/sluice/proxy"
	"github.com/sluiceproxy/sluice/resolver"
)

// yamlPath returns the value at a dotted path ("timeouts.connect") of a
// decoded YAML document, formatted with %v; "<absent>" if there is none.
func yamlPath(doc map[string]any, path string) string {
	var v any = doc
	for part := range strings.SplitSeq(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return "<absent>"
		}
		if v, ok = m[part]; !ok {
			return "<absent>"
		}
	}
	return fmt.Sprint(v)
}

// getConfig fetches /config from the admin server at admin and decodes it.
func getConfig(t *testing.T, admin string) (doc map[string]any, body string) {
	t.Helper()
	resp, body := exchange(t, admin, "GET /config HTTP/1.0\r\n\r\n")
	if resp.StatusCode != 200 {
		t.Fatalf("/config: %d %s", resp.StatusCode, body)
	}
	if err := yaml.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatalf("/config: %v\n%s", err, body)
	}
	return doc, body
}

// TestConfigEndpointEffective: /config of the binary started with no config
// file shows every value in force: defaults filled in as the components
// fill them, what is derived at start (loops, max_conns), the flags given.
func TestConfigEndpointEffective(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	proxy := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	admin := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	p := startProc(t, "", "-listen", proxy, "-admin", admin, "-dns", "127.0.0.1:1", "-access-log", "",
		"-idle-timeout", "42s", "-loops", "3")
	p.waitListening(t, proxy, admin)
	doc, body := getConfig(t, admin)

	want := map[string]string{
		"listen":                            proxy,
		"admin":                             admin,
		"loops":                             "3", // -loops
		"log_level":                         "info",
		"access_log":                        "",
		"timeouts.connect":                  "5s",
		"timeouts.connect_total":            "15s",
		"timeouts.head":                     "10s",
		"timeouts.idle":                     "42s", // -idle-timeout
		"timeouts.response":                 "30s",
		"timeouts.upstream_idle":            "30s",
		"timeouts.drain":                    "30s",
		"limits.max_connect_attempts":       "25",
		"limits.max_conns_per_host":         "1024",
		"limits.max_idle_per_host":          "1024",
		"limits.max_buffered":               "262144",
		"limits.stream_threshold":           "65536",
		"limits.stream_high_water":          "65536",
		"limits.splice_above":               "-1",
		"limits.max_request_line":           "8192",
		"limits.max_head_bytes":             "65536",
		"limits.max_headers":                "256",
		"resolver.nameservers":              "[127.0.0.1:1]", // -dns
		"resolver.resolv_conf":              "/etc/resolv.conf",
		"resolver.hosts_file":               "/etc/hosts",
		"resolver.family":                   "auto",
		"resolver.min_ttl":                  "5s",
		"resolver.max_ttl":                  "1h0m0s",
		"resolver.host_ttl":                 "5m0s",
		"resolver.max_hosts":                "1024",
		"resolver.max_negative_hosts":       "256",
		"resolver.max_pending":              "1024",
		"resolver.query_timeout":            "5s",
		"resolver.workers":                  "32",
		"resolver.failure_backoff_base":     "1s",
		"resolver.failure_backoff_max":      "1m0s",
		"resolver.max_stale":                "24h0m0s",
		"policy.connect_ports":              "443",
		"policy.default_action":             "allow",
		"policy.client_cidrs":               "[127.0.0.0/8 ::1/128]",
		"policy.auth":                       "<nil>",
		"policy.rate_limits.global.rps":     "0",
		"policy.rate_limits.per_client.rps": "0",
	}
	for path, v := range want {
		if got := yamlPath(doc, path); got != v {
			t.Errorf("/config %s = %s, want %s", path, got, v)
		}
	}
	// max_conns is derived from the descriptor budget: half of it.
	_, metrics := exchange(t, admin, "GET /metrics HTTP/1.0\r\n\r\n")
	budget := promValue(t, metrics, "sluice_fds_budget")
	if got, want := yamlPath(doc, "limits.max_conns"), strconv.Itoa(min(max(budget/2, 16), 1<<20)); got != want {
		t.Errorf("/config limits.max_conns = %s, want %s (half the fd budget %d)", got, want, budget)
	}
	if t.Failed() {
		t.Logf("/config:\n%s", body)
	}
}

// promValue returns the value of the unlabelled metric name in a
// Prometheus text exposition.
func promValue(t *testing.T, text, name string) int {
	t.Helper()
	for line := range strings.SplitSeq(text, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("%s: %q", name, line)
			}
			return int(n)
		}
	}
	t.Fatalf("no %s in /metrics", name)
	return 0
}

// TestConfigEndpointNoSecrets: with proxy authentication configured, /config
// of the binary shows the htpasswd path and the auth defaults, never a
// hash or a password, and redacts the password of a URL given as a value.
func TestConfigEndpointNoSecrets(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	const password = "hunter2-secret"
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	htpasswd := filepath.Join(dir, "users")
	if err := os.WriteFile(htpasswd, []byte("ops:"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(cfg, []byte(`
policy:
  auth:
    htpasswd: users
  rules:
    - name: "http://ops:`+password+`@wiki.test/"
      hosts: [wiki.test]
      action: allow
    - hosts: [other.test]
      action: deny
  rate_limits:
    per_client: {rps: 2.5}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	proxy := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	admin := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	p := startProc(t, "", "-config", cfg, "-listen", proxy, "-admin", admin, "-dns", "127.0.0.1:1", "-access-log", "")
	p.waitListening(t, proxy, admin)
	for _, format := range []string{"yaml", "json"} {
		_, body := exchange(t, admin, "GET /config?format="+format+" HTTP/1.0\r\n\r\n")
		for _, secret := range []string{password, string(hash), "$2a$"} {
			if strings.Contains(body, secret) {
				t.Errorf("/config?format=%s shows %q:\n%s", format, secret, body)
			}
		}
		for _, shown := range []string{htpasswd, "http://ops:<redacted>@wiki.test/"} {
			if !strings.Contains(body, shown) {
				t.Errorf("/config?format=%s does not show %q:\n%s", format, shown, body)
			}
		}
	}
	doc, body := getConfig(t, admin)
	for path, v := range map[string]string{
		"policy.auth.realm":                   "sluice",
		"policy.auth.queue":                   "64",
		"policy.auth.max_per_client":          "4",
		"policy.rate_limits.per_client.burst": "3", // rps rounded up
	} {
		if got := yamlPath(doc, path); got != v {
			t.Errorf("/config %s = %s, want %s\n%s", path, got, v, body)
		}
	}
	if w, err := strconv.Atoi(yamlPath(doc, "policy.auth.workers")); err != nil || w < 1 {
		t.Errorf("/config policy.auth.workers = %s", yamlPath(doc, "policy.auth.workers"))
	}
	if !strings.Contains(body, "name: rules[1]") {
		t.Errorf("/config: the unnamed rule has not its default name rules[1]:\n%s", body)
	}
}

// TestEffectiveDerived checks the values effective derives, in process:
// connect_total follows connect, max_negative_hosts follows max_hosts, the
// parser limits and policy defaults fill in, and nothing of the file's own
// configuration is changed.
func TestEffectiveDerived(t *testing.T) {
	c, err := loadConfigFile(writeConfig(t, `
timeouts:
  connect: 2s
resolver:
  max_hosts: 10
limits:
  max_headers: 50
policy:
  auth:
    htpasswd: /dev/null
    queue: 7
  rules:
    - hosts: [a.test]
      action: allow
`))
	if err != nil {
		t.Fatal(err)
	}
	before := c.policyConfig()
	before.Rules = append([]policy.Rule(nil), before.Rules...)
	srv, err := engine.NewServer(c.engineConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	e := c.effective(srv.Config(), "sluice")
	if e.Timeouts.Connect != 2*time.Second || e.Timeouts.ConnectTotal != 6*time.Second {
		t.Errorf("connect %v, connect_total %v; want 2s and 3 x 2s", e.Timeouts.Connect, e.Timeouts.ConnectTotal)
	}
	if e.Resolver.MaxHosts != 10 || e.Resolver.MaxNegativeHosts != 2 {
		t.Errorf("max_hosts %d, max_negative_hosts %d; want 10 and 10/4", e.Resolver.MaxHosts, e.Resolver.MaxNegativeHosts)
	}
	if l := e.Limits; l.MaxHeaders != 50 || l.MaxRequestLine != parser.DefaultMaxRequestLine || l.MaxHeadBytes != parser.DefaultMaxHeadBytes {
		t.Errorf("limits %+v", l)
	}
	if e.Listen != proxy.DefaultListen || *e.Admin != defaultAdmin || *e.AccessLog != "-" || e.LogLevel != "info" || e.Loops < 1 || e.Limits.MaxConns < 16 {
		t.Errorf("listen %q admin %q access_log %q log_level %q loops %d max_conns %d",
			e.Listen, *e.Admin, *e.AccessLog, e.LogLevel, e.Loops, e.Limits.MaxConns)
	}
	a := e.Policy.Auth
	if a.Queue != 7 || a.MaxPerClient != policy.DefaultAuthMaxPerClient || a.Workers != policy.DefaultAuthWorkers() || a.Realm != "sluice" {
		t.Errorf("auth %+v", a)
	}
	if e.Policy.Rules[0].Name != "rules[0]" {
		t.Errorf("rule name %q", e.Policy.Rules[0].Name)
	}
	if !reflect.DeepEqual(c.policyConfig(), before) || c.Timeouts.ConnectTotal != 0 || c.Resolver.MaxNegativeHosts != 0 {
		t.Error("effective changed the loaded configuration")
	}
	// The effective configuration is itself a valid configuration.
	if err := e.validate(); err != nil {
		t.Errorf("effective configuration does not validate: %v", err)
	}
}

// TestEffectiveResolverDefaults: the resolver's derived default is what
// effective assumes (max_hosts/4), and the defaults it fills are accepted.
func TestEffectiveResolverDefaults(t *testing.T) {
	if resolver.DefaultMaxNegativeHosts != resolver.DefaultMaxHosts/4 {
		t.Errorf("resolver.DefaultMaxNegativeHosts %d is no longer DefaultMaxHosts/4", resolver.DefaultMaxNegativeHosts)
	}
	c := &fileConfig{}
	if r := c.effectiveResolver(); r.MaxNegativeHosts != resolver.DefaultMaxNegativeHosts {
		t.Errorf("default max_negative_hosts %d", r.MaxNegativeHosts)
	}
}

// TestEffectiveClientCIDRs: the client ACL /config shows for a policy that
// names none admits exactly what the policy package's default admits.
func TestEffectiveClientCIDRs(t *testing.T) {
	def, err := policy.Compile(policy.Config{})
	if err != nil {
		t.Fatal(err)
	}
	shown, err := policy.Compile(policy.Config{ClientCIDRs: defaultClientCIDRs})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"127.0.0.1", "127.255.255.254", "::1", "10.0.0.1", "192.168.1.1", "::2", "fe80::1", "::ffff:127.0.0.1", "0.0.0.0", "::"} {
		addr := netip.MustParseAddr(a)
		if def.ClientAllowed(addr) != shown.ClientAllowed(addr) {
			t.Errorf("%s: default ACL admits %v, the one /config shows %v", a, def.ClientAllowed(addr), shown.ClientAllowed(addr))
		}
	}
}
