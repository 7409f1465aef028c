package metrics

import (
	"bytes"
	"strings"
)

// family is one metric family of the scrape: its HELP text and TYPE, which
// WritePrometheus writes once before the family's samples.
type family struct {
	name string // as exposed
	typ  string // counter, gauge, histogram or summary
	help string // one sentence; no backslash or newline (they would need escaping)
	// src is the name the samples are written under, when it is not name:
	// a VictoriaMetrics name that Prometheus' conventions reject, renamed.
	src string
	// countFromInf marks a histogram written with _bucket lines only (the
	// Go runtime's, which keep no sum): WritePrometheus adds the _count,
	// which is by definition the +Inf bucket. Such a family has no _sum.
	countFromInf bool
}

// families are every metric family of the scrape, in no particular order
// (a scrape writes them in the order their first samples are written).
// The sluice_ ones are written by this package; the go_ and process_ ones by
// VictoriaMetrics' WriteProcessMetrics, which names them and types them but
// has no help text for them. TestScrapeFamilies checks that a scrape has
// exactly these, and TestPromtool that promtool accepts them.
var families = []family{
	// Per Record (Metrics.Observe).
	{name: "sluice_requests_total", typ: "counter", help: "Requests and tunnels handled, by method (GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, PATCH or other) and by status class (1xx to 5xx, or none when no status was sent)."},
	{name: "sluice_request_duration_seconds", typ: "histogram", help: "Time from a complete request head to the end of its response, in seconds; tunnels are not counted here."},
	{name: "sluice_tunnel_duration_seconds", typ: "histogram", help: "Lifetime of CONNECT and Upgrade tunnels, in seconds."},
	{name: "sluice_received_bytes_total", typ: "counter", help: "Bytes received from clients, heads, bodies and tunnel bytes (the access log's bytes_in)."},
	{name: "sluice_sent_bytes_total", typ: "counter", help: "Bytes sent to clients, heads, bodies and tunnel bytes (the access log's bytes_out)."},
	{name: "sluice_tunnels_closed_total", typ: "counter", help: "CONNECT and Upgrade tunnels that have ended."},
	{name: "sluice_errors_total", typ: "counter", help: "Requests answered or ended by sluice with an error, by the access log's error detail; details unknown to this build count as other."},
	{name: "sluice_policy_denials_total", typ: "counter", help: "Requests refused by sluice's own policy, by reason: denied (403), auth (407) or rate (429)."},
	{name: "sluice_rate_limit_rejections_total", typ: "counter", help: "Requests refused by sluice's rate limiter with a 429."},

	// Read from Sources at scrape time.
	{name: "sluice_client_connections", typ: "gauge", help: "Client connections open now."},
	{name: "sluice_upstream_connections", typ: "gauge", help: "Upstream connections open now, busy or idle."},
	{name: "sluice_pool_hits_total", typ: "counter", help: "Requests that took an idle upstream connection from the pool."},
	{name: "sluice_pool_misses_total", typ: "counter", help: "Requests that found no idle upstream connection in the pool."},
	{name: "sluice_upstream_dials_total", typ: "counter", help: "Upstream connections dialed."},
	{name: "sluice_upstream_dial_errors_total", typ: "counter", help: "Upstream dials that failed."},
	{name: "sluice_upstream_tls_handshakes_total", typ: "counter", help: "TLS origination: handshakes with origins that succeeded (full or resumed)."},
	{name: "sluice_upstream_tls_errors_total", typ: "counter", help: "TLS origination: handshakes with origins that failed (certificate not verified, alert, timeout); each answered 502 or 504."},
	{name: "sluice_tunnels_started_total", typ: "counter", help: "CONNECT and Upgrade tunnels opened."},
	{name: "sluice_tunnels_active", typ: "gauge", help: "CONNECT and Upgrade tunnels open now."},
	{name: "sluice_streams_started_total", typ: "counter", help: "Exchanges switched to stream mode because of a large body."},
	{name: "sluice_accept_errors_total", typ: "counter", help: "Failed accept calls on the proxy listener (EMFILE and the like), each followed by a back-off."},
	{name: "sluice_connections_refused_total", typ: "counter", help: "Client connections answered 503 because the connection cap or the file descriptor budget was full."},
	{name: "sluice_fds_used", typ: "gauge", help: "File descriptors counted in the budget now."},
	{name: "sluice_fds_budget", typ: "gauge", help: "File descriptors the engine may use: the budget."},
	{name: "sluice_fds_refused_total", typ: "counter", help: "File descriptors refused by the budget."},
	{name: "sluice_access_log_dropped_total", typ: "counter", help: "Access log lines dropped because the log's queue was full."},
	{name: "sluice_rate_limit_store_up", typ: "gauge", help: "Whether the store of the shared rate limits (policy.rate_limits.store) answers: 1, or 0 while it is down and on_store_error decides."},
	{name: "sluice_rate_limit_store_calls_total", typ: "counter", help: "Calls to the rate-limit store: token leases, each for a batch of buckets, and pings while it is down."},
	{name: "sluice_rate_limit_store_errors_total", typ: "counter", help: "Calls to the rate-limit store that failed: timeouts (policy.rate_limits.store_timeout), connection errors, error replies."},
	{name: "sluice_rate_limit_store_fallbacks_total", typ: "counter", help: "Requests decided by policy.rate_limits.on_store_error because the rate-limit store was down."},
	{name: "sluice_config_reloads_total", typ: "counter", help: "Configuration reloads (SIGHUP, POST /reload) by result: success, or failure (the configuration in force was kept)."},

	// The response cache's store (cache.max_bytes; absent when off).
	{name: "sluice_cache_lookup_hits_total", typ: "counter", help: "Store lookups that found an entry (served, or revalidated if stale)."},
	{name: "sluice_cache_lookup_misses_total", typ: "counter", help: "Store lookups that found no entry."},
	{name: "sluice_cache_stores_total", typ: "counter", help: "Responses stored."},
	{name: "sluice_cache_too_big_total", typ: "counter", help: "Responses not stored because they exceeded cache.max_object_bytes."},
	{name: "sluice_cache_deletes_total", typ: "counter", help: "Entries deleted: invalidated by an unsafe method, or corrupt."},
	{name: "sluice_cache_collisions_total", typ: "counter", help: "Entries lost to a hash collision in the store (fastcache)."},
	{name: "sluice_cache_bytes", typ: "gauge", help: "Bytes the store holds now (fastcache's chunks in use)."},
	{name: "sluice_cache_max_bytes", typ: "gauge", help: "The store's size: cache.max_bytes rounded up to whole chunks."},
	{name: "sluice_cache_entries", typ: "gauge", help: "Entries in the store, each 64 KiB piece of a big one counted."},
	{name: "sluice_cache_hot_entries", typ: "gauge", help: "Big entries also kept whole in memory, served without a copy out of the store."},
	{name: "sluice_cache_hot_bytes", typ: "gauge", help: "Bytes of the big entries kept whole (at most an eighth of cache.max_bytes)."},
	{name: "sluice_cache_collapsed_leaders_total", typ: "counter", help: "Misses that went to the origin for every concurrent miss of their URL (collapsed forwarding)."},
	{name: "sluice_cache_collapsed_waits_total", typ: "counter", help: "Misses that waited for a concurrent miss of their URL instead of going to the origin."},
	{name: "sluice_cache_collapsed_passes_total", typ: "counter", help: "Misses that went to the origin without waiting: their URL's last response could not be stored (hit-for-miss)."},

	// The DNS cache: Envoy's dns_cache.<name>.* statistics, with the
	// sluice_dns_cache_ prefix and, for counters, the _total suffix.
	{name: "sluice_dns_cache_dns_query_attempt_total", typ: "counter", help: "Host resolutions started, each covering every query it needs (Envoy dns_query_attempt)."},
	{name: "sluice_dns_cache_dns_query_success_total", typ: "counter", help: "Host resolutions that produced addresses (Envoy dns_query_success)."},
	{name: "sluice_dns_cache_dns_query_failure_total", typ: "counter", help: "Host resolutions that failed, timeouts and failed refreshes included (Envoy dns_query_failure)."},
	{name: "sluice_dns_cache_dns_query_timeout_total", typ: "counter", help: "Host resolutions that failed by timing out (Envoy dns_query_timeout)."},
	{name: "sluice_dns_cache_host_added_total", typ: "counter", help: "Hosts added to the DNS cache (Envoy host_added)."},
	{name: "sluice_dns_cache_host_removed_total", typ: "counter", help: "Hosts evicted from the DNS cache (Envoy host_removed)."},
	{name: "sluice_dns_cache_host_address_changed_total", typ: "counter", help: "Refreshes whose addresses differed from the previous good answer (Envoy host_address_changed)."},
	{name: "sluice_dns_cache_host_overflow_total", typ: "counter", help: "New hosts refused because the DNS cache was full (Envoy host_overflow)."},
	{name: "sluice_dns_cache_dns_rq_pending_overflow_total", typ: "counter", help: "Resolutions refused because too many were pending (Envoy dns_rq_pending_overflow)."},
	{name: "sluice_dns_cache_negative_evicted_total", typ: "counter", help: "Negatively cached hosts evicted early, or failed resolutions not cached, to respect the cache's limits."},
	{name: "sluice_dns_cache_num_hosts", typ: "gauge", help: "Hosts in the DNS cache now (Envoy num_hosts)."},
	{name: "sluice_dns_cache_num_negative", typ: "gauge", help: "Hosts in the DNS cache whose answer is a cached error now."},
	{name: "sluice_dns_cache_cache_file_loaded_total", typ: "counter", help: "Hosts loaded from the resolver's cache file at start (served stale, refreshed on first use)."},
	{name: "sluice_dns_cache_cache_file_writes_total", typ: "counter", help: "Successful writes of the resolver's cache file."},
	{name: "sluice_dns_cache_cache_file_errors_total", typ: "counter", help: "Failed writes of the resolver's cache file, and a file ignored at start."},
	{name: "sluice_dns_cache_pending_requests", typ: "gauge", help: "Resolve callbacks waiting for an answer now."},

	// Go runtime, from runtime/metrics.
	{name: "go_sched_latencies_seconds", typ: "histogram", countFromInf: true, help: "Time goroutines spent runnable before running, in seconds; longer than 1s counts in +Inf only (runtime/metrics /sched/latencies:seconds)."},
	{name: "go_gc_pauses_seconds", typ: "histogram", countFromInf: true, help: "Stop-the-world pauses of the garbage collector, in seconds; longer than 1s counts in +Inf only (runtime/metrics /gc/pauses:seconds)."},
	{name: "go_mutex_wait_seconds_total", typ: "counter", help: "Time goroutines spent blocked on a sync.Mutex, sync.RWMutex or runtime lock, in seconds (approximate)."},
	{name: "go_gc_mark_assist_cpu_seconds_total", typ: "counter", help: "CPU time goroutines spent helping the garbage collector mark, in seconds (estimate)."},
	{name: "go_gc_cpu_seconds_total", typ: "counter", help: "CPU time spent on garbage collection, in seconds (estimate)."},
	{name: "go_scavenge_cpu_seconds_total", typ: "counter", help: "CPU time spent returning unused memory to the OS, in seconds (estimate)."},
	{name: "go_memlimit_bytes", typ: "gauge", help: "The Go runtime's soft memory limit (GOMEMLIMIT), in bytes."},

	// Go runtime, from runtime.MemStats.
	{name: "go_memstats_alloc_bytes", typ: "gauge", help: "Bytes of allocated heap objects (MemStats.Alloc)."},
	{name: "go_memstats_alloc_bytes_total", typ: "counter", help: "Bytes allocated for heap objects since the process started (MemStats.TotalAlloc)."},
	{name: "go_memstats_buck_hash_sys_bytes", typ: "gauge", help: "Bytes of memory in profiling bucket hash tables (MemStats.BuckHashSys)."},
	{name: "go_memstats_frees_total", typ: "counter", help: "Heap objects freed (MemStats.Frees)."},
	{name: "go_memstats_gc_cpu_fraction", typ: "gauge", help: "Fraction of the available CPU time used by the garbage collector since the process started (MemStats.GCCPUFraction)."},
	{name: "go_memstats_gc_sys_bytes", typ: "gauge", help: "Bytes of memory in garbage collection metadata (MemStats.GCSys)."},
	{name: "go_memstats_heap_alloc_bytes", typ: "gauge", help: "Bytes of allocated heap objects (MemStats.HeapAlloc)."},
	{name: "go_memstats_heap_idle_bytes", typ: "gauge", help: "Bytes in idle heap spans (MemStats.HeapIdle)."},
	{name: "go_memstats_heap_inuse_bytes", typ: "gauge", help: "Bytes in in-use heap spans (MemStats.HeapInuse)."},
	{name: "go_memstats_heap_objects", typ: "gauge", help: "Allocated heap objects (MemStats.HeapObjects)."},
	{name: "go_memstats_heap_released_bytes", typ: "gauge", help: "Bytes of physical memory returned to the OS (MemStats.HeapReleased)."},
	{name: "go_memstats_heap_sys_bytes", typ: "gauge", help: "Bytes of heap memory obtained from the OS (MemStats.HeapSys)."},
	{name: "go_memstats_last_gc_time_seconds", typ: "gauge", help: "Time the last garbage collection finished, in seconds since the Unix epoch (MemStats.LastGC)."},
	{name: "go_memstats_lookups_total", typ: "counter", help: "Pointer lookups performed by the runtime (MemStats.Lookups)."},
	{name: "go_memstats_mallocs_total", typ: "counter", help: "Heap objects allocated (MemStats.Mallocs)."},
	{name: "go_memstats_mcache_inuse_bytes", typ: "gauge", help: "Bytes of allocated mcache structures (MemStats.MCacheInuse)."},
	{name: "go_memstats_mcache_sys_bytes", typ: "gauge", help: "Bytes of memory obtained from the OS for mcache structures (MemStats.MCacheSys)."},
	{name: "go_memstats_mspan_inuse_bytes", typ: "gauge", help: "Bytes of allocated mspan structures (MemStats.MSpanInuse)."},
	{name: "go_memstats_mspan_sys_bytes", typ: "gauge", help: "Bytes of memory obtained from the OS for mspan structures (MemStats.MSpanSys)."},
	{name: "go_memstats_next_gc_bytes", typ: "gauge", help: "Heap size at which the next garbage collection is due, in bytes (MemStats.NextGC)."},
	{name: "go_memstats_other_sys_bytes", typ: "gauge", help: "Bytes of memory in miscellaneous off-heap runtime allocations (MemStats.OtherSys)."},
	{name: "go_memstats_stack_inuse_bytes", typ: "gauge", help: "Bytes in goroutine stack spans (MemStats.StackInuse)."},
	{name: "go_memstats_stack_sys_bytes", typ: "gauge", help: "Bytes of stack memory obtained from the OS (MemStats.StackSys)."},
	{name: "go_memstats_sys_bytes", typ: "gauge", help: "Bytes of memory obtained from the OS by the Go runtime (MemStats.Sys)."},
	{name: "go_gc_duration_seconds", typ: "summary", help: "Stop-the-world pauses of the garbage collector, in seconds: quantiles over the last 256 pauses, sum and count over all."},
	{name: "go_gc_forced_total", src: "go_gc_forced_count", typ: "counter", help: "Garbage collections forced by calls to runtime.GC (MemStats.NumForcedGC)."},

	// Go runtime, other.
	{name: "go_cgo_calls_total", src: "go_cgo_calls_count", typ: "counter", help: "Cgo calls made by the process (runtime.NumCgoCall)."},
	{name: "go_cpus", src: "go_cpu_count", typ: "gauge", help: "Logical CPUs usable by the process (runtime.NumCPU)."},
	{name: "go_gomaxprocs", typ: "gauge", help: "OS threads that may run Go code at once (GOMAXPROCS)."},
	{name: "go_goroutines", typ: "gauge", help: "Goroutines that exist now."},
	{name: "go_threads", typ: "gauge", help: "OS threads created by the Go runtime."},
	{name: "go_info", typ: "gauge", help: "The Go version sluice was built with, in the version label; always 1."},
	{name: "go_info_ext", typ: "gauge", help: "The compiler, GOARCH, GOOS and GOROOT of the build, in labels; always 1."},

	// The process, from /proc/self (Linux; Windows has the cpu, memory
	// and start time ones and process_pagefaults_total).
	{name: "process_cpu_seconds_total", typ: "counter", help: "CPU time the process spent in user and kernel mode, in seconds."},
	{name: "process_cpu_seconds_user_total", typ: "counter", help: "CPU time the process spent in user mode, in seconds."},
	{name: "process_cpu_seconds_system_total", typ: "counter", help: "CPU time the process spent in kernel mode, in seconds."},
	{name: "process_major_pagefaults_total", typ: "counter", help: "Page faults of the process that needed a read from storage."},
	{name: "process_minor_pagefaults_total", typ: "counter", help: "Page faults of the process served without a read from storage."},
	{name: "process_pagefaults_total", typ: "counter", help: "Page faults of the process."},
	{name: "process_num_threads", typ: "gauge", help: "OS threads of the process."},
	{name: "process_start_time_seconds", typ: "gauge", help: "Time the process started, in seconds since the Unix epoch."},
	{name: "process_resident_memory_bytes", typ: "gauge", help: "Resident memory of the process, in bytes."},
	{name: "process_resident_memory_peak_bytes", typ: "gauge", help: "Peak resident memory of the process, in bytes (VmHWM)."},
	{name: "process_resident_memory_anon_bytes", typ: "gauge", help: "Resident anonymous memory of the process, in bytes (RssAnon)."},
	{name: "process_resident_memory_file_bytes", typ: "gauge", help: "Resident file-backed memory of the process, in bytes (RssFile)."},
	{name: "process_resident_memory_shared_bytes", typ: "gauge", help: "Resident shared memory of the process, in bytes (RssShmem)."},
	{name: "process_virtual_memory_bytes", typ: "gauge", help: "Virtual memory of the process, in bytes."},
	{name: "process_virtual_memory_peak_bytes", typ: "gauge", help: "Peak virtual memory of the process, in bytes (VmPeak)."},
	// VictoriaMetrics types these gauges; they only grow, so they are
	// counters here.
	{name: "process_io_read_bytes_total", typ: "counter", help: "Bytes the process read with read-like system calls, from any file or socket (rchar)."},
	{name: "process_io_written_bytes_total", typ: "counter", help: "Bytes the process wrote with write-like system calls, to any file or socket (wchar)."},
	{name: "process_io_read_syscalls_total", typ: "counter", help: "Read-like system calls made by the process (syscr)."},
	{name: "process_io_write_syscalls_total", typ: "counter", help: "Write-like system calls made by the process (syscw)."},
	{name: "process_io_storage_read_bytes_total", typ: "counter", help: "Bytes the process caused to be read from storage (read_bytes)."},
	{name: "process_io_storage_written_bytes_total", typ: "counter", help: "Bytes the process caused to be written to storage (write_bytes)."},
}

// familyBySrc indexes families by the name their samples are written under.
var familyBySrc = func() map[string]*family {
	m := make(map[string]*family, len(families))
	for i := range families {
		f := &families[i]
		if f.src == "" {
			f.src = f.name
		}
		m[f.src] = f
	}
	return m
}()

// undocumentedHelp is the HELP text of a family missing from families: a
// metric added to Metrics.Set by another component, or a new one of a newer
// VictoriaMetrics.
const undocumentedHelp = "Not documented by sluice."

// lookupFamily returns the family of a sample named name: the family of
// that name, or the histogram or summary whose _bucket, _sum or _count it
// is. It returns nil for a name of no known family. It does not allocate.
func lookupFamily(name []byte) *family {
	if f := familyBySrc[string(name)]; f != nil {
		return f
	}
	for _, suffix := range [...]string{"_bucket", "_sum", "_count"} {
		base, ok := bytes.CutSuffix(name, []byte(suffix))
		if !ok {
			continue
		}
		f := familyBySrc[string(base)]
		if f != nil && (f.typ == "histogram" || f.typ == "summary" && suffix != "_bucket") {
			return f
		}
	}
	return nil
}

// undocumentedFamily is the family of samples named name when lookupFamily
// knows none: a counter if the name says so, else untyped.
func undocumentedFamily(name string) *family {
	typ := "untyped"
	if strings.HasSuffix(name, "_total") {
		typ = "counter"
	}
	return &family{name: name, src: name, typ: typ, help: undocumentedHelp}
}
