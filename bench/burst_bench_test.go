package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sluiceproxy/sluice/bench/loadgen"
)

var burstN = flagInt("burst", 500, "new client connections per burst in BenchmarkConnectBurst")

// BenchmarkConnectBurst: while -conns keep-alive clients load the proxy,
// -burst new clients connect at once and send one request each; one burst
// per iteration. It reports the new clients' time from dial to the end of
// their first response (p50, p99, max): how fast the proxy takes in a
// burst of connections, the first second of a wrk run with 1000
// connections. A proxy that enrolls its accepted connections on its event
// loops one at a time per accept loop keeps the last of a burst waiting
// for hundreds of milliseconds, while the loops are busy.
func BenchmarkConnectBurst(b *testing.B) {
	eachEngine(b, func(b *testing.B, name string) {
		f := newFixture(b, true, onEngine(name))
		url := fmt.Sprintf("http://origin.test:%d/small", f.origin.Port())
		ctx, cancel := context.WithCancel(context.Background())
		bg := make(chan error, 1)
		go func() {
			_, err := loadgen.Run(ctx, loadgen.Config{Target: f.proxy, URL: url, Proxy: true,
				Connections: *conns, Timeout: 10 * time.Second})
			bg <- err
		}()
		time.Sleep(300 * time.Millisecond) // the load's connections are in
		var lat []time.Duration
		b.ResetTimer()
		for range b.N {
			got, err := burst(f.proxy, url, *burstN)
			if err != nil {
				b.Fatal(err)
			}
			lat = append(lat, got...)
		}
		b.StopTimer()
		cancel()
		if err := <-bg; err != nil && ctx.Err() == nil {
			b.Fatal(err)
		}
		slices.Sort(lat)
		at := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Microseconds()) / 1000 }
		b.ReportMetric(at(0.5), "p50-ms")
		b.ReportMetric(at(0.99), "p99-ms")
		b.ReportMetric(at(1), "max-ms")
	})
}

// burst opens n client connections to proxy at once, sends a GET of url on
// each and returns each one's time from its dial to the end of its
// response.
func burst(proxy, url string, n int) ([]time.Duration, error) {
	lat := make([]time.Duration, n)
	errs := make(chan error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			t0 := time.Now()
			c, err := net.DialTimeout("tcp", proxy, 10*time.Second)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			_ = c.SetDeadline(t0.Add(10 * time.Second))
			if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: origin.test\r\n\r\n", url); err != nil {
				errs <- err
				return
			}
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				errs <- err
				return
			}
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err == nil && resp.StatusCode != 200 {
				err = fmt.Errorf("status %d", resp.StatusCode)
			}
			if err != nil {
				errs <- err
				return
			}
			lat[i] = time.Since(t0)
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	return lat, nil
}
