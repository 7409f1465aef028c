package main

import (
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/sluiceproxy/sluice/policy"
)

// rateStore keeps the store of the shared rate limits
// (policy.rate_limits.store) across reloads: a reload that names the same
// store (URL and store_timeout) keeps it, its connection and its state; one
// that names another starts that one, and stops the old once the new policy
// is in force; one that names none stops it.
//
// Owned by run, then by the reloader (under its mu); inForce is atomic, for
// /metrics.
type rateStore struct {
	log *slog.Logger // set once by run

	url     string // as configured: a new password is a new store
	timeout time.Duration
	store   *policy.RedisStore // nil: none

	inForce atomic.Pointer[policy.RedisStore]
}

// storeSwap is a store chosen by rateStore.compile for a policy not yet in
// force: commit when the policy is, abort if it never will be. Owned, like
// its rateStore, by run or the reloader under its mu.
type storeSwap struct {
	r       *rateStore
	url     string
	timeout time.Duration
	store   *policy.RedisStore
	started bool // by compile: abort stops it
}

// compile compiles cfg (validated) with the store it names, starting that
// store if it is not the one in force. Starting pings it, waiting at most
// its timeout; a store that does not answer starts down, and
// on_store_error decides until it does.
func (r *rateStore) compile(cfg policy.Config) (*policy.Policy, *storeSwap, error) {
	rl := cfg.RateLimits
	sw := &storeSwap{r: r, url: rl.Store, timeout: rl.StoreTimeout}
	switch {
	case rl.Store == "":
	case rl.Store == r.url && rl.StoreTimeout == r.timeout:
		sw.store = r.store
	default:
		st, err := policy.NewRedisStore(rl, r.log)
		if err != nil {
			return nil, nil, err
		}
		st.Start()
		sw.store, sw.started = st, true
	}
	pol, err := policy.CompileShared(cfg, sw.store)
	if err != nil {
		sw.abort()
		return nil, nil, err
	}
	return pol, sw, nil
}

// commit puts the swap's store in force, stopping the one it replaces.
func (sw *storeSwap) commit() {
	r := sw.r
	if old := r.store; old != nil && old != sw.store {
		old.Stop()
	}
	r.url, r.timeout, r.store = sw.url, sw.timeout, sw.store
	r.inForce.Store(sw.store)
}

// abort stops the swap's store if compile started it.
func (sw *storeSwap) abort() {
	if sw.started {
		sw.store.Stop()
	}
}

// stop stops the store in force, at exit.
func (r *rateStore) stop() {
	if r.store != nil {
		r.store.Stop()
	}
}

// stats is metrics.Sources.RateLimitStore.
func (r *rateStore) stats() (policy.StoreStats, bool) {
	st := r.inForce.Load()
	if st == nil {
		return policy.StoreStats{}, false
	}
	return st.Stats(), true
}
