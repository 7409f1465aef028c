package engine

import (
	"bufio"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluiceproxy/sluice/engine/eventloop"
)

// gatedEngine holds every Register until gate is closed, counting the
// registrations waiting at once.
type gatedEngine struct {
	eventloop.Engine
	gate    chan struct{}
	waiting atomic.Int32
}

func (g *gatedEngine) Register(tc *net.TCPConn, tag any) error {
	g.waiting.Add(1)
	<-g.gate
	return g.Engine.Register(tc, tag)
}

func TestAcceptDoesNotWaitForEnrollment(t *testing.T) {
	forEngines(t, testAcceptDoesNotWaitForEnrollment)
}

// The accept loops hand each connection to the engine and go on
// accepting: a connection waiting to be enrolled on a busy loop does not
// hold up the ones behind it. With 2 accept loops that each waited for
// their registration, at most 2 would wait at once here.
func testAcceptDoesNotWaitForEnrollment(t *testing.T) {
	e := newEnv(t, Config{})
	srv, err := NewServer(Config{Listen: "127.0.0.1:0", Loops: 2, Engine: engineOf(t)}, e.res)
	if err != nil {
		t.Fatal(err)
	}
	g := &gatedEngine{Engine: srv.eng, gate: make(chan struct{})}
	srv.eng = g
	var open sync.Once
	release := func() { open.Do(func() { close(g.gate) }) }
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		release()
		_ = srv.Stop()
	})
	const n = 8
	var brs []*bufio.Reader
	for range n {
		c, err := net.DialTimeout("tcp", srv.Addr().String(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(c, "GET http://%s/small HTTP/1.1\r\nHost: %s\r\n\r\n", e.project, e.project)
		brs = append(brs, bufio.NewReader(c))
	}
	deadline := time.Now().Add(5 * time.Second)
	for g.waiting.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d accepted connections waiting to be enrolled at once: the accept loops wait for each", g.waiting.Load(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	release()
	for i, br := range brs {
		resp, body := readResponse(t, br, "GET")
		if resp.StatusCode != 200 || len(body) != 100 {
			t.Fatalf("client %d: %d, %d bytes", i, resp.StatusCode, len(body))
		}
	}
}
