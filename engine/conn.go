package engine

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"

	"github.com/sluiceproxy/sluice/engine/eventloop"
	"github.com/sluiceproxy/sluice/policy"
	"github.com/sluiceproxy/sluice/pool"
	"github.com/sluiceproxy/sluice/proxy"
	"github.com/sluiceproxy/sluice/resolver"
)

// clientConn is an accepted client connection and the Driver of its session,
// which it drives through a proxy.Pump (the settle protocol) as that pump's
// Port.
//
// Owned by its loop. After its socket closed (p.Gone), c is never touched
// again.
type clientConn struct {
	c     eventloop.Socket
	l     *loop
	p     proxy.Pump
	timer timer
	up    *upConn // the attached or dialing upstream, nil if none
	pin   *upConn // an idle upstream kept for this client alone (PinUpstream)

	where sockState // where the client's socket is; changed by move only
	want  handover  // a hand-over waiting for output to drain

	closeAsked bool // CloseClient was called: close once the socket is back
	retrying   bool // a retryLater is pending

	tunnelPreface []byte           // with want == wantTunnel
	streamSpec    proxy.StreamSpec // with want == wantStream

	// Stream mode (stream.go).
	carry    []byte         // client bytes taken off the socket, fed before its new input
	off      eventloop.Conn // with where == sockParked: the client's socket
	parkRest func() []byte  // with off: Socket.Detach's rest, not yet taken

	// wbuf gathers what the session writes to the client during one event,
	// so a response head and its body leave in one write(2): Flush runs
	// before control returns to the engine.
	wbuf []byte
}

// maxGather is the most wbuf holds; a larger write goes out directly.
const maxGather = 16 << 10

// sockState is where a client's socket is.
type sockState uint8

const (
	sockOnLoop    sockState = iota // on its loop: cc.c is live
	sockParked                     // off the loop (cc.off) while its request waits for a destination
	sockUnparking                  // going back to the loop
	sockStreaming                  // a stream job owns it and the upstream's
	sockTunnel                     // handed to a tunnel: the connection is the tunnel's (terminal)
	sockClosed                     // closed off the loop, or by a failed hand-over, and accounted for (terminal)
)

var sockStateNames = [...]string{"on-loop", "parked", "unparking", "streaming", "tunnel", "closed"}

func (s sockState) String() string { return sockStateNames[s] }

// sockMoves are the changes of sockState there are: the one transition
// function, move, refuses any other.
var sockMoves = [...][len(sockStateNames)]bool{
	sockOnLoop:    {sockParked: true, sockStreaming: true, sockTunnel: true, sockClosed: true},
	sockParked:    {sockUnparking: true, sockStreaming: true, sockClosed: true},
	sockUnparking: {sockOnLoop: true, sockClosed: true},
	sockStreaming: {sockOnLoop: true, sockClosed: true},
}

// move changes where the client's socket is. A change the design does not
// have is a bug in the engine.
func (cc *clientConn) move(to sockState) {
	if !sockMoves[cc.where][to] {
		panic(fmt.Sprintf("BUG: engine: client socket %v -> %v", cc.where, to))
	}
	cc.where = to
}

// handover is a hand-over the session asked for (through the pump) that
// waits for the receivers' queued output to drain.
type handover uint8

const (
	noHandover handover = iota
	wantStream          // stream mode (startStream)
	wantTunnel          // a tunnel (startTunnel)
)

// offLoop reports whether the client's socket is away from the loop
// (parked, streamed, coming back, a tunnel, closed): cc.c must not be used.
func (cc *clientConn) offLoop() bool { return cc.where != sockOnLoop }

// flushClient writes what wbuf gathered. Off the loop it waits: the client
// comes back to the loop (or the bytes are written to the parked socket by
// WriteClient).
func (cc *clientConn) flushClient() {
	if len(cc.wbuf) == 0 || cc.offLoop() {
		return
	}
	if !cc.p.Gone() {
		cc.c.Write(cc.wbuf)
	}
	cc.wbuf = cc.wbuf[:0]
}

// Away implements proxy.Port: while the socket is in stream mode, coming
// back, or waiting to leave for a stream, its bytes wait.
func (cc *clientConn) Away() bool {
	return cc.where == sockStreaming || cc.where == sockUnparking || cc.want == wantStream
}

// Starved implements proxy.Port: a parked client whose carried bytes are
// used up goes back to the loop, unless its body is streaming.
func (cc *clientConn) Starved() {
	if cc.where == sockParked && !cc.p.S.Streaming() {
		cc.unpark()
	}
}

// Flush implements proxy.Port.
func (cc *clientConn) Flush() { cc.flushClient() }

// StartTunnel implements proxy.Port.
func (cc *clientConn) StartTunnel(preface []byte) {
	if cc.where == sockTunnel {
		return
	}
	cc.want = wantTunnel
	cc.tunnelPreface = append(cc.tunnelPreface[:0], preface...)
	cc.startTunnel()
}

// StartStream implements proxy.Port.
func (cc *clientConn) StartStream(spec proxy.StreamSpec) {
	cc.want, cc.streamSpec = wantStream, spec
	cc.startStream()
}

// Gone implements proxy.Port: the session knows the client closed. An
// upstream still attached (a tunnel or stream hand-over was waiting for
// output to drain) goes with it.
func (cc *clientConn) Gone() {
	if up := cc.up; up != nil {
		cc.up, up.owner = nil, nil
		up.close()
	}
	cc.want = noHandover
	cc.dropPin()
	cc.l.wheel.remove(&cc.timer)
	delete(cc.l.clients, cc)
}

// OverBudget implements proxy.Port.
func (cc *clientConn) OverBudget() bool { return !cc.offLoop() && cc.overBudget() }

// Park implements proxy.Port: false when the socket could not leave the
// loop (netpoll refuses while output is queued), and the session aborts.
func (cc *clientConn) Park() bool {
	cc.park()
	return cc.where == sockParked
}

// Input implements proxy.Port: the client's unconsumed bytes (see inputOf);
// a parked client's are only the carried ones.
func (cc *clientConn) Input() []byte {
	if cc.where == sockParked {
		return cc.carry
	}
	return inputOf(cc.c, &cc.carry)
}

// Consume implements proxy.Port.
func (cc *clientConn) Consume(n int) {
	if cc.where == sockParked {
		consumeCarry(&cc.carry, n)
		return
	}
	consumeOf(cc.c, &cc.carry, n)
}

// inputOf returns a connection's unconsumed bytes: the carried ones (taken
// off the socket in stream mode) first, then what the socket buffered,
// copied behind them so that the session sees one contiguous slice; or the
// socket's buffer itself when nothing is carried, the common case.
func inputOf(c eventloop.Socket, carry *[]byte) []byte {
	b := c.Input()
	if len(*carry) == 0 {
		return b
	}
	if len(b) > 0 {
		*carry = append(*carry, b...)
		c.Discard(len(b))
	}
	return *carry
}

// consumeOf drops n bytes of what inputOf returned.
func consumeOf(c eventloop.Socket, carry *[]byte, n int) {
	if len(*carry) > 0 {
		consumeCarry(carry, n)
		return
	}
	c.Discard(n)
}

// discardAll drops everything c buffered.
func discardAll(c eventloop.Socket) {
	if n := c.InboundBuffered(); n > 0 {
		c.Discard(n)
	}
}

func consumeCarry(carry *[]byte, n int) {
	*carry = (*carry)[:copy(*carry, (*carry)[n:])]
	if len(*carry) == 0 && cap(*carry) > 64<<10 {
		*carry = nil // do not keep a large buffer for an idle connection
	}
}

// overBudget reports whether the connection pair buffers more than
// MaxBuffered bytes: loop mode cannot slow a peer down, so this is the bound.
func (cc *clientConn) overBudget() bool {
	n := cc.c.InboundBuffered() + cc.c.OutboundBuffered() + len(cc.carry)
	if up := cc.up; up != nil && up.st == upOnLoop {
		n += up.c.InboundBuffered() + up.c.OutboundBuffered()
	}
	return n > cc.l.srv.cfg.MaxBuffered
}

// timeout is the wheel firing the session's timer.
func (cc *clientConn) timeout() { cc.p.Timeout() }

// WriteClient implements Driver.
func (cc *clientConn) WriteClient(b []byte) {
	if cc.p.Gone() {
		return
	}
	if cc.where == sockParked {
		// Rare: an answer (an error) while the client is off the loop. It
		// is short, and the socket's send buffer takes it at once.
		_ = cc.off.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = cc.off.Write(b)
		return
	}
	if len(cc.wbuf)+len(b) > maxGather && !cc.offLoop() {
		cc.flushClient()
		if len(b) > maxGather/2 {
			cc.c.Write(b)
			return
		}
	}
	cc.wbuf = append(cc.wbuf, b...) // off the loop: sent when the socket is back
}

// CloseClient implements Driver. Socket.Close drops unsent output, so a client
// with output pending is closed by the loop's tick once it has drained.
func (cc *clientConn) CloseClient() {
	if cc.p.Gone() || cc.closeAsked {
		return
	}
	cc.closeAsked = true
	cc.flushClient()
	switch cc.where {
	case sockUnparking, sockStreaming:
		return // closed when the socket is back on the loop (backOnLoop)
	case sockParked:
		cc.off.Close()
		cc.off, cc.parkRest = nil, nil
		cc.move(sockClosed)
		cc.l.srv.clientClosed()
		cc.p.ClientClosed()
		return
	}
	if cc.c.OutboundBuffered() == 0 {
		cc.c.Close()
		return
	}
	cc.l.closing = append(cc.l.closing, cc)
}

// Lookup implements Driver.
func (cc *clientConn) Lookup(host []byte) *resolver.Answer { return cc.l.srv.res.Lookup(host) }

// Resolve implements Driver: the answer comes back on this loop.
func (cc *clientConn) Resolve(host string, gen uint32) {
	l := cc.l
	l.srv.res.Resolve(host, func(ans *resolver.Answer, err error) {
		l.x.Execute(func() { cc.p.Resolved(gen, ans, err) })
	})
}

// Connect implements Driver.
func (cc *clientConn) Connect(key pool.Key, fallback netip.AddrPort, host []byte, fresh bool, gen uint32) (bool, error) {
	if cc.up != nil {
		panic("BUG: engine: Connect with an upstream attached")
	}
	l := cc.l
	if p := cc.pin; p != nil {
		cc.pin, p.pinnedTo = nil, nil
		if !fresh && p.key() == key && p.st == upOnLoop {
			p.owner, p.gen = cc, gen
			cc.up = p
			l.poolHits.Add(1)
			return true, nil
		}
		p.close()
	}
	if !fresh {
		up, ok, exp := l.idle.Get(key, l.now(), l.expired[:0])
		for i, e := range exp {
			e.close()
			exp[i] = nil
		}
		l.expired = exp[:0]
		if ok {
			up.owner = cc
			up.gen = gen
			cc.up = up
			l.poolHits.Add(1)
			return true, nil
		}
		l.poolMisses.Add(1)
	}
	srv := l.srv
	up := &upConn{l: l, addr: key.Addr, fallback: fallback, tlsName: key.ServerName, owner: cc, gen: gen, host: string(host), client: cc.p.S.Client().Addr(), pol: cc.p.S.Policy()}
	if !srv.hostLimit.Acquire(up.addr) {
		cc.up = up
		up.reclaim()
		return false, nil
	}
	if err := up.startDial(); err != nil {
		return false, err
	}
	cc.up = up
	return false, nil
}

// startDial counts up's descriptors and dials it; its slot under the
// per-host cap is held already, and is given back on an error.
func (up *upConn) startDial() error {
	srv := up.l.srv
	if !srv.upOpened() {
		srv.hostLimit.Release(up.addr)
		return proxy.ErrNoFDs
	}
	if up.tlsName != "" && !srv.fds.Acquire(bridgeFDs) {
		srv.upClosed()
		srv.hostLimit.Release(up.addr)
		return proxy.ErrNoFDs
	}
	srv.ctr.dials.Add(1)
	go srv.dial(up)
	return nil
}

// evictIdle asks every loop to close one idle connection to addr, the
// oldest, and calls done on from's loop with whether one did, as soon as
// one has or all have answered.
func (s *Server) evictIdle(from *loop, addr netip.AddrPort, done func(evicted bool)) {
	loops := s.knownLoops()
	left, called := len(loops), false // from's loop's
	for _, l := range loops {
		l.x.Execute(func() {
			up, ok := l.idle.TakeOldest(addr)
			if ok {
				up.close()
			}
			from.x.Execute(func() {
				left--
				if !called && (ok || left == 0) {
					called = true
					done(ok)
				}
			})
		})
	}
}

// capRetries bounds how long a reclaiming dial waits for the slot of the
// idle connection it had closed: a millisecond each.
const capRetries = 50

// reclaim is Connect at the per-host cap, which counts the connections of
// every loop, idle ones too. A loop whose clients need more connections
// than it pools would be refused while another loop keeps connections it
// no longer uses (after a burst, or as clients move between loops). So
// every loop is asked to close one idle connection to the address; if one
// did, the dial goes ahead once that slot is free. Only if none was idle
// anywhere does the request fail with the cap's 503, as before.
// Meanwhile up is dialing, as far as its client knows.
func (up *upConn) reclaim() {
	up.l.srv.evictIdle(up.l, up.addr, func(evicted bool) {
		if !evicted {
			up.capFailed()
			return
		}
		up.awaitSlot(capRetries)
	})
}

// awaitSlot takes a slot under the per-host cap for up and dials, trying
// again each millisecond, tries times in all. On up's loop.
func (up *upConn) awaitSlot(tries int) {
	if up.owner == nil || up.abandoned {
		up.move(upGone) // let go while it waited: nothing is held
		return
	}
	srv := up.l.srv
	if srv.hostLimit.Acquire(up.addr) {
		if err := up.startDial(); err != nil {
			up.capFailedWith(err)
		}
		return
	}
	if tries--; tries <= 0 {
		up.capFailed()
		return
	}
	x := up.l.x
	time.AfterFunc(time.Millisecond, func() { x.Execute(func() { up.awaitSlot(tries) }) })
}

// capFailed fails a dial that found no slot under the per-host cap.
func (up *upConn) capFailed() { up.capFailedWith(proxy.ErrUpstreamCap) }

// capFailedWith fails a dial that holds nothing (no slot, no descriptor)
// with err.
func (up *upConn) capFailedWith(err error) {
	up.move(upGone)
	owner := up.owner
	if owner == nil || up.abandoned || owner.p.Gone() {
		return
	}
	owner.up, up.owner = nil, nil
	owner.p.ConnectFailed(up.gen, err)
}

// WriteUpstream implements Driver.
func (cc *clientConn) WriteUpstream(b []byte) {
	if up := cc.up; up != nil && up.st == upOnLoop {
		up.c.Write(b)
	}
}

// ReleaseUpstream implements Driver.
func (cc *clientConn) ReleaseUpstream(reusable bool) {
	up := cc.up
	if up == nil {
		return
	}
	cc.up = nil
	up.owner = nil
	if up.st == upDialing {
		up.abandoned = true // closed as soon as it opens
		return
	}
	l := cc.l
	if reusable && up.st == upOnLoop && !l.srv.draining.Load() &&
		l.idle.TryPut(up.key(), up, l.now()) {
		return
	}
	up.close()
}

// PinUpstream implements Driver.
func (cc *clientConn) PinUpstream() {
	up := cc.up
	if up == nil {
		return
	}
	cc.up = nil
	up.owner = nil
	if up.st != upOnLoop || cc.l.srv.draining.Load() {
		up.abandoned = up.st == upDialing
		up.close()
		return
	}
	up.pinnedTo = cc
	cc.pin = up
}

// dropPin closes the client's pinned upstream connection, if any.
func (cc *clientConn) dropPin() {
	if p := cc.pin; p != nil {
		cc.pin, p.pinnedTo = nil, nil
		p.close()
	}
}

// Tunnel implements Driver: the tunnel starts once the session call returns
// and the bytes it consumed are discarded (the pump's settle).
func (cc *clientConn) Tunnel(preface []byte) { cc.p.AskTunnel(preface) }

// Authenticate implements Driver: the policy's bounded verifier runs bcrypt
// (Policy.Verify) and the answer comes back on this loop, always through
// Execute, even when Verify answers at once, so the session is never
// re-entered.
func (cc *clientConn) Authenticate(cred []byte, gen uint32) error {
	x := cc.l.x
	return cc.p.S.Policy().Verify(cc.p.S.Client().Addr(), cred, func(user string, ok bool) {
		x.Execute(func() { cc.p.Authenticated(gen, user, ok) })
	})
}

// Offload implements Driver: f runs on a goroutine of its own, if fewer
// than the server's bound are running.
func (cc *clientConn) Offload(f func()) bool {
	sem := cc.l.srv.offload
	select {
	case sem <- struct{}{}:
	default:
		return false
	}
	go func() {
		defer func() { <-sem }()
		f()
	}()
	return true
}

// CacheWake implements Driver: called on the leader's goroutine, it
// queues the wake-up to this connection's loop.
func (cc *clientConn) CacheWake(gen uint32) {
	cc.l.x.Execute(func() { cc.p.CacheWoken(gen) })
}

// UpstreamAddr implements Driver.
func (cc *clientConn) UpstreamAddr() netip.AddrPort {
	if cc.up == nil {
		return netip.AddrPort{}
	}
	return cc.up.addr
}

// SetTimer implements Driver.
func (cc *clientConn) SetTimer(d time.Duration) {
	if d <= 0 {
		cc.l.wheel.stop(&cc.timer)
		return
	}
	cc.l.wheel.set(&cc.timer, cc.l.now().Add(d))
}

// Now implements Driver.
func (cc *clientConn) Now() time.Time { return cc.l.now() }

// upConn is an upstream connection. Owned by its loop: attached to at most
// one client (owner) at a time, or idle in the loop's pool, or pinned to one
// client (pinnedTo), or dialing.
type upConn struct {
	c         eventloop.Socket // with st == upOnLoop: its socket
	l         *loop
	addr      netip.AddrPort
	owner     *clientConn
	gen       uint32         // the owner's request generation when attached
	st        upState        // where its socket is; changed by move only
	carry     []byte         // bytes taken off the socket in stream mode, fed before its new input
	off       eventloop.Conn // with st == upParked: the socket, off the loop until a stream job takes it
	parkRest  func() []byte  // with off: Socket.Detach's rest, not yet taken
	abandoned bool           // released while dialing: closed as soon as it opens
	host      string         // the destination name it was dialed for (dial-time address check)
	client    netip.Addr     // the client it was dialed for (dial-time address check)
	pol       *policy.Policy // the policy of the request it was dialed for (dial-time check)
	pinnedTo  *clientConn    // idle and private to this client (PinUpstream); not in the pool
	// TLS origination: the name the origin's certificate was verified for,
	// "" for a plain connection. Its socket is then one end of a TLS
	// bridge's socket pair (tlsbridge_linux.go), which bridged says was made
	// (set by the dial's goroutine before the connection comes to the loop).
	tlsName string
	bridged bool
	// fallback is the IPv4 address raced beside addr (Happy Eyeballs,
	// race.go); the dial's goroutine sets addr to whichever connected,
	// before the connection comes to the loop.
	fallback netip.AddrPort
}

// key is what the idle pool and a pin match the connection by.
func (up *upConn) key() pool.Key { return pool.Key{Addr: up.addr, ServerName: up.tlsName} }

// upState is where an upstream connection's socket is.
type upState uint8

const (
	upDialing   upState = iota // no socket yet (Server.dial)
	upOnLoop                   // on its loop: c is live
	upParked                   // off the loop (off) until a stream job takes it
	upStreaming                // a stream job owns it; reattach brings it back
	upClosing                  // Close requested: Closed follows
	upTunnel                   // handed to a tunnel, which accounts for it (terminal)
	upGone                     // closed and accounted for (terminal)
)

var upStateNames = [...]string{"dialing", "on-loop", "parked", "streaming", "closing", "tunnel", "gone"}

func (s upState) String() string { return upStateNames[s] }

// upMoves are the changes of upState there are: move refuses any other.
var upMoves = [...][len(upStateNames)]bool{
	upDialing:   {upOnLoop: true, upGone: true},
	upOnLoop:    {upParked: true, upStreaming: true, upClosing: true, upTunnel: true, upGone: true},
	upParked:    {upStreaming: true, upGone: true},
	upStreaming: {upOnLoop: true, upGone: true},
	upClosing:   {upGone: true},
}

// move changes where the upstream's socket is. A change the design does not
// have is a bug in the engine.
func (up *upConn) move(to upState) {
	if !upMoves[up.st][to] {
		panic(fmt.Sprintf("BUG: engine: upstream socket %v -> %v", up.st, to))
	}
	up.st = to
}

// opened is the dialed connection on the loop.
func (up *upConn) opened(c eventloop.Socket) {
	up.c = c
	up.move(upOnLoop)
	up.l.srv.health.ok(up.addr)
	owner := up.owner
	if owner == nil || owner.p.Gone() || up.abandoned {
		up.owner = nil
		if up.abandoned || up.l.srv.draining.Load() || !up.l.idle.TryPut(up.key(), up, up.l.now()) {
			up.close()
		}
		return
	}
	owner.p.Connected(up.gen)
}

// dialFailed reports a failed dial, on the loop.
func (up *upConn) dialFailed(err error) {
	srv := up.l.srv
	srv.ctr.dialErrors.Add(1)
	if pe := (*policy.Error)(nil); !errors.As(err, &pe) {
		// A refused, unreachable or timed-out address; not one the
		// address guard denied, which is no fault of the address.
		srv.health.failed(up.addr, up.l.now())
	}
	srv.hostLimit.Release(up.addr)
	srv.upClosed()
	if up.tlsName != "" && !up.bridged {
		srv.fds.Release(bridgeFDs) // else the bridge releases them as it ends
	}
	up.move(upGone)
	owner := up.owner
	if owner == nil || owner.p.Gone() {
		return
	}
	owner.up = nil
	up.owner = nil
	owner.p.ConnectFailed(up.gen, err)
}

// traffic is the upstream's bytes arriving.
func (up *upConn) traffic() {
	owner := up.owner
	if owner == nil {
		// An idle connection became readable: the upstream is closing it or
		// broke the protocol. Either way it cannot be reused.
		discardAll(up.c)
		up.l.idle.Remove(up.key(), up)
		up.close()
		return
	}
	for owner.up == up && !owner.p.Gone() && up.st == upOnLoop && !owner.p.Asked() && owner.want == noHandover && owner.where != sockStreaming {
		buf := inputOf(up.c, &up.carry)
		if len(buf) == 0 {
			break
		}
		n := owner.p.UpstreamData(buf)
		if up.st != upOnLoop || n == 0 {
			break
		}
		consumeOf(up.c, &up.carry, n)
	}
	if owner.up != up && up.st == upOnLoop {
		up.carry = nil
		discardAll(up.c) // released mid-buffer: what is left is not ours
	}
	owner.p.Settle()
}

// closed is the upstream's socket closing.
func (up *upConn) closed(err error) {
	up.move(upGone)
	srv := up.l.srv
	srv.hostLimit.Release(up.addr)
	srv.upClosed()
	if p := up.pinnedTo; p != nil {
		p.pin, up.pinnedTo = nil, nil
	}
	owner := up.owner
	if owner == nil {
		up.l.idle.Remove(up.key(), up)
		return
	}
	up.owner = nil
	owner.up = nil
	owner.p.UpstreamClosed(err)
}

// close closes the connection: on the loop asynchronously (Closed follows
// there); parked at once; dialing, or away in a stream job, as soon as it is
// back (abandoned: opened or reattach, or the job's end, account for it).
func (up *upConn) close() {
	switch up.st {
	case upParked:
		up.off.Close()
		up.off, up.parkRest = nil, nil
		up.lost()
	case upOnLoop:
		up.move(upClosing)
		up.c.Close()
	case upDialing, upStreaming:
		up.abandoned = true
	}
}

// lost marks the upstream gone where no Closed will account for it (it was
// off the loop, or refused on its way back) and uncounts it.
func (up *upConn) lost() {
	up.move(upGone)
	srv := up.l.srv
	srv.upClosed()
	srv.hostLimit.Release(up.addr)
}

// dial connects to up.addr off the loop, for TLS origination also
// handshakes and bridges (originate), then enrolls the connection on up's
// loop (Open hands it to the session) or reports the failure there.
func (s *Server) dial(up *upConn) {
	d := net.Dialer{Timeout: s.cfg.ConnectTimeout}
	if check, pol := s.cfg.DialAddrCheck, up.pol; (check != nil || pol != nil) && up.host != "" {
		// (No host: a parent proxy, whose address is configuration.)
		// Checked at dial time on the address actually dialed (DESIGN.md:
		// check what you dial), so a rebinding name cannot slip past.
		host := []byte(up.host)
		d.Control = func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return err
			}
			if pol != nil {
				if err := pol.CheckAddrFor(up.client, host, ap.Addr()); err != nil {
					return err
				}
			}
			if check != nil {
				return check(ap)
			}
			return nil
		}
	}
	var conn net.Conn
	var err error
	if up.fallback.IsValid() {
		conn, err = s.race(&d, up)
	} else {
		conn, err = d.Dial("tcp", up.addr.String())
	}
	if err == nil {
		var c eventloop.Conn = conn.(*net.TCPConn)
		if up.tlsName != "" {
			c, err = s.originate(conn.(*net.TCPConn), up)
		}
		if err == nil {
			if err = up.l.x.Enroll(c, up); err == nil {
				return
			}
		}
	}
	up.l.x.Execute(func() { up.dialFailed(err) })
}
