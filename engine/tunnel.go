package engine

import (
	"errors"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluiceproxy/sluice/engine/eventloop"
	"github.com/sluiceproxy/sluice/proxy"
)

// A tunnel is a client connection and an upstream connection taken off the
// event loop (stream mode, DESIGN.md) and relayed byte for byte by a
// goroutine pair with splice(2): CONNECT tunnels and upgraded connections.
// The kernel's TCP flow control is the backpressure, so memory stays bounded
// however fast one side sends and however slowly the other reads.
//
// Set before run starts and then read-only, except last, toCl and fromCl
// (atomics, written by both directions' goroutines) and rec (written by run
// once both directions have ended).
type tunnel struct {
	srv            *Server
	client, up     eventloop.Conn
	upAddr         netip.AddrPort
	toClient, toUp []byte        // bytes to deliver first: preface and carried input
	clientRest     func() []byte // Socket.Detach's rest of the client: more for toUp
	upRest         func() []byte // ... of the upstream: more for toClient
	idle           time.Duration // both directions silent this long: the tunnel ends
	last           atomic.Int64  // unix nanoseconds of the last byte moved

	rec          proxy.Record // the request that opened the tunnel, if observed
	observed     bool
	toCl, fromCl atomic.Int64 // bytes moved to and from the client
}

// run relays until both directions end, then closes both connections and
// releases what they were counted against.
func (t *tunnel) run() {
	defer t.srv.tunnelEnded(t)
	if t.clientRest != nil {
		b := t.clientRest()
		t.toUp = append(t.toUp, b...)
		t.fromCl.Add(int64(len(b)))
	}
	if t.upRest != nil {
		b := t.upRest()
		t.toClient = append(t.toClient, b...)
		t.toCl.Add(int64(len(b)))
	}
	t.last.Store(time.Now().UnixNano())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t.pipe(t.client, t.up, t.toClient, &t.toCl)
	}()
	t.pipe(t.up, t.client, t.toUp, &t.fromCl)
	wg.Wait()
	t.client.Close()
	t.up.Close()
	if t.observed {
		// The preface and the bytes already counted by the session are in
		// rec; add what the tunnel moved.
		t.rec.BytesOut += t.toCl.Load()
		t.rec.BytesIn += t.fromCl.Load()
		t.rec.Duration = time.Since(t.rec.Start)
		t.srv.cfg.Observer.Observe(&t.rec)
	}
}

// pipe copies src to dst after writing first; at src's EOF it passes the
// half-close on with CloseWrite (RFC 9110 §9.3.6: a tunnel closes each side as
// the other does). On an error or idle timeout it ends both directions.
func (t *tunnel) pipe(dst, src eventloop.Conn, first []byte, moved *atomic.Int64) {
	if len(first) > 0 {
		if _, err := dst.Write(first); err != nil {
			t.abort()
			return
		}
		t.last.Store(time.Now().UnixNano())
	}
	const chunk = 1 << 20
	m := newMover(t.srv.fds) // splice(2) through a pipe of its own, if the budget allows
	defer m.close()
	for {
		_ = src.SetReadDeadline(time.Now().Add(t.idle))
		n, err := m.move(dst, src, chunk)
		if n > 0 {
			t.last.Store(time.Now().UnixNano())
			moved.Add(n)
		}
		switch {
		case err == nil && n < chunk:
			_ = dst.CloseWrite() // src sent FIN
			return
		case err == nil:
			continue
		case errors.Is(err, os.ErrDeadlineExceeded):
			if time.Since(time.Unix(0, t.last.Load())) < t.idle {
				continue // the other direction is active
			}
			t.abort()
			return
		default:
			t.abort()
			return
		}
	}
}

// abort ends both directions at once.
func (t *tunnel) abort() {
	past := time.Unix(1, 0)
	_ = t.client.SetDeadline(past)
	_ = t.up.SetDeadline(past)
}

// tunnels tracks running tunnels so that Stop can end them.
type tunnels struct {
	mu   sync.Mutex
	set  map[*tunnel]struct{}    // guarded by mu
	jobs map[*streamJob]struct{} // guarded by mu
}

func (s *Server) tunnelStarted(t *tunnel) {
	s.tun.mu.Lock()
	if s.tun.set == nil {
		s.tun.set = make(map[*tunnel]struct{})
	}
	s.tun.set[t] = struct{}{}
	s.tun.mu.Unlock()
	s.ctr.tunnels.Add(1)
	s.ctr.tunnelsActive.Add(1)
}

func (s *Server) tunnelEnded(t *tunnel) {
	s.tun.mu.Lock()
	delete(s.tun.set, t)
	s.tun.mu.Unlock()
	s.ctr.tunnelsActive.Add(-1)
	s.clientClosed()
	s.upClosed()
	s.hostLimit.Release(t.upAddr)
}

// abortTunnels ends every running tunnel (the drain timeout passed).
func (s *Server) abortTunnels() {
	s.tun.mu.Lock()
	for t := range s.tun.set {
		t.abort()
	}
	for j := range s.tun.jobs {
		j.abort()
	}
	s.tun.mu.Unlock()
}

// startTunnel detaches the client and its upstream from the loop and starts
// the tunnel. A detached socket's queued output is not sent, so a side with
// output pending is waited for: the check runs again shortly.
func (cc *clientConn) startTunnel() {
	up := cc.up
	if up == nil || up.st != upOnLoop || cc.p.Gone() {
		cc.want = noHandover
		cc.abortTunnelStart()
		return
	}
	if cc.c.OutboundBuffered() > 0 || up.c.OutboundBuffered() > 0 {
		cc.retryTunnelStart()
		return
	}
	cc.want = noHandover
	cc.dropPin()
	t := &tunnel{srv: cc.l.srv, upAddr: up.addr, idle: cc.l.srv.cfg.IdleTimeout}
	if cc.l.srv.cfg.Observer != nil {
		t.rec, t.observed = cc.p.S.TunnelRecord()
	}
	// The preface is in the record already; the carried client bytes are not.
	// What the client sent after the head: carried bytes first, then
	// what the socket buffered since.
	t.toUp = append(append([]byte(nil), cc.carry...), cc.c.Input()...)
	cc.carry = nil
	t.toClient = cc.tunnelPreface
	prefaceLen := len(t.toClient)
	cc.tunnelPreface = nil
	t.toClient = append(append(t.toClient, up.carry...), up.c.Input()...)
	up.carry = nil
	cn, cRest, err := cc.c.Detach()
	if err != nil {
		cc.l.srv.cfg.Logger.Warn("tunnel: detach failed", "err", err)
		cc.abortTunnelStart()
		return
	}
	un, uRest, err := up.c.Detach()
	if err != nil {
		// The client's socket left with cn: no close event will come for
		// it, so it is accounted for here.
		cn.Close()
		cc.l.srv.cfg.Logger.Warn("tunnel: detach failed", "err", err)
		cc.up, up.owner = nil, nil
		up.close()
		cc.move(sockClosed)
		cc.l.srv.clientClosed()
		cc.p.ClientClosed()
		return
	}
	t.client, t.up = cn, un
	t.clientRest, t.upRest = cRest, uRest
	// The sockets live on in cn and un; the engine reports no close for
	// the detached sides, so nothing is uncounted until the tunnel ends.
	cc.move(sockTunnel)
	up.move(upTunnel)
	cc.up, up.owner = nil, nil
	cc.l.wheel.remove(&cc.timer)
	delete(cc.l.clients, cc)
	t.fromCl.Add(int64(len(t.toUp)))
	t.toCl.Add(int64(len(t.toClient) - prefaceLen))
	cc.l.srv.tunnelStarted(t)
	go t.run()
}

// retryTunnelStart checks again shortly whether both sides drained.
func (cc *clientConn) retryTunnelStart() {
	cc.retryLater(func() {
		if cc.want == wantTunnel && !cc.p.Gone() {
			cc.startTunnel()
		}
	})
}

// abortTunnelStart closes both sides when the tunnel cannot start.
func (cc *clientConn) abortTunnelStart() {
	if up := cc.up; up != nil {
		cc.up, up.owner = nil, nil
		up.close()
	}
	if !cc.p.Gone() {
		cc.c.Close()
	}
}
