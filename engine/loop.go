package engine

import (
	"net"
	"net/netip"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/sluiceproxy/sluice/pool"
)

// loop is the state one gnet event loop owns: its clients, its idle upstream
// pool, its timing wheel. Only that loop's goroutine touches it (the Server's
// ticker reaches it through EventLoop.Execute).
type loop struct {
	srv     *Server
	el      gnet.EventLoop
	idle    pool.Idle[*upConn]
	wheel   *wheel
	clients map[*clientConn]struct{}
	closing []*clientConn // clients waiting for their output to drain before closing
	expired []*upConn     // scratch for idle connections to close
	lastGC  time.Time

	inTraffic     gnet.Conn // the connection whose OnTraffic is running
	trafficAt     time.Time // when that OnTraffic began: the clock inside it
	closeOnReturn bool      // close inTraffic when its OnTraffic returns
	// detached holds gnet Conns closed because their socket left the loop
	// (stream mode, tunnels): their OnClose is not a peer's close.
	detached map[gnet.Conn]struct{}
}

// closeNow closes c on this loop at once, so that gnet never reads its socket
// again (its descriptor was duplicated for stream mode): synchronously, or,
// from inside c's own OnTraffic, as that callback returns.
func (l *loop) closeNow(c gnet.Conn) {
	if l.detached == nil {
		l.detached = make(map[gnet.Conn]struct{})
	}
	l.detached[c] = struct{}{}
	if l.inTraffic == c {
		l.closeOnReturn = true
		return
	}
	_ = l.el.Close(c)
}

// now is the loop's clock: inside an OnTraffic callback, the time it began
// (one clock read per event instead of one per timestamp, like Envoy's
// approximate dispatcher time); elsewhere, time.Now.
func (l *loop) now() time.Time {
	if l.inTraffic != nil {
		return l.trafficAt
	}
	return time.Now()
}

func newLoop(s *Server, el gnet.EventLoop) *loop {
	now := time.Now()
	l := &loop{
		srv:     s,
		el:      el,
		wheel:   newWheel(DefaultTick, now),
		clients: make(map[*clientConn]struct{}),
		lastGC:  now,
	}
	l.idle.MaxPerHost = s.cfg.MaxIdlePerHost
	l.idle.Timeout = s.cfg.UpstreamIdle
	return l
}

// newClient starts the session of an accepted connection.
func (l *loop) newClient(c gnet.Conn) *clientConn {
	cc := &clientConn{c: c, l: l}
	cc.timer.slot = -1
	cc.timer.fire = cc.timeout
	l.clients[cc] = struct{}{}
	var client netip.AddrPort
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		client = ta.AddrPort()
	}
	cc.s.Init(&l.srv.cfg, cc, l.srv.self, client)
	if l.srv.draining.Load() {
		cc.s.Drain()
	}
	return cc
}

// tick advances the wheel, closes drained clients and expires idle upstreams.
func (l *loop) tick() {
	now := time.Now()
	l.wheel.advance(now)
	l.closeDrained()
	if now.Sub(l.lastGC) >= time.Second {
		l.lastGC = now
		l.expired = l.idle.Expire(now, l.expired[:0])
		for i, up := range l.expired {
			up.close()
			l.expired[i] = nil
		}
	}
}

// closeDrained closes the clients whose last bytes have left.
func (l *loop) closeDrained() {
	keep := l.closing[:0]
	for _, cc := range l.closing {
		if cc.gone {
			continue
		}
		if cc.c.OutboundBuffered() == 0 {
			_ = cc.c.Close()
			continue
		}
		keep = append(keep, cc)
	}
	clear(l.closing[len(keep):])
	l.closing = keep
}

// drain starts a graceful shutdown of this loop's clients and idle pool.
func (l *loop) drain() {
	for cc := range l.clients {
		cc.depth++
		cc.s.Drain()
		cc.depth--
		cc.settleIfIdle()
	}
	l.expired = l.idle.Drain(l.expired[:0])
	for i, up := range l.expired {
		up.close()
		l.expired[i] = nil
	}
	l.closeDrained()
}
