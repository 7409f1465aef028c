// Package metrics keeps sluice's Prometheus metrics and writes them in the
// text exposition format for the admin server's /metrics.
//
// It is built on github.com/VictoriaMetrics/metrics, with a *metrics.Set of
// its own per Metrics (not the package's global set), so that tests and
// several proxies in one process do not mix their counts.
//
// Metrics is an engine.Observer: the engine hands it a Record per request and
// tunnel, on an event loop, and Observe updates counters that were all
// created by New (every method x status class, every known error detail),
// so it is a few atomic adds and one map lookup: it never allocates. The
// rest is read at scrape time from the Sources given to New.
//
// # Metric families
//
// Every family the scrape can have, sluice's and the Go runtime and process
// ones, is in the families table (families.go) with its type and HELP
// text, which is where to read what each counts. In short:
//
//   - per Record (Observe): sluice_requests_total{method,class},
//     sluice_errors_total{detail}, sluice_policy_denials_total{reason},
//     sluice_rate_limit_rejections_total, sluice_received_bytes_total,
//     sluice_sent_bytes_total, sluice_tunnels_closed_total, and the
//     histograms sluice_request_duration_seconds and
//     sluice_tunnel_duration_seconds (cumulative le buckets);
//   - at scrape time, from Sources: the engine's connections, pool, dial,
//     tunnel, stream, accept and fd counters and gauges, the access log's
//     drops, the shared rate limits' store (sluice_rate_limit_store_up and
//     its calls, errors and fallbacks), and the DNS cache's, which are Envoy's dns_cache.<name>.*
//     statistics with the sluice_dns_cache_ prefix and, for counters, the
//     _total suffix that Prometheus wants (dns_query_attempt is
//     sluice_dns_cache_dns_query_attempt_total);
//   - the Go runtime (go_*) and process (process_*) metrics of
//     VictoriaMetrics' WriteProcessMetrics.
//
// # HELP and TYPE lines
//
// WritePrometheus writes the text format as promtool check metrics wants
// it: each family once, its samples together, after one # HELP and one
// # TYPE line. VictoriaMetrics cannot write them so (its
// ExposeMetadata(true) gives every family an empty HELP, and types the
// process_io_* counters as gauges), so WritePrometheus renders the scrape,
// drops VictoriaMetrics' # lines whatever that process-wide switch says,
// and writes the families again from the table. It also renames what
// Prometheus' naming rules reject:
//
//	go_cgo_calls_count  -> go_cgo_calls_total  (a counter)
//	go_gc_forced_count  -> go_gc_forced_total  (a counter)
//	go_cpu_count        -> go_cpus             (a gauge; _count is a histogram's)
//
// and adds the _count of the Go runtime's histograms go_sched_latencies_seconds
// and go_gc_pauses_seconds, which VictoriaMetrics writes as buckets only (the
// runtime keeps no sum, so they have no _sum). A metric of no family in
// the table (one added to Metrics.Set by another component) is written
// with the HELP "Not documented by sluice.": add it to the table.
package metrics
