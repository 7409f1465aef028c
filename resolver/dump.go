package resolver

import (
	"net/netip"
	"slices"
	"strings"
	"time"
)

// HostState is the state of a cached host, as Dump reports it.
type HostState string

// The states of a cached host.
const (
	StateResolving  HostState = "resolving"  // first resolution running
	StateValid      HostState = "valid"      // good answer, not expired
	StateRefreshing HostState = "refreshing" // good answer, refresh running
	StateStale      HostState = "stale"      // last good answer kept after a failed refresh, or loaded from CacheFile
	StateExpired    HostState = "expired"    // good answer expired, host not in use: next use resolves
	StateFailed     HostState = "failed"     // error negatively cached (or its backoff over)
)

// HostInfo describes one cached host, for /debug/dns.
type HostInfo struct {
	Host     string        `json:"host"`
	State    HostState     `json:"state"`
	Addrs    []netip.Addr  `json:"addrs,omitempty"`
	Error    string        `json:"error,omitempty"`
	TTL      time.Duration `json:"ttl_ns"`      // of the current answer
	TTLLeft  time.Duration `json:"ttl_left_ns"` // until Expires; negative once expired
	Resolved time.Time     `json:"resolved"`
	Expires  time.Time     `json:"expires"`
	LastUsed time.Time     `json:"last_used"` // to the janitor's tick
	Pinned   bool          `json:"pinned,omitempty"`
	Waiters  int           `json:"waiters,omitempty"`
	Failures int           `json:"failures,omitempty"` // consecutive failed resolutions
}

// Dump returns a snapshot of the cache sorted by host. It locks each entry
// briefly, so it is for debugging, not for a hot path.
func (r *Resolver) Dump() []HostInfo {
	now := r.clock.Now()
	var out []HostInfo
	for i := range r.shards {
		for e := range r.shards[i].t.Load().all() {
			e.mu.Lock()
			a := e.answer.Load()
			hi := HostInfo{
				Host:     e.host,
				LastUsed: time.Unix(0, e.lastUsed.Load()).In(now.Location()),
				Pinned:   e.pinned.Load(),
				Waiters:  len(e.waiters),
				Failures: e.failures,
			}
			inflight := e.inflight.Load()
			e.mu.Unlock()
			switch {
			case a == nil:
				hi.State = StateResolving
			case a.Err != nil:
				hi.State = StateFailed
			case inflight:
				hi.State = StateRefreshing
			case a.Stale:
				hi.State = StateStale
			case now.Before(a.Expires):
				hi.State = StateValid
			default:
				hi.State = StateExpired
			}
			if a != nil {
				hi.Addrs = a.Addrs
				if a.Err != nil {
					hi.Error = a.Err.Error()
				}
				hi.TTL, hi.TTLLeft = a.TTL, a.Expires.Sub(now)
				hi.Resolved, hi.Expires = a.Resolved, a.Expires
			}
			out = append(out, hi)
		}
	}
	slices.SortFunc(out, func(a, b HostInfo) int { return strings.Compare(a.Host, b.Host) })
	return out
}
