package resolver

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"
)

// Resolve gets host's answer and calls cb with it exactly once:
//
//   - synchronously, before Resolve returns, when the answer is known: an
//     IP literal, a cached answer Lookup would return (a negatively cached
//     host gives its Answer and its Err), or an immediate failure
//     (ErrCacheOverflow beyond MaxHosts when no negative entry can be
//     evicted, ErrPendingOverflow beyond MaxPending, ErrStopped,
//     ErrNotFound for an invalid host name);
//   - otherwise later, from a resolver goroutine, when the resolution of
//     host ends. Concurrent calls for one host share one resolution
//     (singleflight).
//
// On success err is nil and the Answer has addresses; on failure err wraps
// one of the package's errors and the Answer is nil or the negatively cached
// one. cb must not block: it runs on a resolver goroutine, which the engine
// hands the result back to its event loop from. host is a host name without
// port; it is lower-cased if needed. A nil cb starts (or joins) a resolution
// without waiting for it.
func (r *Resolver) Resolve(host string, cb func(*Answer, error)) {
	r.resolve(lowerASCII(host), cb, cb != nil, false)
}

// resolve is Resolve; countPending says whether cb counts towards MaxPending
// (Preresolve callbacks do not), and pin whether a new entry for host is
// pinned from the start (Preresolve hosts, before their first answer can
// be published: an unpinned negative one might be evicted at once).
func (r *Resolver) resolve(host string, cb func(*Answer, error), countPending, pin bool) {
	if a, ok := parseLiteral(host); ok {
		callback(cb, literalAnswer(a), nil)
		return
	}
	if r.stopped.Load() {
		callback(cb, nil, ErrStopped)
		return
	}
	if !validHostName(host) {
		callback(cb, nil, &dnsError{kind: ErrNotFound, detail: fmt.Sprintf("invalid host name %.80q", host)})
		return
	}
	h := r.hash(host)
	for {
		now := r.now.Load()
		e := r.get(h, host)
		if e != nil {
			e.touch(now)
			if a := e.current(now); a != nil {
				callback(cb, a, a.Err)
				return
			}
		}
		if countPending {
			if r.pending.Add(1) > int64(r.cfg.MaxPending) {
				r.pending.Add(-1)
				r.stats.pendingOverflow.Add(1)
				callback(cb, nil, ErrPendingOverflow)
				return
			}
		}
		release := func() {
			if countPending {
				r.pending.Add(-1)
			}
		}
		if e == nil {
			var created bool
			var err error
			e, created, err = r.insert(h, host, waiter{cb, countPending}, pin, now)
			if err != nil {
				release()
				if errors.Is(err, ErrCacheOverflow) {
					r.stats.hostOverflow.Add(1)
				}
				callback(cb, nil, err)
				return
			}
			if created {
				r.enqueue(e)
				return
			}
			// Another caller inserted host meanwhile: join it.
		}
		a, joined, retry := r.join(e, waiter{cb, countPending}, now)
		if joined {
			return
		}
		release()
		if retry {
			continue // e was evicted meanwhile: look again
		}
		if a == nil {
			callback(cb, nil, ErrStopped)
			return
		}
		callback(cb, a, a.Err)
		return
	}
}

// join adds w to e's waiters and starts a resolution unless one is running.
// It does not join when e was evicted (retry), when an answer was published
// meanwhile (a), or after Stop (nil, false, false).
func (r *Resolver) join(e *entry, w waiter, now int64) (a *Answer, joined, retry bool) {
	e.mu.Lock()
	if e.removed {
		e.mu.Unlock()
		return nil, false, true
	}
	// Checked under e.mu: Stop's final sweep takes it after setting stopped.
	if r.stopped.Load() {
		e.mu.Unlock()
		return nil, false, false
	}
	if a := e.current(now); a != nil {
		e.mu.Unlock()
		return a, false, false
	}
	if w.cb != nil {
		e.waiters = append(e.waiters, w)
	}
	start := !e.inflight.Load()
	if start {
		e.inflight.Store(true)
		e.queued = time.Now()
	}
	e.mu.Unlock()
	if start {
		r.enqueue(e)
	}
	return nil, true, false
}

// enqueue hands e, whose inflight flag its caller set, to the workers. It
// never blocks: an entry is queued at most once at a time (inflight stays
// set until a worker finishes it), queued entries are never evicted, and
// there are at most MaxHosts entries, which is the queue's capacity.
func (r *Resolver) enqueue(e *entry) {
	select {
	case r.queue <- e:
	default:
		panic("resolver: BUG: resolution queue full")
	}
}

// work is a resolver goroutine: it resolves queued hosts until Stop.
func (r *Resolver) work() {
	defer r.wg.Done()
	for {
		select {
		case <-r.quit:
			return
		case e := <-r.queue:
			r.resolveEntry(e)
		}
	}
}

// resolveEntry runs one resolution of e, within what is left of
// QueryTimeout since e was queued, and publishes the result.
func (r *Resolver) resolveEntry(e *entry) {
	e.mu.Lock()
	queued := e.queued
	e.mu.Unlock()
	r.stats.queryAttempt.Add(1)
	var (
		addrs []netip.Addr
		ttl   time.Duration
		err   error
	)
	if left := r.cfg.QueryTimeout - time.Since(queued); left <= 0 {
		err = &dnsError{kind: ErrTimeout, detail: e.host + ": queued longer than the query timeout"}
	} else {
		ctx, cancel := context.WithTimeout(r.ctx, left)
		addrs, ttl, err = r.client.lookup(ctx, e.host)
		cancel()
	}
	r.complete(e, addrs, ttl, err)
}

// complete publishes the result of a resolution of e and calls its waiters:
// on success a new answer; on failure after a good answer, that answer kept
// as stale for the backoff, but at least MinTTL so that a host in use at any
// reasonable rate is seen in use and refreshed before it expires; otherwise
// the error, negatively cached for a backoff, within MaxNegativeHosts
// (negative.go). During Stop nothing is published and the waiters get
// ErrStopped.
func (r *Resolver) complete(e *entry, addrs []netip.Addr, ttl time.Duration, err error) {
	if r.ctx.Err() != nil || errors.Is(err, ErrStopped) {
		e.mu.Lock()
		ws := e.waiters
		e.waiters = nil
		e.inflight.Store(false)
		e.mu.Unlock()
		r.deliver(ws, nil, ErrStopped)
		return
	}
	now := r.clock.Now()
	e.mu.Lock()
	a := r.resultLocked(e, addrs, ttl, err, now)
	reserved := false // holds a MaxNegativeHosts slot
	if needsNegativeSlotLocked(e, a) {
		reserved = r.reserveNegative()
		if !reserved {
			// Evicting takes other entries' locks: not with e.mu held.
			// e stays in flight meanwhile, so only pin can change it.
			e.mu.Unlock()
			if !r.evictNegative(handOverNegativeSlot) {
				r.completeUncached(e, a)
				return
			}
			reserved = true
			e.mu.Lock()
		}
	}
	r.countNegativeLocked(e, a, reserved)
	ws := e.finishLocked(a)
	e.mu.Unlock()
	r.deliver(ws, a, a.Err)
}

// resultLocked returns the answer to publish in e for a resolution that
// ended at now, and counts it. The caller holds e.mu.
func (r *Resolver) resultLocked(e *entry, addrs []netip.Addr, ttl time.Duration, err error, now time.Time) *Answer {
	old := e.answer.Load()
	if err == nil {
		r.stats.querySuccess.Add(1)
		e.failures = 0
		a := r.newPositive(addrs, ttl, now)
		if old != nil && old.Err == nil && !sameAddrSet(old.Addrs, a.Addrs) {
			r.stats.hostAddressChanged.Add(1)
		}
		return a
	}
	r.stats.queryFailure.Add(1)
	if errors.Is(err, ErrTimeout) {
		r.stats.queryTimeout.Add(1)
	}
	e.failures++
	backoff := r.backoff(e.failures)
	if old != nil && old.Err == nil && now.UnixNano() < old.staleUntil {
		return newStale(old, max(backoff, r.cfg.MinTTL), now)
	}
	return newNegative(err, backoff, now)
}

// backoff is the negative-caching time after the n-th consecutive failure:
// a random duration in [d/2, d], d = min(Base * 2^(n-1), Max). The jitter
// keeps hosts that failed together from retrying together.
func (r *Resolver) backoff(n int) time.Duration {
	d := r.cfg.FailureBackoffBase
	for i := 1; i < n && d < r.cfg.FailureBackoffMax; i++ {
		d *= 2
	}
	d = min(d, r.cfg.FailureBackoffMax)
	half := d / 2
	return half + rand.N(d-half+1)
}

// deliver calls the waiters ws and releases their pending slots.
func (r *Resolver) deliver(ws []waiter, a *Answer, err error) {
	for _, w := range ws {
		if w.counted {
			r.pending.Add(-1)
		}
		w.cb(a, err)
	}
}

func callback(cb func(*Answer, error), a *Answer, err error) {
	if cb != nil {
		cb(a, err)
	}
}
