package proxytest

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/sluiceproxy/sluice/policy"
	"github.com/sluiceproxy/sluice/proxy"
)

// hello is the start of a ClientHello naming origin.test: a record of one
// handshake message whose only extension is server_name.
func hello(name string) []byte {
	sni := []byte{0, 0} // server_name
	list := append([]byte{0, byte(len(name) >> 8), byte(len(name))}, name...)
	ext := append([]byte{byte((len(list) + 2) >> 8), byte(len(list) + 2), byte(len(list) >> 8), byte(len(list))}, list...)
	exts := append(sni, ext...)
	body := append([]byte{3, 3}, make([]byte, 32)...)        // version, random
	body = append(body, 0, 0, 2, 0x13, 0x01, 1, 0)           // session id, one suite, one compression
	body = append(body, byte(len(exts)>>8), byte(len(exts))) // extensions
	body = append(body, exts...)
	msg := append([]byte{1, 0, byte(len(body) >> 8), byte(len(body))}, body...)
	return append([]byte{22, 3, 1, byte(len(msg) >> 8), byte(len(msg))}, msg...)
}

// TestSessionTransparent: what a redirected connection's first bytes make
// of it.
func TestSessionTransparent(t *testing.T) {
	orig := netip.MustParseAddrPort("203.0.113.10:8443")
	pol, err := policy.Compile(policy.Config{ConnectPorts: "*", ClientCIDRs: []string{"0.0.0.0/0"},
		Rules: []policy.Rule{{Name: "no", Hosts: []string{"denied.test"}, Action: "deny"}}})
	if err != nil {
		t.Fatal(err)
	}
	newT := func() *MemDriver {
		m := NewMemDriver(proxy.Config{Policy: pol})
		m.Names["origin.test"] = []netip.Addr{netip.MustParseAddr("192.0.2.5")}
		m.Names["denied.test"] = []netip.Addr{netip.MustParseAddr("192.0.2.6")}
		m.Transparent(orig)
		return m
	}

	// HTTP: by Host, whose port defaults to the original one.
	m := newT()
	send(m, "GET /x HTTP/1.1\r\nHost: origin.test\r\n\r\n")
	if m.Up == nil || m.Up.Addr != netip.MustParseAddrPort("192.0.2.5:8443") || !strings.HasPrefix(takeUp(m.Up), "GET /x HTTP/1.1\r\n") {
		t.Fatalf("http: upstream %+v", m.Up)
	}

	// TLS: by SNI, at the original port; the ClientHello goes through
	// unchanged and first, and no byte of HTTP reaches the client.
	for _, split := range []int{3, 20, 0} {
		m = newT()
		h := hello("origin.test")
		if split > 0 {
			m.ClientSend(h[:split])
			if m.Tunneled != nil || len(m.Upstreams) != 0 {
				t.Fatalf("split %d: routed before the hello was whole", split)
			}
			m.ClientSend(h[split:])
		} else {
			m.ClientSend(h)
		}
		tn := m.Tunneled
		if tn == nil || tn.Up.Addr != netip.MustParseAddrPort("192.0.2.5:8443") || string(tn.ToUpstream) != string(h) || len(m.ClientOut) != 0 || len(tn.Preface) != 0 {
			t.Fatalf("tls split %d: tunnel %+v, client got %q", split, tn, m.ClientOut)
		}
	}

	// Denied by name: closed, with no HTTP answer.
	m = newT()
	m.ClientSend(hello("denied.test"))
	if !m.ClientClosed || len(m.ClientOut) != 0 || m.Tunneled != nil || len(m.Upstreams) != 0 {
		t.Fatalf("denied: closed %v, client got %q", m.ClientClosed, m.ClientOut)
	}

	// Neither HTTP nor TLS: to the original address.
	m = newT()
	m.ClientSend([]byte("SSH-2.0-OpenSSH_9.6\r\n"))
	if tn := m.Tunneled; tn == nil || tn.Up.Addr != orig || string(tn.ToUpstream) != "SSH-2.0-OpenSSH_9.6\r\n" {
		t.Fatalf("raw: tunnel %+v", m.Tunneled)
	}
}
