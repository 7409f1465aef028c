package policy

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sluiceproxy/sluice/internal/testtool"
)

// newTestRedis starts a redis-server for t (skipping t if there is none)
// and returns it with a client.
func newTestRedis(t *testing.T) (*testtool.Redis, *redis.Client) {
	t.Helper()
	srv := testtool.StartRedis(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	return srv, c
}

// bucketCall is one bucket of a tokenbucket.lua call and what it should
// answer.
type bucketCall struct {
	key                   string
	rate                  float64
	burst, charge, want   int64
	wantGranted, wantWait int64 // the reply: granted, wait in microseconds
}

// runScript runs tokenbucket.lua at now (microseconds; -1 for the server's
// clock) on calls and returns the flat reply.
func runScript(t *testing.T, c *redis.Client, now int64, calls ...bucketCall) []int64 {
	t.Helper()
	keys := make([]string, 0, len(calls))
	args := []any{""}
	if now >= 0 {
		args[0] = strconv.FormatInt(now, 10)
	}
	for _, b := range calls {
		keys = append(keys, b.key)
		args = append(args, strconv.FormatFloat(b.rate, 'g', -1, 64), b.burst, b.charge, b.want)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := tokenBucketScript.Run(ctx, c, keys, args...).Int64Slice()
	if err != nil {
		t.Fatalf("script: %v", err)
	}
	if len(res) != 2*len(calls) {
		t.Fatalf("script: %d values for %d buckets", len(res), len(calls))
	}
	return res
}

// TestTokenBucketScript checks tokenbucket.lua's arithmetic on a real
// Redis, step by step, with the clock passed in.
func TestTokenBucketScript(t *testing.T) {
	_, c := newTestRedis(t)
	const s = 1_000_000 // a second, in microseconds
	t0 := int64(1_700_000_000) * s
	steps := []struct {
		name string
		at   int64 // microseconds after t0
		call bucketCall
	}{
		{"a new bucket is full", 0, bucketCall{"a", 2, 5, 0, 3, 3, 0}},
		{"granted as far as whole tokens remain", 0, bucketCall{"a", 2, 5, 0, 5, 2, s / 2}},
		{"empty: nothing, and the wait for one token", 0, bucketCall{"a", 2, 5, 0, 1, 0, s / 2}},
		{"refills at rate", s / 4, bucketCall{"a", 2, 5, 0, 1, 0, s / 4}},
		{"a whole token after half a second", s / 2, bucketCall{"a", 2, 5, 0, 4, 1, s / 2}},
		{"the refill stops at burst", 100 * s, bucketCall{"a", 2, 5, 0, 9, 5, s / 2}},
		{"charge is taken whatever the bucket holds", 100 * s, bucketCall{"a", 2, 5, 3, 1, 0, 2 * s}},
		{"a negative bucket refuses until repaid", 101 * s, bucketCall{"a", 2, 5, 0, 1, 0, s}},
		{"repaid", 102 * s, bucketCall{"a", 2, 5, 0, 1, 1, s / 2}},
		{"charge and want together", 200 * s, bucketCall{"a", 2, 5, 2, 2, 2, 0}},
		{"a clock that goes back refills nothing", 150 * s, bucketCall{"a", 2, 5, 0, 5, 1, s / 2}},
		{"and resumes from the latest time", 200*s + s/2, bucketCall{"a", 2, 5, 0, 5, 1, s / 2}},
		{"fractional rates", 0, bucketCall{"slow", 0.25, 1, 0, 1, 1, 4 * s}},
		{"fractional rates refill", 2 * s, bucketCall{"slow", 0.25, 1, 0, 1, 0, 2 * s}},
		{"want 0 only charges", 0, bucketCall{"c", 10, 10, 4, 0, 0, 0}},
		{"and leaves the rest", 0, bucketCall{"c", 10, 10, 0, 10, 6, s / 10}},
	}
	for _, st := range steps {
		res := runScript(t, c, t0+st.at, st.call)
		if res[0] != st.call.wantGranted || res[1] != st.call.wantWait {
			t.Errorf("%s: granted %d, wait %dµs; want %d, %dµs", st.name, res[0], res[1], st.call.wantGranted, st.call.wantWait)
		}
	}

	// Several buckets in one call are independent.
	res := runScript(t, c, t0,
		bucketCall{key: "m1", rate: 1, burst: 3, want: 5},
		bucketCall{key: "m2", rate: 1, burst: 10, want: 5},
		bucketCall{key: "m3", rate: 1, burst: 1, charge: 1, want: 1})
	if want := []int64{3, s, 5, 0, 0, s}; !equalInts(res, want) {
		t.Errorf("three buckets: %v, want %v", res, want)
	}

	// The key expires when the bucket would be full again (plus a second):
	// an absent key is a full bucket.
	ctx := context.Background()
	if ttl := c.PTTL(ctx, "m1").Val(); ttl < 3*time.Second || ttl > 4*time.Second {
		t.Errorf("PTTL of an empty bucket of 3 at 1/s = %v, want 4s", ttl)
	}
	if ttl := c.PTTL(ctx, "m2").Val(); ttl < time.Second+4*time.Second || ttl > 6*time.Second {
		t.Errorf("PTTL of a bucket 5 short at 1/s = %v, want 6s", ttl)
	}
}

// TestTokenBucketScriptServerClock: with no clock passed, the script takes
// Redis's TIME, and a bucket refills in real time.
func TestTokenBucketScriptServerClock(t *testing.T) {
	_, c := newTestRedis(t)
	call := bucketCall{key: "rt", rate: 100, burst: 1, want: 1}
	if res := runScript(t, c, -1, call); res[0] != 1 {
		t.Fatalf("first call: %v, want a token", res)
	}
	res := runScript(t, c, -1, call)
	if res[0] != 0 || res[1] <= 0 || res[1] > 10_000 {
		t.Fatalf("second call at once: %v, want none and a wait up to 10ms", res)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runScript(t, c, -1, call)[0] != 1 {
		if time.Now().After(deadline) {
			t.Fatal("no token 5s later")
		}
		time.Sleep(time.Duration(res[1]) * time.Microsecond)
	}
}

// TestTokenBucketScriptNoScript: after SCRIPT FLUSH (or a restarted
// Redis) EVALSHA answers NOSCRIPT and the call falls back to EVAL, which
// loads the script again.
func TestTokenBucketScriptNoScript(t *testing.T) {
	_, c := newTestRedis(t)
	ctx := context.Background()
	if err := c.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if ok, _ := tokenBucketScript.Exists(ctx, c).Result(); len(ok) != 1 || ok[0] {
		t.Fatalf("SCRIPT EXISTS after FLUSH = %v", ok)
	}
	if res := runScript(t, c, 0, bucketCall{key: "n", rate: 1, burst: 1, want: 1}); res[0] != 1 {
		t.Fatalf("after FLUSH: %v", res)
	}
	if ok, _ := tokenBucketScript.Exists(ctx, c).Result(); len(ok) != 1 || !ok[0] {
		t.Errorf("SCRIPT EXISTS after the fallback = %v: EVAL did not load it", ok)
	}
}

func equalInts(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
