package pool

import (
	"net/netip"
	"sync"
	"testing"
	"time"
)

var (
	addrA = netip.MustParseAddrPort("127.0.0.1:80")
	addrB = netip.MustParseAddrPort("[::1]:80")
	keyA  = Key{Addr: addrA}
	keyB  = Key{Addr: addrB}
)

func TestIdleMostRecentFirst(t *testing.T) {
	var p Idle[int]
	now := time.Unix(1000, 0)
	for i := 1; i <= 3; i++ {
		if !p.TryPut(keyA, i, now) {
			t.Fatalf("TryPut(%d) refused", i)
		}
	}
	if c, ok, _ := p.Get(keyA, now, nil); !ok || c != 3 {
		t.Fatalf("Get = %d, %v; want 3 (most recent)", c, ok)
	}
	if _, ok, _ := p.Get(keyB, now, nil); ok {
		t.Fatal("Get of another address found a connection")
	}
	if p.Len() != 2 {
		t.Fatalf("Len = %d, want 2", p.Len())
	}
}

func TestIdleMaxPerHost(t *testing.T) {
	p := Idle[int]{MaxPerHost: 2}
	now := time.Unix(1000, 0)
	p.TryPut(keyA, 1, now)
	p.TryPut(keyA, 2, now)
	if p.TryPut(keyA, 3, now) {
		t.Fatal("TryPut beyond MaxPerHost accepted")
	}
	if !p.TryPut(keyB, 3, now) {
		t.Fatal("TryPut for another address refused")
	}
}

func TestIdleTimeout(t *testing.T) {
	p := Idle[int]{Timeout: 10 * time.Second}
	t0 := time.Unix(1000, 0)
	p.TryPut(keyA, 1, t0)
	p.TryPut(keyA, 2, t0.Add(8*time.Second))
	c, ok, exp := p.Get(keyA, t0.Add(12*time.Second), nil)
	if !ok || c != 2 || len(exp) != 0 {
		t.Fatalf("Get = %d %v %v; want 2 true []", c, ok, exp)
	}
	c, ok, exp = p.Get(keyA, t0.Add(12*time.Second), nil)
	if ok || len(exp) != 1 || exp[0] != 1 {
		t.Fatalf("Get = %d %v %v; want expired [1]", c, ok, exp)
	}
	p.TryPut(keyA, 3, t0)
	p.TryPut(keyB, 4, t0.Add(5*time.Second))
	exp = p.Expire(t0.Add(11*time.Second), nil)
	if len(exp) != 1 || exp[0] != 3 || p.Len() != 1 {
		t.Fatalf("Expire = %v (Len %d); want [3] and 1 left", exp, p.Len())
	}
	if len(p.hosts) != 1 {
		t.Fatalf("empty address kept: %d hosts", len(p.hosts))
	}
}

func TestIdleRemoveAndDrain(t *testing.T) {
	var p Idle[int]
	now := time.Unix(1000, 0)
	p.TryPut(keyA, 1, now)
	p.TryPut(keyA, 2, now)
	p.TryPut(keyB, 3, now)
	if !p.Remove(keyA, 1) || p.Remove(keyA, 1) {
		t.Fatal("Remove should succeed once")
	}
	if got := p.Drain(nil); len(got) != 2 || p.Len() != 0 {
		t.Fatalf("Drain = %v, Len %d", got, p.Len())
	}
}

func TestIdleGetAllocs(t *testing.T) {
	var p Idle[int]
	now := time.Unix(1000, 0)
	p.TryPut(keyA, 1, now)
	allocs := testing.AllocsPerRun(1000, func() {
		c, _, _ := p.Get(keyA, now, nil)
		p.TryPut(keyA, c, now)
	})
	if allocs != 0 {
		t.Fatalf("Get+TryPut allocates %v per run", allocs)
	}
}

// TestIdleKeys: a plain and a TLS connection to one address, and TLS
// connections verified for different names, never stand in for each other.
func TestIdleKeys(t *testing.T) {
	var p Idle[string]
	now := time.Unix(1000, 0)
	tlsA := Key{Addr: addrA, ServerName: "a.test"}
	tlsOther := Key{Addr: addrA, ServerName: "other.test"}
	p.TryPut(keyA, "plain", now)
	p.TryPut(tlsA, "tls a", now)
	if c, ok, _ := p.Get(tlsOther, now, nil); ok {
		t.Fatalf("TLS key for another name got %q", c)
	}
	if c, ok, _ := p.Get(tlsA, now, nil); !ok || c != "tls a" {
		t.Fatalf("TLS key got %q %v", c, ok)
	}
	if c, ok, _ := p.Get(tlsA, now, nil); ok {
		t.Fatalf("TLS key got %q, the plain connection", c)
	}
	if c, ok, _ := p.Get(keyA, now, nil); !ok || c != "plain" {
		t.Fatalf("plain key got %q %v", c, ok)
	}
}

// TestIdleTakeOldest: the oldest idle connection to an address, of any key,
// is taken; other addresses are left alone.
func TestIdleTakeOldest(t *testing.T) {
	var p Idle[string]
	t0 := time.Unix(1000, 0)
	p.TryPut(keyA, "plain old", t0.Add(1*time.Second))
	p.TryPut(Key{Addr: addrA, ServerName: "a.test"}, "tls oldest", t0)
	p.TryPut(keyA, "plain new", t0.Add(3*time.Second))
	p.TryPut(keyB, "other address", t0.Add(-time.Second))
	for _, want := range []string{"tls oldest", "plain old", "plain new"} {
		if c, ok := p.TakeOldest(addrA); !ok || c != want {
			t.Fatalf("TakeOldest = %q %v, want %q", c, ok, want)
		}
	}
	if c, ok := p.TakeOldest(addrA); ok {
		t.Fatalf("TakeOldest of an emptied address = %q", c)
	}
	if p.Len() != 1 {
		t.Fatalf("Len = %d, want 1 (the other address's)", p.Len())
	}
	if c, ok, _ := p.Get(keyB, t0, nil); !ok || c != "other address" {
		t.Fatalf("the other address's connection: %q %v", c, ok)
	}
}

// TestIdleGetTLSAllocs: a TLS key (its name a string the caller keeps)
// costs no allocation either.
func TestIdleGetTLSAllocs(t *testing.T) {
	var p Idle[int]
	now := time.Unix(1000, 0)
	k := Key{Addr: addrA, ServerName: "origin.test"}
	p.TryPut(k, 1, now)
	allocs := testing.AllocsPerRun(1000, func() {
		c, _, _ := p.Get(k, now, nil)
		p.TryPut(k, c, now)
	})
	if allocs != 0 {
		t.Fatalf("Get+TryPut allocates %v per run", allocs)
	}
}

func TestHostLimit(t *testing.T) {
	h := HostLimit{Max: 100}
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := 0
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if h.Acquire(addrA) {
				mu.Lock()
				got++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if got != 100 || h.Open(addrA) != 100 {
		t.Fatalf("acquired %d (open %d), want 100", got, h.Open(addrA))
	}
	h.Release(addrA)
	if !h.Acquire(addrA) {
		t.Fatal("Acquire after Release refused")
	}
	if !(&HostLimit{}).Acquire(addrB) {
		t.Fatal("zero Max should not cap")
	}
}

// TestHostLimitForgets: the counts hold only addresses with connections
// open, not every address ever dialed.
func TestHostLimitForgets(t *testing.T) {
	var h HostLimit
	for i := 0; i < 1000; i++ {
		a := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), 80)
		h.Acquire(a)
		h.Release(a)
	}
	if n := h.Addrs(); n != 0 {
		t.Fatalf("%d addresses remembered after every connection closed", n)
	}
	h.Acquire(addrA)
	if n := h.Addrs(); n != 1 {
		t.Fatalf("%d addresses, want 1", n)
	}
}
