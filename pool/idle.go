package pool

import (
	"net/netip"
	"time"
)

// Defaults for Idle.
const (
	// DefaultMaxIdlePerHost is how many idle connections one Key (an
	// address, plain or TLS for one server name) keeps.
	DefaultMaxIdlePerHost = 1024
	// DefaultIdleTimeout is how long an idle connection is kept (DESIGN.md:
	// upstream idle in pool 30 s).
	DefaultIdleTimeout = 30 * time.Second
)

// Key says which idle connections may serve a request: those to the same
// address that speak the same protocol to it. A TLS connection (TLS
// origination) is verified for one server name and may carry only requests
// for that name; a plain one has none. So a plain connection and a TLS one
// to the same address never share a key, nor do two TLS connections
// verified for different names.
type Key struct {
	Addr netip.AddrPort
	// ServerName is "" for a plain connection; for a TLS one, the name its
	// certificate was verified for (a DNS name, or an IP literal).
	ServerName string
}

// Idle is a pool of idle connections of type T keyed by upstream address
// and protocol (Key), most recently used first.
//
// Owned by one event loop: no method may be called from any other goroutine.
// Put never closes anything; the caller closes what Put refuses and what
// Expire returns.
type Idle[T comparable] struct {
	// Set once before use.
	MaxPerHost int           // per Key; 0 means DefaultMaxIdlePerHost
	Timeout    time.Duration // 0 means DefaultIdleTimeout

	// Owned by the loop.
	hosts map[Key]*stack[T]
	count int
}

type idleConn[T comparable] struct {
	c     T
	since time.Time
}

// stack holds one key's idle connections, the most recent last.
type stack[T comparable] struct {
	conns []idleConn[T]
}

func (p *Idle[T]) maxPerHost() int {
	if p.MaxPerHost > 0 {
		return p.MaxPerHost
	}
	return DefaultMaxIdlePerHost
}

func (p *Idle[T]) timeout() time.Duration {
	if p.Timeout > 0 {
		return p.Timeout
	}
	return DefaultIdleTimeout
}

// Has reports whether key has an idle connection (perhaps one Get will find
// too old).
func (p *Idle[T]) Has(key Key) bool {
	s := p.hosts[key]
	return s != nil && len(s.conns) > 0
}

// Len reports how many idle connections the pool holds.
func (p *Idle[T]) Len() int { return p.count }

// Get removes and returns the most recently used idle connection for key
// that has not outlived the idle timeout at now. Connections found too old
// are appended to expired for the caller to close. ok is false when none is
// left.
func (p *Idle[T]) Get(key Key, now time.Time, expired []T) (c T, ok bool, exp []T) {
	exp = expired
	s := p.hosts[key]
	if s == nil {
		return c, false, exp
	}
	limit := now.Add(-p.timeout())
	for n := len(s.conns); n > 0; n = len(s.conns) {
		ic := s.conns[n-1]
		s.conns[n-1] = idleConn[T]{}
		s.conns = s.conns[:n-1]
		p.count--
		if ic.since.Before(limit) {
			exp = append(exp, ic.c)
			continue
		}
		return ic.c, true, exp
	}
	return c, false, exp
}

// TryPut offers c, an idle connection for key, to the pool. It reports
// false, leaving c to the caller to close, when key already has MaxPerHost
// idle.
func (p *Idle[T]) TryPut(key Key, c T, now time.Time) bool {
	if p.hosts == nil {
		p.hosts = make(map[Key]*stack[T])
	}
	s := p.hosts[key]
	if s == nil {
		s = &stack[T]{}
		p.hosts[key] = s
	}
	if len(s.conns) >= p.maxPerHost() {
		return false
	}
	s.conns = append(s.conns, idleConn[T]{c: c, since: now})
	p.count++
	return true
}

// Remove takes c out of the pool (it became readable or closed while idle).
// It reports whether c was there.
func (p *Idle[T]) Remove(key Key, c T) bool {
	s := p.hosts[key]
	if s == nil {
		return false
	}
	for i := range s.conns {
		if s.conns[i].c == c {
			copy(s.conns[i:], s.conns[i+1:])
			s.conns[len(s.conns)-1] = idleConn[T]{}
			s.conns = s.conns[:len(s.conns)-1]
			p.count--
			return true
		}
	}
	return false
}

// TakeOldest removes and returns the connection idle the longest among those
// to addr, of any Key. ok is false when the pool has none.
func (p *Idle[T]) TakeOldest(addr netip.AddrPort) (c T, ok bool) {
	var from *stack[T]
	var since time.Time
	for key, s := range p.hosts {
		if key.Addr == addr && len(s.conns) > 0 && (from == nil || s.conns[0].since.Before(since)) {
			from, since = s, s.conns[0].since
		}
	}
	if from == nil {
		return c, false
	}
	c = from.conns[0].c
	n := copy(from.conns, from.conns[1:])
	from.conns[n] = idleConn[T]{}
	from.conns = from.conns[:n]
	p.count--
	return c, true
}

// Expire removes every connection idle longer than the timeout at now and
// appends it to dst for the caller to close. Addresses left with no idle
// connection are forgotten, so the map does not grow with every host ever used.
func (p *Idle[T]) Expire(now time.Time, dst []T) []T {
	limit := now.Add(-p.timeout())
	for key, s := range p.hosts {
		// Oldest first: the stack is ordered by the time of Put.
		n := 0
		for n < len(s.conns) && s.conns[n].since.Before(limit) {
			dst = append(dst, s.conns[n].c)
			n++
		}
		if n > 0 {
			rest := copy(s.conns, s.conns[n:])
			clear(s.conns[rest:])
			s.conns = s.conns[:rest]
			p.count -= n
		}
		if len(s.conns) == 0 {
			delete(p.hosts, key)
		}
	}
	return dst
}

// Drain removes every idle connection and appends it to dst.
func (p *Idle[T]) Drain(dst []T) []T {
	for key, s := range p.hosts {
		for _, ic := range s.conns {
			dst = append(dst, ic.c)
		}
		delete(p.hosts, key)
	}
	p.count = 0
	return dst
}
