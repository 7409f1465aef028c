// Package origin is a minimal, fast HTTP/1.1 origin server for load tests. It
// answers every GET with a fixed response chosen by path, supports keep-alive
// and pipelining, and allocates nothing per request, so that a benchmark
// measures the proxy and not the origin. It is not a general HTTP server:
// requests with bodies are not supported.
package origin

import (
	"bytes"
	"crypto/tls"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Server is a running origin. Accepts counts the connections accepted.
type Server struct {
	ln      net.Listener
	Accepts atomic.Int64

	responses map[string][]byte // path -> whole response; set before start
	tls       *tls.Config       // StartTLS: every connection speaks TLS; set before start
	wg        sync.WaitGroup
	mu        sync.Mutex
	conns     map[net.Conn]struct{} // guarded by mu
}

// Start listens on 127.0.0.1:0 and serves paths: each maps to a body sent with
// Content-Length; a path under /cache/ also says Cache-Control: max-age=3600,
// for the cache benchmarks. Unknown paths get 404.
func Start(paths map[string][]byte) (*Server, error) { return StartTLS(paths, nil) }

// StartTLS is Start with every connection spoken over TLS with cfg (the
// TLS origination benchmarks); nil cfg is plain HTTP.
func StartTLS(paths map[string][]byte, cfg *tls.Config) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{ln: ln, responses: make(map[string][]byte), conns: make(map[net.Conn]struct{}), tls: cfg}
	for p, body := range paths {
		cc := ""
		if strings.HasPrefix(p, "/cache/") {
			cc = "Cache-Control: max-age=3600\r\n"
		}
		r := []byte("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n" + cc + "Content-Length: " +
			strconv.Itoa(len(body)) + "\r\n\r\n")
		s.responses[p] = append(r, body...)
	}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// Port returns the listening port.
func (s *Server) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// Addr returns the listening address.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops the server and closes its connections.
func (s *Server) Close() {
	s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.Accepts.Add(1)
		if s.tls != nil {
			c = tls.Server(c, s.tls) // the handshake runs in serve's first Read
		}
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go s.serve(c)
	}
}

var notFound = []byte("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")

func (s *Server) serve(c net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.Close()
	}()
	buf := make([]byte, 64<<10)
	out := make([]byte, 0, 64<<10)
	n := 0
	for {
		m, err := c.Read(buf[n:])
		if err != nil {
			return
		}
		n += m
		start := 0
		out = out[:0]
		for {
			end := bytes.Index(buf[start:n], []byte("\r\n\r\n"))
			if end < 0 {
				break
			}
			head := buf[start : start+end]
			resp := notFound
			if sp := bytes.IndexByte(head, ' '); sp > 0 {
				rest := head[sp+1:]
				if sp2 := bytes.IndexByte(rest, ' '); sp2 > 0 {
					if r, ok := s.responses[string(rest[:sp2])]; ok {
						resp = r
					}
				}
			}
			if len(out)+len(resp) > cap(out) && len(out) > 0 {
				if _, err := c.Write(out); err != nil {
					return
				}
				out = out[:0]
			}
			if len(resp) > cap(out) {
				if _, err := c.Write(resp); err != nil {
					return
				}
			} else {
				out = append(out, resp...)
			}
			start += end + 4
		}
		if len(out) > 0 {
			if _, err := c.Write(out); err != nil {
				return
			}
		}
		n = copy(buf, buf[start:n])
		if n == len(buf) {
			return // a head larger than the buffer: not for this server
		}
	}
}
