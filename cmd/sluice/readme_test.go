package main

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sluiceproxy/sluice/resolver/dnstest"
)

// readmeRunFlags matches the README's `make run RUNFLAGS='...'` lines.
var readmeRunFlags = regexp.MustCompile(`make run RUNFLAGS='([^']*)'`)

// TestReadmeRunFlags runs the binary the way the README's `make run
// RUNFLAGS='...'` lines do (make run is ./bin/sluice $(RUNFLAGS) from the
// repository's top), with only the addresses moved to free ports and names
// resolved by an in-process DNS server: it must start and serve. The example
// configuration requires proxy authentication, so a request without
// credentials gets 407 and one with the example user's is forwarded, and
// its access log line reaches stdout.
func TestReadmeRunFlags(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	lines := readmeRunFlags.FindAllStringSubmatch(string(readme), -1)
	if len(lines) == 0 {
		t.Fatal("README.md has no make run RUNFLAGS='...' line")
	}
	origin := startOrigin(t, "hello from the docs")
	_, originPort, _ := strings.Cut(origin, ":")
	dns := dnstest.New(t)
	dns.Set("docs.partner.example", 60, "127.0.0.1")
	for _, m := range lines {
		runFlags := strings.Fields(m[1])
		t.Run(m[1], func(t *testing.T) {
			proxy := fmt.Sprintf("127.0.0.1:%d", freePort(t))
			admin := fmt.Sprintf("127.0.0.1:%d", freePort(t))
			args := append(runFlags, "-listen", proxy, "-admin", admin, "-dns", dns.Addr())
			p := startProc(t, root, args...)
			p.waitListening(t, proxy, admin)

			target := "docs.partner.example:" + originPort
			resp, _ := exchange(t, proxy, fmt.Sprintf("GET http://%s/ HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", target, target))
			if resp.StatusCode != 407 || resp.Header.Get("Proxy-Authenticate") != `Basic realm="sluice"` {
				t.Fatalf("without credentials: %d %q, want 407 (the example requires auth)", resp.StatusCode, resp.Header.Get("Proxy-Authenticate"))
			}
			// The example user the README names.
			cred := base64.StdEncoding.EncodeToString([]byte("alice:alice-example-password"))
			resp, body := exchange(t, proxy, fmt.Sprintf("GET http://%s/ HTTP/1.1\r\nHost: %s\r\nProxy-Authorization: Basic %s\r\nConnection: close\r\n\r\n", target, target, cred))
			if resp.StatusCode != 200 || body != "hello from the docs" {
				t.Fatalf("as alice: %d %q\n%s", resp.StatusCode, body, p.stderr.Bytes())
			}
			// access_log "-": the line is on stdout (flushed within 100 ms).
			deadline := time.Now().Add(5 * time.Second)
			for !strings.Contains(string(p.stdout.Bytes()), `"status":200`) {
				if time.Now().After(deadline) {
					t.Fatalf("no access log line on stdout: %q", p.stdout.Bytes())
				}
				time.Sleep(20 * time.Millisecond)
			}
			p.stop(t)
		})
	}
}
