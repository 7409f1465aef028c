package resolver

import "sync/atomic"

// Stats are the resolver's counters, named after Envoy's dns_cache.<name>.*
// statistics (the Envoy name is given for each). Counters only grow.
type Stats struct {
	// QueryAttempt counts resolutions started (dns_query_attempt). One
	// resolution of a host covers every query it needs: record types,
	// search-list names, attempts and servers.
	QueryAttempt uint64
	// QuerySuccess counts resolutions that produced addresses
	// (dns_query_success).
	QuerySuccess uint64
	// QueryFailure counts resolutions that failed, timeouts included
	// (dns_query_failure); QueryAttempt = QuerySuccess + QueryFailure once
	// nothing is running. Failed refreshes count here too.
	QueryFailure uint64
	// QueryTimeout counts the failed resolutions that timed out
	// (dns_query_timeout).
	QueryTimeout uint64
	// HostAdded and HostRemoved count hosts added to and evicted from the
	// cache (host_added, host_removed).
	HostAdded, HostRemoved uint64
	// HostAddressChanged counts refreshes whose address set differed from
	// the previous good answer (host_address_changed).
	HostAddressChanged uint64
	// HostOverflow counts new hosts refused with ErrCacheOverflow
	// (host_overflow).
	HostOverflow uint64
	// NegativeEvicted counts negatively cached hosts evicted before they
	// were idle for HostTTL, to make room for a new host at MaxHosts or to
	// stay within MaxNegativeHosts, and failed resolutions not cached for
	// MaxNegativeHosts (sluice's own; no Envoy counterpart). They count in
	// HostRemoved too.
	NegativeEvicted uint64
	// PendingOverflow counts Resolve calls refused with ErrPendingOverflow
	// (dns_rq_pending_overflow).
	PendingOverflow uint64
	// NumHosts is the number of hosts cached now (num_hosts, a gauge).
	NumHosts int64
	// NumNegative is the number of those whose answer is a cached error,
	// Preresolve hosts excepted (a gauge, at most MaxNegativeHosts).
	NumNegative int64
	// Pending is the number of Resolve callbacks waiting now (a gauge).
	Pending int64
	// CacheFileLoaded counts the hosts loaded from Config.CacheFile at
	// Start (sluice's own, as are the two below). They count in HostAdded
	// too.
	CacheFileLoaded uint64
	// CacheFileWrites counts successful writes of Config.CacheFile.
	CacheFileWrites uint64
	// CacheFileErrors counts failed writes of Config.CacheFile, and a
	// file found at Start but ignored (unreadable, corrupt, another
	// version); a missing file and skipped entries do not count.
	CacheFileErrors uint64
}

// counters are the atomics behind Stats; each is written by whichever
// goroutine sees the event.
type counters struct {
	queryAttempt, querySuccess, queryFailure, queryTimeout atomic.Uint64
	hostAdded, hostRemoved, hostAddressChanged             atomic.Uint64
	hostOverflow, pendingOverflow, negativeEvicted         atomic.Uint64
	cacheFileLoaded, cacheFileWrites, cacheFileErrors      atomic.Uint64
}

// Stats returns a snapshot of the counters. Each value is read atomically;
// the set is not one consistent instant.
func (r *Resolver) Stats() Stats {
	c := &r.stats
	return Stats{
		QueryAttempt:       c.queryAttempt.Load(),
		QuerySuccess:       c.querySuccess.Load(),
		QueryFailure:       c.queryFailure.Load(),
		QueryTimeout:       c.queryTimeout.Load(),
		HostAdded:          c.hostAdded.Load(),
		HostRemoved:        c.hostRemoved.Load(),
		HostAddressChanged: c.hostAddressChanged.Load(),
		HostOverflow:       c.hostOverflow.Load(),
		PendingOverflow:    c.pendingOverflow.Load(),
		NegativeEvicted:    c.negativeEvicted.Load(),
		NumHosts:           r.numHosts.Load(),
		NumNegative:        r.numNegative.Load(),
		Pending:            r.pending.Load(),
		CacheFileLoaded:    c.cacheFileLoaded.Load(),
		CacheFileWrites:    c.cacheFileWrites.Load(),
		CacheFileErrors:    c.cacheFileErrors.Load(),
	}
}
