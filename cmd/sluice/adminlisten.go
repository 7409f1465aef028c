package main

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Admin server bounds. The admin listener is for operators and probes, not
// for load: it must never be what exhausts the process's descriptors, and a
// client that opens connections and sends nothing must not keep them.
const (
	// adminMaxConns caps open admin connections; beyond it a new one is
	// closed at once.
	adminMaxConns = 64
	// adminReadHeaderTimeout, adminReadTimeout and adminIdleTimeout bound
	// how long an admin connection may sit without sending a request.
	// There is no write timeout: /debug/pprof/profile streams for as long
	// as it was asked to.
	adminReadHeaderTimeout = 10 * time.Second
	adminReadTimeout       = 30 * time.Second
	adminIdleTimeout       = 60 * time.Second
)

// fdCounter is the proxy's descriptor budget (*engine.FDs).
type fdCounter interface {
	Acquire(n int64) bool
	Release(n int64)
}

// limitListener caps the connections of a listener and counts each in the
// proxy's descriptor budget; a connection beyond either is closed as soon
// as it is accepted. Safe for concurrent use.
type limitListener struct {
	net.Listener
	max     int64
	fds     fdCounter    // nil: not counted
	open    atomic.Int64 // connections accepted and not yet closed
	refused atomic.Int64
}

// Accept returns the next connection within the limits. Errors of the
// underlying Accept (EMFILE included) are returned to http.Server, which
// backs off on them.
func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.open.Add(1) > l.max {
			l.open.Add(-1)
			l.refused.Add(1)
			c.Close()
			continue
		}
		if l.fds != nil && !l.fds.Acquire(1) {
			l.open.Add(-1)
			l.refused.Add(1)
			c.Close()
			continue
		}
		return &limitConn{Conn: c, l: l}, nil
	}
}

// limitConn releases its place in the limits once, when closed.
type limitConn struct {
	net.Conn
	l    *limitListener
	once sync.Once
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.open.Add(-1)
		if c.l.fds != nil {
			c.l.fds.Release(1)
		}
	})
	return err
}
