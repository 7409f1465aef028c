package policy

import (
	"strings"
	"testing"
)

func TestConnectPortAllowed(t *testing.T) {
	tests := []struct {
		ports string
		allow []uint16
		deny  []uint16
	}{
		{"", []uint16{443}, []uint16{22, 80, 444, 8443, 1, 65535}},
		{"443", []uint16{443}, []uint16{22, 442, 444}},
		{"1-1024,8443", []uint16{1, 22, 443, 1024, 8443}, []uint16{1025, 8442, 8444, 65535}},
		{" 443 , 8443 ", []uint16{443, 8443}, []uint16{80}},
		{"8000-8010,8005-8020,7990-8000", []uint16{7990, 8000, 8015, 8020}, []uint16{7989, 8021}},
		{"1-65535", []uint16{1, 443, 65535}, nil},
		{"*", []uint16{1, 22, 443, 65535}, nil},
		{"22,21,23", []uint16{21, 22, 23}, []uint16{20, 24}},
	}
	for _, tc := range tests {
		p := mustCompile(t, Config{ConnectPorts: tc.ports})
		for _, port := range tc.allow {
			if !p.ConnectPortAllowed(port) {
				t.Errorf("ConnectPorts %q: port %d refused", tc.ports, port)
			}
		}
		for _, port := range tc.deny {
			if p.ConnectPortAllowed(port) {
				t.Errorf("ConnectPorts %q: port %d allowed", tc.ports, port)
			}
		}
	}
}

func TestConnectPortsInvalid(t *testing.T) {
	for _, ports := range []string{
		"0", "65536", "99999", "443,", ",443", "443,,8443", "a", "-1", "1-", "-", "10-5",
		"443 8443", "0x1bb", "+443", "1-2-3", "**", "*,443", "123456",
	} {
		_, err := Compile(Config{ConnectPorts: ports})
		if err == nil {
			t.Errorf("ConnectPorts %q accepted", ports)
			continue
		}
		if !strings.HasPrefix(err.Error(), "policy.connect_ports: ") {
			t.Errorf("ConnectPorts %q: error %q does not name the field", ports, err)
		}
	}
}

func TestInsertRange(t *testing.T) {
	ps, reason := parsePorts("10-20,30,5-9,21,40-50,45")
	if reason != "" {
		t.Fatal(reason)
	}
	want := []portRange{{5, 21}, {30, 30}, {40, 50}}
	if len(ps.ranges) != len(want) {
		t.Fatalf("ranges %v, want %v", ps.ranges, want)
	}
	for i := range want {
		if ps.ranges[i] != want[i] {
			t.Fatalf("ranges %v, want %v", ps.ranges, want)
		}
	}
}
