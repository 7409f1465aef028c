package engine

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestWheelFiresInOrderAndOnce(t *testing.T) {
	t0 := time.Unix(1000, 0)
	w := newWheel(100*time.Millisecond, t0)
	var fired []string
	mk := func(name string) *timer {
		return &timer{fire: func() { fired = append(fired, name) }}
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

// TestWheelLazyMoves drives the wheel with random sets, stops and removes
// against a model: every timer fires once its last deadline has passed (by
// the first advance a tick after it), never before, never after a stop or
// remove, and never twice.
func TestWheelLazyMoves(t *testing.T) {
	const tick = 100 * time.Millisecond
	t0 := time.Unix(1000, 0)
	w := newWheel(tick, t0)
	rng := rand.New(rand.NewPCG(1, 2))
	type model struct {
		deadline time.Time
		armed    bool
	}
	const n = 64
	timers := make([]timer, n)
	want := make([]model, n)
	now := t0
	for i := range timers {
		i := i
		timers[i].fire = func() {
			m := &want[i]
			if !m.armed {
				t.Fatalf("timer %d fired while disarmed", i)
			}
			if now.Before(m.deadline) { // late is checked after each advance
				t.Fatalf("timer %d fired at %v for deadline %v", i, now.Sub(t0), m.deadline.Sub(t0))
			}
			m.armed = false
		}
	}
	for step := 0; step < 20000; step++ {
		i := rng.IntN(n)
		switch op := rng.IntN(10); {
		case op < 6: // set, up to two turns of the wheel ahead
			d := time.Duration(rng.Int64N(int64(2*wheelSlots*tick))) + tick
			w.set(&timers[i], w.now.Add(d))
			want[i] = model{deadline: w.now.Add(d), armed: true}
		case op < 7:
			w.stop(&timers[i])
			want[i].armed = false
		case op < 8:
			w.remove(&timers[i])
			want[i].armed = false
			if timers[i].next != nil {
				t.Fatalf("timer %d still linked after remove", i)
			}
		default: // time passes: up to 5 s, now and then more than a turn
			d := time.Duration(rng.Int64N(int64(5 * time.Second)))
			if rng.IntN(50) == 0 {
				d = 2 * wheelSlots * tick
			}
			now = now.Add(d)
			w.advance(now)
			for j := range want {
				if want[j].armed && !now.Before(want[j].deadline.Add(tick)) {
					t.Fatalf("step %d: timer %d due at %v not fired by %v", step, j, want[j].deadline.Sub(t0), now.Sub(t0))
				}
			}
		}
		for j := range want {
			if w.armed(&timers[j]) != want[j].armed {
				t.Fatalf("step %d: timer %d armed = %v, want %v", step, j, w.armed(&timers[j]), want[j].armed)
			}
		}
	}
}

// TestWheelMoveLaterRelinksNothing checks the point of the laziness: moving
// a timer later, or stopping it, leaves the slot lists alone, and moving it
// earlier relinks it.
func TestWheelMoveLaterRelinksNothing(t *testing.T) {
	t0 := time.Unix(1000, 0)
	w := newWheel(100*time.Millisecond, t0)
	var a, b timer
	fired := 0
	a.fire = func() { fired++ }
	b.fire = func() {}
	w.set(&a, t0.Add(10*time.Second))
	w.set(&b, t0.Add(10*time.Second))
	prev, next := a.prev, a.next
	w.set(&a, t0.Add(30*time.Second))
	w.stop(&a)
	w.set(&a, t0.Add(60*time.Second))
	if a.prev != prev || a.next != next {
		t.Fatal("moving a timer later relinked it")
	}
	w.set(&a, t0.Add(5*time.Second))
	if a.at != 50 {
		t.Fatalf("moved earlier: at tick %d, want 50", a.at)
	}
	w.advance(t0.Add(6 * time.Second))
	if fired != 1 {
		t.Fatalf("fired %d times by 6 s, want 1", fired)
	}
}

// BenchmarkWheelRequest is the timer work of one keep-alive request on a
// loop with 4000 connections: the session's timer disarmed while the name
// resolves, then set to the connect budget, the response timeout and the
// idle timeout, on a connection picked at random. Each timer sits in a
// struct the size of a clientConn, so that, as in the proxy, its list
// neighbours are other connections' cache lines, mostly not in cache.
func BenchmarkWheelRequest(b *testing.B) {
	t0 := time.Unix(1000, 0)
	w := newWheel(100*time.Millisecond, t0)
	type conn struct {
		_ [2048]byte
		t timer
		_ [256]byte
	}
	conns := make([]conn, 4000)
	for i := range conns {
		conns[i].t.fire = func() {}
		w.set(&conns[i].t, t0.Add(60*time.Second))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	b.ReportAllocs()
	for b.Loop() {
		t := &conns[rng.IntN(len(conns))].t
		w.stop(t)
		w.set(t, w.now.Add(15*time.Second))
		w.set(t, w.now.Add(30*time.Second))
		w.set(t, w.now.Add(60*time.Second))
	}
}
