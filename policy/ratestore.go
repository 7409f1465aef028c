package policy

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// RedisStore tuning.
const (
	// storeQueueLen bounds the leases waiting for the store's goroutine.
	// A lease is queued once at a time, so this is how many keys may ask
	// at once; a lease that finds the queue full asks again on its next
	// request, meanwhile on credit.
	storeQueueLen = 4096
	// storeMaxBatch is the most buckets one script call takes from.
	storeMaxBatch = 128
	// Reconnection backoff while the store is down: the first ping
	// after storeMinBackoff, doubling up to storeMaxBackoff, ±20 %.
	storeMinBackoff = 100 * time.Millisecond
	storeMaxBackoff = 2 * time.Second
	// storeIdlePing: a store that is up and has had no call for this
	// long is pinged, so that its state (and sluice_rate_limit_store_up)
	// is current without traffic.
	storeIdlePing = time.Second
)

// RedisStore is the store of shared rate limits (RateLimits.Store): the
// buckets live in Redis, and a goroutine per store leases their tokens to
// the Policies compiled with it (CompileShared), so that the event loops
// never wait for Redis.
//
// # How a request is decided
//
// Each process holds a lease per bucket it uses (per limit and key: the
// global one, a client address, a host). A request takes a token from the
// lease on the event loop. When the lease is half spent it is queued for
// the store's goroutine, which takes the queued leases in batches (up to
// storeMaxBatch buckets in one EVALSHA of tokenbucket.lua, whatever queued
// while the previous call ran) and refills them: each lease is refilled to
// L tokens, L being RateLimits.Lease's worth of the limit's rate (100 ms:
// a tenth of rps; at least 1, at most the burst). An empty lease may also
// spend up to L tokens on credit, charged to the bucket by the next call,
// so that a new key's first requests, and a burst faster than a round
// trip, do not wait; once the bucket says it is short, credit stops and
// only leased tokens are spent.
//
// # How far the total may exceed a limit
//
// Per bucket, each of P processes is at any time at most L tokens ahead of
// the store (credit spent, not yet charged) or holds at most L tokens the
// store has counted and it has not spent. So over any interval of length
// T, the requests all processes admit exceed what one bucket of rate N and
// burst B admits, B + N·T, by at most 2·P·L; the credit part is charged
// and refused later, so over a long run the rate is N. In steady overload
// the excess stays near P·L. (A reload or a lease dropped by the key
// map's bound forgets at most L of credit per process and key.)
//
// # When Redis is down
//
// A call that fails or takes longer than RateLimits.StoreTimeout marks
// the store down: requests are then decided by RateLimits.OnStoreError
// (allow by default: fail open) without touching the leases, and the
// goroutine pings the store, with backoff from storeMinBackoff to
// storeMaxBackoff, until it answers. One log line says it went down, one
// that it is back up. A store with no call for storeIdlePing is pinged,
// so that its state is known without traffic.
//
// # Ownership
//
// Set once by NewRedisStore: the fields that configure it. The run
// goroutine owns the batch buffers and the backoff. up and the counters
// are atomic: the event loops read up on every request. The leases
// synchronize themselves.
type RedisStore struct {
	// Set once by NewRedisStore.
	url     string // redacted: for logs and errors
	timeout time.Duration
	backend bucketBackend
	log     *slog.Logger
	now     func() time.Time
	queue   chan *lease
	stop    chan struct{}
	done    chan struct{}
	start   sync.Once
	halt    sync.Once

	// Atomic.
	up        atomic.Bool
	calls     atomic.Uint64
	errs      atomic.Uint64
	fallbacks atomic.Uint64

	// Owned by the run goroutine (and by Start before it).
	batch     []*lease
	reqs      []takeReq
	logged    storeState // the state last logged
	downSince time.Time
}

// storeState is a RedisStore's state as logged.
type storeState uint8

const (
	stateUnknown storeState = iota
	stateUp
	stateDown
)

// StoreStats are a RedisStore's state and counters, for metrics.
type StoreStats struct {
	// Up is whether the store answered its last call or ping.
	Up bool
	// Calls are the calls to the store: script calls, each for a batch
	// of buckets, and pings while it is down.
	Calls uint64
	// Errors are the calls that failed: timeouts, connection errors,
	// error replies.
	Errors uint64
	// Fallbacks are the requests decided by RateLimits.OnStoreError
	// because the store was down.
	Fallbacks uint64
}

// bucketBackend is what a RedisStore calls: Redis (redisBackend). Its
// methods are called by the store's goroutine only.
type bucketBackend interface {
	// take runs tokenbucket.lua on reqs, filling in their granted and
	// wait, or fails as a whole.
	take(ctx context.Context, reqs []takeReq) error
	ping(ctx context.Context) error
	close() error
}

// takeReq is one bucket of a call: what is asked and what the store gave.
// Owned by the store's goroutine, which builds it and applies the answer
// to the lease.
type takeReq struct {
	lease        *lease
	charge, want int64
	granted      int64
	wait         time.Duration
}

// newStore returns a store on backend b.
func newStore(rl RateLimits, b bucketBackend, log *slog.Logger) *RedisStore {
	timeout := rl.StoreTimeout
	if timeout == 0 {
		timeout = DefaultStoreTimeout
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &RedisStore{
		url: redactURL(rl.Store), timeout: timeout, backend: b, log: log, now: time.Now,
		queue: make(chan *lease, storeQueueLen),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
}

// Start pings the store, waiting at most the store timeout, and starts its
// goroutine. A store that does not answer starts down (and is logged so):
// sluice runs without Redis, as OnStoreError says.
func (s *RedisStore) Start() {
	s.start.Do(func() {
		if err := s.ping(); err != nil {
			s.setDown(err)
		} else {
			s.setUp()
		}
		go s.run()
	})
}

// Stop stops the goroutine and closes the connections. The store is down
// from then on: Policies still using it decide by OnStoreError.
func (s *RedisStore) Stop() {
	s.halt.Do(func() {
		close(s.stop)
		s.start.Do(func() { close(s.done) }) // never started
		<-s.done
		s.up.Store(false)
		_ = s.backend.close()
	})
}

// Up reports whether the store answered its last call. It is read on
// every request.
func (s *RedisStore) Up() bool { return s.up.Load() }

// URL is the store's URL with its password redacted.
func (s *RedisStore) URL() string { return s.url }

// Stats returns the store's state and counters.
func (s *RedisStore) Stats() StoreStats {
	return StoreStats{Up: s.up.Load(), Calls: s.calls.Load(), Errors: s.errs.Load(), Fallbacks: s.fallbacks.Load()}
}

// enqueue hands l to the goroutine, without waiting: false if the queue
// is full.
func (s *RedisStore) enqueue(l *lease) bool {
	select {
	case s.queue <- l:
		return true
	default:
		return false
	}
}

// run is the store's goroutine: it refills queued leases while the store
// is up, and pings it with backoff while it is down.
func (s *RedisStore) run() {
	defer close(s.done)
	backoff := storeMinBackoff
	idle := time.NewTimer(storeIdlePing)
	defer idle.Stop()
	for {
		if !s.up.Load() {
			// ±20 %, so that replicas do not reconnect in step.
			t := time.NewTimer(backoff + time.Duration((rand.Float64()*0.4-0.2)*float64(backoff)))
			select {
			case <-s.stop:
				t.Stop()
				return
			case <-t.C:
			}
			if err := s.ping(); err != nil {
				s.setDown(err)
				backoff = min(2*backoff, storeMaxBackoff)
				continue
			}
			s.setUp()
			backoff = storeMinBackoff
		}
		idle.Reset(storeIdlePing) // since Go 1.23 no stale tick can follow
		select {
		case <-s.stop:
			return
		case <-idle.C:
			if err := s.ping(); err != nil {
				s.setDown(err)
			}
			continue
		case l := <-s.queue:
			s.batch = append(s.batch[:0], l)
		}
	more:
		for len(s.batch) < storeMaxBatch {
			select {
			case l := <-s.queue:
				s.batch = append(s.batch, l)
			default:
				break more
			}
		}
		s.refill()
	}
}

// refill makes one call for the leases of s.batch.
func (s *RedisStore) refill() {
	reqs := s.reqs[:0]
	for _, l := range s.batch {
		if charge, want, ok := l.request(); ok {
			reqs = append(reqs, takeReq{lease: l, charge: charge, want: want})
		}
	}
	s.reqs = reqs
	clear(s.batch) // drop the pointers: the key map may drop a lease
	if len(reqs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	err := s.backend.take(ctx, reqs)
	cancel()
	s.calls.Add(1)
	if err != nil {
		for _, r := range reqs {
			r.lease.failed()
		}
		s.setDown(err)
	} else {
		now := s.now()
		for _, r := range reqs {
			r.lease.granted(r.want, r.granted, r.wait, now)
		}
	}
	clear(reqs)
}

// ping calls the store once, bounded by the timeout.
func (s *RedisStore) ping() error {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	s.calls.Add(1)
	return s.backend.ping(ctx)
}

// setDown counts the error err and marks the store down, logging if it
// was not down already.
func (s *RedisStore) setDown(err error) {
	s.errs.Add(1)
	s.up.Store(false)
	if s.logged == stateDown {
		return
	}
	s.logged, s.downSince = stateDown, s.now()
	if errors.Is(err, context.DeadlineExceeded) {
		err = errors.New("no answer within the store timeout")
	}
	s.log.Warn("rate-limit store down: shared rate limits follow on_store_error until it is back",
		"store", s.url, "err", err.Error(), "timeout", s.timeout.String())
}

// setUp marks the store up, logging if it was not up already.
func (s *RedisStore) setUp() {
	s.up.Store(true)
	switch s.logged {
	case stateUp:
		return
	case stateDown:
		s.log.Info("rate-limit store up again", "store", s.url, "down_for", s.now().Sub(s.downSince).Round(time.Millisecond).String())
	default:
		s.log.Info("rate-limit store up", "store", s.url)
	}
	s.logged = stateUp
}
