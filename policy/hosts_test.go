package policy

import (
	"strings"
	"testing"
)

func TestParseHostPattern(t *testing.T) {
	good := []struct {
		in   string
		kind int
		name string
	}{
		{"example.com", patExact, "example.com"},
		{"EXAMPLE.Com.", patExact, "example.com"},
		{"localhost", patExact, "localhost"},
		{"_svc.example.com", patExact, "_svc.example.com"},
		{"xn--bcher-kva.example", patExact, "xn--bcher-kva.example"},
		{"*.example.com", patSubdomains, "example.com"},
		{"*.test", patSubdomains, "test"},
		{".example.com", patSuffix, "example.com"},
		{".example.com.", patSuffix, "example.com"},
		{"*", patAny, ""},
		{"192.0.2.1", patAddr, "192.0.2.1"},
		{"[::1]", patAddr, "::1"},
		{"0:0:0:0:0:0:0:1", patAddr, "::1"},
		{"0000::0001", patAddr, "::1"},
		{"2001:DB8::1", patAddr, "2001:db8::1"},
		{"[2001:db8:0:0::1]", patAddr, "2001:db8::1"},
		// IPv4-mapped is the IPv4 address: one key for both spellings.
		{"::ffff:127.0.0.3", patAddr, "127.0.0.3"},
		{"[::FFFF:7F00:3]", patAddr, "127.0.0.3"},
		// Embedding forms other than mapped stay IPv6 patterns.
		{"64:ff9b::7f00:3", patAddr, "64:ff9b::7f00:3"},
	}
	for _, tc := range good {
		hp, reason := parseHostPattern(tc.in)
		if reason != "" || hp.kind != tc.kind || hp.name != tc.name || (hp.kind == patAddr && hp.addr.String() != tc.name) {
			t.Errorf("parseHostPattern(%q) = %+v, %q; want kind %d name %q", tc.in, hp, reason, tc.kind, tc.name)
		}
	}
	bad := []string{
		"", ".", "*.", "..", "**", "**.example.com", "*example.com", "a*.example.com",
		"example.*", "ex*ample.com", "example..com", ".example..com", "exa mple.com",
		"example.com:443", "http://example.com", "example.com/", "*.192.0.2.1", ".10.0.0.1",
		"fe80::1%eth0", "[fe80::1%eth0]", "a@b.com", "é.example",
		strings.Repeat("a", 64) + ".com", strings.Repeat("a.", 127) + "aa",
	}
	for _, in := range bad {
		if hp, reason := parseHostPattern(in); reason == "" {
			t.Errorf("parseHostPattern(%q) = %+v, want an error", in, hp)
		}
	}
}

func TestValidHostNameLength(t *testing.T) {
	label := "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" // 63
	if !validHostName(label) {
		t.Error("63-byte label refused")
	}
	if validHostName(label + "a") {
		t.Error("64-byte label accepted")
	}
	long := label + "." + label + "." + label + "." + label[:61] // 253
	if !validHostName(long) {
		t.Errorf("%d-byte name refused", len(long))
	}
	if validHostName(long + "a") {
		t.Error("254-byte name accepted")
	}
}

func TestNormHost(t *testing.T) {
	for in, want := range map[string]string{
		"example.com.": "example.com", "example.com": "example.com",
		"[::1]": "::1", "": "", ".": "", "[]": "",
	} {
		if got := string(normHost([]byte(in))); got != want {
			t.Errorf("normHost(%q) = %q, want %q", in, got, want)
		}
	}
}
