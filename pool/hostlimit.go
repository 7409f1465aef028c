package pool

import (
	"hash/maphash"
	"net/netip"
	"sync"
)

// HostLimit caps the open upstream connections per address across all event
// loops (DESIGN.md, Pool: over the cap the request gets 503).
//
// Safe for concurrent use. Counts live in shards, each a map guarded by its
// own mutex; an address whose count drops to zero is forgotten, so the maps
// hold only the addresses with open connections, not every address ever
// dialed. Acquire and Release run once per dial and per close, not per
// request, so a short critical section is cheap enough.
type HostLimit struct {
	// Max is the cap per address; 0 means no cap. Set once before use.
	Max int64

	once   sync.Once
	seed   maphash.Seed
	shards [hostShards]hostShard
}

const hostShards = 32

type hostShard struct {
	mu     sync.Mutex
	counts map[netip.AddrPort]int64 // guarded by mu; no zero values
	_      [40]byte                 // keeps neighbouring shards' locks off one cache line
}

func (h *HostLimit) shard(addr netip.AddrPort) *hostShard {
	h.once.Do(func() { h.seed = maphash.MakeSeed() })
	b := addr.Addr().As16()
	var m maphash.Hash
	m.SetSeed(h.seed)
	m.Write(b[:])
	p := addr.Port()
	m.WriteByte(byte(p))
	m.WriteByte(byte(p >> 8))
	return &h.shards[m.Sum64()%hostShards]
}

// Acquire counts one more open connection to addr. It reports false, counting
// nothing, when addr is at the cap.
func (h *HostLimit) Acquire(addr netip.AddrPort) bool {
	s := h.shard(addr)
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.counts[addr]
	if h.Max > 0 && n >= h.Max {
		return false
	}
	if s.counts == nil {
		s.counts = make(map[netip.AddrPort]int64)
	}
	s.counts[addr] = n + 1
	return true
}

// Release counts one connection to addr closed. Every successful Acquire is
// matched by exactly one Release.
func (h *HostLimit) Release(addr netip.AddrPort) {
	s := h.shard(addr)
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.counts[addr] - 1
	switch {
	case n < 0:
		panic("BUG: pool: HostLimit.Release without Acquire")
	case n == 0:
		delete(s.counts, addr)
	default:
		s.counts[addr] = n
	}
}

// Open reports the connections to addr counted now.
func (h *HostLimit) Open(addr netip.AddrPort) int64 {
	s := h.shard(addr)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[addr]
}

// Addrs reports how many addresses have connections counted now.
func (h *HostLimit) Addrs() int {
	n := 0
	for i := range h.shards {
		s := &h.shards[i]
		s.mu.Lock()
		n += len(s.counts)
		s.mu.Unlock()
	}
	return n
}
