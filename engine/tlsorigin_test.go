package engine

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A TLS origin for the TLS origination tests (e2e_tls_test.go), with
// certificates from a CA of the test's own (internal/testcert).

// tlsOrigin is an HTTP origin on a loopback port that speaks TLS with cert
// and, on the same port, plain HTTP (it looks at the first byte: 0x16 is a
// TLS handshake record), so a test can tell whether the proxy mixed the
// two. It counts the handshakes it saw begin and the connections of each
// kind, and keeps the last ClientHello.
type tlsOrigin struct {
	port   int
	srv    *http.Server
	hellos atomic.Int64 // ClientHellos: handshakes begun, full or resumed
	tlsIn  atomic.Int64 // TLS connections accepted
	plain  atomic.Int64 // plain connections accepted
	closed atomic.Int64 // connections closed (either kind)

	mu        sync.Mutex
	lastHello tls.ClientHelloInfo // guarded by mu; Conn left out
}

// startTLSOrigin serves h with cert; opts adjust the server before it
// starts.
func startTLSOrigin(t testing.TB, cert tls.Certificate, h http.Handler, opts ...func(*http.Server)) *tlsOrigin {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := &tlsOrigin{port: ln.Addr().(*net.TCPAddr).Port}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		NextProtos:   []string{"http/1.1"},
		GetConfigForClient: func(hi *tls.ClientHelloInfo) (*tls.Config, error) {
			o.hellos.Add(1)
			o.mu.Lock()
			o.lastHello = *hi
			o.lastHello.Conn = nil
			o.mu.Unlock()
			return nil, nil
		},
	}
	o.srv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: log.New(io.Discard, "", 0), // handshakes the proxy refused
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateClosed || s == http.StateHijacked {
				o.closed.Add(1)
			}
		}}
	for _, f := range opts {
		f(o.srv)
	}
	go func() { _ = o.srv.Serve(&sniffListener{Listener: ln, cfg: cfg, o: o}) }()
	t.Cleanup(func() { _ = o.srv.Close() })
	return o
}

// hello returns the last ClientHello the origin saw.
func (o *tlsOrigin) hello() tls.ClientHelloInfo {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.lastHello
}

// sniffListener hands the server a *tls.Conn for a connection that starts
// with a TLS handshake record, else the connection itself (net/http then
// serves HTTPS or HTTP on it).
type sniffListener struct {
	net.Listener
	cfg *tls.Config
	o   *tlsOrigin
}

func (l *sniffListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		br := bufio.NewReaderSize(c, 16)
		first, err := br.Peek(1)
		_ = c.SetReadDeadline(time.Time{})
		if err != nil {
			c.Close()
			continue
		}
		pc := &peekedConn{Conn: c, r: br}
		if first[0] == 0x16 {
			l.o.tlsIn.Add(1)
			return tls.Server(pc, l.cfg), nil
		}
		l.o.plain.Add(1)
		return pc, nil
	}
}

// peekedConn is a connection whose first bytes were read into r.
type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *peekedConn) Read(b []byte) (int, error) { return c.r.Read(b) }

// tlsHandler serves originHandler's paths and /tls, which says how the
// request came: "tls=true sni=origin.test alpn=http/1.1 host=...".
func tlsHandler() http.Handler {
	mux := originHandler().(*http.ServeMux)
	mux.HandleFunc("/tls", func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil {
			fmt.Fprintf(w, "tls=false host=%s", r.Host)
			return
		}
		fmt.Fprintf(w, "tls=true sni=%s alpn=%s version=%x host=%s", r.TLS.ServerName, r.TLS.NegotiatedProtocol, r.TLS.Version, r.Host)
	})
	return mux
}
