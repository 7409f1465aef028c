package cache

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// Collapsed forwarding (Squid's collapsed_forwarding, nginx's
// proxy_cache_lock, Varnish's request coalescing): of the concurrent misses
// for one key, the first goes to the origin (the leader) and the others wait
// for its response, then look the key up again. When the response turns out
// not to be storable, the waiters are released at once to go to the origin
// themselves, and the key is marked for PassFor so that the next misses do
// not queue behind a request whose answer will not be shared (Varnish's
// hit-for-miss).

// PassFor is how long a key whose response was not storable lets misses go
// to the origin without waiting for one another.
const PassFor = 30 * time.Second

// maxPassMarks bounds the hit-for-miss marks a shard keeps; past it the
// expired ones are swept, and if none are, all of them are dropped (they
// only spare waiting).
const maxPassMarks = 4096

// Role is what Flights.Join makes a miss.
type Role uint8

const (
	// Lead: no request for the key is in flight; the caller goes to the
	// origin and must call Flights.End once it knows the outcome.
	Lead Role = iota
	// Wait: another request leads; the caller's Waiter is woken when it ends.
	Wait
	// Pass: the key's last response was not storable; the caller goes to
	// the origin on its own, without leading.
	Pass
)

// Outcome is how a leader's request ended, for Flights.End.
type Outcome uint8

const (
	// Stored: the response is in the store; the waiters look it up.
	Stored Outcome = iota
	// NotStored: the response may not be (or was not) stored; the waiters
	// go to the origin, and the key passes for PassFor.
	NotStored
	// Failed: the request failed before a response (the origin refused,
	// timed out, the client left); the waiters go to the origin.
	Failed
)

// Waiter is woken when the flight it waits on ends. Wake is called with the
// gen given to Join, from the leader's goroutine, and must not block (a
// driver queues the event to the waiter's own loop).
type Waiter interface {
	CacheWake(gen uint32)
}

// Flights tracks the requests in flight per key. Safe for concurrent use:
// each key's shard has its own lock.
type Flights struct {
	seed   maphash.Seed
	shards [64]flightShard

	led, waited, passed atomic.Int64
}

// flightShard is one lock's share of the keys. mu guards m and marks.
type flightShard struct {
	mu    sync.Mutex
	m     map[string]*flight
	marks int // entries of m that are hit-for-miss marks
}

// flight is one key's leader and waiters, or its hit-for-miss mark (no
// leader, passUntil set). Guarded by its shard's lock.
type flight struct {
	waiters   []waiter
	passUntil time.Time
}

type waiter struct {
	w   Waiter
	gen uint32
}

// NewFlights returns an empty table.
func NewFlights() *Flights {
	f := &Flights{seed: maphash.MakeSeed()}
	for i := range f.shards {
		f.shards[i].m = make(map[string]*flight)
	}
	return f
}

func (f *Flights) shard(key []byte) *flightShard {
	return &f.shards[maphash.Bytes(f.seed, key)&uint64(len(f.shards)-1)]
}

// Join enters a miss for key at now: it leads, waits (w is woken with gen
// when the leader ends) or passes.
func (f *Flights) Join(key []byte, now time.Time, w Waiter, gen uint32) Role {
	sh := f.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	fl := sh.m[string(key)] // no allocation for the lookup
	switch {
	case fl == nil:
		sh.m[string(key)] = &flight{}
		f.led.Add(1)
		return Lead
	case !fl.passUntil.IsZero() && now.Before(fl.passUntil):
		f.passed.Add(1)
		return Pass
	case !fl.passUntil.IsZero():
		// The mark expired: this miss leads again.
		fl.passUntil = time.Time{}
		sh.marks--
		f.led.Add(1)
		return Lead
	}
	fl.waiters = append(fl.waiters, waiter{w, gen})
	f.waited.Add(1)
	return Wait
}

// End ends the flight the caller leads for key, waking its waiters.
func (f *Flights) End(key []byte, now time.Time, o Outcome) {
	sh := f.shard(key)
	sh.mu.Lock()
	fl := sh.m[string(key)]
	if fl == nil || !fl.passUntil.IsZero() {
		sh.mu.Unlock()
		return
	}
	ws := fl.waiters
	if o == NotStored {
		fl.waiters = nil
		fl.passUntil = now.Add(PassFor)
		sh.marks++
		if sh.marks > maxPassMarks {
			sh.sweep(now)
		}
	} else {
		delete(sh.m, string(key))
	}
	sh.mu.Unlock()
	for _, w := range ws {
		w.w.CacheWake(w.gen)
	}
}

// sweep drops expired hit-for-miss marks, or all of them if none expired.
// The shard's lock is held.
func (sh *flightShard) sweep(now time.Time) {
	all := true
	for k, fl := range sh.m {
		if !fl.passUntil.IsZero() && !now.Before(fl.passUntil) {
			delete(sh.m, k)
			sh.marks--
			all = false
		}
	}
	if !all {
		return
	}
	for k, fl := range sh.m {
		if !fl.passUntil.IsZero() {
			delete(sh.m, k)
			sh.marks--
		}
	}
}

// FlightStats are a Flights table's counters and current sizes.
type FlightStats struct {
	Led      int64 `json:"led"`       // misses that went to the origin for the others
	Waited   int64 `json:"waited"`    // misses that waited for a leader
	Passed   int64 `json:"passed"`    // misses that went on their own (hit-for-miss)
	InFlight int   `json:"in_flight"` // keys being fetched now
	Passing  int   `json:"passing"`   // keys marked to pass now
}

// Stats returns the table's counters and sizes.
func (f *Flights) Stats() FlightStats {
	st := FlightStats{Led: f.led.Load(), Waited: f.waited.Load(), Passed: f.passed.Load()}
	for i := range f.shards {
		sh := &f.shards[i]
		sh.mu.Lock()
		st.InFlight += len(sh.m) - sh.marks
		st.Passing += sh.marks
		sh.mu.Unlock()
	}
	return st
}
