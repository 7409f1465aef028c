package resolver

import (
	"slices"
	"testing"
	"time"
)

func TestFakeClock(t *testing.T) {
	start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	c := NewFakeClock(start)
	var got []string
	var at []time.Duration
	record := func(name string) func() {
		return func() {
			got = append(got, name)
			at = append(at, c.Now().Sub(start))
		}
	}
	c.AfterFunc(3*time.Second, record("c"))
	c.AfterFunc(time.Second, record("a"))
	stopped := c.AfterFunc(2*time.Second, record("never"))
	c.AfterFunc(2*time.Second, func() {
		record("b")()
		c.AfterFunc(500*time.Millisecond, record("b2")) // due within the same Advance
	})
	if !stopped.Stop() || stopped.Stop() {
		t.Fatal("Stop: want true then false")
	}
	c.Advance(2500 * time.Millisecond)
	if want := []string{"a", "b", "b2"}; !slices.Equal(got, want) {
		t.Fatalf("ran %v, want %v", got, want)
	}
	if want := []time.Duration{time.Second, 2 * time.Second, 2500 * time.Millisecond}; !slices.Equal(at, want) {
		t.Fatalf("ran at %v, want %v", at, want)
	}
	if c.Pending() != 1 || !c.Now().Equal(start.Add(2500*time.Millisecond)) {
		t.Fatalf("pending %d, now %v", c.Pending(), c.Now())
	}
	c.Advance(time.Second)
	if got[len(got)-1] != "c" || c.Pending() != 0 {
		t.Fatalf("ran %v", got)
	}
}
