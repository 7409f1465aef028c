// Package netpollengine runs sluice's connections on
// github.com/cloudwego/netpoll: it implements eventloop.Engine, Loop and
// Socket, so package engine's Server and connection logic run on netpoll the
// same way they run on gnet (engine/gnetengine).
//
// netpoll has no event loops of its own to hand out: a process-wide set of
// pollers reads every connection into a per-connection buffer and runs a
// callback on a goroutine pool. A Loop here is therefore a shard: a mutex
// that serialises everything on its connections (events, Execute tasks,
// Open), held by whichever goroutine is running on the shard. Writes do not
// go through netpoll's blocking Flush on the shard: the socket writes to the
// fd itself, and only what the kernel does not take is handed to a flusher
// goroutine that waits in Flush off the shard.
//
// netpoll's settings are process-wide; the first Start applies them (see
// configure) and later engines in the same process share them and its
// pollers. Stop closes this engine's connections but cannot stop netpoll's
// pollers, which belong to the process.
//
// Where netpoll decides the behaviour:
//   - A peer's FIN closes the connection (netpoll watches EPOLLRDHUP), after
//     the bytes before it were delivered, as gnet closes on read EOF. Closed
//     gets io.EOF for that and for read errors alike: netpoll does not say
//     which it was.
//   - Detach fails while output is queued: the flusher would go on writing
//     to the socket tc shares. (On gnet, the output would be dropped.)
//   - A panic in Traffic is recovered by netpoll's goroutine pool, which
//     logs it and closes the connection; the shard is unlocked by a defer,
//     so its other connections go on.
package netpollengine

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cloudwego/netpoll"

	"github.com/sluiceproxy/sluice/engine/eventloop"
)

// ErrStopped is returned by Register and Enroll once Stop has been called.
var ErrStopped = errors.New("netpollengine: engine stopped")

// errNotStarted is returned by Register before Start.
var errNotStarted = errors.New("netpollengine: engine not started")

// bufferSize is netpoll's BufferSize and LinkBufferCap: the size of a new
// connection's input buffer, the first read's size, and the smallest buffer
// node. An idle connection holds at most one node of about this size (none
// after it once buffered more than 8 KiB: netpoll then frees the tail node
// whenever the buffer drains, which the socket always makes it do). Reads
// grow by themselves (netpoll doubles the read size whenever a read fills
// it, up to 8 MiB), so a small start costs a few extra read(2) calls at the
// start of a bulk transfer, not throughput; see the package benchmarks.
const bufferSize = 1 << 10

var configureOnce sync.Once

// configure applies netpoll's process-wide settings once, before the first
// connection. Pollers are left at netpoll's default, GOMAXPROCS/20+1: a
// poller only waits in epoll and copies bytes into connection buffers, the
// work on them runs on handler goroutines (runner) under the shard locks, so
// the shards (eventloop.Options.Loops), not the pollers, carry the
// parallelism; more pollers would only add threads spinning in epoll_wait.
//
// eventloop.Options.ReadBuffer is not used: gnet's read buffer is one per loop,
// netpoll's is one per connection, and a per-connection buffer of gnet's
// size (256 KiB by default) would cost 2.5 GiB for 10,000 idle connections.
func configure(logger *slog.Logger) {
	configureOnce.Do(func() {
		netpoll.LinkBufferCap = bufferSize
		_ = netpoll.Configure(netpoll.Config{
			BufferSize:   bufferSize,
			LoggerOutput: logWriter{logger},
			Runner:       newRunner(logger).run,
		})
	})
}

// logWriter turns netpoll's log lines into warnings on a slog.Logger.
// Immutable.
type logWriter struct{ l *slog.Logger }

func (w logWriter) Write(p []byte) (int, error) {
	w.l.Warn(strings.TrimSpace(string(p)), "engine", "netpoll")
	return len(p), nil
}

// netpollEngine implements eventloop.Engine. shards and h are set by Start and
// read-only afterwards; stopping, live and allGone are guarded by mu; done
// and err are written once, before done is closed.
type netpollEngine struct {
	shards []*shard
	loops  []eventloop.Loop
	h      eventloop.Handler
	logger *slog.Logger
	rr     atomic.Uint32 // Register's tie-break between equally loaded shards

	started atomic.Bool

	mu       sync.Mutex
	stopping bool
	live     int           // sockets not yet finished plus running flushers
	allGone  chan struct{} // closed once stopping and live == 0
	stopOnce sync.Once

	done chan struct{}
	err  error
}

// New returns an Engine running connections on netpoll. Start it before
// Register.
func New() eventloop.Engine {
	return &netpollEngine{
		done:    make(chan struct{}),
		allGone: make(chan struct{}),
	}
}

// Start makes opts.Loops shards delivering events to h.
func (e *netpollEngine) Start(opts eventloop.Options, h eventloop.Handler) error {
	if opts.Loops <= 0 {
		return errors.New("netpollengine: Loops must be > 0")
	}
	if h == nil {
		return errors.New("netpollengine: nil Handler")
	}
	if !e.started.CompareAndSwap(false, true) {
		return errors.New("netpollengine: already started")
	}
	e.logger = opts.Logger
	if e.logger == nil {
		e.logger = slog.Default()
	}
	configure(e.logger)
	e.h = h
	e.shards = make([]*shard, opts.Loops)
	e.loops = make([]eventloop.Loop, opts.Loops)
	for i := range e.shards {
		sh := &shard{eng: e, conns: make(map[*socket]struct{})}
		e.shards[i], e.loops[i] = sh, sh
	}
	netpoll.Initialize() // start the pollers now rather than on the first connection
	return nil
}

// Loops returns the shards made by Start.
func (e *netpollEngine) Loops() []eventloop.Loop { return e.loops }

// Register enrolls tc on the shard with the fewest connections.
func (e *netpollEngine) Register(tc *net.TCPConn, tag any) error {
	if len(e.shards) == 0 {
		tc.Close()
		return errNotStarted
	}
	start := int(e.rr.Add(1))
	best := e.shards[start%len(e.shards)]
	for i := 1; i < len(e.shards); i++ {
		sh := e.shards[(start+i)%len(e.shards)]
		if sh.n.Load() < best.n.Load() {
			best = sh
		}
	}
	return best.Enroll(tc, tag)
}

// Stop closes every connection still on the shards (each gets Closed(nil))
// and waits, until ctx ends, for those Closed calls and for the flushers to
// end. Done is closed once they have, even if ctx ended first.
func (e *netpollEngine) Stop(ctx context.Context) error {
	e.stopOnce.Do(func() {
		e.mu.Lock()
		e.stopping = true
		if e.live == 0 {
			close(e.allGone)
		}
		e.mu.Unlock()
		for _, sh := range e.shards {
			sh.stop()
		}
		go func() {
			<-e.allGone
			close(e.done)
		}()
	})
	select {
	case <-e.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Done is closed when Stop has closed every connection.
func (e *netpollEngine) Done() <-chan struct{} { return e.done }

// Err is nil: the shards only stop when asked to (netpoll's pollers do not
// report failures to their users).
func (e *netpollEngine) Err() error { return e.err }

// addLive counts a new socket; false once stopping (the socket must then
// not be made).
func (e *netpollEngine) addLive() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopping {
		return false
	}
	e.live++
	return true
}

// addFlusher counts a flusher goroutine. It is only called for a live
// socket, so live > 0 and allGone is not closed yet.
func (e *netpollEngine) addFlusher() {
	e.mu.Lock()
	e.live++
	e.mu.Unlock()
}

// doneLive uncounts a finished socket or an ended flusher.
func (e *netpollEngine) doneLive() {
	e.mu.Lock()
	e.live--
	if e.live == 0 && e.stopping {
		close(e.allGone)
	}
	e.mu.Unlock()
}
