package metrics

import (
	"bytes"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	vm "github.com/VictoriaMetrics/metrics"

	"github.com/sluiceproxy/sluice/cache"
	"github.com/sluiceproxy/sluice/engine"
	"github.com/sluiceproxy/sluice/policy"
	"github.com/sluiceproxy/sluice/proxy"
	"github.com/sluiceproxy/sluice/resolver"
)

// scrape writes m and parses the output.
func scrape(t testing.TB, m *Metrics) map[string]sample {
	t.Helper()
	var buf bytes.Buffer
	m.WritePrometheus(&buf)
	got, err := parseProm(&buf)
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	return got
}

// value returns the value of a series given as `name` or
// `name{a="x",b="y"}` (labels in sorted order), failing if absent.
// wantValues checks each series of want in got.
func wantValues(t *testing.T, got map[string]sample, want map[string]float64) {
	t.Helper()
	for k, w := range want {
		if v := value(t, got, k); v != w {
			t.Errorf("%s = %v, want %v", k, v, w)
		}
	}
}

func value(t testing.TB, got map[string]sample, key string) float64 {
	t.Helper()
	s, ok := got[key]
	if !ok {
		t.Fatalf("no series %s", key)
	}
	return s.value
}

func rec(method string, status int, d time.Duration, in, out int64) proxy.Record {
	return proxy.Record{Method: []byte(method), Status: status, Duration: d, BytesIn: in, BytesOut: out}
}

func TestObserveCounts(t *testing.T) {
	m := New(Sources{})
	records := []proxy.Record{
		rec("GET", 200, 300*time.Microsecond, 100, 1000),
		rec("GET", 200, 2*time.Millisecond, 100, 1000),
		rec("GET", 404, 10*time.Millisecond, 100, 50),
		rec("HEAD", 200, 1*time.Millisecond, 90, 0), // exactly on a bound: le
		rec("POST", 503, 3*time.Second, 5000, 80),
		rec("PROPFIND", 207, 500*time.Millisecond, 1, 2),
		rec("get", 0, 0, 0, 0), // methods are case-sensitive
	}
	records[4].Error = "DNS resolution failure"
	records[6].Error = "client closed the connection"
	tun := rec("CONNECT", 200, 90*time.Second, 7000, 9000)
	tun.Tunnel = true
	records = append(records, tun)
	// sluice's own denials, and an origin's 403 and 429 that are not.
	for _, d := range []struct {
		status int
		detail string
	}{
		{403, policy.ErrDestinationDenied.Reason},
		{403, "destination address 169.254.169.254 denied (link-local)"},
		{403, proxy.ErrConnectPort.Detail},
		{407, policy.ErrAuthRequired.Reason},
		{429, policy.ErrRateLimited.Reason},
		{429, policy.ErrRateLimited.Reason},
		{403, ""},
		{429, ""},
	} {
		r := rec("GET", d.status, time.Millisecond, 10, 10)
		r.Error = d.detail
		records = append(records, r)
	}
	for i := range records {
		m.Observe(&records[i])
	}

	got := scrape(t, m)
	req := func(method, class string) string {
		return `sluice_requests_total{class="` + class + `",method="` + method + `"}`
	}
	wantValues(t, got, map[string]float64{
		req("GET", "2xx"):     2,
		req("GET", "4xx"):     9, // the 404 and the 8 denials
		req("HEAD", "2xx"):    1,
		req("POST", "5xx"):    1,
		req("other", "2xx"):   1,
		req("other", "none"):  1,
		req("CONNECT", "2xx"): 1,
		req("PUT", "1xx"):     0,
		req("DELETE", "none"): 0,

		"sluice_received_bytes_total": 100*3 + 90 + 5000 + 1 + 7000 + 8*10,
		"sluice_sent_bytes_total":     1000*2 + 50 + 80 + 2 + 9000 + 8*10,
		"sluice_tunnels_closed_total": 1,

		`sluice_errors_total{detail="DNS resolution failure"}`:         1,
		`sluice_errors_total{detail="client closed the connection"}`:   1,
		`sluice_errors_total{detail="destination denied by policy"}`:   1,
		`sluice_errors_total{detail="CONNECT to this port is denied"}`: 1,
		`sluice_errors_total{detail="proxy authentication required"}`:  1,
		`sluice_errors_total{detail="rate limited"}`:                   2,
		`sluice_errors_total{detail="other"}`:                          1,
		`sluice_errors_total{detail="upstream connect refused"}`:       0,
		`sluice_errors_total{detail="malformed request line"}`:         0,

		`sluice_policy_denials_total{reason="denied"}`: 3,
		`sluice_policy_denials_total{reason="auth"}`:   1,
		`sluice_policy_denials_total{reason="rate"}`:   2,
		"sluice_rate_limit_rejections_total":           2,

		`sluice_request_duration_seconds_bucket{le="0.0005"}`: 2,  // 0.3ms and 0s
		`sluice_request_duration_seconds_bucket{le="0.001"}`:  11, // and the nine of 1ms
		`sluice_request_duration_seconds_bucket{le="0.0025"}`: 12,
		`sluice_request_duration_seconds_bucket{le="0.01"}`:   13,
		`sluice_request_duration_seconds_bucket{le="0.5"}`:    14,
		`sluice_request_duration_seconds_bucket{le="2.5"}`:    14,
		`sluice_request_duration_seconds_bucket{le="5"}`:      15,
		`sluice_request_duration_seconds_bucket{le="+Inf"}`:   15,
		"sluice_request_duration_seconds_count":               15,
		`sluice_tunnel_duration_seconds_bucket{le="60"}`:      0,
		`sluice_tunnel_duration_seconds_bucket{le="300"}`:     1,
		"sluice_tunnel_duration_seconds_count":                1,
		"sluice_tunnel_duration_seconds_sum":                  90,
	})
	wantSum := (0.3 + 2 + 10 + 1 + 3000 + 500 + 0 + 8*1) / 1000
	if v := value(t, got, "sluice_request_duration_seconds_sum"); v < wantSum-1e-9 || v > wantSum+1e-9 {
		t.Errorf("duration sum %v, want %v", v, wantSum)
	}
	// Every method x class series exists from the start.
	n := 0
	for k := range got {
		if strings.HasPrefix(k, "sluice_requests_total{") {
			n++
		}
	}
	if n != len(methodLabels)*len(classLabels) {
		t.Errorf("%d request series, want %d", n, len(methodLabels)*len(classLabels))
	}
	// Go runtime and process metrics.
	for _, k := range []string{"go_goroutines", "go_memstats_alloc_bytes", "process_resident_memory_bytes"} {
		value(t, got, k)
	}
}

// allSources are Sources with every field set, to distinct values.
func allSources() Sources {
	return Sources{
		Conns: func() (int64, int64) { return 7, 3 },
		Counters: func() engine.Counters {
			return engine.Counters{PoolHits: 11, PoolMisses: 4, Dials: 5, DialErrors: 1,
				TunnelsStarted: 9, TunnelsActive: 2, StreamsStarted: 6,
				AcceptErrors: 12, ConnsRefused: 13, FDsUsed: 14, FDsBudget: 15, FDsRefused: 16,
				TLSHandshakes: 44, TLSErrors: 45}
		},
		DNS: func() resolver.Stats {
			return resolver.Stats{QueryAttempt: 20, QuerySuccess: 17, QueryFailure: 3, QueryTimeout: 2,
				HostAdded: 8, HostRemoved: 1, HostAddressChanged: 4, HostOverflow: 5,
				PendingOverflow: 6, NumHosts: 7, Pending: 2, NegativeEvicted: 17, NumNegative: 18,
				CacheFileLoaded: 19, CacheFileWrites: 20, CacheFileErrors: 21}
		},
		AccessLogDrops: func() uint64 { return 42 },
		Reloads:        func() (uint64, uint64) { return 3, 1 },
		Cache: func() cache.StoreStats {
			return cache.StoreStats{Hits: 30, Misses: 31, Stores: 32, TooBig: 33, Deletes: 34,
				Collisions: 35, Bytes: 36, MaxBytes: 37, Entries: 38,
				Flights: cache.FlightStats{Led: 39, Waited: 40, Passed: 41}, HotEntries: 42, HotBytes: 43}
		},
		RateLimitStore: func() (policy.StoreStats, bool) {
			return policy.StoreStats{Up: true, Calls: 44, Errors: 45, Fallbacks: 46}, true
		},
	}
}

func TestSources(t *testing.T) {
	m := New(allSources())
	got := scrape(t, m)
	wantValues(t, got, map[string]float64{
		"sluice_client_connections":                      7,
		"sluice_upstream_connections":                    3,
		"sluice_pool_hits_total":                         11,
		"sluice_pool_misses_total":                       4,
		"sluice_upstream_dials_total":                    5,
		"sluice_upstream_dial_errors_total":              1,
		"sluice_upstream_tls_handshakes_total":           44,
		"sluice_upstream_tls_errors_total":               45,
		"sluice_tunnels_started_total":                   9,
		"sluice_tunnels_active":                          2,
		"sluice_streams_started_total":                   6,
		"sluice_accept_errors_total":                     12,
		"sluice_connections_refused_total":               13,
		"sluice_fds_used":                                14,
		"sluice_fds_budget":                              15,
		"sluice_fds_refused_total":                       16,
		"sluice_dns_cache_negative_evicted_total":        17,
		"sluice_dns_cache_num_negative":                  18,
		"sluice_dns_cache_dns_query_attempt_total":       20,
		"sluice_dns_cache_dns_query_success_total":       17,
		"sluice_dns_cache_dns_query_failure_total":       3,
		"sluice_dns_cache_dns_query_timeout_total":       2,
		"sluice_dns_cache_host_added_total":              8,
		"sluice_dns_cache_host_removed_total":            1,
		"sluice_dns_cache_host_address_changed_total":    4,
		"sluice_dns_cache_host_overflow_total":           5,
		"sluice_dns_cache_dns_rq_pending_overflow_total": 6,
		"sluice_dns_cache_num_hosts":                     7,
		"sluice_dns_cache_pending_requests":              2,
		"sluice_access_log_dropped_total":                42,
		`sluice_config_reloads_total{result="success"}`:  3,
		"sluice_dns_cache_cache_file_loaded_total":       19,
		"sluice_dns_cache_cache_file_writes_total":       20,
		"sluice_dns_cache_cache_file_errors_total":       21,
		`sluice_config_reloads_total{result="failure"}`:  1,
		"sluice_cache_lookup_hits_total":                 30,
		"sluice_cache_lookup_misses_total":               31,
		"sluice_cache_stores_total":                      32,
		"sluice_cache_too_big_total":                     33,
		"sluice_cache_deletes_total":                     34,
		"sluice_cache_collisions_total":                  35,
		"sluice_cache_bytes":                             36,
		"sluice_cache_max_bytes":                         37,
		"sluice_cache_entries":                           38,
		"sluice_cache_collapsed_leaders_total":           39,
		"sluice_cache_collapsed_waits_total":             40,
		"sluice_cache_collapsed_passes_total":            41,
		"sluice_cache_hot_entries":                       42,
		"sluice_cache_hot_bytes":                         43,
		"sluice_rate_limit_store_up":                     1,
		"sluice_rate_limit_store_calls_total":            44,
		"sluice_rate_limit_store_errors_total":           45,
		"sluice_rate_limit_store_fallbacks_total":        46,
	})

	// Nil sources leave their metrics out; the rest is still there.
	got = scrape(t, New(Sources{}))
	for _, k := range []string{"sluice_client_connections", "sluice_pool_hits_total",
		"sluice_dns_cache_num_hosts", "sluice_access_log_dropped_total", "sluice_rate_limit_store_up"} {
		if _, ok := got[k]; ok {
			t.Errorf("%s present without its source", k)
		}
	}
	value(t, got, "sluice_received_bytes_total")

	// A store that is down shows 0; none configured (after a reload
	// removed it) shows nothing.
	storeUp, storeSet := false, true
	m = New(Sources{RateLimitStore: func() (policy.StoreStats, bool) { return policy.StoreStats{Up: storeUp, Errors: 3}, storeSet }})
	got = scrape(t, m)
	if v := value(t, got, "sluice_rate_limit_store_up"); v != 0 {
		t.Errorf("sluice_rate_limit_store_up = %v while down, want 0", v)
	}
	storeSet = false
	if _, ok := scrape(t, m)["sluice_rate_limit_store_up"]; ok {
		t.Error("sluice_rate_limit_store_up present without a store")
	}
}

// VictoriaMetrics' process-wide ExposeMetadata switch changes nothing: the
// # lines are sluice's own either way, one HELP and one TYPE per family.
func TestMetadata(t *testing.T) {
	m := New(Sources{AccessLogDrops: func() uint64 { return 0 }})
	comments := func() string {
		var buf bytes.Buffer
		m.WritePrometheus(&buf)
		if _, err := parseFamilies(bytes.NewReader(buf.Bytes())); err != nil {
			t.Fatal(err)
		}
		var c strings.Builder
		for line := range strings.Lines(buf.String()) {
			if strings.HasPrefix(line, "#") {
				c.WriteString(line)
			}
		}
		return c.String()
	}
	without := comments()
	vm.ExposeMetadata(true)
	defer vm.ExposeMetadata(false)
	if with := comments(); with != without {
		t.Errorf("# lines differ with ExposeMetadata(true):\n%s\nwithout:\n%s", with, without)
	}
	for _, want := range []string{
		"# TYPE sluice_request_duration_seconds histogram\n",
		"# TYPE sluice_requests_total counter\n",
		"# HELP sluice_access_log_dropped_total Access log lines dropped because the log's queue was full.\n",
		"# TYPE sluice_access_log_dropped_total counter\n",
	} {
		if !strings.Contains(without, want) {
			t.Errorf("no %q", want)
		}
	}
}

// Two Metrics do not share counts.
func TestIsolated(t *testing.T) {
	a, b := New(Sources{}), New(Sources{})
	r := rec("GET", 200, time.Millisecond, 1, 1)
	a.Observe(&r)
	k := `sluice_requests_total{class="2xx",method="GET"}`
	if va, vb := value(t, scrape(t, a), k), value(t, scrape(t, b), k); va != 1 || vb != 0 {
		t.Errorf("a %v, b %v; want 1, 0", va, vb)
	}
}

func TestIndexes(t *testing.T) {
	for i, m := range methodLabels[:methodOther] {
		if methodIndex([]byte(m)) != i {
			t.Errorf("methodIndex(%s) = %d, want %d", m, methodIndex([]byte(m)), i)
		}
	}
	for _, m := range []string{"", "other", "GETX", "Get", "TRACE"} {
		if methodIndex([]byte(m)) != methodOther {
			t.Errorf("methodIndex(%q) is not other", m)
		}
	}
	for status, want := range map[int]string{0: "none", 99: "none", 100: "1xx", 101: "1xx", 200: "2xx",
		299: "2xx", 304: "3xx", 451: "4xx", 599: "5xx", 600: "none", -1: "none"} {
		if got := classLabels[classIndex(status)]; got != want {
			t.Errorf("classIndex(%d) = %s, want %s", status, got, want)
		}
	}
}

func TestErrorDetailsAreLabelSafe(t *testing.T) {
	// The escaped details must round-trip through the text format.
	m := New(Sources{})
	got := scrape(t, m)
	for _, d := range knownErrorDetails {
		value(t, got, series("sluice_errors_total", map[string]string{"detail": d}))
	}
	if s := escapeLabelValue("a\\b\"c\nd"); s != `a\\b\"c\nd` {
		t.Errorf("escapeLabelValue: %s", s)
	}
}

func TestObserveAllocs(t *testing.T) {
	m := New(Sources{})
	records := []proxy.Record{
		rec("GET", 200, time.Millisecond, 100, 1000),
		rec("PROPFIND", 0, time.Hour, 1, 1),
		rec("CONNECT", 200, time.Minute, 1, 1),
		rec("GET", 429, 0, 1, 1),
		rec("GET", 502, 0, 1, 1),
	}
	records[2].Tunnel = true
	records[3].Error = policy.ErrRateLimited.Reason
	records[4].Error = "some detail nobody knows"
	for i := range records {
		r := &records[i]
		if n := testing.AllocsPerRun(100, func() { m.Observe(r) }); n != 0 {
			t.Errorf("Observe(%s %d %q): %v allocations", r.Method, r.Status, r.Error, n)
		}
	}
}

// BenchmarkObserve is the metrics' cost per request on the event loop.
func BenchmarkObserve(b *testing.B) {
	m := New(Sources{})
	r := rec("GET", 200, 1500*time.Microsecond, 100, 1000)
	b.ReportAllocs()
	for b.Loop() {
		m.Observe(&r)
	}
}

// BenchmarkObserveParallel is Observe from every P at once, each as its own
// event loop (Record.Shard), as the engines call it.
func BenchmarkObserveParallel(b *testing.B) {
	m := New(Sources{})
	var next atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := rec("GET", 200, 1500*time.Microsecond, 100, 1000)
		r.Shard = int(next.Add(1))
		for pb.Next() {
			m.Observe(&r)
		}
	})
}

// BenchmarkObserveParallelShared is BenchmarkObserveParallel with every P
// on one shard: the counters shared, as they were before the shards.
func BenchmarkObserveParallelShared(b *testing.B) {
	m := New(Sources{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := rec("GET", 200, 1500*time.Microsecond, 100, 1000)
		for pb.Next() {
			m.Observe(&r)
		}
	})
}

func BenchmarkWritePrometheus(b *testing.B) {
	m := New(Sources{
		Conns:    func() (int64, int64) { return 1, 1 },
		Counters: func() engine.Counters { return engine.Counters{} },
		DNS:      func() resolver.Stats { return resolver.Stats{} },
	})
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		m.WritePrometheus(&buf)
	}
	b.SetBytes(int64(buf.Len()))
}

// TestRequestBucketCount checks the shards' fixed bucket array against the
// bounds.
func TestRequestBucketCount(t *testing.T) {
	if requestBucketCount != len(requestBuckets)+1 {
		t.Fatalf("requestBucketCount = %d, want len(requestBuckets)+1 = %d", requestBucketCount, len(requestBuckets)+1)
	}
}

// TestShardsSum checks that records observed on different event loops
// (Record.Shard), including shards past numShards, are summed in a scrape.
func TestShardsSum(t *testing.T) {
	m := New(Sources{})
	for i, shard := range []int{0, 1, 2, numShards + 1, 7} {
		m.Observe(&proxy.Record{Shard: shard, Method: []byte("GET"), Status: 200, BytesIn: 10, BytesOut: int64(100 * (i + 1)), Duration: time.Millisecond})
	}
	m.Observe(&proxy.Record{Shard: 3, Method: []byte("POST"), Status: 503, BytesIn: 1, Duration: 2 * time.Minute})
	got := scrape(t, m)
	wantValues(t, got, map[string]float64{
		`sluice_requests_total{class="2xx",method="GET"}`:    5,
		`sluice_requests_total{class="5xx",method="POST"}`:   1,
		"sluice_received_bytes_total":                        51,
		"sluice_sent_bytes_total":                            1500,
		`sluice_request_duration_seconds_bucket{le="0.001"}`: 5,
		`sluice_request_duration_seconds_bucket{le="60"}`:    5,
		`sluice_request_duration_seconds_bucket{le="+Inf"}`:  6,
		"sluice_request_duration_seconds_count":              6,
		"sluice_request_duration_seconds_sum":                120.005,
	})
}
