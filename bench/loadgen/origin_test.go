package loadgen

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// rawOrigin is a loopback HTTP/1.1 origin on raw sockets whose misbehaviour the
// tests choose: it answers every request (a head ending in an empty line; the
// tests send no bodies) with fixed bytes, and can close, reset or stay silent.
// Its options are set before start; the counters are atomic.
type rawOrigin struct {
	response   []byte // sent for each request
	last       []byte // with closeAfter, sent for the closeAfter-th request instead
	closeAfter int    // close (gracefully) after this many responses on a connection
	reset      bool   // reset the connection instead of answering
	silent     bool   // never answer

	ln       net.Listener
	accepted atomic.Int64
	requests atomic.Int64
	maxBatch atomic.Int64 // most requests seen complete in one read

	mu    sync.Mutex
	conns map[net.Conn]bool // guarded by mu
	wg    sync.WaitGroup
}

// start listens on a kernel-chosen loopback port and serves until the test ends.
func (o *rawOrigin) start(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o.ln = ln
	o.conns = make(map[net.Conn]bool)
	o.wg.Go(o.acceptLoop)
	t.Cleanup(func() {
		ln.Close()
		o.mu.Lock()
		for c := range o.conns {
			c.Close()
		}
		o.mu.Unlock()
		o.wg.Wait()
	})
	return ln.Addr().String()
}

func (o *rawOrigin) acceptLoop() {
	for {
		c, err := o.ln.Accept()
		if err != nil {
			return
		}
		o.accepted.Add(1)
		o.mu.Lock()
		o.conns[c] = true
		o.mu.Unlock()
		o.wg.Go(func() {
			o.serve(c)
			o.mu.Lock()
			delete(o.conns, c)
			o.mu.Unlock()
		})
	}
}

func (o *rawOrigin) serve(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 64<<10)
	var pend, out []byte
	served := 0
	for {
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		pend = append(pend, buf[:n]...)
		out = out[:0]
		batch := int64(0)
		off := 0
		for {
			i := bytes.Index(pend[off:], []byte("\r\n\r\n"))
			if i < 0 {
				break
			}
			off += i + 4
			batch++
			served++
			o.requests.Add(1)
			switch {
			case o.silent:
				continue
			case o.reset:
				c.(*net.TCPConn).SetLinger(0)
				return
			case o.closeAfter > 0 && served == o.closeAfter:
				c.Write(append(out, o.last...))
				lingerClose(c)
				return
			}
			out = append(out, o.response...)
		}
		if batch > o.maxBatch.Load() {
			o.maxBatch.Store(batch)
		}
		pend = pend[:copy(pend, pend[off:])]
		if len(out) > 0 {
			if _, err := c.Write(out); err != nil {
				return
			}
		}
	}
}

// lingerClose closes c the way an HTTP server should (RFC 9112 §9.6): half
// close, then drain what the client still sends, so that unread pipelined
// requests do not turn the close into a reset that destroys the responses.
func lingerClose(c net.Conn) {
	c.(*net.TCPConn).CloseWrite()
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	io.Copy(io.Discard, c)
}

// startHTTPOrigin starts a net/http origin on loopback answering every request
// with a 100-byte body, and counts the connections it accepts.
func startHTTPOrigin(t testing.TB, h http.HandlerFunc) (addr string, conns *atomic.Int64) {
	t.Helper()
	if h == nil {
		body := bytes.Repeat([]byte("x"), 100)
		h = func(w http.ResponseWriter, r *http.Request) { w.Write(body) }
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns = new(atomic.Int64)
	srv := &http.Server{
		Handler: h,
		ConnState: func(c net.Conn, s http.ConnState) {
			if s == http.StateNew {
				conns.Add(1)
			}
		},
	}
	done := make(chan struct{})
	go func() { srv.Serve(ln); close(done) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return ln.Addr().String(), conns
}

// okResponse is a minimal keep-alive response with a 100-byte body.
var okResponse = []byte("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + string(bytes.Repeat([]byte("x"), 100)))
