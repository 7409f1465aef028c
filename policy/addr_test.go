package policy

import (
	"net/netip"
	"testing"
)

func TestCheckAddrDefaults(t *testing.T) {
	p := mustCompile(t, Config{})
	denied := map[string]string{
		"169.254.169.254":        "link-local",
		"169.254.0.1":            "link-local",
		"::ffff:169.254.169.254": "link-local",
		"64:ff9b::a9fe:a9fe":     "link-local", // NAT64 of 169.254.169.254
		"fe80::1":                "link-local",
		"fe80::1%eth0":           "link-local",
		"febf::1":                "link-local",
		"fd00:ec2::254":          "cloud metadata",
		"0.0.0.0":                "this network",
		"0.1.2.3":                "this network",
		"::ffff:0.0.0.0":         "this network",
		"::":                     "unspecified",
		"224.0.0.1":              "multicast",
		"239.255.255.250":        "multicast",
		"::ffff:239.1.2.3":       "multicast",
		"ff02::1":                "multicast",
		"ff0e::1":                "multicast",
		// IPv6 forms that carry an IPv4 address.
		"::169.254.169.254":          "link-local", // IPv4-compatible
		"::a9fe:a9fe":                "link-local",
		"::224.0.0.1":                "multicast",
		"::2":                        "this network", // 0.0.0.2
		"64:ff9b:1::a9fe:a9fe":       "link-local",   // local-use NAT64, /96
		"64:ff9b:1:a9fe:a9:fe00::":   "link-local",   // /48
		"64:ff9b:1:a9:fe:a9fe::":     "link-local",   // /56
		"64:ff9b:1:0:a9:fea9:fe00:0": "link-local",   // /64
		"2002:a9fe:a9fe::1":          "link-local",   // 6to4
		"2002:a9fe:a9fe:1:2:3:4:5":   "link-local",
		"2002:e000:1::":              "multicast",
		// Local-use NAT64 of a public address: the zero suffix of the /48
		// layout is 0.0.0.0 in the /96 one, and the layout is not known.
		"64:ff9b:1:5db8:d7:e00::": "this network",
	}
	for s, why := range denied {
		err := p.CheckAddr([]byte("victim.test"), netip.MustParseAddr(s))
		if err == nil {
			t.Errorf("CheckAddr(%s) = nil, want denied (%s)", s, why)
			continue
		}
		e := policyError(t, err)
		want := "destination address " + netip.MustParseAddr(s).String() + " denied (" + why + ")"
		if e.Status != 403 || e.Reason != want {
			t.Errorf("CheckAddr(%s) = %d %q, want 403 %q", s, e.Status, e.Reason, want)
		}
	}
	for _, s := range []string{
		"127.0.0.1", "::1", "10.0.0.1", "192.168.1.1", "100.64.0.1", "fd12::1", "192.0.2.1",
		"93.184.215.14", "2606:2800:21f:cb07::1", "::ffff:93.184.215.14", "169.253.255.255",
		"169.255.0.0", "223.255.255.255", "240.0.0.1", "fec0::1", "64:ff9b::5db8:d70e",
		"::5db8:d70e", "2002:5db8:d70e::1", "2003:a9fe:a9fe::1",
		"64:ff9b:2::a9fe:a9fe", "::1:a9fe:a9fe", "::1",
	} {
		if err := p.CheckAddr([]byte("ok.test"), netip.MustParseAddr(s)); err != nil {
			t.Errorf("CheckAddr(%s) = %v, want allowed by default", s, err)
		}
	}
	if err := p.CheckAddr([]byte("x.test"), netip.Addr{}); err == nil {
		t.Error("the zero Addr was allowed")
	}
	if got := ErrAuthRequired.Error(); got != "policy: proxy authentication required" {
		t.Errorf("Error() = %q", got)
	}
}

func TestCheckAddrPresetsAndCIDRs(t *testing.T) {
	tests := []struct {
		name   string
		cfg    Config
		denied map[string]string // address -> reason
		allow  []string
	}{
		{
			name: "loopback",
			cfg:  Config{DenyPresets: []string{"loopback"}},
			denied: map[string]string{
				"127.0.0.1": "loopback", "127.255.255.254": "loopback", "::ffff:127.0.0.1": "loopback", "::1": "loopback",
				"::7f00:1": "loopback", "::127.0.0.1": "loopback", "64:ff9b::7f00:1": "loopback",
				"64:ff9b:1::7f00:1": "loopback", "2002:7f00:1::": "loopback",
			},
			allow: []string{"10.0.0.1", "128.0.0.1", "::8000:1", "2002:8000:1::"},
		},
		{
			name: "private",
			cfg:  Config{DenyPresets: []string{"private"}},
			denied: map[string]string{
				"10.1.1.1": "private", "172.16.0.1": "private", "172.31.255.255": "private",
				"192.168.0.1": "private", "::ffff:10.0.0.1": "private", "64:ff9b::a00:1": "private",
				"::a00:1": "private", "2002:c0a8:101::1": "private", "64:ff9b:1:ac10:1:100::": "private",
				"100.64.0.1": "shared address space", "100.127.255.255": "shared address space",
				"fd12::1": "unique local", "fc00::1": "unique local",
			},
			allow: []string{"127.0.0.1", "172.32.0.1", "172.15.255.255", "100.128.0.1", "192.169.0.1", "fe00::1"},
		},
		{
			name: "reserved",
			cfg:  Config{DenyPresets: []string{"reserved"}},
			denied: map[string]string{
				"192.0.2.1": "documentation", "2001:db8::1": "documentation", "198.18.0.1": "benchmarking",
				"255.255.255.255": "reserved", "240.0.0.1": "reserved", "100::1": "discard",
			},
			allow: []string{"192.0.3.1", "10.0.0.1"},
		},
		{
			name: "deny_cidrs",
			cfg:  Config{DenyCIDRs: []string{"203.0.113.0/24", "::ffff:198.51.100.0/120", "2001:db8:1::/48", "192.0.2.9"}},
			denied: map[string]string{
				"203.0.113.5":            "deny_cidrs 203.0.113.0/24",
				"::ffff:203.0.113.5":     "deny_cidrs 203.0.113.0/24",
				"198.51.100.77":          "deny_cidrs 198.51.100.0/24",
				"2001:db8:1::1":          "deny_cidrs 2001:db8:1::/48",
				"192.0.2.9":              "deny_cidrs 192.0.2.9/32",
				"169.254.169.254":        "link-local", // built-ins still apply
				"::ffff:169.254.169.254": "link-local",
			},
			allow: []string{"203.0.114.1", "192.0.2.10", "2001:db8:2::1"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := mustCompile(t, tc.cfg)
			for s, why := range tc.denied {
				err := p.CheckAddr([]byte("h.test"), netip.MustParseAddr(s))
				if err == nil {
					t.Errorf("%s allowed, want denied (%s)", s, why)
					continue
				}
				if want := "destination address " + netip.MustParseAddr(s).String() + " denied (" + why + ")"; policyError(t, err).Reason != want {
					t.Errorf("%s: %q, want %q", s, policyError(t, err).Reason, want)
				}
			}
			for _, s := range tc.allow {
				if err := p.CheckAddr([]byte("h.test"), netip.MustParseAddr(s)); err != nil {
					t.Errorf("%s: %v, want allowed", s, err)
				}
			}
		})
	}
}

func TestCheckAddrExemptions(t *testing.T) {
	p := mustCompile(t, Config{
		DenyPresets:    []string{"loopback", "private"},
		AllowAddrHosts: []string{"metadata.test", ".corp.test", "*.lab.test"},
	})
	tests := []struct {
		host, addr string
		allowed    bool
	}{
		{"metadata.test", "169.254.169.254", true},
		{"metadata.test.", "169.254.169.254", true},
		{"x.metadata.test", "169.254.169.254", false},
		{"corp.test", "10.0.0.1", true},
		{"a.b.corp.test", "10.0.0.1", true},
		{"a.lab.test", "127.0.0.1", true},
		{"lab.test", "127.0.0.1", false},
		{"other.test", "10.0.0.1", false},
		{"other.test", "::ffff:10.0.0.1", false},
		{"", "10.0.0.1", false},
	}
	for _, tc := range tests {
		err := p.CheckAddr([]byte(tc.host), netip.MustParseAddr(tc.addr))
		if (err == nil) != tc.allowed {
			t.Errorf("CheckAddr(%q, %s) = %v, want allowed=%v", tc.host, tc.addr, err, tc.allowed)
		}
	}
}

func TestClientAllowed(t *testing.T) {
	tests := []struct {
		cidrs []string
		allow []string
		deny  []string
	}{
		{nil, []string{"127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"}, []string{"10.0.0.1", "192.168.1.2", "::2", "2001:db8::1"}},
		{[]string{"10.0.0.0/8", "fd00::/8", "192.0.2.7"}, []string{"10.9.9.9", "::ffff:10.0.0.1", "fd00::1", "192.0.2.7"},
			[]string{"127.0.0.1", "::1", "192.0.2.8", "11.0.0.0"}},
		{[]string{"0.0.0.0/0", "::/0"}, []string{"1.2.3.4", "2001:db8::1", "127.0.0.1"}, nil},
		{[]string{"fe80::/10"}, []string{"fe80::1%eth0"}, nil},
	}
	for _, tc := range tests {
		p := mustCompile(t, Config{ClientCIDRs: tc.cidrs})
		for _, s := range tc.allow {
			if !p.ClientAllowed(netip.MustParseAddr(s)) {
				t.Errorf("client_cidrs %v: %s refused", tc.cidrs, s)
			}
		}
		for _, s := range tc.deny {
			if p.ClientAllowed(netip.MustParseAddr(s)) {
				t.Errorf("client_cidrs %v: %s allowed", tc.cidrs, s)
			}
		}
	}
}

func TestCheckAddrForLoopback(t *testing.T) {
	p := mustCompile(t, Config{ClientCIDRs: []string{"0.0.0.0/0", "::/0"}, AllowAddrHosts: []string{"local.test", "127.0.0.9"}})
	lo, remote := netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("192.0.2.7")
	for _, tc := range []struct {
		client netip.Addr
		host   string
		addr   string
		denied bool
	}{
		{lo, "x.test", "127.0.0.1", false},
		{netip.MustParseAddr("::1"), "x.test", "::1", false},
		{netip.MustParseAddr("::ffff:127.0.0.2"), "x.test", "127.0.0.1", false},
		{remote, "x.test", "127.0.0.1", true},
		{remote, "x.test", "127.3.4.5", true},
		{remote, "x.test", "::1", true},
		{remote, "x.test", "::ffff:127.0.0.1", true},
		{remote, "x.test", "::127.0.0.1", true},
		{remote, "x.test", "64:ff9b::7f00:1", true},
		{remote, "x.test", "2002:7f00:1::1", true},
		{remote, "local.test", "127.0.0.1", false},
		{remote, "127.0.0.9", "127.0.0.9", false},
		{remote, "x.test", "192.0.2.8", false},
	} {
		err := p.CheckAddrFor(tc.client, []byte(tc.host), netip.MustParseAddr(tc.addr))
		if (err != nil) != tc.denied {
			t.Errorf("client %v -> %s (%s): %v, want denied=%v", tc.client, tc.host, tc.addr, err, tc.denied)
		}
	}
	a := netip.MustParseAddr("192.0.2.8")
	if n := testing.AllocsPerRun(100, func() { _ = p.CheckAddrFor(remote, []byte("x.test"), a) }); n != 0 {
		t.Fatalf("CheckAddrFor allocates %v", n)
	}
}
