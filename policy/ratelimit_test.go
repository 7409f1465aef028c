package policy

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

// step is one AllowRate call and its expected outcome.
type step struct {
	after  time.Duration // clock advance before the call
	client string
	host   string
	ok     bool
	retry  time.Duration
}

func runSteps(t *testing.T, p *Policy, steps []step) {
	t.Helper()
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	for i, s := range steps {
		now = now.Add(s.after)
		ok, retry := p.AllowRate(netip.MustParseAddr(s.client), []byte(s.host), now)
		if ok != s.ok || retry != s.retry {
			t.Errorf("step %d (%s -> %s at +%v): AllowRate = %v, %v; want %v, %v", i, s.client, s.host, s.after, ok, retry, s.ok, s.retry)
		}
	}
}

func TestAllowRate(t *testing.T) {
	tests := []struct {
		name  string
		rl    RateLimits
		steps []step
	}{
		{"off", RateLimits{}, []step{
			{0, "10.0.0.1", "a.test", true, 0}, {0, "10.0.0.1", "a.test", true, 0}, {0, "10.0.0.1", "a.test", true, 0},
		}},
		{"per client", RateLimits{PerClient: RateLimit{RPS: 1, Burst: 2}}, []step{
			{0, "10.0.0.1", "a.test", true, 0},
			{0, "10.0.0.1", "b.test", true, 0},
			{0, "10.0.0.1", "a.test", false, time.Second},
			{0, "10.0.0.2", "a.test", true, 0},                   // another client: its own bucket
			{0, "::ffff:10.0.0.1", "a.test", false, time.Second}, // the same client, mapped
			{250 * time.Millisecond, "10.0.0.1", "a.test", false, 750 * time.Millisecond},
			{750 * time.Millisecond, "10.0.0.1", "a.test", true, 0},
			{0, "10.0.0.1", "a.test", false, time.Second},
		}},
		{"per host", RateLimits{PerHost: RateLimit{RPS: 10}}, []step{ // burst defaults to 10
			{0, "10.0.0.1", "a.test", true, 0}, {0, "10.0.0.2", "a.test", true, 0}, {0, "10.0.0.3", "a.test", true, 0},
			{0, "10.0.0.1", "a.test", true, 0}, {0, "10.0.0.1", "a.test", true, 0}, {0, "10.0.0.1", "a.test", true, 0},
			{0, "10.0.0.1", "a.test", true, 0}, {0, "10.0.0.1", "a.test", true, 0}, {0, "10.0.0.1", "a.test.", true, 0},
			{0, "10.0.0.1", "a.test", true, 0},
			{0, "10.0.0.9", "a.test", false, 100 * time.Millisecond},
			{0, "10.0.0.9", "b.test", true, 0},
			{100 * time.Millisecond, "10.0.0.9", "a.test", true, 0},
		}},
		{"global", RateLimits{Global: RateLimit{RPS: 2, Burst: 2}}, []step{
			{0, "10.0.0.1", "a.test", true, 0},
			{0, "10.0.0.2", "b.test", true, 0},
			{0, "10.0.0.3", "c.test", false, 500 * time.Millisecond},
			{500 * time.Millisecond, "10.0.0.3", "c.test", true, 0},
		}},
		{"refused takes nothing", RateLimits{PerClient: RateLimit{RPS: 1, Burst: 1}, Global: RateLimit{RPS: 1, Burst: 2}}, []step{
			{0, "10.0.0.1", "a.test", true, 0},
			{0, "10.0.0.1", "a.test", false, time.Second}, // client empty: global keeps its token
			{0, "10.0.0.1", "a.test", false, time.Second},
			{0, "10.0.0.2", "a.test", true, 0}, // the global token is still there
			{0, "10.0.0.3", "a.test", false, time.Second},
		}},
		{"retry is the longest wait", RateLimits{PerClient: RateLimit{RPS: 0.5, Burst: 1}, PerHost: RateLimit{RPS: 0.25, Burst: 1}}, []step{
			{0, "10.0.0.1", "a.test", true, 0},
			{0, "10.0.0.1", "a.test", false, 4 * time.Second},
			{0, "10.0.0.1", "b.test", false, 2 * time.Second},
			{0, "10.0.0.2", "a.test", false, 4 * time.Second},
			{2 * time.Second, "10.0.0.1", "a.test", false, 2 * time.Second},
			{2 * time.Second, "10.0.0.1", "a.test", true, 0},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			runSteps(t, mustCompile(t, Config{RateLimits: tc.rl}), tc.steps)
		})
	}
}

func TestRateBucketsBounded(t *testing.T) {
	b := newBuckets(1, 1, 8)
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := 0; i < 100; i++ {
		a := netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
		b.forAddr(a, now).AllowN(now, 1) // busy: not idle
		b.forHost([]byte(fmt.Sprint("h", i, ".test")), now).AllowN(now, 1)
		if len(b.addrs) > 8 || len(b.hosts) > 8 {
			t.Fatalf("after %d keys: %d addrs, %d hosts; bound 8", i+1, len(b.addrs), len(b.hosts))
		}
	}
	// Idle (refilled) buckets go at the next sweep.
	later := now.Add(sweepInterval)
	b.forAddr(netip.MustParseAddr("192.0.2.1"), later)
	if len(b.addrs) != 1 || len(b.hosts) != 0 {
		t.Errorf("after sweep: %d addrs, %d hosts; want 1, 0", len(b.addrs), len(b.hosts))
	}
}
