package cache

import (
	"bytes"
	"testing"
)

// TestStoreHot: big entries are kept whole within the store's eighth,
// oldest out first; deletes, purges and replacements reach them; an entry
// decoded from one stays intact when its key is stored anew.
func TestStoreHot(t *testing.T) {
	s := NewStore(256<<20, 16<<20) // hot: an eighth, 32 MiB
	if s.hot.max != 32<<20 {
		t.Fatalf("hot set of %d bytes", s.hot.max)
	}
	big := func(c byte) *Entry { return testEntry(bytes.Repeat([]byte{c}, 10<<20-4096)) }
	var buf []byte
	for i, c := range []byte("abcd") { // 4 x 10 MiB: the first goes
		buf, _ = s.Put([]byte{'k', c}, big(c), buf)
		if n, _ := s.hot.stats(); n != min(i+1, 3) {
			t.Fatalf("after %d puts: %d hot", i+1, n)
		}
	}
	if _, ok := s.hot.get([]byte("ka")); ok {
		t.Fatal("the oldest is still hot")
	}
	var e Entry
	got, ok := s.Get(nil, []byte("kb"), &e)
	if !ok || len(got) != 0 || e.Body[0] != 'b' || len(e.Body) != 10<<20-4096 {
		t.Fatalf("hot get: ok %v, copied %d bytes", ok, len(got))
	}
	// A new value for kb: the entry decoded before is unchanged.
	s.Put([]byte("kb"), big('B'), nil)
	if e.Body[0] != 'b' || e.Body[len(e.Body)-1] != 'b' {
		t.Fatal("a decoded hot entry changed under its reader")
	}
	var e2 Entry
	if _, ok := s.Get(nil, []byte("kb"), &e2); !ok || e2.Body[0] != 'B' {
		t.Fatal("replaced value not served")
	}
	// A small value replaces a big one everywhere.
	s.Put([]byte("kc"), testEntry([]byte("small")), nil)
	if _, ok := s.hot.get([]byte("kc")); ok {
		t.Fatal("replaced by a small value, still hot")
	}
	if _, ok := s.Get(nil, []byte("kc"), &e); !ok || string(e.Body) != "small" {
		t.Fatalf("kc: %q", e.Body)
	}
	s.Delete([]byte("kd"))
	if _, ok := s.Get(nil, []byte("kd"), &e); ok {
		t.Fatal("deleted, still served")
	}
	// ka, evicted from the hot set, comes from fastcache and back in
	// while there is room.
	if _, ok := s.Get(nil, []byte("ka"), &e); !ok || e.Body[0] != 'a' {
		t.Fatal("ka lost")
	}
	if _, ok := s.hot.get([]byte("ka")); !ok {
		t.Fatal("ka not promoted though there is room")
	}
	s.Purge()
	if n, b := s.hot.stats(); n != 0 || b != 0 {
		t.Fatalf("after purge: %d hot, %d bytes", n, b)
	}
	// The smallest store has no hot set.
	if NewStore(32<<20, 1<<20).hot.max != 0 {
		t.Fatal("a 32 MiB store has a hot set")
	}
}
