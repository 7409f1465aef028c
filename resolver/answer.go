package resolver

import (
	"math"
	"net/netip"
	"time"
)

// Answer is the resolution result of one host. Once published (returned by
// Lookup or given to a callback) it is never modified: a refresh publishes a
// new Answer, so a caller may keep and read one without synchronisation.
// Callers must not modify Addrs.
type Answer struct {
	// Times in Unix nanoseconds of the resolver's clock, compared with the
	// coarse clock by Lookup and the janitor; expires first, for the hit.
	expires    int64 // Expires; math.MaxInt64 for a literal
	refreshAt  int64 // when a host in use is refreshed
	staleUntil int64 // last moment Addrs may still be served stale; 0 never
	// goodTTL is the TTL of the resolution that produced Addrs (TTL of a
	// stale answer is its backoff), saved with it in Config.CacheFile.
	goodTTL time.Duration

	// Addrs are the addresses to try, in order, filtered and ordered per
	// Config.Family. Non-empty when Err is nil.
	Addrs []netip.Addr

	// Err is non-nil for a negatively cached host: the failure (wrapping
	// ErrNotFound, ErrTimeout or ErrServerFailure) is served until Expires,
	// then the next Resolve queries again.
	Err error

	// TTL is how long this answer is valid from when it was published: the
	// clamped record TTL; for an error, the backoff; for a stale answer,
	// the backoff but at least MinTTL; for one loaded from
	// Config.CacheFile, the time left until its serve-stale limit.
	TTL time.Duration

	// Resolved is when the resolution that produced Addrs (or Err) ended.
	// A stale answer keeps the time of its last successful resolution,
	// also when that was made by an earlier process (Config.CacheFile).
	Resolved time.Time

	// Expires is when the answer stops being served (zero for an IP
	// literal, which never expires). A host in use is refreshed before it.
	Expires time.Time

	// Stale marks addresses kept from an earlier resolution because the
	// latest refresh failed (RFC 8767 serve-stale), until Expires, when
	// the refresh is tried again; or loaded from Config.CacheFile at Start
	// and not refreshed yet (the first use refreshes it).
	Stale bool
}

// literalAnswer is the answer for an IP literal host, in one allocation.
// Literals are not cached: they are rare in proxied traffic and would crowd
// MaxHosts.
func literalAnswer(a netip.Addr) *Answer {
	box := &struct {
		ans   Answer
		addrs [1]netip.Addr
	}{}
	box.addrs[0] = a
	box.ans.Addrs, box.ans.expires = box.addrs[:], math.MaxInt64
	return &box.ans
}

// refreshLead is how long before expiry an answer with the given TTL is
// refreshed: a fifth of the TTL (so at 80% of it), but at least two janitor
// ticks so the refresh starts in time, and at most half the TTL.
func refreshLead(ttl time.Duration) time.Duration {
	lead := max(ttl/5, 2*tickInterval)
	return min(lead, ttl/2)
}

// newPositive builds the answer for a successful resolution at now.
func (r *Resolver) newPositive(addrs []netip.Addr, ttl time.Duration, now time.Time) *Answer {
	ttl = min(max(ttl, r.cfg.MinTTL), r.cfg.MaxTTL)
	exp := now.Add(ttl)
	a := &Answer{
		Addrs:     addrs,
		TTL:       ttl,
		Resolved:  now,
		Expires:   exp,
		expires:   exp.UnixNano(),
		refreshAt: exp.Add(-refreshLead(ttl)).UnixNano(),
		goodTTL:   ttl,
	}
	if r.cfg.MaxStale > 0 {
		a.staleUntil = exp.Add(r.cfg.MaxStale).UnixNano()
	}
	return a
}

// newStale builds the answer that keeps old's addresses after a refresh
// failed at now, for backoff (but not past old's stale limit).
func newStale(old *Answer, backoff time.Duration, now time.Time) *Answer {
	exp := now.Add(backoff)
	if exp.UnixNano() > old.staleUntil {
		exp = time.Unix(0, old.staleUntil)
	}
	ttl := exp.Sub(now)
	return &Answer{
		Addrs:      old.Addrs,
		TTL:        ttl,
		Resolved:   old.Resolved,
		Expires:    exp,
		Stale:      true,
		expires:    exp.UnixNano(),
		refreshAt:  exp.Add(-refreshLead(ttl)).UnixNano(),
		staleUntil: old.staleUntil,
		goodTTL:    old.goodTTL,
	}
}

// newNegative builds the answer caching err for backoff.
func newNegative(err error, backoff time.Duration, now time.Time) *Answer {
	exp := now.Add(backoff)
	return &Answer{
		Err:       err,
		TTL:       backoff,
		Resolved:  now,
		Expires:   exp,
		expires:   exp.UnixNano(),
		refreshAt: exp.UnixNano(),
	}
}

// sameAddrSet reports whether a and b hold the same addresses, in any order
// (a server rotating its records is not an address change).
func sameAddrSet(a, b []netip.Addr) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !containsAddr(b, x) {
			return false
		}
	}
	return true
}
