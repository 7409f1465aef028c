package testcert

import (
	"crypto/x509"
	"testing"
	"time"
)

// TestLeafVerifies: a leaf verifies against the CA's pool for its names
// and addresses, not for others, and not outside its validity.
func TestLeafVerifies(t *testing.T) {
	ca := NewCA(t)
	leaf := ca.Leaf(t, "origin.test", "127.0.0.1").Leaf
	verify := func(name string, at time.Time) error {
		_, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: ca.Pool(), CurrentTime: at})
		return err
	}
	for _, name := range []string{"origin.test", "127.0.0.1"} {
		if err := verify(name, time.Now()); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := verify("other.test", time.Now()); err == nil {
		t.Error("verified for a name it does not hold")
	}
	if err := verify("origin.test", time.Now().Add(2*time.Hour)); err == nil {
		t.Error("verified after it expired")
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "origin.test", Roots: NewCA(t).Pool()}); err == nil {
		t.Error("verified against another CA")
	}
	if p := x509.NewCertPool(); !p.AppendCertsFromPEM(ca.PEM()) {
		t.Error("PEM does not parse")
	}
}
