package resolver

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"
)

// resolvConf is what the resolver takes from resolv.conf(5). It is built
// once by New and read-only afterwards.
type resolvConf struct {
	servers  []string      // "ip:port"
	search   []string      // absolute suffixes, lower case, ending in "."
	ndots    int           // names with at least ndots dots are tried as-is first
	timeout  time.Duration // per attempt
	attempts int           // rounds over the server list
	rotate   bool          // start each query at the next server
}

// Limits from glibc's resolv/resolv.h (RES_MAXNDOTS, RES_MAXRETRANS,
// RES_MAXRETRY), applied like glibc does: silently capped.
const (
	maxNdots    = 15
	maxTimeout  = 30 * time.Second
	maxAttempts = 5
)

// defaultResolvConf is glibc's configuration when resolv.conf is missing or
// says nothing.
func defaultResolvConf() *resolvConf {
	return &resolvConf{ndots: 1, timeout: 5 * time.Second, attempts: 2}
}

// defaultNameservers are used when resolv.conf names none (glibc: the local
// host).
var defaultNameservers = []string{"127.0.0.1:53", "[::1]:53"}

// loadResolvConf reads path; Disabled gives the defaults. A missing file is
// an error unless it is the default path, which may be absent (containers
// without one).
func loadResolvConf(path string) (*resolvConf, error) {
	if path == Disabled {
		return defaultResolvConf(), nil
	}
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) && path == DefaultResolvConf {
			return defaultResolvConf(), nil
		}
		return nil, err
	}
	defer f.Close()
	rc, err := parseResolvConf(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return rc, nil
}

// parseResolvConf parses the resolv.conf(5) directives sluice uses:
// nameserver, domain, search, and options ndots:n, timeout:n, attempts:n and
// rotate. Unknown directives and options are ignored, as glibc does. As an
// extension for tests and non-standard ports, a nameserver may carry a port
// ("nameserver 127.0.0.1:5353", "nameserver [::1]:5353"); invalid nameserver
// lines are skipped, like glibc.
func parseResolvConf(r io.Reader) (*resolvConf, error) {
	rc := defaultResolvConf()
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexAny(line, "#;"); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "nameserver":
			if len(f) > 1 {
				if hp, err := parseNameserver(f[1]); err == nil {
					rc.servers = append(rc.servers, hp)
				}
			}
		case "domain", "search":
			// The last of "domain" and "search" wins (resolv.conf(5)).
			rc.search = rc.search[:0:0]
			for _, s := range f[1:] {
				s = strings.Trim(lowerASCII(s), ".")
				if s != "" && validHostName(s) {
					rc.search = append(rc.search, s+".")
				}
			}
		case "options":
			for _, o := range f[1:] {
				rc.option(o)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return rc, nil
}

func (rc *resolvConf) option(o string) {
	name, val, _ := strings.Cut(o, ":")
	n, err := strconv.Atoi(val)
	switch name {
	case "ndots":
		if err == nil && n >= 0 {
			rc.ndots = min(n, maxNdots)
		}
	case "timeout":
		if err == nil && n >= 1 {
			rc.timeout = min(time.Duration(n)*time.Second, maxTimeout)
		}
	case "attempts":
		if err == nil && n >= 1 {
			rc.attempts = min(n, maxAttempts)
		}
	case "rotate":
		rc.rotate = true
	}
}

// nameList returns the absolute names to try for host, in order
// (resolv.conf(5) "search" and "ndots"): a name ending in "." is tried alone;
// a name with at least ndots dots is tried as-is first, then with each search
// suffix; a shorter one with each suffix first, then as-is. Candidates longer
// than a DNS name may be are left out.
func (rc *resolvConf) nameList(host string) []string {
	if strings.HasSuffix(host, ".") {
		return []string{host}
	}
	abs := host + "."
	if len(rc.search) == 0 {
		return []string{abs}
	}
	names := make([]string, 0, len(rc.search)+1)
	asIsFirst := strings.Count(host, ".") >= rc.ndots
	if asIsFirst {
		names = append(names, abs)
	}
	for _, s := range rc.search {
		if n := abs + s; len(n) <= 254 {
			names = append(names, n)
		}
	}
	if !asIsFirst {
		names = append(names, abs)
	}
	return names
}
