package engine

import (
	"net"
	"net/netip"
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"github.com/sluiceproxy/sluice/policy"
)

// handler is the gnet event handler. gnet calls it on the event loop that owns
// the connection, so everything it touches through the connection's context
// belongs to that loop.
type handler struct {
	gnet.BuiltinEventEngine
	srv *Server
}

// OnBoot records the engine and the listener's bound address.
func (h *handler) OnBoot(eng gnet.Engine) gnet.Action {
	s := h.srv
	s.eng = eng
	if fd, err := eng.Dup(); err == nil {
		if sa, err := unix.Getsockname(fd); err == nil {
			switch a := sa.(type) {
			case *unix.SockaddrInet4:
				s.self = listenAddrs(netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port)))
			case *unix.SockaddrInet6:
				s.self = listenAddrs(netip.AddrPortFrom(netip.AddrFrom16(a.Addr), uint16(a.Port)))
			}
		}
		_ = unix.Close(fd)
	}
	close(s.booted)
	return gnet.None
}

// OnOpen sets up an accepted client connection, or hands an enrolled upstream
// connection (its context set by Enroll) to the session that dialed it.
func (h *handler) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	switch x := c.Context().(type) {
	case *upConn:
		x.opened(c)
		return nil, gnet.None
	case reattach:
		x.opened(c)
		return nil, gnet.None
	}
	s := h.srv
	n := s.conns.Add(1)
	if s.draining.Load() {
		s.conns.Add(-1)
		return nil, gnet.Close
	}
	if n > int64(s.cfg.MaxConns) {
		s.conns.Add(-1)
		status, detail := errorResponse(ErrTooManyConns)
		return appendErrorResponse(nil, status, detail, true, false, nil), gnet.Close
	}
	if p := s.cfg.Policy; p != nil {
		if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok && !p.ClientAllowed(ta.AddrPort().Addr()) {
			// Not an open proxy: a client outside the ACL gets 403, then
			// the connection closes.
			s.conns.Add(-1)
			status, detail := errorResponse(policy.ErrClientDenied)
			return appendErrorResponse(nil, status, detail, true, false, nil), gnet.Close
		}
	}
	l := s.loopFor(c.EventLoop())
	cc := l.newClient(c)
	c.SetContext(cc)
	return nil, gnet.None
}

// OnTraffic feeds a connection's buffered bytes to its session.
//
// A connection being taken off the loop from inside its own OnTraffic is
// closed by returning Close, so gnet never reads its socket again.
func (h *handler) OnTraffic(c gnet.Conn) gnet.Action {
	var l *loop
	switch x := c.Context().(type) {
	case *clientConn:
		if _, ok := x.l.detached[c]; ok || x.c != c {
			return gnet.Close // stale: detached already
		}
		l = x.l
		l.inTraffic, l.trafficAt = c, time.Now()
		x.pump()
	case *upConn:
		if _, ok := x.l.detached[c]; ok || x.c != c {
			return gnet.Close
		}
		l = x.l
		l.inTraffic, l.trafficAt = c, time.Now()
		x.traffic()
	default:
		return gnet.None
	}
	l.inTraffic = nil
	if l.closeOnReturn {
		l.closeOnReturn = false
		return gnet.Close
	}
	return gnet.None
}

// OnClose tells the session its peer is gone. After it returns the Conn is
// never used again: gnet reuses its descriptor number.
func (h *handler) OnClose(c gnet.Conn, err error) gnet.Action {
	// A connection taken off the loop (a tunnel, stream mode) closes its
	// gnet side while the socket lives on: that close is not the peer's, and
	// the connection stays counted.
	switch x := c.Context().(type) {
	case *clientConn:
		if _, ok := x.l.detached[c]; ok {
			delete(x.l.detached, c)
			break
		}
		if x.c == c && !x.detached {
			x.closed(err)
			h.srv.conns.Add(-1)
		}
	case *upConn:
		if _, ok := x.l.detached[c]; ok {
			delete(x.l.detached, c)
			break
		}
		if x.c == c {
			x.closed(err)
		}
	}
	c.SetContext(nil)
	return gnet.None
}
