package resolver

import (
	"time"
)

// tickInterval is the janitor's period, which is also the resolution of the
// coarse clock Lookup reads.
const tickInterval = 250 * time.Millisecond

// The janitor runs every tick, as a Clock.AfterFunc callback (so a FakeClock
// runs it inside Advance): it updates the coarse clock, starts background
// refreshes, and evicts idle hosts. It never blocks: refreshes are queued
// without waiting, and eviction takes a shard's mutex only to swap its map.

// armLocked schedules the next tick. The caller holds janitorMu.
func (r *Resolver) armLocked() {
	r.tickWG.Add(1)
	r.timer = r.clock.AfterFunc(tickInterval, r.tick)
}

func (r *Resolver) tick() {
	defer r.tickWG.Done()
	r.janitorMu.Lock()
	defer r.janitorMu.Unlock()
	if r.janitorStopped {
		return
	}
	now := r.clock.Now().UnixNano()
	r.now.Store(now)
	r.sweepLocked(now)
	r.armLocked()
}

// sweepLocked looks at every host once. A host with a good answer is
// refreshed from refreshAt on (80% of its TTL) if it is pinned or in use,
// that is, looked up since that answer was published (the callers that
// waited for it do not count, so a host asked for once is not refreshed
// for nothing); a pinned host with an
// expired error is retried; a host idle for HostTTL is evicted unless pinned.
// Hosts with a resolution running are left alone. The caller holds
// janitorMu.
func (r *Resolver) sweepLocked(now int64) {
	hostTTL := int64(r.cfg.HostTTL)
	for i := range r.shards {
		sh := &r.shards[i]
		evict := r.scratch[:0]
		for e := range sh.t.Load().all() {
			if e.inflight.Load() {
				continue
			}
			a := e.answer.Load()
			if a == nil {
				continue // only after Stop failed its first resolution
			}
			pinned := e.pinned.Load()
			idle := now - e.lastUsed.Load()
			switch {
			case !pinned && idle >= hostTTL:
				evict = append(evict, e)
			case a.Err == nil && now >= a.refreshAt && (pinned || e.used.Load()):
				r.refresh(e)
			case a.Err != nil && pinned && now >= a.expires:
				r.refresh(e)
			}
		}
		if len(evict) > 0 {
			r.evict(sh, evict, now)
			clear(evict)
		}
		r.scratch = evict[:0]
	}
}

// refresh queues a background resolution of e unless one is running. Lookup
// keeps returning the current answer meanwhile.
func (r *Resolver) refresh(e *entry) {
	e.mu.Lock()
	if e.removed || e.inflight.Load() {
		e.mu.Unlock()
		return
	}
	e.inflight.Store(true)
	e.queued = time.Now()
	e.mu.Unlock()
	r.enqueue(e)
}
