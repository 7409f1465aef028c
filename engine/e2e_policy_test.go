package engine

import (
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/sluiceproxy/sluice/policy"
)

func withPolicy(t *testing.T, cfg policy.Config) *policy.Policy {
	t.Helper()
	p, err := policy.Compile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// rawGet sends one request on a new connection and returns the response.
func rawGet(t *testing.T, e *env, req string) *http.Response {
	t.Helper()
	c, br := e.raw()
	io.WriteString(c, req)
	resp, _ := readResponse(t, br, strings.Fields(req)[0])
	return resp
}

func TestPolicyDeniedHost(t *testing.T) { forEngines(t, testPolicyDeniedHost) }

func testPolicyDeniedHost(t *testing.T) {
	e := newEnv(t, Config{Policy: withPolicy(t, policy.Config{
		Rules: []policy.Rule{{Name: "no-blocked", Hosts: []string{"blocked.test"}, Action: "deny"}},
	})})
	e.dns.Set("blocked.test", 60, "127.0.0.1")
	resp := rawGet(t, e, fmt.Sprintf("GET http://blocked.test:%d/small HTTP/1.1\r\nHost: blocked.test\r\n\r\n", e.origin.port))
	if resp.StatusCode != 403 {
		t.Fatalf("denied host: %d", resp.StatusCode)
	}
	if resp, body := e.get("/small"); resp.StatusCode != 200 || len(body) != 100 {
		t.Fatalf("allowed host: %d", resp.StatusCode)
	}
}

// TestPolicyResolvedAddressGuard: the loopback preset denies a name that
// resolves to a loopback origin; the origin never sees a connection.
func TestPolicyResolvedAddressGuard(t *testing.T) { forEngines(t, testPolicyResolvedAddressGuard) }

func testPolicyResolvedAddressGuard(t *testing.T) {
	e := newEnv(t, Config{Policy: withPolicy(t, policy.Config{DenyPresets: []string{"loopback"}})})
	resp := rawGet(t, e, fmt.Sprintf("GET http://origin.test:%d/small HTTP/1.1\r\nHost: origin.test\r\n\r\n", e.origin.port))
	if resp.StatusCode != 403 || !strings.Contains(resp.Header.Get("sluice-error"), "127.0.0.1") {
		t.Fatalf("name resolving to a denied address: %d %q", resp.StatusCode, resp.Header.Get("sluice-error"))
	}
	// An IP literal is checked the same way.
	resp = rawGet(t, e, fmt.Sprintf("GET http://127.0.0.1:%d/small HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", e.origin.port))
	if resp.StatusCode != 403 {
		t.Fatalf("denied IP literal: %d", resp.StatusCode)
	}
	if a := e.origin.accepts.Load(); a != 0 {
		t.Fatalf("origin saw %d connections", a)
	}
}

// TestPolicyMetadataDeniedByDefault: with the default policy, a name that
// resolves to the cloud metadata address gets 403 and no connection attempt.
func TestPolicyMetadataDeniedByDefault(t *testing.T) {
	forEngines(t, testPolicyMetadataDeniedByDefault)
}

func testPolicyMetadataDeniedByDefault(t *testing.T) {
	var dialed atomic.Int64
	e := newEnv(t, Config{
		Policy:        withPolicy(t, policy.Config{}),
		DialAddrCheck: func(netip.AddrPort) error { dialed.Add(1); return nil },
	})
	e.dns.Set("metadata.test", 60, "169.254.169.254")
	resp := rawGet(t, e, "GET http://metadata.test/latest/meta-data/ HTTP/1.1\r\nHost: metadata.test\r\n\r\n")
	if resp.StatusCode != 403 || !strings.Contains(resp.Header.Get("sluice-error"), "169.254.169.254") {
		t.Fatalf("metadata address: %d %q", resp.StatusCode, resp.Header.Get("sluice-error"))
	}
	if n := dialed.Load(); n != 0 {
		t.Fatalf("%d connection attempts to a denied address", n)
	}
}

func TestPolicyConnectPort(t *testing.T) { forEngines(t, testPolicyConnectPort) }

func testPolicyConnectPort(t *testing.T) {
	e := newEnv(t, Config{Policy: withPolicy(t, policy.Config{ConnectPorts: "443,8443"})})
	c, br := e.raw()
	io.WriteString(c, "CONNECT origin.test:22 HTTP/1.1\r\nHost: origin.test:22\r\n\r\n")
	resp, _ := readResponse(t, br, "CONNECT")
	if resp.StatusCode != 403 {
		t.Fatalf("CONNECT to port 22: %d", resp.StatusCode)
	}
}

func TestPolicyProxyAuth(t *testing.T) { forEngines(t, testPolicyProxyAuth) }

func testPolicyProxyAuth(t *testing.T) {
	dir := t.TempDir()
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	htpasswd := filepath.Join(dir, "htpasswd")
	os.WriteFile(htpasswd, []byte("alice:"+string(hash)+"\n"), 0o600)
	e := newEnv(t, Config{Policy: withPolicy(t, policy.Config{
		Auth:  &policy.AuthConfig{Htpasswd: htpasswd, Realm: "egress"},
		Rules: []policy.Rule{{Name: "alice-only", Hosts: []string{"*"}, Users: []string{"bob"}, Action: "deny"}},
	})})
	target := fmt.Sprintf("GET http://origin.test:%d/head HTTP/1.1\r\nHost: origin.test\r\n", e.origin.port)
	basic := func(user, pass string) string {
		return "Proxy-Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass)) + "\r\n"
	}
	for _, tc := range []struct {
		name, hdr string
		status    int
	}{
		{"missing", "", 407},
		{"wrong password", basic("alice", "nope"), 407},
		{"unknown user", basic("mallory", "s3cret"), 407},
		{"right", basic("alice", "s3cret"), 200},
		{"right again (cached)", basic("alice", "s3cret"), 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, br := e.raw()
			io.WriteString(c, target+tc.hdr+"\r\n")
			resp, body := readResponse(t, br, "GET")
			if resp.StatusCode != tc.status {
				t.Fatalf("got %d, want %d", resp.StatusCode, tc.status)
			}
			if tc.status == 407 && resp.Header.Get("Proxy-Authenticate") != `Basic realm="egress"` {
				t.Fatalf("Proxy-Authenticate %q", resp.Header.Get("Proxy-Authenticate"))
			}
			if tc.status == 200 && strings.Contains(body, "Proxy-Authorization") {
				t.Fatal("Proxy-Authorization forwarded")
			}
		})
	}
}

func TestPolicyRateLimit(t *testing.T) { forEngines(t, testPolicyRateLimit) }

func testPolicyRateLimit(t *testing.T) {
	e := newEnv(t, Config{Policy: withPolicy(t, policy.Config{
		RateLimits: policy.RateLimits{PerClient: policy.RateLimit{RPS: 0.5, Burst: 2}},
	})})
	c, br := e.raw()
	req := fmt.Sprintf("GET http://origin.test:%d/small HTTP/1.1\r\nHost: origin.test\r\n\r\n", e.origin.port)
	var statuses []int
	var retryAfter string
	for i := 0; i < 4; i++ {
		io.WriteString(c, req)
		resp, _ := readResponse(t, br, "GET")
		statuses = append(statuses, resp.StatusCode)
		if resp.StatusCode == 429 {
			retryAfter = resp.Header.Get("Retry-After")
		}
	}
	if statuses[0] != 200 || statuses[1] != 200 || statuses[2] != 429 || statuses[3] != 429 {
		t.Fatalf("statuses %v, want 200 200 429 429", statuses)
	}
	if n, err := strconv.Atoi(retryAfter); err != nil || n < 1 || n > 2 {
		t.Fatalf("Retry-After %q", retryAfter)
	}
}

func TestPolicyClientACL(t *testing.T) { forEngines(t, testPolicyClientACL) }

func testPolicyClientACL(t *testing.T) {
	e := newEnv(t, Config{Policy: withPolicy(t, policy.Config{ClientCIDRs: []string{"192.0.2.0/24"}})})
	c, err := net.Dial("tcp", e.proxy)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	b, _ := io.ReadAll(c)
	if !strings.HasPrefix(string(b), "HTTP/1.1 403 ") {
		t.Fatalf("client outside the ACL got %q", b)
	}
}
