package netpollengine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"

	"github.com/cloudwego/netpoll"
	"golang.org/x/sys/unix"

	"github.com/sluiceproxy/sluice/engine/eventloop"
)

// sockState is where a socket is in its life, as seen from its shard.
type sockState uint8

const (
	stOpen     sockState = iota
	stClosing            // closed (by Close, a write error or Stop); Closed is queued or will be
	stDetached           // Detach succeeded: no further events, no Closed
	stDone               // Closed delivered (or, without an Endpoint, would have been)
)

// maxKeptIn is the largest carry buffer kept for reuse once it drains;
// larger ones are dropped so an idle connection holds no big buffer.
const maxKeptIn = 4 << 10

// minChunk is the size of the chunks small writes are gathered into while a
// flush is running, so a stream of small writes does not become a stream of
// small allocations.
const minChunk = 16 << 10

// socket implements eventloop.Socket on a netpoll connection.
//
// sh, conn, fd and raddr are immutable. The fields under "shard" are owned
// by sh.mu (every Socket method and every event runs with it held). The
// fields under fdMu are shared with netpoll's close callback, which runs on
// a netpoll goroutine, or synchronously inside conn.Close on the shard, and
// therefore never takes sh.mu. rest is written by the close callback before
// restReady is closed and only read after.
type socket struct {
	sh    *shard
	conn  netpoll.Connection
	fd    int
	raddr netip.AddrPort

	// shard
	ep    eventloop.Endpoint
	state sockState
	// Input is in[inOff:], or, while Traffic runs with the carry empty,
	// np[npOff:]: netpoll's own buffer, presented without a copy.
	in         []byte
	inOff      int
	np         []byte
	npOff      int
	presenting bool
	// Output not yet known to be sent: inflight bytes are in netpoll's
	// output buffer with a flusher goroutine waiting in Flush; pend waits
	// for that flush to end. flushing <=> a flusher is running.
	pend     [][]byte
	pendN    int
	inflight int
	flushing bool

	// fdMu guards gone, detaching, why and userClose. Holding it while
	// gone is false keeps fd and netpoll's buffers alive: the close
	// callback sets gone under it before netpoll's finaliser closes them.
	fdMu      sync.Mutex
	gone      bool  // the close callback has run
	detaching bool  // Detach made a tc: the callback collects rest instead of queuing Closed
	why       error // the error Closed reports, nil for Close or Stop
	userClose bool  // closed by Close, Stop or a write error rather than the peer

	restReady chan struct{}
	rest      []byte
}

var _ eventloop.Socket = (*socket)(nil)

func newSocket(sh *shard, c netpoll.Connection, fd int, raddr netip.AddrPort) *socket {
	return &socket{sh: sh, conn: c, fd: fd, raddr: raddr}
}

// errOutputQueued is Detach's error while output is still queued.
var errOutputQueued = errors.New("netpollengine: detach with output still queued")

// onRequest is netpoll's OnRequest: bytes arrived in netpoll's input buffer.
// netpoll runs it on its goroutine pool, one at a time per connection, and
// runs it again for as long as the buffer is not empty, and only starts a
// new one when a read finds the buffer empty: so it always takes everything
// out of netpoll's buffer (unless the socket is closed or detached, in
// which case netpoll stops calling it).
func (s *socket) onRequest(_ context.Context, c netpoll.Connection) error {
	sh := s.sh
	sh.mu.Lock()
	// Undone by defer: netpoll's goroutine pool recovers panics, and a
	// shard left locked would stop all its connections (nor may Input go
	// on pointing into netpoll's buffer, freed once the connection closes).
	defer func() {
		s.presenting, s.np = false, nil
		sh.mu.Unlock()
	}()
	if s.state != stOpen {
		return nil // a stale event: closed or detached meanwhile
	}
	r := c.Reader()
	n := r.Len()
	if n == 0 {
		return nil
	}
	b, err := r.Peek(n)
	if err != nil {
		return nil
	}
	if s.inOff < len(s.in) {
		// Unconsumed bytes are carried: append, so Input stays in order.
		// Input slices of earlier events are dead, so the carry can move
		// to the front first instead of growing behind discarded bytes.
		if s.inOff > 0 {
			s.in = s.in[:copy(s.in, s.in[s.inOff:])]
			s.inOff = 0
		}
		s.in = append(s.in, b...)
		_ = r.Skip(n)
		_ = r.Release()
		s.ep.Traffic()
		return nil
	}
	s.np, s.npOff, s.presenting = b, 0, true
	s.ep.Traffic()
	if !s.presenting {
		return nil // Detach took the bytes and skipped them
	}
	s.presenting = false
	if rest := s.np[s.npOff:]; len(rest) > 0 && s.state == stOpen {
		s.in = append(s.in[:0], rest...)
		s.inOff = 0
	}
	s.np = nil
	_ = r.Skip(n)
	_ = r.Release()
	return nil
}

// Input returns the bytes read and not yet discarded.
func (s *socket) Input() []byte {
	if s.presenting {
		return s.np[s.npOff:]
	}
	return s.in[s.inOff:]
}

// Discard drops the first n bytes of Input (all of it if n is larger).
func (s *socket) Discard(n int) {
	if n <= 0 {
		return
	}
	if s.presenting {
		s.npOff = min(s.npOff+n, len(s.np))
		return
	}
	s.inOff += n
	if s.inOff >= len(s.in) {
		s.resetIn()
	}
}

func (s *socket) resetIn() {
	if cap(s.in) > maxKeptIn {
		s.in = nil
	} else {
		s.in = s.in[:0]
	}
	s.inOff = 0
}

// InboundBuffered is len(Input()).
func (s *socket) InboundBuffered() int {
	if s.presenting {
		return len(s.np) - s.npOff
	}
	return len(s.in) - s.inOff
}

// Write sends b, or a copy of what the kernel does not take at once. With
// nothing queued it writes to the fd directly (non-blocking); the rest, and
// everything written while a flush runs, goes to a flusher goroutine. A
// write error closes the socket: Closed(err) follows.
func (s *socket) Write(b []byte) {
	if s.state != stOpen || len(b) == 0 {
		return
	}
	if s.flushing {
		s.queue(b)
		return
	}
	n, err := s.writeFD(b)
	if err != nil {
		s.closeWith(err, true)
		return
	}
	if n < len(b) {
		s.queue(b[n:])
		s.startFlush()
	}
}

// writeFD writes what the kernel takes at once. Once the close callback
// has run, the fd may be closed (and its number reused): the write is then
// dropped, Closed being on its way.
func (s *socket) writeFD(b []byte) (int, error) {
	s.fdMu.Lock()
	defer s.fdMu.Unlock()
	if s.gone {
		return len(b), nil
	}
	for {
		n, err := syscall.Write(s.fd, b)
		switch err {
		case nil:
			return n, nil
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return 0, nil
		default:
			return 0, os.NewSyscallError("write", err)
		}
	}
}

// queue appends a copy of b to pend, gathering small writes into chunks.
func (s *socket) queue(b []byte) {
	s.pendN += len(b)
	if k := len(s.pend); k > 0 {
		last := s.pend[k-1]
		if cap(last)-len(last) >= len(b) {
			s.pend[k-1] = append(last, b...)
			return
		}
	}
	s.pend = append(s.pend, append(make([]byte, 0, max(len(b), minChunk)), b...))
}

// startFlush hands pend to netpoll's output buffer and starts a flusher
// goroutine to wait in Flush. Only one flusher runs at a time, and the
// shard touches netpoll's output buffer only while none runs.
func (s *socket) startFlush() {
	bufs, n := s.pend, s.pendN
	s.pend, s.pendN = nil, 0
	s.fdMu.Lock()
	if s.gone {
		s.fdMu.Unlock()
		return
	}
	w := s.conn.Writer()
	for _, b := range bufs {
		// Nodes over 4 KiB refer to b without copying; b is not touched
		// again.
		_, _ = w.WriteBinary(b)
	}
	s.fdMu.Unlock()
	s.inflight, s.flushing = n, true
	s.sh.eng.addFlusher()
	go s.flush()
}

// flush runs on the flusher goroutine: Flush blocks until netpoll's poller
// has sent everything, or returns an error once the connection closes.
// The result goes back to the shard, where pend follows.
func (s *socket) flush() {
	err := s.conn.Writer().Flush()
	s.sh.Execute(func() { s.flushed(err) })
	s.sh.eng.doneLive()
}

// flushed runs on the shard when a flusher has ended.
func (s *socket) flushed(err error) {
	s.flushing, s.inflight = false, 0
	if s.state != stOpen {
		return
	}
	if err != nil {
		s.closeWith(err, true)
		return
	}
	if s.pendN > 0 {
		s.startFlush()
	}
}

// OutboundBuffered returns the bytes written and not yet known to be sent.
func (s *socket) OutboundBuffered() int { return s.inflight + s.pendN }

// Close closes the connection, dropping queued output; Closed(nil) follows
// on the shard.
func (s *socket) Close() {
	if s.state == stOpen {
		s.closeWith(nil, true)
	}
}

// closeWith closes the netpoll connection; netpoll runs the close callback
// (now, or when the connection's OnRequest returns), which queues Closed.
func (s *socket) closeWith(err error, user bool) {
	s.state = stClosing
	s.pend, s.pendN = nil, 0
	s.fdMu.Lock()
	if s.why == nil {
		s.why = err
	}
	s.userClose = s.userClose || user
	s.fdMu.Unlock()
	s.conn.Close()
}

// Detach hands the connection over as an eventloop.Conn on a duplicate of the
// fd and closes the netpoll side (closing the original fd, not the socket,
// since tc holds it open). Bytes netpoll read and the Endpoint was not
// shown are returned by rest, which waits for netpoll to stop reading. It
// fails, leaving the socket on the shard, while output is queued: the
// flusher would still be writing to the fd that tc now shares.
func (s *socket) Detach() (eventloop.Conn, func() []byte, error) {
	if s.state != stOpen {
		return nil, nil, net.ErrClosed
	}
	if n := s.OutboundBuffered(); n > 0 {
		return nil, nil, fmt.Errorf("%w (%d bytes)", errOutputQueued, n)
	}
	s.fdMu.Lock()
	if s.gone {
		// The peer hung up and Closed is queued already.
		s.fdMu.Unlock()
		return nil, nil, net.ErrClosed
	}
	tc, err := fileConn(s.fd)
	if err != nil {
		s.fdMu.Unlock()
		return nil, nil, err
	}
	s.detaching = true
	s.restReady = make(chan struct{})
	s.fdMu.Unlock()

	if s.presenting {
		// The caller took Input; rest starts after what it was shown.
		_ = s.conn.Reader().Skip(len(s.np))
		s.presenting, s.np = false, nil
	}
	s.in, s.inOff = nil, 0
	s.state = stDetached
	delete(s.sh.conns, s)
	s.sh.n.Add(-1)
	// A close, not netpoll's Detach: netpoll's Detach leaves the original
	// fd to its user, which could only close it before netpoll stopped
	// using it; its Close closes it after (deregistered, and after the
	// poller is done with it), and the socket lives on in tc.
	s.conn.Close()
	ready := s.restReady
	return tc, func() []byte { <-ready; return s.rest }, nil
}

// netpollClosed is the close callback. netpoll runs it once, after the
// connection's OnRequest has returned and after the fd was removed from
// epoll, before its own finaliser closes the fd and the buffers.
func (s *socket) netpollClosed(netpoll.Connection) error {
	s.fdMu.Lock()
	s.gone = true
	detaching := s.detaching
	err := s.why
	if err == nil && !s.userClose {
		err = io.EOF
	}
	s.fdMu.Unlock()
	if detaching {
		s.collectRest()
		s.sh.eng.doneLive()
		return nil
	}
	s.sh.Execute(func() { s.finish(err) })
	return nil
}

// collectRest moves what netpoll read for a detached socket into rest.
// A poller may be reading the fd right now (an event taken from epoll_wait
// before the fd was removed): it is waited for first, or its bytes would be
// lost with netpoll's buffer.
func (s *socket) collectRest() {
	waitPollerDone(s.conn)
	r := s.conn.Reader()
	if n := r.Len(); n > 0 {
		if b, err := r.Peek(n); err == nil {
			s.rest = append([]byte(nil), b...)
		}
	}
	close(s.restReady)
}

// finish runs on the shard once the connection is closed: Closed, once.
func (s *socket) finish(err error) {
	if s.state == stDone || s.state == stDetached {
		return
	}
	s.state = stDone
	s.in, s.inOff, s.pend, s.pendN = nil, 0, nil, 0
	s.sh.n.Add(-1)
	if s.ep != nil {
		delete(s.sh.conns, s)
		s.ep.Closed(err)
	}
	s.sh.eng.doneLive()
}

// RemoteAddr is the peer's address.
func (s *socket) RemoteAddr() netip.AddrPort { return s.raddr }

// fileConn makes an eventloop.Conn on a duplicate of fd.
func fileConn(fd int) (eventloop.Conn, error) {
	d, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("fcntl", err)
	}
	return eventloop.FileConn(d)
}
