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
// # Metric names
//
// Per Record (Observe):
//
//	sluice_requests_total{method,class}      requests and tunnels; method is GET, HEAD, POST,
//	                                         PUT, DELETE, CONNECT, OPTIONS, PATCH or other;
//	                                         class is 1xx..5xx, or none when no status was sent
//	sluice_request_duration_seconds          histogram (le buckets) of request durations, tunnels excluded
//	sluice_tunnel_duration_seconds           histogram of CONNECT and Upgrade tunnel lifetimes
//	sluice_received_bytes_total              bytes received from clients (access log bytes_in)
//	sluice_sent_bytes_total                  bytes sent to clients (access log bytes_out)
//	sluice_tunnels_closed_total              tunnels ended
//	sluice_errors_total{detail}              requests answered or ended by sluice with a
//	                                         sluice-error detail (the access log's error);
//	                                         details not known at build time count as "other"
//	sluice_policy_denials_total{reason}      sluice's own 403 (reason denied), 407 (auth) and
//	                                         429 (rate) answers
//	sluice_rate_limit_rejections_total       sluice's own 429 answers
//
// At scrape time, from Sources:
//
//	sluice_client_connections                open client connections (gauge)
//	sluice_upstream_connections              open upstream connections (gauge)
//	sluice_pool_hits_total                   upstream connections taken from the idle pool
//	sluice_pool_misses_total                 requests that found no idle upstream connection
//	sluice_upstream_dials_total              upstream connections dialed
//	sluice_upstream_dial_errors_total        dials that failed
//	sluice_tunnels_started_total             tunnels opened
//	sluice_tunnels_active                    tunnels open now (gauge)
//	sluice_streams_started_total             exchanges switched to stream mode (large bodies)
//	sluice_access_log_dropped_total          access log lines dropped on a full queue
//
// The DNS cache counters are Envoy's dns_cache.<name>.* statistics, with the
// sluice_dns_cache_ prefix and, for counters, the _total suffix that
// Prometheus wants:
//
//	sluice_dns_cache_dns_query_attempt_total       dns_query_attempt
//	sluice_dns_cache_dns_query_success_total       dns_query_success
//	sluice_dns_cache_dns_query_failure_total       dns_query_failure
//	sluice_dns_cache_dns_query_timeout_total       dns_query_timeout
//	sluice_dns_cache_host_added_total              host_added
//	sluice_dns_cache_host_removed_total            host_removed
//	sluice_dns_cache_host_address_changed_total    host_address_changed
//	sluice_dns_cache_host_overflow_total           host_overflow
//	sluice_dns_cache_dns_rq_pending_overflow_total dns_rq_pending_overflow
//	sluice_dns_cache_num_hosts                     num_hosts (gauge)
//	sluice_dns_cache_pending_requests              Resolve callbacks waiting now (gauge; not in Envoy)
//
// WritePrometheus also writes the Go runtime (go_*) and process (process_*)
// metrics of VictoriaMetrics' WriteProcessMetrics.
//
// # TYPE and HELP lines
//
// VictoriaMetrics writes # TYPE and # HELP lines only after the process-wide
// metrics.ExposeMetadata(true); this package follows that switch and does
// not flip it.
package metrics
