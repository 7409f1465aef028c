package engine

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// pattern is the byte at offset i of every generated body, so a receiver can
// check each byte without keeping the body.
func pattern(i int64) byte { return byte(i*7 + i>>13) }

// patternReader yields n pattern bytes starting at offset 0.
type patternReader struct{ off, n int64 }

func (r *patternReader) Read(p []byte) (int, error) {
	if r.off >= r.n {
		return 0, io.EOF
	}
	if rem := r.n - r.off; int64(len(p)) > rem {
		p = p[:rem]
	}
	for i := range p {
		p[i] = pattern(r.off + int64(i))
	}
	r.off += int64(len(p))
	return len(p), nil
}

// patternChecker verifies the bytes written to it follow the pattern.
type patternChecker struct {
	off int64
	bad int64 // first bad offset + 1
}

func (c *patternChecker) Write(p []byte) (int, error) {
	for i, b := range p {
		if c.bad == 0 && b != pattern(c.off+int64(i)) {
			c.bad = c.off + int64(i) + 1
		}
	}
	c.off += int64(len(p))
	return len(p), nil
}

// memWatch samples the heap and RSS of this process until stopped and
// reports the peak above the baseline taken at start.
type memWatch struct {
	baseHeap, baseRSS uint64
	peakHeap, peakRSS atomic.Uint64
	stop              chan struct{}
	done              chan struct{}
}

func rss() uint64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			kb, _ := strconv.ParseUint(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

func heap() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

func watchMem() *memWatch {
	runtime.GC()
	w := &memWatch{baseHeap: heap(), baseRSS: rss(), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-t.C:
				if h := heap(); h > w.peakHeap.Load() {
					w.peakHeap.Store(h)
				}
				if r := rss(); r > w.peakRSS.Load() {
					w.peakRSS.Store(r)
				}
			}
		}
	}()
	return w
}

// finish stops sampling and returns the peaks above the baseline, in MiB.
func (w *memWatch) finish() (heapMiB, rssMiB float64) {
	close(w.stop)
	<-w.done
	sub := func(a, b uint64) float64 {
		if a < b {
			return 0
		}
		return float64(a-b) / (1 << 20)
	}
	return sub(w.peakHeap.Load(), w.baseHeap), sub(w.peakRSS.Load(), w.baseRSS)
}

const (
	oneGiB      = int64(1) << 30
	memBoundMiB = 64
)

// TestStreamSlowReader: a 1 GiB response from a fast origin to a client that
// reads a few MiB/s; the client stops after a bounded time. The proxy must
// not buffer what the client has not read: memory stays bounded and every
// byte that arrives is right.
func TestStreamSlowReader(t *testing.T) { forEngines(t, testStreamSlowReader) }

func testStreamSlowReader(t *testing.T) {
	for _, chunked := range []bool{false, true} {
		t.Run(fmt.Sprintf("chunked=%v", chunked), func(t *testing.T) {
			e := newEnv(t, Config{})
			origin := startOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if !chunked {
					w.Header().Set("Content-Length", strconv.FormatInt(oneGiB, 10))
				}
				io.CopyBuffer(w, &patternReader{n: oneGiB}, make([]byte, 32<<10))
			}))
			e.baseline()
			mw := watchMem()
			c, br := e.raw()
			fmt.Fprintf(c, "GET http://origin.test:%d/big HTTP/1.1\r\nHost: origin.test\r\n\r\n", origin.port)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			// Read at about 8 MiB/s for 2 s.
			chk := &patternChecker{}
			deadline := time.Now().Add(2 * time.Second)
			buf := make([]byte, 64<<10)
			for time.Now().Before(deadline) {
				n, err := resp.Body.Read(buf)
				chk.Write(buf[:n])
				if err != nil {
					t.Fatalf("read after %d bytes: %v", chk.off, err)
				}
				time.Sleep(8 * time.Millisecond)
			}
			heapMiB, rssMiB := mw.finish()
			t.Logf("slow reader got %d MiB; proxy+test peak above idle: heap %.1f MiB, RSS %.1f MiB", chk.off>>20, heapMiB, rssMiB)
			if chk.bad != 0 {
				t.Fatalf("wrong byte at offset %d", chk.bad-1)
			}
			if chk.off < 4<<20 {
				t.Fatalf("only %d bytes arrived", chk.off)
			}
			if heapMiB > memBoundMiB || rssMiB > memBoundMiB {
				t.Fatalf("memory grew by heap %.1f MiB, RSS %.1f MiB: not bounded", heapMiB, rssMiB)
			}
		})
	}
}

// TestStreamSlowOrigin: a 1 GiB upload from a fast client to an origin that
// reads a few MiB/s. Memory stays bounded, every byte the origin gets is
// right.
func TestStreamSlowOrigin(t *testing.T) { forEngines(t, testStreamSlowOrigin) }

func testStreamSlowOrigin(t *testing.T) {
	e := newEnv(t, Config{})
	got := make(chan *patternChecker, 1)
	port := tcpServer(t, func(c *net.TCPConn) {
		br := bufio.NewReader(c)
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		chk := &patternChecker{}
		buf := make([]byte, 64<<10)
		deadline := time.Now().Add(2 * time.Second)
		for time.Now().Before(deadline) {
			n, err := req.Body.Read(buf)
			chk.Write(buf[:n])
			if err != nil {
				break
			}
			time.Sleep(8 * time.Millisecond)
		}
		got <- chk
	})
	e.baseline()
	mw := watchMem()
	c, err := net.Dial("tcp", e.proxy)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	go func() {
		fmt.Fprintf(c, "POST http://origin.test:%d/up HTTP/1.1\r\nHost: origin.test\r\nContent-Length: %d\r\n\r\n", port, oneGiB)
		io.CopyBuffer(c, &patternReader{n: oneGiB}, make([]byte, 256<<10))
	}()
	chk := <-got
	heapMiB, rssMiB := mw.finish()
	t.Logf("slow origin got %d MiB; proxy+test peak above idle: heap %.1f MiB, RSS %.1f MiB", chk.off>>20, heapMiB, rssMiB)
	if chk.bad != 0 {
		t.Fatalf("wrong byte at offset %d", chk.bad-1)
	}
	if chk.off < 4<<20 {
		t.Fatalf("only %d bytes arrived", chk.off)
	}
	if heapMiB > memBoundMiB || rssMiB > memBoundMiB {
		t.Fatalf("memory grew by heap %.1f MiB, RSS %.1f MiB: not bounded", heapMiB, rssMiB)
	}
}

// TestStreamKeepAliveSurvives: a large download that goes through stream mode,
// then a small request on the same client connection reuses the pooled
// upstream (one origin accept in all).
func TestStreamKeepAliveSurvives(t *testing.T) { forEngines(t, testStreamKeepAliveSurvives) }

func testStreamKeepAliveSurvives(t *testing.T) {
	e := newEnv(t, Config{StreamHighWater: 1}) // stream at the first sign of a queue
	const size = 32 << 20
	origin := startOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/small" {
			io.WriteString(w, "small")
			return
		}
		if r.Method == "POST" {
			chk := &patternChecker{}
			io.Copy(chk, r.Body)
			fmt.Fprintf(w, "got %d bad %d", chk.off, chk.bad)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(size))
		io.Copy(w, &patternReader{n: size})
	}))
	c, br := e.raw()
	for round := 0; round < 3; round++ {
		// 32 MiB a round: under -race on two busy cores a round can take
		// seconds, so each gets its own deadline (e.raw's 10 s is for all).
		c.SetDeadline(time.Now().Add(30 * time.Second))
		fmt.Fprintf(c, "GET http://origin.test:%d/big HTTP/1.1\r\nHost: origin.test\r\n\r\n", origin.port)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		// Read slowly at first so the proxy's queue to us builds up.
		time.Sleep(50 * time.Millisecond)
		chk := &patternChecker{}
		if _, err := io.Copy(chk, resp.Body); err != nil || chk.off != size || chk.bad != 0 {
			t.Fatalf("round %d: %d bytes, bad at %d, %v", round, chk.off, chk.bad, err)
		}
		fmt.Fprintf(c, "GET http://origin.test:%d/small HTTP/1.1\r\nHost: origin.test\r\n\r\n", origin.port)
		if _, body := readResponse(t, br, "GET"); body != "small" {
			t.Fatalf("small request after a streamed body: %q", body)
		}
	}
	// An upload that streams, then a pipelined request right behind it.
	c.SetDeadline(time.Now().Add(30 * time.Second))
	var req bytes.Buffer
	fmt.Fprintf(&req, "POST http://origin.test:%d/up HTTP/1.1\r\nHost: origin.test\r\nContent-Length: %d\r\n\r\n", origin.port, size)
	go func() {
		c.Write(req.Bytes())
		io.Copy(c, &patternReader{n: size})
		fmt.Fprintf(c, "GET http://origin.test:%d/small HTTP/1.1\r\nHost: origin.test\r\n\r\n", origin.port)
	}()
	if _, body := readResponse(t, br, "POST"); body != fmt.Sprintf("got %d bad 0", size) {
		t.Fatalf("streamed upload: %q", body)
	}
	if _, body := readResponse(t, br, "GET"); body != "small" {
		t.Fatalf("request pipelined after a streamed upload: %q", body)
	}
	if a := origin.accepts.Load(); a != 1 {
		t.Fatalf("origin accepted %d connections, want 1 (the pooled upstream reused)", a)
	}
}

// TestStreamChunkedToHTTP10: a large chunked response to an HTTP/1.0 client
// is re-framed (data only, then close) in stream mode too.
func TestStreamChunkedToHTTP10(t *testing.T) { forEngines(t, testStreamChunkedToHTTP10) }

func testStreamChunkedToHTTP10(t *testing.T) {
	e := newEnv(t, Config{StreamHighWater: 1})
	const size = 16 << 20
	origin := startOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.CopyBuffer(w, &patternReader{n: size}, make([]byte, 5000))
	}))
	c, br := e.raw()
	fmt.Fprintf(c, "GET http://origin.test:%d/ HTTP/1.0\r\n\r\n", origin.port)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	chk := &patternChecker{}
	if _, err := io.Copy(chk, resp.Body); err != nil || chk.off != size || chk.bad != 0 || len(resp.TransferEncoding) != 0 {
		t.Fatalf("got %d bytes, bad at %d, te %v, err %v", chk.off, chk.bad, resp.TransferEncoding, err)
	}
}

// TestSpliceAboveFastClient: a response body over SpliceAbove moves in stream
// mode even though the client keeps up (every byte right, the upstream
// pooled and reused afterwards); by default it stays on the loop when the
// client keeps up.
func TestSpliceAboveFastClient(t *testing.T) { forEngines(t, testSpliceAboveFastClient) }

func testSpliceAboveFastClient(t *testing.T) {
	const size = 4 << 20
	origin := startOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/small" {
			io.WriteString(w, "small")
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(size))
		io.Copy(w, &patternReader{n: size})
	}))
	for _, tc := range []struct {
		name        string
		spliceAbove int
		wantStreams bool
	}{{"1 MiB", 1 << 20, true}, {"default", 0, false}} {
		t.Run(tc.name, func(t *testing.T) {
			// A high-water mark no loopback client reaches: only SpliceAbove
			// can start a stream.
			e := newEnv(t, Config{SpliceAbove: tc.spliceAbove, StreamHighWater: 1 << 30, MaxBuffered: 2 << 30})
			c, br := e.raw()
			const rounds = 3
			for round := 0; round < rounds; round++ {
				fmt.Fprintf(c, "GET http://origin.test:%d/big HTTP/1.1\r\nHost: origin.test\r\n\r\n", origin.port)
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatal(err)
				}
				chk := &patternChecker{}
				if _, err := io.Copy(chk, resp.Body); err != nil || chk.off != size || chk.bad != 0 {
					t.Fatalf("round %d: %d bytes, bad at %d, %v", round, chk.off, chk.bad, err)
				}
				fmt.Fprintf(c, "GET http://origin.test:%d/small HTTP/1.1\r\nHost: origin.test\r\n\r\n", origin.port)
				if _, body := readResponse(t, br, "GET"); body != "small" {
					t.Fatalf("small request after the big one: %q", body)
				}
			}
			streams := e.srv.Counters().StreamsStarted
			if tc.wantStreams && streams != rounds {
				t.Errorf("streams started: %d, want %d (one per big response)", streams, rounds)
			}
			if !tc.wantStreams && streams != 0 {
				t.Errorf("streams started: %d, want 0", streams)
			}
		})
	}
	// Both subtests shared the origin: each kept one pooled upstream.
	if a := origin.accepts.Load(); a != 2 {
		t.Fatalf("origin accepted %d connections, want 2 (one per proxy, reused)", a)
	}
}
