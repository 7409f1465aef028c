package resolver

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/sluiceproxy/sluice/resolver/dnstest"
)

func TestLookupHitDoesNotAllocate(t *testing.T) {
	s := dnstest.New(t)
	s.Set("hit.test", 60, "192.0.2.1")
	r, _ := newTestResolver(t, s, nil)
	mustResolve(t, r, "hit.test")
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

// TestRefreshBeforeExpiry: a host in use is refreshed in the background at
// 80% of its TTL; Lookup keeps returning the old answer while the refresh
// runs, even past its expiry, then returns the new one.
func TestRefreshBeforeExpiry(t *testing.T) {
	s := dnstest.New(t)
	s.Set("hot.test", 10, "192.0.2.1")
	r, clk := newTestResolver(t, s, func(c *Config) { c.Family = FamilyV4Only })
	a1 := mustResolve(t, r, "hot.test")
	s.Hold("hot.test")
	s.Set("hot.test", 20, "192.0.2.2")
	for range 7 {
		clk.Advance(time.Second)
		if a := r.Lookup([]byte("hot.test")); a != a1 {
			t.Fatalf("Lookup = %+v, want the first answer", a)
		}
	}
	if q := s.Queries("hot.test", dns.TypeA); q != 1 {
		t.Fatalf("%d queries before 80%% of the TTL, want 1", q)
	}
	clk.Advance(time.Second) // 8 s: refresh starts
	s.WaitQueries("hot.test", dns.TypeA, 2)
	clk.Advance(3 * time.Second) // 11 s: expired, refresh still running
	if a := r.Lookup([]byte("hot.test")); a != a1 {
		t.Fatalf("Lookup during refresh = %+v, want the old answer", a)
	}
	if a, err := resolveSync(t, r, "hot.test"); a != a1 || err != nil {
		t.Fatalf("Resolve during refresh = %+v, %v; want the old answer", a, err)
	}
	s.Release("hot.test")
	var a2 *Answer
	waitFor(t, "the refreshed answer", func() bool {
		a2 = r.Lookup([]byte("hot.test"))
		return a2 != a1
	})
	checkAddrs(t, "refreshed", a2.Addrs, "192.0.2.2")
	if a2.TTL != 20*time.Second || a2.Stale {
		t.Errorf("refreshed answer %+v", a2)
	}
	if st := r.Stats(); st.HostAddressChanged != 1 || st.QuerySuccess != 2 {
		t.Errorf("stats %+v", st)
	}
}

// TestUnusedHostNotRefreshed: a host nobody looked up since its answer was
// published expires instead of being refreshed; the next use resolves.
func TestUnusedHostNotRefreshed(t *testing.T) {
	s := dnstest.New(t)
	s.Set("once.test", 10, "192.0.2.1")
	r, clk := newTestResolver(t, s, func(c *Config) { c.Family = FamilyV4Only })
	mustResolve(t, r, "once.test")
	for range 11 {
		clk.Advance(time.Second)
	}
	if q := s.Queries("once.test", dns.TypeA); q != 1 {
		t.Fatalf("%d queries for an unused host, want 1", q)
	}
	if a := r.Lookup([]byte("once.test")); a != nil {
		t.Fatalf("Lookup after expiry = %+v, want nil", a)
	}
	mustResolve(t, r, "once.test")
	if q := s.Queries("once.test", dns.TypeA); q != 2 {
		t.Fatalf("%d queries, want 2", q)
	}
}

// TestFailedRefreshKeepsLastGood: when refreshes fail, a host in use keeps
// its last good answer (stale) until MaxStale past its expiry; the failures
// are counted; then the error is served.
func TestFailedRefreshKeepsLastGood(t *testing.T) {
	s := dnstest.New(t)
	s.Set("flaky.test", 10, "192.0.2.1")
	r, clk := newTestResolver(t, s, func(c *Config) {
		c.Family = FamilyV4Only
		c.MaxStale = 20 * time.Second
	})
	// settled waits until no resolution is running, so that each step
	// below sees the result of the refresh the previous tick started.
	settled := func() { waitFor(t, "resolutions to end", func() bool { return !resolving(r) }) }
	a1 := mustResolve(t, r, "flaky.test")
	s.SetRcode("flaky.test", dns.RcodeServerFailure)
	staleUntil := a1.Expires.Add(20 * time.Second)
	var stale *Answer
	// Use the host every tick, like a busy client: until the stale limit
	// every Lookup is answered at once with the old addresses.
	for clk.Now().Before(staleUntil.Add(-2 * time.Second)) {
		clk.Advance(tickInterval)
		settled()
		a := r.Lookup([]byte("flaky.test"))
		if a == nil || a.Err != nil {
			t.Fatalf("at +%v: Lookup = %+v, want the last good answer", clk.Now().Sub(a1.Resolved), a)
		}
		checkAddrs(t, "stale", a.Addrs, "192.0.2.1")
		if a.Stale {
			stale = a
			if !a.Resolved.Equal(a1.Resolved) || a.TTL < DefaultMinTTL && !a.Expires.Equal(staleUntil) {
				t.Fatalf("stale answer %+v", a)
			}
		}
	}
	if stale == nil {
		t.Fatal("no stale answer published")
	}
	if st := r.Stats(); st.QueryFailure < 2 || st.QuerySuccess != 1 {
		t.Fatalf("stats %+v: want the failed refreshes counted", st)
	}
	// Past the limit the error comes through (as a cached error, or to a
	// Resolve that waits for the next attempt).
	for i := 0; ; i++ {
		if i == 200 {
			t.Fatal("error not served after MaxStale")
		}
		clk.Advance(tickInterval)
		settled()
		a := r.Lookup([]byte("flaky.test"))
		if a == nil {
			a, _ = resolveWait(t, r, "flaky.test")
		}
		if a.Err != nil {
			checkErr(t, "after MaxStale", a.Err, ErrServerFailure)
			if clk.Now().Before(staleUntil) {
				t.Fatalf("error served at %v, before the stale limit %v", clk.Now(), staleUntil)
			}
			break
		}
	}
}

// TestNegativeCachingBackoff: a failed resolution is cached for a jittered
// exponential backoff; no query is sent before it ends; the next Resolve
// after it queries again.
func TestNegativeCachingBackoff(t *testing.T) {
	s := dnstest.New(t)
	r, clk := newTestResolver(t, s, func(c *Config) {
		c.Family = FamilyV4Only
		c.FailureBackoffBase = time.Second
		c.FailureBackoffMax = 8 * time.Second
	})
	bounds := []time.Duration{1, 2, 4, 8, 8, 8}
	for i, hi := range bounds {
		hi *= time.Second
		a, err := resolveWait(t, r, "nx.test")
		checkErr(t, "nx.test", err, ErrNotFound)
		if a.TTL < hi/2 || a.TTL > hi {
			t.Errorf("failure %d: backoff %v, want in [%v, %v]", i+1, a.TTL, hi/2, hi)
		}
		if !a.Expires.Equal(clk.Now().Add(a.TTL)) {
			t.Errorf("Expires %v, want now+%v", a.Expires, a.TTL)
		}
		// Until the backoff ends: the cached error, no query.
		clk.Advance(a.TTL - tickInterval)
		if l := r.Lookup([]byte("nx.test")); l != a {
			t.Fatalf("Lookup during backoff = %+v, want the cached error", l)
		}
		if _, err := resolveSync(t, r, "nx.test"); err != a.Err {
			t.Fatalf("Resolve during backoff: %v", err)
		}
		if q := s.Queries("nx.test", dns.TypeA); q != i+1 {
			t.Fatalf("%d queries during backoff %d, want %d", q, i+1, i+1)
		}
		clk.Advance(2 * tickInterval)
		if l := r.Lookup([]byte("nx.test")); l != nil {
			t.Fatalf("Lookup after backoff = %+v, want nil", l)
		}
	}
	// Success resets the backoff.
	s.Set("nx.test", 60, "192.0.2.1")
	mustResolve(t, r, "nx.test")
}

func TestEvictIdleHosts(t *testing.T) {
	s := dnstest.New(t)
	s.Set("idle.test", 3600, "192.0.2.1")
	s.Set("busy.test", 3600, "192.0.2.2")
	s.SetRcode("failed.test", dns.RcodeServerFailure)
	r, clk := newTestResolver(t, s, func(c *Config) {
		c.HostTTL = time.Minute
		c.Family = FamilyV4Only
	})
	mustResolve(t, r, "idle.test")
	mustResolve(t, r, "busy.test")
	resolveWait(t, r, "failed.test")
	for range 6 {
		clk.Advance(10 * time.Second)
		if r.Lookup([]byte("busy.test")) == nil {
			t.Fatal("busy host missing")
		}
	}
	clk.Advance(time.Second)
	if r.Lookup([]byte("idle.test")) != nil || r.Lookup([]byte("failed.test")) != nil {
		t.Fatal("idle hosts not evicted")
	}
	st := r.Stats()
	if st.HostRemoved != 2 || st.NumHosts != 1 {
		t.Fatalf("stats %+v", st)
	}
	if d := r.Dump(); len(d) != 1 || d[0].Host != "busy.test" {
		t.Fatalf("Dump %+v", d)
	}
	// An evicted host resolves again.
	mustResolve(t, r, "idle.test")
}

func TestCacheOverflow(t *testing.T) {
	s := dnstest.New(t)
	for _, h := range []string{"a.test", "b.test", "c.test"} {
		s.Set(h, 3600, "192.0.2.1")
	}
	r, clk := newTestResolver(t, s, func(c *Config) {
		c.MaxHosts = 2
		c.HostTTL = time.Minute
		c.Family = FamilyV4Only
	})
	mustResolve(t, r, "a.test")
	mustResolve(t, r, "b.test")
	_, err := resolveSync(t, r, "c.test")
	checkErr(t, "third host", err, ErrCacheOverflow)
	if st := r.Stats(); st.HostOverflow != 1 || st.NumHosts != 2 {
		t.Fatalf("stats %+v", st)
	}
	if q := s.Queries("c.test", dns.TypeA); q != 0 {
		t.Fatal("overflowing host was queried")
	}
	// Cached hosts still resolve; once one is evicted there is room.
	if _, err := resolveSync(t, r, "a.test"); err != nil {
		t.Fatal(err)
	}
	for range 7 {
		clk.Advance(10 * time.Second)
		r.Lookup([]byte("a.test"))
	}
	mustResolve(t, r, "c.test")
}

// TestConcurrentChurn mixes Lookup, Resolve, refresh and eviction on many
// hosts from many goroutines, for the race detector, and checks the
// invariants afterwards.
func TestConcurrentChurn(t *testing.T) {
	s := dnstest.New(t)
	const hosts = 64
	for i := range hosts {
		s.Set(fmt.Sprintf("h%d.test", i), 5, fmt.Sprintf("192.0.2.%d", i))
	}
	r, clk := newTestResolver(t, s, func(c *Config) {
		c.MaxHosts = 48
		c.HostTTL = 10 * time.Second
		c.Family = FamilyV4Only
	})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var mu sync.Mutex
	var bad []string
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			for {
				select {
				case <-stop:
					return
				default:
				}
				h := fmt.Sprintf("h%d.test", rng.IntN(hosts))
				if rng.IntN(4) == 0 {
					r.Resolve(h, func(a *Answer, err error) {
						if err == nil && (a == nil || len(a.Addrs) != 1) {
							mu.Lock()
							bad = append(bad, h)
							mu.Unlock()
						}
					})
				} else if a := r.Lookup([]byte(h)); a != nil && a.Err == nil && len(a.Addrs) != 1 {
					mu.Lock()
					bad = append(bad, h)
					mu.Unlock()
				}
			}
		}()
	}
	for range 200 {
		clk.Advance(tickInterval)
		time.Sleep(100 * time.Microsecond)
	}
	close(stop)
	wg.Wait()
	r.Stop()
	if len(bad) > 0 {
		t.Fatalf("bad answers for %v", bad)
	}
	st := r.Stats()
	n := 0
	for i := range r.shards {
		n += r.shards[i].t.Load().n
	}
	if int64(n) != st.NumHosts || st.NumHosts > 48 || st.HostAdded-st.HostRemoved != uint64(n) || st.Pending != 0 {
		t.Fatalf("stats %+v, %d hosts in the shards", st, n)
	}
}
