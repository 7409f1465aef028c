package resolver

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// The cache is a fixed array of shards chosen by a hash of the host. Each
// shard is an atomic pointer to an immutable hash table (table.go): readers
// load the pointer and probe the table without any lock; writers (insert,
// evict) serialise on the shard's mutex, build a new table and publish it.
// Insert and evict are rare (a new host, an idle host), so copying a table
// of a few dozen entries is cheap, and the hit path never waits for them.
// Each entry's answer sits behind its own atomic pointer, so a refresh
// replaces the answer without touching the table.

// minShards is the shard count for up to minShards*hostsPerShard hosts;
// larger caches get more shards, so a copy stays about hostsPerShard long.
const (
	minShards     = 64
	hostsPerShard = 16
	cacheLine     = 64
)

// shard is one slice of the cache.
type shard struct {
	t  atomic.Pointer[table] // loaded lock-free; replaced under mu
	mu sync.Mutex            // serialises writers of t
	_  [cacheLine - 16]byte  // keeps writers off the neighbours' cache lines
}

// entry is one host in the cache. Lookup reads answer, inflight and pinned
// with atomic loads and never locks; every write to them happens under mu.
// lastUsed and used are written by Lookup and Resolve without a lock (any
// value they write is fine: they only say "used around then").
type entry struct {
	// What a hit reads, together at the start of the struct.
	host     string                 // set once
	expires  atomic.Int64           // answer's expires; stored after answer
	answer   atomic.Pointer[Answer] // nil until the first resolution ends
	lastUsed atomic.Int64           // coarse clock (UnixNano) of the last use
	inflight atomic.Bool            // a resolution is queued or running
	used     atomic.Bool            // used since the current answer was published
	pinned   atomic.Bool            // Preresolve host: never evicted, always refreshed

	mu        sync.Mutex // guards the fields below and writes of the atomics above
	waiters   []waiter   // callbacks of the running resolution
	queued    time.Time  // real time the running resolution was queued
	failures  int        // consecutive failed resolutions
	removed   bool       // evicted; also set under the shard's mu
	negListed bool       // on the negative list; also set under the Resolver's negMu

	// The negative list (negative.go), guarded by the Resolver's negMu.
	negPrev, negNext *entry
	negMark          int64 // lastUsed when listed or last given a second chance
	negClaimed       bool  // chosen for eviction by an evictNegative under way
}

// waiter is a callback waiting for a resolution.
type waiter struct {
	cb      func(*Answer, error)
	counted bool // holds a MaxPending slot
}

// touch records a use at coarse time now. It stores only when a value
// changes (about once per tick per host), so hot hosts do not bounce a cache
// line between cores on every hit.
func (e *entry) touch(now int64) {
	if e.lastUsed.Load() != now {
		e.lastUsed.Store(now)
	}
	if !e.used.Load() {
		e.used.Store(true)
	}
}

// current returns the answer to serve at coarse time now, or nil: a positive
// answer until it expires, and after that while a refresh of it is running
// (a hot host never waits for its refresh); a negative answer until its
// backoff ends.
//
// The hit reads the expiry from the entry, not from the Answer, so it
// touches one cache line. The writer (publish) stores answer, then expires;
// reading expires first, then answer, a hit that sees the new expiry gets the
// new answer. One that sees the old expiry may get the new answer, published
// an instant ago: still a correct answer to serve, since a good answer that
// has not expired is only ever replaced by another good one (a failed
// refresh keeps it as stale) or, with serve-stale disabled, by the error
// that is now the truth.
func (e *entry) current(now int64) *Answer {
	if now < e.expires.Load() {
		return e.answer.Load()
	}
	if a := e.answer.Load(); a != nil && a.Err == nil && e.inflight.Load() {
		return a
	}
	return nil
}

// publish makes a the current answer. The caller holds e.mu.
func (e *entry) publish(a *Answer) {
	e.answer.Store(a)
	e.expires.Store(a.expires)
}

// finishLocked ends e's resolution with a: it publishes a, clears inflight
// and returns the waiters to call. The caller holds e.mu.
func (e *entry) finishLocked(a *Answer) []waiter {
	e.used.Store(false) // before the new answer is visible: its uses count
	e.publish(a)
	e.inflight.Store(false)
	ws := e.waiters
	e.waiters = nil
	return ws
}

func newShards(maxHosts int) []shard {
	n := minShards
	for n*hostsPerShard < maxHosts {
		n *= 2
	}
	shards := make([]shard, n)
	for i := range shards {
		shards[i].t.Store(emptyTable)
	}
	return shards
}

// hash returns host's hash. maphash.Bytes and maphash.String give the same
// hash for the same bytes, so Lookup ([]byte) and Resolve (string) agree.
func (r *Resolver) hash(host string) uint64 { return maphash.String(r.seed, host) }

// shardOf returns the shard of a host with hash h.
func (r *Resolver) shardOf(h uint64) *shard { return &r.shards[h&r.shardMask] }

// getBytes is the lock-free, allocation-free read of the hit path.
func (r *Resolver) getBytes(host []byte) *entry {
	h := maphash.Bytes(r.seed, host)
	return r.shards[h&r.shardMask].t.Load().getBytes(h, host)
}

// get returns the entry of host, whose hash is h, or nil.
func (r *Resolver) get(h uint64, host string) *entry {
	return r.shardOf(h).t.Load().get(h, host)
}

// Lookup returns the current answer for host, or nil on a miss, while the
// first resolution of host is still running, or when its answer expired and
// no refresh is running (then Resolve queries again). A negatively cached
// host returns an Answer whose Err is set. It also records that host is in
// use, which keeps it cached and refreshed.
//
// host is a lower-case name without port; Lookup does not keep it. Lookup
// is the hot path: it takes no lock (atomic loads only, plus one store per
// host per janitor tick) and does not allocate on a hit. An IP literal
// ("192.0.2.1", "2001:db8::1", "[2001:db8::1]") that is not a cached name
// returns a new Answer, never expiring, without touching DNS; this allocates
// (twice: the Answer and a copy of host for netip.ParseAddr).
//
// Expiry is checked against a coarse clock updated every 250 ms, so an
// answer may be served up to that long past Expires.
func (r *Resolver) Lookup(host []byte) *Answer {
	e := r.getBytes(host)
	if e == nil {
		if looksLiteral(host) {
			if a, ok := parseLiteral(string(host)); ok {
				return literalAnswer(a)
			}
		}
		return nil
	}
	now := r.now.Load()
	e.touch(now)
	return e.current(now)
}

// insert adds a pending entry for host, pinned if pin, with w (if its cb is
// not nil) as its first waiter, unless the shard already has one, which it
// returns with created false. When the cache holds MaxHosts hosts it evicts
// a negative entry to make room (negative.go), and fails with
// ErrCacheOverflow only if none can go. It fails with ErrStopped after
// Stop. The caller must enqueue a created entry.
func (r *Resolver) insert(h uint64, host string, w waiter, pin bool, now int64) (e *entry, created bool, err error) {
	ne := &entry{host: host, queued: time.Now()}
	ne.lastUsed.Store(now)
	ne.inflight.Store(true)
	ne.pinned.Store(pin)
	if w.cb != nil {
		ne.waiters = append(ne.waiters, w)
	}
	sh := r.shardOf(h)
	reserved := false // holds a MaxHosts slot
	for {
		sh.mu.Lock()
		e, err = r.insertLocked(sh, h, ne, &reserved)
		sh.mu.Unlock()
		created = e == ne
		if reserved && !created {
			r.numHosts.Add(-1) // not used after all
		}
		if err != ErrCacheOverflow { // never after a slot was handed over
			return e, created, err
		}
		// Evicted without holding sh.mu: the victim may be in any shard.
		if !r.evictNegative(handOverHostSlot) {
			return nil, false, ErrCacheOverflow
		}
		reserved = true
	}
}

// insertLocked puts ne, whose hash is h, in sh and returns it, unless sh
// already has an entry for its host, which it returns instead. *reserved
// says whether the caller holds a MaxHosts slot already, and is set when
// insertLocked reserves one; it fails with ErrCacheOverflow when there is
// none. The caller holds sh.mu.
func (r *Resolver) insertLocked(sh *shard, h uint64, ne *entry, reserved *bool) (*entry, error) {
	old := sh.t.Load()
	if e := old.get(h, ne.host); e != nil {
		return e, nil
	}
	// Checked under the shard's mutex: Stop's final sweep takes it after
	// setting stopped, so it sees every entry inserted before.
	if r.stopped.Load() {
		return nil, ErrStopped
	}
	if !*reserved {
		if !r.reserveHost() {
			return nil, ErrCacheOverflow
		}
		*reserved = true
	}
	sh.t.Store(old.with(h, ne))
	r.stats.hostAdded.Add(1)
	return ne, nil
}

// reserveHost counts one more host if that stays within MaxHosts.
func (r *Resolver) reserveHost() bool {
	for {
		n := r.numHosts.Load()
		if n >= int64(r.cfg.MaxHosts) {
			return false
		}
		if r.numHosts.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// evict removes from sh those of candidates (which it reorders) that are
// still evictable at coarse time now (idle for HostTTL, not pinned, nothing
// running or waiting) and still cached: the check is repeated under the
// locks because a Resolve may have joined, or a negative entry been evicted
// for room (negative.go), since the janitor looked.
func (r *Resolver) evict(sh *shard, candidates []*entry, now int64) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	drop := candidates[:0] // filtered in place
	for _, e := range candidates {
		e.mu.Lock()
		ok := !e.removed && !e.inflight.Load() && len(e.waiters) == 0 && !e.pinned.Load() &&
			now-e.lastUsed.Load() >= int64(r.cfg.HostTTL)
		if ok {
			e.removed = true
			if e.negListed {
				r.unlistNegativeLocked(e, false)
			}
		}
		e.mu.Unlock()
		if ok {
			drop = append(drop, e)
		}
	}
	if len(drop) > 0 {
		sh.t.Store(sh.t.Load().without(drop))
		r.numHosts.Add(-int64(len(drop)))
		r.stats.hostRemoved.Add(uint64(len(drop)))
	}
}
