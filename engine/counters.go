package engine

// Counters are the engine's own counters (atomics), for metrics.
type Counters struct {
	PoolHits, PoolMisses, Dials, DialErrors int64
	TunnelsStarted, TunnelsActive           int64
	StreamsStarted                          int64
	// AcceptErrors counts failed accept(2) calls (EMFILE and the like),
	// each followed by a back-off; ConnsRefused, clients answered 503
	// because the connection cap or the fd budget was full.
	AcceptErrors, ConnsRefused int64
	// TLSHandshakes counts TLS origination's completed handshakes (full or
	// resumed), TLSErrors the failed ones (each answered 502 or 504).
	TLSHandshakes, TLSErrors int64
	// FDsUsed is the descriptors counted in the budget now, FDsBudget the
	// budget, FDsRefused how often it refused one (FDs).
	FDsUsed, FDsBudget, FDsRefused int64
}
