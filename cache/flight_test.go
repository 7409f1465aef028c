package cache

import (
	"fmt"
	"testing"
	"time"
)

type wakes []uint32

func (w *wakes) CacheWake(gen uint32) { *w = append(*w, gen) }

func TestFlights(t *testing.T) {
	f := NewFlights()
	now := time.Unix(1000, 0)
	var w wakes
	k := []byte("GET http://a.test:80/x")
	if r := f.Join(k, now, &w, 1); r != Lead {
		t.Fatalf("first miss: %v", r)
	}
	if f.Join(k, now, &w, 2) != Wait || f.Join(k, now, &w, 3) != Wait {
		t.Fatal("later misses do not wait")
	}
	if f.Join([]byte("GET http://a.test:80/y"), now, &w, 9) != Lead {
		t.Fatal("another key waits")
	}
	f.End(k, now, Stored)
	if fmt.Sprint(w) != "[2 3]" {
		t.Fatalf("woken %v", w)
	}
	f.End(k, now, Stored) // a second End is ignored
	if fmt.Sprint(w) != "[2 3]" {
		t.Fatalf("woken again %v", w)
	}
	// Not storable: waiters released, the key passes until PassFor.
	w = nil
	f.Join(k, now, &w, 4)
	f.Join(k, now, &w, 5)
	f.End(k, now, NotStored)
	if fmt.Sprint(w) != "[5]" {
		t.Fatalf("woken %v", w)
	}
	if r := f.Join(k, now.Add(PassFor-time.Second), &w, 6); r != Pass {
		t.Fatalf("within PassFor: %v", r)
	}
	f.End(k, now, Stored) // the mark is not a flight: ignored
	if r := f.Join(k, now.Add(PassFor), &w, 7); r != Lead {
		t.Fatalf("after PassFor: %v", r)
	}
	f.End(k, now, Failed)
	st := f.Stats()
	if st.Led != 4 || st.Waited != 3 || st.Passed != 1 || st.InFlight != 1 || st.Passing != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestFlightsMarksBounded: hit-for-miss marks of many keys do not grow
// without bound.
func TestFlightsMarksBounded(t *testing.T) {
	f := NewFlights()
	now := time.Unix(1000, 0)
	for i := range 64 * maxPassMarks * 2 {
		k := []byte(fmt.Sprint("k", i))
		f.Join(k, now, nil, 0)
		f.End(k, now, NotStored)
	}
	if st := f.Stats(); st.Passing > 64*maxPassMarks || st.InFlight != 0 {
		t.Fatalf("stats %+v", st)
	}
}
