package engine

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/sluiceproxy/sluice/engine/eventloop"
)

// A TLS bridge joins a TLS connection to an origin (TLS origination) to an
// event loop without TLS on the loop: the loop has one end of a Unix socket
// pair as the upstream's socket, exactly like a dialed one (plain HTTP
// flows through it, it pools, it goes to stream mode and splices, it
// tunnels), and two goroutines copy between the pair's other end and the
// tls.Conn, one per direction. The kernel's socket buffers between them
// are the backpressure, as TCP's are for a plain upstream.
//
// Closes travel both ways:
//
//   - the origin ends the stream (close_notify or FIN at a record
//     boundary): the loop's end reads EOF after the last byte (CloseWrite
//     on the bridge's end), as from a plain upstream's FIN;
//   - the origin resets or breaks the record layer: the bridge closes
//     both, and the loop reads what arrived, then EOF or ECONNRESET;
//   - the loop closes its end (a released upstream, an idle timeout, a
//     drain): the bridge reads EOF with the pair hung up and closes the
//     TLS connection (close_notify, then the socket);
//   - the loop's side half-closes (a tunnel passing on its client's FIN):
//     the bridge sends close_notify and FIN to the origin, keeps carrying
//     the origin's bytes, and closes once the loop's end is closed.
//
// Both goroutines end when either side has closed. A bridge holds two
// descriptors beyond the loop's end (bridgeFDs), counted in the FDs
// budget from the Connect that asked for it until close.
//
// Owned by its two goroutines: toLoop reads the tls.Conn and writes end,
// toOrigin the other way round (both are safe for that concurrent use);
// closeOnce guards close.
type tlsBridge struct {
	srv       *Server
	tls       *tls.Conn
	end       *net.UnixConn // the bridge's end of the pair
	closeOnce sync.Once
}

// bridgeFDs is what a TLS bridge holds beyond the loop's end of its pair,
// which the upstream's count covers (upOpened): the TCP socket to the
// origin and the bridge's end.
const bridgeFDs = 2

// bridgeBuf is what each direction reads at once: a TLS record's largest
// plaintext (RFC 8446 §5.1), so that one Read takes a whole record.
const bridgeBuf = 16 << 10

// newTLSBridge starts a bridge for tc, whose handshake is done, and returns
// the loop's end of its socket pair, to enroll.
func (s *Server) newTLSBridge(tc *tls.Conn) (eventloop.Conn, error) {
	loopEnd, end, err := socketPair()
	if err != nil {
		return nil, err
	}
	b := &tlsBridge{srv: s, tls: tc, end: end}
	go b.toLoop()
	go b.toOrigin()
	return loopEnd, nil
}

// socketPair makes a connected pair of Unix stream sockets on Go's poller.
func socketPair() (a eventloop.Conn, b *net.UnixConn, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return nil, nil, err
	}
	if a, err = eventloop.FileConn(fds[0]); err != nil {
		unix.Close(fds[1])
		return nil, nil, err
	}
	c, err := eventloop.FileConn(fds[1])
	if err != nil {
		a.Close()
		return nil, nil, err
	}
	return a, c.(*net.UnixConn), nil
}

// toLoop copies the origin's bytes to the loop.
func (b *tlsBridge) toLoop() {
	buf := make([]byte, bridgeBuf)
	for {
		n, err := b.tls.Read(buf)
		if n > 0 {
			if _, werr := b.end.Write(buf[:n]); werr != nil {
				b.close() // the loop's end is gone
				return
			}
		}
		switch {
		case err == nil:
		case errors.Is(err, io.EOF):
			// The origin finished: the loop reads EOF after the last
			// byte, and closes its end, which ends toOrigin.
			_ = b.end.CloseWrite()
			return
		default:
			b.close()
			return
		}
	}
}

// toOrigin copies the loop's bytes to the origin. It waits for them
// holding no buffer (the loop's end is read, into a pooled one, only once
// it is readable), so an idle pooled connection costs one buffer, toLoop's,
// not two.
func (b *tlsBridge) toOrigin() {
	defer b.close()
	rc, err := b.end.SyscallConn()
	if err != nil {
		return
	}
	var (
		bp   *[]byte
		n    int
		rerr error
	)
	read := func(fd uintptr) bool {
		bp = bridgeBufs.Get().(*[]byte)
		for {
			n, rerr = unix.Read(int(fd), *bp)
			if rerr != unix.EINTR {
				break
			}
		}
		if rerr == unix.EAGAIN {
			bridgeBufs.Put(bp)
			return false // wait until readable
		}
		return true
	}
	for {
		if err := rc.Read(read); err != nil {
			return // the bridge closed the end
		}
		if rerr != nil || n <= 0 {
			bridgeBufs.Put(bp)
			if rerr == nil && !b.hungUp() {
				// EOF without a hang-up: a half-close. Pass it on, and
				// keep the origin's direction until the loop's end closes.
				_ = b.tls.CloseWrite()
				_ = b.tls.NetConn().(*net.TCPConn).CloseWrite()
				b.waitHangUp()
			}
			return
		}
		_, werr := b.tls.Write((*bp)[:n])
		bridgeBufs.Put(bp)
		if werr != nil {
			return
		}
	}
}

// bridgeBufs are toOrigin's buffers, held only while bytes move.
var bridgeBufs = sync.Pool{New: func() any { b := make([]byte, bridgeBuf); return &b }}

// hungUp reports whether the loop's end of the pair is closed (not only
// shut for writing): poll(2) says POLLHUP once both directions are shut.
func (b *tlsBridge) hungUp() bool {
	rc, err := b.end.SyscallConn()
	if err != nil {
		return true
	}
	hup := true
	_ = rc.Control(func(fd uintptr) { hup = pollHup(fd) })
	return hup
}

// waitHangUp waits until the loop's end of the pair is closed, or the
// bridge is.
func (b *tlsBridge) waitHangUp() {
	rc, err := b.end.SyscallConn()
	if err != nil {
		return
	}
	// The peer's close wakes the poller (sk_state_change), so Read calls
	// the function again; anything else that wakes it finds no hang-up and
	// waits on.
	_ = rc.Read(pollHup)
}

// pollHup reports whether fd is hung up, without waiting.
func pollHup(fd uintptr) bool {
	p := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	n, err := unix.Poll(p, 0)
	return err != nil || n > 0 && p[0].Revents&(unix.POLLHUP|unix.POLLERR|unix.POLLNVAL) != 0
}

// close ends the bridge: both connections closed (the TLS one with
// close_notify, unless a write is stuck), its descriptors uncounted. The
// goroutine still running finds its connection closed and returns.
func (b *tlsBridge) close() {
	b.closeOnce.Do(func() {
		_ = b.end.Close()
		_ = b.tls.Close()
		b.srv.fds.Release(bridgeFDs)
	})
}
