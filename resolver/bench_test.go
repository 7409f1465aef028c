package resolver

// The cache's hit path against the usual alternatives, over the same 1,000
// keys, in one file so that one `go test -bench` run compares them:
//
//	go test -run '^$' -bench . -benchmem -cpu 2 ./resolver/
//
// BenchmarkResolveMissSlowDNS shows that hits keep their speed while 1,000
// misses wait for a slow DNS server.

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluiceproxy/sluice/resolver/dnstest"
)

const benchHosts = 1000

func benchKeys(prefix string) [][]byte {
	keys := make([][]byte, benchHosts)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "%s-%04d.bench.test", prefix, i)
	}
	return keys
}

// benchResolver returns a started resolver (real clock) with the hosts of
// keys cached for an hour, answered by s.
func benchResolver(b *testing.B, s *dnstest.Server, keys [][]byte) *Resolver {
	b.Helper()
	for i, k := range keys {
		s.Set(string(k), 3600, fmt.Sprintf("10.0.%d.%d", i/256, i%256))
	}
	r, err := New(Config{
		Nameservers: []string{s.Addr()},
		ResolvConf:  Disabled,
		HostsFile:   Disabled,
		Family:      FamilyV4Only,
		MaxHosts:    4 * benchHosts,
		MaxPending:  4 * benchHosts,
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := r.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(r.Stop)
	var wg sync.WaitGroup
	var failed atomic.Int64
	for _, k := range keys {
		wg.Add(1)
		r.Resolve(string(k), func(_ *Answer, err error) {
			if err != nil {
				failed.Add(1)
			}
			wg.Done()
		})
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d hosts failed to resolve", n)
	}
	return r
}

// hitLoop runs lookup over keys from b.RunParallel's goroutines, each
// starting at a random key, and fails the benchmark on a miss.
func hitLoop(b *testing.B, keys [][]byte, lookup func([]byte) bool) {
	var misses atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		i := rand.IntN(len(keys))
		miss := 0
		for pb.Next() {
			if !lookup(keys[i]) {
				miss++
			}
			if i++; i == len(keys) {
				i = 0
			}
		}
		misses.Add(int64(miss))
	})
	if n := misses.Load(); n > 0 {
		b.Fatalf("%d misses", n)
	}
}

func BenchmarkLookupHitParallel(b *testing.B) {
	keys := benchKeys("host")
	r := benchResolver(b, dnstest.New(b), keys)
	b.ReportAllocs()
	b.ResetTimer()
	hitLoop(b, keys, func(k []byte) bool { return r.Lookup(k) != nil })
}

// The baselines hold the same answers as the resolver (taken from it) and
// do the same freshness check on a hit (the coarse clock against the
// answer's expiry), so each benchmark does the work a cache needs and they
// differ only in the table and its synchronisation.

// baselineAnswers returns the resolver's answers for keys.
func baselineAnswers(b *testing.B, keys [][]byte) (*Resolver, []*Answer) {
	r := benchResolver(b, dnstest.New(b), keys)
	answers := make([]*Answer, len(keys))
	for i, k := range keys {
		answers[i] = r.Lookup(k)
	}
	return r, answers
}

// BenchmarkLookupHitParallelRWMutex is the baseline: one map behind a
// sync.RWMutex.
func BenchmarkLookupHitParallelRWMutex(b *testing.B) {
	keys := benchKeys("host")
	r, answers := baselineAnswers(b, keys)
	var mu sync.RWMutex
	m := make(map[string]*Answer, len(keys))
	for i, k := range keys {
		m[string(k)] = answers[i]
	}
	b.ReportAllocs()
	b.ResetTimer()
	hitLoop(b, keys, func(k []byte) bool {
		mu.RLock()
		a := m[string(k)]
		mu.RUnlock()
		return a != nil && r.now.Load() < a.expires
	})
}

// BenchmarkLookupHitParallelSyncMap is the baseline on sync.Map. It gets
// its keys as strings already: converting the []byte the parser gives would
// allocate on every Load (the key escapes into an interface).
func BenchmarkLookupHitParallelSyncMap(b *testing.B) {
	keys := benchKeys("host")
	r, answers := baselineAnswers(b, keys)
	var m sync.Map
	strs := make(map[string]string, len(keys))
	for i, k := range keys {
		m.Store(string(k), answers[i])
		strs[string(k)] = string(k)
	}
	b.ReportAllocs()
	b.ResetTimer()
	hitLoop(b, keys, func(k []byte) bool {
		v, ok := m.Load(strs[string(k)]) // the string lookup does not allocate
		return ok && r.now.Load() < v.(*Answer).expires
	})
}

// BenchmarkResolveMissSlowDNS measures hits on 1,000 cached hosts first
// with nothing pending (idle-hit-ns/op), then while 1,000 Resolve calls for
// other hosts wait on a DNS server that answers after 500 ms
// (pending-hit-ns/op, the benchmark's ns/op). pending-at-end is how many
// were still waiting when the measurement ended: it must be well above 0
// for the figure to mean anything.
func BenchmarkResolveMissSlowDNS(b *testing.B) {
	s := dnstest.New(b)
	keys := benchKeys("host")
	slow := benchKeys("slow")
	for _, k := range slow {
		s.Set(string(k), 3600, "10.9.9.9")
		s.SetDelay(string(k), 500*time.Millisecond)
	}
	r := benchResolver(b, s, keys)
	lookup := func(k []byte) bool { return r.Lookup(k) != nil }
	b.ReportAllocs()

	start := time.Now()
	hitLoop(b, keys, lookup)
	idle := time.Since(start)

	var answered atomic.Int64
	for _, k := range slow {
		r.Resolve(string(k), func(*Answer, error) { answered.Add(1) })
	}
	// Wait until every worker is blocked on the slow server.
	for s.TotalQueries() < benchHosts+DefaultWorkers { // one A query per host
		time.Sleep(time.Millisecond)
	}
	b.ResetTimer()
	start = time.Now()
	hitLoop(b, keys, lookup)
	pending := time.Since(start)
	b.StopTimer()

	b.ReportMetric(float64(idle.Nanoseconds())/float64(b.N), "idle-hit-ns/op")
	b.ReportMetric(float64(pending.Nanoseconds())/float64(b.N), "pending-hit-ns/op")
	b.ReportMetric(float64(benchHosts-answered.Load()), "pending-at-end")
}
