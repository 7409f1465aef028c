package resolver

import (
	"fmt"
	"net/netip"
	"strings"
)

// Family selects which address records are queried and in what order the
// addresses are returned. The names and meanings follow Envoy's
// DnsLookupFamily; where Envoy queries AAAA and then A one after the other,
// sluice sends both queries in parallel and chooses when both are back.
type Family uint8

const (
	// FamilyAuto queries A and AAAA and returns the IPv6 addresses if there
	// are any, otherwise the IPv4 ones (Envoy AUTO). This is the default.
	FamilyAuto Family = iota
	// FamilyV4Only queries A only.
	FamilyV4Only
	// FamilyV6Only queries AAAA only.
	FamilyV6Only
	// FamilyV4Preferred queries A and AAAA and returns the IPv4 addresses if
	// there are any, otherwise the IPv6 ones.
	FamilyV4Preferred
	// FamilyAll queries A and AAAA and returns both, interleaved IPv6 first
	// (RFC 8305 §4), so that a dialer walking the list alternates families.
	FamilyAll
)

var familyNames = [...]string{
	FamilyAuto:        "auto",
	FamilyV4Only:      "v4_only",
	FamilyV6Only:      "v6_only",
	FamilyV4Preferred: "v4_preferred",
	FamilyAll:         "all",
}

// String returns the name ParseFamily accepts: "auto", "v4_only", "v6_only",
// "v4_preferred" or "all".
func (f Family) String() string {
	if int(f) < len(familyNames) {
		return familyNames[f]
	}
	return fmt.Sprintf("Family(%d)", uint8(f))
}

// ParseFamily parses a Family name, case-insensitively: "auto", "v4_only",
// "v6_only", "v4_preferred" or "all".
func ParseFamily(s string) (Family, error) {
	for f, name := range familyNames {
		if strings.EqualFold(s, name) {
			return Family(f), nil
		}
	}
	return 0, fmt.Errorf("resolver: unknown address family %q (want auto, v4_only, v6_only, v4_preferred or all)", s)
}

// MarshalText implements encoding.TextMarshaler.
func (f Family) MarshalText() ([]byte, error) {
	if int(f) >= len(familyNames) {
		return nil, fmt.Errorf("resolver: invalid address family %d", uint8(f))
	}
	return []byte(familyNames[f]), nil
}

// UnmarshalText implements encoding.TextUnmarshaler with ParseFamily.
func (f *Family) UnmarshalText(b []byte) error {
	v, err := ParseFamily(string(b))
	if err != nil {
		return err
	}
	*f = v
	return nil
}

// wantV4 and wantV6 say which record types the family queries.
func (f Family) wantV4() bool { return f != FamilyV6Only }
func (f Family) wantV6() bool { return f != FamilyV4Only }

// choose says which of the IPv4 and IPv6 addresses family f publishes, given
// which of them the lookup found.
func (f Family) choose(have4, have6 bool) (use4, use6 bool) {
	switch f {
	case FamilyV4Only:
		return have4, false
	case FamilyV6Only:
		return false, have6
	case FamilyV4Preferred:
		return have4, have6 && !have4
	case FamilyAll:
		return have4, have6
	default: // FamilyAuto
		return have4 && !have6, have6
	}
}

// selectAddrs returns a new slice with the addresses family f publishes, in
// the order to try them, given the IPv4 addresses (from A records) and IPv6
// addresses (from AAAA records); FamilyAll interleaves them, IPv6 first.
func selectAddrs(f Family, v4, v6 []netip.Addr) []netip.Addr {
	use4, use6 := f.choose(len(v4) > 0, len(v6) > 0)
	if !use4 {
		v4 = nil
	}
	if !use6 {
		v6 = nil
	}
	out := make([]netip.Addr, 0, len(v4)+len(v6))
	for i := 0; i < len(v4) || i < len(v6); i++ {
		if i < len(v6) {
			out = append(out, v6[i])
		}
		if i < len(v4) {
			out = append(out, v4[i])
		}
	}
	return out
}

// splitFamilies splits addrs (from /etc/hosts, where both families come in one
// list) into IPv4 and IPv6 addresses.
func splitFamilies(addrs []netip.Addr) (v4, v6 []netip.Addr) {
	for _, a := range addrs {
		if a.Is4() {
			v4 = append(v4, a)
		} else {
			v6 = append(v6, a)
		}
	}
	return v4, v6
}
