package accesslog

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluiceproxy/sluice/proxy"
)

// Defaults for Options.
const (
	// DefaultQueueSize is the number of lines the queue holds.
	DefaultQueueSize = 8192
	// DefaultFlushInterval is how long the writer collects lines before it
	// writes them out.
	DefaultFlushInterval = 100 * time.Millisecond
)

const (
	// writeBufferSize is the writer goroutine's bufio buffer: a batch of
	// lines goes out in writes of up to this size.
	writeBufferSize = 64 << 10
	// lineBufferSize is the capacity a new line buffer starts with; most
	// lines fit.
	lineBufferSize = 1024
	// maxPooledLine is the largest line buffer returned to the pool, so that
	// one huge request-target does not pin a huge buffer.
	maxPooledLine = 16 << 10
)

// Options configure a Logger. The zero value is the default of every field.
type Options struct {
	// QueueSize is the number of lines waiting for the writer beyond which
	// lines are dropped. 0 means DefaultQueueSize.
	QueueSize int
	// FlushInterval is how long the writer goroutine, woken by a line,
	// collects more before writing them all out with one flush: a line
	// reaches the destination within about this time. The writer starts
	// early when the queue is half full. 0 means DefaultFlushInterval.
	FlushInterval time.Duration
	// ErrorLog receives write and reopen failures (once per run of failures,
	// not per line). nil discards them.
	ErrorLog *slog.Logger
}

// Logger is a proxy.Observer that writes each Record as a JSON line (see
// the package comment). Open or New starts its writer goroutine and Close
// stops it. All methods are safe for concurrent use, and a nil *Logger is a
// valid logger that writes nothing (what Open returns for "").
type Logger struct {
	// Set once by newLogger.
	q      chan *[]byte  // encoded lines, to the writer goroutine
	wake   chan struct{} // (1) Observe: the queue is half full, write now
	every  time.Duration // Options.FlushInterval
	swaps  chan swapReq  // Reopen's new files, to the writer goroutine
	stop   chan struct{} // closed by Close
	exited chan struct{} // closed by the writer goroutine when it returns
	path   string        // the file Open opened, "" for a caller's writer
	log    *slog.Logger  // never nil
	pool   sync.Pool     // of *[]byte line buffers; safe for concurrent use
	once   sync.Once     // Close's
	closed atomic.Bool   // set by Close: Observe drops
	drops  atomic.Uint64 // lines dropped: queue full, or after Close
	werrs  atomic.Uint64 // failed writes to the destination

	// Owned by the writer goroutine (run) while it runs; closeErr is read by
	// Close after exited is closed.
	dst      io.Writer
	file     *os.File // the open file when path != "", else nil
	bw       *bufio.Writer
	failing  bool // the last write failed (log the next failure only after a success)
	closeErr error
}

// swapReq asks the writer goroutine to write out the queue and then switch
// to f; it answers on done.
type swapReq struct {
	f    *os.File
	done chan struct{}
}

// Open returns a Logger for an -access-log value: "-" writes to standard
// output, "" disables the access log (nil *Logger, nil error), and anything
// else is a file opened for appending and created (mode 0644) if absent, which
// Reopen opens again after logrotate renamed it.
func Open(path string, opts Options) (*Logger, error) {
	switch path {
	case "":
		return nil, nil
	case "-":
		return New(os.Stdout, opts), nil
	}
	f, err := openFile(path)
	if err != nil {
		return nil, err
	}
	l := newLogger(f, opts)
	l.path, l.file = path, f
	go l.run()
	return l, nil
}

// New returns a Logger writing to w and starts its writer goroutine. w is
// written from that goroutine only and is not closed by Close; Reopen does
// nothing.
func New(w io.Writer, opts Options) *Logger {
	l := newLogger(w, opts)
	go l.run()
	return l
}

func newLogger(w io.Writer, opts Options) *Logger {
	n := opts.QueueSize
	if n <= 0 {
		n = DefaultQueueSize
	}
	l := &Logger{
		q:      make(chan *[]byte, n),
		wake:   make(chan struct{}, 1),
		every:  cmp.Or(opts.FlushInterval, DefaultFlushInterval),
		swaps:  make(chan swapReq),
		stop:   make(chan struct{}),
		exited: make(chan struct{}),
		log:    opts.ErrorLog,
		dst:    w,
		bw:     bufio.NewWriterSize(w, writeBufferSize),
	}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	l.pool.New = func() any {
		b := make([]byte, 0, lineBufferSize)
		return &b
	}
	return l
}

func openFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("accesslog: %w", err)
	}
	return f, nil
}

// Observe encodes r and queues the line for the writer goroutine. It never
// blocks: when the queue is full the line is dropped and counted. It does
// not keep r or its byte slices. In steady state it allocates nothing.
func (l *Logger) Observe(r *proxy.Record) {
	if l == nil {
		return
	}
	if l.closed.Load() || len(l.q) == cap(l.q) { // full: skip the encoding
		l.drops.Add(1)
		return
	}
	bp := l.pool.Get().(*[]byte)
	*bp = AppendJSON((*bp)[:0], r)
	select {
	case l.q <- bp:
		if len(l.q) >= cap(l.q)/2 {
			select {
			case l.wake <- struct{}{}:
			default:
			}
		}
	default:
		l.drops.Add(1)
		l.release(bp)
	}
}

// Drops returns the number of lines dropped so far because the queue was
// full (or the Logger closed).
func (l *Logger) Drops() uint64 {
	if l == nil {
		return 0
	}
	return l.drops.Load()
}

// WriteErrors returns the number of failed writes to the destination. The
// lines buffered at a failure are lost; writing goes on with the next ones.
func (l *Logger) WriteErrors() uint64 {
	if l == nil {
		return 0
	}
	return l.werrs.Load()
}

// Reopen opens the Logger's file again by its path, for SIGHUP after
// logrotate renamed it: lines observed before Reopen is called go to the old
// file, lines observed after it returns to the new one. It waits for the
// writer goroutine, so it is slow while the disk is. It does nothing for
// standard output or a writer given to New. On error the old file stays in
// use.
func (l *Logger) Reopen() error {
	if l == nil || l.path == "" {
		return nil
	}
	f, err := openFile(l.path)
	if err != nil {
		l.log.Error("accesslog: reopen failed", "path", l.path, "err", err)
		return err
	}
	req := swapReq{f: f, done: make(chan struct{})}
	select {
	case l.swaps <- req:
		<-req.done
		return nil
	case <-l.exited:
		f.Close()
		return ErrClosed
	}
}

// Close stops accepting lines, waits for the writer goroutine to write out
// the queue, flushes, and closes the file Open opened. It returns the error
// of that last flush or close. Close blocks while the destination does; it
// is safe to call more than once.
func (l *Logger) Close() error {
	if l == nil {
		return nil
	}
	l.once.Do(func() {
		l.closed.Store(true)
		close(l.stop)
	})
	<-l.exited
	return l.closeErr
}

// run is the writer goroutine: the only one to touch dst, file and bw.
//
// Idle, it waits for a line. Then it lets lines collect for the flush
// interval (or until Observe finds the queue half full) and writes them all
// out with one flush. So under load it wakes once per batch, not once per
// line, and the event loops' sends land in the channel's buffer without
// waking anyone: both a wake-up and a write(2) per line cost the loops CPU.
func (l *Logger) run() {
	defer close(l.exited)
	batch := time.NewTimer(l.every)
	batch.Stop()
	for {
		select {
		case bp := <-l.q:
			l.write(bp)
			batch.Reset(l.every)
			select {
			case <-batch.C:
			case <-l.wake:
				batch.Stop()
			case <-l.stop: // handled below, on the next turn
				batch.Stop()
			}
			l.writeQueued()
			l.flush()
		case req := <-l.swaps:
			l.writeQueued()
			l.flush()
			if err := l.file.Close(); err != nil {
				l.log.Warn("accesslog: closing the old file", "path", l.path, "err", err)
			}
			l.file, l.dst = req.f, req.f
			l.bw.Reset(req.f)
			l.failing = false
			close(req.done)
		case <-l.stop:
			// Observe may still slip a line in after closed was set; what
			// is queued now is written, later lines are lost.
			l.writeQueued()
			l.closeErr = l.flush()
			if l.file != nil {
				if err := l.file.Close(); l.closeErr == nil {
					l.closeErr = err
				}
			}
			return
		}
	}
}

// writeQueued writes the lines queued now.
func (l *Logger) writeQueued() {
	for n := len(l.q); n > 0; n-- {
		l.write(<-l.q)
	}
}

func (l *Logger) write(bp *[]byte) {
	_, err := l.bw.Write(*bp)
	l.release(bp)
	if err != nil {
		l.failed(err)
	}
}

func (l *Logger) flush() error {
	err := l.bw.Flush()
	if err != nil {
		l.failed(err)
		return err
	}
	l.failing = false
	return nil
}

// failed counts a failed write and resets bw, whose errors are sticky, so
// that the next lines are tried again.
func (l *Logger) failed(err error) {
	l.werrs.Add(1)
	if !l.failing {
		l.log.Error("accesslog: write failed; lines lost", "err", err)
	}
	l.failing = true
	l.bw.Reset(l.dst)
}

// release returns a line buffer to the pool unless it grew too big.
func (l *Logger) release(bp *[]byte) {
	if cap(*bp) <= maxPooledLine {
		l.pool.Put(bp)
	}
}
