package bench

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluiceproxy/sluice/accesslog"
	"github.com/sluiceproxy/sluice/bench/internal/origin"
	"github.com/sluiceproxy/sluice/bench/loadgen"
	"github.com/sluiceproxy/sluice/cache"
	"github.com/sluiceproxy/sluice/engine"
	"github.com/sluiceproxy/sluice/internal/testcert"
	"github.com/sluiceproxy/sluice/metrics"
	"github.com/sluiceproxy/sluice/proxy"
)

// flagInt is flag.Int, for flags declared beside the benchmarks that use them.
func flagInt(name string, v int, usage string) *int { return flag.Int(name, v, usage) }

var (
	conns    = flag.Int("conns", 50, "client connections in end-to-end benchmarks")
	pipeline = flag.Int("pipeline", 1, "requests in flight per connection in end-to-end benchmarks")
	loops    = flag.Int("loops", 0, "proxy event loops (0: GOMAXPROCS)")
	engines  = flag.String("engines", "gnet,netpoll", "engines the proxy benchmarks run on, each a sub-benchmark")
)

// eachEngine runs bench once per engine (-engines) as sub-benchmarks named
// after them, so one run compares the engines on the same machine state.
func eachEngine(b *testing.B, bench func(b *testing.B, engine string)) {
	for _, name := range strings.Split(*engines, ",") {
		b.Run(name, func(b *testing.B) { bench(b, name) })
	}
}

// onEngine is a startProxy option choosing the engine.
func onEngine(name string) func(*engine.Config) {
	return func(c *engine.Config) { c.Engine = name }
}

// smallBody is the 100-byte body of /small (issue: 100-byte responses).
var smallBody = []byte(strings.Repeat("x", 99) + "\n")

// fixture is an origin and, optionally, a proxy in front of it.
type fixture struct {
	origin *origin.Server
	proxy  string // the proxy's address, "" without one
}

func newFixture(b *testing.B, withProxy bool, opts ...func(*engine.Config)) *fixture {
	b.Helper()
	o, err := origin.Start(map[string][]byte{"/small": smallBody})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(o.Close)
	f := &fixture{origin: o}
	if withProxy {
		f.proxy = startProxy(b, opts...)
	}
	return f
}

// runLoad sends b.N requests with the load client and reports req/s and
// latency percentiles.
func runLoad(b *testing.B, cfg loadgen.Config) {
	b.Helper()
	cfg.Connections = *conns
	cfg.Pipeline = *pipeline
	// Warm up: connections, DNS cache, upstream pool.
	warm := cfg
	warm.Requests = int64(4 * cfg.Connections)
	if _, err := loadgen.Run(context.Background(), warm); err != nil {
		b.Fatal(err)
	}
	cfg.Requests = int64(b.N)
	cfg.Timeout = 10 * time.Second
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	res, err := loadgen.Run(context.Background(), cfg)
	cpu := processCPU() - cpu0
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	if res.Errors > 0 {
		b.Fatalf("%d errors (%+v), first: %v", res.Errors, res.ErrorsBy, res.FirstError)
	}
	if res.Status[200] != res.Requests {
		b.Fatalf("statuses %v", res.Status)
	}
	b.ReportMetric(res.ReqPerSec(), "req/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/req")
	b.ReportMetric(float64(res.Percentile(50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(res.Percentile(99).Microseconds())/1000, "p99-ms")
}

// processCPU is the CPU time (user and system) the process has used: the
// load client, the proxy and the origin together. Beside each other in one
// run, benchmarks with the same client compare the rest per request.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkProxySmall: 100-byte responses through sluice, keep-alive, on
// each engine.
func BenchmarkProxySmall(b *testing.B) {
	eachEngine(b, func(b *testing.B, name string) {
		f := newFixture(b, true, onEngine(name))
		runLoad(b, loadgen.Config{
			Target: f.proxy,
			URL:    fmt.Sprintf("http://origin.test:%d/small", f.origin.Port()),
			Proxy:  true,
		})
	})
}

// BenchmarkProxySmallTLS is BenchmarkProxySmall with TLS origination, to
// put beside it: the same client speaking plain HTTP to the proxy, the same
// 100-byte responses, from an origin that speaks TLS on its port, which the
// proxy verifies. The warm-up opens the pooled connections (a handshake
// each), so what is measured is the steady state: records encrypted and
// decrypted, and every byte crossing the bridge's socket pair. The process
// CPU includes the origin's side of TLS too.
func BenchmarkProxySmallTLS(b *testing.B) {
	eachEngine(b, func(b *testing.B, name string) {
		ca := testcert.NewCA(b)
		o, err := origin.StartTLS(map[string][]byte{"/small": smallBody},
			&tls.Config{Certificates: []tls.Certificate{ca.Leaf(b, "origin.test")}})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(o.Close)
		p := startProxy(b, onEngine(name), func(c *engine.Config) {
			c.TLSOrigination = proxy.TLSOrigination{Ports: []uint16{uint16(o.Port())}, RootCAs: ca.Pool()}
		})
		runLoad(b, loadgen.Config{
			Target: p,
			URL:    fmt.Sprintf("http://origin.test:%d/small", o.Port()),
			Proxy:  true,
		})
	})
}

// BenchmarkCacheHitSmall: 100-byte responses answered from sluice's
// response cache (after the warm-up stored it), to put beside
// BenchmarkProxySmall (every request a miss to the origin) on each engine.
func BenchmarkCacheHitSmall(b *testing.B) {
	eachEngine(b, func(b *testing.B, name string) {
		o, err := origin.Start(map[string][]byte{"/cache/small": smallBody})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(o.Close)
		proxy := startProxy(b, onEngine(name), func(c *engine.Config) { c.Cache = cache.NewStore(64<<20, 1<<20) })
		cfg := loadgen.Config{
			Target: proxy,
			URL:    fmt.Sprintf("http://origin.test:%d/cache/small", o.Port()),
			Proxy:  true,
		}
		// One request stores the entry; every later one is a hit, so the
		// origin accepts no more connections.
		first := cfg
		first.Connections, first.Requests, first.Timeout = 1, 1, 10*time.Second
		if _, err := loadgen.Run(context.Background(), first); err != nil {
			b.Fatal(err)
		}
		accepts := o.Accepts.Load()
		runLoad(b, cfg)
		if n := o.Accepts.Load() - accepts; n > 0 {
			b.Fatalf("origin accepted %d more connections: the cache did not answer", n)
		}
	})
}

// BenchmarkDirectSmall: the same client straight to the origin (the baseline).
func BenchmarkDirectSmall(b *testing.B) {
	f := newFixture(b, false)
	runLoad(b, loadgen.Config{
		Target: f.origin.Addr(),
		URL:    fmt.Sprintf("http://origin.test:%d/small", f.origin.Port()),
	})
}

// BenchmarkProxySmallObserved is BenchmarkProxySmall with the access log (to
// a file) and the metrics on, to put beside it: the cost of observability
// per request.
func BenchmarkProxySmallObserved(b *testing.B) {
	o, err := origin.Start(map[string][]byte{"/small": smallBody})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(o.Close)
	alog, err := accesslog.Open(filepath.Join(b.TempDir(), "access.log"), accesslog.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		alog.Close()
		if d := alog.Drops(); d > 0 {
			b.Logf("access log dropped %d lines", d)
		}
	})
	met := metrics.New(metrics.Sources{AccessLogDrops: alog.Drops})
	proxy := startProxy(b, func(c *engine.Config) { c.Observer = metrics.NewMulti(alog, met) })
	runLoad(b, loadgen.Config{
		Target: proxy,
		URL:    fmt.Sprintf("http://origin.test:%d/small", o.Port()),
		Proxy:  true,
	})
}
