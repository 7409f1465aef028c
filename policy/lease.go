package policy

import (
	"math"
	"net/netip"
	"strconv"
	"sync"
	"time"
)

// Store keys of the shared buckets: the prefix, then the limit kind, then
// (for the per-key kinds) the client address or the host.
const (
	storeKeyGlobal = "sluice:rl:global"
	storeKeyClient = "sluice:rl:client:"
	storeKeyHost   = "sluice:rl:host:"
)

// storeDownRetry is the Retry-After of a request refused because the store
// is down and RateLimits.OnStoreError is deny.
const storeDownRetry = time.Second

// sharedLimits are the rate limits of a Policy compiled with a store: each
// configured limit is a bucket in the store, of which this process holds a
// lease per key.
type sharedLimits struct {
	// Set once by newSharedLimits; the leases synchronize themselves.
	store   *RedisStore
	onError string
	global  *lease          // nil if off
	clients *keyMap[*lease] // nil if off
	hosts   *keyMap[*lease] // nil if off
}

// newSharedLimits returns the shared limits of rl, a validated config.
func newSharedLimits(rl RateLimits, store *RedisStore) *sharedLimits {
	s := &sharedLimits{store: store, onError: rl.OnStoreError}
	if s.onError == "" {
		s.onError = DefaultOnStoreError
	}
	size := rl.Lease
	if size == 0 {
		size = DefaultLease
	}
	if k := newLeaseKind(rl.Global, size); k != nil {
		s.global = newLease(k, storeKeyGlobal)
	}
	if k := newLeaseKind(rl.PerClient, size); k != nil {
		s.clients = newKeyMap(DefaultMaxRateKeys,
			func(a netip.Addr) *lease { return newLease(k, storeKeyClient+a.String()) },
			nil, (*lease).idle)
	}
	if k := newLeaseKind(rl.PerHost, size); k != nil {
		s.hosts = newKeyMap(DefaultMaxRateKeys,
			nil, func(h string) *lease { return newLease(k, storeKeyHost+h) },
			(*lease).idle)
	}
	return s
}

// allow is AllowRate with the shared buckets. It takes a token from the
// lease of each limit, or from none; a lease that runs low asks the store
// for more, which comes later, on the store's goroutine. While the store
// is down, onError decides.
func (s *sharedLimits) allow(p *Policy, client netip.Addr, host []byte, now time.Time) (ok bool, retryAfter time.Duration) {
	if !s.store.Up() {
		s.store.fallbacks.Add(1)
		switch s.onError {
		case StoreErrorDeny:
			return false, storeDownRetry
		case StoreErrorLocal:
			return p.allowLocal(client, host, now)
		}
		return true, 0
	}
	var buf [3]*lease
	ls := applying(&buf, s.global, s.clients, s.hosts, client, host, now)
	// Locked in one order (global, client, host) by every caller; the
	// store's goroutine holds one lease at a time. So the request takes
	// from all of them or from none, without races between them.
	for _, l := range ls {
		l.mu.Lock()
	}
	for _, l := range ls {
		if r := l.waitLocked(now); r > 0 {
			retryAfter = max(retryAfter, r)
		}
	}
	ok = retryAfter == 0
	for _, l := range ls {
		if ok {
			l.takeLocked(now)
		}
		if l.refillDueLocked(now) {
			l.queued = s.store.enqueue(l)
		}
		l.mu.Unlock()
	}
	return ok, retryAfter
}

// leaseKind is one shared limit: its bucket's rate and burst, and the size
// of the leases taken from it.
type leaseKind struct {
	// Set once by newLeaseKind.
	rate  float64
	burst int64
	// size is how many tokens a lease holds at most, and how many a
	// process may spend on credit, ahead of the store (at least 1, at
	// most burst).
	size int64
	// perToken is the time the bucket takes to make one token.
	perToken time.Duration
	// The script's arguments, formatted once.
	rateArg, burstArg string
}

// newLeaseKind returns the kind of lim (validated) with leases of lease's
// worth of tokens, nil if lim is off.
func newLeaseKind(lim RateLimit, lease time.Duration) *leaseKind {
	if lim.RPS == 0 {
		return nil
	}
	burst := int64(lim.Burst)
	if burst == 0 {
		burst = max(1, int64(math.Ceil(lim.RPS)))
	}
	size := min(burst, max(1, int64(math.Ceil(lim.RPS*lease.Seconds()))))
	return &leaseKind{
		rate: lim.RPS, burst: burst, size: size,
		perToken: max(time.Duration(float64(time.Second)/lim.RPS), time.Microsecond),
		rateArg:  strconv.FormatFloat(lim.RPS, 'g', -1, 64),
		burstArg: strconv.FormatInt(burst, 10),
	}
}

// lease is this process's share of one shared bucket: tokens leased from
// the store and not yet spent (avail), and tokens spent on credit and not
// yet charged to the store (debt). Requests take from it on the event
// loops, the store's goroutine refills it. avail + debt <= kind.size
// always, so a process is never more than one lease ahead of the store,
// nor holds more than one lease of it.
//
// A lease starts empty and trusting: the first requests of a new key go on
// credit (a new client's first request does not wait for Redis), and the
// credit is charged with the first refill. When the store answers that the
// bucket is short (fewer tokens than asked, or none left after them), the
// lease is scarce: no more credit, only leased tokens, and no refill asked
// before the store expects a token again (retryAt); then one request may
// go on credit, and its refill tells whether the bucket has recovered.
type lease struct {
	// Set once by newLease.
	kind *leaseKind
	key  string // in the store

	mu sync.Mutex
	// Guarded by mu.
	avail    int64
	debt     int64 // including charging
	charging int64 // the part of debt charged by the call in flight
	scarce   bool
	retryAt  time.Time // scarce: when the bucket has a whole token again
	queued   bool      // in the store's queue or in a call
	used     time.Time // the last request
}

func newLease(k *leaseKind, key string) *lease { return &lease{kind: k, key: key} }

// waitLocked returns 0 if a request may take a token now, else how long
// until it may, as far as this process knows (at least a microsecond).
func (l *lease) waitLocked(now time.Time) time.Duration {
	switch {
	case l.avail > 0:
		return 0
	case !l.scarce && l.debt < l.kind.size:
		return 0
	case l.scarce && l.debt == 0 && !now.Before(l.retryAt):
		return 0
	case l.scarce && now.Before(l.retryAt):
		return l.retryAt.Sub(now)
	}
	// Credit spent, and the refill that charges it is on its way.
	return l.kind.perToken
}

// takeLocked takes the token waitLocked found.
func (l *lease) takeLocked(now time.Time) {
	if l.avail > 0 {
		l.avail--
	} else {
		l.debt++
	}
	l.used = now
}

// refillDueLocked reports whether the lease should ask the store for
// tokens now: it has credit to charge or is half spent, nothing is asked
// already, and the store does not expect the bucket empty.
func (l *lease) refillDueLocked(now time.Time) bool {
	if l.queued || l.scarce && now.Before(l.retryAt) {
		return false
	}
	return l.debt > 0 || l.avail <= l.kind.size/2 && l.avail < l.kind.size
}

// request returns what the store's goroutine asks the store for the lease:
// its debt to charge and the tokens that fill it. ok is false when there is
// nothing to ask; the lease is then no longer queued.
func (l *lease) request() (charge, want int64, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	charge, want = l.debt, l.kind.size-l.avail
	if charge == 0 && want <= 0 {
		l.queued = false
		return 0, 0, false
	}
	l.charging = charge
	return charge, want, true
}

// granted applies the store's answer to request: the debt charged, granted
// tokens of want, and wait, the time until the bucket has a whole token
// again (0 if it has one). now is the store goroutine's clock.
func (l *lease) granted(want, granted int64, wait time.Duration, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.debt -= l.charging
	l.charging = 0
	// Credit taken while the call was in flight counts against the lease:
	// tokens beyond the size are dropped (the bucket has lost them, which
	// errs on the side of the limit).
	l.avail = min(l.avail+granted, l.kind.size-l.debt)
	l.scarce = granted < want || wait > 0
	l.retryAt = now.Add(wait)
	l.queued = false
}

// failed ends a request the store did not answer: the debt stays, to be
// charged by the next one.
func (l *lease) failed() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.charging = 0
	l.queued = false
}

// idle reports whether the lease can be dropped: no request for a sweep
// interval and nothing owed to the store. Its leased tokens, if any, are
// lost with it. Called with the key map's lock held.
func (l *lease) idle(now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return !l.queued && l.debt == 0 && now.Sub(l.used) >= sweepInterval
}
