package cache

import (
	"sync/atomic"

	"github.com/VictoriaMetrics/fastcache"
)

// bigValue is the largest value fastcache stores with Set; larger ones go
// through SetBig, which splits them into 64 KiB chunks.
const bigValue = 64<<10 - 1024

// Store keeps encoded entries in fastcache: bounded memory, evicted by
// fastcache's ring buffers when full, with no per-entry expiry (each entry
// carries its own times). Small entries are stored under "s"+key with Set,
// big ones under "b"+key with SetBig; a Put removes the other form.
// A response with Vary is stored as a variant, under a secondary key, with
// a variant index under its primary key (variant.go).
//
// Safe for concurrent use (fastcache locks per bucket); the counters are
// atomics.
type Store struct {
	fc        *fastcache.Cache
	maxObject int
	flights   *Flights
	hot       *hotSet // big entries kept decoded-ready (hot.go)

	stores, tooBig, hits, misses, corrupt, deletes atomic.Int64
}

// StoreStats are a Store's counters and fastcache's own figures.
type StoreStats struct {
	Stores     int64  `json:"stores"`
	TooBig     int64  `json:"too_big"`
	Hits       int64  `json:"hits"`
	Misses     int64  `json:"misses"`
	Corrupt    int64  `json:"corrupt"`
	Deletes    int64  `json:"deletes"`
	Entries    uint64 `json:"entries"` // fastcache's; each 64 KiB chunk of a big value counts
	Bytes      uint64 `json:"bytes"`
	MaxBytes   uint64 `json:"max_bytes"`
	Collisions uint64 `json:"collisions"` // fastcache's: entries lost to a hash collision

	Flights FlightStats `json:"flights"` // collapsed forwarding of concurrent misses

	HotEntries int `json:"hot_entries"` // big entries also kept whole in memory (hot.go)
	HotBytes   int `json:"hot_bytes"`
}

// NewStore returns a store of at most maxBytes (fastcache's bound: at least
// 32 MiB, it rounds up to whole 64 KiB chunks per bucket) that refuses
// encoded entries over maxObject bytes.
//
// An eighth of maxBytes (less if fastcache would get under its 32 MiB) keeps
// big entries whole (hot.go); fastcache gets the rest.
func NewStore(maxBytes, maxObject int) *Store {
	hot := maxBytes / 8
	if maxBytes-hot < minFastcache {
		hot = max(maxBytes-minFastcache, 0)
	}
	return &Store{fc: fastcache.New(maxBytes - hot), maxObject: maxObject, flights: NewFlights(), hot: newHotSet(hot)}
}

// minFastcache is the least memory fastcache works with (one 64 KiB chunk
// for each of its 512 buckets).
const minFastcache = 32 << 20

// Flights is the store's table of misses in flight (collapsed forwarding).
func (s *Store) Flights() *Flights { return s.flights }

// Put stores e under key, reusing buf for the encoding; it returns buf for
// the next call, and whether it stored e: an entry whose encoding exceeds
// maxObject is not stored.
func (s *Store) Put(key []byte, e *Entry, buf []byte) ([]byte, bool) {
	buf = e.Append(buf[:0])
	if len(buf) > s.maxObject {
		s.tooBig.Add(1)
		return buf, false
	}
	if len(e.Vary) > 0 {
		key = s.putIndex(key, e.Vary) // a variant: under its secondary key
	}
	k := make([]byte, 0, len(key)+1)
	if len(buf) <= bigValue {
		s.hot.del(key)
		s.fc.Del(append(append(k, 'b'), key...))
		s.fc.Set(append(append(k[:0], 's'), key...), buf)
	} else {
		s.fc.Del(append(append(k, 's'), key...))
		s.fc.SetBig(append(append(k[:0], 'b'), key...), buf)
		s.hot.put(key, buf, true)
	}
	s.stores.Add(1)
	return buf, true
}

// Get appends the entry stored under key to dst and decodes it into e (its
// slices point into the returned buffer, or, for a big entry, maybe into
// memory the store keeps and never changes: never write through them). ok
// is false on a miss, and for a value that does not decode (it is deleted). A variant index (e.Variants
// not zero) is not yet a hit: GetVariant finds the response.
func (s *Store) Get(dst, key []byte, e *Entry) (buf []byte, ok bool) {
	var kb [256]byte // keys are short: no allocation for them
	return s.get(dst, append(append(kb[:0], 's'), key...), e)
}

// get is Get of k, a key after one byte that get sets to the prefix of the
// small form, then of the big one.
func (s *Store) get(dst, k []byte, e *Entry) (buf []byte, ok bool) {
	k[0] = 's'
	start := len(dst)
	buf, ok = s.fc.HasGet(dst, k)
	val := buf[start:]
	if !ok {
		if v, hot := s.hot.get(k[1:]); hot {
			buf, val, ok = dst, v, true
		} else {
			k[0] = 'b'
			buf = s.fc.GetBig(dst, k)
			ok = len(buf) > start
			val = buf[start:]
			if ok {
				s.hot.put(k[1:], val, false) // while there is room
			}
		}
	}
	if !ok {
		s.misses.Add(1)
		return buf, false
	}
	if err := e.Decode(val); err != nil {
		s.corrupt.Add(1)
		s.Delete(k[1:])
		return buf[:start], false
	}
	if e.Variants == 0 {
		s.hits.Add(1)
	}
	return buf, true
}

// Delete removes what is stored under key (invalidation, RFC 9111 §4.4).
// For a variant index that is enough: its variants are never found again.
func (s *Store) Delete(key []byte) {
	k := make([]byte, 0, len(key)+1)
	s.fc.Del(append(append(k, 's'), key...))
	s.fc.Del(append(append(k[:0], 'b'), key...))
	s.hot.del(key)
	s.deletes.Add(1)
}

// MaxObject is the largest encoded entry the store keeps.
func (s *Store) MaxObject() int { return s.maxObject }

// Purge removes everything.
func (s *Store) Purge() {
	s.fc.Reset()
	s.hot.reset()
}

// Stats returns the store's counters and fastcache's figures.
func (s *Store) Stats() StoreStats {
	var fs fastcache.Stats
	s.fc.UpdateStats(&fs)
	st := StoreStats{
		Stores: s.stores.Load(), TooBig: s.tooBig.Load(), Hits: s.hits.Load(), Misses: s.misses.Load(),
		Corrupt: s.corrupt.Load(), Deletes: s.deletes.Load(),
		Entries: fs.EntriesCount, Bytes: fs.BytesSize, MaxBytes: fs.MaxBytesSize,
		Collisions: fs.Collisions, Flights: s.flights.Stats(),
	}
	st.HotEntries, st.HotBytes = s.hot.stats()
	return st
}
