package cache

import "sync"

// hotSet keeps the big entries most recently stored (or read, while it has
// room) as immutable encoded values: a hit on one decodes in place, without
// fastcache's GetBig, which copies the whole value out of its chunks and
// hashes it (xxhash) on every read. In BenchmarkCacheHitBig (1 MiB) those
// two were 48% of the process's CPU.
//
// Values are never changed once in the set: an Entry decoded from one
// points into it and stays valid however the set changes. Bounded by max
// bytes; the oldest insertions go first.
//
// Safe for concurrent use: mu guards everything.
type hotSet struct {
	mu    sync.RWMutex
	m     map[string]hotValue
	order []hotKey // insertion order; may hold keys since deleted or replaced
	bytes int
	max   int
	seq   uint64
}

type hotValue struct {
	v   []byte
	seq uint64 // the insertion's, as in order
}

// hotKey is an insertion: it is still in the set while the set's value
// under key has its seq.
type hotKey struct {
	key string
	seq uint64
}

func newHotSet(max int) *hotSet { return &hotSet{m: make(map[string]hotValue), max: max} }

// get returns the value under key.
func (h *hotSet) get(key []byte) ([]byte, bool) {
	if h.max == 0 {
		return nil, false
	}
	h.mu.RLock()
	v, ok := h.m[string(key)]
	h.mu.RUnlock()
	return v.v, ok
}

// put keeps a copy of v under key, evicting the oldest values to make room
// when evict, or only if there is room otherwise.
func (h *hotSet) put(key, v []byte, evict bool) {
	if len(v) > h.max {
		h.del(key)
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.delLocked(string(key))
	if !evict && h.bytes+len(v) > h.max {
		return
	}
	for h.bytes+len(v) > h.max && len(h.order) > 0 {
		o := h.order[0]
		h.order = h.order[1:]
		if old, ok := h.m[o.key]; ok && old.seq == o.seq {
			h.bytes -= len(old.v)
			delete(h.m, o.key)
		}
	}
	h.seq++
	k := string(key)
	h.m[k] = hotValue{v: append([]byte(nil), v...), seq: h.seq}
	h.bytes += len(v)
	h.order = append(h.order, hotKey{k, h.seq})
	if len(h.order) > 2*len(h.m)+16 {
		h.compact()
	}
}

// del drops the value under key.
func (h *hotSet) del(key []byte) {
	if h.max == 0 {
		return
	}
	h.mu.Lock()
	h.delLocked(string(key))
	h.mu.Unlock()
}

func (h *hotSet) delLocked(key string) {
	if old, ok := h.m[key]; ok {
		h.bytes -= len(old.v)
		delete(h.m, key)
	}
}

// compact drops the order's keys that are no longer in the set. mu is held.
func (h *hotSet) compact() {
	live := h.order[:0]
	for _, o := range h.order {
		if v, ok := h.m[o.key]; ok && v.seq == o.seq {
			live = append(live, o)
		}
	}
	clear(h.order[len(live):])
	h.order = live
}

// reset empties the set.
func (h *hotSet) reset() {
	h.mu.Lock()
	clear(h.m)
	h.order, h.bytes = nil, 0
	h.mu.Unlock()
}

// stats returns the set's size.
func (h *hotSet) stats() (entries, bytes int) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.m), h.bytes
}
