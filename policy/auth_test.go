package policy

import (
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// authPolicy compiles a policy with auth over users, a fake clock and a
// bcrypt hook that counts its calls.
func authPolicy(t *testing.T, users map[string]string) (p *Policy, path string, clock *fakeClock, calls *atomic.Int64) {
	t.Helper()
	path = writeHtpasswd(t, t.TempDir(), users)
	p = mustCompile(t, Config{Auth: &AuthConfig{Htpasswd: path, Realm: "egress"}})
	clock = newFakeClock()
	calls = new(atomic.Int64)
	p.auth.now = clock.Now
	p.auth.nextStat = clock.Now().Add(authStatInterval)
	p.auth.compare = func(hash, pw []byte) error {
		calls.Add(1)
		return bcrypt.CompareHashAndPassword(hash, pw)
	}
	return p, path, clock, calls
}

func basic(user, pass string) []byte {
	return []byte("Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass)))
}

func TestAuthenticate(t *testing.T) {
	p, _, _, calls := authPolicy(t, map[string]string{"alice": "s3cret", "bob": "pa:ss word"})
	if !p.AuthRequired() || p.Realm() != "egress" {
		t.Fatalf("AuthRequired %v Realm %q", p.AuthRequired(), p.Realm())
	}
	tests := []struct {
		name   string
		header string
		user   string
		ok     bool
		bcrypt bool // whether bcrypt runs
	}{
		{"right", string(basic("alice", "s3cret")), "alice", true, true},
		{"colon and space in password", string(basic("bob", "pa:ss word")), "bob", true, true},
		// The same credentials spelled differently: answered from the cache.
		{"lower-case scheme", "basic " + base64.StdEncoding.EncodeToString([]byte("alice:s3cret")), "alice", true, false},
		{"spaces around", "  BASIC   " + base64.StdEncoding.EncodeToString([]byte("bob:pa:ss word")) + " ", "bob", true, false},
		{"wrong password", string(basic("alice", "wrong")), "", false, true},
		{"empty password", string(basic("alice", "")), "", false, true},
		{"unknown user", string(basic("mallory", "s3cret")), "", false, true}, // decoy hash: same cost
		{"empty", "", "", false, false},
		{"scheme only", "Basic", "", false, false},
		{"scheme and space", "Basic ", "", false, false},
		{"no space", "Basic" + base64.StdEncoding.EncodeToString([]byte("alice:s3cret")), "", false, false},
		{"bearer", "Bearer " + base64.StdEncoding.EncodeToString([]byte("alice:s3cret")), "", false, false},
		{"digest", `Digest username="alice"`, "", false, false},
		{"not base64", "Basic !!!notbase64", "", false, false},
		{"no colon", "Basic " + base64.StdEncoding.EncodeToString([]byte("alice")), "", false, false},
		{"empty user", "Basic " + base64.StdEncoding.EncodeToString([]byte(":s3cret")), "", false, false},
		{"too long", "Basic " + strings.Repeat("QUFB", 300), "", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := calls.Load()
			user, ok := p.Authenticate([]byte(tc.header))
			if user != tc.user || ok != tc.ok {
				t.Errorf("Authenticate(%q) = %q, %v; want %q, %v", tc.header, user, ok, tc.user, tc.ok)
			}
			if ran := calls.Load() > before; ran != tc.bcrypt {
				t.Errorf("bcrypt ran: %v, want %v", ran, tc.bcrypt)
			}
		})
	}
}

func TestAuthenticateCache(t *testing.T) {
	p, _, clock, calls := authPolicy(t, map[string]string{"alice": "s3cret"})
	h := basic("alice", "s3cret")
	if _, _, cached := p.AuthenticateCached(h); cached {
		t.Fatal("AuthenticateCached: hit before any verification")
	}
	if user, ok := p.Authenticate(h); !ok || user != "alice" {
		t.Fatalf("first: %q %v", user, ok)
	}
	if calls.Load() != 1 {
		t.Fatalf("bcrypt calls %d, want 1", calls.Load())
	}
	for i := 0; i < 10; i++ {
		if user, ok := p.Authenticate(h); !ok || user != "alice" {
			t.Fatalf("cached: %q %v", user, ok)
		}
		if user, ok, cached := p.AuthenticateCached(h); !cached || !ok || user != "alice" {
			t.Fatalf("AuthenticateCached: %q %v %v", user, ok, cached)
		}
	}
	if calls.Load() != 1 {
		t.Fatalf("bcrypt calls %d after cache hits, want 1", calls.Load())
	}

	// A refused credential is cached too: a misconfigured keep-alive client
	// does not cost a bcrypt per request.
	bad := basic("alice", "nope")
	for i := 0; i < 3; i++ {
		if _, ok := p.Authenticate(bad); ok {
			t.Fatal("wrong password accepted")
		}
	}
	if calls.Load() != 2 {
		t.Fatalf("bcrypt calls %d, want 2", calls.Load())
	}

	// Entries expire.
	clock.Advance(DefaultAuthCacheTTL)
	if _, _, cached := p.AuthenticateCached(h); cached {
		t.Fatal("expired entry still cached")
	}
	if _, ok := p.Authenticate(h); !ok {
		t.Fatal("after expiry: refused")
	}
	if calls.Load() != 3 {
		t.Fatalf("bcrypt calls %d after expiry, want 3", calls.Load())
	}
}

func TestAuthenticateFileChange(t *testing.T) {
	p, path, clock, calls := authPolicy(t, map[string]string{"alice": "old"})
	oldH, newH := basic("alice", "old"), basic("alice", "new")
	if _, ok := p.Authenticate(oldH); !ok {
		t.Fatal("old password refused")
	}

	// Replace the file: alice's password changes, carol is added.
	dir := t.TempDir()
	writeHtpasswd(t, dir, map[string]string{"alice": "new", "carol": "c"})
	data, err := os.ReadFile(dir + "/htpasswd")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".tmp", data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}

	// Within the stat interval the cache still answers.
	if _, ok := p.Authenticate(oldH); !ok {
		t.Fatal("old password refused before the file was looked at")
	}
	clock.Advance(authStatInterval)
	if _, ok := p.Authenticate(oldH); ok {
		t.Fatal("old password accepted after the file changed")
	}
	if user, ok := p.Authenticate(newH); !ok || user != "alice" {
		t.Fatal("new password refused")
	}
	if user, ok := p.Authenticate(basic("carol", "c")); !ok || user != "carol" {
		t.Fatal("new user refused")
	}

	// A broken file keeps the last good users.
	if err := os.WriteFile(path, []byte("alice:plaintext\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	clock.Advance(authStatInterval)
	if _, ok := p.Authenticate(newH); !ok {
		t.Fatal("broken file: last good users lost")
	}
	_ = calls
}

func TestAuthCacheBounded(t *testing.T) {
	p, _, _, calls := authPolicy(t, map[string]string{"alice": "a"})
	p.auth.maxEntries = 4
	for i := 0; i < 20; i++ {
		p.Authenticate(basic("alice", fmt.Sprint("guess", i)))
	}
	p.auth.mu.Lock()
	n := len(p.auth.cache)
	p.auth.mu.Unlock()
	if n > 4 {
		t.Errorf("cache holds %d entries, bound 4", n)
	}
	if calls.Load() != 20 {
		t.Errorf("bcrypt calls %d, want 20", calls.Load())
	}
}

func TestAuthConcurrent(t *testing.T) {
	p, _, clock, _ := authPolicy(t, map[string]string{"alice": "a", "bob": "b"})
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				user, pass := "alice", "a"
				if (g+i)%2 == 0 {
					user, pass = "bob", "b"
				}
				if u, ok := p.Authenticate(basic(user, pass)); !ok || u != user {
					t.Errorf("Authenticate(%s) = %q %v", user, u, ok)
					return
				}
				if i%10 == 0 {
					clock.Advance(time.Second)
				}
			}
		}()
	}
	wg.Wait()
}

func TestNoAuth(t *testing.T) {
	p := mustCompile(t, Config{})
	if p.AuthRequired() || p.Realm() != "" {
		t.Error("auth required without auth config")
	}
	if _, ok := p.Authenticate(nil); !ok {
		t.Error("Authenticate without auth config refused")
	}
}

func TestDefaultRealm(t *testing.T) {
	path := writeHtpasswd(t, t.TempDir(), map[string]string{"a": "b"})
	p := mustCompile(t, Config{Auth: &AuthConfig{Htpasswd: path}})
	if p.Realm() != DefaultRealm {
		t.Errorf("Realm() = %q", p.Realm())
	}
}

// TestAuthConfigEveryError: every mistake of the auth section is reported.
func TestAuthConfigEveryError(t *testing.T) {
	_, err := Compile(Config{Auth: &AuthConfig{Realm: `a"b`, Workers: -1, Queue: -2}})
	var errs ConfigErrors
	if !errors.As(err, &errs) {
		t.Fatalf("Compile: %v", err)
	}
	var fields []string
	for _, e := range errs {
		fields = append(fields, e.Field)
	}
	want := []string{"policy.auth.realm", "policy.auth.htpasswd", "policy.auth.workers", "policy.auth.queue"}
	if !slices.Equal(fields, want) {
		t.Fatalf("fields %v, want %v", fields, want)
	}
}
