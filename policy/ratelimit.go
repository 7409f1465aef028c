package policy

import (
	"math"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// sweepInterval is how often, at most, a bucket map drops its idle buckets
// when it is not full.
const sweepInterval = time.Minute

// AllowRate takes a token from each configured bucket for a request of
// client to host (lower case, no port): the client's, the host's and the
// global one. If any of them is empty it takes none and returns false with
// the time until every one of them has a token again (the Retry-After to
// answer ErrRateLimited with; round it up to whole seconds). now is the
// current time (injected for tests). A request of a client or host that has a
// bucket already does not allocate.
//
// Taking is not atomic across the buckets: two requests racing for the last
// token of one bucket may each have taken a token of another before one of
// them is refused. The cost is at most one token per such race.
func (p *Policy) AllowRate(client netip.Addr, host []byte, now time.Time) (ok bool, retryAfter time.Duration) {
	var lims [3]*rate.Limiter
	n := 0
	if p.global != nil {
		lims[n] = p.global
		n++
	}
	if p.perClient != nil {
		lims[n] = p.perClient.forAddr(client.Unmap().WithZone(""), now)
		n++
	}
	if p.perHost != nil {
		lims[n] = p.perHost.forHost(normHost(host), now)
		n++
	}
	for _, l := range lims[:n] {
		retryAfter = max(retryAfter, waitForToken(l, now))
	}
	if retryAfter > 0 {
		return false, retryAfter
	}
	for _, l := range lims[:n] {
		if !l.AllowN(now, 1) { // lost a race for the last token
			return false, max(waitForToken(l, now), time.Millisecond)
		}
	}
	return true, 0
}

// waitForToken returns how long until l has a whole token at its rate, 0 if
// it has one now.
func waitForToken(l *rate.Limiter, now time.Time) time.Duration {
	t := l.TokensAt(now)
	if t >= 1 {
		return 0
	}
	return time.Duration(math.Ceil((1 - t) / float64(l.Limit()) * float64(time.Second)))
}

// buckets are the token buckets of one per-key limit (per client address or
// per destination host), created on first use. A bucket that is full is idle:
// dropping it loses nothing, as a new one starts full. The maps are bounded
// by maxKeys: when one is full its idle buckets go, and if that frees too
// little, arbitrary ones (which then start over, full).
type buckets struct {
	// Set once by newBuckets.
	limit   rate.Limit
	burst   int
	maxKeys int

	mu sync.Mutex
	// Guarded by mu.
	addrs     map[netip.Addr]*rate.Limiter
	hosts     map[string]*rate.Limiter
	nextSweep time.Time
}

func newBuckets(limit rate.Limit, burst, maxKeys int) *buckets {
	return &buckets{
		limit: limit, burst: burst, maxKeys: maxKeys,
		addrs: make(map[netip.Addr]*rate.Limiter),
		hosts: make(map[string]*rate.Limiter),
	}
}

// forAddr returns the bucket of a, creating it.
func (b *buckets) forAddr(a netip.Addr, now time.Time) *rate.Limiter {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.maybeSweepLocked(now)
	l := b.addrs[a]
	if l == nil {
		if len(b.addrs) >= b.maxKeys {
			evictLocked(b.addrs, b.maxKeys, b.burst, now)
		}
		l = rate.NewLimiter(b.limit, b.burst)
		b.addrs[a] = l
	}
	return l
}

// forHost returns the bucket of host, creating it.
func (b *buckets) forHost(host []byte, now time.Time) *rate.Limiter {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.maybeSweepLocked(now)
	l := b.hosts[string(host)]
	if l == nil {
		if len(b.hosts) >= b.maxKeys {
			evictLocked(b.hosts, b.maxKeys, b.burst, now)
		}
		l = rate.NewLimiter(b.limit, b.burst)
		b.hosts[string(host)] = l
	}
	return l
}

// maybeSweepLocked drops idle buckets once per sweepInterval, so the maps
// shrink back after a burst of keys.
func (b *buckets) maybeSweepLocked(now time.Time) {
	if now.Before(b.nextSweep) {
		return
	}
	b.nextSweep = now.Add(sweepInterval)
	sweepLocked(b.addrs, b.burst, now)
	sweepLocked(b.hosts, b.burst, now)
}

// sweepLocked deletes the full (idle) buckets of m.
func sweepLocked[K comparable](m map[K]*rate.Limiter, burst int, now time.Time) {
	for k, l := range m {
		if l.TokensAt(now) >= float64(burst) {
			delete(m, k)
		}
	}
}

// evictLocked makes room in m, which holds maxKeys buckets: it deletes the
// idle ones, then, if fewer than a quarter went, arbitrary ones down to three
// quarters of maxKeys, so that a map full of busy keys is not swept on every
// new key.
func evictLocked[K comparable](m map[K]*rate.Limiter, maxKeys, burst int, now time.Time) {
	sweepLocked(m, burst, now)
	target := maxKeys - maxKeys/4
	for k := range m {
		if len(m) <= target {
			break
		}
		delete(m, k)
	}
}
