package metrics

import (
	"fmt"
	"io"
	"strconv"
	"sync/atomic"
	"time"
)

// Bucket upper bounds, in seconds, of the duration histograms (the +Inf
// bucket is implied).
var (
	// requestBuckets run from half a millisecond (a pooled request to a
	// near origin) to a minute.
	requestBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}
	// tunnelBuckets run from 10ms (a refused or immediately closed tunnel)
	// to six hours.
	tunnelBuckets = []float64{0.01, 0.1, 1, 10, 60, 300, 1800, 3600, 21600}
)

// histogram is a Prometheus histogram of durations with fixed buckets,
// written with cumulative `le` buckets as Prometheus' histogram_quantile
// expects. (VictoriaMetrics' own Histogram writes `vmrange` buckets, which
// plain Prometheus cannot aggregate.) observe is a few atomic adds: safe for
// concurrent use, no lock, no allocation.
type histogram struct {
	// Set once by newHistogram.
	name    string  // the metric family, "sluice_request_duration_seconds"
	bounds  []int64 // upper bounds in nanoseconds, ascending
	labels  []string
	buckets []atomic.Uint64 // atomic; not cumulative; the last one is +Inf
	sumNs   atomic.Int64
}

func newHistogram(name string, boundsSec []float64) *histogram {
	return &histogram{name: name, bounds: boundsNs(boundsSec), labels: bucketLabels(boundsSec),
		buckets: make([]atomic.Uint64, len(boundsSec)+1)}
}

// boundsNs converts bucket bounds in seconds to nanoseconds.
func boundsNs(boundsSec []float64) []int64 {
	ns := make([]int64, len(boundsSec))
	for i, b := range boundsSec {
		ns[i] = int64(b * float64(time.Second))
	}
	return ns
}

// bucketLabels are the `le` labels of boundsSec, then "+Inf".
func bucketLabels(boundsSec []float64) []string {
	var l []string
	for _, b := range boundsSec {
		l = append(l, strconv.FormatFloat(b, 'g', -1, 64))
	}
	return append(l, "+Inf")
}

// bucketOf returns the bucket of d (0 if negative) among bounds, and d in
// nanoseconds.
func bucketOf(bounds []int64, d time.Duration) (int, int64) {
	ns := max(int64(d), 0)
	i := 0
	for i < len(bounds) && ns > bounds[i] { // le: a value on a bound belongs to it
		i++
	}
	return i, ns
}

// observe counts d (0 if negative).
func (h *histogram) observe(d time.Duration) {
	i, ns := bucketOf(h.bounds, d)
	h.buckets[i].Add(1)
	h.sumNs.Add(ns)
}

// writePrometheus writes the histogram's lines (see writeHistogram).
func (h *histogram) writePrometheus(w io.Writer) {
	counts := make([]uint64, len(h.buckets))
	for i := range h.buckets {
		counts[i] = h.buckets[i].Load()
	}
	writeHistogram(w, h.name, h.labels, counts, h.sumNs.Load())
}

// writeHistogram writes a histogram's _bucket, _sum and _count lines from
// its per-bucket counts (writeFamilies adds its # lines). The count is the
// +Inf bucket, so a scrape racing with observe stays self-consistent.
func writeHistogram(w io.Writer, name string, labels []string, counts []uint64, sumNs int64) {
	var cum uint64
	for i, c := range counts {
		cum += c
		fmt.Fprintf(w, "%s_bucket{le=%q} %d\n", name, labels[i], cum)
	}
	fmt.Fprintf(w, "%s_sum %s\n", name, strconv.FormatFloat(float64(sumNs)/1e9, 'g', -1, 64))
	fmt.Fprintf(w, "%s_count %d\n", name, cum)
}
