package engine

import (
	"sync/atomic"
	"time"

	"github.com/sluiceproxy/sluice/engine/eventloop"
	"github.com/sluiceproxy/sluice/pool"
	"github.com/sluiceproxy/sluice/proxy"
)

// loop is the state one event loop (or netpoll shard) owns: its clients, its
// idle upstream pool, its timing wheel. Only that loop touches it (the
// Server's ticker reaches it through Loop.Execute).
type loop struct {
	srv     *Server
	idx     int // the loop's number, in the order the loops were first seen
	x       eventloop.Loop
	idle    pool.Idle[*upConn]
	wheel   *wheel
	clients map[*clientConn]struct{}
	closing []*clientConn // clients waiting for their output to drain before closing
	expired []*upConn     // scratch for idle connections to close
	lastGC  time.Time

	inEvent bool      // a socket event (Traffic) is running
	eventAt time.Time // when it began: the clock inside it

	// Counted by the loop, read by Server.Counters: in the loop's own
	// cache lines, not shared with the other loops' counts.
	poolHits, poolMisses atomic.Int64
	_                    [64]byte // nor with whatever is allocated next
}

// now is the loop's clock: inside a Traffic event, the time it began (one
// clock read per event instead of one per timestamp, like Envoy's
// approximate dispatcher time); elsewhere, time.Now.
func (l *loop) now() time.Time {
	if l.inEvent {
		return l.eventAt
	}
	return time.Now()
}

func newLoop(s *Server, x eventloop.Loop) *loop {
	now := time.Now()
	l := &loop{
		srv:     s,
		x:       x,
		wheel:   newWheel(proxy.DefaultTick, now),
		clients: make(map[*clientConn]struct{}),
		lastGC:  now,
	}
	l.idle.MaxPerHost = s.cfg.MaxIdlePerHost
	l.idle.Timeout = s.cfg.UpstreamIdle
	return l
}

// newClient starts the session of an accepted connection.
func (l *loop) newClient(c eventloop.Socket) *clientConn {
	cc := &clientConn{c: c, l: l}
	cc.timer.fire = cc.timeout
	l.clients[cc] = struct{}{}
	cc.p.Init(cc)
	cc.p.S.Init(&l.srv.cfg, cc, l.srv.self, c.RemoteAddr())
	cc.p.S.SetShard(l.idx)
	if l.srv.draining.Load() {
		cc.p.S.Drain()
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
		if cc.p.Gone() {
			continue
		}
		if cc.c.OutboundBuffered() == 0 {
			cc.c.Close()
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
		cc.p.Drain()
	}
	l.expired = l.idle.Drain(l.expired[:0])
	for i, up := range l.expired {
		up.close()
		l.expired[i] = nil
	}
	l.closeDrained()
}
