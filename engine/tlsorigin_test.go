package engine

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Test certificates and a TLS origin for the TLS origination tests
// (e2e_tls_test.go), made in-process: a CA of the test's own, leaves for
// the names and addresses a test asks for.

// testCA is a certificate authority the test made.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool // the CA alone: what the proxy verifies against
}

var certSerial atomic.Int64

func newTestCA(t testing.TB) *testCA {
	t.Helper()
	ca := &testCA{pool: x509.NewCertPool()}
	ca.cert, ca.key = issue(t, &x509.Certificate{
		Subject:               pkix.Name{CommonName: "sluice test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}, nil)
	ca.pool.AddCert(ca.cert)
	return ca
}

// issue makes a key and a certificate of tmpl for it, signed by ca (nil:
// self-signed).
func issue(t testing.TB, tmpl *x509.Certificate, ca *testCA) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = big.NewInt(certSerial.Add(1))
	parent, signer := tmpl, key
	if ca != nil {
		parent, signer = ca.cert, ca.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// leaf issues a server certificate for names (DNS names, or IP literals)
// valid from notBefore to notAfter.
func (ca *testCA) leaf(t testing.TB, notBefore, notAfter time.Time, names ...string) tls.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: names[0]},
		NotBefore:   notBefore,
		NotAfter:    notAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	cert, key := issue(t, tmpl, ca)
	return tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key}
}

// validLeaf issues a certificate for names valid now.
func (ca *testCA) validLeaf(t testing.TB, names ...string) tls.Certificate {
	return ca.leaf(t, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), names...)
}

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
