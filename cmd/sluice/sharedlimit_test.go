package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluiceproxy/sluice/internal/testtool"
	"github.com/sluiceproxy/sluice/policy"
)

// sharedSluice is one sluice process of TestSharedRateLimitProcesses.
type sharedSluice struct {
	proc   *sluiceProc
	admin  string
	client *http.Client // through the proxy
}

// metric returns the value of the sample named name (no labels) on the
// process's /metrics, -1 if absent.
func (s *sharedSluice) metric(t *testing.T, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + s.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindSubmatch(b)
	if m == nil {
		return -1
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

// sharedLoad sends GETs to target through every process, from a goroutine
// each, one about every 2ms, for d, and counts the 200s and the 429s.
func sharedLoad(t *testing.T, ps []*sharedSluice, target string, d time.Duration) (ok, limited int, elapsed time.Duration) {
	t.Helper()
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	end := start.Add(d)
	for _, p := range ps {
		wg.Go(func() {
			for time.Now().Before(end) {
				resp, err := p.client.Get(target)
				if err != nil {
					t.Errorf("GET through the proxy: %v", err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				mu.Lock()
				switch resp.StatusCode {
				case 200:
					ok++
				case 429:
					limited++
				default:
					t.Errorf("status %d", resp.StatusCode)
				}
				mu.Unlock()
				time.Sleep(2 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	return ok, limited, time.Since(start)
}

// TestSharedRateLimitProcesses runs two sluice processes sharing one
// global limit through a real Redis: together they hold to it within the
// stated bound (B + N·T + 2·P·L over T); with Redis killed, requests flow
// (fail open), /metrics says the store is down, and each process logs it
// once; with Redis started again on the same port, the processes find it
// by themselves and the limit is back.
func TestSharedRateLimitProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: two sluice processes and a Redis for a few seconds")
	}
	redis := testtool.StartRedis(t)
	origin := startOrigin(t, "ok")
	target := "http://" + origin + "/"
	const (
		n     = 100 // rps
		burst = 100
		procs = 2
		lease = 10 // 100ms of 100 rps
		slack = 2 * procs * lease
	)
	dir := t.TempDir()
	var ps []*sharedSluice
	for i := range procs {
		addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
		admin := fmt.Sprintf("127.0.0.1:%d", freePort(t))
		cfg := filepath.Join(dir, fmt.Sprintf("sluice%d.yaml", i))
		body := fmt.Sprintf("listen: %s\nadmin: %s\naccess_log: \"\"\nloops: 1\npolicy:\n  rate_limits:\n"+
			"    global: {rps: %d, burst: %d}\n    store: redis://%s/0\n", addr, admin, n, burst, redis.Addr)
		if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		p := startProc(t, "", "-config", cfg)
		p.waitListening(t, addr, admin)
		pu, _ := url.Parse("http://" + addr)
		ps = append(ps, &sharedSluice{proc: p, admin: admin,
			client: &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(pu)}, Timeout: 5 * time.Second}})
	}
	bound := func(elapsed time.Duration) (ideal, most float64) {
		ideal = burst + n*elapsed.Seconds()
		return ideal, ideal + slack
	}

	ok, limited, elapsed := sharedLoad(t, ps, target, 3*time.Second)
	ideal, most := bound(elapsed)
	t.Logf("P=%d N=%d/s B=%d L=%d over %.2fs: %d admitted, %d limited; one bucket %.0f; excess %+.0f (bound +%d)",
		procs, n, burst, lease, elapsed.Seconds(), ok, limited, ideal, float64(ok)-ideal, slack)
	if float64(ok) > most || float64(ok) < 0.7*ideal || limited == 0 {
		t.Errorf("%d admitted, %d limited; want at most %.0f and about %.0f", ok, limited, most, ideal)
	}
	for i, p := range ps {
		if up := p.metric(t, "sluice_rate_limit_store_up"); up != 1 {
			t.Errorf("process %d: sluice_rate_limit_store_up %v, want 1", i, up)
		}
	}

	redis.Kill()
	deadline := time.Now().Add(10 * time.Second)
	for _, p := range ps {
		for p.metric(t, "sluice_rate_limit_store_up") != 0 {
			if time.Now().After(deadline) {
				t.Fatalf("sluice_rate_limit_store_up still not 0 10s after Redis was killed:\n%s", p.proc.stderr.Bytes())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	ok, limited, _ = sharedLoad(t, ps, target, time.Second)
	t.Logf("Redis down: %d admitted, %d limited", ok, limited)
	if limited != 0 || ok == 0 {
		t.Errorf("Redis down, on_store_error allow: %d admitted, %d limited; want all admitted", ok, limited)
	}
	for i, p := range ps {
		if e, f := p.metric(t, "sluice_rate_limit_store_errors_total"), p.metric(t, "sluice_rate_limit_store_fallbacks_total"); e < 1 || f < 1 {
			t.Errorf("process %d: store errors %v, fallbacks %v; want both counted", i, e, f)
		}
	}

	redis.Start() // the same port; an empty Redis
	deadline = time.Now().Add(15 * time.Second)
	for _, p := range ps {
		for p.metric(t, "sluice_rate_limit_store_up") != 1 {
			if time.Now().After(deadline) {
				t.Fatalf("sluice_rate_limit_store_up not back to 1 15s after Redis restarted:\n%s", p.proc.stderr.Bytes())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	ok, limited, elapsed = sharedLoad(t, ps, target, 2*time.Second)
	ideal, most = bound(elapsed)
	t.Logf("Redis back: %d admitted, %d limited; one bucket %.0f; excess %+.0f", ok, limited, ideal, float64(ok)-ideal)
	if float64(ok) > most || limited == 0 {
		t.Errorf("after the restart: %d admitted, %d limited; want the limit back (at most %.0f)", ok, limited, most)
	}

	for i, p := range ps {
		p.proc.stop(t)
		logs := string(p.proc.stderr.Bytes())
		if d, u := strings.Count(logs, "rate-limit store down"), strings.Count(logs, "rate-limit store up again"); d != 1 || u != 1 {
			t.Errorf("process %d: %d down and %d up-again lines, want one each:\n%s", i, d, u, logs)
		}
	}
}

// TestRateStoreReload: a reload naming the same store keeps it; another
// store is started, and put in force only on commit (the old one then
// stopped); none removes it. The stores here are on closed ports: they
// start down, which changes nothing to the bookkeeping.
func TestRateStoreReload(t *testing.T) {
	r := &rateStore{}
	defer r.stop()
	cfg := func(store string) policy.Config {
		return policy.Config{RateLimits: policy.RateLimits{Global: policy.RateLimit{RPS: 10}, Store: store}}
	}
	a := fmt.Sprintf("redis://127.0.0.1:%d/0", freePort(t))
	b := fmt.Sprintf("redis://127.0.0.1:%d/1", freePort(t))

	_, sw, err := r.compile(cfg(a))
	if err != nil {
		t.Fatal(err)
	}
	sw.commit()
	storeA := r.store
	if _, ok := r.stats(); !ok || storeA == nil {
		t.Fatal("no store in force after the first commit")
	}
	if _, sw, _ = r.compile(cfg(a)); sw.store != storeA || sw.started {
		t.Error("the same URL started another store")
	}
	sw.abort() // a failed reload: the store in force goes on
	if r.store != storeA {
		t.Error("abort of a kept store changed the store in force")
	}
	_, sw, _ = r.compile(cfg(b))
	if sw.store == storeA || !sw.started {
		t.Fatal("another URL did not start another store")
	}
	sw.abort()
	if r.store != storeA || r.inForce.Load() != storeA {
		t.Error("an aborted swap changed the store in force")
	}
	_, sw, _ = r.compile(cfg(b))
	sw.commit()
	if r.store == storeA || r.store == nil || r.url != b {
		t.Error("commit did not put the new store in force")
	}
	_, sw, _ = r.compile(cfg(""))
	sw.commit()
	if _, ok := r.stats(); ok || r.store != nil {
		t.Error("a config without a store left one in force")
	}
	if _, _, err := r.compile(cfg("redis://127.0.0.1:0/x")); err == nil {
		t.Error("compile accepted a bad URL")
	}
}
