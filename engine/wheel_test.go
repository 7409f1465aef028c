package engine

import (
	"testing"
	"time"
)

func TestWheelFiresInOrderAndOnce(t *testing.T) {
	t0 := time.Unix(1000, 0)
	w := newWheel(100*time.Millisecond, t0)
	var fired []string
	mk := func(name string) *timer {
		return &timer{slot: -1, fire: func() { fired = append(fired, name) }}
	}
	a, b, c, far := mk("a"), mk("b"), mk("c"), mk("far")
	w.set(a, t0.Add(250*time.Millisecond))
	w.set(b, t0.Add(1*time.Second))
	w.set(c, t0.Add(500*time.Millisecond))
	w.set(far, t0.Add(5*time.Minute)) // several turns of the wheel
	w.stop(c)
	w.advance(t0.Add(300 * time.Millisecond))
	if len(fired) != 1 || fired[0] != "a" {
		t.Fatalf("after 300ms fired %v, want [a]", fired)
	}
	w.advance(t0.Add(2 * time.Second))
	if len(fired) != 2 || fired[1] != "b" {
		t.Fatalf("after 2s fired %v, want [a b]", fired)
	}
	for now := t0.Add(2 * time.Second); now.Before(t0.Add(299 * time.Second)); now = now.Add(time.Second) {
		w.advance(now)
	}
	if len(fired) != 2 {
		t.Fatalf("far timer fired early: %v", fired)
	}
	w.advance(t0.Add(301 * time.Second))
	if len(fired) != 3 || fired[2] != "far" || w.armed(far) {
		t.Fatalf("fired %v, want far last", fired)
	}
}

func TestWheelRearmFromFire(t *testing.T) {
	t0 := time.Unix(1000, 0)
	w := newWheel(100*time.Millisecond, t0)
	n := 0
	var tm timer
	tm.fire = func() {
		n++
		if n < 3 {
			w.set(&tm, w.now.Add(100*time.Millisecond))
		}
	}
	w.set(&tm, t0.Add(100*time.Millisecond))
	for i := 1; i <= 10; i++ {
		w.advance(t0.Add(time.Duration(i) * 100 * time.Millisecond))
	}
	if n != 3 {
		t.Fatalf("fired %d times, want 3", n)
	}
}
