package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluiceproxy/sluice/cache"
	"github.com/sluiceproxy/sluice/resolver/dnstest"
)

// TestCacheSection runs the binary with a cache: section; the second GET of
// a cacheable response is answered without the origin, the access log says
// hit, /debug/cache and /metrics count it, and POST /cache/purge?url= drops
// the entry.
func TestCacheSection(t *testing.T) {
	var asked atomic.Int64
	ln, dns, dir, cfg := originAndConfig(t, "cache:\n  max_bytes: 33554432\n", func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "cacheable")
	})
	logPath := filepath.Join(dir, "access.log")
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	admin := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	p := startProc(t, "", "-config", cfg, "-dns", dns.Addr(), "-access-log", logPath, "-listen", addr, "-admin", admin)
	p.waitListening(t, addr, admin)
	pu, _ := url.Parse("http://" + addr)
	c := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(pu)}, Timeout: 10 * time.Second}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	target := "http://origin.test:" + port + "/x"
	get := func() {
		t.Helper()
		resp, err := c.Get(target)
		if err != nil {
			t.Fatalf("%v\n%s", err, p.stderr.Bytes())
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "cacheable" {
			t.Fatalf("%q", b)
		}
	}
	adminGet := func(path string) string {
		t.Helper()
		resp, err := http.Get("http://" + admin + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return string(b)
	}
	get()
	get()
	if n := asked.Load(); n != 1 {
		t.Fatalf("origin asked %d times, want 1", n)
	}
	var st cache.StoreStats
	if err := json.Unmarshal([]byte(adminGet("/debug/cache")), &st); err != nil || st.Stores != 1 || st.Hits != 1 {
		t.Fatalf("/debug/cache: %+v %v", st, err)
	}
	if m := adminGet("/metrics"); !strings.Contains(m, "sluice_cache_stores_total 1") {
		t.Fatalf("/metrics has no sluice_cache_stores_total 1")
	}
	// Purging the URL sends the next request to the origin.
	resp, err := http.Post("http://"+admin+"/cache/purge?url="+url.QueryEscape("http://ORIGIN.test:"+port+"/x"), "", nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("purge: %v %v", err, resp)
	}
	resp.Body.Close()
	get()
	if n := asked.Load(); n != 2 {
		t.Fatalf("after purge: origin asked %d times, want 2", n)
	}
	if resp, _ := http.Post("http://"+admin+"/cache/purge?url=ftp://x/", "", nil); resp == nil || resp.StatusCode != 400 {
		t.Fatalf("purge of a non-http URL: %v", resp)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ := os.ReadFile(logPath)
		if strings.Count(string(b), `"cache":"hit"`) == 1 && strings.Count(string(b), `"cache":"miss"`) == 2 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("access log without one miss and one hit:\n%s", b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestCompressionSection runs the binary with compression enabled: Go's
// client, which asks for gzip by itself, gets a gzip body it decodes to the
// origin's bytes, and the access log names the coding.
func TestCompressionSection(t *testing.T) {
	body := strings.Repeat("a compressible line of text\n", 200)
	ln, dns, dir, cfg := originAndConfig(t, "compression:\n  enabled: true\n  codings: [gzip]\n  gzip_level: 1\n", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, body)
	})
	logPath := filepath.Join(dir, "access.log")
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	p := startProc(t, "", "-config", cfg, "-dns", dns.Addr(), "-access-log", logPath, "-listen", addr, "-admin", "")
	p.waitListening(t, addr)
	pu, _ := url.Parse("http://" + addr)
	c := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(pu)}, Timeout: 10 * time.Second}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	resp, err := c.Get("http://origin.test:" + port + "/x")
	if err != nil {
		t.Fatalf("%v\n%s", err, p.stderr.Bytes())
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !resp.Uncompressed || string(b) != body {
		t.Fatalf("decoded by the client %v, %d bytes", resp.Uncompressed, len(b))
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ := os.ReadFile(logPath)
		if strings.Contains(string(b), `"encoding":"gzip"`) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("access log without encoding gzip:\n%s", b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// originAndConfig starts an origin serving h, a DNS server naming it
// origin.test, and writes config to a file in a temporary directory.
func originAndConfig(t *testing.T, config string, h http.HandlerFunc) (ln net.Listener, dns *dnstest.Server, dir, cfg string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	dns = dnstest.New(t)
	dns.Set("origin.test", 60, "127.0.0.1")
	dir = t.TempDir()
	cfg = filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(cfg, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	return ln, dns, dir, cfg
}
