package loadgen

import (
	"context"
	"errors"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"
)

// checkClean fails the test unless res has n responses, all 200, no errors, and
// a latency for each.
func checkClean(t *testing.T, res *Result, n int64) {
	t.Helper()
	if res.Requests != n || res.Errors != 0 || res.Status[200] != n || res.Latency.TotalCount() != n {
		t.Fatalf("requests %d errors %d (%+v, first %v) status %v latencies %d; want %d clean",
			res.Requests, res.Errors, res.ErrorsBy, res.FirstError, res.Status, res.Latency.TotalCount(), n)
	}
}

func TestRunKeepAlive(t *testing.T) {
	addr, conns := startHTTPOrigin(t, nil)
	res, err := Run(context.Background(), Config{
		Target:      addr,
		URL:         "http://origin.test/small",
		Connections: 4,
		Requests:    500,
	})
	if err != nil {
		t.Fatal(err)
	}
	checkClean(t, res, 500)
	if res.ConnsOpened != 4 || conns.Load() != 4 {
		t.Errorf("connections opened: loadgen %d, origin saw %d; want 4", res.ConnsOpened, conns.Load())
	}
	if res.BytesRead < 500*100 {
		t.Errorf("BytesRead %d, want at least the bodies", res.BytesRead)
	}
	if res.ReqPerSec() <= 0 || res.Percentile(50) <= 0 || res.Max() < res.Percentile(99) {
		t.Errorf("req/s %v p50 %v p99 %v max %v", res.ReqPerSec(), res.Percentile(50), res.Percentile(99), res.Max())
	}
}

func TestRunPipelining(t *testing.T) {
	t.Run("raw", func(t *testing.T) {
		o := &rawOrigin{response: okResponse}
		addr := o.start(t)
		res, err := Run(context.Background(), Config{
			Target: addr, URL: "http://origin.test/", Connections: 2, Pipeline: 8, Requests: 800,
		})
		if err != nil {
			t.Fatal(err)
		}
		checkClean(t, res, 800)
		if res.ConnsOpened != 2 || o.accepted.Load() != 2 {
			t.Errorf("connections: opened %d, accepted %d; want 2", res.ConnsOpened, o.accepted.Load())
		}
		// Each batch is one write of 8 requests; on loopback the origin reads it
		// whole, but a split read is legal, so only require that batches arrive.
		if got := o.maxBatch.Load(); got < 2 || got > 8 {
			t.Errorf("origin read at most %d requests at once, want 2..8", got)
		}
	})
	t.Run("net/http", func(t *testing.T) {
		addr, conns := startHTTPOrigin(t, nil)
		res, err := Run(context.Background(), Config{
			Target: addr, URL: "http://origin.test/", Connections: 2, Pipeline: 8, Requests: 203,
		})
		if err != nil {
			t.Fatal(err)
		}
		checkClean(t, res, 203)
		if conns.Load() != 2 {
			t.Errorf("origin saw %d connections, want 2", conns.Load())
		}
	})
}

// TestRunFraming sends 24 requests at a raw origin for each way of delimiting
// a response, with and without pipelining, and checks every byte was read as
// part of a response and that connections were reopened exactly when the
// server closed them.
func TestRunFraming(t *testing.T) {
	const n = 24
	chunked := "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"5;ext=\"a\"\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"
	cases := []struct {
		name       string
		response   string
		closeAfter int // origin closes after this many, sending last then
		last       string
		perConn    bool // every response closes the connection
	}{
		{name: "length", response: string(okResponse)},
		{name: "chunked", response: chunked},
		{name: "bare-lf-head", response: "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n3\r\nabc\r\n0\r\n\r\n"},
		{name: "no-body-204", response: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"},
		{name: "interim-100", response: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"},
		{name: "close-delimited", closeAfter: 1, last: "HTTP/1.1 200 OK\r\n\r\nuntil close", perConn: true},
		{name: "connection-close", closeAfter: 1, last: "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", perConn: true},
		{name: "http10", closeAfter: 1, last: "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", perConn: true},
		{name: "close-every-3rd", response: string(okResponse), closeAfter: 3,
			last: "HTTP/1.1 200 OK\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"},
	}
	for _, tc := range cases {
		for _, depth := range []int{1, 4} {
			t.Run(tc.name+"/pipeline"+string(rune('0'+depth)), func(t *testing.T) {
				o := &rawOrigin{response: []byte(tc.response), last: []byte(tc.last), closeAfter: tc.closeAfter}
				addr := o.start(t)
				conns := 2
				if tc.closeAfter > 0 {
					// One worker, so that every connection serves exactly
					// closeAfter and none is opened only to find no work left.
					conns = 1
				}
				res, err := Run(context.Background(), Config{
					Target: addr, URL: "http://origin.test/", Connections: conns, Pipeline: depth, Requests: n, Timeout: 3 * time.Second,
				})
				if err != nil {
					t.Fatal(err)
				}
				checkClean(t, res, n)
				var wantBytes, wantConns int64
				switch {
				case tc.perConn:
					wantBytes, wantConns = n*int64(len(tc.last)), n
				case tc.closeAfter > 0:
					// Per connection: closeAfter-1 ordinary responses and one last.
					wantConns = n / int64(tc.closeAfter)
					wantBytes = wantConns * int64((tc.closeAfter-1)*len(tc.response)+len(tc.last))
				default:
					wantBytes, wantConns = n*int64(len(tc.response)), int64(conns)
				}
				if res.BytesRead != wantBytes {
					t.Errorf("BytesRead %d, want %d", res.BytesRead, wantBytes)
				}
				// A connection the kernel completed may still wait in the
				// listen backlog when Run returns: give Accept a moment.
				for deadline := time.Now().Add(2 * time.Second); o.accepted.Load() < wantConns && time.Now().Before(deadline); {
					time.Sleep(time.Millisecond)
				}
				if res.ConnsOpened != wantConns || o.accepted.Load() != wantConns {
					t.Errorf("connections: opened %d, accepted %d; want %d", res.ConnsOpened, o.accepted.Load(), wantConns)
				}
			})
		}
	}
}

func TestRunServerReset(t *testing.T) {
	o := &rawOrigin{reset: true}
	addr := o.start(t)
	res, err := Run(context.Background(), Config{Target: addr, URL: "http://origin.test/", Requests: 10})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 0 || res.Errors != 10 || res.ErrorsBy.Read != 10 || res.ErrorsBy.Total() != 10 {
		t.Fatalf("requests %d errors %d %+v; want 10 read errors", res.Requests, res.Errors, res.ErrorsBy)
	}
	if res.FirstError == nil || res.ConnsOpened != 10 {
		t.Errorf("first error %v, connections opened %d (want 10, one per reset)", res.FirstError, res.ConnsOpened)
	}
}

func TestRunMalformed(t *testing.T) {
	o := &rawOrigin{response: []byte("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n")}
	addr := o.start(t)
	res, err := Run(context.Background(), Config{Target: addr, URL: "http://origin.test/", Requests: 3, Pipeline: 2})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors != 3 || res.ErrorsBy.Protocol != 3 || !errors.Is(res.FirstError, ErrMalformedResponse) {
		t.Fatalf("errors %d %+v first %v; want 3 protocol errors", res.Errors, res.ErrorsBy, res.FirstError)
	}
}

func TestRunTimeout(t *testing.T) {
	o := &rawOrigin{silent: true}
	addr := o.start(t)
	res, err := Run(context.Background(), Config{
		Target: addr, URL: "http://origin.test/", Requests: 2, Timeout: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors != 2 || res.ErrorsBy.Timeout != 2 {
		t.Fatalf("errors %d %+v; want 2 timeouts", res.Errors, res.ErrorsBy)
	}
}

// TestRunCancelStopsBlockedReads checks that cancelling the context ends a run
// whose connections all wait on a silent server, long before their Timeout, and
// that the abandoned requests are not counted as errors.
func TestRunCancelStopsBlockedReads(t *testing.T) {
	o := &rawOrigin{silent: true}
	addr := o.start(t)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	res, err := Run(ctx, Config{
		Target: addr, URL: "http://origin.test/", Connections: 8, Pipeline: 2, Timeout: time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("Run took %v after cancel", d)
	}
	if res.Requests != 0 || res.Errors != 0 || res.ConnsOpened != 8 {
		t.Errorf("requests %d errors %d (%v) opened %d; want 0, 0, 8", res.Requests, res.Errors, res.FirstError, res.ConnsOpened)
	}
}

func TestRunDurationAndProgress(t *testing.T) {
	addr, _ := startHTTPOrigin(t, nil)
	var mu sync.Mutex
	var snaps []Snapshot
	res, err := Run(context.Background(), Config{
		Target: addr, URL: "http://origin.test/", Connections: 2, Duration: 1300 * time.Millisecond,
		Progress: func(s Snapshot) {
			mu.Lock()
			snaps = append(snaps, s)
			mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests == 0 || res.Errors != 0 {
		t.Fatalf("requests %d errors %d (%v)", res.Requests, res.Errors, res.FirstError)
	}
	if res.Elapsed < 1300*time.Millisecond || res.Elapsed > 10*time.Second {
		t.Errorf("Elapsed %v for a 1.3 s run", res.Elapsed)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(snaps) == 0 {
		t.Fatal("Progress never called")
	}
	if s := snaps[0]; s.Requests == 0 || s.Requests > res.Requests || s.ReqPerSec() <= 0 || s.ConnsOpened != 2 {
		t.Errorf("first snapshot %+v, final requests %d", s, res.Requests)
	}
}

// TestRunRate checks pacing loosely: at 100 req/s for 0.6 s the timetable has
// 60 slots; a slow machine may fill fewer, no machine may fill more.
func TestRunRate(t *testing.T) {
	addr, _ := startHTTPOrigin(t, nil)
	res, err := Run(context.Background(), Config{
		Target: addr, URL: "http://origin.test/", Connections: 4, Rate: 100, Duration: 600 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests < 15 || res.Requests > 62 || res.Errors != 0 {
		t.Fatalf("%d requests, %d errors at 100 req/s for 0.6 s; want about 60", res.Requests, res.Errors)
	}
}

func TestRunDialFailure(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	res, err := Run(context.Background(), Config{Target: addr, URL: "http://origin.test/", Connections: 3, Duration: time.Minute})
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("err %v, want connection refused", err)
	}
	if res == nil || res.ConnsOpened != 0 {
		t.Fatalf("result %+v", res)
	}
}

func TestConfigInvalid(t *testing.T) {
	cases := map[string]Config{
		"no URL":        {},
		"https":         {URL: "https://x/"},
		"no host":       {URL: "http:///path"},
		"userinfo":      {URL: "http://u:p@x/"},
		"connections":   {URL: "http://x/", Connections: -1},
		"pipeline":      {URL: "http://x/", Pipeline: -1},
		"duration":      {URL: "http://x/", Duration: -1},
		"requests":      {URL: "http://x/", Requests: -1},
		"rate":          {URL: "http://x/", Rate: -1},
		"timeout":       {URL: "http://x/", Timeout: -1},
		"buffer":        {URL: "http://x/", ReadBufferSize: 100},
		"target":        {URL: "http://x/", Target: "noport"},
		"method":        {URL: "http://x/", Method: "GE T"},
		"connect":       {URL: "http://x/", Method: "CONNECT"},
		"header colon":  {URL: "http://x/", Headers: []string{"NoColon"}},
		"header name":   {URL: "http://x/", Headers: []string{"Bad Name: v"}},
		"header inject": {URL: "http://x/", Headers: []string{"X: a\r\nY: b"}},
	}
	for name, cfg := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := Run(context.Background(), cfg); !errors.Is(err, ErrConfig) {
				t.Fatalf("err %v, want ErrConfig", err)
			}
		})
	}
}
