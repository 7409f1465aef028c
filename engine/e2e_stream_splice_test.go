package engine

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Stream mode splices the rest of a body with a Content-Length between the
// two sockets (stream.go, splice_linux.go). These tests take it through
// what ends such a body early: an origin that stops sending, one that closes
// inside the body, a client that leaves, and the server stopping. The
// whole-body cases are the stream tests'.

// rawBodyOrigin serves one response per connection: a head announcing size
// bytes, then sent bytes of the pattern; then it closes the connection if
// closeAfter, and otherwise holds it open, silent, until the test ends.
func rawBodyOrigin(t *testing.T, size, sent int, closeAfter bool) int {
	t.Helper()
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	return tcpServer(t, func(c *net.TCPConn) {
		if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
			return
		}
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", size)
		if _, err := io.Copy(c, &patternReader{n: int64(sent)}); err != nil {
			return
		}
		if !closeAfter {
			<-stop
		}
	})
}

// waitUncounted waits until the server counts no client or upstream
// connection.
func waitUncounted(t *testing.T, e *env) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		client, up := e.srv.Conns()
		if client == 0 && up == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("connections still counted: %d client, %d upstream", client, up)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// getBig sends a GET for the origin on port through the proxy and returns
// the connection and the response, its body not read.
func getBig(t *testing.T, e *env, port int) (net.Conn, *http.Response) {
	t.Helper()
	c, br := e.raw()
	fmt.Fprintf(c, "GET http://origin.test:%d/big HTTP/1.1\r\nHost: origin.test\r\n\r\n", port)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c, resp
}

// readCut sends a GET for the origin on port through the proxy and reads
// the response until the proxy closes the connection, checking the bytes
// that came; it returns how many and how long the whole took.
func readCut(t *testing.T, e *env, port int) (int64, time.Duration) {
	t.Helper()
	start := time.Now()
	_, resp := getBig(t, e, port)
	chk := &patternChecker{}
	_, err := io.Copy(chk, resp.Body)
	if err == nil || chk.bad != 0 {
		t.Fatalf("body: %d bytes, bad at %d, err %v: want a cut-short body of good bytes", chk.off, chk.bad, err)
	}
	return chk.off, time.Since(start)
}

// usedStream fails the test when no stream job started: the body went
// through the loop, and the test proved nothing about stream mode.
func usedStream(t *testing.T, e *env) {
	t.Helper()
	if e.srv.Counters().StreamsStarted == 0 {
		t.Fatal("no stream job started: the body was not spliced")
	}
}

func TestStreamSpliceIdleOrigin(t *testing.T) { forEngines(t, testStreamSpliceIdleOrigin) }

// An origin that stops sending inside the body: the body ends after the
// idle timeout, and the client's connection is closed.
func testStreamSpliceIdleOrigin(t *testing.T) {
	port := rawBodyOrigin(t, 8<<20, 1<<20, false)
	e := newEnv(t, Config{SpliceAbove: 64 << 10, IdleTimeout: 300 * time.Millisecond})
	got, took := readCut(t, e, port)
	if got >= 8<<20 || took > 5*time.Second {
		t.Fatalf("got %d bytes in %v: want fewer than 8 MiB, within seconds of the idle timeout", got, took)
	}
	usedStream(t, e)
}

func TestStreamSpliceOriginClosesEarly(t *testing.T) {
	forEngines(t, testStreamSpliceOriginClosesEarly)
}

// An origin that closes inside the body: the client gets every byte sent,
// then the close.
func testStreamSpliceOriginClosesEarly(t *testing.T) {
	const sent = 3<<20 + 123
	port := rawBodyOrigin(t, 8<<20, sent, true)
	e := newEnv(t, Config{SpliceAbove: 64 << 10})
	if got, _ := readCut(t, e, port); got != sent {
		t.Fatalf("got %d bytes, want the %d the origin sent", got, sent)
	}
	usedStream(t, e)
	// The connection and its upstream are accounted for.
	waitUncounted(t, e)
}

func TestStreamSpliceStop(t *testing.T) { forEngines(t, testStreamSpliceStop) }

// The server stopping ends a spliced body at once, not after the idle
// timeout.
func testStreamSpliceStop(t *testing.T) {
	port := rawBodyOrigin(t, 8<<20, 1<<20, false)
	e := newEnv(t, Config{SpliceAbove: 64 << 10, IdleTimeout: time.Minute})
	c, resp := getBig(t, e, port)
	// Take the first MiB, so the body is past the loop and spliced.
	chk := &patternChecker{}
	if _, err := io.CopyN(chk, resp.Body, 1<<20); err != nil || chk.bad != 0 {
		t.Fatalf("first MiB: %v, bad at %d", err, chk.bad)
	}
	usedStream(t, e)
	start := time.Now()
	if err := e.srv.Stop(); err != nil && !strings.Contains(err.Error(), "drain") {
		t.Fatalf("Stop: %v", err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.Copy(chk, resp.Body); err == nil {
		t.Fatal("the body ended cleanly after Stop")
	}
	if took := time.Since(start); took > 4*time.Second {
		t.Fatalf("Stop and the client's close took %v: the splice waited for the idle timeout", took)
	}
}

func TestStreamSpliceClientGone(t *testing.T) { forEngines(t, testStreamSpliceClientGone) }

// A client that closes inside a spliced body: the splice to it fails, and
// both connections are closed and uncounted.
func testStreamSpliceClientGone(t *testing.T) {
	port := rawBodyOrigin(t, 64<<20, 64<<20, false)
	e := newEnv(t, Config{SpliceAbove: 64 << 10, IdleTimeout: time.Minute})
	c, resp := getBig(t, e, port)
	if _, err := io.CopyN(io.Discard, resp.Body, 2<<20); err != nil {
		t.Fatal(err)
	}
	usedStream(t, e)
	c.Close()
	waitUncounted(t, e)
}
