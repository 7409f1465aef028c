package proxytest

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/sluiceproxy/sluice/policy"
	"github.com/sluiceproxy/sluice/proxy"
)

// A name with IPv6 and IPv4 addresses: the IPv6 one is dialed with an IPv4
// one raced beside it (Driver.Connect's fallback); when the IPv4 one wins,
// the session records it as the upstream.
func TestSessionHappyEyeballs(t *testing.T) {
	m := NewMemDriver(proxy.Config{})
	v6, v4 := netip.MustParseAddr("2001:db8::5"), netip.MustParseAddr("192.0.2.5")
	m.Names["he.test"] = []netip.Addr{v4, v6}
	m.RefuseDial[netip.AddrPortFrom(v6, 80)] = true
	send(m, "GET / HTTP/1.1\r\nHost: he.test\r\n\r\n")
	if len(m.Upstreams) != 1 {
		t.Fatalf("%d dials", len(m.Upstreams))
	}
	up := m.Upstreams[0]
	if up.Fallback != netip.AddrPortFrom(v4, 80) || up.Addr != netip.AddrPortFrom(v4, 80) || !up.Open {
		t.Fatalf("dial %+v", up)
	}
}

// A request a rule sends through a parent proxy is never TLS-originated,
// even to a port TLS origination covers: the connection is to the parent,
// in plain HTTP, with the request in absolute form.
func TestSessionParentNotOriginated(t *testing.T) {
	pol, err := policy.Compile(policy.Config{Rules: []policy.Rule{{Name: "up", Action: "allow", Via: "http://parent.test:3128"}}})
	if err != nil {
		t.Fatal(err)
	}
	m := NewMemDriver(proxy.Config{Policy: pol, TLSOrigination: proxy.TLSOrigination{Ports: []uint16{443}}})
	m.Names["parent.test"] = []netip.Addr{netip.MustParseAddr("192.0.2.9")}
	send(m, "GET http://far.test:443/x HTTP/1.1\r\nHost: far.test:443\r\n\r\n")
	if m.Up == nil || m.Up.Addr != netip.MustParseAddrPort("192.0.2.9:3128") || m.Up.ServerName != "" ||
		!strings.HasPrefix(string(m.Up.Out), "GET http://far.test:443/x HTTP/1.1\r\n") {
		t.Fatalf("upstream %+v, sent %q", m.Up, m.Up.Out)
	}
}
