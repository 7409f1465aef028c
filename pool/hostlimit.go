package pool

import (
	"net/netip"
	"sync"
	"sync/atomic"
)

// HostLimit caps the open upstream connections per address across all event
// loops (DESIGN.md, Pool: over the cap the request gets 503).
//
// Safe for concurrent use. The counters of addresses are created once, under
// mu, and then only touched with atomics; an address's counter is never freed,
// which bounds the map by the number of distinct upstream addresses dialed
// (itself bounded by the resolver's max_hosts times its addresses per host).
type HostLimit struct {
	// Max is the cap per address; 0 means no cap. Set once before use.
	Max int64

	counters sync.Map // netip.AddrPort -> *atomic.Int64
}

func (h *HostLimit) counter(addr netip.AddrPort) *atomic.Int64 {
	if v, ok := h.counters.Load(addr); ok {
		return v.(*atomic.Int64)
	}
	v, _ := h.counters.LoadOrStore(addr, new(atomic.Int64))
	return v.(*atomic.Int64)
}

// Acquire counts one more open connection to addr. It reports false, counting
// nothing, when addr is at the cap.
func (h *HostLimit) Acquire(addr netip.AddrPort) bool {
	c := h.counter(addr)
	for {
		n := c.Load()
		if h.Max > 0 && n >= h.Max {
			return false
		}
		if c.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// Release counts one connection to addr closed. Every successful Acquire is
// matched by exactly one Release.
func (h *HostLimit) Release(addr netip.AddrPort) {
	if h.counter(addr).Add(-1) < 0 {
		panic("BUG: pool: HostLimit.Release without Acquire")
	}
}

// Open reports the connections to addr counted now.
func (h *HostLimit) Open(addr netip.AddrPort) int64 {
	return h.counter(addr).Load()
}
