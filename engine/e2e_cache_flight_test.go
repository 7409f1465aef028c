package engine

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/sluiceproxy/sluice/cache"
	"github.com/sluiceproxy/sluice/proxy"
)

// fanOut sends n concurrent GETs for u through the proxy, each on its own
// connection, and returns their statuses and bodies.
func (e *env) fanOut(t *testing.T, n int, u string) ([]int, []string) {
	t.Helper()
	pu, _ := url.Parse("http://" + e.proxy)
	tr := &http.Transport{Proxy: http.ProxyURL(pu), DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	statuses, bodies := make([]int, n), make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			resp, err := c.Get(u)
			if err != nil {
				bodies[i] = err.Error()
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			statuses[i], bodies[i] = resp.StatusCode, string(b)
		})
	}
	wg.Wait()
	return statuses, bodies
}

// countBodies maps each distinct body to how many responses carried it, for
// the responses with status 200.
func countBodies(statuses []int, bodies []string) map[string]int {
	m := map[string]int{}
	for i, b := range bodies {
		if statuses[i] == 200 {
			m[b]++
		}
	}
	return m
}

// TestCacheCollapsedMisses: 100 concurrent misses for one URL make one
// origin request; the other 99 wait for it and are served from the cache.
func TestCacheCollapsedMisses(t *testing.T) { forEngines(t, testCacheCollapsedMisses) }

func testCacheCollapsedMisses(t *testing.T) {
	e, o, n, rec := newCacheEnv(t)
	u := fmt.Sprintf("http://cache.test:%d/c?cc=max-age=60&delay=300", o.port)
	statuses, bodies := e.fanOut(t, 100, u)
	if got := countBodies(statuses, bodies); n.Load() != 1 || got["answer 1"] != 100 {
		t.Fatalf("origin asked %d times; 200 bodies %v; statuses %v", n.Load(), got, statuses)
	}
	recs := rec.wait(t, 100)
	kinds := map[string]int{}
	for _, r := range recs {
		kinds[r.cache]++
	}
	if kinds[proxy.CacheMiss] != 1 || kinds[proxy.CacheHit] != 99 {
		t.Fatalf("cache fields: %v", kinds)
	}
	st := e.srv.cfg.Cache.Stats().Flights
	if st.Led != 1 || st.Waited < 50 || st.InFlight != 0 {
		t.Fatalf("flights: %+v", st)
	}
}

// TestCacheCollapsedUncacheable: when the leader's response may not be
// stored, the waiters are released at its head and each goes to the
// origin; the next misses for the key pass without waiting (hit-for-miss).
func TestCacheCollapsedUncacheable(t *testing.T) { forEngines(t, testCacheCollapsedUncacheable) }

func testCacheCollapsedUncacheable(t *testing.T) {
	e, o, n, _ := newCacheEnv(t)
	u := fmt.Sprintf("http://cache.test:%d/c?cc=no-store&delay=200", o.port)
	statuses, bodies := e.fanOut(t, 20, u)
	if got := countBodies(statuses, bodies); n.Load() != 20 || len(got) != 20 {
		t.Fatalf("origin asked %d times; 200 bodies %v", n.Load(), got)
	}
	st := e.srv.cfg.Cache.Stats().Flights
	if st.Led != 1 || st.Waited+st.Passed != 19 || st.Passing != 1 || st.InFlight != 0 {
		t.Fatalf("flights after the first burst: %+v", st)
	}
	e.fanOut(t, 5, u)
	if st2 := e.srv.cfg.Cache.Stats().Flights; st2.Passed != st.Passed+5 || st2.Led != 1 {
		t.Fatalf("second burst did not pass: %+v", st2)
	}
}

// TestCacheCollapsedTimeout: a waiter goes to the origin itself once
// CacheLockTimeout has passed.
func TestCacheCollapsedTimeout(t *testing.T) { forEngines(t, testCacheCollapsedTimeout) }

func testCacheCollapsedTimeout(t *testing.T) {
	o, n := cacheOrigin(t)
	e := newEnv(t, Config{Cache: cache.NewStore(32<<20, 1<<20), CacheLockTimeout: 100 * time.Millisecond})
	e.dns.Set("cache.test", 60, "127.0.0.1")
	u := fmt.Sprintf("http://cache.test:%d/c?cc=max-age=60&delay=800", o.port)
	start := time.Now()
	statuses, bodies := e.fanOut(t, 5, u)
	got := countBodies(statuses, bodies)
	if n.Load() != 5 || len(got) != 5 {
		t.Fatalf("origin asked %d times; 200 bodies %v", n.Load(), got)
	}
	// The waiters did not wait for the leader's 800 ms and then another
	// 800 ms of their own.
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Fatalf("took %v", d)
	}
}

// TestCacheCollapsedLeaderFails: a leader whose origin connection is cut
// releases its waiters, which go to the origin themselves.
func TestCacheCollapsedLeaderFails(t *testing.T) { forEngines(t, testCacheCollapsedLeaderFails) }

func testCacheCollapsedLeaderFails(t *testing.T) {
	e, o, n, _ := newCacheEnv(t)
	u := fmt.Sprintf("http://cache.test:%d/c?cc=max-age=60&delay=200&cut=1", o.port)
	statuses, bodies := e.fanOut(t, 10, u)
	bad := 0
	for _, s := range statuses {
		if s != 200 {
			bad++
		}
	}
	// The cut leader's client gets 502; the waiters each go on alone, and
	// the first of them to be answered stores the response (later ones may
	// then hit): every waiter gets 200.
	if bad != 1 || n.Load() < 2 || n.Load() > 10 {
		t.Fatalf("statuses %v, origin asked %d times, bodies %v", statuses, n.Load(), bodies)
	}
	if st := e.srv.cfg.Cache.Stats().Flights; st.InFlight != 0 {
		t.Fatalf("flights: %+v", st)
	}
}
