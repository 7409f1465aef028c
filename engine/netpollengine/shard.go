package netpollengine

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/cloudwego/netpoll"
	"golang.org/x/sys/unix"

	"github.com/sluiceproxy/sluice/engine/eventloop"
)

// shard is one eventloop.Loop: not a goroutine but a lock. Whoever runs
// something on the shard (a netpoll OnRequest for one of its sockets, the
// task drainer, Enroll calling Open, Stop) holds mu for the duration, so the
// shard's sockets and everything the Handler keeps per loop are touched by
// one goroutine at a time.
//
// conns and stopped are owned by mu. n is atomic (read by Register). q and
// draining are guarded by qmu, a leaf lock never held while running
// anything.
type shard struct {
	eng *netpollEngine

	mu      sync.Mutex
	conns   map[*socket]struct{} // sockets with an Endpoint, until Closed or Detach
	stopped bool

	n atomic.Int64 // sockets enrolled and not yet finished or detached

	qmu      sync.Mutex
	q        []func()
	draining bool // a drain goroutine has been started and has not seen q empty
}

// Execute queues f and makes sure a drain goroutine will run it under mu,
// after everything queued before it. It never runs f itself, so it may be
// called from anywhere, the shard included, without re-entering it.
func (sh *shard) Execute(f func()) {
	sh.qmu.Lock()
	sh.q = append(sh.q, f)
	start := !sh.draining
	sh.draining = true
	sh.qmu.Unlock()
	if start {
		go sh.drain()
	}
}

// drain takes the shard and runs queued tasks in order until the queue is
// empty. Tasks queued by a task run in a later round of the same drain.
func (sh *shard) drain() {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	for {
		sh.qmu.Lock()
		q := sh.q
		sh.q = nil
		if len(q) == 0 {
			sh.draining = false
			sh.qmu.Unlock()
			return
		}
		sh.qmu.Unlock()
		for i, f := range q {
			q[i] = nil
			f()
		}
	}
}

// Enroll puts tc on this shard: its fd (a duplicate; tc is closed) is given
// to netpoll, then Open runs under the shard lock, and only then is the
// OnRequest callback armed, so Traffic never comes before Open. A Unix
// socket (a TLS bridge's end) has no remote address.
func (sh *shard) Enroll(tc eventloop.Conn, tag any) error {
	e := sh.eng
	if !e.addLive() {
		tc.Close()
		return ErrStopped
	}
	var raddr netip.AddrPort
	if a, ok := tc.RemoteAddr().(*net.TCPAddr); ok {
		ap := a.AddrPort()
		raddr = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	fd, err := dupFD(tc)
	// Closing tc removes Go's epoll registration for its fd before the
	// close, so the duplicate has no stale registration left.
	tc.Close()
	if err != nil {
		e.doneLive()
		return err
	}
	c, err := netpoll.NewFDConnection(fd)
	if err != nil {
		// NewFDConnection closes the connection, and so fd, on failure.
		e.doneLive()
		return err
	}
	s := newSocket(sh, c, fd, raddr)
	// Added after netpoll's own finaliser, so it runs before it: the fd and
	// buffers are still there.
	_ = c.AddCloseCallback(s.netpollClosed)
	sh.n.Add(1)

	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.stopped {
		s.state = stClosing
		s.conn.Close()
		return ErrStopped
	}
	ep := e.h.Open(sh, s, tag)
	if s.state == stDetached {
		return nil
	}
	if ep == nil {
		if s.state == stOpen {
			s.closeWith(nil, true)
		}
		return nil
	}
	s.ep = ep
	sh.conns[s] = struct{}{}
	if s.state != stOpen {
		return nil // closed in Open: Closed is queued already
	}
	// Runs OnRequest at once if bytes arrived already.
	_ = c.SetOnRequest(s.onRequest)
	if !c.IsActive() {
		// The peer hung up before OnRequest was set, and netpoll runs no
		// close callbacks for a connection without one unless closed by
		// its user; Close does that (or nothing, if they ran meanwhile).
		// Bytes that arrived before the hang-up are still delivered.
		c.Close()
	}
	return nil
}

// stop closes every socket on the shard and refuses further Enrolls.
func (sh *shard) stop() {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.stopped = true
	for s := range sh.conns {
		if s.state == stOpen {
			s.closeWith(nil, true)
		}
	}
}

// dupFD duplicates tc's fd (close-on-exec) without going through os.File,
// whose Fd would switch the shared file description to blocking mode.
func dupFD(tc syscall.Conn) (int, error) {
	rc, err := tc.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	var derr error
	if err := rc.Control(func(s uintptr) {
		fd, derr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return -1, err
	}
	return fd, derr
}
