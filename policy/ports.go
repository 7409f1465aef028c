package policy

import (
	"strconv"
	"strings"
)

// portSet is a parsed port list ("443,8443,1000-2000" or "*"). It is built by
// Compile and read-only afterwards.
type portSet struct {
	any    bool
	ranges []portRange // sorted by lo, not overlapping
}

type portRange struct{ lo, hi uint16 }

// contains reports whether port is in the set.
func (ps *portSet) contains(port uint16) bool {
	if ps.any {
		return true
	}
	for _, r := range ps.ranges {
		if port < r.lo {
			return false
		}
		if port <= r.hi {
			return true
		}
	}
	return false
}

// parsePorts parses a comma-separated list of ports (1-65535) and inclusive
// ranges ("1000-2000"), spaces around items allowed, or "*" for any port. It
// returns a reason on failure.
func parsePorts(s string) (portSet, string) {
	if strings.TrimSpace(s) == "*" {
		return portSet{any: true}, ""
	}
	var ps portSet
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			return portSet{}, "empty item in port list (want e.g. 443,8443,1000-2000 or *)"
		}
		lo, hi, isRange := strings.Cut(item, "-")
		if !isRange {
			hi = lo
		}
		l, ok1 := parsePort(strings.TrimSpace(lo))
		h, ok2 := parsePort(strings.TrimSpace(hi))
		if !ok1 || !ok2 {
			return portSet{}, "invalid port " + strconv.Quote(item) + " (want 1-65535 or a range like 1000-2000)"
		}
		if l > h {
			return portSet{}, "invalid port range " + strconv.Quote(item) + ": start after end"
		}
		ps.ranges = insertRange(ps.ranges, portRange{l, h})
	}
	return ps, ""
}

// parsePort parses a decimal port 1-65535.
func parsePort(s string) (uint16, bool) {
	if s == "" || len(s) > 5 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	if n < 1 || n > 65535 {
		return 0, false
	}
	return uint16(n), true
}

// insertRange adds r to the sorted, disjoint list rs, merging what overlaps
// or touches it.
func insertRange(rs []portRange, r portRange) []portRange {
	out := make([]portRange, 0, len(rs)+1)
	for _, x := range rs {
		switch {
		case uint32(x.hi)+1 < uint32(r.lo):
			out = append(out, x)
		case uint32(r.hi)+1 < uint32(x.lo):
			out = append(out, r)
			r = x
		default: // overlap or adjacent: merge into r
			r.lo = min(r.lo, x.lo)
			r.hi = max(r.hi, x.hi)
		}
	}
	return append(out, r)
}
