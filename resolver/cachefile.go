package resolver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// The cache file (Config.CacheFile) keeps the good answers across restarts,
// like Envoy's key_value_config for its DNS cache. Version 1 is one JSON
// object, one host per line for people and diffs:
//
//	{"version":1,"hosts":[
//	{"host":"example.com","addrs":["2001:db8::1"],"resolved":"2025-01-01T00:00:00Z","ttl":60},
//	...
//	]}
//
// host is a lower-case host name (never an IP literal); addrs are the
// addresses in the order served; resolved is when the resolution that
// produced them ended (Config.Clock's time); ttl is its clamped TTL in
// seconds. Unknown fields are ignored, so that a later version may add
// some without changing the version; any other change bumps it, and a
// file of another version is ignored.
//
// Start loads the file before anything else runs. Each host becomes a
// cache entry whose answer is marked Stale (it comes from an earlier
// process) and is served at once, until MaxStale past resolved + ttl, as
// RFC 8767 serves a kept answer; the janitor refreshes it on its first
// use, and a failed refresh keeps it as any stale answer is kept
// (resultLocked). Counting the bound from the saved resolution, not from
// the restart, keeps a process that restarts in a loop from serving an
// old answer for ever.
//
// The file is written by its own Clock timer every CacheFileInterval
// (not by the janitor, whose tick must not wait for a disk) and at Stop:
// into a temporary file in the same directory, synced, then renamed over
// the old one, so a reader (or a crash) sees the old file or the new one,
// never a part of either.

// cacheFileVersion is the version written and the only one read.
const cacheFileVersion = 1

// maxSavedAddrs caps the addresses saved per host, so that an entry fits
// in maxEntryBytes (253-byte name, 64 addresses of at most 41 bytes
// quoted, the time and the TTL). Dialers try only the first few anyway.
const (
	maxSavedAddrs = 64
	maxEntryBytes = 4 << 10
)

// minFileLimit is the least size of cache file read; a larger MaxHosts
// allows maxEntryBytes per host. The bound keeps a wrong path (a log, a
// disk image) from being read whole into memory; a file written for a
// larger MaxHosts still fits unless it is very much larger.
const minFileLimit = 16 << 20

// tempInfix names the temporary files: "." + base + tempInfix + random.
const tempInfix = ".tmp-"

// savedHost is one host of the cache file.
type savedHost struct {
	Host     string    `json:"host"`
	Addrs    []string  `json:"addrs"`
	Resolved time.Time `json:"resolved"`
	TTL      float64   `json:"ttl"` // seconds
}

// loadedHost is a savedHost checked and converted, ready to be cached.
type loadedHost struct {
	host     string
	addrs    []netip.Addr
	resolved time.Time
	ttl      time.Duration
	limit    time.Time // served until then: resolved + ttl (+ MaxStale)
}

// errNotServable marks a saved host that is valid but too old to serve, or has
// no address of Config.Family: it is left out without a warning.
var errNotServable = errors.New("expired or of another address family")

// servedUntil is the last moment (UnixNano) a good answer may be served:
// its stale limit, or its expiry when serve-stale is disabled.
func servedUntil(a *Answer) int64 {
	if a.staleUntil != 0 {
		return a.staleUntil
	}
	return a.Resolved.Add(a.goodTTL).UnixNano()
}

// savedHosts returns the cache's good answers (stale ones included) still
// servable at now, sorted by host. It reads the shards lock-free.
func (r *Resolver) savedHosts(now time.Time) []savedHost {
	var out []savedHost
	for i := range r.shards {
		for e := range r.shards[i].t.Load().all() {
			a := e.answer.Load()
			if a == nil || a.Err != nil || len(a.Addrs) == 0 || now.UnixNano() >= servedUntil(a) {
				continue
			}
			addrs := a.Addrs[:min(len(a.Addrs), maxSavedAddrs)]
			ss := make([]string, len(addrs))
			for j, x := range addrs {
				ss[j] = x.String()
			}
			out = append(out, savedHost{Host: e.host, Addrs: ss, Resolved: a.Resolved.UTC(), TTL: a.goodTTL.Seconds()})
		}
	}
	slices.SortFunc(out, func(a, b savedHost) int { return strings.Compare(a.Host, b.Host) })
	return out
}

// encodeCacheFile returns the file holding hosts.
func encodeCacheFile(hosts []savedHost) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"version":%d,"hosts":[`, cacheFileVersion)
	n := 0
	for _, h := range hosts {
		line, err := json.Marshal(h)
		if err != nil {
			continue // a time outside years 0-9999: not from a sane clock
		}
		if n > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
		b.Write(line)
		n++
	}
	b.WriteString("\n]}\n")
	return b.Bytes()
}

// decodeCacheFile checks the version of a cache file and returns its
// entries, each still to be checked (parseSavedHost), so that one bad entry
// does not cost the others.
func decodeCacheFile(data []byte) ([]json.RawMessage, error) {
	var v struct {
		Version *int `json:"version"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("not a cache file: %w", err)
	}
	if v.Version == nil {
		return nil, errors.New("not a cache file: no version")
	}
	if *v.Version != cacheFileVersion {
		return nil, fmt.Errorf("version %d, want %d", *v.Version, cacheFileVersion)
	}
	var f struct {
		Hosts []json.RawMessage `json:"hosts"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("not a cache file: %w", err)
	}
	return f.Hosts, nil
}

// parseSavedHost checks one entry of the cache file at now and converts it
// per the current Config: addresses filtered and ordered per Family, TTL
// clamped to [MinTTL, MaxTTL], a resolution time in the future taken as
// now. It returns errNotServable for an entry that is fine but not servable.
func (r *Resolver) parseSavedHost(raw json.RawMessage, now time.Time) (loadedHost, error) {
	var s savedHost
	if err := json.Unmarshal(raw, &s); err != nil {
		return loadedHost{}, fmt.Errorf("malformed entry: %w", err)
	}
	host := lowerASCII(s.Host)
	if _, ok := parseLiteral(host); ok || !validHostName(host) {
		return loadedHost{}, fmt.Errorf("invalid host name %.80q", s.Host)
	}
	if len(s.Addrs) == 0 {
		return loadedHost{}, fmt.Errorf("%s: no addresses", host)
	}
	addrs := make([]netip.Addr, 0, min(len(s.Addrs), maxSavedAddrs))
	for _, x := range s.Addrs[:min(len(s.Addrs), maxSavedAddrs)] {
		a, err := netip.ParseAddr(x)
		if err != nil || a.Zone() != "" {
			return loadedHost{}, fmt.Errorf("%s: invalid address %.60q", host, x)
		}
		addrs = append(addrs, a.Unmap())
	}
	if s.Resolved.IsZero() {
		return loadedHost{}, fmt.Errorf("%s: no resolution time", host)
	}
	if math.IsNaN(s.TTL) || s.TTL <= 0 {
		return loadedHost{}, fmt.Errorf("%s: invalid TTL %v", host, s.TTL)
	}
	ttl := r.cfg.MaxTTL
	if s.TTL < ttl.Seconds() {
		ttl = max(time.Duration(s.TTL*float64(time.Second)), r.cfg.MinTTL)
	}
	resolved := s.Resolved
	if resolved.After(now) {
		resolved = now // saved by a clock ahead of ours
	}
	limit := resolved.Add(ttl)
	if r.cfg.MaxStale > 0 {
		limit = limit.Add(r.cfg.MaxStale)
	}
	v4, v6 := splitFamilies(addrs)
	addrs = selectAddrs(r.cfg.Family, v4, v6)
	if !now.Before(limit) || len(addrs) == 0 {
		return loadedHost{}, errNotServable
	}
	return loadedHost{host: host, addrs: addrs, resolved: resolved, ttl: ttl, limit: limit}, nil
}

// loadedAnswer is the answer cached for a host loaded at now: stale, served
// until its limit, refreshed from now on (by the janitor, once used).
func (r *Resolver) loadedAnswer(l loadedHost, now time.Time) *Answer {
	a := &Answer{
		Addrs:     l.addrs,
		TTL:       l.limit.Sub(now),
		Resolved:  l.resolved,
		Expires:   l.limit,
		Stale:     true,
		expires:   l.limit.UnixNano(),
		refreshAt: now.UnixNano(),
		goodTTL:   l.ttl,
	}
	if r.cfg.MaxStale > 0 {
		a.staleUntil = l.limit.UnixNano()
	}
	return a
}

// loadCacheFile caches the hosts of Config.CacheFile, as Start's first
// step. Nothing it finds is fatal: a missing file is normal, a bad file is
// ignored and a bad entry skipped, with a warning.
func (r *Resolver) loadCacheFile() {
	path, log := r.cfg.CacheFile, r.cfg.Logger
	removeTempFiles(path)
	data, err := readFileLimited(path, max(minFileLimit, int64(r.cfg.MaxHosts+1)*maxEntryBytes))
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	var raws []json.RawMessage
	if err == nil {
		raws, err = decodeCacheFile(data)
	}
	if err != nil {
		r.stats.cacheFileErrors.Add(1)
		log.Warn("resolver: cache file ignored", "file", path, "err", err)
		return
	}
	now := r.clock.Now()
	var hosts []loadedHost
	skipped := 0
	var firstErr error
	for i, raw := range raws {
		l, err := r.parseSavedHost(raw, now)
		switch {
		case err == errNotServable:
		case err != nil:
			skipped++
			if firstErr == nil {
				firstErr = fmt.Errorf("hosts[%d]: %w", i, err)
			}
		default:
			hosts = append(hosts, l)
		}
	}
	if skipped > 0 {
		log.Warn("resolver: cache file entries skipped", "file", path, "skipped", skipped, "first", firstErr)
	}
	n := r.cacheLoaded(r.chooseLoaded(hosts), now)
	r.stats.cacheFileLoaded.Add(uint64(n))
	log.Info("resolver: cache file loaded", "file", path, "hosts", n)
}

// chooseLoaded returns the hosts to cache: one entry per host (the most
// recently resolved), every Preresolve host, and as many others as fit in
// MaxHosts beside the Preresolve hosts, the most recently resolved first.
func (r *Resolver) chooseLoaded(hosts []loadedHost) []loadedHost {
	slices.SortStableFunc(hosts, func(a, b loadedHost) int { return b.resolved.Compare(a.resolved) })
	pre := make(map[string]bool, len(r.cfg.Preresolve))
	for _, h := range r.cfg.Preresolve {
		if _, ok := parseLiteral(h); !ok {
			pre[h] = true // takes a MaxHosts slot
		}
	}
	room := r.cfg.MaxHosts - len(pre)
	seen := make(map[string]bool, len(hosts))
	out := hosts[:0] // filtered in place
	for _, l := range hosts {
		if seen[l.host] {
			continue
		}
		seen[l.host] = true
		if !pre[l.host] {
			if room <= 0 {
				continue
			}
			room--
		}
		out = append(out, l)
	}
	return out
}

// cacheLoaded caches hosts loaded at now and returns how many it added: a
// host cached already (a Resolve before Start) keeps its entry.
func (r *Resolver) cacheLoaded(hosts []loadedHost, now time.Time) int {
	n := 0
	used := r.now.Load()
	for _, l := range hosts {
		ne := &entry{host: l.host}
		ne.lastUsed.Store(used) // evicted after HostTTL if never used
		ne.mu.Lock()
		ne.publish(r.loadedAnswer(l, now))
		ne.mu.Unlock()
		h := r.hash(l.host)
		sh := r.shardOf(h)
		reserved := false
		sh.mu.Lock()
		e, err := r.insertLocked(sh, h, ne, &reserved)
		sh.mu.Unlock()
		if err != nil {
			break // full of hosts resolved before Start; or stopped
		}
		if e == ne {
			n++
		}
	}
	return n
}

// readFileLimited reads the file at path, failing if it is larger than
// limit bytes.
func readFileLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("larger than %d bytes", limit)
	}
	return data, nil
}

// armSaveLocked schedules the next periodic write. The caller holds saveMu.
func (r *Resolver) armSaveLocked() {
	r.saveWG.Add(1)
	r.saveTimer = r.clock.AfterFunc(r.cfg.CacheFileInterval, r.saveTick)
}

// saveTick is the periodic write of the cache file.
func (r *Resolver) saveTick() {
	defer r.saveWG.Done()
	r.saveMu.Lock()
	defer r.saveMu.Unlock()
	if r.saveStopped {
		return
	}
	r.saveCacheFileLocked()
	r.armSaveLocked()
}

// stopSaving stops the periodic writes and waits for one under way.
func (r *Resolver) stopSaving() {
	r.saveMu.Lock()
	r.saveStopped = true
	if r.saveTimer != nil && r.saveTimer.Stop() {
		r.saveWG.Done() // the armed write will never run
	}
	r.saveMu.Unlock()
	r.saveWG.Wait()
}

// saveCacheFileLocked writes the cache file and counts the outcome. A run
// of failures is logged once, when it starts, and its end once. The caller
// holds saveMu.
func (r *Resolver) saveCacheFileLocked() {
	path, log := r.cfg.CacheFile, r.cfg.Logger
	err := writeFileAtomic(path, encodeCacheFile(r.savedHosts(r.clock.Now())))
	if err != nil {
		r.stats.cacheFileErrors.Add(1)
		if !r.saveFailing {
			log.Warn("resolver: cache file not written", "file", path, "err", err)
		}
		r.saveFailing = true
		return
	}
	r.stats.cacheFileWrites.Add(1)
	if r.saveFailing {
		log.Info("resolver: cache file written again", "file", path)
		r.saveFailing = false
	}
}

// writeFileAtomic replaces the file at path with data: it writes a
// temporary file in the same directory (a rename is atomic only within one
// file system), syncs it, renames it over path, and syncs the directory so
// the rename survives a crash (best effort: not every file system can). On
// failure the temporary file is removed and path is left as it was.
func writeFileAtomic(path string, data []byte) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+tempInfix+"*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.Remove(f.Name())
		}
	}()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// removeTempFiles removes the temporary files a process killed while
// writing the cache file at path left behind. The file is one resolver's
// (Config.CacheFile), so none of them is being written.
func removeTempFiles(path string) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	prefix := "." + base + tempInfix
	for _, de := range ents {
		if strings.HasPrefix(de.Name(), prefix) && de.Type().IsRegular() {
			os.Remove(filepath.Join(dir, de.Name()))
		}
	}
}
