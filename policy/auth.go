package policy

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
)

const (
	// authStatInterval is how often, at most, the htpasswd file is looked at
	// for changes (one stat(2), on the next Authenticate).
	authStatInterval = time.Second
	// maxCredentials bounds the base64 credentials of a Proxy-Authorization
	// header; longer ones are refused without decoding.
	maxCredentials = 1024
)

// authenticator checks Basic proxy credentials against an htpasswd file of
// bcrypt hashes and caches the outcome, keyed by a SHA-256 of the credentials
// (the password itself is never kept), so that a keep-alive client does not
// pay a bcrypt per request.
type authenticator struct {
	// Set once by newAuthenticator (tests replace now and compare before use).
	path, realm string
	now         func() time.Time
	compare     func(hash, password []byte) error // bcrypt.CompareHashAndPassword
	ttl         time.Duration
	maxEntries  int

	// pool runs Verify's bcrypt verifications; it has its own lock, taken
	// before mu when both are.
	pool verifier

	mu sync.Mutex
	// Guarded by mu.
	users    map[string][]byte // user -> bcrypt hash; replaced whole on reload
	decoy    []byte            // a hash compared for unknown users, so they take as long
	file     os.FileInfo       // the file users were read from
	nextStat time.Time
	gen      uint64 // incremented on reload; results computed before are not cached
	cache    map[[sha256.Size]byte]authEntry
}

// authEntry is a cached verification.
type authEntry struct {
	user    string
	ok      bool
	expires time.Time
}

func newAuthenticator(cfg AuthConfig, now func() time.Time) (*authenticator, error) {
	a := &authenticator{
		path:       cfg.Htpasswd,
		realm:      cfg.Realm,
		now:        now,
		compare:    bcrypt.CompareHashAndPassword,
		ttl:        DefaultAuthCacheTTL,
		maxEntries: DefaultAuthCacheSize,
		cache:      make(map[[sha256.Size]byte]authEntry),
	}
	// Every mistake of the section is reported (ConfigErrors).
	var errs ConfigErrors
	if a.realm == "" {
		a.realm = DefaultRealm
	}
	if strings.ContainsAny(a.realm, "\"\\") || !isPrintable(a.realm) {
		errs = append(errs, configErrorf("policy.auth.realm", a.realm, "realm may not hold quotes, backslashes or control characters"))
	}
	if a.path == "" {
		errs = append(errs, configErrorf("policy.auth.htpasswd", "", "missing: the htpasswd file of users"))
	}
	for _, b := range []struct {
		field    string
		v        int
		dst      *int
		fallback int
	}{
		{"policy.auth.workers", cfg.Workers, &a.pool.workers, DefaultAuthWorkers()},
		{"policy.auth.queue", cfg.Queue, &a.pool.queueMax, DefaultAuthQueue},
		{"policy.auth.max_per_client", cfg.MaxPerClient, &a.pool.maxPerClient, DefaultAuthMaxPerClient},
	} {
		if b.v < 0 {
			errs = append(errs, configErrorf(b.field, fmt.Sprint(b.v), "must not be negative (0: default %d)", b.fallback))
			continue
		}
		*b.dst = b.v
		if b.v == 0 {
			*b.dst = b.fallback
		}
	}
	if a.path != "" {
		fi, users, err := readHtpasswd(a.path)
		if err != nil {
			errs = append(errs, configErrorf("policy.auth.htpasswd", a.path, "%v", err))
		} else {
			a.setUsersLocked(fi, users)
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	a.pool.init()
	a.nextStat = now().Add(authStatInterval)
	return a, nil
}

// AuthenticateCached is the non-blocking half of Authenticate: it answers
// from the cache of verified credentials (cached true) or reports that a
// bcrypt verification is needed (cached false), to be run off the event
// loop with Authenticate. Without Auth it returns "", true, true. It does
// not allocate. Verify does both halves, with bounds.
func (p *Policy) AuthenticateCached(proxyAuthorization []byte) (user string, ok, cached bool) {
	if p.auth == nil {
		return "", true, true
	}
	cred, valid := basicCredentials(proxyAuthorization)
	if !valid {
		return "", false, true
	}
	key := sha256.Sum256(cred)
	e, hit := p.auth.lookup(key)
	if !hit {
		return "", false, false
	}
	return e.user, e.ok, true
}

// Authenticate verifies the value of a Proxy-Authorization header, "Basic"
// followed by base64(user ":" password) (RFC 7617), against the htpasswd
// file, and returns the user. A missing or malformed header, another scheme,
// an unknown user or a wrong password is not ok: answer ErrAuthRequired with
// Proxy-Authenticate: Basic realm="<Realm>". Without Auth it returns "", true.
//
// Outcomes are cached for DefaultAuthCacheTTL or until the file changes;
// a miss runs bcrypt on the caller's goroutine, which takes milliseconds of
// CPU by design and is not bounded by AuthConfig.Workers: prefer Verify,
// or bound the goroutines that call Authenticate.
func (p *Policy) Authenticate(proxyAuthorization []byte) (user string, ok bool) {
	if p.auth == nil {
		return "", true
	}
	cred, valid := basicCredentials(proxyAuthorization)
	if !valid {
		return "", false
	}
	key := sha256.Sum256(cred)
	if e, hit := p.auth.lookup(key); hit {
		return e.user, e.ok
	}
	return p.auth.verify(cred, key)
}

// lookup returns the cached outcome for key, after looking for a new
// htpasswd file if it is time to.
func (a *authenticator) lookup(key [sha256.Size]byte) (authEntry, bool) {
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.maybeReloadLocked(now)
	return a.cachedLocked(key, now)
}

// cached returns the cached outcome for key, without looking at the file.
func (a *authenticator) cached(key [sha256.Size]byte) (authEntry, bool) {
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cachedLocked(key, now)
}

func (a *authenticator) cachedLocked(key [sha256.Size]byte, now time.Time) (authEntry, bool) {
	e, ok := a.cache[key]
	if !ok {
		return authEntry{}, false
	}
	if !now.Before(e.expires) {
		delete(a.cache, key)
		return authEntry{}, false
	}
	return e, true
}

// verify decodes the credentials and checks them.
func (a *authenticator) verify(cred []byte, key [sha256.Size]byte) (string, bool) {
	var buf [maxCredentials]byte
	name, pass, ok := decodeCredentials(&buf, cred)
	if !ok {
		return "", false
	}
	return a.check(string(name), pass, key)
}

// decodeCredentials decodes the token68 of a Basic credential into buf and
// splits it into user and password (RFC 7617 §2: the user has no colon,
// the password may). Both point into buf.
func decodeCredentials(buf *[maxCredentials]byte, cred []byte) (user, pass []byte, ok bool) {
	n, err := base64.StdEncoding.Decode(buf[:], cred) // DecodedLen(maxCredentials) fits
	if err != nil {
		return nil, nil, false
	}
	user, pass, found := bytes.Cut(buf[:n], []byte{':'})
	if !found || len(user) == 0 {
		return nil, nil, false
	}
	return user, pass, true
}

// check verifies user's password with bcrypt (not holding the lock), then
// caches the outcome under key, the hash of the credentials.
func (a *authenticator) check(user string, pass []byte, key [sha256.Size]byte) (string, bool) {
	a.mu.Lock()
	hash, known := a.users[user]
	decoy, gen := a.decoy, a.gen
	a.mu.Unlock()

	ok := false
	if known {
		ok = a.compare(hash, pass) == nil
	} else if decoy != nil {
		_ = a.compare(decoy, pass) // as slow as a known user (no user enumeration by timing)
	}

	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.gen == gen {
		a.storeLocked(key, authEntry{user: user, ok: ok, expires: now.Add(a.ttl)}, now)
	}
	if !ok {
		return "", false
	}
	return user, true
}

// storeLocked caches e, making room first: expired entries go, then, if the
// cache is still full, an arbitrary one.
func (a *authenticator) storeLocked(key [sha256.Size]byte, e authEntry, now time.Time) {
	if len(a.cache) >= a.maxEntries {
		for k, v := range a.cache {
			if !now.Before(v.expires) {
				delete(a.cache, k)
			}
		}
		for k := range a.cache {
			if len(a.cache) < a.maxEntries {
				break
			}
			delete(a.cache, k)
		}
	}
	a.cache[key] = e
}

// maybeReloadLocked re-reads the htpasswd file if authStatInterval has passed
// and the file changed, and then empties the cache. A file that cannot be
// read or parsed leaves the users as they were; it is tried again later.
func (a *authenticator) maybeReloadLocked(now time.Time) {
	if now.Before(a.nextStat) {
		return
	}
	a.nextStat = now.Add(authStatInterval)
	fi, err := os.Stat(a.path)
	if err != nil || (os.SameFile(fi, a.file) && fi.ModTime().Equal(a.file.ModTime()) && fi.Size() == a.file.Size()) {
		return
	}
	fi, users, err := readHtpasswd(a.path)
	if err != nil {
		return
	}
	a.setUsersLocked(fi, users)
}

func (a *authenticator) setUsersLocked(fi os.FileInfo, users map[string][]byte) {
	a.file, a.users = fi, users
	a.decoy = nil
	for _, h := range users {
		a.decoy = h
		break
	}
	a.gen++
	clear(a.cache)
}

// readHtpasswd reads a file of "user:hash" lines, '#' comments and blank
// lines, where every hash is bcrypt ("$2y$", "$2b$" or "$2a$": htpasswd -B).
func readHtpasswd(path string) (os.FileInfo, map[string][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	users := make(map[string][]byte)
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" || s[0] == '#' {
			continue
		}
		user, hash, found := strings.Cut(s, ":")
		if !found || user == "" {
			return nil, nil, fmt.Errorf("line %d: want user:bcrypt-hash", line)
		}
		if _, dup := users[user]; dup {
			return nil, nil, fmt.Errorf("line %d: user %q listed twice", line, user)
		}
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			return nil, nil, fmt.Errorf("line %d: user %q: not a bcrypt hash (create it with htpasswd -B)", line, user)
		}
		users[user] = []byte(hash)
	}
	if err := sc.Err(); err != nil {
		return nil, nil, err
	}
	return fi, users, nil
}

// basicCredentials returns the token68 of a Basic Proxy-Authorization value
// (RFC 9110 §11.6.2, RFC 7617 §2): the scheme is case-insensitive and spaces
// around the value are ignored.
func basicCredentials(h []byte) ([]byte, bool) {
	h = bytes.TrimSpace(h)
	const scheme = "basic"
	if len(h) <= len(scheme) || h[len(scheme)] != ' ' {
		return nil, false
	}
	for i := 0; i < len(scheme); i++ {
		if h[i]|0x20 != scheme[i] {
			return nil, false
		}
	}
	cred := bytes.TrimLeft(h[len(scheme):], " ")
	if len(cred) == 0 || len(cred) > maxCredentials {
		return nil, false
	}
	return cred, true
}

// isPrintable reports whether s is visible ASCII or space.
func isPrintable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}
