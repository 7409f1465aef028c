package engine

import "time"

// wheel is a hashed timing wheel (Varghese and Lauck): one slot per tick, a
// deadline further away than one turn waits for the rounds it needs. Setting,
// moving and cancelling a timer are O(1) and allocate nothing, which matters
// because every request re-arms its session's timer several times.
//
// Owned by one event loop. Neither engine has timers of its own, so the
// Server's ticker calls advance on each loop through Loop.Execute.
type wheel struct {
	tick  time.Duration
	slots []timerList
	pos   int       // slot of the current tick
	now   time.Time // time of the last advance
}

// timer is an entry of the wheel, embedded in what it times.
type timer struct {
	prev, next *timer
	deadline   time.Time
	slot       int // -1 when not armed
	fire       func()
}

type timerList struct{ head timer }

const wheelSlots = 1024

func newWheel(tick time.Duration, now time.Time) *wheel {
	w := &wheel{tick: tick, slots: make([]timerList, wheelSlots), now: now}
	for i := range w.slots {
		h := &w.slots[i].head
		h.next, h.prev = h, h
	}
	return w
}

// set arms t to fire at deadline, moving it if it was armed.
func (w *wheel) set(t *timer, deadline time.Time) {
	w.stop(t)
	ticks := int(deadline.Sub(w.now) / w.tick)
	if ticks < 1 {
		ticks = 1
	}
	slot := (w.pos + ticks) % len(w.slots)
	t.deadline = deadline
	t.slot = slot
	h := &w.slots[slot].head
	t.prev, t.next = h.prev, h
	h.prev.next = t
	h.prev = t
}

// stop disarms t; it is a no-op when t is not armed.
func (w *wheel) stop(t *timer) {
	if t.next == nil {
		return
	}
	t.prev.next = t.next
	t.next.prev = t.prev
	t.prev, t.next = nil, nil
	t.slot = -1
}

// armed reports whether t is set.
func (w *wheel) armed(t *timer) bool { return t.next != nil }

// advance moves the wheel to now and fires the timers that are due, each once.
// A timer's fire may set timers again, including its own.
func (w *wheel) advance(now time.Time) {
	steps := int(now.Sub(w.now) / w.tick)
	if steps > len(w.slots) {
		steps = len(w.slots)
	}
	for i := 0; i < steps; i++ {
		w.pos = (w.pos + 1) % len(w.slots)
		w.now = w.now.Add(w.tick)
		w.fireSlot(w.pos, now)
	}
	if now.Sub(w.now) >= w.tick*time.Duration(len(w.slots)) {
		w.now = now // the loop stalled for a whole turn; every slot was visited
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
		t.prev.next = t.next
		t.next.prev = t.prev
		t.prev, t.next = nil, nil
		t.slot = -1
		if t.deadline.After(now) {
			w.set(t, t.deadline) // not due yet: a later round
			continue
		}
		t.fire()
	}
}
