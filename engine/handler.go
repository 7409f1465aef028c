package engine

import (
	"time"

	"github.com/panjf2000/gnet/v2"
)

// handler is the gnet event handler. gnet calls it on the event loop that owns
// the connection, so everything it touches through the connection's context
// belongs to that loop.
type handler struct {
	gnet.BuiltinEventEngine
	srv *Server
}

// OnBoot records the engine. Its event loops do not exist yet: OnTick says
// when they do.
func (h *handler) OnBoot(eng gnet.Engine) gnet.Action {
	h.srv.eng = eng
	return gnet.None
}

// OnTick runs first once gnet has made its event loops (Register fails
// before that), and tells Start. It is not the proxy's clock (Server.ticker
// drives the timing wheels), so it asks to run again only after a long time.
func (h *handler) OnTick() (time.Duration, gnet.Action) {
	h.srv.bootOnce.Do(func() { close(h.srv.booted) })
	return time.Hour, gnet.None
}

// OnOpen sets up a client connection enrolled by the accept loop (counted
// and admitted there), or hands an enrolled upstream connection (its context
// set by Enroll) to the session that dialed it. Anything else came through
// gnet's own listener, which no client should know: it is closed.
func (h *handler) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	switch x := c.Context().(type) {
	case *upConn:
		x.opened(c)
		return nil, gnet.None
	case reattach:
		x.opened(c)
		return nil, gnet.None
	case accepted:
	default:
		return nil, gnet.Close
	}
	s := h.srv
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
			h.srv.clientClosed()
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
