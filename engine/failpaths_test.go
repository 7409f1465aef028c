package engine

import (
	"errors"
	"net"
	"net/netip"
	"testing"

	"github.com/sluiceproxy/sluice/engine/eventloop"
	"github.com/sluiceproxy/sluice/parser"
	"github.com/sluiceproxy/sluice/proxy"
)

// Failure paths that real sockets reach only by racing a peer's reset or
// running out of descriptors, driven with fake sockets: a detach that fails
// halfway into stream mode, an upstream the session lets go of while a
// stream job has it, a socket that cannot be parked.

// fakeLoop queues what it is asked to run; Enroll refuses.
type fakeLoop struct{ q []func() }

func (f *fakeLoop) Execute(fn func()) { f.q = append(f.q, fn) }
func (f *fakeLoop) Enroll(tc eventloop.Conn, _ any) error {
	tc.Close()
	return errors.New("fake loop: no enrolment")
}

// fakeSock is a socket with nothing buffered whose Detach is given.
type fakeSock struct {
	detach func() (eventloop.Conn, func() []byte, error)
	closed bool
}

func (s *fakeSock) Input() []byte                                  { return nil }
func (s *fakeSock) Discard(int)                                    {}
func (s *fakeSock) InboundBuffered() int                           { return 0 }
func (s *fakeSock) Write([]byte)                                   {}
func (s *fakeSock) OutboundBuffered() int                          { return 0 }
func (s *fakeSock) Close()                                         { s.closed = true }
func (s *fakeSock) RemoteAddr() netip.AddrPort                     { return netip.MustParseAddrPort("127.0.0.1:1") }
func (s *fakeSock) Detach() (eventloop.Conn, func() []byte, error) { return s.detach() }

func detachFails() (eventloop.Conn, func() []byte, error) { return nil, nil, net.ErrClosed }

// tcpConn returns one end of a loopback connection.
func tcpConn(t *testing.T) *net.TCPConn {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return c.(*net.TCPConn)
}

// fakePair is a server (not started) with one loop, a client and an
// attached upstream, both counted as the server counts them.
func fakePair(t *testing.T, client, upstream *fakeSock) (*Server, *clientConn, *upConn) {
	s, err := NewServer(Config{Listen: "127.0.0.1:0"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	l := newLoop(s, &fakeLoop{})
	if !s.clientOpened() || !s.upOpened() || !s.hostLimit.Acquire(netip.MustParseAddrPort("127.0.0.1:2")) {
		t.Fatal("accounting refused")
	}
	cc := l.newClient(client)
	up := &upConn{l: l, st: upOnLoop, c: upstream, owner: cc, addr: netip.MustParseAddrPort("127.0.0.1:2")}
	cc.up = up
	return s, cc, up
}

// requireUncounted fails unless every connection was uncounted once.
func requireUncounted(t *testing.T, s *Server) {
	t.Helper()
	if c, u := s.Conns(); c != 0 || u != 0 {
		t.Fatalf("still counted: %d client, %d upstream connections", c, u)
	}
	if n := s.fds.Used(); n != 0 {
		t.Fatalf("%d descriptors still counted", n)
	}
}

// A response body: the upstream is parked, then the client's detach fails.
func TestStreamClientDetachFails(t *testing.T) {
	utc := tcpConn(t)
	s, cc, up := fakePair(t, &fakeSock{detach: detachFails}, &fakeSock{detach: func() (eventloop.Conn, func() []byte, error) { return utc, nil, nil }})
	cc.want, cc.streamSpec = wantStream, proxy.StreamSpec{ToClient: true, Framing: parser.FramingLength, Remain: 1 << 20}
	cc.startStream()
	if cc.where != sockClosed || up.st != upGone || !cc.p.Gone() {
		t.Fatalf("client %v, upstream %v, gone %v", cc.where, up.st, cc.p.Gone())
	}
	requireUncounted(t, s)
}

// A request body: the client is parked, then the upstream's detach fails.
func TestStreamUpstreamDetachFails(t *testing.T) {
	ctc := tcpConn(t)
	us := &fakeSock{detach: detachFails}
	s, cc, up := fakePair(t, &fakeSock{detach: func() (eventloop.Conn, func() []byte, error) { return ctc, nil, nil }}, us)
	cc.park()
	if cc.where != sockParked {
		t.Fatalf("client %v, want parked", cc.where)
	}
	cc.want, cc.streamSpec = wantStream, proxy.StreamSpec{Framing: parser.FramingLength, Remain: 1 << 20}
	cc.startStream()
	if cc.where != sockClosed || up.st != upGone || !us.closed {
		t.Fatalf("client %v, upstream %v (socket closed %v)", cc.where, up.st, us.closed)
	}
	requireUncounted(t, s)
}

// The client closes between the two re-enrolments after a stream: the
// session lets its upstream go, which is refused and uncounted when it
// comes back.
func TestStreamUpstreamReleasedWhileAway(t *testing.T) {
	s, cc, up := fakePair(t, &fakeSock{}, &fakeSock{})
	cc.where, up.st = sockStreaming, upStreaming
	cc.ReleaseUpstream(false)
	if ep := (reattach{cc: cc, up: up}).opened(&fakeSock{}); ep != nil {
		t.Fatal("a released upstream was taken back")
	}
	if up.st != upGone {
		t.Fatalf("upstream %v, want gone", up.st)
	}
	if _, u := s.Conns(); u != 0 {
		t.Fatalf("upstream still counted: %d", u)
	}
}

// A client that cannot be parked says so, and the pump then aborts the
// request instead of buffering its body without bound (proxy.Port.Park).
func TestParkRefusedReported(t *testing.T) {
	_, cc, _ := fakePair(t, &fakeSock{detach: detachFails}, &fakeSock{})
	if cc.Park() {
		t.Fatal("Park reported success for a socket that cannot leave the loop")
	}
	if cc.where != sockOnLoop {
		t.Fatalf("client %v", cc.where)
	}
}
