// Package gnetengine runs sluice's connections on gnet event loops
// (github.com/panjf2000/gnet/v2): one loop per core owns its client and
// upstream connections, relaying is a function call, and blocking work comes
// back with Execute. It is only the socket side (eventloop.Engine, Loop,
// Socket); everything above the socket is package engine's, shared with the
// netpoll engine.
package gnetengine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"github.com/sluiceproxy/sluice/engine/eventloop"
)

// New returns a gnet engine, not yet started.
func New() eventloop.Engine {
	return &Engine{booted: make(chan struct{}), done: make(chan struct{}), loops: make(map[gnet.EventLoop]*loop)}
}

// Engine is the gnet engine.
//
// h and opts are set by Start before gnet runs; eng by OnBoot, before the
// loops exist (Register waits for booted). err is written before done is
// closed. loops is guarded by mu.
type Engine struct {
	gnet.BuiltinEventEngine
	h        eventloop.Handler
	opts     eventloop.Options
	eng      gnet.Engine
	booted   chan struct{} // closed by the first OnTick: the event loops exist
	bootOnce sync.Once
	done     chan struct{} // closed when gnet.Run has returned
	err      error
	stopping atomic.Bool

	mu    sync.Mutex
	loops map[gnet.EventLoop]*loop
}

// listenSeq numbers the sockets gnet listens on.
var listenSeq atomic.Int64

// Start implements eventloop.Engine. gnet listens on a unix socket that no
// client knows: clients come from the server's accept loops through
// Register, so that an accept(2) error (EMFILE), which stops a whole gnet
// engine, never reaches gnet.
//
// The socket is a file in a private directory under os.TempDir, not an
// abstract socket: gnet v2.10.0 parses its address as a URL, which makes
// "unix://@name" the relative path "name" (the '@' ends a userinfo), so the
// socket landed in the working directory, and a non-root process in a
// directory it cannot write (a container, a sidecar) could not start. With
// no writable temporary directory, gnet listens on an ephemeral loopback
// TCP port instead; a connection to it has no tag and is refused.
//
// Every gnet loop blocks in epoll_wait holding its P, so Start asks for one
// P beyond the loops of all running gnet engines (procs.go).
func (e *Engine) Start(opts eventloop.Options, h eventloop.Handler) error {
	e.opts, e.h = opts, h
	if n := reserveProcs(opts.Loops); n > startProcs {
		opts.Logger.Debug("GOMAXPROCS raised: one P beyond the event loops for Go's netpoller", "gomaxprocs", n, "loops", opts.Loops)
	}
	addr, cleanup := listenAddr()
	go func() {
		defer cleanup()
		err := gnet.Run(e, addr,
			gnet.WithMulticore(true),
			gnet.WithNumEventLoop(opts.Loops),
			gnet.WithLoadBalancing(gnet.LeastConnections),
			gnet.WithTicker(true),
			gnet.WithReusePort(false),
			gnet.WithLogger(gnetLogger{opts.Logger}),
			gnet.WithLockOSThread(false),
			gnet.WithReadBufferCap(opts.ReadBuffer),
		)
		if err == nil && !e.stopping.Load() {
			err = errors.New("gnet: event loops stopped unexpectedly")
		}
		e.err = err
		releaseProcs(opts.Loops)
		close(e.done)
	}()
	select {
	case <-e.booted:
		return nil
	case <-e.done:
		return e.err
	}
}

// listenAddr returns the address gnet listens on, and what removes it.
func listenAddr() (string, func()) {
	dir, err := os.MkdirTemp("", "sluice-engine-")
	if err != nil {
		return "tcp://127.0.0.1:0", func() {}
	}
	path := filepath.Join(dir, fmt.Sprintf("gnet-%d.sock", listenSeq.Add(1)))
	return "unix://" + path, func() { _ = os.RemoveAll(dir) }
}

// Register implements eventloop.Engine: gnet picks the loop with the fewest
// connections.
func (e *Engine) Register(tc *net.TCPConn, tag any) error {
	ctx := gnet.NewContext(gnet.NewNetConnContext(context.Background(), tc), tag)
	ch, err := e.eng.Register(ctx)
	if err != nil {
		_ = tc.Close()
		return err
	}
	// gnet enrolled a duplicate of the descriptor and closed tc.
	return (<-ch).Err
}

// Stop implements eventloop.Engine.
func (e *Engine) Stop(ctx context.Context) error {
	e.stopping.Store(true)
	err := e.eng.Stop(ctx)
	<-e.done
	if err == nil {
		err = e.err
	}
	return err
}

// Done implements eventloop.Engine.
func (e *Engine) Done() <-chan struct{} { return e.done }

// Err implements eventloop.Engine.
func (e *Engine) Err() error {
	select {
	case <-e.done:
		return e.err
	default:
		return nil
	}
}

// OnBoot records the gnet engine. Its event loops do not exist yet: OnTick
// says when they do.
func (e *Engine) OnBoot(eng gnet.Engine) gnet.Action {
	e.eng = eng
	return gnet.None
}

// OnTick runs first once gnet has made its event loops (Register fails
// before that), and tells Start. The proxy's clock is the server's own
// ticker, so it asks to run again only after a long time.
func (e *Engine) OnTick() (time.Duration, gnet.Action) {
	e.bootOnce.Do(func() { close(e.booted) })
	return time.Hour, gnet.None
}

// loopOf returns the loop state of el, made on first use.
func (e *Engine) loopOf(el gnet.EventLoop) *loop {
	e.mu.Lock()
	defer e.mu.Unlock()
	l := e.loops[el]
	if l == nil {
		l = &loop{el: el}
		e.loops[el] = l
	}
	return l
}

// OnOpen hands a registered or enrolled connection, with the tag it came
// with, to the handler. A connection through gnet's own listener has no tag:
// the handler refuses it.
func (e *Engine) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	l := e.loopOf(c.EventLoop())
	s := &sock{c: c, l: l, fd: c.Fd()}
	tag := c.Context()
	c.SetContext(s)
	ep := e.h.Open(l, s, tag)
	if ep == nil {
		s.dead = true
		return nil, gnet.Close
	}
	s.ep = ep
	if s.early {
		// Closed by a failed write inside Open; deliver it now that the
		// endpoint exists.
		err := s.earlyErr
		l.Execute(func() { ep.Closed(err) })
	}
	return nil, gnet.None
}

// OnTraffic tells the socket's endpoint that bytes arrived. A socket taken
// off the loop from inside its own OnTraffic is closed by returning Close,
// so gnet never reads it again.
func (e *Engine) OnTraffic(c gnet.Conn) gnet.Action {
	s, ok := c.Context().(*sock)
	if !ok || s.dead {
		return gnet.Close // stale: detached already
	}
	l := s.l
	l.inTraffic = s
	s.ep.Traffic()
	l.inTraffic = nil
	if l.closeOnReturn {
		l.closeOnReturn = false
		return gnet.Close
	}
	return gnet.None
}

// OnClose tells the endpoint the connection closed, unless its socket was
// detached (that close is not the peer's: the socket lives on). A close
// inside Socket.Write (gnet closes synchronously on a write error) is
// delivered after the write's caller has returned, through Execute. After
// OnClose gnet reuses the Conn: the socket is dead.
func (e *Engine) OnClose(c gnet.Conn, err error) gnet.Action {
	s, ok := c.Context().(*sock)
	c.SetContext(nil)
	if !ok || s.dead {
		return gnet.None
	}
	s.dead = true
	switch {
	case s.ep == nil:
		s.early, s.earlyErr = true, err
	case s.l.writing > 0:
		ep := s.ep
		s.l.Execute(func() { ep.Closed(err) })
	default:
		s.ep.Closed(err)
	}
	return gnet.None
}

// loop is one gnet event loop. Its fields belong to that loop's goroutine.
type loop struct {
	el            gnet.EventLoop
	inTraffic     *sock // the socket whose OnTraffic is running
	closeOnReturn bool  // close inTraffic's Conn when its OnTraffic returns
	writing       int   // Socket.Write calls in progress
}

// Execute implements eventloop.Loop.
func (l *loop) Execute(f func()) {
	_ = l.el.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
		f()
		return nil
	}))
}

// Enroll implements eventloop.Loop.
func (l *loop) Enroll(c eventloop.Conn, tag any) error {
	ch, err := l.el.Enroll(gnet.NewContext(context.Background(), tag), c)
	if err != nil {
		_ = c.Close()
		return err
	}
	return (<-ch).Err
}

// sock is a gnet connection as package engine sees it. Owned by its loop.
// Once dead (closed, or detached) its Conn belongs to gnet again and is not
// touched.
type sock struct {
	c        gnet.Conn
	l        *loop
	fd       int // c's descriptor, for Write's direct path
	ep       eventloop.Endpoint
	dead     bool
	early    bool // closed before Open returned
	earlyErr error
}

// Input implements eventloop.Socket.
func (s *sock) Input() []byte {
	if s.dead {
		return nil
	}
	b, _ := s.c.Peek(-1)
	return b
}

// Discard implements eventloop.Socket. Never Discard(0): gnet discards
// everything for n <= 0.
func (s *sock) Discard(n int) {
	if !s.dead && n > 0 {
		_, _ = s.c.Discard(n)
	}
}

// InboundBuffered implements eventloop.Socket.
func (s *sock) InboundBuffered() int {
	if s.dead {
		return 0
	}
	return s.c.InboundBuffered()
}

// Write implements eventloop.Socket.
//
// With nothing queued in gnet's outbound buffer, the bytes go straight to
// the socket with a raw write(2), as gnet itself would write them but
// without the Go scheduler's entersyscall/exitsyscall around a system call
// that cannot block (the socket is non-blocking): two writes per proxied
// request. Whatever that leaves (a partial write, EAGAIN, an error) goes to
// gnet's Write, which writes it again and buffers it, or closes the
// connection, exactly as for its own writes.
func (s *sock) Write(b []byte) {
	if s.dead {
		return
	}
	if len(b) > 0 && s.c.OutboundBuffered() == 0 {
		n, _, errno := unix.RawSyscall(unix.SYS_WRITE, uintptr(s.fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
		if errno == 0 {
			if b = b[n:]; len(b) == 0 {
				return
			}
		}
	}
	s.l.writing++
	_, _ = s.c.Write(b)
	s.l.writing--
}

// OutboundBuffered implements eventloop.Socket.
func (s *sock) OutboundBuffered() int {
	if s.dead {
		return 0
	}
	return s.c.OutboundBuffered()
}

// Close implements eventloop.Socket: gnet closes it on the loop, later.
func (s *sock) Close() {
	if !s.dead {
		_ = s.c.Close()
	}
}

// RemoteAddr implements eventloop.Socket.
func (s *sock) RemoteAddr() netip.AddrPort {
	if ta, ok := s.c.RemoteAddr().(*net.TCPAddr); ok {
		return ta.AddrPort()
	}
	return netip.AddrPort{}
}

// Detach implements eventloop.Socket: it duplicates the descriptor, wraps the
// copy in an eventloop.Conn (eventloop.FileConn), and closes the gnet side, which sends no FIN
// because the socket is still open through the copy. Synchronously, or, from
// inside the socket's own OnTraffic, as that callback returns, so gnet never
// reads the socket again; it reads only on the loop, so nothing is read after
// Detach (rest is nil).
func (s *sock) Detach() (eventloop.Conn, func() []byte, error) {
	if s.dead {
		return nil, nil, net.ErrClosed
	}
	fd, err := s.c.Dup()
	if err != nil {
		return nil, nil, err
	}
	tc, err := eventloop.FileConn(fd)
	if err != nil {
		return nil, nil, err
	}
	s.dead = true
	if s.l.inTraffic == s {
		s.l.closeOnReturn = true
	} else {
		_ = s.l.el.Close(s.c)
	}
	return tc, nil, nil
}
