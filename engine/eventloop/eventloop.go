// Package eventloop is the contract between sluice's engine (package engine:
// sessions, pools, stream mode, tunnels, drain) and an event-loop library's
// socket side (engine/gnetengine, engine/netpollengine). The engine uses
// nothing of a library but these interfaces, so both run the same code above
// the socket.
package eventloop

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"syscall"
)

// Engine is an event-loop library running a Server's connections.
type Engine interface {
	// Start makes the loops, which deliver events to h, and returns once
	// they exist (Register works) or the engine failed to start.
	Start(opts Options, h Handler) error
	// Register puts a newly accepted client connection on a loop of the
	// engine's choosing; h.Open follows on that loop with tag. It is called
	// off the loops and returns once tc is registered. On error tc is
	// closed.
	Register(tc *net.TCPConn, tag any) error
	// Stop stops the loops and closes every connection still on them.
	Stop(ctx context.Context) error
	// Done is closed when the loops have stopped, asked to or not; Err then
	// says why (nil after Stop).
	Done() <-chan struct{}
	// Err returns why the loops stopped, once Done is closed.
	Err() error
}

// Options is what a Server asks of its Engine.
type Options struct {
	Loops      int          // event loops (gnet) or shards (netpoll); > 0
	ReadBuffer int          // bytes read per read(2), where the engine has such a setting
	Logger     *slog.Logger // the engine's own log lines
}

// Loop is one event loop (gnet) or shard (netpoll): the connections on it,
// and everything this package keeps per loop (idle pool, timing wheel), are
// touched by one goroutine at a time, in the order of its events.
type Loop interface {
	// Execute runs f on the loop, serialised with its events, after what
	// was queued before it. Any goroutine may call it, the loop's own
	// included: f then runs later, never inside Execute.
	Execute(f func())
	// Enroll puts c on this loop; Handler.Open follows on the loop with
	// tag. It is called off the loop and returns once c is registered. On
	// error c is closed.
	Enroll(c Conn, tag any) error
}

// Handler receives what happens on the loops. engine.Server implements it.
type Handler interface {
	// Open is a connection registered (Engine.Register, Loop.Enroll) with
	// tag, on loop l. It returns what receives the socket's events, or nil
	// to have the engine close it.
	Open(l Loop, s Socket, tag any) Endpoint
}

// Endpoint receives one socket's events, on its loop.
type Endpoint interface {
	// Traffic is bytes arrived: Socket.Input returns them.
	Traffic()
	// Closed is the connection closed, by the peer, an error or Socket.Close.
	// The Socket is dead once it returns. It never runs inside a Socket
	// method, and never for a detached socket.
	Closed(err error)
}

// Socket is one connection on a loop. Every method is called on that loop.
type Socket interface {
	// Input returns the bytes read and not yet discarded. The slice is
	// valid until the next Discard, Detach, or the end of the event.
	Input() []byte
	// Discard drops the first n (> 0) bytes of Input.
	Discard(n int)
	// InboundBuffered is len(Input()), without making Input contiguous.
	InboundBuffered() int
	// Write queues a copy of b. It never blocks: what the kernel does not
	// take at once waits in the socket's queue (OutboundBuffered).
	Write(b []byte)
	// OutboundBuffered returns the bytes queued and not yet sent.
	OutboundBuffered() int
	// Close closes the connection at once, dropping output not yet sent;
	// Endpoint.Closed follows on the loop.
	Close()
	// Detach takes the connection off the loop without closing it: the
	// socket comes back as a Conn on Go's poller (of the kind that was
	// enrolled), and Closed is never called for it. The caller takes
	// Input first. rest, when not nil, must be called (off the loop) before
	// c is read: it waits until the engine has stopped reading the socket
	// and returns the bytes it read after Detach was called (netpoll reads
	// on its own goroutines).
	Detach() (c Conn, rest func() []byte, err error)
	// RemoteAddr is the peer's address.
	RemoteAddr() netip.AddrPort
}

// Conn is a connected stream socket off the loops, as Enroll takes it and
// Detach gives it back: a *net.TCPConn (a client, a dialed upstream), or a
// *net.UnixConn, one end of the socket pair that bridges a TLS upstream
// (engine/tlsbridge_linux.go). Stream mode and tunnels move its bytes with
// splice(2), which both kinds support.
type Conn interface {
	net.Conn
	syscall.Conn
	// CloseWrite shuts down the sending side (a half-close: the peer reads
	// EOF).
	CloseWrite() error
}

// FileConn makes a Conn on Go's poller of the socket fd, a TCP or a Unix
// stream socket, taking ownership of fd (it is closed; the connection holds
// a duplicate): what an engine's Detach hands back.
func FileConn(fd int) (Conn, error) {
	f := os.NewFile(uintptr(fd), "sluice-detached")
	nc, err := net.FileConn(f) // duplicates fd
	f.Close()
	if err != nil {
		return nil, err
	}
	switch c := nc.(type) {
	case *net.TCPConn:
		return c, nil
	case *net.UnixConn:
		return c, nil // only stream pairs are ever enrolled
	}
	nc.Close()
	return nil, errors.New("eventloop: detached connection is neither TCP nor Unix")
}
