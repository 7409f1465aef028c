package resolver

import "iter"

// table is one shard's immutable hash table from host to entry: open
// addressing with linear probing over a power-of-two array kept at most half
// full. It is never modified once published; with and without build a new
// one. The hash is computed once per Lookup (maphash of the host): its low
// bits choose the shard, its high bits the slot, and the full hash is stored
// in the slot so a probe compares host strings only on a likely match. This
// avoids the second hashing of the host a Go map would do.
type table struct {
	slots []slot // len is a power of two; at least one slot is empty
	n     int    // entries
}

// slot is immutable like its table. It holds the key beside the entry pointer, so that a probe compares
// the key without first loading the entry: the key bytes and the entry are
// then fetched in parallel rather than one after the other.
type slot struct {
	hash uint64
	key  string // e.host
	e    *entry // nil: empty
}

// emptyTable is the table of a shard with no hosts.
var emptyTable = &table{slots: make([]slot, 1)}

// minSlots is the smallest non-empty table.
const minSlots = 8

func slotIndex(h uint64, mask int) int { return int(h>>32) & mask }

// getBytes returns the entry for host, whose hash is h, or nil. It does not
// allocate: comparing a string with string(host) does not copy host.
func (t *table) getBytes(h uint64, host []byte) *entry {
	mask := len(t.slots) - 1
	for i := slotIndex(h, mask); ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.e == nil {
			return nil
		}
		if s.hash == h && s.key == string(host) {
			return s.e
		}
	}
}

// get is getBytes for a string.
func (t *table) get(h uint64, host string) *entry {
	mask := len(t.slots) - 1
	for i := slotIndex(h, mask); ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.e == nil {
			return nil
		}
		if s.hash == h && s.key == host {
			return s.e
		}
	}
}

// with returns a new table holding t's entries and e, whose hash is h.
// e's host must not be in t.
func (t *table) with(h uint64, e *entry) *table {
	nt := newTable(t.n + 1)
	for _, s := range t.slots {
		if s.e != nil {
			nt.put(s.hash, s.e)
		}
	}
	nt.put(h, e)
	return nt
}

// without returns a new table holding t's entries except those in drop.
func (t *table) without(drop []*entry) *table {
	if t.n <= len(drop) {
		return emptyTable
	}
	nt := newTable(t.n - len(drop))
outer:
	for _, s := range t.slots {
		if s.e == nil {
			continue
		}
		for _, d := range drop {
			if s.e == d {
				continue outer
			}
		}
		nt.put(s.hash, s.e)
	}
	if nt.n == 0 {
		return emptyTable
	}
	return nt
}

// newTable returns an empty table sized for n entries.
func newTable(n int) *table {
	size := minSlots
	for size < 2*n {
		size *= 2
	}
	return &table{slots: make([]slot, size)}
}

// put adds an entry to a table under construction.
func (t *table) put(h uint64, e *entry) {
	mask := len(t.slots) - 1
	i := slotIndex(h, mask)
	for t.slots[i].e != nil {
		i = (i + 1) & mask
	}
	t.slots[i] = slot{hash: h, key: e.host, e: e}
	t.n++
}

// all yields every entry, in no particular order.
func (t *table) all() iter.Seq[*entry] {
	return func(yield func(*entry) bool) {
		for _, s := range t.slots {
			if s.e != nil && !yield(s.e) {
				return
			}
		}
	}
}
