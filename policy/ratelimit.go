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
//
// With a store (CompileShared) the buckets are shared by every process
// that uses the store, and AllowRate decides from this process's leases of
// them (lease.go): it never waits for the store.
func (p *Policy) AllowRate(client netip.Addr, host []byte, now time.Time) (ok bool, retryAfter time.Duration) {
	if p.shared != nil {
		return p.shared.allow(p, client, host, now)
	}
	return p.allowLocal(client, host, now)
}

// allowLocal is AllowRate with this process's own buckets.
func (p *Policy) allowLocal(client netip.Addr, host []byte, now time.Time) (ok bool, retryAfter time.Duration) {
	var buf [3]*rate.Limiter
	lims := applying(&buf, p.global, p.perClient, p.perHost, client, host, now)
	for _, l := range lims {
		retryAfter = max(retryAfter, waitForToken(l, now))
	}
	if retryAfter > 0 {
		return false, retryAfter
	}
	for _, l := range lims {
		if !l.AllowN(now, 1) { // lost a race for the last token
			return false, max(waitForToken(l, now), time.Millisecond)
		}
	}
	return true, 0
}

// applying returns, in dst, the state of each limit that applies to a
// request of client to host (those configured; off is nil): the global
// one, the client's, the host's, in that order.
func applying[V comparable](dst *[3]V, global V, clients, hosts *keyMap[V], client netip.Addr, host []byte, now time.Time) []V {
	var off V
	n := 0
	if global != off {
		dst[n] = global
		n++
	}
	if clients != nil {
		dst[n] = clients.forAddr(client.Unmap().WithZone(""), now)
		n++
	}
	if hosts != nil {
		dst[n] = hosts.forHost(normHost(host), now)
		n++
	}
	return dst[:n]
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

// buckets are the token buckets of one per-key limit (per client address
// or per destination host), created on first use. A bucket that is full is
// idle: dropping it loses nothing, as a new one starts full.
type buckets = keyMap[*rate.Limiter]

func newBuckets(limit rate.Limit, burst, maxKeys int) *buckets {
	newLimiter := func() *rate.Limiter { return rate.NewLimiter(limit, burst) }
	return newKeyMap(maxKeys,
		func(netip.Addr) *rate.Limiter { return newLimiter() },
		func(string) *rate.Limiter { return newLimiter() },
		func(l *rate.Limiter, now time.Time) bool { return l.TokensAt(now) >= float64(burst) })
}

// keyMap holds the state of one per-key limit: a value per client address
// or per destination host, created on first use (a token bucket, or a lease
// of a shared one) by newAddr or newHost (nil for a map of the other kind). The maps are bounded by maxKeys: when one is full its
// idle values go, and if that frees too little, arbitrary ones (which then
// start over).
type keyMap[V any] struct {
	// Set once by newKeyMap.
	maxKeys int
	newAddr func(netip.Addr) V
	newHost func(string) V
	// idle reports whether v may be dropped at no cost. It is called with
	// mu held.
	idle func(v V, now time.Time) bool

	mu sync.Mutex
	// Guarded by mu.
	addrs     map[netip.Addr]V
	hosts     map[string]V
	nextSweep time.Time
}

func newKeyMap[V any](maxKeys int, newAddr func(netip.Addr) V, newHost func(string) V, idle func(V, time.Time) bool) *keyMap[V] {
	return &keyMap[V]{
		maxKeys: maxKeys, newAddr: newAddr, newHost: newHost, idle: idle,
		addrs: make(map[netip.Addr]V),
		hosts: make(map[string]V),
	}
}

// forAddr returns the value of a, creating it.
func (b *keyMap[V]) forAddr(a netip.Addr, now time.Time) V {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.maybeSweepLocked(now)
	v, ok := b.addrs[a]
	if !ok {
		if len(b.addrs) >= b.maxKeys {
			evictLocked(b.addrs, b.maxKeys, b.idle, now)
		}
		v = b.newAddr(a)
		b.addrs[a] = v
	}
	return v
}

// forHost returns the value of host, creating it.
func (b *keyMap[V]) forHost(host []byte, now time.Time) V {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.maybeSweepLocked(now)
	v, ok := b.hosts[string(host)]
	if !ok {
		if len(b.hosts) >= b.maxKeys {
			evictLocked(b.hosts, b.maxKeys, b.idle, now)
		}
		h := string(host)
		v = b.newHost(h)
		b.hosts[h] = v
	}
	return v
}

// maybeSweepLocked drops idle values once per sweepInterval, so the maps
// shrink back after a burst of keys.
func (b *keyMap[V]) maybeSweepLocked(now time.Time) {
	if now.Before(b.nextSweep) {
		return
	}
	b.nextSweep = now.Add(sweepInterval)
	sweepLocked(b.addrs, b.idle, now)
	sweepLocked(b.hosts, b.idle, now)
}

// sweepLocked deletes the idle values of m.
func sweepLocked[K comparable, V any](m map[K]V, idle func(V, time.Time) bool, now time.Time) {
	for k, v := range m {
		if idle(v, now) {
			delete(m, k)
		}
	}
}

// evictLocked makes room in m, which holds maxKeys values: it deletes the
// idle ones, then, if fewer than a quarter went, arbitrary ones down to three
// quarters of maxKeys, so that a map full of busy keys is not swept on every
// new key.
func evictLocked[K comparable, V any](m map[K]V, maxKeys int, idle func(V, time.Time) bool, now time.Time) {
	sweepLocked(m, idle, now)
	target := maxKeys - maxKeys/4
	for k := range m {
		if len(m) <= target {
			break
		}
		delete(m, k)
	}
}
