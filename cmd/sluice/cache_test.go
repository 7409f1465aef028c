package main

import (
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

	"github.com/sluiceproxy/sluice/resolver/dnstest"
)

// TestCacheSection runs the binary with a cache: section; the second GET of
// a cacheable response is answered without the origin, and the access log
// says hit.
func TestCacheSection(t *testing.T) {
	var asked atomic.Int64
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "cacheable")
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	dns := dnstest.New(t)
	dns.Set("origin.test", 60, "127.0.0.1")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(cfg, []byte("cache:\n  max_bytes: 33554432\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "access.log")
	addr, stderr := startBinary(t, "-config", cfg, "-dns", dns.Addr(), "-access-log", logPath)
	pu, _ := url.Parse("http://" + addr)
	c := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(pu)}, Timeout: 10 * time.Second}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	for i := range 2 {
		resp, err := c.Get("http://origin.test:" + port + "/x")
		if err != nil {
			t.Fatalf("%v\n%s", err, stderr)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "cacheable" {
			t.Fatalf("request %d: %q", i, b)
		}
	}
	if n := asked.Load(); n != 1 {
		t.Fatalf("origin asked %d times, want 1", n)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ := os.ReadFile(logPath)
		if strings.Count(string(b), `"cache":"hit"`) == 1 && strings.Count(string(b), `"cache":"miss"`) == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("access log without one miss and one hit:\n%s", b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
