package resolver

import (
	"bufio"
	"io"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"
)

// hostsFile is a parsed hosts(5) file, re-read when its size or
// modification time changes. Its state is guarded by mu; resolver workers
// call lookup concurrently.
type hostsFile struct {
	path string // set once

	mu      sync.Mutex // guards the fields below
	modTime time.Time
	size    int64
	byName  map[string][]netip.Addr // lower-case name without trailing dot
}

func newHostsFile(path string) *hostsFile {
	h := &hostsFile{path: path}
	h.mu.Lock()
	h.reloadLocked()
	h.mu.Unlock()
	return h
}

// lookup returns the addresses hosts(5) gives for name (lower case, with or
// without the trailing dot), in file order; nil if none. The slice is shared:
// callers must not modify it.
func (h *hostsFile) lookup(name string) []netip.Addr {
	name = strings.TrimSuffix(name, ".")
	h.mu.Lock()
	defer h.mu.Unlock()
	h.reloadLocked()
	return h.byName[name]
}

// reloadLocked re-reads the file if it changed since the last read (one stat
// per call: lookups happen on misses and refreshes only). A file that
// vanished or cannot be read leaves no entries.
func (h *hostsFile) reloadLocked() {
	fi, err := os.Stat(h.path)
	if err != nil {
		h.byName, h.modTime, h.size = nil, time.Time{}, 0
		return
	}
	if h.byName != nil && fi.ModTime().Equal(h.modTime) && fi.Size() == h.size {
		return
	}
	f, err := os.Open(h.path)
	if err != nil {
		h.byName = nil
		return
	}
	defer f.Close()
	h.byName = parseHosts(f)
	h.modTime, h.size = fi.ModTime(), fi.Size()
}

// parseHosts parses hosts(5) lines "address name [aliases...]  # comment".
// Names are lower-cased; an address listed twice for a name is kept once;
// IPv4-mapped addresses are unmapped. Lines with a bad address are skipped.
// The result is never nil.
func parseHosts(r io.Reader) map[string][]netip.Addr {
	byName := make(map[string][]netip.Addr)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		a, err := netip.ParseAddr(f[0])
		if err != nil {
			continue
		}
		a = a.Unmap()
	names:
		for _, n := range f[1:] {
			n = strings.TrimSuffix(lowerASCII(n), ".")
			for _, have := range byName[n] {
				if have == a {
					continue names
				}
			}
			byName[n] = append(byName[n], a)
		}
	}
	return byName
}
