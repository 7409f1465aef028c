package resolver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/sluiceproxy/sluice/resolver/dnstest"
)

// logBuffer collects a slog text log for the test to read.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// lines returns the log lines holding every one of subs.
func (l *logBuffer) lines(subs ...string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for line := range strings.Lines(l.b.String()) {
		ok := true
		for _, s := range subs {
			ok = ok && strings.Contains(line, s)
		}
		if ok {
			out = append(out, line)
		}
	}
	return out
}

func newTestLog() (*slog.Logger, *logBuffer) {
	lb := &logBuffer{}
	return slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug})), lb
}

// cacheFileConfig sets the cache file, the clock and the logger of a test
// resolver, IPv4 only, then applies more.
func cacheFileConfig(path string, clk *FakeClock, log *slog.Logger, more func(*Config)) func(*Config) {
	return func(c *Config) {
		c.CacheFile, c.Clock, c.Logger = path, clk, log
		c.Family = FamilyV4Only
		if more != nil {
			more(c)
		}
	}
}

// readCacheFile reads and checks the cache file at path and returns its
// hosts by name.
func readCacheFile(t testing.TB, path string) map[string]savedHost {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	hosts, err := parseCacheFileStrict(data)
	if err != nil {
		t.Fatalf("cache file: %v\n%s", err, data)
	}
	return hosts
}

// parseCacheFileStrict decodes a whole cache file and fails on any bad
// entry.
func parseCacheFileStrict(data []byte) (map[string]savedHost, error) {
	raws, err := decodeCacheFile(data)
	if err != nil {
		return nil, err
	}
	out := make(map[string]savedHost)
	for _, raw := range raws {
		var s savedHost
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		out[s.Host] = s
	}
	return out, nil
}

// TestCacheFileRestartWithDNSDown is the case: hosts resolved, the
// resolver stopped (the file written), every answer failing, a new resolver
// started from the file an hour later. A known host is answered at once
// with its saved addresses, marked stale, without a query; an unknown host
// fails; a failed refresh keeps the saved answer; when DNS is back the
// host in use gets the new address.
func TestCacheFileRestartWithDNSDown(t *testing.T) {
	s := dnstest.New(t)
	s.Set("known.test", 60, "192.0.2.1")
	path := filepath.Join(t.TempDir(), "dns-cache.json")
	clk1 := NewFakeClock(time.Time{})
	log, lb := newTestLog()
	r1, _ := newTestResolver(t, s, cacheFileConfig(path, clk1, log, nil))
	a1 := mustResolve(t, r1, "known.test")
	if a, err := resolveSync(t, r1, "192.0.2.9"); err != nil || a == nil {
		t.Fatalf("literal: %+v, %v", a, err)
	}
	r1.Stop()
	saved := readCacheFile(t, path)
	if len(saved) != 1 {
		t.Fatalf("saved %+v, want known.test only (literals never)", saved)
	}
	if k := saved["known.test"]; k.TTL != 60 || !k.Resolved.Equal(a1.Resolved) || len(k.Addrs) != 1 || k.Addrs[0] != "192.0.2.1" {
		t.Fatalf("saved %+v, want the answer %+v", k, a1)
	}
	if st := r1.Stats(); st.CacheFileWrites != 1 || st.CacheFileErrors != 0 {
		t.Fatalf("stats %+v", st)
	}

	s.SetRcode("known.test", dns.RcodeServerFailure)
	s.SetRcode("unknown.test", dns.RcodeServerFailure)
	clk2 := NewFakeClock(clk1.Now().Add(time.Hour))
	r2, _ := newTestResolver(t, s, cacheFileConfig(path, clk2, log, nil))
	queries := s.TotalQueries()
	a := r2.Lookup([]byte("known.test"))
	if a == nil || a.Err != nil || !a.Stale {
		t.Fatalf("Lookup after restart = %+v, want the saved answer, stale", a)
	}
	checkAddrs(t, "saved", a.Addrs, "192.0.2.1")
	if want := a1.Expires.Add(DefaultMaxStale); !a.Resolved.Equal(a1.Resolved) || !a.Expires.Equal(want) {
		t.Errorf("loaded answer resolved %v expires %v, want %v and %v", a.Resolved, a.Expires, a1.Resolved, want)
	}
	if b, err := resolveSync(t, r2, "known.test"); err != nil || b != a {
		t.Fatalf("Resolve after restart = %+v, %v; want the saved answer at once", b, err)
	}
	if q := s.TotalQueries(); q != queries {
		t.Fatalf("%d queries to answer a saved host, want none", q-queries)
	}
	_, err := resolveWait(t, r2, "unknown.test")
	checkErr(t, "unknown host", err, ErrServerFailure)
	if st := r2.Stats(); st.CacheFileLoaded != 1 || st.HostAdded != 2 || st.CacheFileErrors != 0 {
		t.Fatalf("stats %+v", st)
	}
	if d := r2.Dump(); len(d) != 2 || d[0].Host != "known.test" || d[0].State != StateStale {
		t.Fatalf("Dump %+v", d)
	}

	// The host was used: the next tick refreshes it, which fails; the
	// saved answer is kept.
	settled := func() { waitFor(t, "resolutions to end", func() bool { return !resolving(r2) }) }
	clk2.Advance(tickInterval)
	s.WaitQueries("known.test", dns.TypeA, 2)
	settled()
	a = r2.Lookup([]byte("known.test"))
	if a == nil || a.Err != nil || !a.Stale {
		t.Fatalf("Lookup after a failed refresh = %+v, want the saved answer", a)
	}
	checkAddrs(t, "kept", a.Addrs, "192.0.2.1")

	// DNS is back, with a new address.
	s.SetRcode("known.test", 0)
	s.Set("known.test", 60, "192.0.2.2")
	for i := 0; ; i++ {
		if i == 200 {
			t.Fatalf("not refreshed: %+v", a)
		}
		clk2.Advance(tickInterval)
		settled()
		a = r2.Lookup([]byte("known.test"))
		if a != nil && !a.Stale {
			break
		}
	}
	checkAddrs(t, "refreshed", a.Addrs, "192.0.2.2")
	if st := r2.Stats(); st.HostAddressChanged != 1 {
		t.Errorf("stats %+v", st)
	}
	if w := lb.lines("level=WARN"); len(w) != 0 {
		t.Errorf("warnings: %q", w)
	}
}

// TestCacheFileAllNameserversDown: the restart happens with the only
// nameserver gone. Saved hosts, a Preresolve one included, are served at
// once and Ready is closed without waiting for DNS; a failed refresh keeps
// them; the file written at Stop still holds them.
func TestCacheFileAllNameserversDown(t *testing.T) {
	s := dnstest.New(t)
	s.Set("known.test", 60, "192.0.2.1")
	s.Set("pre.test", 60, "192.0.2.7")
	path := filepath.Join(t.TempDir(), "dns-cache.json")
	log, _ := newTestLog()
	clk1 := NewFakeClock(time.Time{})
	pre := func(c *Config) {
		c.Preresolve = []string{"pre.test"}
		c.QueryTimeout = 2 * time.Second
	}
	r1, _ := newTestResolver(t, s, cacheFileConfig(path, clk1, log, pre))
	<-r1.Ready()
	a1 := mustResolve(t, r1, "known.test")
	r1.Stop()
	s.Close()

	clk2 := NewFakeClock(clk1.Now().Add(10 * time.Minute))
	r2, _ := newTestResolver(t, s, cacheFileConfig(path, clk2, log, pre))
	select {
	case <-r2.Ready():
	default:
		t.Fatal("Ready not closed at Start with the Preresolve host saved")
	}
	for h, addr := range map[string]string{"known.test": "192.0.2.1", "pre.test": "192.0.2.7"} {
		a := r2.Lookup([]byte(h))
		if a == nil || a.Err != nil || !a.Stale {
			t.Fatalf("Lookup(%s) = %+v, want the saved answer", h, a)
		}
		checkAddrs(t, h, a.Addrs, addr)
	}
	_, err := resolveWait(t, r2, "unknown.test")
	if !errors.Is(err, ErrServerFailure) && !errors.Is(err, ErrTimeout) {
		t.Fatalf("unknown host: %v, want a DNS failure", err)
	}
	clk2.Advance(tickInterval) // refreshes both (pre.test: pinned)
	waitFor(t, "failed refreshes", func() bool { return r2.Stats().QueryFailure >= 3 && !resolving(r2) })
	for _, h := range []string{"known.test", "pre.test"} {
		if a := r2.Lookup([]byte(h)); a == nil || a.Err != nil || !a.Stale {
			t.Fatalf("Lookup(%s) after a failed refresh = %+v", h, a)
		}
	}
	r2.Stop()
	saved := readCacheFile(t, path)
	if _, ok := saved["pre.test"]; !ok || len(saved) != 2 {
		t.Fatalf("saved %+v, want both hosts kept", saved)
	}
	if k := saved["known.test"]; !k.Resolved.Equal(a1.Resolved) || k.TTL != 60 {
		t.Errorf("saved %+v, want the resolution time and TTL of %+v kept", k, a1)
	}
}

// TestCacheFileBad: an unreadable or corrupt file, or one of another
// version, is ignored with a warning; the resolver starts and works.
func TestCacheFileBad(t *testing.T) {
	good := string(encodeCacheFile([]savedHost{{
		Host: "a.test", Addrs: []string{"192.0.2.1"}, Resolved: NewFakeClock(time.Time{}).Now(), TTL: 60,
	}}))
	for _, tt := range []struct {
		name, content string
	}{
		{"empty", ""},
		{"garbage", "\x00\x01\x02 not json at all"},
		{"truncated", good[:len(good)/2]},
		{"trailing data", good + "{}"},
		{"array", `[{"version":1}]`},
		{"no version", `{"hosts":[]}`},
		{"version 2", `{"version":2,"hosts":[{"host":"a.test","addrs":["192.0.2.1"],"resolved":"2025-01-01T00:00:00Z","ttl":60}]}`},
		{"version 0", `{"version":0,"hosts":[]}`},
		{"version string", `{"version":"1","hosts":[]}`},
		{"hosts not a list", `{"version":1,"hosts":{"a.test":{}}}`},
		{"directory", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := dnstest.New(t)
			s.Set("b.test", 60, "192.0.2.2")
			path := writeFile(t, "dns-cache.json", tt.content)
			if tt.name == "directory" {
				path = t.TempDir()
			}
			log, lb := newTestLog()
			r, _ := newTestResolver(t, s, cacheFileConfig(path, NewFakeClock(time.Time{}), log, nil))
			if st := r.Stats(); st.CacheFileErrors != 1 || st.CacheFileLoaded != 0 || st.NumHosts != 0 {
				t.Fatalf("stats %+v", st)
			}
			if w := lb.lines("level=WARN", "cache file ignored", path); len(w) != 1 {
				t.Fatalf("want one warning naming the file, log:\n%s", lb.lines())
			}
			mustResolve(t, r, "b.test")
		})
	}
}

// TestCacheFileBadEntries: invalid entries are skipped one by one, with one
// warning; entries too old to serve, or of an address family not wanted
// any more, are left out quietly; the others are loaded.
func TestCacheFileBadEntries(t *testing.T) {
	clk := NewFakeClock(time.Time{})
	now := clk.Now()
	at := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339Nano) }
	entries := []string{
		`{"host":"good.test","addrs":["192.0.2.1"],"resolved":"` + at(-time.Minute) + `","ttl":60}`,
		`{"host":"good.test","addrs":["192.0.2.99"],"resolved":"` + at(-time.Hour) + `","ttl":60}`, // older duplicate
		`{"host":"Upper.TEST","addrs":["192.0.2.2","::ffff:192.0.2.3"],"resolved":"` + at(-time.Minute) + `","ttl":30}`,
		`{"host":"future.test","addrs":["192.0.2.4"],"resolved":"` + at(time.Hour) + `","ttl":60,"new_field":true}`,
		// Skipped with the warning:
		`{"host":"badaddr.test","addrs":["192.0.2.1","300.1.1.1"],"resolved":"` + at(0) + `","ttl":60}`,
		`{"host":"bad host","addrs":["192.0.2.1"],"resolved":"` + at(0) + `","ttl":60}`,
		`{"host":"192.0.2.5","addrs":["192.0.2.5"],"resolved":"` + at(0) + `","ttl":60}`,
		`{"host":"noaddrs.test","addrs":[],"resolved":"` + at(0) + `","ttl":60}`,
		`{"host":"zerottl.test","addrs":["192.0.2.1"],"resolved":"` + at(0) + `","ttl":0}`,
		`{"host":"negttl.test","addrs":["192.0.2.1"],"resolved":"` + at(0) + `","ttl":-5}`,
		`{"host":"badtime.test","addrs":["192.0.2.1"],"resolved":"yesterday","ttl":60}`,
		`{"host":"notime.test","addrs":["192.0.2.1"],"ttl":60}`,
		`{"host":"addrstring.test","addrs":"192.0.2.1","resolved":"` + at(0) + `","ttl":60}`,
		`{"host":"zone.test","addrs":["fe80::1%eth0"],"resolved":"` + at(0) + `","ttl":60}`,
		`"just a string"`,
		// Left out quietly:
		`{"host":"old.test","addrs":["192.0.2.1"],"resolved":"` + at(-25*time.Hour) + `","ttl":60}`,
		`{"host":"v6.test","addrs":["2001:db8::1"],"resolved":"` + at(0) + `","ttl":60}`,
	}
	path := writeFile(t, "dns-cache.json", `{"version":1,"hosts":[`+strings.Join(entries, ",\n")+"]}")
	log, lb := newTestLog()
	r, _ := newTestResolver(t, nil, cacheFileConfig(path, clk, log, nil))
	if st := r.Stats(); st.CacheFileLoaded != 3 || st.CacheFileErrors != 0 || st.NumHosts != 3 {
		t.Fatalf("stats %+v", st)
	}
	w := lb.lines("level=WARN")
	if len(w) != 1 || !strings.Contains(w[0], "skipped=11") || !strings.Contains(w[0], "badaddr.test") {
		t.Fatalf("warnings %q, want one counting 11 skipped entries and naming the first", w)
	}
	for _, tt := range []struct {
		host  string
		addrs []string
	}{
		{"good.test", []string{"192.0.2.1"}},
		{"upper.test", []string{"192.0.2.2", "192.0.2.3"}},
		{"future.test", []string{"192.0.2.4"}},
	} {
		a := r.Lookup([]byte(tt.host))
		if a == nil || !a.Stale {
			t.Fatalf("Lookup(%s) = %+v", tt.host, a)
		}
		checkAddrs(t, tt.host, a.Addrs, tt.addrs...)
	}
	if a := r.Lookup([]byte("future.test")); !a.Resolved.Equal(now) || !a.Expires.Equal(now.Add(time.Minute+DefaultMaxStale)) {
		t.Errorf("a resolution time ahead of the clock: %+v, want it taken as now", a)
	}
	for _, h := range []string{"badaddr.test", "old.test", "v6.test", "zone.test"} {
		if a := r.Lookup([]byte(h)); a != nil {
			t.Errorf("Lookup(%s) = %+v, want nil", h, a)
		}
	}
}

// TestCacheFileMissing: no file is normal: nothing logged above Info,
// nothing counted; Stop writes one.
func TestCacheFileMissing(t *testing.T) {
	s := dnstest.New(t)
	s.Set("a.test", 60, "192.0.2.1")
	path := filepath.Join(t.TempDir(), "dns-cache.json")
	log, lb := newTestLog()
	r, _ := newTestResolver(t, s, cacheFileConfig(path, NewFakeClock(time.Time{}), log, nil))
	if st := r.Stats(); st.CacheFileErrors != 0 || st.CacheFileLoaded != 0 {
		t.Fatalf("stats %+v", st)
	}
	if l := lb.lines(); len(l) != 0 {
		t.Fatalf("log for a missing file: %q", l)
	}
	mustResolve(t, r, "a.test")
	r.Stop()
	if saved := readCacheFile(t, path); len(saved) != 1 {
		t.Fatalf("saved %+v", saved)
	}
}

// TestCacheFileAtomicWrite: while the file is rewritten over and over, a
// reader only ever sees a whole file; no temporary file is left, and one
// left by a crash is removed at Start.
func TestCacheFileAtomicWrite(t *testing.T) {
	const hosts = 50
	s := dnstest.New(t)
	for i := range hosts {
		s.Set(fmt.Sprintf("h%d.test", i), 3600, fmt.Sprintf("192.0.2.%d", i))
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "dns-cache.json")
	leftover := filepath.Join(dir, ".dns-cache.json"+tempInfix+"12345")
	other := filepath.Join(dir, "other.tmp-1")
	for _, p := range []string{leftover, other} {
		if err := os.WriteFile(p, []byte(`{"version":1,"ho`), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	clk := NewFakeClock(time.Time{})
	log, _ := newTestLog()
	r, _ := newTestResolver(t, s, cacheFileConfig(path, clk, log, func(c *Config) {
		c.CacheFileInterval = time.Second
	}))
	if _, err := os.Stat(leftover); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("leftover temporary file not removed at Start: %v", err)
	}
	for i := range hosts {
		mustResolve(t, r, fmt.Sprintf("h%d.test", i))
	}

	var reads atomic.Int64
	stop := make(chan struct{})
	failed := make(chan error, 1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			data, err := os.ReadFile(path)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			var got map[string]savedHost
			if err == nil {
				got, err = parseCacheFileStrict(data)
			}
			if err == nil && len(got) != hosts {
				err = fmt.Errorf("%d hosts, want %d", len(got), hosts)
			}
			if err != nil {
				failed <- fmt.Errorf("read %d: %v\n%s", reads.Load(), err, data)
				return
			}
			reads.Add(1)
		}
	}()
	for range 100 {
		clk.Advance(time.Second) // one write each
		r.Lookup([]byte("h0.test"))
	}
	waitFor(t, "reads", func() bool { return reads.Load() >= 20 || len(failed) > 0 })
	close(stop)
	wg.Wait()
	select {
	case err := <-failed:
		t.Fatal(err)
	default:
	}
	if st := r.Stats(); st.CacheFileWrites != 100 || st.CacheFileErrors != 0 {
		t.Fatalf("stats %+v", st)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if len(names) != 2 || names[0] != "dns-cache.json" || names[1] != "other.tmp-1" {
		t.Fatalf("directory holds %q, want the cache file and the unrelated file only", names)
	}
}

// TestCacheFileWriteFailure: a write that fails is counted, leaves no
// temporary file, and is logged once per run of failures.
func TestCacheFileWriteFailure(t *testing.T) {
	s := dnstest.New(t)
	s.Set("a.test", 3600, "192.0.2.1")
	dir := filepath.Join(t.TempDir(), "later")
	path := filepath.Join(dir, "dns-cache.json")
	clk := NewFakeClock(time.Time{})
	log, lb := newTestLog()
	r, _ := newTestResolver(t, s, cacheFileConfig(path, clk, log, func(c *Config) {
		c.CacheFileInterval = 10 * time.Second
	}))
	mustResolve(t, r, "a.test")
	for range 3 {
		clk.Advance(10 * time.Second)
	}
	if st := r.Stats(); st.CacheFileErrors != 3 || st.CacheFileWrites != 0 {
		t.Fatalf("stats %+v", st)
	}
	if w := lb.lines("level=WARN", "not written", path); len(w) != 1 {
		t.Fatalf("warnings %q, want one", lb.lines("level=WARN"))
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	clk.Advance(10 * time.Second)
	if st := r.Stats(); st.CacheFileWrites != 1 {
		t.Fatalf("stats %+v", st)
	}
	if l := lb.lines("written again"); len(l) != 1 {
		t.Fatalf("recovery not logged: %q", lb.lines())
	}
	if saved := readCacheFile(t, path); len(saved) != 1 {
		t.Fatalf("saved %+v", saved)
	}
}

// TestCacheFileWrittenPeriodically: the file is written every
// CacheFileInterval of the resolver's clock.
func TestCacheFileWrittenPeriodically(t *testing.T) {
	s := dnstest.New(t)
	s.Set("a.test", 3600, "192.0.2.1")
	s.Set("b.test", 3600, "192.0.2.2")
	path := filepath.Join(t.TempDir(), "dns-cache.json")
	clk := NewFakeClock(time.Time{})
	log, _ := newTestLog()
	r, _ := newTestResolver(t, s, cacheFileConfig(path, clk, log, func(c *Config) {
		c.CacheFileInterval = 10 * time.Second
	}))
	mustResolve(t, r, "a.test")
	clk.Advance(9 * time.Second)
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("file written before the interval: %v", err)
	}
	clk.Advance(time.Second)
	if saved := readCacheFile(t, path); len(saved) != 1 || saved["a.test"].Addrs[0] != "192.0.2.1" {
		t.Fatalf("saved %+v", saved)
	}
	mustResolve(t, r, "b.test")
	clk.Advance(10 * time.Second)
	if saved := readCacheFile(t, path); len(saved) != 2 {
		t.Fatalf("saved %+v, want both hosts", saved)
	}
	if st := r.Stats(); st.CacheFileWrites != 2 {
		t.Fatalf("stats %+v", st)
	}
	r.Stop()
	if st := r.Stats(); st.CacheFileWrites != 3 {
		t.Fatalf("stats %+v: want one more write at Stop", st)
	}
	clk.Advance(time.Minute)
	if st := r.Stats(); st.CacheFileWrites != 3 || clk.Pending() != 0 {
		t.Fatalf("stats %+v, %d timers pending: written after Stop", st, clk.Pending())
	}
}

// TestCacheFileNotWrittenWithoutStart: Stop without Start leaves the file
// alone (it was never loaded, so writing would lose it).
func TestCacheFileNotWrittenWithoutStart(t *testing.T) {
	content := `{"version":1,"hosts":[]}`
	path := writeFile(t, "dns-cache.json", content)
	r, err := New(Config{ResolvConf: Disabled, HostsFile: Disabled, CacheFile: path, Clock: NewFakeClock(time.Time{})})
	if err != nil {
		t.Fatal(err)
	}
	r.Stop()
	if data, err := os.ReadFile(path); err != nil || string(data) != content {
		t.Fatalf("file after Stop without Start: %q, %v", data, err)
	}
}

// TestCacheFileLoadBound: at most MaxHosts hosts are loaded, Preresolve
// hosts keeping their room, the most recently resolved first; saved hosts
// never used are evicted after HostTTL without a query.
func TestCacheFileLoadBound(t *testing.T) {
	s := dnstest.New(t)
	s.Set("pre.test", 3600, "192.0.2.100")
	clk := NewFakeClock(time.Time{})
	var saved []savedHost
	for i := range 10 {
		saved = append(saved, savedHost{
			Host:     fmt.Sprintf("h%d.test", i),
			Addrs:    []string{fmt.Sprintf("192.0.2.%d", i)},
			Resolved: clk.Now().Add(-time.Duration(i) * time.Minute),
			TTL:      60,
		})
	}
	path := writeFile(t, "dns-cache.json", string(encodeCacheFile(saved)))
	log, _ := newTestLog()
	r, _ := newTestResolver(t, s, cacheFileConfig(path, clk, log, func(c *Config) {
		c.MaxHosts = 4
		c.Preresolve = []string{"pre.test"}
		c.HostTTL = time.Minute
	}))
	<-r.Ready()
	if st := r.Stats(); st.CacheFileLoaded != 3 || st.NumHosts != 4 {
		t.Fatalf("stats %+v", st)
	}
	var got []string
	for _, h := range r.Dump() { // Dump, unlike Lookup, is not a use
		got = append(got, h.Host)
	}
	if want := []string{"h0.test", "h1.test", "h2.test", "pre.test"}; !slices.Equal(got, want) {
		t.Fatalf("cached %q, want %q", got, want)
	}
	clk.Advance(time.Minute + tickInterval)
	if st := r.Stats(); st.NumHosts != 1 {
		t.Fatalf("stats %+v: want only the pinned host left", st)
	}
	for i := range 3 {
		if q := s.Queries(fmt.Sprintf("h%d.test", i), dns.TypeA); q != 0 {
			t.Errorf("h%d.test, never used, queried %d times", i, q)
		}
	}
}

// TestCacheFileServeStaleDisabled: with MaxStale negative a saved answer is
// loaded only while its TTL lasts.
func TestCacheFileServeStaleDisabled(t *testing.T) {
	clk := NewFakeClock(time.Time{})
	path := writeFile(t, "dns-cache.json", string(encodeCacheFile([]savedHost{
		{Host: "fresh.test", Addrs: []string{"192.0.2.1"}, Resolved: clk.Now().Add(-30 * time.Second), TTL: 60},
		{Host: "old.test", Addrs: []string{"192.0.2.2"}, Resolved: clk.Now().Add(-2 * time.Minute), TTL: 60},
	})))
	log, _ := newTestLog()
	r, _ := newTestResolver(t, nil, cacheFileConfig(path, clk, log, func(c *Config) { c.MaxStale = -1 }))
	a := r.Lookup([]byte("fresh.test"))
	if a == nil || !a.Expires.Equal(clk.Now().Add(30*time.Second)) {
		t.Fatalf("Lookup(fresh.test) = %+v, want it until its TTL ends", a)
	}
	if a := r.Lookup([]byte("old.test")); a != nil {
		t.Fatalf("Lookup(old.test) = %+v, want nil", a)
	}
}

// TestLoadedLookupDoesNotAllocate: a host loaded from the file is a hit like
// any other.
func TestLoadedLookupDoesNotAllocate(t *testing.T) {
	clk := NewFakeClock(time.Time{})
	path := writeFile(t, "dns-cache.json", string(encodeCacheFile([]savedHost{
		{Host: "hit.test", Addrs: []string{"192.0.2.1"}, Resolved: clk.Now(), TTL: 60},
	})))
	log, _ := newTestLog()
	r, _ := newTestResolver(t, nil, cacheFileConfig(path, clk, log, nil))
	key := []byte("hit.test")
	allocs := testing.AllocsPerRun(1000, func() {
		if r.Lookup(key) == nil {
			t.Fatal("miss")
		}
	})
	if allocs != 0 {
		t.Fatalf("Lookup hit: %v allocs, want 0", allocs)
	}
}
