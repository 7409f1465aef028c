package loadgen

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Run sends load as cfg describes and returns the result once every connection
// has stopped: when Duration has passed, Requests have all ended, or ctx is
// cancelled. Cancelling ctx is an ordinary way to end a run: Run then returns
// the result so far and a nil error. Requests still in flight when the run ends
// are dropped uncounted.
//
// Run returns an error wrapping ErrConfig for an invalid cfg, or, together with
// the result so far, the dial error if a dial fails before any dial of the run
// has succeeded: the target is down or wrong. Failures after the first
// successful dial are counted in the Result instead.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	p, err := cfg.plan()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if p.duration > 0 {
		var cancelTimeout context.CancelFunc
		ctx, cancelTimeout = context.WithDeadline(ctx, start.Add(p.duration))
		defer cancelTimeout()
	}
	s := newRunState(ctx, cancel, p, start)
	stopPoke := context.AfterFunc(ctx, s.stop)
	defer stopPoke()

	var wg sync.WaitGroup
	for _, w := range s.workers {
		wg.Go(w.run)
	}
	progressDone := make(chan struct{})
	var progressWG sync.WaitGroup
	if p.progress != nil {
		progressWG.Go(func() { s.reportProgress(progressDone) })
	}
	wg.Wait()
	elapsed := time.Since(s.start)
	close(progressDone)
	progressWG.Wait()

	res := &Result{
		Status:  make(map[int]int64),
		Elapsed: elapsed,
		Latency: s.hist,
	}
	for _, w := range s.workers {
		res.Requests += w.requests.Load()
		res.Errors += w.errors.Load()
		res.BytesRead += w.bytesRead.Load()
		res.ConnsOpened += w.opened.Load()
		res.ErrorsBy.add(&w.errs)
		for code, n := range w.status {
			res.Status[code] += n
		}
	}
	s.errMu.Lock()
	res.FirstError, err = s.firstErr, s.fatal
	s.errMu.Unlock()
	return res, err
}

// runState is what the connections of one run share. Fields without a note are
// set by Run before any worker starts and only read afterwards.
type runState struct {
	plan    *plan
	ctx     context.Context // done when the run must stop
	cancel  context.CancelFunc
	dialer  net.Dialer
	start   time.Time
	workers []*worker

	claimed  atomic.Int64 // requests handed out by claim; may overshoot plan.requests
	anyConn  atomic.Bool  // some dial has succeeded
	stopping atomic.Bool  // set by stop, before it pokes the connections

	histMu sync.Mutex
	hist   *hdrhistogram.Histogram // guarded by histMu

	errMu    sync.Mutex
	firstErr error // guarded by errMu: the first failure counted
	fatal    error // guarded by errMu: why the run was abandoned, if it was
}

// newRunState returns the state of a run of p whose end ctx signals, with its
// workers created but not started.
func newRunState(ctx context.Context, cancel context.CancelFunc, p *plan, start time.Time) *runState {
	s := &runState{
		plan:   p,
		ctx:    ctx,
		cancel: cancel,
		dialer: net.Dialer{Timeout: p.timeout},
		start:  start,
		hist:   hdrhistogram.New(histMinMicros, histMaxMicros, histSigDigits),
	}
	s.workers = make([]*worker, p.conns)
	for i := range s.workers {
		s.workers[i] = newWorker(s)
	}
	return s
}

// claim hands out the next batch of up to plan.pipeline requests. It returns
// the batch size, the time (since start) at which the batch is due under Rate
// (0 without Rate), and false when the Requests budget is spent.
func (s *runState) claim() (n int, due time.Duration, ok bool) {
	depth := int64(s.plan.pipeline)
	k := s.claimed.Add(depth) - depth
	if limit := s.plan.requests; limit > 0 {
		if k >= limit {
			return 0, 0, false
		}
		depth = min(depth, limit-k)
	}
	if s.plan.interval > 0 {
		// Request k of the run is due at k intervals after the start, whichever
		// connection sends it: one timetable paces the whole run.
		due = time.Duration(float64(k) * s.plan.interval)
	}
	return int(depth), due, true
}

// stop runs once when the run's context is done. It sets stopping and then
// pushes every open connection's deadline into the past, so workers blocked in
// a read or write return at once. A worker that sets a new deadline checks
// stopping right after, so it either sees the flag or its deadline is set
// before stop's and is overridden.
func (s *runState) stop() {
	s.stopping.Store(true)
	past := time.Unix(1, 0)
	for _, w := range s.workers {
		w.mu.Lock()
		if w.conn != nil {
			w.conn.SetDeadline(past)
		}
		w.mu.Unlock()
	}
}

// noteError records err as the run's first failure if it is one. With fatal, it
// also abandons the run with err as the reason.
func (s *runState) noteError(err error, fatal bool) {
	s.errMu.Lock()
	if s.firstErr == nil {
		s.firstErr = err
	}
	if fatal && s.fatal == nil {
		s.fatal = err
	}
	s.errMu.Unlock()
	if fatal {
		s.cancel()
	}
}

// recordLatencies adds a worker's batch of latencies, in microseconds, to the
// run's histogram. Workers call it once per len(worker.lat) responses, so the
// lock is off the per-request path; one shared histogram keeps memory flat at
// thousands of connections (a histogram of this range and precision is 136 KB, 136 MB for 1000
// connections if each had its own).
func (s *runState) recordLatencies(us []int32) {
	s.histMu.Lock()
	for _, v := range us {
		s.hist.RecordValue(int64(v)) // in range by construction: cannot fail
	}
	s.histMu.Unlock()
}

// reportProgress calls plan.progress once a second until done is closed.
func (s *runState) reportProgress(done <-chan struct{}) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var prev Snapshot
	for {
		select {
		case <-done:
			return
		case now := <-t.C:
			var snap Snapshot
			for _, w := range s.workers {
				snap.Requests += w.requests.Load()
				snap.Errors += w.errors.Load()
				snap.BytesRead += w.bytesRead.Load()
				snap.ConnsOpened += w.opened.Load()
			}
			snap.Elapsed = now.Sub(s.start)
			snap.Interval = snap.Elapsed - prev.Elapsed
			snap.IntervalRequests = snap.Requests - prev.Requests
			snap.IntervalBytesRead = snap.BytesRead - prev.BytesRead
			s.plan.progress(snap)
			prev = snap
		}
	}
}

// dialError wraps a dial failure with the target, for Result.FirstError and
// Run's error.
func dialError(target string, err error) error {
	return fmt.Errorf("loadgen: connect to %s: %w", target, err)
}
