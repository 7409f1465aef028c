package policy

import (
	"context"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluiceproxy/sluice/internal/testtool"
)

// take takes a token from l at now if it may, as AllowRate does.
func take(l *lease, now time.Time) (ok bool, wait time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if wait = l.waitLocked(now); wait == 0 {
		l.takeLocked(now)
	}
	return wait == 0, wait
}

// due reports refillDueLocked, and marks l queued when it is.
func due(l *lease, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	d := l.refillDueLocked(now)
	l.queued = l.queued || d
	return d
}

func TestLeaseKindSize(t *testing.T) {
	for _, tc := range []struct {
		lim   RateLimit
		lease time.Duration
		size  int64
	}{
		{RateLimit{RPS: 1000, Burst: 2000}, 100 * time.Millisecond, 100},
		{RateLimit{RPS: 50}, 100 * time.Millisecond, 5},               // burst 50
		{RateLimit{RPS: 0.5, Burst: 3}, 100 * time.Millisecond, 1},    // at least 1
		{RateLimit{RPS: 1000, Burst: 20}, 100 * time.Millisecond, 20}, // at most the burst
		{RateLimit{RPS: 1000, Burst: 2000}, 10 * time.Millisecond, 10},
	} {
		if got := newLeaseKind(tc.lim, tc.lease).size; got != tc.size {
			t.Errorf("%+v, lease %v: size %d, want %d", tc.lim, tc.lease, got, tc.size)
		}
	}
}

// TestLeaseCredit: a new lease spends up to its size on credit, asks for a
// refill at once, and spends leased tokens after the store's answer.
func TestLeaseCredit(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	l := newLease(newLeaseKind(RateLimit{RPS: 100, Burst: 100}, 100*time.Millisecond), "k") // size 10
	for i := range 10 {
		if ok, _ := take(l, now); !ok {
			t.Fatalf("credit %d refused", i)
		}
		if i == 0 && !due(l, now) {
			t.Fatal("no refill asked after the first credit")
		}
	}
	if ok, wait := take(l, now); ok || wait != 10*time.Millisecond {
		t.Fatalf("11th: %v, %v; want refused for a token's time (10ms)", ok, wait)
	}
	charge, want, ok := l.request()
	if !ok || charge != 10 || want != 10 {
		t.Fatalf("request = %d, %d, %v; want charge 10, want 10", charge, want, ok)
	}
	l.granted(want, 10, 0, now)
	if l.avail != 10 || l.debt != 0 || l.scarce || l.queued {
		t.Fatalf("after the answer: %+v", l)
	}
	for range 4 {
		take(l, now)
	}
	if due(l, now) {
		t.Fatal("refill asked with 6 of 10 left")
	}
	take(l, now)
	if !due(l, now) {
		t.Fatal("no refill asked with half the lease left")
	}
}

// TestLeaseCreditInFlight: credit taken while a call is in flight is
// charged by the next one, and the lease never holds more than its size.
func TestLeaseCreditInFlight(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	l := newLease(newLeaseKind(RateLimit{RPS: 100, Burst: 100}, 100*time.Millisecond), "k")
	for range 4 {
		take(l, now)
	}
	due(l, now)
	charge, want, _ := l.request() // 4, 10
	for range 6 {
		if ok, _ := take(l, now); !ok {
			t.Fatal("credit refused before the size")
		}
	}
	l.granted(want, 10, 0, now)
	if l.debt != 6 || l.avail != 4 || l.avail+l.debt > l.kind.size {
		t.Fatalf("charged %d: debt %d avail %d; want 6 and 4 (the rest of the grant dropped)", charge, l.debt, l.avail)
	}
	if !due(l, now) {
		t.Fatal("the new debt is not asked to be charged")
	}
	if charge, want, _ = l.request(); charge != 6 || want != 6 {
		t.Fatalf("second request = %d, %d; want 6, 6", charge, want)
	}
	l.failed()
	if l.debt != 6 || l.charging != 0 || l.queued {
		t.Fatalf("after a failed call: %+v; the debt stays", l)
	}
}

// TestLeaseScarce: once the store says the bucket is short, credit stops,
// no refill is asked before the store expects a token, and then one
// request goes on credit to find out.
func TestLeaseScarce(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	l := newLease(newLeaseKind(RateLimit{RPS: 100, Burst: 100}, 100*time.Millisecond), "k")
	take(l, now)
	due(l, now)
	_, want, _ := l.request()
	l.granted(want, 3, 50*time.Millisecond, now)
	if !l.scarce || l.avail != 3 {
		t.Fatalf("after a short answer: %+v", l)
	}
	for range 3 {
		if ok, _ := take(l, now); !ok {
			t.Fatal("a leased token refused")
		}
	}
	if ok, wait := take(l, now.Add(20*time.Millisecond)); ok || wait != 30*time.Millisecond {
		t.Fatalf("scarce and empty: %v, %v; want refused for 30ms", ok, wait)
	}
	if due(l, now.Add(20*time.Millisecond)) {
		t.Fatal("refill asked before the store expects a token")
	}
	later := now.Add(50 * time.Millisecond)
	if ok, _ := take(l, later); !ok {
		t.Fatal("no credit once a token is expected")
	}
	if ok, _ := take(l, later); ok {
		t.Fatal("more than one credit while scarce")
	}
	if !due(l, later) {
		t.Fatal("no refill asked for the credit")
	}
	if charge, want, _ := l.request(); charge != 1 || want != 10 {
		t.Fatalf("request = %d, %d; want 1, 10", charge, want)
	}
	l.granted(10, 10, 0, later)
	if l.scarce || l.avail != 10 {
		t.Fatalf("after a full answer: %+v; want plenty again", l)
	}
}

func TestLeaseIdle(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	l := newLease(newLeaseKind(RateLimit{RPS: 10}, 100*time.Millisecond), "k")
	take(l, now)
	if l.idle(now.Add(sweepInterval)) {
		t.Error("idle with a debt to charge")
	}
	l.debt = 0
	if l.idle(now.Add(sweepInterval - time.Second)) {
		t.Error("idle before a sweep interval")
	}
	if !l.idle(now.Add(sweepInterval)) {
		t.Error("not idle a sweep interval after its last request")
	}
}

// closedPort returns a loopback address nothing listens on (a moment ago).
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := ln.Addr().String()
	ln.Close()
	return a
}

// TestStoreDownModes: a store that cannot be reached starts down (one log
// line), and on_store_error decides: allow lets everything through, deny
// refuses, local applies the limits in this process.
func TestStoreDownModes(t *testing.T) {
	var logs testtool.Buffer
	rl := RateLimits{PerClient: RateLimit{RPS: 1, Burst: 2}, Store: "redis://" + closedPort(t) + "/0"}
	st, err := NewRedisStore(rl, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	st.Start()
	defer st.Stop()
	if st.Up() {
		t.Fatal("a store on a closed port is up")
	}
	now := time.Now()
	for _, tc := range []struct {
		mode string
		want string // of 5 requests of one client: + allowed, - refused
	}{
		{"", "+++++"}, {StoreErrorAllow, "+++++"}, {StoreErrorDeny, "-----"}, {StoreErrorLocal, "++---"},
	} {
		rl.OnStoreError = tc.mode
		p, err := CompileShared(Config{RateLimits: rl}, st)
		if err != nil {
			t.Fatal(err)
		}
		var got strings.Builder
		for range 5 {
			ok, retry := p.AllowRate(addr("192.0.2.1"), []byte("a.test"), now)
			if ok {
				got.WriteByte('+')
			} else {
				got.WriteByte('-')
				if retry <= 0 {
					t.Errorf("%q: refused with Retry-After %v", tc.mode, retry)
				}
			}
		}
		if got.String() != tc.want {
			t.Errorf("on_store_error %q: %s, want %s", tc.mode, got.String(), tc.want)
		}
	}
	stats := st.Stats()
	if stats.Up || stats.Errors == 0 || stats.Fallbacks != 20 {
		t.Errorf("Stats = %+v; want down, errors, 20 fallbacks", stats)
	}
	if n := strings.Count(logs.String(), "rate-limit store down"); n != 1 {
		t.Errorf("%d down lines, want 1:\n%s", n, logs.String())
	}
	if strings.Contains(logs.String(), "store up") {
		t.Errorf("an up line for a store that never answered:\n%s", logs.String())
	}
}

func TestCompileSharedStoreMismatch(t *testing.T) {
	rl := RateLimits{Global: RateLimit{RPS: 1}, Store: "redis://" + closedPort(t) + "/0"}
	st, err := NewRedisStore(rl, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Stop() // never started
	if _, err := CompileShared(Config{RateLimits: rl}, nil); err == nil {
		t.Error("CompileShared without the store succeeded")
	}
	other := rl
	other.Store += "1"
	if _, err := CompileShared(Config{RateLimits: other}, st); err == nil {
		t.Error("CompileShared with another URL's store succeeded")
	}
	// Without a store in the config, none is needed, and the limits are
	// the process's own.
	p, err := CompileShared(Config{RateLimits: RateLimits{Global: RateLimit{RPS: 1}}}, nil)
	if err != nil || p.shared != nil {
		t.Errorf("no store configured: %v, shared %v", err, p.shared)
	}
}

func TestParseStoreURL(t *testing.T) {
	for _, tc := range []struct {
		url, addr string
		db        int
		user, pw  string
		tls       bool
	}{
		{"redis://127.0.0.1:6380/2", "127.0.0.1:6380", 2, "", "", false},
		{"redis://r.test", "r.test:6379", 0, "", "", false},
		{"redis://:pw@r.test/", "r.test:6379", 0, "", "pw", false},
		{"rediss://u:pw@[::1]:7000/15", "[::1]:7000", 15, "u", "pw", true},
	} {
		o, reason := parseStoreURL(tc.url)
		if reason != "" {
			t.Errorf("%s: %s", tc.url, reason)
			continue
		}
		if o.Addr != tc.addr || o.DB != tc.db || o.Username != tc.user || o.Password != tc.pw || (o.TLSConfig != nil) != tc.tls {
			t.Errorf("%s: addr %s db %d user %q pw %q tls %v", tc.url, o.Addr, o.DB, o.Username, o.Password, o.TLSConfig != nil)
		}
	}
	if got := redactURL("redis://:pw@r.test:" + strconv.Itoa(6379) + "/0"); strings.Contains(got, "pw") {
		t.Errorf("redactURL shows the password: %s", got)
	}
}

// grantAll is a backend whose bucket never runs short.
type grantAll struct{}

func (grantAll) take(_ context.Context, reqs []takeReq) error {
	for i := range reqs {
		reqs[i].granted = reqs[i].want
	}
	return nil
}
func (grantAll) ping(context.Context) error { return nil }
func (grantAll) close() error               { return nil }

// TestSharedAllowRateAllocs: with a store, AllowRate of a known key
// allocates nothing either, refills included.
func TestSharedAllowRateAllocs(t *testing.T) {
	rl := RateLimits{Global: RateLimit{RPS: 1e6}, PerClient: RateLimit{RPS: 1e6}, PerHost: RateLimit{RPS: 1e6},
		Store: "redis://127.0.0.1:1/0"}
	st := newStore(rl, grantAll{}, nil)
	st.Start()
	defer st.Stop()
	p, err := CompileShared(Config{RateLimits: rl}, st)
	if err != nil {
		t.Fatal(err)
	}
	client, host := addr("192.0.2.1"), []byte("a.test")
	p.AllowRate(client, host, time.Now())
	if n := testing.AllocsPerRun(1000, func() {
		if ok, _ := p.AllowRate(client, host, time.Now()); !ok {
			t.Fatal("refused")
		}
	}); n != 0 {
		t.Errorf("AllowRate: %v allocations, want 0", n)
	}
}
