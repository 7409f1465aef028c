package engine

import "time"

// wheel is a hashed timing wheel (Varghese and Lauck): one slot per tick, a
// deadline further away than one turn waits for the rounds it needs. Setting,
// moving and cancelling a timer are O(1) and allocate nothing, which matters
// because every request re-arms its session's timer several times.
//
// Re-arming is lazy, as in HAProxy's task queue: a timer moved later, or
// stopped, stays in the slot it is in and only records its new deadline;
// when that slot comes round, fireSlot finds it not due (or stopped) and
// moves it (or drops it) then. Only a timer moved earlier is relinked at
// once. A request sets its session's timer about four times (connect
// budget, response, idle, disarmed while resolving), and each relink
// touches the list neighbours, other connections' timers: with a thousand
// connections those are cache misses on every event. Lazily, a keep-alive
// request relinks once (idle to the earlier connect budget) and the slot
// visit does the rest once per timeout period. remove unlinks at once, for
// a timer whose owner is going away, so that the wheel holds no closed
// connection.
//
// Owned by one event loop. Neither engine has timers of its own, so the
// Server's ticker calls advance on each loop through Loop.Execute.
type wheel struct {
	tick  time.Duration
	slots [wheelSlots]timerList
	pos   int       // slot of the current tick
	cur   int64     // ticks advanced since the wheel was made
	now   time.Time // time of the last advance
}

// timer is an entry of the wheel, embedded in what it times.
type timer struct {
	prev, next *timer    // the slot list; nil when not linked
	deadline   time.Time // when it is due, if active
	at         int64     // the tick its slot is visited for it, when linked
	active     bool      // set and not stopped since
	fire       func()
}

type timerList struct{ head timer }

const wheelSlots = 1024 // a power of two: slot = tick & (wheelSlots-1)

func newWheel(tick time.Duration, now time.Time) *wheel {
	w := &wheel{tick: tick, now: now}
	for i := range w.slots {
		h := &w.slots[i].head
		h.next, h.prev = h, h
	}
	return w
}

// set arms t to fire at deadline, moving it if it was armed.
func (w *wheel) set(t *timer, deadline time.Time) {
	if t.next != nil && !deadline.Before(t.deadline) {
		// Linked for an earlier (or the same) deadline: its slot comes
		// round first.
		t.deadline, t.active = deadline, true
		return
	}
	ticks := int64(deadline.Sub(w.now) / w.tick)
	if ticks < 1 {
		ticks = 1
	}
	at := w.cur + ticks
	t.deadline = deadline
	t.active = true
	if t.next != nil {
		if t.at <= at {
			return // its slot comes round first; fireSlot moves it on then
		}
		w.unlink(t)
	}
	t.at = at
	h := &w.slots[at&(wheelSlots-1)].head
	t.prev, t.next = h.prev, h
	h.prev.next = t
	h.prev = t
}

// stop disarms t; it is a no-op when t is not armed. t stays linked until
// its slot comes round.
func (w *wheel) stop(t *timer) { t.active = false }

// remove disarms t and unlinks it now: its owner is going away.
func (w *wheel) remove(t *timer) {
	t.active = false
	if t.next != nil {
		w.unlink(t)
	}
}

func (w *wheel) unlink(t *timer) {
	t.prev.next = t.next
	t.next.prev = t.prev
	t.prev, t.next = nil, nil
}

// armed reports whether t is set.
func (w *wheel) armed(t *timer) bool { return t.active }

// advance moves the wheel to now and fires the timers that are due, each once.
// A timer's fire may set timers again, including its own.
func (w *wheel) advance(now time.Time) {
	steps := int64(now.Sub(w.now) / w.tick)
	if over := steps - int64(len(w.slots)); over > 0 {
		// The loop stalled for more than a turn: skip the ticks of the
		// extra turns, so that the steps below, which still visit every
		// slot once, end at now and re-arm what is not due from now.
		w.cur += over
		w.pos = int(w.cur & (wheelSlots - 1))
		w.now = w.now.Add(time.Duration(over) * w.tick)
		steps = int64(len(w.slots))
	}
	for ; steps > 0; steps-- {
		w.pos = (w.pos + 1) & (wheelSlots - 1)
		w.cur++
		w.now = w.now.Add(w.tick)
		w.fireSlot(w.pos, now)
	}
}

func (w *wheel) fireSlot(slot int, now time.Time) {
	h := &w.slots[slot].head
	// Detach the slot's list first so timers re-armed by fire are not seen again.
	if h.next == h {
		return
	}
	first, last := h.next, h.prev
	h.next, h.prev = h, h
	var pending timer
	pending.next, pending.prev = first, last
	first.prev, last.next = &pending, &pending
	for pending.next != &pending {
		t := pending.next
		w.unlink(t)
		switch {
		case !t.active:
			// stopped since it was linked: dropped
		case t.deadline.After(now):
			w.set(t, t.deadline) // moved later, or a later round
		default:
			t.active = false
			t.fire()
		}
	}
}
