package resolver

// Negative entries, those whose current answer is a cached error, are
// cheap for anyone to create: a request for a random name under any zone
// that answers NXDOMAIN makes one. Left alone they would hold MaxHosts
// slots for HostTTL and refuse every new real host with ErrCacheOverflow.
// So they are kept on a list of their own and given up first:
//
//   - at most MaxNegativeHosts of them are cached: a resolution that would
//     publish one more evicts another one, or if none can go, answers its
//     waiters and leaves the cache without its entry (completeUncached);
//   - a new host that finds the cache at MaxHosts evicts one of them
//     before it is refused (insert).
//
// Positive, stale and pending entries are never evicted for either reason,
// and neither are pinned (Preresolve) hosts, which are not on the list and
// do not count towards MaxNegativeHosts.
//
// The victim is chosen by the second-chance FIFO (CLOCK) algorithm, an
// approximation of least-recently-used that costs O(1) amortised (one pass
// over the list at worst) and needs nothing from the hit path but the
// lastUsed stamp it keeps anyway: the list is in the order the entries
// became negative; the walk from its head evicts the first entry not used
// since it was listed (or since it was last passed over), and moves a used
// one to the tail with its mark updated.
// An entry with a resolution running (its backoff ended and a Resolve
// retries it), and so any entry with waiters, is skipped, and so is one
// another caller has chosen and is evicting (negClaimed), so that
// concurrent evictions do not all go for the same victim.
//
// Lock order: shard.mu, then entry.mu, then negMu. A MaxHosts or
// MaxNegativeHosts slot freed by an eviction is handed to the caller that
// evicted (numHosts or numNegative left as is), so a concurrent caller
// cannot take it in between and neither bound is exceeded at any moment.

// maxEvictTries bounds the attempts of evictNegative: a victim chosen
// under negMu may start a resolution (or be evicted as idle) before its
// locks are taken, and is then passed over. Both are rare.
const maxEvictTries = 8

// negList is the doubly linked list of negative entries, through their
// negPrev and negNext fields. Guarded by Resolver.negMu.
type negList struct {
	head, tail *entry
	n          int
}

func (l *negList) pushBack(e *entry) {
	e.negPrev, e.negNext = l.tail, nil
	if l.tail != nil {
		l.tail.negNext = e
	} else {
		l.head = e
	}
	l.tail = e
	l.n++
}

func (l *negList) remove(e *entry) {
	if e.negPrev != nil {
		e.negPrev.negNext = e.negNext
	} else {
		l.head = e.negNext
	}
	if e.negNext != nil {
		e.negNext.negPrev = e.negPrev
	} else {
		l.tail = e.negPrev
	}
	e.negPrev, e.negNext = nil, nil
	l.n--
}

// reserveNegative counts one more negative entry if that stays within
// MaxNegativeHosts.
func (r *Resolver) reserveNegative() bool {
	for {
		n := r.numNegative.Load()
		if n >= int64(r.cfg.MaxNegativeHosts) {
			return false
		}
		if r.numNegative.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// listNegativeLocked puts e, which has just got a negative answer and holds
// a MaxNegativeHosts slot, on the list. The caller holds e.mu.
func (r *Resolver) listNegativeLocked(e *entry) {
	r.negMu.Lock()
	e.negListed = true
	e.negMark = e.lastUsed.Load()
	r.neg.pushBack(e)
	r.negMu.Unlock()
}

// unlistNegativeLocked takes e off the list; keepSlot says whether its
// MaxNegativeHosts slot passes to the caller rather than being freed. The
// caller holds e.mu.
func (r *Resolver) unlistNegativeLocked(e *entry, keepSlot bool) {
	r.negMu.Lock()
	r.neg.remove(e)
	e.negListed = false
	e.negClaimed = false
	r.negMu.Unlock()
	if !keepSlot {
		r.numNegative.Add(-1)
	}
}

// needsNegativeSlotLocked reports whether publishing a in e makes one more
// negative entry. The caller holds e.mu.
func needsNegativeSlotLocked(e *entry, a *Answer) bool {
	return a.Err != nil && !e.negListed && !e.pinned.Load()
}

// negativeVictimLocked chooses the negative entry to evict by one round of
// the second-chance walk, and claims it; nil if every one has a resolution
// running or is claimed. The caller holds negMu.
func (r *Resolver) negativeVictimLocked() *entry {
	var fallback *entry // first one passed over: the walk ends with it at worst
	e := r.neg.head
	for range r.neg.n {
		if e == nil {
			break
		}
		next := e.negNext
		if !e.inflight.Load() && !e.negClaimed {
			used := e.lastUsed.Load()
			if used <= e.negMark {
				e.negClaimed = true
				return e
			}
			e.negMark = used // second chance
			r.neg.remove(e)
			r.neg.pushBack(e)
			if fallback == nil {
				fallback = e
			}
		}
		e = next
	}
	if fallback != nil {
		fallback.negClaimed = true
	}
	return fallback
}

// handover says which of its slots an entry evicted by evictNegative hands
// over to the caller instead of freeing it.
type handover uint8

const (
	handOverHostSlot     handover = iota // a new host takes its place (insert)
	handOverNegativeSlot                 // a new negative answer takes its place (complete)
)

// evictNegative evicts one negative entry, the least recently used one as
// the second-chance walk approximates it, and hands the slot keep names
// over to the caller. It reports false when no negative entry can be
// evicted. The caller holds no lock.
func (r *Resolver) evictNegative(keep handover) bool {
	for range maxEvictTries {
		r.negMu.Lock()
		v := r.negativeVictimLocked()
		r.negMu.Unlock()
		if v == nil {
			return false
		}
		if r.removeNegative(v, keep) {
			return true
		}
		r.negMu.Lock()
		v.negClaimed = false
		r.negMu.Unlock()
	}
	return false
}

// removeNegative evicts v if it is still an evictable negative entry (on the
// list, hence not pinned; no resolution running, hence no waiters), as
// evict does for idle hosts, and hands the slot keep names over to the
// caller.
func (r *Resolver) removeNegative(v *entry, keep handover) bool {
	sh := r.shardOf(r.hash(v.host))
	sh.mu.Lock()
	defer sh.mu.Unlock()
	v.mu.Lock()
	ok := !v.removed && v.negListed && !v.inflight.Load() && len(v.waiters) == 0
	if ok {
		v.removed = true
		r.unlistNegativeLocked(v, keep == handOverNegativeSlot)
	}
	v.mu.Unlock()
	if !ok {
		return false
	}
	sh.t.Store(sh.t.Load().without([]*entry{v}))
	if keep != handOverHostSlot {
		r.numHosts.Add(-1)
	}
	r.stats.hostRemoved.Add(1)
	r.stats.negativeEvicted.Add(1)
	return true
}

// completeUncached ends e's resolution with the negative answer a when no
// MaxNegativeHosts slot could be had: it answers e's waiters with a and
// removes e from the cache, so the next Resolve of the host queries again.
// e is in flight, so nothing but pin changed it since its caller unlocked
// it; if it was pinned meanwhile a is published as usual.
func (r *Resolver) completeUncached(e *entry, a *Answer) {
	sh := r.shardOf(r.hash(e.host))
	sh.mu.Lock()
	e.mu.Lock()
	if !needsNegativeSlotLocked(e, a) {
		r.countNegativeLocked(e, a, false)
		ws := e.finishLocked(a)
		e.mu.Unlock()
		sh.mu.Unlock()
		r.deliver(ws, a, a.Err)
		return
	}
	// Published too, for a Resolve that found e before it left the table;
	// not counted, as e is not cached any more.
	ws := e.finishLocked(a)
	e.removed = true
	e.mu.Unlock()
	sh.t.Store(sh.t.Load().without([]*entry{e}))
	sh.mu.Unlock()
	r.numHosts.Add(-1)
	r.stats.hostRemoved.Add(1)
	r.stats.negativeEvicted.Add(1)
	r.deliver(ws, a, a.Err)
}

// countNegativeLocked keeps the list and numNegative in step with the
// answer a about to be published in e: e joins the list when a is a
// cached error, using the MaxNegativeHosts slot its caller holds (reserved
// says it holds one), and leaves it when a is not. An unused slot is freed.
// The caller holds e.mu.
func (r *Resolver) countNegativeLocked(e *entry, a *Answer, reserved bool) {
	switch neg := a.Err != nil && !e.pinned.Load(); {
	case neg && !e.negListed:
		if !reserved {
			panic("resolver: BUG: negative answer counted without a MaxNegativeHosts slot")
		}
		r.listNegativeLocked(e)
		reserved = false
	case !neg && e.negListed:
		r.unlistNegativeLocked(e, false)
	}
	if reserved {
		r.numNegative.Add(-1)
	}
}

// pin marks e as a Preresolve host: never evicted, always refreshed. A
// pinned host does not count as negative, so it leaves the list.
func (r *Resolver) pin(e *entry) {
	e.mu.Lock()
	e.pinned.Store(true)
	if e.negListed {
		r.unlistNegativeLocked(e, false)
	}
	e.mu.Unlock()
}
