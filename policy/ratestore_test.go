package policy

import (
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluiceproxy/sluice/internal/testtool"
)

// sharedProc is one of the "processes" of a test: a store of its own (its
// own connection and goroutine) and a policy compiled with it, as each
// sluice process has.
type sharedProc struct {
	store *RedisStore
	pol   *Policy
	logs  *testtool.Buffer
}

// newSharedProcs returns n processes sharing the limits of rl through the
// Redis at addr.
func newSharedProcs(t *testing.T, n int, rl RateLimits, addr string) []*sharedProc {
	t.Helper()
	rl.Store = "redis://" + addr + "/0"
	var ps []*sharedProc
	for range n {
		p := &sharedProc{logs: &testtool.Buffer{}}
		var err error
		if p.store, err = NewRedisStore(rl, slog.New(slog.NewTextHandler(p.logs, nil))); err != nil {
			t.Fatal(err)
		}
		p.store.Start()
		t.Cleanup(p.store.Stop)
		if !p.store.Up() {
			t.Fatalf("store down at start:\n%s", p.logs.String())
		}
		if p.pol, err = CompileShared(Config{RateLimits: rl}, p.store); err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	return ps
}

// loadResult is what load saw.
type loadResult struct {
	admitted []time.Time // sorted
	refused  int
	elapsed  time.Duration
}

// load offers each process a request about every millisecond, from a
// goroutine of its own (its event loop), for d, from client addresses
// client(i, n) (process i, request n).
func load(ps []*sharedProc, d time.Duration, client func(i, n int) netip.Addr) loadResult {
	var (
		mu  sync.Mutex
		res loadResult
		wg  sync.WaitGroup
	)
	start := time.Now()
	end := start.Add(d)
	for i, p := range ps {
		wg.Go(func() {
			var ok []time.Time
			refused := 0
			for n := 0; ; n++ {
				now := time.Now()
				if !now.Before(end) {
					break
				}
				if allowed, _ := p.pol.AllowRate(client(i, n), []byte("a.test"), now); allowed {
					ok = append(ok, now)
				} else {
					refused++
				}
				time.Sleep(time.Millisecond)
			}
			mu.Lock()
			res.admitted = append(res.admitted, ok...)
			res.refused += refused
			mu.Unlock()
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	slices.SortFunc(res.admitted, func(a, b time.Time) int { return a.Compare(b) })
	return res
}

// maxInWindow returns the most admitted requests within any interval of
// length w.
func maxInWindow(ts []time.Time, w time.Duration) int {
	best, j := 0, 0
	for i := range ts {
		for ts[i].Sub(ts[j]) >= w {
			j++
		}
		best = max(best, i-j+1)
	}
	return best
}

func oneClient(int, int) netip.Addr { return netip.MustParseAddr("192.0.2.1") }

// TestSharedLimitTwoProcesses: two processes sharing one global limit of
// N requests a second (burst B), each offered about ten times N, admit
// together what one bucket would, within the stated bound: over any
// interval of length T, at most B + N·T + 2·P·L (P processes, leases of L
// tokens). It measures the excess over the whole run and over the worst
// one-second window.
func TestSharedLimitTwoProcesses(t *testing.T) {
	srv := testtool.StartRedis(t)
	const (
		n     = 200 // rps
		burst = 200
		procs = 2
	)
	rl := RateLimits{Global: RateLimit{RPS: n, Burst: burst}}
	ps := newSharedProcs(t, procs, rl, srv.Addr)
	lease := ps[0].pol.shared.global.kind.size // 20: 100 ms of 200 rps
	slack := 2 * procs * int(lease)

	res := load(ps, 3*time.Second, oneClient)
	secs := res.elapsed.Seconds()
	ideal := burst + n*secs
	got := len(res.admitted)
	t.Logf("P=%d N=%d/s B=%d L=%d over %.2fs: admitted %d of %d offered; one bucket: %.0f; excess %+.0f (bound +%d)",
		procs, n, burst, lease, secs, got, got+res.refused, ideal, float64(got)-ideal, slack)
	if float64(got) > ideal+float64(slack) {
		t.Errorf("admitted %d > B + N·T + 2·P·L = %.0f", got, ideal+float64(slack))
	}
	if float64(got) < 0.8*ideal-float64(procs)*float64(lease) {
		t.Errorf("admitted %d: far below one bucket's %.0f; the limit starves", got, ideal)
	}
	win := maxInWindow(res.admitted, time.Second)
	t.Logf("worst 1s window: %d admitted; one bucket: %d; excess %+d (bound +%d)", win, burst+n, win-(burst+n), slack)
	if win > burst+n+slack {
		t.Errorf("%d admitted within one second > B + N + 2·P·L = %d", win, burst+n+slack)
	}
	for i, p := range ps {
		if st := p.store.Stats(); !st.Up || st.Errors != 0 || st.Fallbacks != 0 {
			t.Errorf("process %d: %+v", i, st)
		}
	}
}

// TestSharedLimitPerClient: a per-client limit is shared too: one client
// spread over two processes gets one client's rate, and another client
// its own.
func TestSharedLimitPerClient(t *testing.T) {
	srv := testtool.StartRedis(t)
	const n, burst = 50, 50
	ps := newSharedProcs(t, 2, RateLimits{PerClient: RateLimit{RPS: n, Burst: burst}}, srv.Addr)
	lease := int(ps[0].pol.shared.clients.forAddr(netip.MustParseAddr("192.0.2.1"), time.Now()).kind.size)
	two := func(_, n int) netip.Addr { // alternate between two clients
		if n%2 == 0 {
			return netip.MustParseAddr("192.0.2.1")
		}
		return netip.MustParseAddr("192.0.2.2")
	}
	res := load(ps, 2*time.Second, two)
	ideal := 2 * (burst + n*res.elapsed.Seconds()) // two clients
	got := len(res.admitted)
	t.Logf("2 clients × (B=%d + N=%d/s × %.2fs) = %.0f; admitted %d; excess %+.0f (bound +%d)",
		burst, n, res.elapsed.Seconds(), ideal, got, float64(got)-ideal, 2*2*2*lease)
	if float64(got) > ideal+float64(2*2*2*lease) || float64(got) < 0.8*ideal-float64(2*2*lease) {
		t.Errorf("admitted %d, one bucket per client: %.0f", got, ideal)
	}
}

// TestSharedLimitStoreOutage: Redis killed while the limit is in force:
// each process marks the store down once (one log line), requests flow
// (on_store_error allow), the metrics say so; Redis started again on the
// same port: the stores come back by themselves (one log line each), and
// the limit holds again.
func TestSharedLimitStoreOutage(t *testing.T) {
	srv := testtool.StartRedis(t)
	const n, burst = 100, 100
	ps := newSharedProcs(t, 2, RateLimits{Global: RateLimit{RPS: n, Burst: burst}}, srv.Addr)
	slack := 2 * 2 * int(ps[0].pol.shared.global.kind.size)

	before := load(ps, time.Second, oneClient)
	if before.refused == 0 {
		t.Fatalf("no request refused before the outage (%d admitted)", len(before.admitted))
	}

	srv.Kill()
	// The next refill finds the connection gone, or the next idle ping.
	waitFor(t, storeIdlePing+5*time.Second, "both stores down", func() bool { return !ps[0].store.Up() && !ps[1].store.Up() })
	during := load(ps, time.Second, oneClient)
	if during.refused != 0 {
		t.Errorf("store down, fail open: %d requests refused", during.refused)
	}
	for i, p := range ps {
		st := p.store.Stats()
		if st.Up || st.Errors == 0 || st.Fallbacks < uint64(len(during.admitted)/2/2) {
			t.Errorf("process %d during the outage: %+v", i, st)
		}
	}

	srv.Start() // the same port, an empty Redis
	waitFor(t, storeMaxBackoff*2+5*time.Second, "both stores up again", func() bool { return ps[0].store.Up() && ps[1].store.Up() })
	after := load(ps, 1500*time.Millisecond, oneClient)
	ideal := burst + n*after.elapsed.Seconds()
	t.Logf("before: %d admitted, %d refused; down: %d admitted, %d refused; after: %d admitted (one bucket %.0f), %d refused",
		len(before.admitted), before.refused, len(during.admitted), during.refused, len(after.admitted), ideal, after.refused)
	if after.refused == 0 || float64(len(after.admitted)) > ideal+float64(slack) {
		t.Errorf("after the outage: %d admitted, %d refused; want the limit back (at most %.0f)", len(after.admitted), after.refused, ideal+float64(slack))
	}
	for i, p := range ps {
		logs := p.logs.String()
		if d, u := strings.Count(logs, "rate-limit store down"), strings.Count(logs, "rate-limit store up again"); d != 1 || u != 1 {
			t.Errorf("process %d: %d down and %d up-again lines, want one each:\n%s", i, d, u, logs)
		}
	}
}

// waitFor polls cond every 10ms until it holds, failing t after limit.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %v", what, limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSharedLimitCredit drives the case the bound's credit term is for: a
// process whose lease of a bucket still trusts it (it has not seen the
// bucket short) while another process has just emptied it. The first may
// admit up to one lease on credit, blind; the charge then leaves the
// bucket negative, and both are refused until it is repaid, so the excess
// is borrowed, not kept.
func TestSharedLimitCredit(t *testing.T) {
	srv := testtool.StartRedis(t)
	const n, burst = 10, 10
	rl := RateLimits{PerHost: RateLimit{RPS: n, Burst: burst}, Lease: time.Second} // L = 10
	ps := newSharedProcs(t, 2, rl, srv.Addr)
	a, b := ps[0].pol, ps[1].pol
	client, host := netip.MustParseAddr("192.0.2.1"), []byte("h.test")
	start := time.Now()
	admitted := 0
	// a empties the bucket (its first lease on credit, then what Redis
	// grants), until Redis has told it the bucket is short.
	deadline := start.Add(5 * time.Second)
	for {
		if ok, _ := a.AllowRate(client, host, time.Now()); ok {
			admitted++
		} else if isScarce(a.shared.hosts.forHost(host, time.Now())) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a never saw the bucket short")
		}
		time.Sleep(time.Millisecond)
	}
	// b has not: its lease starts trusting.
	credit := 0
	for range 3 * burst {
		if ok, _ := b.AllowRate(client, host, time.Now()); ok {
			credit++
		}
	}
	admitted += credit
	// The charge lands; then nothing more until the bucket is repaid
	// (a second), and then the rate.
	time.Sleep(100 * time.Millisecond)
	for range 120 {
		for _, p := range []*Policy{a, b} {
			if ok, _ := p.AllowRate(client, host, time.Now()); ok {
				admitted++
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	elapsed := time.Since(start).Seconds()
	ideal := burst + n*elapsed
	lease := int(a.shared.hosts.forHost(host, time.Now()).kind.size)
	t.Logf("a emptied the bucket; b then admitted %d on credit (L=%d); over %.2fs %d admitted, one bucket %.0f, excess %+.0f (bound +%d)",
		credit, lease, elapsed, admitted, ideal, float64(admitted)-ideal, 2*2*lease)
	if credit > lease {
		t.Errorf("b admitted %d on credit, more than a lease (%d)", credit, lease)
	}
	if float64(admitted) > ideal+float64(2*2*lease) {
		t.Errorf("admitted %d > B + N·T + 2·P·L = %.0f", admitted, ideal+float64(2*2*lease))
	}
}

// isScarce reports whether l has seen its bucket short.
func isScarce(l *lease) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.scarce
}
