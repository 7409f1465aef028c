package resolver

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/sluiceproxy/sluice/resolver/dnstest"
)

// nxName is the i-th name the test server answers NXDOMAIN for (it was
// never Set).
func nxName(i int) string { return fmt.Sprintf("nx-%03d.test", i) }

// cachedHosts returns the cached hosts, sorted, without touching them (a
// Lookup would count as a use and change what the second-chance walk does).
func cachedHosts(r *Resolver) []string {
	var hs []string
	for _, h := range r.Dump() {
		hs = append(hs, h.Host)
	}
	return hs
}

// boundWatch samples Stats until stop is called and fails the test if
// NumNegative ever exceeds maxNeg or NumHosts maxHosts: the bounds hold at
// every moment, not only once things settle.
func boundWatch(t *testing.T, r *Resolver, maxNeg, maxHosts int64) (stop func()) {
	t.Helper()
	var done atomic.Bool
	var wg sync.WaitGroup
	var worst Stats
	var bad atomic.Bool
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !done.Load() {
			if st := r.Stats(); st.NumNegative > maxNeg || st.NumHosts > maxHosts {
				worst = st
				bad.Store(true)
				return
			}
			runtime.Gosched()
		}
	}()
	return func() {
		t.Helper()
		done.Store(true)
		wg.Wait()
		if bad.Load() {
			t.Errorf("bounds exceeded: stats %+v, want NumNegative <= %d, NumHosts <= %d", worst, maxNeg, maxHosts)
		}
	}
}

// checkNegativeInvariants checks, once nothing is running, that the
// counters agree with the cache: NumHosts is the number of entries,
// NumNegative the number of unpinned ones whose answer is an error, and
// exactly those are on the negative list.
func checkNegativeInvariants(t *testing.T, r *Resolver) {
	t.Helper()
	waitFor(t, "resolutions to end", func() bool { return !resolving(r) })
	hosts, negs := 0, 0
	for i := range r.shards {
		for e := range r.shards[i].t.Load().all() {
			hosts++
			e.mu.Lock()
			a := e.answer.Load()
			neg := a != nil && a.Err != nil && !e.pinned.Load()
			if neg != e.negListed {
				t.Errorf("%s: negative %v but listed %v", e.host, neg, e.negListed)
			}
			e.mu.Unlock()
			if neg {
				negs++
			}
		}
	}
	r.negMu.Lock()
	listed := r.neg.n
	r.negMu.Unlock()
	st := r.Stats()
	if st.NumHosts != int64(hosts) || st.HostAdded-st.HostRemoved != uint64(hosts) {
		t.Errorf("stats %+v, %d hosts cached", st, hosts)
	}
	if st.NumNegative != int64(negs) || listed != negs {
		t.Errorf("NumNegative %d, %d on the list, %d negative entries cached", st.NumNegative, listed, negs)
	}
	if st.NumNegative > int64(r.cfg.MaxNegativeHosts) || st.NumHosts > int64(r.cfg.MaxHosts) {
		t.Errorf("stats %+v beyond MaxNegativeHosts %d or MaxHosts %d", st, r.cfg.MaxNegativeHosts, r.cfg.MaxHosts)
	}
}

// TestNegativeEntriesDoNotCrowdOutHosts is the denial of service it fixes:
// with MaxHosts 100, 100 names answered NXDOMAIN used to fill the cache, and
// every new real host then failed with ErrCacheOverflow for HostTTL. Now a
// new host gets in, whether MaxNegativeHosts keeps the negative entries few
// (the default) or lets them fill the cache (then the new host evicts one).
// Only good answers can fill the cache for good.
func TestNegativeEntriesDoNotCrowdOutHosts(t *testing.T) {
	const maxHosts = 100
	for _, tt := range []struct {
		name   string
		maxNeg int // Config.MaxNegativeHosts
		negs   int // negative entries cached after 100 NXDOMAIN
	}{
		{"default MaxNegativeHosts", 0, maxHosts / 4},
		{"MaxNegativeHosts = MaxHosts", maxHosts, maxHosts},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := dnstest.New(t)
			s.Set("real.test", 3600, "192.0.2.1")
			r, _ := newTestResolver(t, s, func(c *Config) {
				c.MaxHosts = maxHosts
				c.MaxNegativeHosts = tt.maxNeg
				c.FailureBackoffBase = time.Minute // the clock does not move anyway
				c.Family = FamilyV4Only
			})
			stop := boundWatch(t, r, int64(tt.negs), maxHosts)
			chs := make([]<-chan result, maxHosts)
			for i := range chs {
				chs[i] = resolveAsync(r, nxName(i))
			}
			for i, ch := range chs {
				_, err := wait(t, ch)
				checkErr(t, nxName(i), err, ErrNotFound)
			}
			stop()
			checkNegativeInvariants(t, r)
			st := r.Stats()
			if st.NumNegative != int64(tt.negs) || st.NumHosts != int64(tt.negs) ||
				st.NegativeEvicted != uint64(maxHosts-tt.negs) {
				t.Fatalf("after %d NXDOMAIN: stats %+v, want %d negative entries", maxHosts, st, tt.negs)
			}

			// The real host resolves and is served from the cache.
			a := mustResolve(t, r, "real.test")
			checkAddrs(t, "real.test", a.Addrs, "192.0.2.1")
			if l := r.Lookup([]byte("real.test")); l != a {
				t.Fatalf("Lookup(real.test) = %+v, want the answer", l)
			}
			if st := r.Stats(); st.HostOverflow != 0 {
				t.Fatalf("stats %+v: a host overflowed", st)
			}

			// More real hosts take the free slots, then the negative
			// entries' slots, until good answers fill the cache: those are
			// never evicted for a new host.
			for i := range maxHosts - 1 {
				h := fmt.Sprintf("real-%03d.test", i)
				s.Set(h, 3600, "192.0.2.2")
				mustResolve(t, r, h)
			}
			s.Set("one-too-many.test", 3600, "192.0.2.3")
			_, err := resolveSync(t, r, "one-too-many.test")
			checkErr(t, "host beyond MaxHosts good answers", err, ErrCacheOverflow)
			checkNegativeInvariants(t, r)
			st = r.Stats()
			if st.NumHosts != maxHosts || st.NumNegative != 0 || st.HostOverflow != 1 ||
				st.NegativeEvicted != uint64(maxHosts) {
				t.Fatalf("stats %+v", st)
			}
			for _, h := range r.Dump() {
				if h.State != StateValid {
					t.Fatalf("%s: state %s, want every good answer kept", h.Host, h.State)
				}
			}
		})
	}
}

// TestMaxNegativeHostsBound: however many names fail, at most
// MaxNegativeHosts negative entries are cached at any moment, and the good
// answers cached meanwhile all stay.
func TestMaxNegativeHostsBound(t *testing.T) {
	const maxNeg, good, bad = 5, 10, 40
	s := dnstest.New(t)
	for i := range good {
		s.Set(fmt.Sprintf("good-%d.test", i), 3600, "192.0.2.1")
	}
	for i := range bad {
		if i%2 == 0 {
			s.SetRcode(nxName(i), dns.RcodeServerFailure) // not only NXDOMAIN
		}
	}
	r, _ := newTestResolver(t, s, func(c *Config) {
		c.MaxHosts = good + bad
		c.MaxNegativeHosts = maxNeg
		c.Family = FamilyV4Only
	})
	for i := range good {
		mustResolve(t, r, fmt.Sprintf("good-%d.test", i))
	}
	stop := boundWatch(t, r, maxNeg, good+bad)
	var wg sync.WaitGroup
	for i := range bad {
		wg.Add(1)
		r.Resolve(nxName(i), func(a *Answer, err error) {
			defer wg.Done()
			if err == nil || a == nil || a.Err != err {
				t.Errorf("%s: %+v, %v; want the negative answer", nxName(i), a, err)
			}
		})
	}
	wg.Wait()
	stop()
	checkNegativeInvariants(t, r)
	st := r.Stats()
	if st.NumNegative != maxNeg || st.NumHosts != good+maxNeg || st.NegativeEvicted != bad-maxNeg ||
		st.HostOverflow != 0 {
		t.Fatalf("stats %+v", st)
	}
	for i := range good {
		h := fmt.Sprintf("good-%d.test", i)
		if a := r.Lookup([]byte(h)); a == nil || a.Err != nil {
			t.Fatalf("Lookup(%s) = %+v: a good answer was evicted", h, a)
		}
	}
}

// TestNegativeEvictionSecondChance: the negative entry evicted is the
// oldest one not used since it was cached; one looked up again is kept.
func TestNegativeEvictionSecondChance(t *testing.T) {
	s := dnstest.New(t)
	r, clk := newTestResolver(t, s, func(c *Config) {
		c.MaxNegativeHosts = 3
		c.FailureBackoffBase = time.Minute
		c.FailureBackoffMax = time.Minute
		c.Family = FamilyV4Only
	})
	for i := range 3 {
		resolveWait(t, r, nxName(i))
	}
	clk.Advance(tickInterval)
	if a := r.Lookup([]byte(nxName(0))); a == nil || a.Err == nil {
		t.Fatalf("Lookup(%s) = %+v, want the cached error", nxName(0), a)
	}
	resolveWait(t, r, nxName(3)) // evicts nx-001, the oldest unused
	if got, want := cachedHosts(r), []string{nxName(0), nxName(2), nxName(3)}; !slices.Equal(got, want) {
		t.Fatalf("cached %v, want %v", got, want)
	}
	resolveWait(t, r, nxName(4)) // then nx-002
	if got, want := cachedHosts(r), []string{nxName(0), nxName(3), nxName(4)}; !slices.Equal(got, want) {
		t.Fatalf("cached %v, want %v", got, want)
	}
	resolveWait(t, r, nxName(5)) // then nx-000, unused since its second chance
	if got, want := cachedHosts(r), []string{nxName(3), nxName(4), nxName(5)}; !slices.Equal(got, want) {
		t.Fatalf("cached %v, want %v", got, want)
	}
	checkNegativeInvariants(t, r)
}

// TestPendingEntriesNeverEvicted: a new host at MaxHosts evicts only a
// negative entry with nothing running; a first resolution in flight, and a
// negative entry being resolved again with a caller waiting, are never
// evicted, and neither is a good answer: then the new host overflows.
func TestPendingEntriesNeverEvicted(t *testing.T) {
	s := dnstest.New(t)
	s.Set("slow.test", 60, "192.0.2.9")
	s.Set("v1.test", 60, "192.0.2.1")
	s.Set("v2.test", 60, "192.0.2.2")
	r, clk := newTestResolver(t, s, func(c *Config) {
		c.MaxHosts = 4
		c.MaxNegativeHosts = 4
		c.FailureBackoffBase = time.Second
		c.FailureBackoffMax = time.Second
		c.Family = FamilyV4Only
	})
	// A first resolution held by the server.
	s.Hold("slow.test")
	slow := resolveAsync(r, "slow.test")
	s.WaitQueries("slow.test", dns.TypeA, 1)
	// A negative entry whose backoff ended, resolved again, held.
	_, err := resolveWait(t, r, "nx-held.test")
	checkErr(t, "nx-held.test", err, ErrNotFound)
	clk.Advance(2 * time.Second)
	s.Hold("nx-held.test")
	held := resolveAsync(r, "nx-held.test")
	s.WaitQueries("nx-held.test", dns.TypeA, 2)
	// A negative entry at rest, and a good answer.
	_, err = resolveWait(t, r, "nx-free.test")
	checkErr(t, "nx-free.test", err, ErrNotFound)
	mustResolve(t, r, "v1.test")

	// Full: v2.test can only take nx-free.test's place...
	mustResolve(t, r, "v2.test")
	want := []string{"nx-held.test", "slow.test", "v1.test", "v2.test"}
	if got := cachedHosts(r); !slices.Equal(got, want) {
		t.Fatalf("cached %v, want %v", got, want)
	}
	// ...and then there is nothing left to evict.
	s.Set("v3.test", 60, "192.0.2.3")
	_, err = resolveSync(t, r, "v3.test")
	checkErr(t, "v3.test", err, ErrCacheOverflow)
	if got := cachedHosts(r); !slices.Equal(got, want) {
		t.Fatalf("cached %v, want %v", got, want)
	}
	if st := r.Stats(); st.NegativeEvicted != 1 || st.HostOverflow != 1 || st.NumHosts != 4 {
		t.Fatalf("stats %+v", st)
	}

	// The held resolutions end with their own answers.
	s.Release("slow.test")
	s.Release("nx-held.test")
	a, err := wait(t, slow)
	if err != nil {
		t.Fatalf("slow.test: %v", err)
	}
	checkAddrs(t, "slow.test", a.Addrs, "192.0.2.9")
	_, err = wait(t, held)
	checkErr(t, "nx-held.test", err, ErrNotFound)
	checkNegativeInvariants(t, r)
}

// TestNegativeUncachedWhenOthersRunning: a failure beyond MaxNegativeHosts
// when the only negative entry is being resolved again still answers its
// caller, and leaves nothing in the cache.
func TestNegativeUncachedWhenOthersRunning(t *testing.T) {
	s := dnstest.New(t)
	r, clk := newTestResolver(t, s, func(c *Config) {
		c.MaxNegativeHosts = 1
		c.FailureBackoffBase = time.Second
		c.FailureBackoffMax = time.Second
		c.Family = FamilyV4Only
	})
	resolveWait(t, r, "nx-a.test")
	clk.Advance(2 * time.Second)
	s.Hold("nx-a.test")
	held := resolveAsync(r, "nx-a.test")
	s.WaitQueries("nx-a.test", dns.TypeA, 2)

	a, err := resolveWait(t, r, "nx-b.test")
	checkErr(t, "nx-b.test", err, ErrNotFound)
	if a == nil || a.Err != err {
		t.Fatalf("nx-b.test: answer %+v, want the negative answer", a)
	}
	if l := r.Lookup([]byte("nx-b.test")); l != nil {
		t.Fatalf("Lookup(nx-b.test) = %+v, want a miss", l)
	}
	if got := cachedHosts(r); !slices.Equal(got, []string{"nx-a.test"}) {
		t.Fatalf("cached %v", got)
	}
	if st := r.Stats(); st.NumNegative != 1 || st.NumHosts != 1 || st.NegativeEvicted != 1 {
		t.Fatalf("stats %+v", st)
	}
	s.Release("nx-a.test")
	_, err = wait(t, held)
	checkErr(t, "nx-a.test", err, ErrNotFound)
	checkNegativeInvariants(t, r)

	// With nx-a.test at rest, nx-b.test takes its place.
	resolveWait(t, r, "nx-b.test")
	if got := cachedHosts(r); !slices.Equal(got, []string{"nx-b.test"}) {
		t.Fatalf("cached %v", got)
	}
	if q := s.Queries("nx-b.test", dns.TypeA); q != 2 {
		t.Fatalf("%d queries for the uncached failure, want 2", q)
	}
	checkNegativeInvariants(t, r)
}

// TestPinnedNegativeNotCounted: a Preresolve host that fails is pinned from
// its first answer on: it neither counts towards MaxNegativeHosts nor is
// evicted for room.
func TestPinnedNegativeNotCounted(t *testing.T) {
	s := dnstest.New(t)
	r, _ := newTestResolver(t, s, func(c *Config) {
		c.MaxHosts = 2
		c.MaxNegativeHosts = 1
		c.Preresolve = []string{"pinned-nx.test"}
		c.Family = FamilyV4Only
	})
	select {
	case <-r.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("Ready not closed")
	}
	waitFor(t, "the pinned host's answer", func() bool { return !resolving(r) })
	if st := r.Stats(); st.NumNegative != 0 || st.NumHosts != 1 {
		t.Fatalf("stats %+v", st)
	}
	resolveWait(t, r, nxName(0))
	resolveWait(t, r, nxName(1)) // evicts nx-000, not the pinned host
	if got, want := cachedHosts(r), []string{nxName(1), "pinned-nx.test"}; !slices.Equal(got, want) {
		t.Fatalf("cached %v, want %v", got, want)
	}
	s.Set("real.test", 60, "192.0.2.1")
	mustResolve(t, r, "real.test") // evicts nx-001
	if got, want := cachedHosts(r), []string{"pinned-nx.test", "real.test"}; !slices.Equal(got, want) {
		t.Fatalf("cached %v, want %v", got, want)
	}
	checkNegativeInvariants(t, r)
}

// TestNegativeChurn mixes failing and good hosts, refreshes, backoff
// retries, idle eviction and both kinds of eviction for room, from many
// goroutines, for the race detector; then checks that the counters and the
// list agree with the cache.
func TestNegativeChurn(t *testing.T) {
	s := dnstest.New(t)
	const hosts = 96
	for i := range hosts {
		if i%3 == 0 {
			s.Set(fmt.Sprintf("h%d.test", i), 5, "192.0.2.1")
		} // the others answer NXDOMAIN
	}
	r, clk := newTestResolver(t, s, func(c *Config) {
		c.MaxHosts = 40
		c.MaxNegativeHosts = 8
		c.HostTTL = 10 * time.Second
		c.FailureBackoffBase = time.Second
		c.FailureBackoffMax = 4 * time.Second
		c.Family = FamilyV4Only
	})
	stop := boundWatch(t, r, 8, 40)
	var wg sync.WaitGroup
	quit := make(chan struct{})
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 2))
			for {
				select {
				case <-quit:
					return
				default:
				}
				h := fmt.Sprintf("h%d.test", rng.IntN(hosts))
				if rng.IntN(3) == 0 {
					r.Resolve(h, func(*Answer, error) {})
				} else {
					r.Lookup([]byte(h))
				}
			}
		}()
	}
	for range 200 {
		clk.Advance(tickInterval)
		time.Sleep(100 * time.Microsecond)
	}
	close(quit)
	wg.Wait()
	stop()
	checkNegativeInvariants(t, r)
	if st := r.Stats(); st.NegativeEvicted == 0 {
		t.Errorf("stats %+v: no negative entry evicted", st)
	}
}
