package resolver

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/sluiceproxy/sluice/resolver/dnstest"
)

// newTestResolver starts a resolver on a fake clock that queries only s
// (no resolv.conf, no hosts file), and stops it when the test ends.
func newTestResolver(t testing.TB, s *dnstest.Server, mod func(*Config)) (*Resolver, *FakeClock) {
	t.Helper()
	clk := NewFakeClock(time.Time{})
	cfg := Config{
		ResolvConf:   Disabled,
		HostsFile:    Disabled,
		Clock:        clk,
		QueryTimeout: 5 * time.Second,
	}
	if s != nil {
		cfg.Nameservers = []string{s.Addr()}
	}
	if mod != nil {
		mod(&cfg)
	}
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Stop)
	return r, clk
}

type result struct {
	a   *Answer
	err error
}

// resolveAsync starts a Resolve and returns the channel its result arrives on.
func resolveAsync(r *Resolver, host string) <-chan result {
	ch := make(chan result, 1)
	r.Resolve(host, func(a *Answer, err error) { ch <- result{a, err} })
	return ch
}

// wait returns the result from ch, failing the test after 10 s.
func wait(t testing.TB, ch <-chan result) (*Answer, error) {
	t.Helper()
	select {
	case res := <-ch:
		return res.a, res.err
	case <-time.After(10 * time.Second):
		t.Fatal("no callback within 10s")
		return nil, nil
	}
}

// resolveWait resolves host and waits for the callback.
func resolveWait(t testing.TB, r *Resolver, host string) (*Answer, error) {
	t.Helper()
	return wait(t, resolveAsync(r, host))
}

// resolveSync resolves host and fails unless the callback ran before
// Resolve returned.
func resolveSync(t testing.TB, r *Resolver, host string) (*Answer, error) {
	t.Helper()
	var got *result
	r.Resolve(host, func(a *Answer, err error) { got = &result{a, err} })
	if got == nil {
		t.Fatalf("Resolve(%q): callback not called synchronously", host)
	}
	return got.a, got.err
}

// mustResolve resolves host and fails on error.
func mustResolve(t testing.TB, r *Resolver, host string) *Answer {
	t.Helper()
	a, err := resolveWait(t, r, host)
	if err != nil {
		t.Fatalf("Resolve(%q): %v", host, err)
	}
	if a == nil || len(a.Addrs) == 0 {
		t.Fatalf("Resolve(%q): empty answer %+v", host, a)
	}
	return a
}

// waitFor polls cond (the state it waits for is published by another
// goroutine with no event to wait on) and fails after 10 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func addrs(ss ...string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

func checkAddrs(t testing.TB, what string, got []netip.Addr, want ...string) {
	t.Helper()
	if !slices.Equal(got, addrs(want...)) {
		t.Fatalf("%s: addrs %v, want %v", what, got, want)
	}
}

func checkErr(t testing.TB, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: error %v, want %v", what, err, want)
	}
}

// writeFile writes content to a new file in the test's temporary directory
// and returns its path.
func writeFile(t testing.TB, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// resolving reports whether a resolution is queued or running for any host.
func resolving(r *Resolver) bool {
	for i := range r.shards {
		for e := range r.shards[i].t.Load().all() {
			if e.inflight.Load() {
				return true
			}
		}
	}
	return false
}
