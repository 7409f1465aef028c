package bench

import (
	"fmt"
	"net"
	"sync"
	"testing"

	"github.com/sluiceproxy/sluice/bench/loadgen"
)

// relay is the ceiling any proxy can reach in BenchmarkProxyBig's set-up:
// an L4 relay with nothing to parse, resolve or decide, that copies each
// direction through a 1 MiB buffer (the fastest of the relays measured for
// BENCHMARKS.md: io.Copy's splice(2), raw splice with 64 KiB and 1 MiB
// pipes, and 64 KiB buffers were all slower on loopback). The load client
// talks to it as if it were the origin.
func relay(b *testing.B, to string) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn // guarded by mu: closed at cleanup
	)
	b.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", to)
			if err != nil {
				c.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, c, u)
			mu.Unlock()
			wg.Add(2)
			go func() { defer wg.Done(); relayCopy(u, c) }()
			go func() { defer wg.Done(); relayCopy(c, u) }()
		}
	}()
	return ln.Addr().String()
}

// relayCopy copies src to dst until either fails, then closes both, which
// ends the other direction too.
func relayCopy(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 1<<20)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// BenchmarkRelayBig: BenchmarkProxyBig's load through the ideal L4 relay
// above instead of sluice, the ceiling for a proxy that is one more TCP hop
// on the same CPUs as the origin and the client.
func BenchmarkRelayBig(b *testing.B) {
	o, addr := bigFixture(b, false)
	runBig(b, loadgen.Config{Target: relay(b, addr), URL: fmt.Sprintf("http://origin.test:%d/big", o.Port())})
}
