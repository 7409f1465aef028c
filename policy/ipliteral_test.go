package policy

import (
	"net/netip"
	"strings"
	"testing"
)

// ipLiteralSeeds are inputs for TestParseIPLiteral and the seed corpus of
// FuzzParseIPLiteral.
var ipLiteralSeeds = []string{
	"127.0.0.1", "0.0.0.0", "255.255.255.255", "::", "::1", "1::", "1::2",
	"0:0:0:0:0:0:0:1", "0000::0001", "::ffff:127.0.0.3", "::ffff:7f00:3",
	"::FFFF:7F00:3", "64:ff9b::a9fe:a9fe", "64:ff9b:1:a9fe:a9:fe00::",
	"2001:db8::1", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:1.2.3.4", "::1.2.3.4",
	"1::1.2.3.4", "fe80::1%eth0", "fe80::1%25eth0", "fe80::1%",
	// must-reject
	"", ".", ":", ":::", "1.2.3", "1.2.3.4.5", "256.0.0.1", "01.2.3.4",
	"1.2.3.04", "1..2.3", ".1.2.3", "1.2.3.", "1.2.3.4 ", " 1.2.3.4",
	"0x7f.0.0.1", "127.1", "2130706433", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7::8",
	"::1::", "1:::2", ":1::", "1::2:", "12345::", "::g", "1:2:3:4:5:6:7",
	"1:2:3:4:5:1.2.3.4", "1:2:3:4:5:6:7:1.2.3.4", "::1.2.3", "::1.2.3.4:5",
	"::ffff:256.1.1.1", "::ffff:01.1.1.1", "::1234.1.1.1", "[::1]",
	"example.com", "cafe.be", "dead:beef", "a.b.c.d", "1.2.3.4%eth0",
}

func TestParseIPLiteral(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" must be rejected
	}{
		{"127.0.0.1", "127.0.0.1"},
		{"0:0:0:0:0:0:0:1", "::1"},
		{"0000::0001", "::1"},
		{"::ffff:127.0.0.3", "::ffff:127.0.0.3"}, // as parsed: the caller unmaps
		{"::ffff:7f00:3", "::ffff:127.0.0.3"},
		{"1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304"},
		{"2001:DB8::1", "2001:db8::1"},
		{"fe80::1%eth0", "fe80::1"},   // the zone is dropped
		{"fe80::1%25eth0", "fe80::1"}, // RFC 6874 spelling
		{"1.2.3.4%x", "1.2.3.4"},
		{"", ""},
		{"example.com", ""},
		{"1.2.3", ""},
		{"01.2.3.4", ""},
		{"127.1", ""},
		{"0x7f.0.0.1", ""},
		{"2130706433", ""},
		{"1:2:3:4:5:6:7::8", ""},
		{"::1::", ""},
		{"12345::", ""},
		{"1:2:3:4:5:1.2.3.4", ""},
		{"[::1]", ""}, // brackets are normHost's job
	}
	for _, tc := range tests {
		a, ok := parseIPLiteral([]byte(tc.in))
		got := ""
		if ok {
			got = a.String()
		}
		if got != tc.want {
			t.Errorf("parseIPLiteral(%q) = %q, %v; want %q", tc.in, got, ok, tc.want)
		}
	}
	for _, in := range ipLiteralSeeds {
		checkParseIPLiteral(t, in)
	}
}

// checkParseIPLiteral compares parseIPLiteral with netip.ParseAddr, the
// independent implementation: they must agree on every input, but for a
// zone, which parseIPLiteral drops (and then accepts what ParseAddr
// accepts without it).
func checkParseIPLiteral(t *testing.T, in string) {
	got, ok := parseIPLiteral([]byte(in))
	stripped, _, zoned := strings.Cut(in, "%")
	want, err := netip.ParseAddr(stripped)
	if ok != (err == nil) {
		t.Fatalf("parseIPLiteral(%q) ok=%v, netip.ParseAddr(%q) err=%v", in, ok, stripped, err)
	}
	if ok && got != want {
		t.Fatalf("parseIPLiteral(%q) = %v, netip.ParseAddr = %v", in, got, want)
	}
	if !zoned {
		if full, err := netip.ParseAddr(in); (err == nil) != ok || (ok && full.WithZone("") != got) {
			t.Fatalf("parseIPLiteral(%q) = %v %v, netip.ParseAddr = %v %v", in, got, ok, full, err)
		}
	}
}

func FuzzParseIPLiteral(f *testing.F) {
	for _, s := range ipLiteralSeeds {
		f.Add(s)
	}
	f.Fuzz(checkParseIPLiteral)
}

func TestEmbeddedIPv4(t *testing.T) {
	tests := []struct {
		in       string
		with6to4 bool
		want     []string
	}{
		{"::169.254.169.254", false, []string{"169.254.169.254"}},
		{"::7f00:1", false, []string{"127.0.0.1"}},
		{"::2", false, []string{"0.0.0.2"}},
		{"::", false, nil},
		{"::1", false, nil},
		{"::1:0:0:1", false, nil}, // outside ::/96
		{"64:ff9b::a9fe:a9fe", false, []string{"169.254.169.254"}},
		{"64:ff9b:0:0:1::a9fe:a9fe", false, nil}, // outside both NAT64 prefixes
		{"64:ff9b:1::a9fe:a9fe", false, []string{"0.0.0.0", "0.0.0.0", "0.0.0.169", "169.254.169.254"}},
		{"64:ff9b:1:a9fe:a9:fe00::", false, []string{"169.254.169.254", "254.169.254.0", "169.254.0.0", "0.0.0.0"}},
		{"64:ff9b:1:ffa9:fe:a9fe::", false, []string{"255.169.254.169", "169.254.169.254", "254.169.254.0", "0.0.0.0"}},
		{"64:ff9b:1:0:a9:fea9:fe00:0", false, []string{"0.0.169.254", "0.169.254.169", "169.254.169.254", "254.0.0.0"}},
		{"2002:a9fe:a9fe::1", true, []string{"169.254.169.254"}},
		{"2002:a9fe:a9fe::1", false, nil},
		{"2001:db8::1", true, nil},
		{"169.254.169.254", true, nil}, // IPv4 carries nothing
	}
	for _, tc := range tests {
		v4, n := embeddedIPv4(netip.MustParseAddr(tc.in), tc.with6to4)
		var got []string
		for _, a := range v4[:n] {
			got = append(got, a.String())
		}
		if strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("embeddedIPv4(%s, %v) = %v, want %v", tc.in, tc.with6to4, got, tc.want)
		}
	}
}
