package resolver

import (
	"fmt"
	"hash/maphash"
	"testing"
)

func TestTable(t *testing.T) {
	seed := maphash.MakeSeed()
	tb := emptyTable
	var entries []*entry
	for i := range 100 {
		e := &entry{host: fmt.Sprintf("h%d.test", i)}
		tb = tb.with(maphash.String(seed, e.host), e)
		entries = append(entries, e)
	}
	if tb.n != 100 || len(tb.slots) < 200 {
		t.Fatalf("n %d, %d slots", tb.n, len(tb.slots))
	}
	var drop []*entry
	for i, e := range entries {
		h := maphash.String(seed, e.host)
		if tb.get(h, e.host) != e || tb.getBytes(h, []byte(e.host)) != e {
			t.Fatalf("%s not found", e.host)
		}
		if i%3 == 0 {
			drop = append(drop, e)
		}
	}
	small := tb.without(drop)
	n := 0
	for e := range small.all() {
		n++
		if e == drop[0] {
			t.Fatal("dropped entry still there")
		}
	}
	if n != 100-len(drop) || small.n != n {
		t.Fatalf("%d entries after dropping %d of 100", n, len(drop))
	}
	for i, e := range entries {
		got := small.get(maphash.String(seed, e.host), e.host)
		if (i%3 == 0) != (got == nil) {
			t.Fatalf("%s: got %v after without", e.host, got)
		}
	}
	if tb.get(maphash.String(seed, "absent.test"), "absent.test") != nil ||
		emptyTable.get(maphash.String(seed, "x"), "x") != nil {
		t.Fatal("absent key found")
	}
	if tb.without(entries) != emptyTable {
		t.Fatal("dropping everything must give the empty table")
	}
}

// TestSystemClock runs a resolver on the real clock: the janitor ticks and
// moves the coarse clock, and Stop ends it.
func TestSystemClock(t *testing.T) {
	r, err := New(Config{ResolvConf: Disabled, HostsFile: Disabled})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	defer r.Stop()
	start := r.now.Load()
	waitFor(t, "a janitor tick", func() bool { return r.now.Load() != start })
}
