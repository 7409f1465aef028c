package metrics

import (
	"bytes"
	"io"
	"strings"

	vm "github.com/VictoriaMetrics/metrics"

	"github.com/sluiceproxy/sluice/cache"
	"github.com/sluiceproxy/sluice/engine"
	"github.com/sluiceproxy/sluice/policy"
	"github.com/sluiceproxy/sluice/proxy"
	"github.com/sluiceproxy/sluice/resolver"
)

// Sources are what Metrics reads at scrape time. Every field may be nil:
// its metrics are then left out.
type Sources struct {
	// Conns reports open client and upstream connections
	// (engine.Server.Conns).
	Conns func() (client, upstream int64)
	// Counters reports the engine's counters (engine.Server.Counters).
	Counters func() engine.Counters
	// DNS reports the resolver's statistics (resolver.Resolver.Stats).
	DNS func() resolver.Stats
	// AccessLogDrops reports the access log lines dropped
	// (accesslog.Logger.Drops).
	AccessLogDrops func() uint64
	// Reloads reports the configuration reloads that succeeded and failed.
	Reloads func() (ok, failed uint64)
	// Cache reports the response cache's store (cache.Store.Stats); nil
	// when the cache is off.
	Cache func() cache.StoreStats
	// RateLimitStore reports the shared rate limits' store
	// (policy.RedisStore.Stats); ok is false while none is configured
	// (a reload may add or remove it).
	RateLimitStore func() (st policy.StoreStats, ok bool)
}

// Method and status-class labels of sluice_requests_total, in index order.
var (
	methodLabels = [...]string{"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "PATCH", "other"}
	classLabels  = [...]string{"1xx", "2xx", "3xx", "4xx", "5xx", "none"}
)

const (
	methodOther = len(methodLabels) - 1
	classNone   = len(classLabels) - 1
)

// Metrics is sluice's metrics: a proxy.Observer that counts the records it
// is given, and a writer of them and of Sources in Prometheus text format.
// Create it with New. All its state is in atomics (VictoriaMetrics counters
// and the shards) created by New and never replaced, so every method is
// safe for concurrent use. A nil *Metrics observes nothing.
type Metrics struct {
	// Set once by New; the counters they point to are atomic.
	set *vm.Set
	// What every request counts is kept per shard (Record.Shard, the
	// event loop), summed at scrape time: with one set shared by all
	// loops, each request's adds took the cache lines from the CPU of the
	// loop before it.
	shards      []shard
	tunDuration *histogram
	tunnels     *vm.Counter
	errors      map[string]*vm.Counter // by sluice-error detail; read-only after New
	errorsOther *vm.Counter
	denied      *vm.Counter
	authDenied  *vm.Counter
	rateDenied  *vm.Counter
	rateLimited *vm.Counter
}

// New creates every metric (so that a scrape shows each series from the
// start, at 0) and registers src to be read at scrape time.
func New(src Sources) *Metrics {
	s := vm.NewSet()
	m := &Metrics{
		set:         s,
		shards:      make([]shard, numShards),
		tunDuration: newHistogram("sluice_tunnel_duration_seconds", tunnelBuckets),
		tunnels:     s.NewCounter("sluice_tunnels_closed_total"),
		errors:      make(map[string]*vm.Counter, len(knownErrorDetails)),
		errorsOther: s.NewCounter(`sluice_errors_total{detail="other"}`),
		denied:      s.NewCounter(`sluice_policy_denials_total{reason="denied"}`),
		authDenied:  s.NewCounter(`sluice_policy_denials_total{reason="auth"}`),
		rateDenied:  s.NewCounter(`sluice_policy_denials_total{reason="rate"}`),
		rateLimited: s.NewCounter("sluice_rate_limit_rejections_total"),
	}
	for _, d := range knownErrorDetails {
		if _, dup := m.errors[d]; !dup && d != "other" {
			m.errors[d] = s.NewCounter(`sluice_errors_total{detail="` + escapeLabelValue(d) + `"}`)
		}
	}
	s.RegisterMetricsWriter(m.writeShards)
	s.RegisterMetricsWriter(m.tunDuration.writePrometheus)
	s.RegisterMetricsWriter(src.write)
	return m
}

// Observe counts r. It allocates nothing and takes no lock; what every
// request counts is in r.Shard's own cache lines.
func (m *Metrics) Observe(r *proxy.Record) {
	if m == nil {
		return
	}
	sh := &m.shards[uint(r.Shard)%numShards]
	sh.requests[methodIndex(r.Method)][classIndex(r.Status)].Add(1)
	sh.bytesIn.Add(uint64(max(r.BytesIn, 0)))
	sh.bytesOut.Add(uint64(max(r.BytesOut, 0)))
	if r.Tunnel {
		m.tunnels.Inc()
		m.tunDuration.observe(r.Duration)
	} else {
		sh.duration.observe(requestBounds, r.Duration)
	}
	if r.Error == "" {
		return // an origin's own 403 or 429 is not a denial
	}
	c, ok := m.errors[r.Error] // a string key: no allocation
	if !ok {
		c = m.errorsOther
	}
	c.Inc()
	switch r.Status {
	case 403:
		m.denied.Inc()
	case 407:
		m.authDenied.Inc()
	case 429:
		m.rateDenied.Inc()
		m.rateLimited.Inc()
	}
}

// WritePrometheus writes every metric in Prometheus text format to w: the
// ones Observe keeps, the ones read from Sources, and the Go runtime and
// process metrics, each family after its # HELP and # TYPE lines (see
// families). It writes to w once.
func (m *Metrics) WritePrometheus(w io.Writer) {
	var raw bytes.Buffer
	m.set.WritePrometheus(&raw)
	vm.WriteProcessMetrics(&raw)
	writeFamilies(w, raw.Bytes())
}

// Set returns the metrics.Set holding the counters, for adding metrics of
// other components to the same scrape. Their families should be added to
// families, or they are written with undocumentedHelp.
func (m *Metrics) Set() *vm.Set { return m.set }

// methodIndex maps a request method to its row of requests. The switch on
// string(method) does not allocate.
func methodIndex(method []byte) int {
	switch string(method) {
	case "GET":
		return 0
	case "HEAD":
		return 1
	case "POST":
		return 2
	case "PUT":
		return 3
	case "DELETE":
		return 4
	case "CONNECT":
		return 5
	case "OPTIONS":
		return 6
	case "PATCH":
		return 7
	}
	return methodOther
}

// classIndex maps a status code to its column of requests: 1xx..5xx, or
// none for 0 (nothing sent) and anything outside 100-599.
func classIndex(status int) int {
	if status < 100 || status > 599 {
		return classNone
	}
	return status/100 - 1
}

// write writes the metrics read from src at scrape time: each source is
// called once per scrape, so the values of one source are one snapshot.
func (src Sources) write(w io.Writer) {
	if src.Conns != nil {
		client, upstream := src.Conns()
		vm.WriteGaugeUint64(w, "sluice_client_connections", nonNeg(client))
		vm.WriteGaugeUint64(w, "sluice_upstream_connections", nonNeg(upstream))
	}
	if src.Counters != nil {
		c := src.Counters()
		vm.WriteCounterUint64(w, "sluice_pool_hits_total", nonNeg(c.PoolHits))
		vm.WriteCounterUint64(w, "sluice_pool_misses_total", nonNeg(c.PoolMisses))
		vm.WriteCounterUint64(w, "sluice_upstream_dials_total", nonNeg(c.Dials))
		vm.WriteCounterUint64(w, "sluice_upstream_dial_errors_total", nonNeg(c.DialErrors))
		vm.WriteCounterUint64(w, "sluice_upstream_tls_handshakes_total", nonNeg(c.TLSHandshakes))
		vm.WriteCounterUint64(w, "sluice_upstream_tls_errors_total", nonNeg(c.TLSErrors))
		vm.WriteCounterUint64(w, "sluice_tunnels_started_total", nonNeg(c.TunnelsStarted))
		vm.WriteGaugeUint64(w, "sluice_tunnels_active", nonNeg(c.TunnelsActive))
		vm.WriteCounterUint64(w, "sluice_streams_started_total", nonNeg(c.StreamsStarted))
		vm.WriteCounterUint64(w, "sluice_accept_errors_total", nonNeg(c.AcceptErrors))
		vm.WriteCounterUint64(w, "sluice_connections_refused_total", nonNeg(c.ConnsRefused))
		vm.WriteGaugeUint64(w, "sluice_fds_used", nonNeg(c.FDsUsed))
		vm.WriteGaugeUint64(w, "sluice_fds_budget", nonNeg(c.FDsBudget))
		vm.WriteCounterUint64(w, "sluice_fds_refused_total", nonNeg(c.FDsRefused))
	}
	if src.DNS != nil {
		st := src.DNS()
		const p = "sluice_dns_cache_"
		vm.WriteCounterUint64(w, p+"dns_query_attempt_total", st.QueryAttempt)
		vm.WriteCounterUint64(w, p+"dns_query_success_total", st.QuerySuccess)
		vm.WriteCounterUint64(w, p+"dns_query_failure_total", st.QueryFailure)
		vm.WriteCounterUint64(w, p+"dns_query_timeout_total", st.QueryTimeout)
		vm.WriteCounterUint64(w, p+"host_added_total", st.HostAdded)
		vm.WriteCounterUint64(w, p+"host_removed_total", st.HostRemoved)
		vm.WriteCounterUint64(w, p+"host_address_changed_total", st.HostAddressChanged)
		vm.WriteCounterUint64(w, p+"host_overflow_total", st.HostOverflow)
		vm.WriteCounterUint64(w, p+"dns_rq_pending_overflow_total", st.PendingOverflow)
		vm.WriteGaugeUint64(w, p+"num_hosts", nonNeg(st.NumHosts))
		vm.WriteCounterUint64(w, p+"negative_evicted_total", st.NegativeEvicted)
		vm.WriteGaugeUint64(w, p+"num_negative", nonNeg(st.NumNegative))
		vm.WriteCounterUint64(w, p+"cache_file_loaded_total", st.CacheFileLoaded)
		vm.WriteCounterUint64(w, p+"cache_file_writes_total", st.CacheFileWrites)
		vm.WriteCounterUint64(w, p+"cache_file_errors_total", st.CacheFileErrors)
		vm.WriteGaugeUint64(w, p+"pending_requests", nonNeg(st.Pending))
	}
	if src.Reloads != nil {
		ok, failed := src.Reloads()
		vm.WriteCounterUint64(w, `sluice_config_reloads_total{result="success"}`, ok)
		vm.WriteCounterUint64(w, `sluice_config_reloads_total{result="failure"}`, failed)
	}
	if src.AccessLogDrops != nil {
		vm.WriteCounterUint64(w, "sluice_access_log_dropped_total", src.AccessLogDrops())
	}
	if src.Cache != nil {
		st := src.Cache()
		vm.WriteCounterUint64(w, "sluice_cache_lookup_hits_total", nonNeg(st.Hits))
		vm.WriteCounterUint64(w, "sluice_cache_lookup_misses_total", nonNeg(st.Misses))
		vm.WriteCounterUint64(w, "sluice_cache_stores_total", nonNeg(st.Stores))
		vm.WriteCounterUint64(w, "sluice_cache_too_big_total", nonNeg(st.TooBig))
		vm.WriteCounterUint64(w, "sluice_cache_deletes_total", nonNeg(st.Deletes))
		vm.WriteCounterUint64(w, "sluice_cache_collisions_total", st.Collisions)
		vm.WriteGaugeUint64(w, "sluice_cache_bytes", st.Bytes)
		vm.WriteGaugeUint64(w, "sluice_cache_max_bytes", st.MaxBytes)
		vm.WriteGaugeUint64(w, "sluice_cache_entries", st.Entries)
		vm.WriteGaugeUint64(w, "sluice_cache_hot_entries", uint64(max(st.HotEntries, 0)))
		vm.WriteGaugeUint64(w, "sluice_cache_hot_bytes", uint64(max(st.HotBytes, 0)))
		vm.WriteCounterUint64(w, "sluice_cache_collapsed_leaders_total", nonNeg(st.Flights.Led))
		vm.WriteCounterUint64(w, "sluice_cache_collapsed_waits_total", nonNeg(st.Flights.Waited))
		vm.WriteCounterUint64(w, "sluice_cache_collapsed_passes_total", nonNeg(st.Flights.Passed))
	}
	if src.RateLimitStore != nil {
		if st, ok := src.RateLimitStore(); ok {
			up := uint64(0)
			if st.Up {
				up = 1
			}
			vm.WriteGaugeUint64(w, "sluice_rate_limit_store_up", up)
			vm.WriteCounterUint64(w, "sluice_rate_limit_store_calls_total", st.Calls)
			vm.WriteCounterUint64(w, "sluice_rate_limit_store_errors_total", st.Errors)
			vm.WriteCounterUint64(w, "sluice_rate_limit_store_fallbacks_total", st.Fallbacks)
		}
	}
}

func nonNeg(v int64) uint64 { return uint64(max(v, 0)) }

// escapeLabelValue escapes a label value for the text format: backslash,
// double quote and newline.
func escapeLabelValue(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}
