package fuzz

import (
	"bytes"
	"crypto/tls"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/sluiceproxy/sluice/parser"
)

// helloOf returns the first bytes a crypto/tls client sends for name (an
// IP literal, or "": no server_name extension).
func helloOf(f testing.TB, name string) []byte {
	c, s := net.Pipe()
	defer c.Close()
	defer s.Close()
	go tls.Client(c, &tls.Config{ServerName: name, InsecureSkipVerify: true}).Handshake()
	s.SetReadDeadline(time.Now().Add(5 * time.Second))
	var out []byte
	buf := make([]byte, 64<<10)
	for {
		n, err := s.Read(buf)
		out = append(out, buf[:n]...)
		if _, done, _ := parser.ClientHelloSNI(out); done || err != nil {
			return out
		}
	}
}

// errSeen stops crypto/tls's handshake once it has read the ClientHello.
var errSeen = errors.New("seen")

// goServerName is what crypto/tls's server reads from b as the ClientHello:
// the server name, and whether it accepted the hello at all.
func goServerName(b []byte) (string, bool) {
	var name string
	seen := false
	srv := tls.Server(&bytesConn{r: bytes.NewReader(b)}, &tls.Config{GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		name, seen = h.ServerName, true
		return nil, errSeen
	}})
	srv.Handshake()
	return name, seen
}

// bytesConn is a net.Conn that reads r and then EOF, and discards writes.
type bytesConn struct {
	net.Conn // nil: only the methods below are used
	r        *bytes.Reader
}

func (c *bytesConn) Read(p []byte) (int, error)       { return c.r.Read(p) }
func (c *bytesConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c *bytesConn) Close() error                     { return nil }
func (c *bytesConn) SetDeadline(time.Time) error      { return nil }
func (c *bytesConn) SetReadDeadline(time.Time) error  { return nil }
func (c *bytesConn) SetWriteDeadline(time.Time) error { return nil }
func (c *bytesConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *bytesConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }

// FuzzClientHelloSNI feeds arbitrary bytes to the transparent listener's
// ClientHello reader and checks: no panic; the input is never written to
// (it is relayed to the upstream unchanged); an error comes with no result;
// and where crypto/tls's server accepts the bytes as a ClientHello and
// finds a server name, the reader finds the same one.
func FuzzClientHelloSNI(f *testing.F) {
	f.Add(helloOf(f, "origin.test"))
	f.Add(helloOf(f, "a.b.example"))
	f.Add(helloOf(f, "192.0.2.1"))
	f.Add([]byte{22, 3, 1, 0, 5, 1, 0, 0, 1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 1<<16 {
			return
		}
		keep := append([]byte(nil), b...)
		name, done, err := parser.ClientHelloSNI(b)
		if !bytes.Equal(b, keep) {
			t.Fatal("input modified")
		}
		if err != nil && (done || name != nil) {
			t.Fatal("error with a result")
		}
		if !bytes.HasPrefix(b, []byte{22, 3}) {
			return
		}
		if goName, ok := goServerName(b); ok && goName != "" {
			if !done || string(name) != goName {
				t.Fatalf("crypto/tls reads server name %q, ClientHelloSNI %q (done %v, err %v)", goName, name, done, err)
			}
		}
	})
}

// TestClientHelloSNI: the server name of crypto/tls's ClientHellos, whole
// or split over records, and only once it has all of it.
func TestClientHelloSNI(t *testing.T) {
	hello := helloOf(t, "origin.test")
	orig := append([]byte(nil), hello...)
	// Every prefix asks for more; the whole names the server.
	for i := 0; i < len(hello); i++ {
		if _, done, err := parser.ClientHelloSNI(hello[:i]); done || err != nil {
			t.Fatalf("prefix %d: done %v, err %v", i, done, err)
		}
	}
	name, done, err := parser.ClientHelloSNI(hello)
	if !done || err != nil || string(name) != "origin.test" {
		t.Fatalf("got %q %v %v", name, done, err)
	}
	// Split over two records: the same name, and the stream unchanged.
	body := hello[5:]
	split := append([]byte{22, 3, 1, 0, 40}, body[:40]...)
	rest := body[40:]
	split = append(split, 22, 3, 1, byte(len(rest)>>8), byte(len(rest)))
	split = append(split, rest...)
	keep := append([]byte(nil), split...)
	for i := 0; i < len(split); i++ {
		if _, done, err := parser.ClientHelloSNI(split[:i]); done || err != nil {
			t.Fatalf("split prefix %d: done %v, err %v", i, done, err)
		}
	}
	if name, done, err := parser.ClientHelloSNI(split); !done || err != nil || string(name) != "origin.test" {
		t.Fatalf("split: %q %v %v", name, done, err)
	}
	if !bytes.Equal(split, keep) || !bytes.Equal(hello, orig) {
		t.Fatal("the stream was written to")
	}
	// No SNI (an IP literal as ServerName sends none).
	if name, done, err := parser.ClientHelloSNI(helloOf(t, "192.0.2.7")); !done || err != nil || name != nil {
		t.Fatalf("no SNI: %q %v %v", name, done, err)
	}
	for _, bad := range [][]byte{
		[]byte("GET / HTTP/1.1\r\n"),
		{22, 3, 1, 0, 4, 2, 0, 0, 0},             // a ServerHello
		{22, 3, 1, 0, 0},                         // an empty record
		{22, 3, 1, 0, 8, 1, 0, 0, 4, 3, 3, 0, 0}, // a ClientHello cut inside
	} {
		if _, _, err := parser.ClientHelloSNI(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
