// Package testcert makes X.509 certificates in-process for tests and
// benchmarks: a certificate authority of the test's own and the server
// certificates it issues, for DNS names or IP addresses, valid when the
// test says. It is how TLS origination is tested against real TLS origins
// (engine's tests, bench) without files or the system's roots.
//
//	ca := testcert.NewCA(t)
//	cert := ca.Leaf(t, "origin.test")                       // valid now
//	old := ca.LeafValid(t, from, until, "origin.test", "127.0.0.1")
//	roots := ca.Pool()                                        // what the client trusts
//
// Keys are ECDSA P-256: quick to make, and what most origins present.
package testcert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// CA is a certificate authority a test made. Immutable once made.
type CA struct {
	Cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// serial numbers the certificates of the process.
var serial atomic.Int64

// NewCA makes a CA valid from an hour ago for a day.
func NewCA(t testing.TB) *CA {
	t.Helper()
	cert, key := issue(t, &x509.Certificate{
		Subject:               pkix.Name{CommonName: "sluice test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}, nil)
	return &CA{Cert: cert, key: key}
}

// Pool returns a pool holding the CA alone: what a client verifying the
// CA's certificates trusts.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// PEM returns the CA's certificate PEM-encoded, as a CA bundle file holds it.
func (ca *CA) PEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})
}

// Leaf issues a server certificate for names (DNS names or IP literals)
// valid from an hour ago for an hour.
func (ca *CA) Leaf(t testing.TB, names ...string) tls.Certificate {
	t.Helper()
	return ca.LeafValid(t, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), names...)
}

// LeafValid issues a server certificate for names (DNS names or IP
// literals) valid from notBefore to notAfter.
func (ca *CA) LeafValid(t testing.TB, notBefore, notAfter time.Time, names ...string) tls.Certificate {
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
	return tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}
}

// issue makes a key and a certificate of tmpl for it, signed by ca (nil:
// self-signed).
func issue(t testing.TB, tmpl *x509.Certificate, ca *CA) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = big.NewInt(serial.Add(1))
	parent, signer := tmpl, key
	if ca != nil {
		parent, signer = ca.Cert, ca.key
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
