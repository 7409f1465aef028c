package main

import (
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/sluiceproxy/sluice/proxy"
)

// tlsOriginationConfig is the `tls_origination:` section: plain HTTP from
// the client, verified TLS to the origin (proxy.TLSOrigination). Requests
// to its ports go out over TLS, as do those a policy rule with
// upstream_tls allows; origins are verified against ca_file or the system
// roots. It changes only with a restart.
type tlsOriginationConfig struct {
	// Ports are the destination ports whose requests go out over TLS
	// (1-65535). Empty (the default): only rules with upstream_tls.
	Ports []int `yaml:"ports"`
	// CAFile is a PEM file of the CA certificates origins are verified
	// against instead of the system roots; a relative path is relative to
	// the config file. Empty (the default): the system roots.
	CAFile string `yaml:"ca_file"`
}

// origination is the TLS origination the section asks for: the ports, and
// the CA file read. fields are its bad fields, each named.
func (c tlsOriginationConfig) origination() (t proxy.TLSOrigination, fields []*configField) {
	for i, p := range c.Ports {
		if p < 1 || p > 65535 {
			fields = append(fields, &configField{fmt.Sprintf("tls_origination.ports[%d]", i), strconv.Itoa(p), errors.New("not a port (want 1-65535)")})
			continue
		}
		t.Ports = append(t.Ports, uint16(p))
	}
	if c.CAFile != "" {
		pool, err := readCAFile(c.CAFile)
		if err != nil {
			fields = append(fields, &configField{"tls_origination.ca_file", c.CAFile, err})
		}
		t.RootCAs = pool
	}
	return t, fields
}

// readCAFile reads a PEM bundle of CA certificates.
func readCAFile(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the field and value name the file already
		}
		return nil, fmt.Errorf("cannot read: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("no PEM certificate in the file")
	}
	return pool, nil
}
