package loadgen

import (
	"context"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkLoadgenDirect measures how many requests per second the load client
// gets through to a trivial in-process origin (100-byte responses), which bounds
// what it can measure of a proxy on the same machine. One op is one request.
// Beside it, BenchmarkNetHTTPClientDirect is the baseline: the same load from
// net/http's client.
func BenchmarkLoadgenDirect(b *testing.B) {
	for _, bc := range []struct {
		name         string
		conns, depth int
	}{
		{"c50", 50, 1},
		{"c50-pipeline8", 50, 8},
	} {
		b.Run(bc.name, func(b *testing.B) {
			o := &rawOrigin{response: okResponse}
			addr := o.start(b)
			b.ReportAllocs()
			b.ResetTimer()
			res, err := Run(context.Background(), Config{
				Target: addr, URL: "http://origin.test/", Connections: bc.conns, Pipeline: bc.depth, Requests: int64(b.N),
			})
			b.StopTimer()
			if err != nil {
				b.Fatal(err)
			}
			if res.Requests != int64(b.N) || res.Errors != 0 {
				b.Fatalf("%d responses, %d errors (%v) of %d", res.Requests, res.Errors, res.FirstError, b.N)
			}
			reportResult(b, res)
		})
	}
}

// BenchmarkNetHTTPClientDirect is the baseline for BenchmarkLoadgenDirect:
// 50 goroutines sharing a net/http client with 50 keep-alive connections.
func BenchmarkNetHTTPClientDirect(b *testing.B) {
	o := &rawOrigin{response: okResponse}
	addr := o.start(b)
	const conns = 50
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}}
	defer client.CloseIdleConnections()
	url := "http://" + addr + "/"
	var next, errs atomic.Int64
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for range conns {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				resp, err := client.Get(url)
				if err != nil {
					errs.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if errs.Load() != 0 {
		b.Fatalf("%d errors", errs.Load())
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
}

// reportResult reports a run's throughput and latency percentiles as custom
// benchmark metrics, in units benchstat groups by.
func reportResult(b *testing.B, res *Result) {
	b.ReportMetric(res.ReqPerSec(), "req/s")
	b.ReportMetric(float64(res.Percentile(50).Microseconds()), "p50-us")
	b.ReportMetric(float64(res.Percentile(99).Microseconds()), "p99-us")
}
