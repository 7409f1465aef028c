package resolver

import (
	"context"
	"errors"
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// Resolver is sluice's DNS cache and resolution queue; see the package
// documentation. Create it with New, call Start, and Stop when done. All
// methods are safe for concurrent use.
type Resolver struct {
	// Set once by New; read-only afterwards.
	cfg       Config
	clock     Clock
	client    *client
	seed      maphash.Seed
	shards    []shard
	shardMask uint64
	queue     chan *entry // hosts to resolve; capacity MaxHosts, see enqueue
	ctx       context.Context
	cancel    context.CancelFunc // cancels every running query, at Stop
	quit      chan struct{}      // closed by Stop: workers exit
	ready     chan struct{}      // closed when every Preresolve host has an answer

	_ [cacheLine]byte
	// now is the coarse clock read by Lookup: the janitor's last tick, in
	// UnixNano of Clock. Alone on its cache line: read on every hit,
	// written every tick.
	now atomic.Int64
	_   [cacheLine - 8]byte

	// Atomics, written on misses and by workers and the janitor.
	numHosts    atomic.Int64 // entries in all shards, <= MaxHosts
	numNegative atomic.Int64 // entries on neg, plus slots being handed over, <= MaxNegativeHosts
	pending     atomic.Int64 // callbacks waiting, <= MaxPending
	stats       counters
	started     atomic.Bool
	stopped     atomic.Bool

	// The negatively cached hosts (negative.go). Guarded by negMu, which
	// is taken after a shard's and an entry's mu.
	negMu sync.Mutex
	neg   negList

	lifeMu sync.Mutex     // serialises Start and Stop
	wg     sync.WaitGroup // workers

	// The janitor (janitor.go). Guarded by janitorMu.
	janitorMu      sync.Mutex
	janitorStopped bool
	timer          Timer
	tickWG         sync.WaitGroup // a tick callback armed or running
	scratch        []*entry       // eviction candidates, reused

	// The cache file writer (cachefile.go). Guarded by saveMu, which is
	// held while the file is written.
	saveMu      sync.Mutex
	saveStopped bool
	saveTimer   Timer
	saveFailing bool           // the last write failed (warned at the first)
	saveWG      sync.WaitGroup // a write callback armed or running
}

// New validates cfg, reads resolv.conf and the hosts file, and returns a
// Resolver that is not started yet. Its error is ConfigErrors (see
// Config.Validate), naming every bad field.
func New(cfg Config) (*Resolver, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	rc, err := loadResolvConf(cfg.ResolvConf)
	if err != nil {
		return nil, ConfigErrors{{Field: "resolver.resolv_conf", Reason: err.Error(), Kind: ErrInvalidConfig}}
	}
	if len(cfg.Nameservers) > 0 {
		rc.servers = cfg.Nameservers
	}
	if len(rc.servers) == 0 {
		rc.servers = defaultNameservers
	}
	c := &client{conf: rc, family: cfg.Family}
	if cfg.HostsFile != Disabled {
		c.hosts = newHostsFile(cfg.HostsFile)
	}
	r := &Resolver{
		cfg:    cfg,
		clock:  cfg.Clock,
		client: c,
		seed:   maphash.MakeSeed(),
		shards: newShards(cfg.MaxHosts),
		queue:  make(chan *entry, cfg.MaxHosts),
		quit:   make(chan struct{}),
		ready:  make(chan struct{}),
	}
	r.shardMask = uint64(len(r.shards) - 1)
	r.ctx, r.cancel = context.WithCancel(context.Background())
	r.now.Store(r.clock.Now().UnixNano())
	return r, nil
}

// Start loads Config.CacheFile if set (see there), starts the workers, the
// janitor and the periodic writes of the cache file, and starts the
// resolution of the Preresolve hosts (it does not wait for them: see
// Ready). It fails if the resolver was started or stopped before.
func (r *Resolver) Start() error {
	r.lifeMu.Lock()
	defer r.lifeMu.Unlock()
	if r.stopped.Load() {
		return ErrStopped
	}
	if r.started.Load() {
		return errors.New("resolver: already started")
	}
	r.started.Store(true)
	r.now.Store(r.clock.Now().UnixNano())
	if r.cfg.CacheFile != "" {
		r.loadCacheFile()
	}
	for range r.cfg.Workers {
		r.wg.Add(1)
		go r.work()
	}
	r.janitorMu.Lock()
	r.armLocked()
	r.janitorMu.Unlock()
	if r.cfg.CacheFile != "" {
		r.saveMu.Lock()
		r.armSaveLocked()
		r.saveMu.Unlock()
	}
	r.preresolve()
	return nil
}

// preresolve starts resolving the Preresolve hosts, pins them, and closes
// ready when each has an answer (or an error).
func (r *Resolver) preresolve() {
	var left atomic.Int64
	left.Store(int64(len(r.cfg.Preresolve)) + 1)
	done := func(*Answer, error) {
		if left.Add(-1) == 0 {
			close(r.ready)
		}
	}
	for _, h := range r.cfg.Preresolve {
		r.resolve(h, done, false, true)
		if e := r.get(r.hash(h), h); e != nil {
			r.pin(e) // a host cached before Start (or listed twice)
		}
	}
	done(nil, nil)
}

// Ready returns a channel closed once every Preresolve host has its first
// answer or error (at Start when there are none). Readiness probes use it.
func (r *Resolver) Ready() <-chan struct{} { return r.ready }

// Stop stops the janitor, the periodic writes of the cache file and the
// workers, cancels running queries, waits for all of them to exit, and then
// calls every callback still waiting with ErrStopped and, if the resolver
// was started, writes Config.CacheFile a last time. Resolve after Stop
// fails with ErrStopped; Lookup keeps serving what is cached. Stop is
// idempotent.
func (r *Resolver) Stop() {
	r.lifeMu.Lock()
	defer r.lifeMu.Unlock()
	if r.stopped.Load() {
		return
	}
	r.stopped.Store(true)
	r.cancel()
	r.janitorMu.Lock()
	r.janitorStopped = true
	if r.timer != nil && r.timer.Stop() {
		r.tickWG.Done() // the armed tick will never run
	}
	r.janitorMu.Unlock()
	r.tickWG.Wait()
	r.stopSaving()
	close(r.quit)
	r.wg.Wait()
	// No worker runs any more; fail what is still queued. Loading the map
	// under the shard's mutex pairs with insert's check of stopped.
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.Lock()
		t := sh.t.Load()
		sh.mu.Unlock()
		for e := range t.all() {
			e.mu.Lock()
			ws := e.waiters
			e.waiters = nil
			e.inflight.Store(false)
			e.mu.Unlock()
			r.deliver(ws, nil, ErrStopped)
		}
	}
	// Not without Start: the file, not loaded, would be replaced by an
	// empty one.
	if r.cfg.CacheFile != "" && r.started.Load() {
		r.saveMu.Lock()
		r.saveCacheFileLocked()
		r.saveMu.Unlock()
	}
}
