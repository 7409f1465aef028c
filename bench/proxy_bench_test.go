package bench

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluiceproxy/sluice/bench/internal/origin"
	"github.com/sluiceproxy/sluice/bench/loadgen"
	"github.com/sluiceproxy/sluice/engine"
	"github.com/sluiceproxy/sluice/resolver"
	"github.com/sluiceproxy/sluice/resolver/dnstest"
)

// flagInt is flag.Int, for flags declared beside the benchmarks that use them.
func flagInt(name string, v int, usage string) *int { return flag.Int(name, v, usage) }

var (
	conns    = flag.Int("conns", 50, "client connections in end-to-end benchmarks")
	pipeline = flag.Int("pipeline", 1, "requests in flight per connection in end-to-end benchmarks")
	loops    = flag.Int("loops", 0, "proxy event loops (0: GOMAXPROCS)")
)

// smallBody is the 100-byte body of /small (issue: 100-byte responses).
var smallBody = []byte(strings.Repeat("x", 99) + "\n")

// fixture is an origin, a DNS server naming it origin.test, and a proxy.
type fixture struct {
	origin *origin.Server
	proxy  *engine.Server
	res    *resolver.Resolver
}

func newFixture(b *testing.B, withProxy bool) *fixture {
	b.Helper()
	o, err := origin.Start(map[string][]byte{"/small": smallBody})
	if err != nil {
		b.Fatal(err)
	}
	f := &fixture{origin: o}
	b.Cleanup(o.Close)
	if !withProxy {
		return f
	}
	dns := dnstest.New(b)
	dns.Set("origin.test", 300, "127.0.0.1")
	res, err := resolver.New(resolver.Config{
		Nameservers: []string{dns.Addr()}, ResolvConf: resolver.Disabled, HostsFile: resolver.Disabled,
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := res.Start(); err != nil {
		b.Fatal(err)
	}
	srv, err := engine.NewServer(engine.Config{Listen: "127.0.0.1:0", Loops: *loops}, res)
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	f.proxy, f.res = srv, res
	b.Cleanup(func() {
		_ = srv.Stop()
		res.Stop()
	})
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
	res, err := loadgen.Run(context.Background(), cfg)
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
	b.ReportMetric(float64(res.Percentile(50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(res.Percentile(99).Microseconds())/1000, "p99-ms")
}

// BenchmarkProxySmall: 100-byte responses through sluice, keep-alive.
func BenchmarkProxySmall(b *testing.B) {
	f := newFixture(b, true)
	runLoad(b, loadgen.Config{
		Target: f.proxy.Addr().String(),
		URL:    fmt.Sprintf("http://origin.test:%d/small", f.origin.Port()),
		Proxy:  true,
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
