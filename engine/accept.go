package engine

import (
	"errors"
	"net"
	"net/netip"
	"time"

	"github.com/sluiceproxy/sluice/policy"
	"github.com/sluiceproxy/sluice/proxy"
)

// sluice accepts client connections itself, on Go's poller, and registers
// each with the engine; gnet's own listener is an abstract unix socket that
// no client is told about. The reason is accept(2) failing: gnet stops its
// whole engine on any accept error but EAGAIN, EINTR and ECONNABORTED, so one
// EMFILE would end the proxy (DESIGN.md, gnet facts; the red-team finding
// "running out of file descriptors kills the process"). Here an accept error
// is counted and backed off from, like net/http's Server does, and a client
// beyond the fd budget or the connection cap is answered 503 and closed
// before it costs an event loop anything.

// acceptBackoffMax bounds the back-off after failed accepts.
const acceptBackoffMax = time.Second

// accepted tags a client connection admitted by the accept loop (counted
// already) as it is registered with the engine. A connection of the
// transparent listener carries its original destination.
type accepted struct {
	transparent bool
	orig        netip.AddrPort
}

// listen binds the proxy's listener. Go sets SO_REUSEADDR on it, so a
// restarted sluice binds at once while connections of the old one linger in
// TIME_WAIT.
func (s *Server) listen() error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return err
	}
	s.ln = ln.(*net.TCPListener)
	s.self = listenAddrs(s.ln.Addr().(*net.TCPAddr).AddrPort())
	if s.cfg.TransparentListen != "" {
		tln, err := net.Listen("tcp", s.cfg.TransparentListen)
		if err != nil {
			_ = s.ln.Close()
			return err
		}
		s.tln = tln.(*net.TCPListener)
		s.self = append(s.self, listenAddrs(s.tln.Addr().(*net.TCPAddr).AddrPort())...)
	}
	for _, ap := range s.cfg.Protected {
		s.self = append(s.self, listenAddrs(ap)...)
	}
	return nil
}

// acceptLoop accepts clients until the listener ln closes. Several run at
// once (one per event loop), so enrolling one connection does not hold up
// the next accept. A transparent listener's connections are tagged with
// their original destination.
func (s *Server) acceptLoop(ln *net.TCPListener, transparent bool) {
	defer s.acceptors.Done()
	var delay time.Duration
	for {
		c, err := ln.AcceptTCP()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// EMFILE, ENFILE, ENOBUFS, ENOMEM and anything else: the
			// listener is fine, the process is short of something. Wait
			// and try again; the connection waits in the backlog.
			s.ctr.acceptErrors.Add(1)
			if delay == 0 {
				delay = 5 * time.Millisecond
				s.cfg.Logger.Warn("accept failed, backing off", "err", err)
			} else if delay *= 2; delay > acceptBackoffMax {
				delay = acceptBackoffMax
			}
			select {
			case <-time.After(delay):
			case <-s.eng.Done():
				return
			}
			continue
		}
		if delay != 0 {
			s.cfg.Logger.Info("accepting again", "after", delay)
			delay = 0
		}
		tag := accepted{transparent: transparent}
		if transparent {
			tag.orig = originalDst(c)
		}
		s.admit(c, tag)
	}
}

// admit applies the checks that need no event loop, then registers c with
// the engine.
func (s *Server) admit(c *net.TCPConn, tag accepted) {
	if s.draining.Load() {
		_ = c.SetLinger(0)
		_ = c.Close()
		return
	}
	client := c.RemoteAddr().(*net.TCPAddr).AddrPort()
	if p := s.cfg.Current().Policy; p != nil && !p.ClientAllowed(client.Addr()) {
		// Not an open proxy: a client outside the ACL gets 403, then the
		// connection closes.
		s.refuse(c, policy.ErrClientDenied, tag.transparent)
		return
	}
	if !s.clientOpened() {
		s.ctr.refused.Add(1)
		s.refuse(c, proxy.ErrTooManyConns, tag.transparent)
		return
	}
	_ = c.SetNoDelay(true)
	// Registered off the accept loop. An engine enrolls a connection on a
	// loop between the loop's event batches, so an accept loop that waited
	// for each would enroll one connection per batch: under load, the last
	// of a burst of connects (a wrk run's 1000) waited 300 ms and more
	// (BenchmarkConnectBurst). Up to maxEnrolling wait at once; the
	// acceptors' wait group covers them, so Stop finds none half-done.
	s.enrolling <- struct{}{}
	s.acceptors.Add(1)
	go func() {
		defer func() {
			<-s.enrolling
			s.acceptors.Done()
		}()
		if err := s.eng.Register(c, tag); err != nil {
			// The engine closed the connection; it never reached Open.
			s.clientClosed()
		}
	}()
}

// maxEnrolling bounds the accepted connections waiting to be registered
// with the engine, all accept loops together; beyond it, the accept loops
// wait (the kernel's backlog holds the rest).
const maxEnrolling = 64

// refuse answers c with err's response and closes it, from the accept loop:
// the response is short, and the socket's send buffer takes it at once. A
// transparent connection, which may not speak HTTP, is closed unanswered.
func (s *Server) refuse(c *net.TCPConn, err error, transparent bool) {
	if !transparent {
		_ = c.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = c.Write(proxy.AppendRefusal(nil, err, time.Now()))
	}
	// Closed at once, not drained: a refused client must not keep holding a
	// descriptor when descriptors are what is short.
	_ = c.Close()
}

// clientOpened counts a new client connection: one more against MaxConns
// and one descriptor against the budget. It reports false, counting
// nothing, when either is full.
func (s *Server) clientOpened() bool {
	if s.conns.Add(1) > int64(s.cfg.MaxConns) {
		s.conns.Add(-1)
		return false
	}
	if !s.fds.Acquire(1) {
		s.conns.Add(-1)
		return false
	}
	return true
}

// clientClosed uncounts a client connection.
func (s *Server) clientClosed() {
	s.conns.Add(-1)
	s.fds.Release(1)
}

// upOpened counts a new upstream connection (from the start of its dial);
// false when the fd budget is full.
func (s *Server) upOpened() bool {
	if !s.fds.Acquire(1) {
		return false
	}
	s.upConns.Add(1)
	return true
}

// upClosed uncounts an upstream connection.
func (s *Server) upClosed() {
	s.upConns.Add(-1)
	s.fds.Release(1)
}

// FDs returns the server's file-descriptor budget, for other listeners of the
// process (the admin server) to count their connections in.
func (s *Server) FDs() *FDs { return s.fds }
