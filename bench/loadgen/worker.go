package loadgen

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// latBatch is how many latencies a worker collects before it adds them to the
// run's histogram under its lock.
const latBatch = 256

// dialBackoff is how long a worker waits after a failed dial before the next,
// so a refusing target does not spin a core.
const dialBackoff = 10 * time.Millisecond

// worker drives one connection of a run: it claims batches of requests, dials
// when it has no connection, writes each batch in one write and reads the
// answers in order. Its goroutine owns every field except those marked
// otherwise; Run reads the owned ones after the goroutine has exited.
type worker struct {
	s     *runState
	rr    *respReader
	timer *time.Timer // for pacing and dial backoff; created on first use

	// mu guards conn against runState.stop, which may set its deadline from
	// another goroutine. The worker writes conn only under mu and reads it
	// without: it is the only writer.
	mu   sync.Mutex
	conn net.Conn

	// Atomic: written by the worker, read by the progress reporter.
	requests  atomic.Int64
	errors    atomic.Int64
	bytesRead atomic.Int64
	opened    atomic.Int64

	status     map[int]int64
	lastStatus int   // status of the latest responses, not yet in status
	lastCount  int64 // how many of them
	errs       ErrorCounts
	lat        [latBatch]int32 // latencies in µs not yet in the histogram
	nlat       int
}

func newWorker(s *runState) *worker {
	return &worker{
		s:      s,
		rr:     newRespReader(s.plan.bufSize),
		status: make(map[int]int64, 4),
	}
}

// run is the worker's goroutine.
func (w *worker) run() {
	defer w.finish()
	s := w.s
	// Connect before the first claim, so that every connection is open (and
	// ConnsOpened equals Connections) even if other workers claim all the work.
	// A failure here loses no request; the loop dials again when it has some.
	w.dial(0)
	pending := 0 // requests the server closed the connection on, to send again
	for !w.stopped() {
		n := pending
		if n == 0 {
			var due time.Duration
			var ok bool
			n, due, ok = s.claim()
			if !ok {
				return
			}
			if due > 0 && !w.sleep(time.Until(s.start.Add(due))) {
				return
			}
		}
		if w.conn == nil && !w.dial(n) {
			pending = 0 // counted as lost by dial
			continue
		}
		pending = w.roundTrip(n)
	}
}

// roundTrip writes n requests in one write and reads their n responses. It
// returns how many of them must be sent again because the server announced it
// would close the connection before answering them (RFC 9112 §9.6: it must not
// have processed them).
func (w *worker) roundTrip(n int) (resend int) {
	p, c := w.s.plan, w.conn
	start := time.Now()
	c.SetDeadline(start.Add(p.timeout))
	if w.s.stopping.Load() {
		return 0
	}
	if _, err := c.Write(p.batch[:n*len(p.request)]); err != nil {
		w.fail(n, err, &w.errs.Write)
		return 0
	}
	for i := 0; i < n; i++ {
		status, closeConn, err := w.rr.readResponse(p.head)
		if err != nil {
			w.fail(n-i, err, &w.errs.Read)
			return 0
		}
		end := time.Now()
		w.record(status, end.Sub(start))
		if closeConn {
			w.closeConn()
			return n - i - 1
		}
		if i+1 < n {
			c.SetReadDeadline(end.Add(p.timeout))
			if w.s.stopping.Load() {
				return 0
			}
		}
	}
	w.bytesRead.Store(w.rr.nread)
	return 0
}

// record counts one full response and its latency.
func (w *worker) record(status int, d time.Duration) {
	us := d.Microseconds()
	if us < histMinMicros {
		us = histMinMicros
	} else if us > histMaxMicros {
		us = histMaxMicros
	}
	w.lat[w.nlat] = int32(us)
	w.nlat++
	if w.nlat == len(w.lat) {
		w.s.recordLatencies(w.lat[:])
		w.nlat = 0
	}
	if status != w.lastStatus {
		w.flushStatus()
		w.lastStatus = status
	}
	w.lastCount++
	w.requests.Add(1)
}

func (w *worker) flushStatus() {
	if w.lastCount > 0 {
		w.status[w.lastStatus] += w.lastCount
		w.lastCount = 0
	}
}

// dial opens the worker's connection for a batch of n requests (0 at start).
// On failure it counts the n requests as lost, abandons the whole run if no dial has ever
// succeeded (the target is down or wrong), and otherwise backs off briefly.
func (w *worker) dial(n int) bool {
	s := w.s
	c, err := s.dialer.DialContext(s.ctx, "tcp", s.plan.target)
	if err != nil {
		if w.stopped() {
			return false
		}
		err = dialError(s.plan.target, err)
		if !s.anyConn.Load() {
			s.noteError(err, true)
			return false
		}
		w.count(n, err, &w.errs.Dial)
		w.sleep(dialBackoff)
		return false
	}
	w.mu.Lock()
	w.conn = c
	w.mu.Unlock()
	w.rr.reset(c)
	w.opened.Add(1)
	s.anyConn.Store(true)
	return true
}

// fail handles the failure of a connection with n requests unanswered: unless
// the run is stopping (which is what made the I/O fail), it counts them as lost
// to err, then closes the connection.
func (w *worker) fail(n int, err error, kind *int64) {
	if !w.stopped() {
		w.count(n, err, kind)
	}
	w.closeConn()
}

// count adds n lost requests to the error counts: to kind, unless err says
// timeout or protocol error.
func (w *worker) count(n int, err error, kind *int64) {
	var ne net.Error
	switch {
	case errors.Is(err, ErrMalformedResponse) || errors.Is(err, ErrHeadTooLarge) || errors.Is(err, ErrUnsupported):
		kind = &w.errs.Protocol
	case errors.As(err, &ne) && ne.Timeout():
		kind = &w.errs.Timeout
	}
	*kind += int64(n)
	w.errors.Add(int64(n))
	w.s.noteError(err, false)
}

// closeConn closes the worker's connection, if it has one.
func (w *worker) closeConn() {
	if w.conn == nil {
		return
	}
	w.bytesRead.Store(w.rr.nread)
	w.mu.Lock()
	w.conn.Close()
	w.conn = nil
	w.mu.Unlock()
}

// stopped reports whether the run is ending. It is for failure paths: the
// context can be done before stop has set the flag.
func (w *worker) stopped() bool {
	return w.s.stopping.Load() || w.s.ctx.Err() != nil
}

// sleep waits for d or the end of the run, reporting false for the latter.
func (w *worker) sleep(d time.Duration) bool {
	if d <= 0 {
		return true
	}
	if w.timer == nil {
		w.timer = time.NewTimer(d)
	} else {
		w.timer.Reset(d)
	}
	select {
	case <-w.timer.C:
		return true
	case <-w.s.ctx.Done():
		w.timer.Stop()
		return false
	}
}

// finish closes the connection and hands the worker's remaining latencies and
// status counts to their totals.
func (w *worker) finish() {
	w.closeConn()
	if w.nlat > 0 {
		w.s.recordLatencies(w.lat[:w.nlat])
		w.nlat = 0
	}
	w.flushStatus()
}
