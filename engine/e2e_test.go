package engine

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluiceproxy/sluice/proxy"
	"github.com/sluiceproxy/sluice/resolver"
	"github.com/sluiceproxy/sluice/resolver/dnstest"
)

// testEngines are the engines every end-to-end test runs on.
var testEngines = []string{"gnet", "netpoll"}

// forEngines runs test once per engine, as subtests named after them; newEnv
// starts the proxy on the engine its test's name says.
func forEngines(t *testing.T, test func(*testing.T)) {
	for _, name := range testEngines {
		t.Run(name, test)
	}
}

// engineOf returns the engine named in t's name (forEngines), or the
// default.
func engineOf(t *testing.T) string {
	for _, part := range strings.Split(t.Name(), "/") {
		for _, name := range testEngines {
			if part == name {
				return name
			}
		}
	}
	return proxy.DefaultEngine
}

// env is a proxy on loopback with its own DNS server and an origin.
type env struct {
	t       *testing.T
	dns     *dnstest.Server
	res     *resolver.Resolver
	srv     *Server
	proxy   string // host:port of the proxy
	origin  *origin
	client  *http.Client
	project string // origin host:port as clients name it: origin.test:PORT
}

// origin is a real HTTP server on loopback that counts accepted connections.
type origin struct {
	ln      net.Listener
	accepts atomic.Int64
	srv     *http.Server
	port    int
}

type countingListener struct {
	net.Listener
	n *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// startOrigin serves h on a new loopback port; opts adjust the server before
// it starts.
func startOrigin(t *testing.T, h http.Handler, opts ...func(*http.Server)) *origin {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := &origin{ln: ln, port: ln.Addr().(*net.TCPAddr).Port}
	o.srv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	for _, f := range opts {
		f(o.srv)
	}
	go func() { _ = o.srv.Serve(countingListener{ln, &o.accepts}) }()
	t.Cleanup(func() { _ = o.srv.Close() })
	return o
}

// originHandler serves /small (100 bytes), /echo (the request body), /chunked,
// /head (the request's Host and Via), /slow (waits for ?ms=).
func originHandler() http.Handler {
	mux := http.NewServeMux()
	small := strings.Repeat("s", 100)
	mux.HandleFunc("/small", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		_, _ = io.WriteString(w, small)
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		_, _ = w.Write(b)
	})
	mux.HandleFunc("/chunked", func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i < 5; i++ {
			fmt.Fprintf(w, "part%d;", i)
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/head", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "host=%s via=%s uri=%s pc=%q", r.Host, r.Header.Get("Via"), r.RequestURI, r.Header.Get("Proxy-Connection"))
	})
	return mux
}

// newEnv starts a proxy with cfg; resOpts adjust the resolver's config.
func newEnv(t *testing.T, cfg Config, resOpts ...func(*resolver.Config)) *env {
	t.Helper()
	e := &env{t: t, dns: dnstest.New(t)}
	e.origin = startOrigin(t, originHandler())
	e.dns.Set("origin.test", 60, "127.0.0.1")
	e.project = fmt.Sprintf("origin.test:%d", e.origin.port)
	rcfg := resolver.Config{
		Nameservers: []string{e.dns.Addr()}, ResolvConf: resolver.Disabled, HostsFile: resolver.Disabled,
		QueryTimeout: 2 * time.Second,
	}
	for _, o := range resOpts {
		o(&rcfg)
	}
	res, err := resolver.New(rcfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Start(); err != nil {
		t.Fatal(err)
	}
	e.res = res
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.Loops == 0 {
		cfg.Loops = 2
	}
	if cfg.Engine == "" {
		cfg.Engine = engineOf(t)
	}
	srv, err := NewServer(cfg, res)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	e.srv = srv
	e.proxy = srv.Addr().String()
	pu, _ := url.Parse("http://" + e.proxy)
	e.client = &http.Client{
		Transport: &http.Transport{Proxy: http.ProxyURL(pu), MaxIdleConnsPerHost: 16},
		Timeout:   10 * time.Second,
	}
	t.Cleanup(func() {
		e.client.CloseIdleConnections()
		if err := srv.Stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
		res.Stop()
	})
	return e
}

func (e *env) get(path string) (*http.Response, string) {
	e.t.Helper()
	return e.getURL("http://" + e.project + path)
}

// getURL GETs url through the proxy and returns the response and its body.
func (e *env) getURL(url string) (*http.Response, string) {
	e.t.Helper()
	resp, err := e.client.Get(url)
	if err != nil {
		e.t.Fatalf("GET %s: %v", url, err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		e.t.Fatalf("GET %s body: %v", url, err)
	}
	return resp, string(b)
}

// raw opens a raw client connection to the proxy.
func (e *env) raw() (net.Conn, *bufio.Reader) {
	e.t.Helper()
	c, err := net.DialTimeout("tcp", e.proxy, 5*time.Second)
	if err != nil {
		e.t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	e.t.Cleanup(func() { c.Close() })
	return c, bufio.NewReader(c)
}

func readResponse(t *testing.T, br *bufio.Reader, method string) (*http.Response, string) {
	t.Helper()
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return resp, string(b)
}

// baseline returns the fd and goroutine counts once the proxy is warm: a
// request has gone through (so every event loop and poller is up) and the
// client's idle connections are closed.
func (e *env) baseline() (fds, goroutines int) {
	e.t.Helper()
	e.get("/small")
	e.client.CloseIdleConnections()
	time.Sleep(50 * time.Millisecond)
	return countFDs(), runtime.NumGoroutine()
}

// settleCounts waits until the open fd and goroutine counts are back to
// at most the baseline (plus slack for runtime goroutines that come and go).
func settleCounts(t *testing.T, fds, goroutines int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		f, g := countFDs(), runtime.NumGoroutine()
		if f <= fds && g <= goroutines+2 {
			return
		}
		if time.Now().After(deadline) {
			ents, _ := os.ReadDir("/proc/self/fd")
			var links []string
			for _, e := range ents {
				l, _ := os.Readlink("/proc/self/fd/" + e.Name())
				links = append(links, e.Name()+"="+l)
			}
			t.Fatalf("fds %d (baseline %d), goroutines %d (baseline %d) did not settle; fds: %v", f, fds, g, goroutines, links)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// countFDs counts the process's open descriptors, leaving out pipes: Go's
// splice(2) keeps a pool of pipe pairs for reuse (net/splice_linux.go), freed
// only by the garbage collector, so they are not a leak of sluice's.
func countFDs() int {
	ents, _ := os.ReadDir("/proc/self/fd")
	n := 0
	for _, e := range ents {
		if l, _ := os.Readlink("/proc/self/fd/" + e.Name()); !strings.HasPrefix(l, "pipe:") {
			n++
		}
	}
	return n
}

func TestProxyNetHTTPClient(t *testing.T) {
	e := newEnv(t, Config{})
	resp, body := e.get("/head?q=1")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	want := fmt.Sprintf("host=%s via=1.1 sluice uri=/head?q=1 pc=\"\"", e.project)
	if body != want {
		t.Fatalf("origin saw %q, want %q", body, want)
	}
	if v := resp.Header.Get("Via"); v != "1.1 sluice" {
		t.Fatalf("response Via %q", v)
	}
	_, body = e.get("/chunked")
	if body != "part0;part1;part2;part3;part4;" {
		t.Fatalf("chunked body %q", body)
	}
	big := strings.Repeat("0123456789", 100_000)
	r, err := e.client.Post("http://"+e.project+"/echo", "text/plain", strings.NewReader(big))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if string(got) != big {
		t.Fatalf("echo of 1 MB body: got %d bytes", len(got))
	}
	// A chunked upload (unknown length).
	r, err = e.client.Post("http://"+e.project+"/echo", "text/plain", io.MultiReader(strings.NewReader("abc"), strings.NewReader("def")))
	if err != nil {
		t.Fatal(err)
	}
	got, _ = io.ReadAll(r.Body)
	r.Body.Close()
	if string(got) != "abcdef" {
		t.Fatalf("chunked upload echo %q", got)
	}
}

func TestProxyKeepAlive10000(t *testing.T) {
	e := newEnv(t, Config{})
	n := 10000
	if testing.Short() {
		n = 1000
	}
	c, br := e.raw()
	req := []byte("GET http://" + e.project + "/small HTTP/1.1\r\nHost: " + e.project + "\r\n\r\n")
	for i := 0; i < n; i++ {
		if _, err := c.Write(req); err != nil {
			t.Fatal(err)
		}
		resp, body := readResponse(t, br, "GET")
		if resp.StatusCode != 200 || len(body) != 100 {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, body)
		}
	}
	if a := e.origin.accepts.Load(); a > 3 {
		t.Fatalf("%d sequential keep-alive requests opened %d upstream connections", n, a)
	}
}

func TestProxyPipelining(t *testing.T) {
	e := newEnv(t, Config{})
	c, br := e.raw()
	var b strings.Builder
	for i := 0; i < 5; i++ {
		fmt.Fprintf(&b, "GET http://%s/head?i=%d HTTP/1.1\r\nHost: %s\r\n\r\n", e.project, i, e.project)
	}
	if _, err := io.WriteString(c, b.String()); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		_, body := readResponse(t, br, "GET")
		if !strings.Contains(body, fmt.Sprintf("uri=/head?i=%d ", i)) {
			t.Fatalf("response %d out of order: %q", i, body)
		}
	}
}

func TestProxyOriginFormAndHTTP10(t *testing.T) {
	e := newEnv(t, Config{})
	c, br := e.raw()
	fmt.Fprintf(c, "GET /head HTTP/1.1\r\nHost: %s\r\n\r\n", e.project)
	if _, body := readResponse(t, br, "GET"); !strings.Contains(body, "host="+e.project) {
		t.Fatalf("origin-form: %q", body)
	}
	c2, br2 := e.raw()
	fmt.Fprintf(c2, "GET http://%s/chunked HTTP/1.0\r\n\r\n", e.project)
	resp, body := readResponse(t, br2, "GET")
	if len(resp.TransferEncoding) != 0 || body != "part0;part1;part2;part3;part4;" || !resp.Close {
		t.Fatalf("HTTP/1.0: te=%v close=%v body=%q", resp.TransferEncoding, resp.Close, body)
	}
}

func TestProxyErrors(t *testing.T) {
	e := newEnv(t, Config{})
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedPort := closed.Addr().(*net.TCPAddr).Port
	closed.Close()
	e.dns.SetRcode("broken.test", 2) // SERVFAIL
	cases := []struct {
		name, url string
		status    int
		detail    string
	}{
		{"unresolvable", "http://nx.invalid/", 503, "DNS name not found"},
		{"servfail", "http://broken.test/", 503, "DNS resolution failure"},
		{"refused port", fmt.Sprintf("http://origin.test:%d/", closedPort), 502, "upstream connect refused"},
		{"loop", "http://" + e.proxy + "/", 508, "forwarding loop"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := e.client.Get(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || !strings.Contains(resp.Header.Get("sluice-error"), tc.detail) {
				t.Fatalf("got %d %q, want %d %q", resp.StatusCode, resp.Header.Get("sluice-error"), tc.status, tc.detail)
			}
		})
	}
	c, br := e.raw()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n")
	if resp, _ := readResponse(t, br, "GET"); resp.StatusCode != 400 {
		t.Fatalf("malformed head: %d", resp.StatusCode)
	}
}

// TestProxyUpstreamResetMidResponse: the client must see the connection end,
// never a response that looks complete.
func TestProxyUpstreamResetMidResponse(t *testing.T) {
	e := newEnv(t, Config{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				br := bufio.NewReader(c)
				if _, err := http.ReadRequest(br); err != nil {
					c.Close()
					return
				}
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial")
				time.Sleep(20 * time.Millisecond)
				c.(*net.TCPConn).SetLinger(0)
				c.Close() // RST
			}(c)
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	fds, gs := e.baseline()
	resp, err := e.client.Get(fmt.Sprintf("http://origin.test:%d/", port))
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if err == nil {
		t.Fatal("a cut response read as complete")
	}
	e.client.CloseIdleConnections()
	settleCounts(t, fds, gs)
}

// TestProxySlowDNSDoesNotBlockLoop: with one event loop, a request waiting
// on a held DNS answer must not delay a request for a cached host.
func TestProxySlowDNSDoesNotBlockLoop(t *testing.T) {
	e := newEnv(t, Config{Loops: 1})
	e.get("/small") // origin.test is now cached
	e.dns.Set("slow.test", 60, "127.0.0.1")
	e.dns.Hold("slow.test")
	slowDone := make(chan error, 1)
	go func() {
		resp, err := e.client.Get(fmt.Sprintf("http://slow.test:%d/small", e.origin.port))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != 200 {
				err = fmt.Errorf("status %d", resp.StatusCode)
			}
		}
		slowDone <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for e.dns.Queries("slow.test", 1) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("slow.test was never queried")
		}
		time.Sleep(5 * time.Millisecond)
	}
	for i := 0; i < 20; i++ {
		if resp, _ := e.get("/small"); resp.StatusCode != 200 {
			t.Fatalf("cached host: %d", resp.StatusCode)
		}
	}
	select {
	case err := <-slowDone:
		t.Fatalf("slow request finished while its DNS answer was held: %v", err)
	default:
	}
	e.dns.Release("slow.test")
	if err := <-slowDone; err != nil {
		t.Fatalf("slow request after release: %v", err)
	}
}

func TestProxyClientDisconnectMidRequest(t *testing.T) {
	e := newEnv(t, Config{})
	fds, gs := e.baseline()
	for i := 0; i < 10; i++ {
		c, err := net.Dial("tcp", e.proxy)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "POST http://%s/echo HTTP/1.1\r\nHost: %s\r\nContent-Length: 100000\r\n\r\npartial", e.project, e.project)
		time.Sleep(10 * time.Millisecond)
		c.Close()
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if cl, _ := e.srv.Conns(); cl == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("client connections not released")
		}
		time.Sleep(10 * time.Millisecond)
	}
	settleCounts(t, fds, gs)
}

func TestProxyCurl(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl not installed")
	}
	e := newEnv(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, curl, "-sS", "-x", "http://"+e.proxy, "http://"+e.project+"/head").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "host="+e.project) {
		t.Fatalf("curl -x: %v %s", err, out)
	}
	out, err = exec.CommandContext(ctx, curl, "-sS", "-H", "Host: "+e.project, "http://"+e.proxy+"/small").CombinedOutput()
	if err != nil || len(out) != 100 {
		t.Fatalf("curl origin-form: %v %q", err, out)
	}
}

func TestProxyConcurrentClients(t *testing.T) {
	e := newEnv(t, Config{})
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				resp, err := e.client.Get("http://" + e.project + "/small")
				if err != nil {
					errs <- err
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if len(b) != 100 {
					errs <- fmt.Errorf("short body %d", len(b))
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestProxyShutdownDrains(t *testing.T) {
	e := newEnv(t, Config{})
	// A request in flight when the drain starts completes.
	slow := startOrigin(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(300 * time.Millisecond)
		io.WriteString(w, "done")
	}))
	done := make(chan string, 1)
	go func() {
		resp, err := e.client.Get(fmt.Sprintf("http://origin.test:%d/", slow.port))
		if err != nil {
			done <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- string(b)
	}()
	time.Sleep(100 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.srv.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if got := <-done; got != "done" {
		t.Fatalf("in-flight request got %q", got)
	}
	if _, err := net.DialTimeout("tcp", e.proxy, time.Second); err == nil {
		t.Fatal("still accepting after shutdown")
	}
}
