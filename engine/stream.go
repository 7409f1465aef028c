package engine

import (
	"errors"
	"io"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sluiceproxy/sluice/compression"
	"github.com/sluiceproxy/sluice/engine/eventloop"
	"github.com/sluiceproxy/sluice/parser"
	"github.com/sluiceproxy/sluice/proxy"
)

// errStreamEOF is a body cut short by its sender closing.
var errStreamEOF = errors.New("engine: connection closed inside a streamed body")

// streamJob moves one body in stream mode. Owned by its goroutine until it
// reports back to the loop.
type streamJob struct {
	cc       *clientConn
	up       *upConn // the exchange's upstream as the job started
	spec     proxy.StreamSpec
	src, dst eventloop.Conn
	srcCarry []byte        // the sender's bytes already read by the engine: the body's start
	srcRest  func() []byte // Socket.Detach's rest of src, dst: taken first
	dstRest  func() []byte
	dstCarry []byte // what dstRest returned: dst's input, given back with dst
	idle     time.Duration
	peek     []byte // framing bytes looked at with MSG_PEEK
	leftover []byte // sender bytes beyond the body (a pipelined request)
	moved    int64  // body bytes written to dst
	m        *mover // moves the body's bytes; made on first use
}

// run moves the body, then gives both connections back to the loop.
func (j *streamJob) run() {
	if j.srcRest != nil {
		j.srcCarry = append(j.srcCarry, j.srcRest()...)
	}
	if j.dstRest != nil {
		j.dstCarry = j.dstRest()
	}
	err := j.copyBody()
	if j.m != nil {
		j.m.close()
	}
	l := j.cc.l
	if err != nil {
		l.srv.cfg.Logger.Debug("stream mode: body failed", "err", err, "to_client", j.spec.ToClient)
	}
	if err != nil || j.spec.Framing == parser.FramingClose {
		// A close-delimited body ends with the connection; an error ends both.
		j.src.Close()
		j.dst.Close()
		l.x.Execute(func() {
			if j.up.st == upStreaming {
				j.up.lost() // closed with the job, released or not
			}
			j.cc.streamFailed(err)
		})
		l.srv.streamEnded(j)
		return
	}
	client, up := j.dst, j.src
	clientIn, upIn := j.dstCarry, []byte(nil)
	if !j.spec.ToClient {
		client, up = j.src, j.dst
		clientIn, upIn = nil, j.dstCarry
	}
	var wg sync.WaitGroup
	var errC, errU error
	wg.Add(2)
	go func() { defer wg.Done(); errC = j.cc.reenroll(client, nil, clientIn) }()
	go func() { defer wg.Done(); errU = j.cc.reenroll(up, j.up, upIn) }()
	wg.Wait()
	l.srv.streamEnded(j)
	l.x.Execute(func() {
		if errU != nil && j.up.st == upStreaming {
			j.up.lost() // the engine closed it: no Closed will come
		}
		if err := errors.Join(errC, errU); err != nil {
			if errC == nil {
				j.cc.move(sockOnLoop) // back on the loop: streamFailed closes it
			}
			j.cc.streamFailed(err)
			return
		}
		j.cc.streamDone(j)
	})
}

// copyBody sends the carried bytes, then splices the rest of the body.
func (j *streamJob) copyBody() error {
	if j.spec.Encode != compression.Identity {
		return j.copyEncoded()
	}
	switch j.spec.Framing {
	case parser.FramingLength:
		k := int64(len(j.srcCarry))
		if k > j.spec.Remain {
			k = j.spec.Remain
		}
		if _, err := j.dst.Write(j.srcCarry[:k]); err != nil {
			return err
		}
		j.moved += k
		j.leftover = j.srcCarry[k:]
		j.spec.Remain -= k
		return j.splice(j.spec.Remain)
	case parser.FramingChunked:
		return j.copyChunked()
	case parser.FramingClose:
		if _, err := j.dst.Write(j.srcCarry); err != nil {
			return err
		}
		j.moved += int64(len(j.srcCarry))
		for {
			n, err := j.spliceSome(1 << 20)
			if err != nil {
				return err
			}
			if n < 1<<20 {
				return nil // EOF: the body ended
			}
		}
	}
	return errors.New("engine: BUG: stream of a body without framing")
}

// copyEncoded compresses the body on its way (proxy.BodyEncoder): what the
// origin sends is read, decoded from its framing, compressed and written
// re-framed. Memory is bounded by the encoder's window and one read
// buffer. Bytes read past the body's end are leftover (the upstream is then
// unusable, as it sent past its response).
func (j *streamJob) copyEncoded() error {
	var be proxy.BodyEncoder
	if err := be.Start(j.cc.l.srv.cfg.Compress.Encoders, &j.spec); err != nil {
		return err
	}
	defer be.Release()
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	in := j.srcCarry
	for {
		if len(in) > 0 {
			used, done, err := be.Feed(in)
			if err != nil {
				return err
			}
			if err := j.writeEncoded(&be); err != nil {
				return err
			}
			in = in[used:]
			if done {
				if len(in) > 0 {
					j.leftover = append([]byte(nil), in...) // in may be the pooled buffer
				}
				return nil
			}
		}
		_ = j.src.SetReadDeadline(time.Now().Add(j.idle))
		n, err := j.src.Read(*bp)
		if n == 0 && errors.Is(err, io.EOF) {
			if err := be.End(); err != nil {
				return errStreamEOF
			}
			return j.writeEncoded(&be)
		}
		if err != nil && n == 0 {
			return err
		}
		in = (*bp)[:n]
	}
}

// writeEncoded writes what the body encoder produced to the receiver.
func (j *streamJob) writeEncoded(be *proxy.BodyEncoder) error {
	out := be.Output()
	if len(out) == 0 {
		return nil
	}
	_ = j.dst.SetWriteDeadline(time.Now().Add(j.idle))
	if _, err := j.dst.Write(out); err != nil {
		return err
	}
	j.moved += int64(len(out))
	be.Take()
	return nil
}

// splice moves exactly n bytes from src to dst.
func (j *streamJob) splice(n int64) error {
	for n > 0 {
		step := n
		if step > 1<<20 {
			step = 1 << 20
		}
		got, err := j.spliceSome(step)
		n -= got
		if err != nil {
			return err
		}
		if got < step {
			return errStreamEOF
		}
	}
	return nil
}

// spliceSome moves up to n bytes, fewer only at EOF, with an idle deadline.
func (j *streamJob) spliceSome(n int64) (int64, error) {
	_ = j.src.SetReadDeadline(time.Now().Add(j.idle))
	_ = j.dst.SetWriteDeadline(time.Now().Add(j.idle))
	if j.m == nil {
		j.m = newMover(j.cc.l.srv.fds)
	}
	got, err := j.m.move(j.dst, j.src, n)
	j.moved += got
	return got, err
}

// copyChunked relays a chunked body: framing bytes are peeked, decoded, and
// then read exactly; chunk data is spliced in exact lengths. Nothing past the
// body's end is read from the socket.
func (j *streamJob) copyChunked() error {
	d := &j.spec.Chunks
	in := j.srcCarry
	for !d.Done() {
		if rem := d.DataRemaining(); rem > 0 && len(in) == 0 {
			if j.spec.Unframe || rem < 512 {
				// Small pieces (and data that must be sent alone) go
				// through the peek path below.
			} else {
				if err := j.splice(rem); err != nil {
					return err
				}
				d.SkipData(rem)
				continue
			}
		}
		fromSocket := len(in) == 0
		if fromSocket {
			n, err := j.peekSome()
			if err != nil {
				return err
			}
			in = j.peek[:n]
		}
		n, data, done, err := d.Decode(in)
		if err != nil {
			return err
		}
		if fromSocket {
			// Take exactly the bytes the decoder consumed off the socket.
			if _, err := io.ReadFull(j.src, j.peek[:n]); err != nil {
				return err
			}
		}
		out := in[:n]
		if j.spec.Unframe {
			out = data
		}
		if len(out) > 0 {
			if _, err := j.dst.Write(out); err != nil {
				return err
			}
			j.moved += int64(len(out))
		}
		if fromSocket {
			in = nil // peeked bytes not consumed are still in the socket
		} else {
			in = in[n:]
		}
		if done {
			break
		}
	}
	if len(in) > 0 {
		j.leftover = in // carried bytes beyond the body
	}
	return nil
}

// peekSome waits for bytes from src and copies up to len(j.peek) of them
// without consuming them (recv with MSG_PEEK).
func (j *streamJob) peekSome() (int, error) {
	if j.peek == nil {
		j.peek = make([]byte, 4096)
	}
	rc, err := j.src.SyscallConn()
	if err != nil {
		return 0, err
	}
	_ = j.src.SetReadDeadline(time.Now().Add(j.idle))
	var n int
	var rerr error
	err = rc.Read(func(fd uintptr) bool {
		n, _, rerr = unix.Recvfrom(int(fd), j.peek, unix.MSG_PEEK)
		return rerr != unix.EAGAIN
	})
	if err != nil {
		return 0, err
	}
	if rerr != nil {
		return 0, rerr
	}
	if n == 0 {
		return 0, errStreamEOF
	}
	return n, nil
}

// StreamBody implements Driver: the body moves once the session call returns
// and the bytes it consumed are discarded (the pump's settle).
func (cc *clientConn) StreamBody(spec proxy.StreamSpec) { cc.p.AskStream(spec) }

// Behind implements Driver: the receiver has more than the high-water mark
// queued, or the client is parked (its bytes wait in the kernel).
func (cc *clientConn) Behind(toClient bool) bool {
	hw := cc.l.srv.cfg.StreamHighWater
	if toClient {
		if cc.p.Gone() || cc.offLoop() {
			return false
		}
		if len(cc.wbuf) > 0 {
			cc.flushClient() // what was gathered is part of the queue
		}
		return cc.c.OutboundBuffered() > hw
	}
	if !toClient && cc.where == sockParked {
		return true
	}
	up := cc.up
	return up != nil && up.st == upOnLoop && up.c.OutboundBuffered() > hw
}

// Drained implements Driver: what the session gathered for the client is
// flushed, and the kernel took all of it.
func (cc *clientConn) Drained() bool {
	if cc.p.Gone() || cc.offLoop() {
		return false
	}
	if len(cc.wbuf) > 0 {
		cc.flushClient()
	}
	return cc.c.OutboundBuffered() == 0
}

// startStream takes both connections off the loop for the body the session
// asked for. The receiver's queued output must leave first (a detached
// socket's queue is not sent), so until it has, the check runs again
// shortly. The sender is parked at once, so it stops filling memory while
// that happens.
func (cc *clientConn) startStream() {
	up := cc.up
	if up == nil || up.st != upOnLoop && up.st != upParked || cc.p.Gone() {
		cc.want = noHandover
		return
	}
	spec := cc.streamSpec
	// Park the sender at once: from now on the kernel holds its bytes back
	// while the receiver's queue drains.
	if spec.ToClient {
		if up.st == upOnLoop {
			tc, rest, err := detachInput(up.c, &up.carry)
			if err != nil {
				cc.streamFailed(err)
				return
			}
			up.off, up.parkRest = tc, rest
			up.move(upParked)
		}
	} else if cc.where != sockParked {
		cc.park()
		if cc.where != sockParked {
			cc.streamFailed(errors.New("engine: cannot park the client"))
			return
		}
	}
	if spec.ToClient && cc.c.OutboundBuffered() > 0 || !spec.ToClient && up.c.OutboundBuffered() > 0 {
		cc.retryLater(func() {
			if cc.want == wantStream && !cc.p.Gone() {
				cc.startStream()
			}
		})
		return
	}
	cc.want = noHandover
	j := &streamJob{cc: cc, up: up, spec: spec, idle: cc.l.srv.cfg.IdleTimeout}
	var err error
	client, upc := cc.off, up.off
	clientRest, upRest := cc.parkRest, up.parkRest
	if client == nil {
		client, clientRest, err = detachInput(cc.c, &cc.carry)
	} else if upc == nil {
		upc, upRest, err = detachInput(up.c, &up.carry)
	}
	if err != nil {
		// The side whose detach failed is still on the loop and the other
		// is parked: streamFailed closes both and accounts for them.
		cc.streamFailed(err)
		return
	}
	cc.off, up.off, cc.parkRest, up.parkRest = nil, nil, nil, nil
	if spec.ToClient {
		j.src, j.dst = upc, client
		j.srcRest, j.dstRest = upRest, clientRest
		j.srcCarry, up.carry = up.carry, nil
	} else {
		j.src, j.dst = client, upc
		j.srcRest, j.dstRest = clientRest, upRest
		j.srcCarry, cc.carry = cc.carry, nil
	}
	cc.move(sockStreaming)
	up.move(upStreaming)
	cc.l.srv.streamStarted(j)
	go j.run()
}

// detachInput takes c off the loop (Socket.Detach), moving the input it
// buffered to the end of carry.
func detachInput(c eventloop.Socket, carry *[]byte) (eventloop.Conn, func() []byte, error) {
	if b := c.Input(); len(b) > 0 {
		*carry = append(*carry, b...)
	}
	return c.Detach()
}

// park takes the client off the loop while the session cannot use its bytes
// (the body of a request still waiting for DNS or a connection): the kernel
// then holds the rest of the body back. What the socket buffered is carried.
func (cc *clientConn) park() {
	if cc.where != sockOnLoop || cc.p.Gone() {
		return
	}
	tc, rest, err := detachInput(cc.c, &cc.carry)
	if err != nil {
		cc.l.srv.cfg.Logger.Warn("park client", "err", err)
		return
	}
	cc.off, cc.parkRest = tc, rest
	cc.move(sockParked)
}

// unpark gives a parked client back to the loop.
func (cc *clientConn) unpark() {
	tc, rest := cc.off, cc.parkRest
	cc.off, cc.parkRest = nil, nil
	cc.move(sockUnparking)
	x := cc.l.x
	go func() {
		var in []byte
		if rest != nil {
			in = rest()
		}
		err := cc.reenroll(tc, nil, in)
		x.Execute(func() {
			if err != nil {
				cc.streamFailed(err)
				return
			}
			cc.backOnLoop()
			cc.p.Settle()
		})
	}()
}

// reenroll puts a detached connection back on the loop: the client's (up
// nil) or the upstream up's. Open attaches the new Socket, with in (bytes the
// engine read after the detach) appended to its carried input.
func (cc *clientConn) reenroll(tc eventloop.Conn, up *upConn, in []byte) error {
	_ = tc.SetDeadline(time.Time{})
	return cc.l.x.Enroll(tc, reattach{cc: cc, up: up, in: in})
}

// reattach is the tag of a connection coming back from stream mode.
type reattach struct {
	cc *clientConn
	up *upConn // nil: the client's connection
	in []byte  // read by the engine after the detach: carried input
}

// opened is Open of a re-enrolled connection. The client's socket is the
// client's again (a close the session asked for meanwhile happens when the
// state is back on the loop, after what it wrote has been sent: backOnLoop).
// An upstream the session let go of while it was away is refused (the engine
// closes it) and accounted for here.
func (r reattach) opened(c eventloop.Socket) eventloop.Endpoint {
	cc := r.cc
	if r.up == nil {
		cc.c = c
		cc.carry = append(cc.carry, r.in...)
		return cc
	}
	up := r.up
	if up.st != upStreaming {
		return nil // accounted for already (streamFailed)
	}
	if up.abandoned || cc.up != up {
		up.lost()
		return nil
	}
	up.c = c
	up.move(upOnLoop)
	up.carry = append(up.carry, r.in...)
	return up
}

// backOnLoop is the client's socket back on the loop after stream mode or
// parking. A close the session asked for while it was away happens now,
// once what was written has been sent.
func (cc *clientConn) backOnLoop() {
	cc.move(sockOnLoop)
	if !cc.closeAsked || cc.p.Gone() {
		return
	}
	cc.flushClient()
	if cc.c.OutboundBuffered() == 0 {
		cc.c.Close()
		return
	}
	cc.l.closing = append(cc.l.closing, cc)
}

// streamDone is the body moved: the connections are back on the loop.
func (cc *clientConn) streamDone(j *streamJob) {
	cc.backOnLoop()
	if len(j.leftover) > 0 {
		if j.spec.ToClient {
			if up := cc.up; up != nil {
				up.carry = append(up.carry, j.leftover...)
			}
		} else {
			cc.carry = append(append([]byte(nil), j.leftover...), cc.carry...)
		}
	}
	clean := !j.spec.ToClient || len(j.leftover) == 0
	cc.p.StreamDone(clean, j.moved)
	// Bytes may have arrived on the re-attached connections before this
	// ran (the engine read them then, and will not signal them again): feed
	// the upstream's now, and settle feeds the client's.
	if up := cc.up; up != nil && up.st == upOnLoop {
		up.traffic()
		return
	}
	cc.p.Settle()
}

// streamFailed ends a client whose streamed body, or the hand-over to or
// from stream mode, failed: both sockets are closed (by the job, or here), so
// the accounting their Closed would do happens here.
func (cc *clientConn) streamFailed(err error) {
	switch cc.where {
	case sockParked:
		cc.off.Close()
		cc.off, cc.parkRest = nil, nil
	case sockOnLoop:
		cc.c.Close() // its Closed finds it accounted for
	}
	if cc.where != sockClosed && cc.where != sockTunnel {
		cc.move(sockClosed)
	}
	if up := cc.up; up != nil {
		cc.up, up.owner = nil, nil
		switch up.st {
		case upParked:
			up.off.Close()
			up.off, up.parkRest = nil, nil
		case upOnLoop:
			up.c.Close() // its Closed finds it accounted for
		}
		if up.st != upGone {
			up.lost()
		}
	}
	if cc.p.Gone() {
		return
	}
	cc.l.srv.clientClosed()
	cc.p.ClientClosed()
}

// retryLater runs f on the loop after a millisecond: the poll for a
// connection's queued output to drain (neither engine has a drained
// callback). At most one retry is pending per client.
func (cc *clientConn) retryLater(f func()) {
	if cc.retrying {
		return
	}
	cc.retrying = true
	x := cc.l.x
	time.AfterFunc(time.Millisecond, func() {
		x.Execute(func() {
			cc.retrying = false
			f()
		})
	})
}

// streamStarted and streamEnded track jobs so that Stop can end them.
func (s *Server) streamStarted(j *streamJob) {
	s.tun.mu.Lock()
	if s.tun.jobs == nil {
		s.tun.jobs = make(map[*streamJob]struct{})
	}
	s.tun.jobs[j] = struct{}{}
	s.tun.mu.Unlock()
	s.ctr.streams.Add(1)
}

func (s *Server) streamEnded(j *streamJob) {
	s.tun.mu.Lock()
	delete(s.tun.jobs, j)
	s.tun.mu.Unlock()
}

func (j *streamJob) abort() {
	past := time.Unix(1, 0)
	_ = j.src.SetDeadline(past)
	_ = j.dst.SetDeadline(past)
}
