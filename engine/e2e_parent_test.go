package engine

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/sluiceproxy/sluice/policy"
)

// viaEnv starts a proxy whose rule "up" sends far.test through the parent
// proxy at parent (an http:// URL).
func viaEnv(t *testing.T, parent string) *env {
	t.Helper()
	pol, err := policy.Compile(policy.Config{ConnectPorts: "*",
		Rules: []policy.Rule{{Name: "up", Hosts: []string{"far.test"}, Action: "allow", Via: parent}}})
	if err != nil {
		t.Fatal(err)
	}
	return newEnv(t, Config{Policy: pol})
}

// TestParentProxy: sluice chained to a second sluice. far.test is known
// to the parent's DNS only, so an answer proves the request went through
// it; the HTTP request carries both proxies' Via entries, and a CONNECT is
// chained.
func TestParentProxy(t *testing.T) { forEngines(t, testParentProxy) }

func testParentProxy(t *testing.T) {
	parent := newEnv(t, Config{ConnectPortAllowed: func(uint16) bool { return true }})
	parent.dns.Set("far.test", 60, "127.0.0.1")
	e := viaEnv(t, "http://"+parent.proxy)
	far := fmt.Sprintf("far.test:%d", parent.origin.port)

	resp, err := e.client.Get("http://" + far + "/head")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := fmt.Sprintf("host=%s via=1.1 sluice, 1.1 sluice uri=/head", far); resp.StatusCode != 200 || !strings.HasPrefix(string(b), want) {
		t.Fatalf("through the parent: %d %q, want %q", resp.StatusCode, b, want)
	}

	c, br := e.raw()
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", far, far)
	if resp, err := http.ReadResponse(br, &http.Request{Method: "CONNECT"}); err != nil || resp.StatusCode != 200 {
		t.Fatalf("chained CONNECT: %v %v", resp, err)
	}
	fmt.Fprintf(c, "GET /small HTTP/1.1\r\nHost: %s\r\n\r\n", far)
	if resp, body := readResponse(t, br, "GET"); resp.StatusCode != 200 || len(body) != 100 {
		t.Fatalf("inside the chained tunnel: %d, %d bytes", resp.StatusCode, len(body))
	}
}

// TestParentProxyFailures: a parent that cannot be reached, or refuses the
// CONNECT, is a 502 naming it.
func TestParentProxyFailures(t *testing.T) { forEngines(t, testParentProxyFailures) }

func testParentProxyFailures(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := ln.Addr().String()
	ln.Close()
	e := viaEnv(t, "http://"+dead)
	resp, err := e.client.Get("http://far.test:1/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if d := resp.Header.Get("Sluice-Error"); resp.StatusCode != 502 || !strings.Contains(d, "parent proxy "+dead) {
		t.Fatalf("dead parent: %d %q", resp.StatusCode, d)
	}

	parent := newEnv(t, Config{}) // CONNECT to 443 only
	parent.dns.Set("far.test", 60, "127.0.0.1")
	e = viaEnv(t, "http://"+parent.proxy)
	c, br := e.raw()
	fmt.Fprintf(c, "CONNECT far.test:%d HTTP/1.1\r\nHost: far.test\r\n\r\n", parent.origin.port)
	if resp, _ := readResponse(t, br, "CONNECT"); resp.StatusCode != 502 || !strings.Contains(resp.Header.Get("Sluice-Error"), "refused the CONNECT: 403") {
		t.Fatalf("refused CONNECT: %d %q", resp.StatusCode, resp.Header.Get("Sluice-Error"))
	}
}

// TestParentProxyCredentials: the request line a parent gets is absolute
// form, with the parent's credentials and not the client's.
func TestParentProxyCredentials(t *testing.T) { forEngines(t, testParentProxyCredentials) }

func testParentProxyCredentials(t *testing.T) {
	var mu sync.Mutex
	var uri, auth string
	p := startOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		uri, auth = r.RequestURI, r.Header.Get("Proxy-Authorization")
		mu.Unlock()
		io.WriteString(w, "from the parent")
	}))
	e := viaEnv(t, fmt.Sprintf("http://ci:s3cret@127.0.0.1:%d", p.port))
	req, _ := http.NewRequest(http.MethodGet, "http://far.test:8080/a?b=1", nil)
	req.Header.Set("Proxy-Authorization", "Basic Y2xpZW50OnB3")
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	mu.Lock()
	defer mu.Unlock()
	if string(b) != "from the parent" || uri != "http://far.test:8080/a?b=1" || auth != "Basic Y2k6czNjcmV0" {
		t.Fatalf("parent got %q with %q; client got %q", uri, auth, b)
	}
}
