package resolver

import (
	"sync"
	"time"
)

// Clock is the time source for everything the resolver does with TTLs:
// expiry, refresh, negative-caching backoff, eviction and the janitor tick.
// Network deadlines (per-attempt timeouts, Config.QueryTimeout) always use
// real time, because sockets do.
//
// Tests inject a FakeClock; production code uses SystemClock.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// AfterFunc calls f once, in its own goroutine or (for FakeClock) in the
	// goroutine that advances the clock, after d has elapsed.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc call. *time.Timer implements it.
type Timer interface {
	// Stop prevents the call if it has not started yet and reports whether
	// it did so.
	Stop() bool
}

// SystemClock returns the Clock backed by package time.
func SystemClock() Clock { return systemClock{} }

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// FakeClock is a Clock that moves only when Advance is called. AfterFunc
// callbacks run synchronously inside Advance, in deadline order, with Now
// reporting each callback's deadline while it runs; so when Advance returns,
// everything that was due has run (the resolver's janitor included, which makes
// eviction and refresh scheduling deterministic in tests). It is safe for
// concurrent use. Other packages' tests use it too (resolver.NewFakeClock).
type FakeClock struct {
	mu     sync.Mutex // guards the fields below
	now    time.Time
	seq    uint64       // creation order, to keep equal deadlines stable
	timers []*fakeTimer // unordered; small
}

// fakeTimer is a pending FakeClock callback; its fields are set once, and
// whether it is pending is the clock's timers list, guarded by the clock's mu.
type fakeTimer struct {
	c    *FakeClock
	when time.Time
	seq  uint64
	f    func()
}

// NewFakeClock returns a FakeClock reading start; a zero start means
// 2025-01-01 00:00:00 UTC.
func NewFakeClock(start time.Time) *FakeClock {
	if start.IsZero() {
		start = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	return &FakeClock{now: start}
}

// Now returns the fake time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc schedules f to run when the clock is advanced by d or more.
// d <= 0 runs f at the next Advance (even Advance(0)).
func (c *FakeClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	t := &fakeTimer{c: c, when: c.now.Add(d), seq: c.seq, f: f}
	c.timers = append(c.timers, t)
	return t
}

// Stop removes the timer if it has not fired.
func (t *fakeTimer) Stop() bool {
	c := t.c
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, x := range c.timers {
		if x == t {
			c.timers = append(c.timers[:i], c.timers[i+1:]...)
			return true
		}
	}
	return false
}

// Advance moves the clock forward by d, running every callback that falls
// due, including ones scheduled by those callbacks, in deadline order. The
// callbacks run in the caller's goroutine, without the clock's lock held.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	target := c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		next := -1
		for i, t := range c.timers {
			if t.when.After(target) {
				continue
			}
			if next < 0 || t.when.Before(c.timers[next].when) ||
				(t.when.Equal(c.timers[next].when) && t.seq < c.timers[next].seq) {
				next = i
			}
		}
		if next < 0 {
			if target.After(c.now) {
				c.now = target
			}
			c.mu.Unlock()
			return
		}
		t := c.timers[next]
		c.timers = append(c.timers[:next], c.timers[next+1:]...)
		if t.when.After(c.now) {
			c.now = t.when
		}
		c.mu.Unlock()
		t.f()
	}
}

// Pending returns the number of scheduled callbacks that have not run.
func (c *FakeClock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}
