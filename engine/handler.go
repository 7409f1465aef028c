package engine

import (
	"time"

	"github.com/sluiceproxy/sluice/engine/eventloop"
	"github.com/sluiceproxy/sluice/engine/gnetengine"
	"github.com/sluiceproxy/sluice/engine/netpollengine"
)

// Open implements eventloop.Handler: a client admitted by the accept loop starts its
// session; an upstream connection (dialed, or back from stream mode) goes to
// the session that wants it. A connection with no tag is nobody's: refused.
func (s *Server) Open(x eventloop.Loop, sock eventloop.Socket, tag any) eventloop.Endpoint {
	switch t := tag.(type) {
	case accepted:
		cc := s.loopFor(x).newClient(sock)
		if t.transparent {
			cc.p.Transparent(t.orig)
		}
		return cc
	case *upConn:
		t.opened(sock)
		return t
	case reattach:
		return t.opened(sock)
	}
	return nil
}

// Traffic implements eventloop.Endpoint for the client: feed its bytes to the session.
func (cc *clientConn) Traffic() {
	l := cc.l
	l.inEvent, l.eventAt = true, time.Now()
	cc.p.Settle()
	l.inEvent = false
}

// Closed implements eventloop.Endpoint for the client. A client already gone (stream
// mode failed) was accounted for then.
func (cc *clientConn) Closed(error) {
	if cc.p.Gone() || cc.where == sockTunnel {
		return
	}
	cc.l.srv.clientClosed()
	cc.p.ClientClosed()
}

// Traffic implements eventloop.Endpoint for the upstream.
func (up *upConn) Traffic() {
	l := up.l
	l.inEvent, l.eventAt = true, time.Now()
	up.traffic()
	l.inEvent = false
}

// Closed implements eventloop.Endpoint for the upstream. One already gone
// (stream mode failed) was accounted for then.
func (up *upConn) Closed(err error) {
	if up.st == upOnLoop || up.st == upClosing {
		up.closed(err)
	}
}

// newEngine returns a new engine called name (Config.Engine), or nil.
func newEngine(name string) eventloop.Engine {
	switch name {
	case "gnet":
		return gnetengine.New()
	case "netpoll":
		return netpollengine.New()
	}
	return nil
}
