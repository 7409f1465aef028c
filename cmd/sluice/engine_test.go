package main

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/sluiceproxy/sluice/resolver/dnstest"
)

// TestEngineFlag runs the binary on each engine (-engine) and proxies
// through it with Go's HTTP client; an unknown engine is refused at start
// with the flag's name in the error.
func TestEngineFlag(t *testing.T) {
	origin := startOrigin(t, "from the origin")
	_, port, _ := strings.Cut(origin, ":")
	dns := dnstest.New(t)
	dns.Set("origin.test", 60, "127.0.0.1")
	for _, engine := range []string{"gnet", "netpoll"} {
		t.Run(engine, func(t *testing.T) {
			addr, stderr := startBinary(t, "-engine", engine, "-dns", dns.Addr(), "-access-log", "", "-log-level", "debug")
			pu, _ := url.Parse("http://" + addr)
			c := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(pu)}, Timeout: 10 * time.Second}
			for i := range 3 { // a new connection, then the pooled one
				resp, err := c.Get("http://origin.test:" + port + "/")
				if err != nil {
					t.Fatalf("request %d: %v\n%s", i, err, stderr)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || string(body) != "from the origin" {
					t.Fatalf("request %d: %d %q", i, resp.StatusCode, body)
				}
			}
		})
	}
	t.Run("unknown", func(t *testing.T) {
		cmd := exec.Command(buildBinary(t), "-engine", "epoll", "-listen", "127.0.0.1:0", "-admin", "")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		done := make(chan error, 1)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(stderr.String(), `engine: "epoll": unknown engine: want gnet or netpoll`) {
				t.Fatalf("exit %v, stderr:\n%s", err, stderr.String())
			}
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			t.Fatal("sluice -engine epoll did not exit")
		}
	})
}
