package metrics

import (
	"io"
	"sync/atomic"
	"time"

	vm "github.com/VictoriaMetrics/metrics"
)

// numShards is how many sets of per-request counters Metrics keeps: more
// than the event loops of any machine sluice's defaults give (one per
// CPU), since Record.Shard is taken modulo it; loops beyond it share.
const numShards = 64

// requestBucketCount is the number of request-duration buckets, +Inf
// included: len(requestBuckets)+1 (TestRequestBucketCount checks it).
const requestBucketCount = 17

var (
	requestBounds = boundsNs(requestBuckets)
	requestLabels = bucketLabels(requestBuckets)
)

// shard is what every request counts, for the requests of one event loop.
// Only that loop writes it, as a rule (a tunnel's goroutine writes its
// loop's shard once when it ends): its cache lines stay on the loop's CPU.
// Everything is atomic, for the scrape and for the exceptions.
type shard struct {
	requests [len(methodLabels)][len(classLabels)]atomic.Uint64
	bytesIn  atomic.Uint64
	bytesOut atomic.Uint64
	duration durationCounts
	// Two cache lines (the adjacent-line prefetcher fetches pairs) between
	// one shard's counters and the next one's.
	_ [128]byte
}

// durationCounts is a request-duration histogram's counts (see histogram).
type durationCounts struct {
	buckets [requestBucketCount]atomic.Uint64
	sumNs   atomic.Int64
}

func (c *durationCounts) observe(bounds []int64, d time.Duration) {
	i, ns := bucketOf(bounds, d)
	c.buckets[i].Add(1)
	c.sumNs.Add(ns)
}

// writeShards writes the sums over the shards: sluice_requests_total,
// sluice_received_bytes_total, sluice_sent_bytes_total and
// sluice_request_duration_seconds.
func (m *Metrics) writeShards(w io.Writer) {
	var (
		requests [len(methodLabels)][len(classLabels)]uint64
		in, out  uint64
		counts   [requestBucketCount]uint64
		sumNs    int64
	)
	for i := range m.shards {
		sh := &m.shards[i]
		for mi := range sh.requests {
			for ci := range sh.requests[mi] {
				requests[mi][ci] += sh.requests[mi][ci].Load()
			}
		}
		in += sh.bytesIn.Load()
		out += sh.bytesOut.Load()
		for b := range sh.duration.buckets {
			counts[b] += sh.duration.buckets[b].Load()
		}
		sumNs += sh.duration.sumNs.Load()
	}
	for mi, method := range methodLabels {
		for ci, class := range classLabels {
			vm.WriteCounterUint64(w, `sluice_requests_total{method="`+method+`",class="`+class+`"}`, requests[mi][ci])
		}
	}
	vm.WriteCounterUint64(w, "sluice_received_bytes_total", in)
	vm.WriteCounterUint64(w, "sluice_sent_bytes_total", out)
	writeHistogram(w, "sluice_request_duration_seconds", requestLabels, counts[:], sumNs)
}
