package proxytest

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/sluiceproxy/sluice/policy"
	"github.com/sluiceproxy/sluice/proxy"
)

// recorder keeps the Records the session reports.
type recorder struct{ recs []proxy.Record }

func (r *recorder) Observe(rec *proxy.Record) { r.recs = append(r.recs, *rec) }

// TestSessionTLSOrigination: which requests go out over TLS, to which
// address, verified for which name, and what the origin is sent.
func TestSessionTLSOrigination(t *testing.T) {
	pol, err := policy.Compile(policy.Config{Rules: []policy.Rule{
		{Name: "tls-rule", Hosts: []string{"secure.test"}, UpstreamTLS: true, Action: "allow"},
		{Name: "rest", Action: "allow"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, req string
		addr      netip.AddrPort
		tlsName   string // "" for plain
		head      string // the forwarded request line and Host
	}{
		{"https absolute, port in list", "GET https://origin.test/a HTTP/1.1\r\nHost: origin.test\r\n\r\n",
			netip.AddrPortFrom(originAddr, 443), "origin.test", "GET /a HTTP/1.1\r\nHost: origin.test\r\n"},
		{"http to a port in the list", "GET http://origin.test:443/b HTTP/1.1\r\n\r\n",
			netip.AddrPortFrom(originAddr, 443), "origin.test", "GET /b HTTP/1.1\r\nHost: origin.test:443\r\n"},
		{"origin-form to a port in the list", "GET /c HTTP/1.1\r\nHost: Origin.Test:443\r\n\r\n",
			netip.AddrPortFrom(originAddr, 443), "origin.test", "GET /c HTTP/1.1\r\nHost: Origin.Test:443\r\n"},
		{"rule, at the request's port", "GET http://secure.test/d HTTP/1.1\r\n\r\n",
			netip.AddrPortFrom(originAddr, 80), "secure.test", "GET /d HTTP/1.1\r\nHost: secure.test\r\n"},
		{"trailing dot", "GET https://origin.test./e HTTP/1.1\r\n\r\n",
			netip.AddrPortFrom(originAddr, 443), "origin.test", "GET /e HTTP/1.1\r\nHost: origin.test.\r\n"},
		{"IP literal: verified for the address", "GET https://192.0.2.10/f HTTP/1.1\r\n\r\n",
			netip.AddrPortFrom(originAddr, 443), "192.0.2.10", "GET /f HTTP/1.1\r\nHost: 192.0.2.10\r\n"},
		{"IPv6 literal", "GET https://[2001:db8::1]:443/g HTTP/1.1\r\n\r\n",
			netip.MustParseAddrPort("[2001:db8::1]:443"), "2001:db8::1", "GET /g HTTP/1.1\r\nHost: [2001:db8::1]:443\r\n"},
		{"plain", "GET http://origin.test/h HTTP/1.1\r\n\r\n",
			netip.AddrPortFrom(originAddr, 80), "", "GET /h HTTP/1.1\r\nHost: origin.test\r\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := newMemConfig(t, proxy.Config{Policy: pol, TLSOrigination: proxy.TLSOrigination{Ports: []uint16{443}}})
			m.Names["secure.test"] = []netip.Addr{originAddr}
			m.Names["origin.test."] = []netip.Addr{originAddr}
			send(m, tc.req)
			up := m.Up
			if up == nil || up.Addr != tc.addr || up.ServerName != tc.tlsName {
				t.Fatalf("upstream %+v, want %v with TLS name %q", up, tc.addr, tc.tlsName)
			}
			if got := takeUp(up); !strings.HasPrefix(got, tc.head) {
				t.Fatalf("forwarded:\n%s\nwant it to start with\n%s", got, tc.head)
			}
			upSend(m, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			if out := takeOut(m); !hasStatus(out, "200") || !strings.HasSuffix(out, "ok") {
				t.Fatalf("client got %q", out)
			}
		})
	}
}

// TestSessionTLSOriginationRefused: an https absolute-form request that
// origination does not cover is 501, and goes nowhere; a CONNECT is a
// tunnel even to a port in the list.
func TestSessionTLSOriginationRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  proxy.Config
		req  string
	}{
		{"not configured", proxy.Config{}, "GET https://origin.test/ HTTP/1.1\r\n\r\n"},
		{"port not in the list", proxy.Config{TLSOrigination: proxy.TLSOrigination{Ports: []uint16{443}}},
			"GET https://origin.test:8443/ HTTP/1.1\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newMemConfig(t, tc.cfg)
			send(m, tc.req)
			if out := takeOut(m); !hasStatus(out, "501") || !strings.Contains(out, "sluice-error: https absolute-form needs TLS origination\r\n") {
				t.Fatalf("got %q", out)
			}
			if len(m.Upstreams) > 0 {
				t.Fatalf("dialed %+v", m.Upstreams[0])
			}
		})
	}
	m := newMemConfig(t, proxy.Config{TLSOrigination: proxy.TLSOrigination{Ports: []uint16{443}}})
	send(m, "CONNECT origin.test:443 HTTP/1.1\r\n\r\n")
	if m.Tunneled == nil || m.Tunneled.Up.ServerName != "" {
		t.Fatalf("CONNECT: tunnel %+v", m.Tunneled)
	}
}

// TestSessionTLSPoolKeys: plain and TLS connections to one address, and
// TLS ones for different names, are pooled apart; each request gets back
// its own kind.
func TestSessionTLSPoolKeys(t *testing.T) {
	pol, err := policy.Compile(policy.Config{Rules: []policy.Rule{
		{Name: "tls-posts", Hosts: []string{"origin.test", "alias.test"}, Methods: []string{"POST"}, UpstreamTLS: true, Action: "allow"},
		{Name: "rest", Action: "allow"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	m := newMemConfig(t, proxy.Config{Policy: pol})
	m.Names["alias.test"] = []netip.Addr{originAddr}
	reqs := []struct{ req, tlsName string }{
		{"GET /1 HTTP/1.1\r\nHost: origin.test\r\n\r\n", ""},
		{"POST /2 HTTP/1.1\r\nHost: origin.test\r\nContent-Length: 0\r\n\r\n", "origin.test"},
		{"POST /3 HTTP/1.1\r\nHost: alias.test\r\nContent-Length: 0\r\n\r\n", "alias.test"},
		{"GET /4 HTTP/1.1\r\nHost: origin.test\r\n\r\n", ""},
		{"POST /5 HTTP/1.1\r\nHost: origin.test\r\nContent-Length: 0\r\n\r\n", "origin.test"},
		{"POST /6 HTTP/1.1\r\nHost: alias.test\r\nContent-Length: 0\r\n\r\n", "alias.test"},
	}
	for i, r := range reqs {
		send(m, r.req)
		if m.Up == nil || m.Up.ServerName != r.tlsName {
			t.Fatalf("request %d: upstream %+v, want TLS name %q", i+1, m.Up, r.tlsName)
		}
		upSend(m, "HTTP/1.1 204 No Content\r\n\r\n")
		if out := takeOut(m); !hasStatus(out, "204") {
			t.Fatalf("request %d: %q", i+1, out)
		}
	}
	if len(m.Upstreams) != 3 {
		t.Fatalf("%d upstreams dialed, want 3 (plain, TLS for origin.test, TLS for alias.test)", len(m.Upstreams))
	}
	for _, up := range m.Upstreams {
		if up.Reused != 1 {
			t.Errorf("upstream %q reused %d times, want 1", up.ServerName, up.Reused)
		}
	}
}

// TestSessionTLSErrors: a failed handshake is 502 with its reason (the
// certificate's, without crypto/tls's preamble), or 504 for a timeout,
// in sluice-error and in the Record.
func TestSessionTLSErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		err    error
		status string
		detail string
	}{
		{"unknown authority", &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}, "502",
			"upstream TLS: x509: certificate signed by unknown authority"},
		{"alert", errors.New("remote error: tls: handshake failure"), "502", "upstream TLS: remote error: tls: handshake failure"},
		{"control bytes", errors.New("bad\r\nname\x7f\xff"), "502", "upstream TLS: bad??name??"},
		{"long", errors.New(strings.Repeat("x", 1000)), "502", "upstream TLS: " + strings.Repeat("x", 253) + "..."},
		{"timeout", os.ErrDeadlineExceeded, "504", "upstream TLS handshake timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			m := newMemConfig(t, proxy.Config{Observer: rec, TLSOrigination: proxy.TLSOrigination{Ports: []uint16{443}}})
			m.FailTLS = map[string]error{"origin.test": tc.err}
			send(m, "GET https://origin.test/ HTTP/1.1\r\n\r\n")
			out := takeOut(m)
			if !hasStatus(out, tc.status) || !strings.Contains(out, "\r\nsluice-error: "+tc.detail+"\r\n") {
				t.Fatalf("got %q, want %s with %q", out, tc.status, tc.detail)
			}
			if len(rec.recs) != 1 || rec.recs[0].Error != tc.detail {
				t.Fatalf("records %+v, want one with error %q", rec.recs, tc.detail)
			}
		})
	}
}
