package proxytest

import (
	"net/netip"
	"testing"

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
