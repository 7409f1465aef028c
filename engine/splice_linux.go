package engine

import (
	"io"
	"net"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/sluiceproxy/sluice/engine/eventloop"
)

// mover moves bytes from one socket to another off the loop, for stream mode
// and tunnels: through a pipe of its own with splice(2) (zero-copy), or,
// when the fd budget has no room for a pipe, through a user-space buffer.
//
// Go's (*net.TCPConn).ReadFrom splices too, but through pipes kept in a
// sync.Pool that only the garbage collector empties: after a burst of
// tunnels their descriptors stay open for minutes, uncounted, which is how a
// process reaches EMFILE. A mover's pipe is counted in the FDs budget and
// closed when the mover is.
//
// Owned by the one goroutine that moves bytes in one direction.
type mover struct {
	fds  *FDs // the budget the pipe is counted in; nil: no pipe
	r, w int  // the pipe's read and write ends; -1 without a pipe
	buf  *[]byte
}

// maxSplice is what one splice(2) asks for, and the pipe's size.
const maxSplice = 1 << 20

// copyBufs are the buffers of movers without a pipe.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// newMover returns a mover with a pipe if fds has room for one.
func newMover(fds *FDs) *mover {
	m := &mover{r: -1, w: -1}
	if fds == nil || !fds.Acquire(2) {
		return m
	}
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		fds.Release(2)
		return m
	}
	// A bigger pipe moves more per splice; failing to grow it is harmless.
	_, _ = unix.FcntlInt(uintptr(p[1]), unix.F_SETPIPE_SZ, maxSplice)
	m.fds, m.r, m.w = fds, p[0], p[1]
	return m
}

// spliced reports whether the mover has a pipe.
func (m *mover) spliced() bool { return m.r >= 0 }

// close releases the pipe or the buffer.
func (m *mover) close() {
	if m.r >= 0 {
		_ = unix.Close(m.r)
		_ = unix.Close(m.w)
		m.r, m.w = -1, -1
		m.fds.Release(2)
	}
	if m.buf != nil {
		copyBufs.Put(m.buf)
		m.buf = nil
	}
}

// move moves up to n bytes from src to dst and returns how many it moved:
// fewer than n only at src's EOF or on an error. The sockets' deadlines
// apply (os.ErrDeadlineExceeded).
func (m *mover) move(dst, src eventloop.Conn, n int64) (int64, error) {
	if !m.spliced() {
		return m.copy(dst, src, n)
	}
	rs, err := src.SyscallConn()
	if err != nil {
		return 0, err
	}
	ws, err := dst.SyscallConn()
	if err != nil {
		return 0, err
	}
	var moved int64
	for moved < n {
		// The pipe is empty here: fill it from src...
		in, err := splice(rs, true, m.w, int(min(n-moved, maxSplice)))
		if err != nil {
			return moved, wrapSyscall("splice", err)
		}
		if in == 0 {
			return moved, nil // EOF
		}
		// ...then empty it into dst. On an error what is left in the pipe
		// is lost with dst: the caller ends both directions.
		for in > 0 {
			out, err := splice(ws, false, m.r, int(in))
			if err != nil {
				return moved, wrapSyscall("splice", err)
			}
			in -= out
			moved += out
		}
	}
	return moved, nil
}

// splice moves up to n bytes between the socket of rc and a pipe end, into
// the pipe when toPipe, waiting on Go's poller for the socket to be ready.
func splice(rc syscall.RawConn, toPipe bool, pipe, n int) (int64, error) {
	var k int64
	var serr error
	wait := rc.Write
	if toPipe {
		wait = rc.Read
	}
	err := wait(func(fd uintptr) bool {
		in, out := pipe, int(fd)
		if toPipe {
			in, out = int(fd), pipe
		}
		for {
			k, serr = unix.Splice(in, nil, out, nil, n, unix.SPLICE_F_MOVE|unix.SPLICE_F_NONBLOCK)
			if serr != unix.EINTR {
				break
			}
		}
		return serr != unix.EAGAIN
	})
	if err == nil {
		err = serr
	}
	return k, err
}

// copy is move without a pipe.
func (m *mover) copy(dst, src eventloop.Conn, n int64) (int64, error) {
	if m.buf == nil {
		m.buf = copyBufs.Get().(*[]byte)
	}
	buf := *m.buf
	var moved int64
	for moved < n {
		k, err := src.Read(buf[:min(int64(len(buf)), n-moved)])
		if k > 0 {
			if _, werr := dst.Write(buf[:k]); werr != nil {
				return moved, werr
			}
			moved += int64(k)
		}
		if err == io.EOF {
			return moved, nil
		}
		if err != nil {
			return moved, err
		}
	}
	return moved, nil
}

func wrapSyscall(op string, err error) error {
	if errno, ok := err.(syscall.Errno); ok {
		return &net.OpError{Op: op, Net: "tcp", Err: errno}
	}
	return err
}
