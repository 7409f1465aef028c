package engine

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluiceproxy/sluice/pool"
)

// Spreading new upstream connections over every address of a destination
// (issue 22; Envoy's dynamic forward proxy pins one address per name,
// envoy#42084). A pooled connection to any of the addresses is reused
// first; otherwise the address with the fewest open connections (all loops,
// pool.HostLimit) wins, IPv6 before IPv4 (the session races an IPv4 address
// beside an IPv6 one: race.go), ties broken in turn; an address that failed
// to connect, or lost a race to IPv4, is avoided for a backoff that doubles
// with each failure in a row (addrBackoffBase up to addrBackoffMax) and ends
// with its next success.

// Backoff of an address that failed to connect.
const (
	addrBackoffBase = 5 * time.Second
	addrBackoffMax  = time.Minute
)

// addrHealth remembers the addresses that failed to connect. Safe for
// concurrent use: mu guards m.
type addrHealth struct {
	mu sync.Mutex
	m  map[netip.AddrPort]addrFailure

	turn atomic.Uint64 // breaks ties between equally loaded addresses
}

// addrFailure is an address's failures in a row and until when it is
// avoided.
type addrFailure struct {
	n     int
	until time.Time
}

// failed records a failed connection to ap at now.
func (h *addrHealth) failed(ap netip.AddrPort, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.m == nil {
		h.m = make(map[netip.AddrPort]addrFailure)
	}
	f := h.m[ap]
	f.n++
	d := addrBackoffBase << min(f.n-1, 6)
	f.until = now.Add(min(d, addrBackoffMax))
	h.m[ap] = f
	if len(h.m) > 4096 {
		for k, v := range h.m { // bounded: drop the ones no longer avoided
			if !now.Before(v.until) {
				delete(h.m, k)
			}
		}
	}
}

// ok records a successful connection to ap: it is no longer avoided.
func (h *addrHealth) ok(ap netip.AddrPort) {
	h.mu.Lock()
	if h.m != nil {
		delete(h.m, ap)
	}
	h.mu.Unlock()
}

// avoided reports until when ap is avoided at now (zero: it is not).
func (h *addrHealth) avoided(ap netip.AddrPort, now time.Time) time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	if f, ok := h.m[ap]; ok && now.Before(f.until) {
		return f.until
	}
	return time.Time{}
}

// PickAddr implements Driver.
func (cc *clientConn) PickAddr(addrs []netip.Addr, port uint16, serverName string, fresh bool) int {
	l := cc.l
	srv := l.srv
	if !fresh {
		for i, a := range addrs {
			if l.idle.Has(pool.Key{Addr: netip.AddrPortFrom(a, port), ServerName: serverName}) {
				return i
			}
		}
	}
	now := l.now()
	n := len(addrs)
	start := int(srv.health.turn.Add(1) % uint64(n))
	soonest := -1
	var soonestUntil time.Time
	// IPv6 first (RFC 8305 §4; the session races an IPv4 address beside
	// it), then IPv4.
	for _, v6 := range [...]bool{true, false} {
		best := -1
		var bestOpen int64
		for k := range n {
			i := (start + k) % n
			if a := addrs[i]; (a.Is6() && !a.Is4In6()) != v6 {
				continue
			}
			ap := netip.AddrPortFrom(addrs[i], port)
			if until := srv.health.avoided(ap, now); !until.IsZero() {
				if soonest < 0 || until.Before(soonestUntil) {
					soonest, soonestUntil = i, until
				}
				continue
			}
			if open := srv.hostLimit.Open(ap); best < 0 || open < bestOpen {
				best, bestOpen = i, open
			}
		}
		if best >= 0 {
			return best
		}
	}
	return soonest // every address is avoided: the one that ends first
}
