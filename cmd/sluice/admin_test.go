package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
	"golang.org/x/crypto/bcrypt"

	"github.com/sluiceproxy/sluice/accesslog"
	"github.com/sluiceproxy/sluice/engine"
	"github.com/sluiceproxy/sluice/metrics"
	"github.com/sluiceproxy/sluice/policy"
	"github.com/sluiceproxy/sluice/proxy"
	"github.com/sluiceproxy/sluice/resolver"
	"github.com/sluiceproxy/sluice/resolver/dnstest"
)

// get requests path from h and returns the status and body.
func get(t *testing.T, h http.Handler, path string) (int, string, http.Header) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	return rec.Code, rec.Body.String(), rec.Header()
}

// parseProm parses Prometheus text format lines `name{labels} value`,
// skipping # lines, into values by series as written (labels in the order
// written, without spaces after commas). It fails on a malformed line.
func parseProm(t *testing.T, text string) map[string]float64 {
	t.Helper()
	out := make(map[string]float64)
	for i, line := range strings.Split(text, "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		if sp <= 0 {
			t.Fatalf("/metrics line %d: no value: %q", i+1, line)
		}
		name := strings.ReplaceAll(line[:sp], ", ", ",")
		if br := strings.IndexByte(name, '{'); br >= 0 && !strings.HasSuffix(name, "}") ||
			br == 0 || strings.ContainsAny(name[:max(br, 0)], " \"") {
			t.Fatalf("/metrics line %d: bad series %q", i+1, name)
		}
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if err != nil {
			t.Fatalf("/metrics line %d: %v", i+1, err)
		}
		if _, dup := out[name]; dup {
			t.Fatalf("/metrics line %d: duplicate series %s", i+1, name)
		}
		out[name] = v
	}
	return out
}

func TestAdminEndpoints(t *testing.T) {
	m := metrics.New(metrics.Sources{
		Conns:          func() (int64, int64) { return 4, 2 },
		AccessLogDrops: func() uint64 { return 9 },
	})
	r := proxy.Record{Method: []byte("GET"), Status: 200, Duration: time.Millisecond, BytesOut: 100}
	m.Observe(&r)
	var readyErr error
	resolved := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	h := adminMux(adminDeps{
		Metrics: m.WritePrometheus,
		Ready:   func() error { return readyErr },
		DNS: func() []resolver.HostInfo {
			return []resolver.HostInfo{
				{Host: "a.test", State: resolver.StateValid, Addrs: []netip.Addr{netip.MustParseAddr("192.0.2.1")},
					TTL: 30 * time.Second, TTLLeft: 12 * time.Second, Resolved: resolved, Expires: resolved.Add(30 * time.Second),
					LastUsed: resolved.Add(time.Second)},
				{Host: "b.test", State: resolver.StateFailed, Error: "name not found", Failures: 2},
			}
		},
		Config: func() any { return &fileConfig{Settings: engine.Settings{Listen: "127.0.0.1:3128"}} },
	})

	if code, body, _ := get(t, h, "/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	if code, body, _ := get(t, h, "/readyz"); code != 200 || body != "ready\n" {
		t.Errorf("/readyz: %d %q", code, body)
	}
	readyErr = errors.New("draining")
	if code, body, _ := get(t, h, "/readyz"); code != 503 || !strings.Contains(body, "draining") {
		t.Errorf("/readyz while draining: %d %q", code, body)
	}

	code, body, hdr := get(t, h, "/metrics")
	if code != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("/metrics: %d %s", code, hdr.Get("Content-Type"))
	}
	got := parseProm(t, body)
	for k, want := range map[string]float64{
		`sluice_requests_total{method="GET",class="2xx"}`:   1,
		"sluice_sent_bytes_total":                           100,
		"sluice_client_connections":                         4,
		"sluice_upstream_connections":                       2,
		"sluice_access_log_dropped_total":                   9,
		`sluice_request_duration_seconds_bucket{le="+Inf"}`: 1,
	} {
		if got[k] != want {
			t.Errorf("/metrics %s = %v, want %v", k, got[k], want)
		}
	}
	if _, ok := got["go_goroutines"]; !ok {
		t.Error("/metrics: no Go runtime metrics")
	}

	code, body, hdr = get(t, h, "/debug/dns")
	if code != 200 || hdr.Get("Content-Type") != "application/json" {
		t.Fatalf("/debug/dns: %d %s", code, hdr.Get("Content-Type"))
	}
	var dump struct {
		Count int              `json:"count"`
		Hosts []map[string]any `json:"hosts"`
	}
	if err := json.Unmarshal([]byte(body), &dump); err != nil {
		t.Fatalf("/debug/dns: %v: %s", err, body)
	}
	if dump.Count != 2 || len(dump.Hosts) != 2 {
		t.Fatalf("/debug/dns: %s", body)
	}
	a := dump.Hosts[0]
	if a["host"] != "a.test" || a["state"] != "valid" || fmt.Sprint(a["addrs"]) != "[192.0.2.1]" ||
		a["ttl_left_ns"] != float64(12*time.Second) || a["last_used"] != "2025-01-02T03:04:06Z" {
		t.Errorf("/debug/dns host: %v", a)
	}
	if dump.Hosts[1]["state"] != "failed" || dump.Hosts[1]["error"] != "name not found" {
		t.Errorf("/debug/dns failed host: %v", dump.Hosts[1])
	}
	_, body, _ = get(t, h, "/debug/dns?host=B.test.")
	if err := json.Unmarshal([]byte(body), &dump); err != nil || dump.Count != 1 || dump.Hosts[0]["host"] != "b.test" {
		t.Errorf("/debug/dns?host=: %s", body)
	}
	_, body, _ = get(t, h, "/debug/dns?host=none.test")
	if strings.ReplaceAll(strings.ReplaceAll(body, " ", ""), "\n", "") != `{"count":0,"hosts":[]}` {
		t.Errorf("/debug/dns?host=none.test: %s", body)
	}

	if code, body, _ := get(t, h, "/debug/pprof/"); code != 200 || !strings.Contains(body, "goroutine") {
		t.Errorf("/debug/pprof/: %d", code)
	}
	if code, body, _ := get(t, h, "/debug/pprof/goroutine?debug=1"); code != 200 || !strings.Contains(body, "goroutine profile") {
		t.Errorf("/debug/pprof/goroutine: %d", code)
	}
	if code, _, _ := get(t, h, "/debug/pprof/cmdline"); code != 200 {
		t.Errorf("/debug/pprof/cmdline: %d", code)
	}

	code, body, _ = get(t, h, "/config")
	var cfg map[string]any
	if err := yaml.Unmarshal([]byte(body), &cfg); code != 200 || err != nil || cfg["listen"] != "127.0.0.1:3128" {
		t.Errorf("/config: %d %v %s", code, err, body)
	}
	code, body, _ = get(t, h, "/config?format=json")
	if err := json.Unmarshal([]byte(body), &cfg); code != 200 || err != nil || cfg["listen"] != "127.0.0.1:3128" {
		t.Errorf("/config?format=json: %d %v %s", code, err, body)
	}
	if code, _, _ := get(t, h, "/config?format=xml"); code != 400 {
		t.Errorf("/config?format=xml: %d", code)
	}

	// Without deps: no /metrics, /debug/dns or /config; always ready.
	h = adminMux(adminDeps{})
	for path, want := range map[string]int{"/metrics": 404, "/debug/dns": 404, "/config": 404, "/readyz": 200, "/healthz": 200} {
		if code, _, _ := get(t, h, path); code != want {
			t.Errorf("no deps: %s: %d, want %d", path, code, want)
		}
	}
}

func TestConfigRedacted(t *testing.T) {
	type upstream struct {
		URL      string `yaml:"url"`
		Password string `yaml:"password"`
		APIKey   string `yaml:"api-key"`
	}
	cfg := struct {
		Policy    policy.Config `yaml:"policy"`
		Upstreams []upstream    `yaml:"upstreams"`
		Users     []string      `yaml:"users"`
		Token     string        `yaml:"auth_token"`
		Empty     string        `yaml:"client_secret"`
		Timeout   time.Duration `yaml:"timeout"`
		Family    resolver.Family
	}{
		Policy: policy.Config{Auth: &policy.AuthConfig{Htpasswd: "/etc/sluice/htpasswd", Realm: "corp"}},
		Upstreams: []upstream{{URL: "http://bob:hunter2@proxy.test:3128/x?y=1", Password: "hunter2", APIKey: "k-123"},
			{URL: "http://proxy.test:3128"}},
		Users:   []string{"alice:$2y$05$abcdefghijklmnopqrstuv", "$2a$10$abcdefghijklmnopqrstuv"},
		Token:   "tok",
		Timeout: 5 * time.Second,
		Family:  resolver.FamilyAuto,
	}
	h := adminMux(adminDeps{Config: func() any { return cfg }})
	for _, format := range []string{"yaml", "json"} {
		_, body, _ := get(t, h, "/config?format="+format)
		for _, secret := range []string{"hunter2", "k-123", "$2y$", "$2a$", "tok\n", `"tok"`} {
			if strings.Contains(body, secret) {
				t.Errorf("%s: %q shows:\n%s", format, secret, body)
			}
		}
		for _, shown := range []string{"/etc/sluice/htpasswd", "corp", "http://bob:<redacted>@proxy.test:3128/x?y=1",
			"http://proxy.test:3128", "5s"} {
			if !strings.Contains(body, shown) {
				t.Errorf("%s: %q does not show:\n%s", format, shown, body)
			}
		}
	}
	_, body, _ := get(t, h, "/config")
	var got map[string]any
	if err := yaml.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	if got["client_secret"] != "" || got["auth_token"] != redacted {
		t.Errorf("empty secret should show empty, set one redacted: %v %v", got["client_secret"], got["auth_token"])
	}
	for in, want := range map[string]string{
		"http://u:p@h":         "http://u:<redacted>@h",
		"http://u@h":           "http://u@h",
		"http://h/a@b:c":       "http://h/a@b:c",
		"socks5://u:p:q@h:1/x": "socks5://u:<redacted>@h:1/x",
		"plain":                "plain",
	} {
		if got := redactURLPassword(in); got != want {
			t.Errorf("redactURLPassword(%q) = %q, want %q", in, got, want)
		}
	}
}

// fakeProxy is a proxyState.
type fakeProxy struct {
	draining bool
	done     chan struct{}
	err      error
}

func (f *fakeProxy) Draining() bool        { return f.draining }
func (f *fakeProxy) Done() <-chan struct{} { return f.done }
func (f *fakeProxy) Err() error            { return f.err }

func TestReadiness(t *testing.T) {
	p := &fakeProxy{done: make(chan struct{})}
	resolverReady := make(chan struct{})
	ready := readiness(readyInputs{srv: p, resolverReady: resolverReady})
	if err := ready(); err == nil || !strings.Contains(err.Error(), "resolver") {
		t.Errorf("before preresolve: %v", err)
	}
	close(resolverReady)
	if err := ready(); err != nil {
		t.Errorf("ready: %v", err)
	}
	p.draining = true
	if err := ready(); err == nil || err.Error() != "draining" {
		t.Errorf("draining: %v", err)
	}
	p.err = errors.New("accept: boom")
	close(p.done)
	if err := ready(); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("stopped: %v", err)
	}
}

// notifyObserver signals every record it sees.
type notifyObserver chan struct{}

func (n notifyObserver) Observe(*proxy.Record) { n <- struct{}{} }

// TestObservabilityEndToEnd sends requests of known shapes through a real
// proxy (engine, resolver, policy, an origin, a DNS server) with the access
// log and metrics as its observer, then checks that the log has one line per
// request with the right fields and that /metrics shows the same counts.
func TestObservabilityEndToEnd(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			_, _ = io.WriteString(w, "hello\n")
		case "/echo":
			w.WriteHeader(http.StatusCreated)
			_, _ = io.Copy(w, r.Body)
		default:
			http.NotFound(w, r)
		}
	}))
	defer origin.Close()
	port := origin.Listener.Addr().(*net.TCPAddr).Port

	dns := dnstest.New(t)
	dns.Set("origin.test", 300, "127.0.0.1")
	dns.Set("denied.test", 300, "127.0.0.1")
	res, err := resolver.New(resolver.Config{Nameservers: []string{dns.Addr()},
		ResolvConf: resolver.Disabled, HostsFile: resolver.Disabled})
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Start(); err != nil {
		t.Fatal(err)
	}
	defer res.Stop()

	hash, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	htpasswd := filepath.Join(t.TempDir(), "htpasswd")
	if err := os.WriteFile(htpasswd, []byte("alice:"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pol, err := policy.Compile(policy.Config{
		Rules: []policy.Rule{
			{Name: "no-denied", Hosts: []string{"denied.test"}, Action: policy.ActionDeny},
			{Name: "origin", Hosts: []string{"origin.test"}, Action: policy.ActionAllow},
		},
		ConnectPorts:   "*",
		AllowAddrHosts: []string{"origin.test"},
		Auth:           &policy.AuthConfig{Htpasswd: htpasswd},
	})
	if err != nil {
		t.Fatal(err)
	}

	var logBuf syncBuffer
	alog := accesslog.New(&logBuf, accesslog.Options{})
	seen := make(notifyObserver, 100)
	var srv *engine.Server
	m := metrics.New(metrics.Sources{
		Conns:          func() (int64, int64) { return srv.Conns() },
		Counters:       func() engine.Counters { return srv.Counters() },
		DNS:            res.Stats,
		AccessLogDrops: alog.Drops,
	})
	srv, err = engine.NewServer(engine.Config{
		Listen: "127.0.0.1:0", Loops: 1, Policy: pol,
		Observer: metrics.NewMulti(alog, m, seen),
	}, res)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	proxyAddr := srv.Addr().String()

	client := func(user string) *http.Client {
		u := &url.URL{Scheme: "http", Host: proxyAddr}
		if user != "" {
			u.User = url.UserPassword(user, "pw")
		}
		return &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(u)}, Timeout: 10 * time.Second}
	}
	alice, anon := client("alice"), client("")
	do := func(c *http.Client, method, host, path, body string, want int) {
		t.Helper()
		req, _ := http.NewRequest(method, fmt.Sprintf("http://%s:%d%s", host, port, path), strings.NewReader(body))
		if body == "" {
			req.Body = nil
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("%s %s%s: %d, want %d", method, host, path, resp.StatusCode, want)
		}
	}
	for range 5 {
		do(alice, "GET", "origin.test", "/ok", "", 200)
	}
	for range 3 {
		do(alice, "GET", "origin.test", "/missing", "", 404)
	}
	for range 2 {
		do(alice, "POST", "origin.test", "/echo", "ping", 201)
	}
	do(alice, "GET", "nx.test", "/", "", 503)
	do(alice, "GET", "denied.test", "/x", "", 403)
	do(anon, "GET", "origin.test", "/ok", "", 407)
	// A CONNECT tunnel carrying one request.
	c, err := net.Dial("tcp", proxyAddr)
	if err != nil {
		t.Fatal(err)
	}
	auth := base64.StdEncoding.EncodeToString([]byte("alice:pw"))
	fmt.Fprintf(c, "CONNECT origin.test:%d HTTP/1.1\r\nHost: origin.test:%d\r\nProxy-Authorization: Basic %s\r\n\r\n", port, port, auth)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: "CONNECT"})
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("CONNECT: %v %v", resp, err)
	}
	fmt.Fprintf(c, "GET /ok HTTP/1.1\r\nHost: origin.test\r\nConnection: close\r\n\r\n")
	if _, err := io.Copy(io.Discard, br); err != nil {
		t.Fatal(err)
	}
	c.Close()

	const n = 5 + 3 + 2 + 1 + 1 + 1 + 1
	for i := range n {
		select {
		case <-seen:
		case <-time.After(30 * time.Second):
			t.Fatalf("%d records observed, want %d", i, n)
		}
	}
	if err := alog.Close(); err != nil {
		t.Fatal(err)
	}

	// The access log.
	type key struct {
		method, host, path string
		status             float64
	}
	lines := map[key][]map[string]any{}
	var bytesIn, bytesOut float64
	sc := bufio.NewScanner(bytes.NewReader(logBuf.Bytes()))
	total := 0
	for sc.Scan() {
		var l map[string]any
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("access log line %q: %v", sc.Bytes(), err)
		}
		k := key{l["method"].(string), l["host"].(string), l["path"].(string), l["status"].(float64)}
		lines[k] = append(lines[k], l)
		bytesIn += l["bytes_in"].(float64)
		bytesOut += l["bytes_out"].(float64)
		total++
	}
	if total != n {
		t.Errorf("%d access log lines, want %d:\n%s", total, n, logBuf.Bytes())
	}
	for k, want := range map[key]int{
		{"GET", "origin.test", "/ok", 200}:      5,
		{"GET", "origin.test", "/missing", 404}: 3,
		{"POST", "origin.test", "/echo", 201}:   2,
		{"GET", "nx.test", "/", 503}:            1,
		{"GET", "denied.test", "/x", 403}:       1,
		{"GET", "origin.test", "/ok", 407}:      1,
		{"CONNECT", "origin.test", "", 200}:     1,
	} {
		if len(lines[k]) != want {
			t.Errorf("%v: %d lines, want %d", k, len(lines[k]), want)
		}
	}
	upstream := fmt.Sprintf("127.0.0.1:%d", port)
	check := func(k key, want map[string]any) {
		t.Helper()
		if len(lines[k]) == 0 {
			return
		}
		l := lines[k][0]
		for f, v := range want {
			if l[f] != v {
				t.Errorf("%v: %s = %#v, want %#v", k, f, l[f], v)
			}
		}
		if c, _ := l["client"].(string); !strings.HasPrefix(c, "127.0.0.1:") {
			t.Errorf("%v: client %q", k, c)
		}
		if _, err := time.Parse(time.RFC3339Nano, l["time"].(string)); err != nil {
			t.Errorf("%v: time: %v", k, err)
		}
	}
	check(key{"GET", "origin.test", "/ok", 200}, map[string]any{"user": "alice", "scheme": "http",
		"port": float64(port), "protocol": "HTTP/1.1", "upstream": upstream, "tunnel": false, "error": "", "rule": "origin"})
	check(key{"POST", "origin.test", "/echo", 201}, map[string]any{"user": "alice", "upstream": upstream})
	check(key{"GET", "nx.test", "/", 503}, map[string]any{"user": "alice", "upstream": "", "error": proxy.ErrDNSNotFound.Detail})
	check(key{"GET", "denied.test", "/x", 403}, map[string]any{"upstream": "", "error": policy.ErrDestinationDenied.Reason, "rule": "no-denied"})
	check(key{"GET", "origin.test", "/ok", 407}, map[string]any{"user": "", "error": policy.ErrAuthRequired.Reason})
	check(key{"CONNECT", "origin.test", "", 200}, map[string]any{"user": "alice", "tunnel": true, "upstream": upstream, "scheme": ""})
	if l := lines[key{"CONNECT", "origin.test", "", 200}]; len(l) == 1 && l[0]["bytes_out"].(float64) < 100 {
		t.Errorf("tunnel bytes_out %v: the tunnelled response is not counted", l[0]["bytes_out"])
	}

	// /metrics, through the admin mux.
	h := adminMux(newAdminDeps(srv, res, m, nil))
	code, body, _ := get(t, h, "/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	got := parseProm(t, body)
	for k, want := range map[string]float64{
		`sluice_requests_total{method="GET",class="2xx"}`:             5,
		`sluice_requests_total{method="GET",class="4xx"}`:             3 + 1 + 1,
		`sluice_requests_total{method="GET",class="5xx"}`:             1,
		`sluice_requests_total{method="POST",class="2xx"}`:            2,
		`sluice_requests_total{method="CONNECT",class="2xx"}`:         1,
		`sluice_errors_total{detail="DNS name not found"}`:            1,
		`sluice_errors_total{detail="destination denied by policy"}`:  1,
		`sluice_errors_total{detail="proxy authentication required"}`: 1,
		`sluice_errors_total{detail="other"}`:                         0,
		`sluice_policy_denials_total{reason="denied"}`:                1,
		`sluice_policy_denials_total{reason="auth"}`:                  1,
		`sluice_policy_denials_total{reason="rate"}`:                  0,
		"sluice_tunnels_closed_total":                                 1,
		"sluice_tunnels_started_total":                                1,
		"sluice_tunnels_active":                                       0,
		"sluice_request_duration_seconds_count":                       n - 1,
		"sluice_tunnel_duration_seconds_count":                        1,
		"sluice_received_bytes_total":                                 bytesIn,
		"sluice_sent_bytes_total":                                     bytesOut,
		"sluice_access_log_dropped_total":                             0,
		"sluice_dns_cache_dns_query_failure_total":                    1,
		"sluice_dns_cache_num_hosts":                                  2,
		`sluice_errors_total{detail="upstream connect refused"}`:      0,
		`sluice_request_duration_seconds_bucket{le="+Inf"}`:           n - 1,
	} {
		if v, ok := got[k]; !ok || v != want {
			t.Errorf("/metrics %s = %v (present %v), want %v", k, v, ok, want)
		}
	}
	for _, k := range []string{"sluice_dns_cache_dns_query_attempt_total", "sluice_upstream_dials_total",
		"sluice_client_connections", "process_cpu_seconds_total"} {
		if _, ok := got[k]; !ok {
			t.Errorf("/metrics: no %s", k)
		}
	}
	if got["sluice_upstream_dials_total"] < 1 || got["sluice_pool_hits_total"] < 1 {
		t.Errorf("dials %v, pool hits %v: want some of each", got["sluice_upstream_dials_total"], got["sluice_pool_hits_total"])
	}
	if code, body, _ := get(t, h, "/readyz"); code != 200 {
		t.Errorf("/readyz: %d %s", code, body)
	}
	code, body, _ = get(t, h, "/debug/dns?host=origin.test")
	if code != 200 || !strings.Contains(body, `"127.0.0.1"`) || !strings.Contains(body, `"valid"`) {
		t.Errorf("/debug/dns: %d %s", code, body)
	}
}

// syncBuffer is a bytes.Buffer for one writer goroutine and the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

// blockedWriter is a disk that never returns from Write until released.
type blockedWriter struct{ release chan struct{} }

func (w blockedWriter) Write(p []byte) (int, error) {
	<-w.release
	return len(p), nil
}

// TestBlockedAccessLogDoesNotSlowRequests: with the access log's writer
// stuck, requests through the proxy still complete, and the drop counter
// (also on /metrics) rises instead.
func TestBlockedAccessLogDoesNotSlowRequests(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	defer origin.Close()
	port := origin.Listener.Addr().(*net.TCPAddr).Port
	dns := dnstest.New(t)
	dns.Set("origin.test", 300, "127.0.0.1")
	res, err := resolver.New(resolver.Config{Nameservers: []string{dns.Addr()},
		ResolvConf: resolver.Disabled, HostsFile: resolver.Disabled})
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Start(); err != nil {
		t.Fatal(err)
	}
	defer res.Stop()
	stuck := blockedWriter{release: make(chan struct{})}
	alog := accesslog.New(stuck, accesslog.Options{QueueSize: 16})
	defer func() { close(stuck.release); alog.Close() }()
	m := metrics.New(metrics.Sources{AccessLogDrops: alog.Drops})
	srv, err := engine.NewServer(engine.Config{Listen: "127.0.0.1:0", Loops: 1,
		Observer: metrics.NewMulti(alog, m)}, res)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	u := &url.URL{Scheme: "http", Host: srv.Addr().String()}
	client := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(u)}, Timeout: 5 * time.Second}
	defer client.CloseIdleConnections()
	const n = 500
	for i := 0; i < n; i++ {
		resp, err := client.Get(fmt.Sprintf("http://origin.test:%d/", port))
		if err != nil {
			t.Fatalf("request %d with the access log stuck: %v", i, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if d := alog.Drops(); d < n-64 {
		t.Fatalf("%d of %d lines dropped; want nearly all (the writer is stuck)", d, n)
	}
	var b strings.Builder
	m.WritePrometheus(&b)
	if !strings.Contains(b.String(), "sluice_access_log_dropped_total") {
		t.Fatalf("no drop counter on /metrics:\n%s", b.String())
	}
}

// TestReadinessBounds: SIGTERM makes /readyz fail at once; preresolve hosts
// that never answer stop blocking readiness after preresolveWait.
func TestReadinessBounds(t *testing.T) {
	p := &fakeProxy{done: make(chan struct{})}
	var term atomic.Bool
	now := time.Unix(1000, 0)
	ready := readiness(readyInputs{srv: p, resolverReady: make(chan struct{}), terminating: &term,
		started: now, preresolveWait: 10 * time.Second, now: func() time.Time { return now }})
	if err := ready(); err == nil || !strings.Contains(err.Error(), "preresolve") {
		t.Fatalf("at start: %v", err)
	}
	now = now.Add(10 * time.Second)
	if err := ready(); err != nil {
		t.Fatalf("after the bounded wait: %v", err)
	}
	term.Store(true)
	if err := ready(); err == nil || !strings.Contains(err.Error(), "SIGTERM") {
		t.Fatalf("after SIGTERM: %v", err)
	}
	if err := liveness(p)(); err != nil {
		t.Fatalf("liveness: %v", err)
	}
	p.err = errors.New("boom")
	close(p.done)
	if err := liveness(p)(); err == nil {
		t.Fatal("liveness after the engine stopped by itself")
	}
}
