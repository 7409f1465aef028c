package netpollengine

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sluiceproxy/sluice/engine/eventloop"
)

// opener is the tag the tests register connections with: the test's Open.
type opener func(l eventloop.Loop, s eventloop.Socket) eventloop.Endpoint

// testHandler opens each connection with the opener it was tagged with.
type testHandler struct{}

func (testHandler) Open(l eventloop.Loop, s eventloop.Socket, tag any) eventloop.Endpoint {
	return tag.(opener)(l, s)
}

// funcEP is an Endpoint made of two funcs (nil means nothing to do).
type funcEP struct {
	traffic func()
	closed  func(error)
}

func (e *funcEP) Traffic() {
	if e.traffic != nil {
		e.traffic()
	}
}

func (e *funcEP) Closed(err error) {
	if e.closed != nil {
		e.closed(err)
	}
}

// testLogger shows netpoll's own warnings in the test output. netpoll's
// logger is process-wide, so it cannot be a t.Logf of one test.
var testLogger = slog.New(slog.NewTextHandler(os.Stderr, nil))

func startEngine(t testing.TB, loops int) eventloop.Engine {
	t.Helper()
	e := New()
	if err := e.Start(eventloop.Options{Loops: loops, Logger: testLogger}, testHandler{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return e
}

// listen accepts on 127.0.0.1 and registers every connection with op.
func listen(t testing.TB, e eventloop.Engine, op opener) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = e.Register(c.(*net.TCPConn), op)
		}
	}()
	return ln.Addr().String()
}

func dial(t testing.TB, addr string) *net.TCPConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

// pattern is the stream the tests send: byte i of it is pattern(i).
func pattern(off int) byte { return byte(off*7 + off/251) }

func fillPattern(b []byte, off int) {
	for i := range b {
		b[i] = pattern(off + i)
	}
}

func checkPattern(t testing.TB, b []byte, off int) {
	t.Helper()
	for i := range b {
		if b[i] != pattern(off+i) {
			t.Fatalf("byte %d is %d, want %d", off+i, b[i], pattern(off+i))
		}
	}
}

// onLoop runs f on l and waits for it.
func onLoop(l eventloop.Loop, f func()) {
	done := make(chan struct{})
	l.Execute(func() { f(); close(done) })
	<-done
}

// TestEcho: many clients pipeline lines in random fragments; the endpoint
// echoes complete lines and leaves the incomplete one, which must come back
// first in the next Traffic, followed by the new bytes.
func TestEcho(t *testing.T) {
	e := startEngine(t, 2)
	var carried atomic.Int64
	addr := listen(t, e, func(l eventloop.Loop, s eventloop.Socket) eventloop.Endpoint {
		var left []byte // a copy of what was left in Input last time
		ep := &funcEP{}
		ep.traffic = func() {
			in := s.Input()
			if s.InboundBuffered() != len(in) {
				t.Errorf("InboundBuffered %d, len(Input) %d", s.InboundBuffered(), len(in))
			}
			if !bytes.HasPrefix(in, left) || len(in) == len(left) {
				t.Errorf("Input %q does not continue the carried %q with new bytes", in, left)
			}
			if len(left) > 0 {
				carried.Add(1)
			}
			if i := bytes.LastIndexByte(in, '\n'); i >= 0 {
				s.Write(in[:i+1])
				s.Discard(i + 1)
			}
			left = append(left[:0], s.Input()...)
		}
		return ep
	})

	const clients, lines = 40, 1500
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn := dial(t, addr)
			conn.SetDeadline(time.Now().Add(60 * time.Second))
			var want bytes.Buffer
			for i := range lines {
				fmt.Fprintf(&want, "client %d line %d %s\n", c, i, strings.Repeat("x", i%97))
			}
			go func() {
				r := rand.New(rand.NewPCG(uint64(c), 1))
				b := want.Bytes()
				for len(b) > 0 {
					n := min(len(b), 1+r.IntN(300))
					if _, err := conn.Write(b[:n]); err != nil {
						t.Error(err)
						return
					}
					b = b[n:]
				}
			}()
			got := make([]byte, want.Len())
			if _, err := io.ReadFull(conn, got); err != nil {
				t.Errorf("client %d: %v", c, err)
				return
			}
			if !bytes.Equal(got, want.Bytes()) {
				t.Errorf("client %d: echo differs", c)
			}
		}()
	}
	wg.Wait()
	if carried.Load() == 0 {
		t.Error("no Traffic ever started with carried bytes")
	}
	t.Logf("%d events began with carried bytes", carried.Load())
}

// TestWriteNeverBlocks: 64 MiB written from the loop to a client that does
// not read; every Write returns at once, OutboundBuffered grows, another
// connection on the same loop is served meanwhile, and the client then
// reads every byte in order.
func TestWriteNeverBlocks(t *testing.T) {
	e := startEngine(t, 1)
	type opened struct {
		l eventloop.Loop
		s eventloop.Socket
	}
	bigc := make(chan opened, 1)
	bigAddr := listen(t, e, func(l eventloop.Loop, s eventloop.Socket) eventloop.Endpoint {
		bigc <- opened{l, s}
		return &funcEP{}
	})
	echoAddr := listen(t, e, func(l eventloop.Loop, s eventloop.Socket) eventloop.Endpoint {
		ep := &funcEP{}
		ep.traffic = func() { s.Write(s.Input()); s.Discard(len(s.Input())) }
		return ep
	})

	client := dial(t, bigAddr)
	big := <-bigc
	const total, piece = 64 << 20, 64 << 10
	var slowest time.Duration
	var queued int
	start := time.Now()
	onLoop(big.l, func() {
		buf := make([]byte, piece)
		for off := 0; off < total; off += piece {
			fillPattern(buf, off)
			t0 := time.Now()
			big.s.Write(buf)
			slowest = max(slowest, time.Since(t0))
		}
		queued = big.s.OutboundBuffered()
	})
	t.Logf("64 MiB written in %v, slowest Write %v, %d bytes queued", time.Since(start), slowest, queued)
	if queued < total/2 {
		t.Fatalf("OutboundBuffered %d after writing %d to a client not reading", queued, total)
	}
	if slowest > time.Second {
		t.Errorf("a Write took %v", slowest)
	}

	// The loop serves another connection while the first one is stuck.
	ec := dial(t, echoAddr)
	ec.SetDeadline(time.Now().Add(10 * time.Second))
	for i := range 100 {
		msg := []byte("ping " + strconv.Itoa(i))
		if _, err := ec.Write(msg); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(ec, got); err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("echo while backed up: %q %v", got, err)
		}
	}
	// Still queued: the client has not read.
	onLoop(big.l, func() { queued = big.s.OutboundBuffered() })
	if queued == 0 {
		t.Fatal("output drained although the client never read")
	}

	client.SetDeadline(time.Now().Add(60 * time.Second))
	r := bufio.NewReaderSize(client, 1<<20)
	buf := make([]byte, 1<<20)
	for off := 0; off < total; off += len(buf) {
		if _, err := io.ReadFull(r, buf); err != nil {
			t.Fatalf("at %d: %v", off, err)
		}
		checkPattern(t, buf, off)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		onLoop(big.l, func() { queued = big.s.OutboundBuffered() })
		if queued == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("OutboundBuffered still %d after the client read everything", queued)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// closeProbe records Closed calls and whether one came inside a Socket
// method of its own.
type closeProbe struct {
	mu     sync.Mutex
	inCall bool // set by the endpoint around its own Socket calls (on the loop)
	calls  int
	errs   []error
	done   chan struct{}
}

func newCloseProbe() *closeProbe { return &closeProbe{done: make(chan struct{})} }

func (p *closeProbe) closed(t *testing.T) func(error) {
	return func(err error) {
		if p.inCall {
			t.Error("Closed ran inside a Socket method")
		}
		p.mu.Lock()
		p.calls++
		p.errs = append(p.errs, err)
		if p.calls == 1 {
			close(p.done)
		}
		p.mu.Unlock()
	}
}

func (p *closeProbe) wait(t *testing.T) []error {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Fatal("Closed not delivered")
	}
	time.Sleep(50 * time.Millisecond) // a second Closed would come by now
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.calls != 1 {
		t.Fatalf("Closed called %d times", p.calls)
	}
	return p.errs
}

func TestClose(t *testing.T) {
	e := startEngine(t, 2)
	for _, mode := range []string{"traffic", "execute", "peer", "open"} {
		t.Run(mode, func(t *testing.T) {
			p := newCloseProbe()
			addr := listen(t, e, func(l eventloop.Loop, s eventloop.Socket) eventloop.Endpoint {
				ep := &funcEP{closed: p.closed(t)}
				closeTwice := func() {
					p.inCall = true
					s.Close()
					s.Write([]byte("dropped"))
					s.Close()
					p.inCall = false
				}
				switch mode {
				case "open":
					closeTwice()
				case "traffic":
					ep.traffic = closeTwice
				case "execute":
					ep.traffic = func() {
						s.Discard(s.InboundBuffered())
						l.Execute(closeTwice)
					}
				}
				return ep
			})
			c := dial(t, addr)
			c.SetDeadline(time.Now().Add(10 * time.Second))
			if mode == "peer" {
				c.Write([]byte("bye"))
				time.Sleep(20 * time.Millisecond)
				c.Close()
			} else {
				c.Write([]byte("hello"))
				if n, err := c.Read(make([]byte, 10)); err == nil {
					t.Fatalf("read %d bytes from a closed connection", n)
				}
			}
			errs := p.wait(t)
			want := error(nil)
			if mode == "peer" {
				want = io.EOF
			}
			if errs[0] != want {
				t.Errorf("Closed(%v), want %v", errs[0], want)
			}
		})
	}
}

// TestTrafficPanic: a panic in Traffic, recovered by netpoll's goroutine
// pool, closes that connection (Closed follows) and leaves the shard
// serving the others.
func TestTrafficPanic(t *testing.T) {
	e := startEngine(t, 1)
	p := newCloseProbe()
	panicAddr := listen(t, e, func(l eventloop.Loop, s eventloop.Socket) eventloop.Endpoint {
		return &funcEP{
			traffic: func() { panic("test: panic in Traffic") },
			closed: func(err error) {
				if n := s.InboundBuffered(); n != 0 && len(s.Input()) != n {
					t.Error("Input inconsistent after the panic")
				}
				p.closed(t)(err)
			},
		}
	})
	echoAddr := listen(t, e, func(l eventloop.Loop, s eventloop.Socket) eventloop.Endpoint {
		return &funcEP{traffic: func() { s.Write(s.Input()); s.Discard(s.InboundBuffered()) }}
	})
	c := dial(t, panicAddr)
	c.Write([]byte("boom"))
	p.wait(t)
	ec := dial(t, echoAddr)
	ec.SetDeadline(time.Now().Add(10 * time.Second))
	ec.Write([]byte("still here"))
	if _, err := io.ReadFull(ec, make([]byte, 10)); err != nil {
		t.Fatalf("the shard stopped after a panic: %v", err)
	}
}

// detachRun is one client streaming n bytes to an endpoint that detaches
// after seeing at least at bytes, from inside Traffic or from Execute.
func detachRun(t *testing.T, addr string, n int, results chan error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		results <- err
		return
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	go func() {
		buf := make([]byte, 4096)
		for off := 0; off < n; off += len(buf) {
			b := buf[:min(len(buf), n-off)]
			fillPattern(b, off)
			if _, err := c.Write(b); err != nil {
				return
			}
		}
	}()
	// No CloseWrite: netpoll, like gnet, takes the peer's FIN for a close,
	// which would race with the Detach under test.
	reply := make([]byte, 2)
	if _, err := io.ReadFull(c, reply); err != nil {
		results <- err
		return
	}
	if string(reply) != "ok" {
		results <- fmt.Errorf("reply %q", reply)
		return
	}
	results <- nil
}

// TestDetach: the peer keeps sending while the endpoint detaches, from
// inside Traffic or from Execute. Input taken before, rest() and what tc
// reads afterwards must be the stream, each byte once; tc must work, and
// Closed must not come.
func TestDetach(t *testing.T) {
	e := startEngine(t, 2)
	const streamLen = 256 << 10
	var closedCalls, restBytes atomic.Int64
	var iter atomic.Int64
	addr := listen(t, e, func(l eventloop.Loop, s eventloop.Socket) eventloop.Endpoint {
		i := iter.Add(1)
		viaExecute := i%2 == 0
		at := 1 + int(i*7919)%(64<<10)
		var got []byte
		detached, asked := false, false
		detach := func() {
			if detached {
				return
			}
			got = append(got, s.Input()...)
			tc, rest, err := s.Detach()
			if err != nil {
				t.Errorf("Detach: %v", err)
				s.Close()
				return
			}
			detached = true
			// Methods on a detached socket are no-ops.
			s.Write([]byte("x"))
			s.Close()
			taken := got
			go func() {
				defer tc.Close()
				r := rest()
				if len(r) > 0 {
					restBytes.Add(1)
				}
				all := append(taken, r...)
				if len(all) > streamLen {
					t.Errorf("iteration %d: %d bytes before reading tc, stream is %d", i, len(all), streamLen)
					return
				}
				tc.SetDeadline(time.Now().Add(20 * time.Second))
				tail := make([]byte, streamLen-len(all))
				if _, err := io.ReadFull(tc, tail); err != nil {
					t.Errorf("iteration %d: reading tc (%d taken, %d in rest): %v", i, len(taken), len(all)-len(taken), err)
					return
				}
				all = append(all, tail...)
				checkPattern(t, all, 0)
				if _, err := tc.Write([]byte("ok")); err != nil {
					t.Errorf("writing tc: %v", err)
				}
			}()
		}
		return &funcEP{
			traffic: func() {
				if detached {
					t.Error("Traffic after Detach")
					return
				}
				if len(got)+s.InboundBuffered() < at {
					got = append(got, s.Input()...)
					s.Discard(s.InboundBuffered())
					return
				}
				if !viaExecute {
					detach()
					if i%4 == 1 {
						// Stay in the event: netpoll detaches the fd only
						// when it ends, and meanwhile reads on into what
						// rest returns.
						time.Sleep(time.Millisecond)
					}
					return
				}
				if !asked {
					asked = true
					l.Execute(detach)
				}
			},
			closed: func(error) { closedCalls.Add(1) },
		}
	})
	iterations := 200
	if testing.Short() {
		iterations = 40
	}
	results := make(chan error, iterations)
	sem := make(chan struct{}, 4)
	for range iterations {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			detachRun(t, addr, streamLen, results)
		}()
	}
	for range iterations {
		if err := <-results; err != nil {
			t.Error(err)
		}
	}
	if n := closedCalls.Load(); n != 0 {
		t.Errorf("Closed called %d times for detached sockets", n)
	}
	t.Logf("%d of %d detaches had bytes in rest", restBytes.Load(), iterations)
}

// TestDetachWithOutputQueued: Detach refuses while output waits.
func TestDetachWithOutputQueued(t *testing.T) {
	e := startEngine(t, 1)
	type opened struct {
		l eventloop.Loop
		s eventloop.Socket
	}
	ch := make(chan opened, 1)
	addr := listen(t, e, func(l eventloop.Loop, s eventloop.Socket) eventloop.Endpoint {
		ch <- opened{l, s}
		return &funcEP{}
	})
	dial(t, addr)
	o := <-ch
	var err error
	onLoop(o.l, func() {
		big := make([]byte, 32<<20)
		o.s.Write(big)
		_, _, err = o.s.Detach()
	})
	if !errors.Is(err, errOutputQueued) {
		t.Fatalf("Detach with output queued: %v", err)
	}
}

// TestReenroll: the stream-mode round trip. A socket is detached, its tc
// enrolled again (on the other loop), and the new endpoint carries on with
// the bytes rest returned and what follows.
func TestReenroll(t *testing.T) {
	e := startEngine(t, 2)
	var second opener
	second = func(l eventloop.Loop, s eventloop.Socket) eventloop.Endpoint {
		return &funcEP{traffic: func() { s.Write(s.Input()); s.Discard(s.InboundBuffered()) }}
	}
	addr := listen(t, e, func(l eventloop.Loop, s eventloop.Socket) eventloop.Endpoint {
		ep := &funcEP{}
		ep.traffic = func() {
			in := s.Input()
			i := bytes.Index(in, []byte("SWITCH\n"))
			if i < 0 {
				return
			}
			after := append([]byte(nil), in[i+7:]...)
			s.Write([]byte("switching\n"))
			tc, rest, err := s.Detach()
			if err != nil {
				t.Errorf("Detach: %v", err)
				return
			}
			other := e.(*netpollEngine).Loops()[0]
			if other == l {
				other = e.(*netpollEngine).Loops()[1]
			}
			go func() {
				carry := append(after, rest()...)
				err := other.Enroll(tc, opener(func(l eventloop.Loop, s eventloop.Socket) eventloop.Endpoint {
					s.Write(carry)
					return second(l, s)
				}))
				if err != nil {
					t.Errorf("Enroll: %v", err)
				}
			}()
		}
		return ep
	})
	c := dial(t, addr)
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write([]byte("hello SWITCH\nafter1 "))
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil || line != "switching\n" {
		t.Fatalf("%q %v", line, err)
	}
	c.Write([]byte("after2 "))
	for round := range 3 {
		time.Sleep(10 * time.Millisecond)
		c.Write([]byte("more" + strconv.Itoa(round) + " "))
	}
	want := "after1 after2 more0 more1 more2 "
	got := make([]byte, len(want))
	if _, err := io.ReadFull(r, got); err != nil || string(got) != want {
		t.Fatalf("after re-enrolling: %q %v, want %q", got, err, want)
	}
}

// TestExecute: FIFO per loop from many goroutines, never inside Execute
// nor inside another task or an event, serialised with events.
func TestExecute(t *testing.T) {
	e := startEngine(t, 1)
	l := e.(*netpollEngine).Loops()[0]
	var running atomic.Int32
	enter := func() {
		if running.Add(1) != 1 {
			t.Error("two things ran on the loop at once")
		}
	}
	leave := func() { running.Add(-1) }
	shared := 0 // touched only on the loop: the race detector checks that

	const goroutines, tasks = 8, 2000
	var wg sync.WaitGroup
	last := make([]int, goroutines)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range tasks {
				l.Execute(func() {
					enter()
					defer leave()
					shared++
					if last[g] != i {
						t.Errorf("goroutine %d: task %d ran after %d", g, i, last[g]-1)
					}
					last[g] = i + 1
					if i%100 == 0 {
						ran := false
						l.Execute(func() { ran = true })
						if ran {
							t.Error("Execute ran its task inside a task")
						}
					}
				})
			}
		}()
	}
	// Events on the same loop at the same time, and Execute from Traffic.
	addr := listen(t, e, func(l eventloop.Loop, s eventloop.Socket) eventloop.Endpoint {
		ep := &funcEP{}
		ep.traffic = func() {
			enter()
			defer leave()
			shared++
			ran := false
			l.Execute(func() { ran = true; shared++ })
			if ran {
				t.Error("Execute ran its task inside Traffic")
			}
			s.Write(s.Input())
			s.Discard(s.InboundBuffered())
		}
		return ep
	})
	c := dial(t, addr)
	c.SetDeadline(time.Now().Add(10 * time.Second))
	for i := range 200 {
		msg := []byte("m" + strconv.Itoa(i))
		c.Write(msg)
		if _, err := io.ReadFull(c, make([]byte, len(msg))); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	onLoop(l, func() {
		for g := range goroutines {
			if last[g] != tasks {
				t.Errorf("goroutine %d: %d of %d tasks ran", g, last[g], tasks)
			}
		}
	})
}

// TestStop: Stop closes every connection (Closed(nil) each), ends the
// flushers, closes Done, and Register fails afterwards.
func TestStop(t *testing.T) {
	e := New()
	if err := e.Start(eventloop.Options{Loops: 2, Logger: testLogger}, testHandler{}); err != nil {
		t.Fatal(err)
	}
	var opened, closed atomic.Int64
	var badErr atomic.Value
	stuck := make(chan eventloop.Socket, 1)
	var stuckLoop eventloop.Loop
	addr := listen(t, e, func(l eventloop.Loop, s eventloop.Socket) eventloop.Endpoint {
		if opened.Add(1) == 1 {
			stuckLoop = l
			stuck <- s
		}
		return &funcEP{closed: func(err error) {
			if err != nil {
				badErr.Store(err)
			}
			closed.Add(1)
		}}
	})
	const n = 20
	conns := make([]*net.TCPConn, n)
	for i := range conns {
		conns[i] = dial(t, addr)
		for opened.Load() < int64(i+1) {
			time.Sleep(time.Millisecond)
		}
	}
	// One of them has a flusher waiting on a client that does not read.
	s := <-stuck
	onLoop(stuckLoop, func() { s.Write(make([]byte, 16<<20)) })

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-e.Done():
	default:
		t.Fatal("Done not closed after Stop returned")
	}
	if e.Err() != nil {
		t.Fatalf("Err after Stop: %v", e.Err())
	}
	if got := closed.Load(); got != n {
		t.Fatalf("%d Closed for %d connections", got, n)
	}
	if err := badErr.Load(); err != nil {
		t.Errorf("Closed(%v) on Stop", err)
	}
	for _, c := range conns[1:] {
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Fatal("connection still open after Stop")
		}
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	cc, _ := net.Dial("tcp", ln.Addr().String())
	defer cc.Close()
	sc, _ := ln.Accept()
	if err := e.Register(sc.(*net.TCPConn), opener(nil)); !errors.Is(err, ErrStopped) {
		t.Fatalf("Register after Stop: %v", err)
	}
	cc.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := cc.Read(make([]byte, 1)); err == nil {
		t.Fatal("Register after Stop left the connection open")
	}
}

// TestOperatorStateLayout: the reflection waitPollerDone relies on finds
// netpoll's operator state (the layout of the pinned version).
func TestOperatorStateLayout(t *testing.T) {
	e := startEngine(t, 1)
	found := make(chan bool, 1)
	addr := listen(t, e, func(l eventloop.Loop, s eventloop.Socket) eventloop.Endpoint {
		st := operatorState(s.(*socket).conn)
		found <- st != nil && atomic.LoadInt32(st) != 0
		return &funcEP{}
	})
	dial(t, addr)
	if !<-found {
		t.Fatal("netpoll's FDOperator.state not found: waitPollerDone cannot wait for the poller")
	}
}

func rss(t testing.TB) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status")
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	t.Skip("no VmRSS")
	return 0
}

func settle() {
	for range 3 {
		runtime.GC()
	}
	debug.FreeOSMemory()
}

// raiseNoFile lifts the soft fd limit to at least n (up to the hard limit).
func raiseNoFile(n uint64) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	if lim.Cur >= n {
		return nil
	}
	if lim.Max < n {
		lim.Max = n // needs privilege; fails otherwise
	}
	lim.Cur = n
	return syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
}

// TestIdleClientsHelper is the client side of TestIdleRSS, run in a child
// process so its sockets count neither against this process's fd limit nor
// in its RSS: it opens $NETPOLLENGINE_IDLE_CLIENTS connections to
// $NETPOLLENGINE_IDLE_ADDR with plain syscalls, says "ready", and holds
// them until stdin closes.
func TestIdleClientsHelper(t *testing.T) {
	addr := os.Getenv("NETPOLLENGINE_IDLE_ADDR")
	if addr == "" {
		t.Skip("helper process only")
	}
	n, _ := strconv.Atoi(os.Getenv("NETPOLLENGINE_IDLE_CLIENTS"))
	if err := raiseNoFile(uint64(n + 64)); err != nil {
		fmt.Println("rlimit:", err)
		os.Exit(1)
	}
	ap, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	sa := &syscall.SockaddrInet4{Port: ap.Port}
	copy(sa.Addr[:], ap.IP.To4())
	fds := make([]int, 0, n)
	for range n {
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
		if err == nil {
			err = syscall.Connect(fd, sa)
		}
		if err != nil {
			fmt.Println("connect:", err)
			os.Exit(1)
		}
		fds = append(fds, fd)
	}
	fmt.Println("ready")
	// "exchange": one 300-byte request and its echo on every connection,
	// so the server's buffers have been used before they go idle.
	in := bufio.NewReader(os.Stdin)
	for {
		cmd, err := in.ReadString('\n')
		if err != nil {
			os.Exit(0)
		}
		if cmd != "exchange\n" {
			continue
		}
		req := bytes.Repeat([]byte("q"), 300)
		resp := make([]byte, len(req))
		for _, fd := range fds {
			if _, err := syscall.Write(fd, req); err != nil {
				fmt.Println("write:", err)
				os.Exit(1)
			}
		}
		for _, fd := range fds {
			for got := 0; got < len(resp); {
				n, err := syscall.Read(fd, resp[got:])
				if err != nil || n == 0 {
					fmt.Println("read:", n, err)
					os.Exit(1)
				}
				got += n
			}
		}
		fmt.Println("exchanged")
	}
}

// TestIdleRSS holds 10,000 idle loopback connections on a trivial Handler
// and reports what they cost this process (RSS and Go heap) per connection.
// Under -race the RSS includes the race detector's shadow memory: the
// figure to quote is from a run without -race.
func TestIdleRSS(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	const n = 10000
	if err := raiseNoFile(n + 1000); err != nil {
		t.Skipf("cannot raise RLIMIT_NOFILE to %d: %v", n+1000, err)
	}
	e := startEngine(t, 2)
	var opened atomic.Int64
	addr := listen(t, e, func(l eventloop.Loop, s eventloop.Socket) eventloop.Endpoint {
		opened.Add(1)
		return &funcEP{traffic: func() { s.Write(s.Input()); s.Discard(s.InboundBuffered()) }}
	})
	settle()
	var ms0 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	rss0 := rss(t)

	cmd := exec.Command(os.Args[0], "-test.run=^TestIdleClientsHelper$")
	cmd.Env = append(os.Environ(), "NETPOLLENGINE_IDLE_ADDR="+addr, "NETPOLLENGINE_IDLE_CLIENTS="+strconv.Itoa(n))
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer stdin.Close()
	out := bufio.NewReader(stdout)
	line, err := out.ReadString('\n')
	if err != nil || line != "ready\n" {
		t.Fatalf("client process: %q %v", line, err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for opened.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d connections opened", opened.Load(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	race := ""
	if raceEnabled {
		race = " (race detector on: RSS inflated)"
	}
	report := func(what string) {
		settle()
		var ms1 runtime.MemStats
		runtime.ReadMemStats(&ms1)
		rss1 := rss(t)
		t.Logf("%d idle connections, %s: RSS +%.1f MiB = %d B/conn, Go heap in use +%d B/conn%s",
			n, what, float64(rss1-rss0)/(1<<20), (rss1-rss0)/n, (int64(ms1.HeapInuse)-int64(ms0.HeapInuse))/n, race)
	}
	report("never used")
	fmt.Fprintln(stdin, "exchange")
	line, err = out.ReadString('\n')
	if err != nil || line != "exchanged\n" {
		t.Fatalf("client process: %q %v", line, err)
	}
	report("after one 300-byte echo each")
}

// BenchmarkEcho streams through one echo connection: throughput of the
// read path (zero-copy Input), the direct write path and the flusher.
func BenchmarkEcho(b *testing.B) {
	e := startEngine(b, 2)
	addr := listen(b, e, func(l eventloop.Loop, s eventloop.Socket) eventloop.Endpoint {
		return &funcEP{traffic: func() { s.Write(s.Input()); s.Discard(s.InboundBuffered()) }}
	})
	c := dial(b, addr)
	const chunk = 64 << 10
	buf := make([]byte, chunk)
	b.SetBytes(chunk)
	b.ResetTimer()
	go func() {
		for range b.N {
			if _, err := c.Write(buf); err != nil {
				return
			}
		}
	}()
	if _, err := io.CopyN(io.Discard, c, int64(b.N)*chunk); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkRequestResponse: many connections doing small request/response
// round trips, the proxy's common case.
func BenchmarkRequestResponse(b *testing.B) {
	e := startEngine(b, 2)
	addr := listen(b, e, func(l eventloop.Loop, s eventloop.Socket) eventloop.Endpoint {
		return &funcEP{traffic: func() {
			in := s.Input()
			if i := bytes.LastIndexByte(in, '\n'); i >= 0 {
				s.Write(in[:i+1])
				s.Discard(i + 1)
			}
		}}
	})
	const conns = 64
	cs := make([]*net.TCPConn, conns)
	for i := range cs {
		cs[i] = dial(b, addr)
	}
	req := []byte(strings.Repeat("r", 200) + "\n")
	var next atomic.Int64
	b.ResetTimer()
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp := make([]byte, len(req))
			for next.Add(1) <= int64(b.N) {
				c.Write(req)
				if _, err := io.ReadFull(c, resp); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
