package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/sluiceproxy/sluice/bench/internal/origin"
	"github.com/sluiceproxy/sluice/bench/loadgen"
	"github.com/sluiceproxy/sluice/cache"
	"github.com/sluiceproxy/sluice/engine"
	"github.com/sluiceproxy/sluice/resolver"
	"github.com/sluiceproxy/sluice/resolver/dnstest"
)

var bigBody = func() []byte {
	b := make([]byte, 1<<20)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}()

// runBig sends b.N requests for /big and reports MB/s (b.SetBytes) and latency.
func runBig(b *testing.B, cfg loadgen.Config) {
	b.Helper()
	cfg.Connections = *bigConns
	warm := cfg
	warm.Requests = int64(2 * cfg.Connections)
	if _, err := loadgen.Run(context.Background(), warm); err != nil {
		b.Fatal(err)
	}
	cfg.Requests = int64(b.N)
	cfg.Timeout = 30 * time.Second
	b.SetBytes(int64(len(bigBody)))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	res, err := loadgen.Run(context.Background(), cfg)
	cpu := processCPU() - cpu0
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	if res.Errors > 0 || res.Status[200] != res.Requests {
		b.Fatalf("errors %d (first: %v), statuses %v", res.Errors, res.FirstError, res.Status)
	}
	b.ReportMetric(res.ReqPerSec(), "req/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/req")
	b.ReportMetric(float64(res.Percentile(99).Microseconds())/1000, "p99-ms")
}

var (
	bigConns   = flagInt("big-conns", 8, "client connections in the 1 MiB benchmarks")
	highWater  = flagInt("stream-high-water", 0, "engine StreamHighWater for the benchmarks (0: default)")
	streamThre = flagInt("stream-threshold", 0, "engine StreamThreshold for the benchmarks (0: default)")
	readBuf    = flagInt("read-buffer", 0, "engine ReadBuffer for the benchmarks (0: default)")
)

func bigFixture(b *testing.B, withProxy bool, opts ...func(*engine.Config)) (*origin.Server, string) {
	o, err := origin.Start(map[string][]byte{"/big": bigBody})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(o.Close)
	if !withProxy {
		return o, o.Addr()
	}
	return o, startProxy(b, opts...)
}

// The proxy of every end-to-end benchmark: startProxy below.

// startProxy starts sluice with a DNS server naming origin.test 127.0.0.1.
func startProxy(b *testing.B, opts ...func(*engine.Config)) string {
	b.Helper()
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
	cfg := engine.Config{Listen: "127.0.0.1:0", Loops: *loops,
		StreamHighWater: *highWater, StreamThreshold: *streamThre, ReadBuffer: *readBuf}
	for _, o := range opts {
		o(&cfg)
	}
	srv, err := engine.NewServer(cfg, res)
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = srv.Stop()
		res.Stop()
	})
	return srv.Addr().String()
}

// BenchmarkProxyBig: 1 MiB responses through sluice (MB/s from b.SetBytes),
// on each engine.
func BenchmarkProxyBig(b *testing.B) {
	eachEngine(b, func(b *testing.B, name string) {
		o, proxy := bigFixture(b, true, onEngine(name))
		runBig(b, loadgen.Config{Target: proxy, URL: fmt.Sprintf("http://origin.test:%d/big", o.Port()), Proxy: true})
	})
}

// BenchmarkCacheHitBig: the 1 MiB response answered from sluice's response
// cache, to put beside BenchmarkProxyBig (every request to the origin).
func BenchmarkCacheHitBig(b *testing.B) {
	eachEngine(b, func(b *testing.B, name string) {
		o, err := origin.Start(map[string][]byte{"/cache/big": bigBody})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(o.Close)
		proxy := startProxy(b, onEngine(name), func(c *engine.Config) { c.Cache = cache.NewStore(64<<20, 2<<20) })
		cfg := loadgen.Config{Target: proxy, URL: fmt.Sprintf("http://origin.test:%d/cache/big", o.Port()), Proxy: true}
		first := cfg
		first.Connections, first.Requests, first.Timeout = 1, 1, 10*time.Second
		if _, err := loadgen.Run(context.Background(), first); err != nil {
			b.Fatal(err)
		}
		accepts := o.Accepts.Load()
		runBig(b, cfg)
		if n := o.Accepts.Load() - accepts; n > 0 {
			b.Fatalf("origin accepted %d more connections: the cache did not answer", n)
		}
	})
}

// BenchmarkDirectBig: the same client straight to the origin.
func BenchmarkDirectBig(b *testing.B) {
	o, addr := bigFixture(b, false)
	runBig(b, loadgen.Config{Target: addr, URL: fmt.Sprintf("http://origin.test:%d/big", o.Port())})
}

// sink is a TCP server that discards what it reads and reports the total
// when the peer closes.
func sink(b *testing.B) (addr string, got <-chan int64) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	ch := make(chan int64, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		n, _ := io.Copy(io.Discard, c)
		c.Close()
		ch <- n
	}()
	return ln.Addr().String(), ch
}

// pump writes b.N chunks of 1 MiB to c, half-closes it and waits for the
// sink's total.
func pump(b *testing.B, c net.Conn, got <-chan int64) {
	b.SetBytes(int64(len(bigBody)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.Write(bigBody); err != nil {
			b.Fatal(err)
		}
	}
	c.(*net.TCPConn).CloseWrite()
	n := <-got
	b.StopTimer()
	if n != int64(b.N)*int64(len(bigBody)) {
		b.Fatalf("sink got %d bytes, want %d", n, int64(b.N)*int64(len(bigBody)))
	}
}

// BenchmarkConnectTunnel: bulk bytes through a CONNECT tunnel, on each
// engine.
func BenchmarkConnectTunnel(b *testing.B) {
	eachEngine(b, func(b *testing.B, name string) {
		addr, got := sink(b)
		_, port, _ := net.SplitHostPort(addr)
		proxy := startProxy(b, onEngine(name), func(c *engine.Config) { c.ConnectPortAllowed = func(uint16) bool { return true } })
		c, err := net.Dial("tcp", proxy)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "CONNECT origin.test:%s HTTP/1.1\r\nHost: origin.test:%s\r\n\r\n", port, port)
		resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: "CONNECT"})
		if err != nil || resp.StatusCode != 200 {
			b.Fatalf("CONNECT: %v %v", err, resp)
		}
		pump(b, c, got)
	})
}

// BenchmarkConnectTunnelDirect: the same bytes straight to the sink.
func BenchmarkConnectTunnelDirect(b *testing.B) {
	addr, got := sink(b)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	pump(b, c, got)
}
